#include "storage/commit_log.h"

namespace tandem::storage {

CommitLog::CommitLog(RoomStore& store, size_t max_batch) : store_(store), max_batch_(max_batch) {
  writer_ = std::thread([this] { Run(); });
}

CommitLog::~CommitLog() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  writer_.join();
}

void CommitLog::Append(std::string room, Bytes update, Callback done) {
  {
    std::lock_guard lock(mu_);
    queue_.push_back({{std::move(room), std::move(update)}, std::move(done)});
  }
  cv_.notify_one();
}

void CommitLog::Flush() {
  std::unique_lock lock(mu_);
  idle_cv_.wait(lock, [this] { return queue_.empty() && !writing_; });
}

void CommitLog::Run() {
  for (;;) {
    std::vector<Pending> batch;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, nothing left
      const size_t n = std::min(queue_.size(), max_batch_);
      batch.reserve(n);
      for (size_t i = 0; i < n; ++i) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      writing_ = true;
    }
    std::vector<RoomAppend> appends;
    appends.reserve(batch.size());
    for (auto& p : batch) appends.push_back(std::move(p.append));
    auto seqs = store_.AppendBatch(appends);
    ++batches_;
    appends_ += batch.size();
    for (size_t i = 0; i < batch.size(); ++i) {
      if (seqs.ok()) {
        batch[i].done(Status::Ok(), (*seqs)[i]);
      } else {
        batch[i].done(seqs.status(), 0);
      }
    }
    {
      std::lock_guard lock(mu_);
      writing_ = false;
    }
    idle_cv_.notify_all();
  }
}

}  // namespace tandem::storage

#include "storage/commit_log.h"

namespace tandem::storage {

CommitLog::CommitLog(RoomStore& store, size_t max_batch, std::chrono::microseconds commit_delay)
    : store_(store), max_batch_(max_batch), commit_delay_(commit_delay) {
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
  bool wake;
  {
    std::lock_guard lock(mu_);
    // The writer needs a signal only when it sleeps on an empty queue or waits out a commit delay
    // that a full batch ends early; otherwise it finds this append when its commit is done.
    wake = (queue_.empty() && !writing_) || queue_.size() + 1 == max_batch_;
    queue_.push_back({{std::move(room), std::move(update)}, std::move(done)});
  }
  if (wake) cv_.notify_one();
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
      // Wait for company only when the log is busy (the last commit ended within the delay):
      // at a low rate the wait would batch nothing, and each extra sleep and wake-up costs more
      // CPU than the commit it might save.
      if (commit_delay_.count() > 0 && !stop_ &&
          std::chrono::steady_clock::now() - last_commit_end_ < commit_delay_) {
        cv_.wait_for(lock, commit_delay_, [this] { return stop_ || queue_.size() >= max_batch_; });
      }
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
    last_commit_end_ = std::chrono::steady_clock::now();
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

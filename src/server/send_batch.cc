#include "server/send_batch.h"

#include <liburing.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <boost/asio/post.hpp>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "server/ws_session.h"

namespace tandem::server {

namespace {
constexpr unsigned kRingEntries = 256;
}  // namespace

SendBatch* SendBatch::ForThisThread() {
  struct Holder {
    std::unique_ptr<SendBatch> batch;
    bool tried = false;
  };
  thread_local Holder holder;
  if (!holder.tried) {
    holder.tried = true;
    const char* off = std::getenv("TANDEM_NO_IO_URING");
    if (off == nullptr || std::strcmp(off, "1") != 0) {
      std::unique_ptr<SendBatch> batch(new SendBatch());
      if (batch->Init()) holder.batch = std::move(batch);
    }
  }
  return holder.batch.get();
}

bool SendBatch::Init() {
  ring_ = std::make_unique<io_uring>();
  const int rc = io_uring_queue_init(kRingEntries, ring_.get(), 0);
  if (rc != 0) {
    ring_.reset();
    spdlog::info("io_uring unavailable ({}): sending one message per system call",
                 std::strerror(-rc));
    return false;
  }
  return true;
}

SendBatch::~SendBatch() {
  if (ring_) io_uring_queue_exit(ring_.get());
}

void SendBatch::Add(std::shared_ptr<WsSession> session, std::span<const iovec> buffers,
                    const boost::asio::any_io_executor& executor) {
  entries_.push_back({std::move(session), iovs_.size(), buffers.size()});
  iovs_.insert(iovs_.end(), buffers.begin(), buffers.end());
  if (!flush_posted_) {
    flush_posted_ = true;
    boost::asio::post(executor, [this] { Flush(); });
  }
}

void SendBatch::Flush() {
  flush_posted_ = false;
  // Completions may add to the next batch: this one is taken out first.
  std::vector<Entry> entries = std::move(entries_);
  std::vector<iovec> iovs = std::move(iovs_);
  entries_.clear();
  iovs_.clear();
  std::vector<msghdr> messages(entries.size());
  std::vector<int> results(entries.size(), 0);
  size_t next = 0;
  while (next < entries.size()) {
    // One submission of up to kRingEntries sends.
    unsigned queued = 0;
    for (; next < entries.size() && queued < kRingEntries; ++next) {
      Entry& e = entries[next];
      if (!e.session->BatchedSendWanted()) {
        results[next] = -ECANCELED;
        continue;
      }
      io_uring_sqe* sqe = io_uring_get_sqe(ring_.get());
      if (sqe == nullptr) {
        if (queued > 0) break;    // submit what is queued, then go on
        results[next] = -EAGAIN;  // the session sends it the asynchronous way
        continue;
      }
      msghdr& m = messages[next];
      m.msg_iov = &iovs[e.first_iov];
      m.msg_iovlen = e.iov_count;
      io_uring_prep_sendmsg(sqe, e.session->native_handle(), &m, MSG_DONTWAIT | MSG_NOSIGNAL);
      io_uring_sqe_set_data64(sqe, next);
      results[next] = -EIO;  // until its completion says otherwise (a failed ring: see below)
      ++queued;
    }
    if (queued == 0) continue;
    ++submissions_;
    sends_ += queued;
    int rc = io_uring_submit_and_wait(ring_.get(), queued);
    unsigned reaped = 0;
    while (reaped < queued) {
      if (rc < 0 && rc != -EINTR) {
        // The ring itself failed: what was not reaped keeps -EIO, so those sessions close
        // (their providers reconnect and resync) rather than send again what may have gone.
        spdlog::error("io_uring submission failed: {}", std::strerror(-rc));
        break;
      }
      io_uring_cqe* cqe = nullptr;
      unsigned head = 0;
      unsigned seen = 0;
      io_uring_for_each_cqe(ring_.get(), head, cqe) {
        results[io_uring_cqe_get_data64(cqe)] = cqe->res;
        ++seen;
      }
      io_uring_cq_advance(ring_.get(), seen);
      reaped += seen;
      if (reaped < queued) rc = io_uring_wait_cqe_nr(ring_.get(), &cqe, queued - reaped);
    }
  }
  for (size_t i = 0; i < entries.size(); ++i) {
    Entry& e = entries[i];
    e.session->OnBatchedSend(results[i], std::span<const iovec>(&iovs[e.first_iov], e.iov_count));
  }
}

}  // namespace tandem::server

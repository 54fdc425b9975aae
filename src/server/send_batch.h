#pragma once
// Sends gathered over one turn of a thread's event loop and handed to the kernel in one io_uring
// submission: a broadcast to N clients costs one system call instead of N (on these machines a
// loopback send costs about half as much that way: bench/loopback_floor.cc). Each thread that
// runs sessions has its own batch; a session adds its write, and the first write of a turn
// posts the flush, which runs once the handlers ready now have run (so the whole broadcast is
// in it). Every send carries MSG_DONTWAIT: the kernel completes it during the submission or
// answers EAGAIN, so the flush never waits on a client. What a send did not write goes the
// asynchronous way, as with a plain non-blocking send.
#include <sys/uio.h>

#include <boost/asio/any_io_executor.hpp>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

struct io_uring;

namespace tandem::server {

class WsSession;

class SendBatch {
 public:
  // The calling thread's batch; nullptr when io_uring is unavailable (then sessions send one by
  // one) or disabled with TANDEM_NO_IO_URING=1.
  static SendBatch* ForThisThread();

  // Queues one send of `buffers` (copied; the memory they point to must live until the session
  // hears back) on the session's socket. Right before the submission the session is asked
  // whether it is still open (a closed one must not send on a descriptor number that may have
  // been reused); afterwards WsSession::OnBatchedSend gets what the send did. The flush is
  // posted to `executor`, which must run on this thread.
  void Add(std::shared_ptr<WsSession> session, std::span<const iovec> buffers,
           const boost::asio::any_io_executor& executor);

  ~SendBatch();
  SendBatch(const SendBatch&) = delete;
  SendBatch& operator=(const SendBatch&) = delete;

  uint64_t submissions() const { return submissions_; }
  uint64_t sends() const { return sends_; }

 private:
  SendBatch() = default;
  bool Init();
  void Flush();

  struct Entry {
    std::shared_ptr<WsSession> session;
    size_t first_iov;
    size_t iov_count;
  };
  std::unique_ptr<io_uring> ring_;  // liburing stays out of this header
  std::vector<Entry> entries_;
  std::vector<iovec> iovs_;
  bool flush_posted_ = false;
  uint64_t submissions_ = 0;
  uint64_t sends_ = 0;
};

}  // namespace tandem::server

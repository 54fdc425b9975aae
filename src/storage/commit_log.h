#pragma once
// Group commit in front of a RoomStore: rooms hand in updates from their strands; one writer
// thread commits whatever has queued up in a single transaction, then calls each append's
// callback (on the writer thread: callers post back to their own strand). Under load many
// updates share one fsync. With a commit delay, a writer woken by an append while the log is busy
// (its last commit ended less than the delay ago) waits that long for more before committing, as
// PostgreSQL's commit_delay with commit_siblings: a few more milliseconds of latency under load for
// far fewer fsyncs, which dominate the server's CPU there; an idle log commits at once.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "storage/room_store.h"

namespace tandem::storage {

class CommitLog {
 public:
  using Callback = std::function<void(Status status, uint64_t seq)>;

  explicit CommitLog(RoomStore& store, size_t max_batch = 1024,
                     std::chrono::microseconds commit_delay = std::chrono::microseconds(0));
  ~CommitLog();  // commits what is queued, then stops

  void Append(std::string room, Bytes update, Callback done);
  // Blocks until everything appended so far is committed (shutdown, tests).
  void Flush();

  uint64_t batches() const { return batches_; }
  uint64_t appends() const { return appends_; }

 private:
  struct Pending {
    RoomAppend append;
    Callback done;
  };
  void Run();

  RoomStore& store_;
  const size_t max_batch_;
  const std::chrono::microseconds commit_delay_;
  std::chrono::steady_clock::time_point last_commit_end_;  // writer thread only
  std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable idle_cv_;
  std::deque<Pending> queue_;  // GUARDED_BY(mu_)
  bool writing_ = false;       // GUARDED_BY(mu_)
  bool stop_ = false;          // GUARDED_BY(mu_)
  std::atomic<uint64_t> batches_{0};
  std::atomic<uint64_t> appends_{0};
  std::thread writer_;
};

}  // namespace tandem::storage

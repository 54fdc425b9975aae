#pragma once
// The room log on SQLite: one database file (rooms.db) in the data directory, WAL mode.
//   - Appends go through a group commit: one writer thread commits whatever has queued up in one
//     transaction, so under load many updates share one fsync. With a commit delay, a writer
//     woken while the log is busy (its last commit ended less than the delay ago) waits that
//     long for more, as PostgreSQL's commit_delay does; an idle log commits at once.
//   - With durability normal a commit does not wait for the disk, so an append that finds the log
//     idle commits on its caller's thread (TryAppendNow): no hop to the writer and back.
//   - Reads, compactions and save marks run on a small pool of their own threads.
// One connection, guarded by a mutex: SQLite serializes writers anyway.

#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "roomlog/room_log.h"
#include "sqlite/database.h"

namespace tandem::roomlog {

enum class Durability {
  kFull,    // fsync at every commit: survives power loss
  kNormal,  // WAL without an fsync per commit: survives a process crash (kill -9), not power loss
};

struct SqliteRoomLogOptions {
  Durability durability = Durability::kFull;
  std::chrono::microseconds commit_delay{0};
  size_t max_batch = 1024;  // appends in one commit
};

class SqliteRoomLog : public RoomLog {
 public:
  // Opens (creating if needed) `<dir>/rooms.db`.
  static Result<std::unique_ptr<SqliteRoomLog>> Open(const std::string& dir,
                                                     SqliteRoomLogOptions options);
  // Commits what is queued, finishes what runs on the pool, then closes.
  ~SqliteRoomLog() override;

  void Read(const std::string& room, ReadCallback done) override;
  void Append(const std::string& room, Bytes update, AppendCallback done) override;
  // Only with durability normal (a commit writes the WAL without an fsync).
  std::optional<uint64_t> TryAppendNow(const std::string& room,
                                       std::span<const uint8_t> update) override;
  void Compact(const std::string& room, Bytes snapshot, uint64_t through_seq,
               DoneCallback done) override;
  void MarkSaved(const std::string& room, uint64_t through_seq, DoneCallback done) override;
  void Erase(const std::string& room, DoneCallback done) override;
  Result<std::vector<std::string>> RoomsNeedingSave() override;
  Result<uint64_t> LogBytes() override;
  void Flush() override;
  std::string describe() const override { return describe_; }

  // The blocking operations behind the callbacks (tests, tools, benchmarks).
  Result<std::optional<LogContents>> ReadNow(const std::string& room);
  Status CompactNow(const std::string& room, const Bytes& snapshot, uint64_t through_seq);
  Status MarkSavedNow(const std::string& room, uint64_t through_seq);
  Status EraseNow(const std::string& room);
  struct PendingAppend {
    std::string room;
    Bytes update;
  };
  // Appends several updates (of any rooms) in one transaction; their sequence numbers in order.
  Result<std::vector<uint64_t>> AppendBatchNow(const std::vector<PendingAppend>& appends);
  // Appends committed on their caller's thread (TryAppendNow), counted in appends() too.
  uint64_t inline_appends() const { return inline_appends_; }

  uint64_t commits() const { return commits_; }
  uint64_t appends() const { return appends_; }

 private:
  SqliteRoomLog(std::unique_ptr<sqlite::Database> db, SqliteRoomLogOptions options,
                std::string describe);
  void RunWriter();
  Result<std::vector<uint64_t>> AppendBatchNowLocked(const std::vector<PendingAppend>& appends);

  struct Queued {
    PendingAppend append;
    AppendCallback done;
  };

  const SqliteRoomLogOptions options_;
  const std::string describe_;
  std::mutex db_mu_;
  std::unique_ptr<sqlite::Database> db_;  // GUARDED_BY(db_mu_)

  // Group commit.
  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::condition_variable idle_cv_;
  std::deque<Queued> queue_;                               // GUARDED_BY(queue_mu_)
  bool writing_ = false;                                   // GUARDED_BY(queue_mu_)
  bool stopping_ = false;                                  // GUARDED_BY(queue_mu_)
  std::chrono::steady_clock::time_point last_commit_end_;  // writer thread only
  std::atomic<uint64_t> commits_{0};
  std::atomic<uint64_t> appends_{0};
  std::atomic<uint64_t> inline_appends_{0};
  std::thread writer_;

  boost::asio::thread_pool pool_{2};  // reads, compactions, save marks
};

}  // namespace tandem::roomlog

#pragma once
// The room log on SQLite: one database file (rooms.db) in the data directory, WAL mode.
//   - Appends go through a group commit: one writer thread commits whatever has queued up in one
//     transaction, so under load many updates share one fsync. With a commit delay, a writer
//     woken while the log is busy (its last commit ended less than the delay ago) waits that
//     long for more, as PostgreSQL's commit_delay does; an idle log commits at once.
//   - An append that finds the log idle commits on its caller's thread: no hop to the writer and
//     back. With durability normal the commit is all (TryAppendNow). With durability full the
//     connection commits without SQLite's own fsync, and the log fsyncs the WAL file itself before
//     anything is acknowledged: once per turn of the caller's event loop for the appends committed
//     in it (TryAppendOnThisThread), and after every other write. A commit is durable in WAL mode
//     once its frames in the WAL file are (SQLite's synchronous=NORMAL syncs the WAL before every
//     checkpoint and the database file after it), so this is synchronous=FULL's promise.
//   - Reads, compactions and save marks run on a small pool of their own threads.
// One connection, guarded by a mutex: SQLite serializes writers anyway.

#include <atomic>
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
  // Only with durability full. The log must outlive the handlers it posts to `executor`.
  bool TryAppendOnThisThread(const std::string& room, std::span<const uint8_t> update,
                             const boost::asio::any_io_executor& executor,
                             AppendCallback&& done) override;
  void Compact(const std::string& room, Bytes snapshot, uint64_t through_seq,
               DoneCallback done) override;
  void MarkSaved(const std::string& room, uint64_t through_seq, DoneCallback done) override;
  void Erase(const std::string& room, EraseCallback done) override;
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
  // fsyncs of the WAL file made by the log (durability full).
  uint64_t wal_syncs() const { return wal_syncs_; }
  uint64_t appends() const { return appends_; }

 private:
  SqliteRoomLog(std::unique_ptr<sqlite::Database> db, SqliteRoomLogOptions options,
                std::string describe, std::string dir, std::string wal_path);
  void RunWriter();
  // Makes every commit so far durable (durability full; a no-op with normal).
  Status SyncWal();
  // fsyncs the WAL file whatever the durability.
  Status SyncWalFile();
  // Durability normal: every so many commits, an fsync of the WAL on the pool.
  void NoteCommitWithoutSync();
  Status CompactLocked(const std::string& room, const Bytes& snapshot, uint64_t through_seq);
  Status EraseLocked(const std::string& room);
  Status VacuumIfWorthItLocked();
  // The appends one thread committed in the current turn of its loop, waiting for their fsync.
  struct ThreadSyncBatch {
    std::mutex mu;
    std::vector<std::pair<AppendCallback, uint64_t>> waiting;  // GUARDED_BY(mu)
    bool flush_posted = false;                                 // GUARDED_BY(mu)
  };
  std::shared_ptr<ThreadSyncBatch> SyncBatchForThisThread();
  void FlushSyncBatch(ThreadSyncBatch& batch);
  Result<std::vector<uint64_t>> AppendBatchNowLocked(const std::vector<PendingAppend>& appends);
  // Commits one append on the caller's thread when the log is idle (nothing queued, the writer
  // not busy, the database not locked); its sequence, or nullopt for Append to take it. The
  // fast paths of TryAppendNow and TryAppendOnThisThread.
  std::optional<uint64_t> CommitNowIfIdle(const std::string& room, std::span<const uint8_t> update);

  struct Queued {
    PendingAppend append;
    AppendCallback done;
  };

  const SqliteRoomLogOptions options_;
  const std::string describe_;
  const std::string dir_;
  const std::string wal_path_;
  const uint64_t id_;  // tells this log's per-thread batches from those of an earlier one
  std::mutex wal_mu_;
  std::atomic<int> wal_fd_{-1};  // opened at the first sync (SQLite creates the file)
  std::atomic<uint64_t> wal_syncs_{0};
  std::atomic<uint64_t> commits_since_background_sync_{0};
  std::atomic<bool> background_sync_posted_{false};
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

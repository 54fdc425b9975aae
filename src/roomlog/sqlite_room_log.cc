#include "roomlog/sqlite_room_log.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <cerrno>
#include <cstring>
#include <filesystem>

namespace tandem::roomlog {

namespace {

constexpr const char* kSchema =
    "CREATE TABLE IF NOT EXISTS room_snapshot (room TEXT PRIMARY KEY, data BLOB NOT NULL, "
    "through_seq INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS room_update (room TEXT NOT NULL, seq INTEGER NOT NULL, "
    "data BLOB NOT NULL, PRIMARY KEY (room, seq)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS room_meta (room TEXT PRIMARY KEY, next_seq INTEGER NOT NULL "
    "DEFAULT 1, unsaved INTEGER NOT NULL DEFAULT 0, alarm_ms INTEGER);";

}  // namespace

Result<std::unique_ptr<SqliteRoomLog>> SqliteRoomLog::Open(const std::string& dir,
                                                           SqliteRoomLogOptions options) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return UnavailableError("cannot create data dir " + dir + ": " + ec.message());
  const std::string path = (std::filesystem::path(dir) / "rooms.db").string();
  std::string setup =
      // Compaction deletes a room's log; without vacuuming, the file kept the pages of the
      // largest log it ever held (takes effect on a new database).
      "PRAGMA auto_vacuum=INCREMENTAL;"
      // One connection serves the whole process: holding the file lock for good spares the
      // fcntl calls of every transaction (and keeps a second server off the same data dir).
      "PRAGMA locking_mode=EXCLUSIVE;"
      "PRAGMA journal_mode=WAL;"
      // A checkpoint leaves the WAL file at its largest size unless told otherwise: many small
      // commits between checkpoints grew it to ten times the data they carried.
      "PRAGMA journal_size_limit=4194304;";
  // Durability full fsyncs the WAL itself (SyncWal), after the commits of a whole turn of a
  // thread's loop rather than inside each one.
  setup += "PRAGMA synchronous=NORMAL;";
  setup += kSchema;
  auto db = sqlite::Database::Open(path, setup);
  if (!db.ok() && db.status().message().find("locked") != std::string::npos) {
    return UnavailableError(path + " is locked by another process (is another tandem serve using " +
                            dir + "?): " + db.status().message());
  }
  if (!db.ok()) return db.status();
  const std::string describe =
      path +
      (options.durability == Durability::kFull ? " (durability full)" : " (durability normal)");
  return std::unique_ptr<SqliteRoomLog>(
      new SqliteRoomLog(std::move(db).value(), options, describe, dir, path + "-wal"));
}

namespace {
std::atomic<uint64_t> next_log_id{1};
}  // namespace

SqliteRoomLog::SqliteRoomLog(std::unique_ptr<sqlite::Database> db, SqliteRoomLogOptions options,
                             std::string describe, std::string dir, std::string wal_path)
    : options_(options),
      describe_(std::move(describe)),
      dir_(std::move(dir)),
      wal_path_(std::move(wal_path)),
      id_(next_log_id++),
      db_(std::move(db)) {
  writer_ = std::thread([this] { RunWriter(); });
}

SqliteRoomLog::~SqliteRoomLog() {
  {
    std::lock_guard lock(queue_mu_);
    stopping_ = true;
  }
  queue_cv_.notify_all();
  writer_.join();
  // Reads and compactions still queued use the database: they finish before it closes.
  pool_.join();
  if (const int fd = wal_fd_.load(); fd >= 0) ::close(fd);
}

Status SqliteRoomLog::SyncWal() {
  if (options_.durability != Durability::kFull) return Status::Ok();
  return SyncWalFile();
}

void SqliteRoomLog::NoteCommitWithoutSync() {
  // With durability normal nothing fsyncs the WAL but a checkpoint, which then wrote several MB
  // at once on the thread that happened to commit (a room's): stalls of tens of ms. Syncing it
  // in the background every so many commits leaves a checkpoint little to write.
  constexpr uint64_t kCommitsPerBackgroundSync = 64;
  if (++commits_since_background_sync_ < kCommitsPerBackgroundSync) return;
  if (background_sync_posted_.exchange(true)) return;
  commits_since_background_sync_ = 0;
  boost::asio::post(pool_, [this] {
    if (Status s = SyncWalFile(); !s.ok()) spdlog::warn("room log: {}", s.message());
    background_sync_posted_ = false;
  });
}

Status SqliteRoomLog::SyncWalFile() {
  int fd = wal_fd_.load(std::memory_order_acquire);
  if (fd < 0) {
    std::lock_guard lock(wal_mu_);
    fd = wal_fd_.load();
    if (fd < 0) {
      // SQLite keeps this file (same inode) while its connection is open: a checkpoint rewrites
      // or truncates it in place, and only closing the database removes it.
      fd = ::open(wal_path_.c_str(), O_RDWR | O_CLOEXEC);
      if (fd < 0) return UnavailableError("open " + wal_path_ + ": " + std::strerror(errno));
      // A file new to its directory: its name must be durable too.
      const int dir_fd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (dir_fd >= 0) {
        (void)::fsync(dir_fd);
        ::close(dir_fd);
      }
      wal_fd_.store(fd, std::memory_order_release);
    }
  }
  if (::fdatasync(fd) != 0) {
    return UnavailableError("fdatasync " + wal_path_ + ": " + std::strerror(errno));
  }
  ++wal_syncs_;
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------
// Appends: group commit

void SqliteRoomLog::Append(const std::string& room, Bytes update, AppendCallback done) {
  bool wake;
  {
    std::lock_guard lock(queue_mu_);
    // The writer needs a signal only when it sleeps on an empty queue or waits out a commit
    // delay that a full batch ends early; otherwise it finds this append when its commit is done.
    wake = (queue_.empty() && !writing_) || queue_.size() + 1 == options_.max_batch;
    queue_.push_back({{room, std::move(update)}, std::move(done)});
  }
  if (wake) queue_cv_.notify_one();
}

std::optional<uint64_t> SqliteRoomLog::CommitNowIfIdle(const std::string& room,
                                                       std::span<const uint8_t> update) {
  uint64_t seq;
  {
    std::unique_lock db_lock(db_mu_, std::try_to_lock);
    if (!db_lock.owns_lock()) return std::nullopt;
    {
      // The writer takes db_mu_ after marking itself busy: while we hold it, a queue that is
      // empty and a writer that is idle stay so until we are done (Flush and Erase wait for us).
      std::lock_guard lock(queue_mu_);
      if (!queue_.empty() || writing_ || stopping_) return std::nullopt;
    }
    auto seqs = AppendBatchNowLocked({PendingAppend{room, Bytes(update.begin(), update.end())}});
    if (!seqs.ok()) return std::nullopt;  // Append retries it and reports what fails
    seq = seqs->front();
  }
  ++commits_;
  ++appends_;
  ++inline_appends_;
  return seq;
}

std::optional<uint64_t> SqliteRoomLog::TryAppendNow(const std::string& room,
                                                    std::span<const uint8_t> update) {
  if (options_.durability != Durability::kNormal) return std::nullopt;
  const std::optional<uint64_t> seq = CommitNowIfIdle(room, update);
  if (seq) NoteCommitWithoutSync();
  return seq;
}

bool SqliteRoomLog::TryAppendOnThisThread(const std::string& room, std::span<const uint8_t> update,
                                          const boost::asio::any_io_executor& executor,
                                          AppendCallback&& done) {
  if (options_.durability != Durability::kFull) return false;
  const std::optional<uint64_t> committed = CommitNowIfIdle(room, update);
  if (!committed) return false;
  const uint64_t seq = *committed;
  std::shared_ptr<ThreadSyncBatch> batch = SyncBatchForThisThread();
  bool post;
  {
    std::lock_guard lock(batch->mu);
    batch->waiting.emplace_back(std::move(done), seq);
    post = !batch->flush_posted;
    batch->flush_posted = true;
  }
  // After the handlers ready now: the appends they commit share this fsync.
  if (post) boost::asio::post(executor, [this, batch] { FlushSyncBatch(*batch); });
  return true;
}

std::shared_ptr<SqliteRoomLog::ThreadSyncBatch> SqliteRoomLog::SyncBatchForThisThread() {
  // Keyed by the log's id, not its address: a later log at the same address (tests) must not
  // inherit a batch whose flush an io_context that is gone will never run.
  thread_local std::vector<std::pair<uint64_t, std::shared_ptr<ThreadSyncBatch>>> batches;
  for (auto& [id, batch] : batches) {
    if (id == id_) return batch;
  }
  batches.emplace_back(id_, std::make_shared<ThreadSyncBatch>());
  return batches.back().second;
}

void SqliteRoomLog::FlushSyncBatch(ThreadSyncBatch& batch) {
  std::vector<std::pair<AppendCallback, uint64_t>> waiting;
  {
    std::lock_guard lock(batch.mu);
    waiting.swap(batch.waiting);
    batch.flush_posted = false;
  }
  // Every append in `waiting` committed before this fsync starts.
  const Status synced = SyncWal();
  if (!synced.ok()) spdlog::error("room log: {}", synced.message());
  for (auto& [done, seq] : waiting) done(synced, synced.ok() ? seq : 0);
}

void SqliteRoomLog::Flush() {
  {
    std::unique_lock lock(queue_mu_);
    idle_cv_.wait(lock, [this] { return queue_.empty() && !writing_; });
  }
  // Appends committed on their callers' threads may still wait for their turn's fsync.
  if (Status s = SyncWal(); !s.ok()) spdlog::error("room log: {}", s.message());
}

void SqliteRoomLog::RunWriter() {
  for (;;) {
    std::vector<Queued> batch;
    {
      std::unique_lock lock(queue_mu_);
      queue_cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, nothing left
      // Wait for company only when the log is busy (the last commit ended within the delay):
      // at a low rate the wait would batch nothing, and each extra sleep and wake-up costs more
      // CPU than the commit it might save.
      if (options_.commit_delay.count() > 0 && !stopping_ &&
          std::chrono::steady_clock::now() - last_commit_end_ < options_.commit_delay) {
        queue_cv_.wait_for(lock, options_.commit_delay,
                           [this] { return stopping_ || queue_.size() >= options_.max_batch; });
      }
      const size_t n = std::min(queue_.size(), options_.max_batch);
      batch.reserve(n);
      for (size_t i = 0; i < n; ++i) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      writing_ = true;
    }
    std::vector<PendingAppend> appends;
    appends.reserve(batch.size());
    for (auto& q : batch) appends.push_back(std::move(q.append));
    auto seqs = AppendBatchNow(appends);
    if (seqs.ok()) {
      if (Status synced = SyncWal(); !synced.ok()) seqs = synced;
      if (options_.durability != Durability::kFull) NoteCommitWithoutSync();
    }
    last_commit_end_ = std::chrono::steady_clock::now();
    ++commits_;
    appends_ += batch.size();
    for (size_t i = 0; i < batch.size(); ++i) {
      if (seqs.ok()) {
        batch[i].done(Status::Ok(), (*seqs)[i]);
      } else {
        batch[i].done(seqs.status(), 0);
      }
    }
    {
      std::lock_guard lock(queue_mu_);
      writing_ = false;
    }
    idle_cv_.notify_all();
  }
}

Result<std::vector<uint64_t>> SqliteRoomLog::AppendBatchNow(
    const std::vector<PendingAppend>& appends) {
  std::lock_guard lock(db_mu_);
  return AppendBatchNowLocked(appends);
}

Result<std::vector<uint64_t>> SqliteRoomLog::AppendBatchNowLocked(
    const std::vector<PendingAppend>& appends) {
  std::vector<uint64_t> seqs;
  seqs.reserve(appends.size());
  // Prepared once: parsing BEGIN and COMMIT showed in profiles at one commit per update.
  sqlite::Statement begin = db_->Cached("BEGIN IMMEDIATE");
  if (!begin.ok() || begin.Step() != SQLITE_DONE) return db_->Error("append: begin");
  begin.Reset();
  auto rollback = [this](Status s) {
    (void)db_->Exec("ROLLBACK");
    return s;
  };
  sqlite::Statement next = db_->Cached(
      "INSERT INTO room_meta (room, next_seq, unsaved) VALUES (?, 2, 1) ON CONFLICT(room) DO "
      "UPDATE SET next_seq = next_seq + 1, unsaved = 1 RETURNING next_seq - 1");
  sqlite::Statement insert =
      db_->Cached("INSERT INTO room_update (room, seq, data) VALUES (?, ?, ?)");
  if (!next.ok() || !insert.ok()) return rollback(db_->Error("append"));
  for (const PendingAppend& a : appends) {
    next.BindText(1, a.room);
    if (next.Step() != SQLITE_ROW) return rollback(db_->Error("append: sequence"));
    const int64_t seq = next.ColumnInt(0);
    next.Reset();
    insert.BindText(1, a.room);
    insert.BindInt(2, seq);
    insert.BindBlob(3, a.update);
    if (insert.Step() != SQLITE_DONE) return rollback(db_->Error("append: insert"));
    insert.Reset();
    seqs.push_back(static_cast<uint64_t>(seq));
  }
  sqlite::Statement commit = db_->Cached("COMMIT");
  if (!commit.ok() || commit.Step() != SQLITE_DONE) {
    Status failed = db_->Error("append: commit");
    commit.Reset();
    return rollback(failed);
  }
  commit.Reset();
  return seqs;
}

// ---------------------------------------------------------------------------------------------
// Reads, compaction, save marks: blocking, on the pool

void SqliteRoomLog::Read(const std::string& room, ReadCallback done) {
  boost::asio::post(pool_, [this, room, done = std::move(done)] { done(ReadNow(room)); });
}

void SqliteRoomLog::Compact(const std::string& room, Bytes snapshot, uint64_t through_seq,
                            DoneCallback done) {
  boost::asio::post(
      pool_, [this, room, snapshot = std::move(snapshot), through_seq, done = std::move(done)] {
        Status s = CompactNow(room, snapshot, through_seq);
        if (done) done(s);
      });
}

void SqliteRoomLog::MarkSaved(const std::string& room, uint64_t through_seq, DoneCallback done) {
  boost::asio::post(pool_, [this, room, through_seq, done = std::move(done)] {
    Status s = MarkSavedNow(room, through_seq);
    if (done) done(s);
  });
}

void SqliteRoomLog::Erase(const std::string& room, EraseCallback done) {
  boost::asio::post(pool_, [this, room, done = std::move(done)] {
    Flush();  // appends queued before the erase must not land after it
    Status s = EraseNow(room);
    if (done) done(s, 0);
  });
}

Result<std::optional<LogContents>> SqliteRoomLog::ReadNow(const std::string& room) {
  std::lock_guard lock(db_mu_);
  LogContents out;
  bool found = false;
  {
    sqlite::Statement s = db_->Cached("SELECT data, through_seq FROM room_snapshot WHERE room = ?");
    if (!s.ok()) return db_->Error("read snapshot");
    s.BindText(1, room);
    if (s.Step() == SQLITE_ROW) {
      out.snapshot = s.ColumnBlob(0);
      out.snapshot_seq = static_cast<uint64_t>(s.ColumnInt(1));
      out.last_seq = out.snapshot_seq;
      found = true;
    }
  }
  {
    sqlite::Statement s =
        db_->Cached("SELECT seq, data FROM room_update WHERE room = ? ORDER BY seq");
    if (!s.ok()) return db_->Error("read updates");
    s.BindText(1, room);
    int rc;
    while ((rc = s.Step()) == SQLITE_ROW) {
      out.last_seq = static_cast<uint64_t>(s.ColumnInt(0));
      out.updates.push_back(s.ColumnBlob(1));
      found = true;
    }
    if (rc != SQLITE_DONE) return db_->Error("read updates");
  }
  {
    sqlite::Statement s =
        db_->Cached("SELECT next_seq, unsaved, alarm_ms FROM room_meta WHERE room = ?");
    if (!s.ok()) return db_->Error("read meta");
    s.BindText(1, room);
    if (s.Step() == SQLITE_ROW) {
      out.last_seq = std::max<uint64_t>(out.last_seq, static_cast<uint64_t>(s.ColumnInt(0)) - 1);
      // (alarm_ms: a pending save recorded by an earlier version; it means unsaved too.)
      out.unsaved = s.ColumnInt(1) != 0 || !s.ColumnIsNull(2);
    }
  }
  if (!found) return std::optional<LogContents>();
  return std::optional<LogContents>(std::move(out));
}

Status SqliteRoomLog::CompactNow(const std::string& room, const Bytes& snapshot,
                                 uint64_t through_seq) {
  TANDEM_RETURN_IF_ERROR(CompactLocked(room, snapshot, through_seq));
  // Outside the lock: appends go on meanwhile.
  return SyncWal();
}

Status SqliteRoomLog::CompactLocked(const std::string& room, const Bytes& snapshot,
                                    uint64_t through_seq) {
  std::lock_guard lock(db_mu_);
  TANDEM_RETURN_IF_ERROR(db_->Exec("BEGIN IMMEDIATE"));
  sqlite::Statement put = db_->Prepare(
      "INSERT INTO room_snapshot (room, data, through_seq) VALUES (?, ?, ?) ON CONFLICT(room) "
      "DO UPDATE SET data = excluded.data, through_seq = excluded.through_seq "
      // Compactions may commit out of order: never go back to an older snapshot.
      "WHERE excluded.through_seq >= room_snapshot.through_seq");
  sqlite::Statement drop = db_->Cached("DELETE FROM room_update WHERE room = ? AND seq <= ?");
  if (!put.ok() || !drop.ok()) {
    (void)db_->Exec("ROLLBACK");
    return db_->Error("compact");
  }
  put.BindText(1, room);
  put.BindBlob(2, snapshot);
  put.BindInt(3, static_cast<int64_t>(through_seq));
  drop.BindText(1, room);
  drop.BindInt(2, static_cast<int64_t>(through_seq));
  if (put.Step() != SQLITE_DONE || drop.Step() != SQLITE_DONE) {
    Status s = db_->Error("compact");
    (void)db_->Exec("ROLLBACK");
    return s;
  }
  TANDEM_RETURN_IF_ERROR(db_->Exec("COMMIT"));
  return VacuumIfWorthItLocked();
}

Status SqliteRoomLog::VacuumIfWorthItLocked() {
  // Give the pages of dropped logs back to the file system once they add up: new appends reuse
  // free pages anyway, and vacuuming after every compaction moved pages back and forth while
  // every append waited for the lock (a burst of compactions stalled all rooms for 100 ms).
  constexpr int64_t kFreePagesWorthVacuuming = 1024;  // 4 MB of 4 KB pages
  sqlite::Statement free_pages = db_->Cached("PRAGMA freelist_count");
  if (!free_pages.ok() || free_pages.Step() != SQLITE_ROW) return db_->Error("freelist_count");
  const int64_t count = free_pages.ColumnInt(0);
  free_pages.Reset();
  if (count < kFreePagesWorthVacuuming) return Status::Ok();
  return db_->Exec("PRAGMA incremental_vacuum");
}

Status SqliteRoomLog::MarkSavedNow(const std::string& room, uint64_t through_seq) {
  {
    std::lock_guard lock(db_mu_);
    sqlite::Statement s = db_->Cached(
        "UPDATE room_meta SET unsaved = 0, alarm_ms = NULL WHERE room = ? AND next_seq - 1 <= ?");
    if (!s.ok()) return db_->Error("mark saved");
    s.BindText(1, room);
    s.BindInt(2, static_cast<int64_t>(through_seq));
    TANDEM_RETURN_IF_ERROR(s.Run("mark saved"));
  }
  return SyncWal();
}

Status SqliteRoomLog::EraseNow(const std::string& room) {
  TANDEM_RETURN_IF_ERROR(EraseLocked(room));
  return SyncWal();
}

Status SqliteRoomLog::EraseLocked(const std::string& room) {
  std::lock_guard lock(db_mu_);
  TANDEM_RETURN_IF_ERROR(db_->Exec("BEGIN IMMEDIATE"));
  for (const char* sql :
       {"DELETE FROM room_snapshot WHERE room = ?", "DELETE FROM room_update WHERE room = ?",
        "DELETE FROM room_meta WHERE room = ?"}) {
    sqlite::Statement s = db_->Cached(sql);
    if (!s.ok()) {
      Status e = db_->Error("erase");
      (void)db_->Exec("ROLLBACK");
      return e;
    }
    s.BindText(1, room);
    if (s.Step() != SQLITE_DONE) {
      Status e = db_->Error("erase");
      (void)db_->Exec("ROLLBACK");
      return e;
    }
  }
  TANDEM_RETURN_IF_ERROR(db_->Exec("COMMIT"));
  return VacuumIfWorthItLocked();
}

Result<std::vector<std::string>> SqliteRoomLog::RoomsNeedingSave() {
  std::lock_guard lock(db_mu_);
  sqlite::Statement s = db_->Cached(
      "SELECT room FROM room_meta WHERE unsaved = 1 OR alarm_ms IS NOT NULL ORDER BY room");
  if (!s.ok()) return db_->Error("rooms needing save");
  std::vector<std::string> rooms;
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) rooms.push_back(s.ColumnText(0));
  if (rc != SQLITE_DONE) return db_->Error("rooms needing save");
  return rooms;
}

Result<uint64_t> SqliteRoomLog::LogBytes() {
  std::lock_guard lock(db_mu_);
  sqlite::Statement s = db_->Cached("SELECT COALESCE(SUM(LENGTH(data)), 0) FROM room_update");
  if (!s.ok() || s.Step() != SQLITE_ROW) return db_->Error("log bytes");
  return static_cast<uint64_t>(s.ColumnInt(0));
}

}  // namespace tandem::roomlog

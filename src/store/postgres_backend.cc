// PostgreSQL backend (libpq): a small pool of connections; a save holds the room's row in
// store_rooms (SELECT ... FOR UPDATE) for its transaction, so saves of one room from any number
// of store processes are serialized while other rooms proceed in parallel.

#include <libpq-fe.h>

#include <condition_variable>
#include <cstring>
#include <mutex>

#include "store/snapshot_store.h"

namespace tandem::store {

namespace {

constexpr const char* kSchema =
    "SELECT pg_advisory_xact_lock(7245351127);"
    "CREATE TABLE IF NOT EXISTS store_rooms (room TEXT PRIMARY KEY, latest_version BIGINT NOT "
    "NULL);"
    "CREATE TABLE IF NOT EXISTS store_versions (room TEXT NOT NULL, version BIGINT NOT NULL, "
    "data BYTEA NOT NULL, size BIGINT NOT NULL, checksum TEXT NOT NULL, created_ms BIGINT NOT "
    "NULL, merged BOOLEAN NOT NULL, PRIMARY KEY (room, version));"
    "CREATE TABLE IF NOT EXISTS store_epochs (room TEXT PRIMARY KEY, epoch BIGINT NOT NULL);";

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using PgResult = std::unique_ptr<PGresult, ResultDeleter>;

// Runs `sql` with text parameters (a parameter given as Bytes is sent binary), results in
// binary when `binary` is set.
struct Param {
  const char* data;
  int length;
  int format;  // 0 text, 1 binary
};

PgResult Exec(PGconn* conn, const char* sql, const std::vector<Param>& params,
              bool binary = false) {
  std::vector<const char*> values;
  std::vector<int> lengths;
  std::vector<int> formats;
  for (const Param& p : params) {
    values.push_back(p.data);
    lengths.push_back(p.length);
    formats.push_back(p.format);
  }
  return PgResult(PQexecParams(conn, sql, static_cast<int>(params.size()), nullptr, values.data(),
                               lengths.data(), formats.data(), binary ? 1 : 0));
}

Param TextParam(const std::string& s) {
  return {s.c_str(), static_cast<int>(s.size()), 0};
}

bool Ok(const PgResult& r) {
  const auto status = PQresultStatus(r.get());
  return status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK;
}

int64_t ReadInt64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return static_cast<int64_t>(v);
}

// Row of (version, size, created_ms, checksum, merged[, data]) in binary format.
VersionInfo ReadInfo(PGresult* r, int row) {
  VersionInfo v;
  v.version = ReadInt64(PQgetvalue(r, row, 0));
  v.size = static_cast<uint64_t>(ReadInt64(PQgetvalue(r, row, 1)));
  v.time_ms = ReadInt64(PQgetvalue(r, row, 2));
  v.checksum.assign(PQgetvalue(r, row, 3), PQgetlength(r, row, 3));
  v.merged = PQgetvalue(r, row, 4)[0] != 0;
  return v;
}

class PostgresBackend : public Backend {
 public:
  PostgresBackend(std::string url, std::vector<PGconn*> conns)
      : url_(std::move(url)), idle_(std::move(conns)) {}
  ~PostgresBackend() override {
    for (PGconn* c : idle_) PQfinish(c);
  }

  std::string describe() const override { return "postgres"; }

  Result<VersionInfo> Save(const std::string& room, const PrepareFn& prepare, int keep) override {
    Lease lease(*this);
    TANDEM_ASSIGN_OR_RETURN(PGconn * conn, lease.get());
    if (!Ok(PgResult(PQexec(conn, "BEGIN")))) return Error(conn, "begin");
    auto result = SaveLocked(conn, room, prepare, keep);
    if (!result.ok()) {
      PgResult rolled_back(PQexec(conn, "ROLLBACK"));  // its outcome changes nothing here
      return result;
    }
    if (!Ok(PgResult(PQexec(conn, "COMMIT")))) {
      Status s = Error(conn, "commit");
      PgResult rolled_back(PQexec(conn, "ROLLBACK"));
      return s;
    }
    return result;
  }

  Result<std::optional<Version>> Get(const std::string& room,
                                     std::optional<int64_t> version) override {
    Lease lease(*this);
    TANDEM_ASSIGN_OR_RETURN(PGconn * conn, lease.get());
    return GetWith(conn, room, version);
  }

  Result<std::vector<VersionInfo>> List(const std::string& room) override {
    Lease lease(*this);
    TANDEM_ASSIGN_OR_RETURN(PGconn * conn, lease.get());
    PgResult r = Exec(conn,
                      "SELECT version, size, created_ms, checksum, merged FROM store_versions "
                      "WHERE room = $1 ORDER BY version DESC",
                      {TextParam(room)}, true);
    if (!Ok(r)) return Error(conn, "list");
    std::vector<VersionInfo> out;
    for (int i = 0; i < PQntuples(r.get()); ++i) out.push_back(ReadInfo(r.get(), i));
    return out;
  }

  Result<bool> Fence(const std::string& room, uint64_t epoch) override {
    Lease lease(*this);
    TANDEM_ASSIGN_OR_RETURN(PGconn * conn, lease.get());
    PgResult r = Exec(conn,
                      "INSERT INTO store_epochs (room, epoch) VALUES ($1, $2) ON CONFLICT (room) "
                      "DO UPDATE SET epoch = EXCLUDED.epoch WHERE store_epochs.epoch <= "
                      "EXCLUDED.epoch",
                      {TextParam(room), TextParam(std::to_string(epoch))});
    if (!Ok(r)) return Error(conn, "fence");
    return std::strtoll(PQcmdTuples(r.get()), nullptr, 10) == 1;
  }

  Result<int64_t> Delete(const std::string& room) override {
    Lease lease(*this);
    TANDEM_ASSIGN_OR_RETURN(PGconn * conn, lease.get());
    // Waits for a save of the room in progress (it holds the room's row until COMMIT).
    if (!Ok(PgResult(PQexec(conn, "BEGIN")))) return Error(conn, "begin");
    PgResult locked =
        Exec(conn, "SELECT latest_version FROM store_rooms WHERE room = $1 FOR UPDATE",
             {TextParam(room)});
    PgResult deleted =
        Ok(locked) ? Exec(conn, "DELETE FROM store_versions WHERE room = $1", {TextParam(room)})
                   : PgResult(nullptr);
    if (!Ok(locked) || !Ok(deleted)) {
      Status s = Error(conn, "delete");
      PgResult rolled_back(PQexec(conn, "ROLLBACK"));
      return s;
    }
    if (!Ok(PgResult(PQexec(conn, "COMMIT")))) return Error(conn, "commit");
    return static_cast<int64_t>(std::strtoll(PQcmdTuples(deleted.get()), nullptr, 10));
  }

  Status Ping() override {
    Lease lease(*this);
    auto conn = lease.get();
    if (!conn.ok()) return conn.status();
    if (!Ok(PgResult(PQexec(*conn, "SELECT 1")))) return Error(*conn, "ping");
    return Status::Ok();
  }

 private:
  // A connection taken from the pool for one call; a broken one is reset before use.
  class Lease {
   public:
    explicit Lease(PostgresBackend& b) : b_(b) {
      std::unique_lock lock(b_.mu_);
      b_.cv_.wait(lock, [this] { return !b_.idle_.empty(); });
      conn_ = b_.idle_.back();
      b_.idle_.pop_back();
    }
    ~Lease() {
      std::lock_guard lock(b_.mu_);
      b_.idle_.push_back(conn_);
      b_.cv_.notify_one();
    }
    Result<PGconn*> get() {
      if (PQstatus(conn_) != CONNECTION_OK) {
        PQreset(conn_);
        if (PQstatus(conn_) != CONNECTION_OK)
          return UnavailableError(std::string("postgres: ") + PQerrorMessage(conn_));
      }
      return conn_;
    }

   private:
    PostgresBackend& b_;
    PGconn* conn_;
  };

  static Status Error(PGconn* conn, std::string_view what) {
    std::string message = PQerrorMessage(conn);
    while (!message.empty() && (message.back() == '\n' || message.back() == ' '))
      message.pop_back();
    return UnavailableError("postgres " + std::string(what) + ": " + message);
  }

  Result<std::optional<Version>> GetWith(PGconn* conn, const std::string& room,
                                         std::optional<int64_t> version) {
    const std::string v = version.has_value() ? std::to_string(*version) : "";
    PgResult r = version.has_value()
                     ? Exec(conn,
                            "SELECT version, size, created_ms, checksum, merged, data FROM "
                            "store_versions WHERE room = $1 AND version = $2",
                            {TextParam(room), TextParam(v)}, true)
                     : Exec(conn,
                            "SELECT version, size, created_ms, checksum, merged, data FROM "
                            "store_versions WHERE room = $1 ORDER BY version DESC LIMIT 1",
                            {TextParam(room)}, true);
    if (!Ok(r)) return Error(conn, "get");
    if (PQntuples(r.get()) == 0) return std::optional<Version>();
    Version snap;
    snap.info = ReadInfo(r.get(), 0);
    const auto* p = reinterpret_cast<const uint8_t*>(PQgetvalue(r.get(), 0, 5));
    snap.data.assign(p, p + PQgetlength(r.get(), 0, 5));
    return std::optional<Version>(std::move(snap));
  }

  Result<VersionInfo> SaveLocked(PGconn* conn, const std::string& room, const PrepareFn& prepare,
                                 int keep) {
    // Creates the room row if needed, then locks it until COMMIT.
    if (!Ok(Exec(conn,
                 "INSERT INTO store_rooms (room, latest_version) VALUES ($1, 0) ON CONFLICT "
                 "(room) DO NOTHING",
                 {TextParam(room)})))
      return Error(conn, "save");
    PgResult locked =
        Exec(conn, "SELECT latest_version FROM store_rooms WHERE room = $1 FOR UPDATE",
             {TextParam(room)});
    if (!Ok(locked) || PQntuples(locked.get()) != 1) return Error(conn, "lock room");
    const int64_t latest_version = std::strtoll(PQgetvalue(locked.get(), 0, 0), nullptr, 10);
    TANDEM_ASSIGN_OR_RETURN(std::optional<Version> latest, GetWith(conn, room, std::nullopt));
    TANDEM_ASSIGN_OR_RETURN(std::optional<Prepared> p, prepare(latest));
    if (!p.has_value()) return latest.has_value() ? latest->info : VersionInfo{};
    p->info.version = std::max(latest_version, latest ? latest->info.version : 0) + 1;
    const std::string version = std::to_string(p->info.version);
    const std::string size = std::to_string(p->info.size);
    const std::string time = std::to_string(p->info.time_ms);
    const std::string merged = p->info.merged ? "true" : "false";
    const Param data{reinterpret_cast<const char*>(p->data.data()),
                     static_cast<int>(p->data.size()), 1};
    if (!Ok(Exec(conn,
                 "INSERT INTO store_versions (room, version, data, size, checksum, created_ms, "
                 "merged) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                 {TextParam(room), TextParam(version), data, TextParam(size),
                  TextParam(p->info.checksum), TextParam(time), TextParam(merged)})))
      return Error(conn, "insert");
    if (!Ok(Exec(conn, "UPDATE store_rooms SET latest_version = $2 WHERE room = $1",
                 {TextParam(room), TextParam(version)})))
      return Error(conn, "update room");
    const std::string oldest_dropped = std::to_string(p->info.version - keep);
    if (!Ok(Exec(conn, "DELETE FROM store_versions WHERE room = $1 AND version <= $2",
                 {TextParam(room), TextParam(oldest_dropped)})))
      return Error(conn, "prune");
    return p->info;
  }

  std::string url_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<PGconn*> idle_;
};

}  // namespace

Result<std::unique_ptr<Backend>> OpenPostgresBackend(const std::string& url, int pool_size) {
  std::vector<PGconn*> conns;
  auto fail = [&conns](Status s) {
    for (PGconn* c : conns) PQfinish(c);
    return s;
  };
  for (int i = 0; i < std::max(pool_size, 1); ++i) {
    PGconn* conn = PQconnectdb(url.c_str());
    conns.push_back(conn);
    // Server notices ("relation already exists, skipping") are not errors; keep stderr quiet.
    PQsetNoticeProcessor(
        conn, [](void*, const char*) {}, nullptr);
    if (PQstatus(conn) != CONNECTION_OK) {
      std::string message = PQerrorMessage(conn);
      while (!message.empty() && message.back() == '\n') message.pop_back();
      return fail(UnavailableError("cannot connect to postgres: " + message));
    }
  }
  // One transaction (the advisory lock serializes concurrent store processes creating tables).
  PGconn* conn = conns.front();
  if (PQresultStatus(PgResult(PQexec(conn, "BEGIN")).get()) != PGRES_COMMAND_OK ||
      !Ok(PgResult(PQexec(conn, kSchema))) || !Ok(PgResult(PQexec(conn, "COMMIT")))) {
    std::string message = PQerrorMessage(conn);
    return fail(UnavailableError("cannot create schema in postgres: " + message));
  }
  return std::unique_ptr<Backend>(std::make_unique<PostgresBackend>(url, std::move(conns)));
}

}  // namespace tandem::store

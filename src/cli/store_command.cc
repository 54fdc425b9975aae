#include "cli/store_command.h"

#include <signal.h>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "cli/flags.h"
#include "store/http_service.h"
#include "store/snapshot_store.h"

namespace tandem::cli {

struct StoreFlags {
  std::string host = "127.0.0.1";
  uint16_t port = 8090;
  std::string data_dir = "./data";
  std::string database;
  std::string secret;
  std::string max_snapshot = "64MiB";
  std::string max_inflight = "0";
  int keep_versions = 10;
  unsigned threads = 4;
  int pg_pool = 8;
  std::string shutdown_timeout = "10s";
  std::string log_level = "info";
};

StoreCommand::StoreCommand(CLI::App& parent) : flags_(std::make_unique<StoreFlags>()) {
  app_ = parent.add_subcommand(
      "store", "Run the snapshot store service (POST/GET /collaboration/snapshot?roomId=...)");
  app_->set_config("--config", "",
                   "Read flags from a TOML or INI file (keys are the long flag names)");
  auto& f = *flags_;
  auto opt = [this](const std::string& name, auto& value, const std::string& help,
                    const std::string& env) {
    return app_->add_option(name, value, help)->envname(env)->capture_default_str();
  };
  opt("--host", f.host, "Address to listen on", "TANDEM_STORE_HOST");
  opt("--port", f.port, "Port to listen on", "TANDEM_STORE_PORT");
  auto* data_dir = opt("--data-dir", f.data_dir,
                       "Folder of the SQLite database (snapshots.db), the default backend",
                       "TANDEM_STORE_DATA_DIR");
  opt("--database", f.database,
      "PostgreSQL URL (postgres://user:pass@host:port/db) instead of SQLite in --data-dir",
      "TANDEM_STORE_DATABASE")
      ->excludes(data_dir);
  opt("--secret", f.secret,
      "Bearer secret every snapshot request must carry (required). Falls back to "
      "PARTYKIT_SECRET",
      "TANDEM_STORE_SECRET");
  opt("--max-snapshot-bytes", f.max_snapshot, "Largest snapshot accepted (413 above)",
      "TANDEM_STORE_MAX_SNAPSHOT_BYTES");
  opt("--max-inflight-bytes", f.max_inflight,
      "Bytes of request bodies received at once, in all (503 past it, before the body is read); "
      "0: four times --max-snapshot-bytes",
      "TANDEM_STORE_MAX_INFLIGHT_BYTES");
  opt("--keep-versions", f.keep_versions, "Versions kept per room (older ones are deleted)",
      "TANDEM_STORE_KEEP_VERSIONS")
      ->check(CLI::Range(1, 1'000'000));
  opt("--threads", f.threads, "Worker threads (requests block on storage)", "TANDEM_STORE_THREADS")
      ->check(CLI::Range(1u, 1024u));
  opt("--pg-pool", f.pg_pool, "PostgreSQL connections", "TANDEM_STORE_PG_POOL")
      ->check(CLI::Range(1, 1024));
  opt("--shutdown-timeout", f.shutdown_timeout, "Longest wait for requests in flight on shutdown",
      "TANDEM_STORE_SHUTDOWN_TIMEOUT");
  opt("--log-level", f.log_level, "trace | debug | info | warn | error", "TANDEM_STORE_LOG_LEVEL")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));
}

StoreCommand::~StoreCommand() = default;

bool StoreCommand::parsed() const {
  return app_->parsed();
}

int StoreCommand::Run() {
  auto& f = *flags_;
  auto fail = [](const Status& s) {
    std::cerr << "tandem store: " << s.message() << "\n";
    return 2;
  };
  if (f.secret.empty()) {
    if (const char* v = std::getenv("PARTYKIT_SECRET")) f.secret = v;
  }
  if (f.secret.empty()) {
    return fail(InvalidArgumentError(
        "--secret is required (or TANDEM_STORE_SECRET): the Bearer secret servers send"));
  }
  auto max_snapshot = ParseByteSize(f.max_snapshot);
  if (!max_snapshot.ok()) return fail(max_snapshot.status());
  auto max_inflight = ParseByteSize(f.max_inflight);
  if (!max_inflight.ok()) return fail(max_inflight.status());
  auto shutdown_timeout = ParseDuration(f.shutdown_timeout);
  if (!shutdown_timeout.ok()) return fail(shutdown_timeout.status());

  spdlog::set_level(spdlog::level::from_str(f.log_level));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %^%l%$ %v");

  // Signals are taken by sigwait below; worker threads inherit the blocked mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto backend =
      f.database.empty()
          ? store::OpenSqliteBackend((std::filesystem::path(f.data_dir) / "snapshots.db").string())
          : store::OpenPostgresBackend(f.database, f.pg_pool);
  if (!backend.ok()) return fail(backend.status());
  store::SnapshotStore snapshots(
      std::move(backend).value(),
      store::StoreOptions{.max_snapshot_bytes = *max_snapshot, .keep_versions = f.keep_versions});
  store::ServiceOptions options;
  options.host = f.host;
  options.port = f.port;
  options.secret = f.secret;
  options.threads = f.threads;
  options.shutdown_timeout = *shutdown_timeout;
  options.max_inflight_body_bytes = *max_inflight;
  store::StoreService service(snapshots, options);
  Status s = service.Start();
  if (!s.ok()) return fail(s);
  int sig = 0;
  sigwait(&signals, &sig);
  spdlog::info("event=shutdown signal={}", sig == SIGINT ? "SIGINT" : "SIGTERM");
  service.Stop();
  return 0;
}

}  // namespace tandem::cli

#include "cli/serve_command.h"

#include <malloc.h>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <iostream>

#include "server/config.h"
#include "server/server.h"

namespace tandem::cli {

namespace {

// glibc's defaults return freed memory to the kernel eagerly: every worker arena shrinks with
// madvise once a burst of frames is freed, and grows again on the next. In a VM each shrink is a
// cross-CPU TLB flush; measured here, this churn cost ~20% of the server's CPU per delivered
// update. Keep up to 64 MiB of free heap and grow it in 16 MiB steps (untouched pages are not
// resident); buffers over 4 MiB (large snapshots) still go straight back to the kernel.
void KeepFreedMemoryForReuse() {
  mallopt(M_TRIM_THRESHOLD, 64 << 20);
  mallopt(M_TOP_PAD, 16 << 20);
  mallopt(M_MMAP_THRESHOLD, 4 << 20);
}

}  // namespace

struct ServeFlags {
  server::ServerConfig config;
  std::string auth_cache_ttl = "30s";
  std::string auth_timeout = "5s";
  std::string max_message = "16MiB";
  std::string max_send_queue = "32MiB";
  std::string max_pending = "4MiB";
  std::string max_awareness_size = "64KiB";
  std::string max_document = "64MiB";
  std::string ping_interval = "30s";
  std::string commit_delay = "3ms";
  std::string room_idle_unload = "30s";
  std::string shutdown_timeout = "10s";
  std::string save_interval = "30s";
  std::string disconnect_debounce = "7s";
  std::string snapshot_timeout = "30s";
  std::string save_retry = "1s";
};

ServeCommand::ServeCommand(CLI::App& parent) : flags_(std::make_unique<ServeFlags>()) {
  app_ = parent.add_subcommand("serve", "Run the collaboration server (y-websocket protocol)");
  app_->set_config("--config", "",
                   "Read flags from a TOML or INI file (keys are the long flag names)");
  auto& f = *flags_;
  auto& c = f.config;
  auto opt = [this](const std::string& name, auto& value, const std::string& help,
                    const std::string& env) {
    return app_->add_option(name, value, help)->envname(env)->capture_default_str();
  };
  opt("--host", c.host, "Address to listen on", "TANDEM_HOST");
  opt("--port", c.port, "Port for HTTP and WebSocket", "TANDEM_PORT");
  opt("--threads", c.threads, "Worker threads (0: one per core)", "TANDEM_THREADS");
  opt("--data-dir", c.data_dir, "Folder for room storage", "TANDEM_DATA_DIR");
  opt("--auth", c.auth_mode, "Auth mode: none | jwt | http", "TANDEM_AUTH")
      ->check(CLI::IsMember({"none", "jwt", "http"}));
  opt("--jwt-secret", c.jwt_secret, "HS256 secret for --auth jwt", "TANDEM_JWT_SECRET");
  opt("--auth-url", c.auth_url, "Endpoint POSTed {token, roomId} for --auth http",
      "TANDEM_AUTH_URL");
  opt("--auth-secret", c.auth_secret, "Bearer secret sent to --auth-url", "TANDEM_AUTH_SECRET");
  opt("--auth-cache-ttl", f.auth_cache_ttl, "How long an auth answer is reused per (token, room)",
      "TANDEM_AUTH_CACHE_TTL");
  opt("--auth-timeout", f.auth_timeout, "Timeout of one auth request", "TANDEM_AUTH_TIMEOUT");
  opt("--max-message-size", f.max_message,
      "Largest message a client may send (closed with 1009 above)", "TANDEM_MAX_MESSAGE_SIZE");
  opt("--max-connections", c.max_connections, "Connections per server (4429 above)",
      "TANDEM_MAX_CONNECTIONS");
  opt("--max-connections-per-room", c.max_connections_per_room, "Connections per room (4429 above)",
      "TANDEM_MAX_CONNECTIONS_PER_ROOM");
  opt("--max-send-queue", f.max_send_queue,
      "Outgoing bytes queued per connection before it is closed (1008)", "TANDEM_MAX_SEND_QUEUE");
  opt("--max-nesting-depth", c.max_nesting_depth,
      "Deepest nesting of shared types an update may create (4413 above)",
      "TANDEM_MAX_NESTING_DEPTH");
  opt("--max-clients-per-update", c.max_clients_per_update,
      "Client groups in one update (4413 above)", "TANDEM_MAX_CLIENTS_PER_UPDATE");
  opt("--max-pending-size", f.max_pending,
      "Bytes of structs waiting for missing ones, per room (4413 above)",
      "TANDEM_MAX_PENDING_SIZE");
  opt("--max-awareness-states", c.max_awareness_states,
      "Awareness states one connection may hold (4413 above)", "TANDEM_MAX_AWARENESS_STATES");
  opt("--max-awareness-size", f.max_awareness_size, "Bytes of one awareness state (4413 above)",
      "TANDEM_MAX_AWARENESS_SIZE");
  opt("--max-document-size", f.max_document,
      "Updates are refused (4413) once a room's document is this large",
      "TANDEM_MAX_DOCUMENT_SIZE");
  opt("--ping-interval", f.ping_interval,
      "Keepalive ping interval; silent peers are dropped after twice this", "TANDEM_PING_INTERVAL");
  opt("--room-idle-unload", f.room_idle_unload,
      "Unload a room this long after its last client left", "TANDEM_ROOM_IDLE_UNLOAD");
  opt("--shutdown-timeout", f.shutdown_timeout, "Longest graceful shutdown",
      "TANDEM_SHUTDOWN_TIMEOUT");
  opt("--durability", c.durability,
      "full: fsync every group commit (survives power loss); normal: survives crashes",
      "TANDEM_DURABILITY")
      ->check(CLI::IsMember({"full", "normal"}));
  opt("--commit-delay", f.commit_delay,
      "While the room log is busy, how long it gathers updates into one durable commit (an idle "
      "log commits at once); updates are broadcast once committed. 0ms: never wait (lower "
      "latency, more fsyncs)",
      "TANDEM_COMMIT_DELAY");
  opt("--snapshot-url", c.snapshot_url,
      "Snapshot store base URL (POST/GET /collaboration/snapshot); default: embedded store in "
      "--data-dir. "
      "Falls back to CONVEX_SITE_URL",
      "TANDEM_SNAPSHOT_URL");
  opt("--snapshot-secret", c.snapshot_secret,
      "Bearer secret for the snapshot store. Falls back to PARTYKIT_SECRET",
      "TANDEM_SNAPSHOT_SECRET");
  opt("--save-interval", f.save_interval,
      "Save a connected room's snapshot this often (if changed)", "TANDEM_SAVE_INTERVAL");
  opt("--disconnect-debounce", f.disconnect_debounce, "Save this long after the last client leaves",
      "TANDEM_DISCONNECT_DEBOUNCE");
  opt("--snapshot-timeout", f.snapshot_timeout, "Timeout of one snapshot-store request",
      "TANDEM_SNAPSHOT_TIMEOUT");
  opt("--save-retry", f.save_retry,
      "First retry after a failed save; doubles (with jitter) up to 60s", "TANDEM_SAVE_RETRY");
  opt("--compact-after", c.compact_after_updates,
      "Compact a room's log into a snapshot after this many updates", "TANDEM_COMPACT_AFTER");
  opt("--log-level", c.log_level, "trace | debug | info | warn | error", "TANDEM_LOG_LEVEL")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));
}

ServeCommand::~ServeCommand() = default;

bool ServeCommand::parsed() const {
  return app_->parsed();
}

int ServeCommand::Run() {
  auto& f = *flags_;
  auto& c = f.config;
  auto fail = [](const Status& s) {
    std::cerr << "tandem serve: " << s.message() << "\n";
    return 2;
  };
  struct DurationFlag {
    const std::string& text;
    std::chrono::milliseconds& out;
  };
  for (DurationFlag d : {DurationFlag{f.auth_cache_ttl, c.auth_cache_ttl},
                         DurationFlag{f.auth_timeout, c.auth_timeout},
                         DurationFlag{f.ping_interval, c.ping_interval},
                         DurationFlag{f.commit_delay, c.commit_delay},
                         DurationFlag{f.room_idle_unload, c.room_idle_unload},
                         DurationFlag{f.shutdown_timeout, c.shutdown_timeout},
                         DurationFlag{f.save_interval, c.save_interval},
                         DurationFlag{f.disconnect_debounce, c.disconnect_debounce},
                         DurationFlag{f.snapshot_timeout, c.snapshot_timeout},
                         DurationFlag{f.save_retry, c.save_retry}}) {
    auto parsed = server::ParseDuration(d.text);
    if (!parsed.ok()) return fail(parsed.status());
    d.out = *parsed;
  }
  auto max_message = server::ParseByteSize(f.max_message);
  if (!max_message.ok()) return fail(max_message.status());
  c.max_message_bytes = *max_message;
  struct SizeFlag {
    const std::string& text;
    size_t& out;
  };
  for (SizeFlag z : {SizeFlag{f.max_send_queue, c.max_send_queue_bytes},
                     SizeFlag{f.max_pending, c.max_pending_bytes},
                     SizeFlag{f.max_awareness_size, c.max_awareness_bytes},
                     SizeFlag{f.max_document, c.max_document_bytes}}) {
    auto parsed = server::ParseByteSize(z.text);
    if (!parsed.ok()) return fail(parsed.status());
    z.out = *parsed;
  }

  // Deployments of the PartyKit + Convex design reuse their settings.
  if (c.snapshot_url.empty()) {
    if (const char* v = std::getenv("CONVEX_SITE_URL")) c.snapshot_url = v;
  }
  if (c.snapshot_secret.empty()) {
    if (const char* v = std::getenv("PARTYKIT_SECRET")) c.snapshot_secret = v;
  }

  spdlog::set_level(spdlog::level::from_str(c.log_level));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %^%l%$ %v");
  KeepFreedMemoryForReuse();
  server::Server server(c);
  Status s = server.Start();
  if (!s.ok()) return fail(s);
  server.Wait();
  return 0;
}

}  // namespace tandem::cli

#include "cli/serve_command.h"

#include <malloc.h>
#include <spdlog/spdlog.h>

#include <boost/asio/thread_pool.hpp>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <random>

#include "api/document_api.h"
#include "auth/verifiers.h"
#include "cli/flags.h"
#include "cli/serve_config.h"
#include "cluster/cluster_node.h"
#include "cluster/redis_room_log.h"
#include "console/console.h"
#include "net/http_client.h"
#include "redis/redis_client.h"
#include "roomlog/sqlite_room_log.h"
#include "server/server.h"
#include "snapshot/http_snapshot_client.h"
#include "store/embedded_snapshot_client.h"
#include "webhook/webhooks.h"

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

// Flags as typed (strings for durations and sizes, parsed in Run).
struct ServeFlags {
  ServeConfig config;
  std::string auth_mode = "none";
  std::string durability = "full";
  std::string auth_cache_ttl = "30s";
  std::string auth_timeout = "5s";
  std::string max_message = "16MiB";
  std::string max_send_queue = "32MiB";
  std::string max_pending = "4MiB";
  std::string max_awareness_size = "64KiB";
  std::string max_awareness_room_size = "16MiB";
  std::string max_document = "64MiB";
  std::string ping_interval = "30s";
  std::string commit_delay = "1ms";
  std::string room_idle_unload = "30s";
  std::string shutdown_timeout = "10s";
  std::string save_interval = "30s";
  std::string disconnect_debounce = "7s";
  std::string snapshot_timeout = "30s";
  std::string save_retry = "1s";
  std::string webhook_change_quiet = "2s";
  std::string webhook_change_max = "30s";
  std::string webhook_retry_for = "24h";
  std::string webhook_max_backoff = "10m";
  std::string webhook_timeout = "10s";
  std::string lease_ttl = "10s";
  std::string node_ttl = "3s";
  std::string trim_min_age = "60s";
  std::string save_sweep_interval = "500ms";
  std::string append_delay = "10ms";
  size_t max_clients_per_update = 10'000;
  size_t max_nesting_depth = 256;
  size_t compact_after = 2'000;
};

ServeCommand::ServeCommand(CLI::App& parent) : flags_(std::make_unique<ServeFlags>()) {
  app_ = parent.add_subcommand("serve", "Run the collaboration server (y-websocket protocol)");
  app_->set_config("--config", "",
                   "Read flags from a TOML or INI file (keys are the long flag names)");
  auto& f = *flags_;
  auto& c = f.config;
  auto& s = c.server;
  auto opt = [this](const std::string& name, auto& value, const std::string& help,
                    const std::string& env) {
    return app_->add_option(name, value, help)->envname(env)->capture_default_str();
  };
  opt("--host", s.host, "Address to listen on", "TANDEM_HOST");
  opt("--port", s.port, "Port for HTTP and WebSocket", "TANDEM_PORT");
  opt("--threads", s.threads, "Worker threads (0: one per core)", "TANDEM_THREADS");
  opt("--data-dir", c.data_dir, "Folder for room storage", "TANDEM_DATA_DIR");
  opt("--auth", f.auth_mode, "Auth mode: none | jwt | http", "TANDEM_AUTH")
      ->check(CLI::IsMember({"none", "jwt", "http"}));
  opt("--jwt-secret", c.auth.jwt_secret, "HS256 secret for --auth jwt", "TANDEM_JWT_SECRET");
  opt("--auth-url", c.auth.auth_url, "Endpoint POSTed {token, roomId} for --auth http",
      "TANDEM_AUTH_URL");
  opt("--auth-secret", c.auth.auth_secret, "Bearer secret sent to --auth-url",
      "TANDEM_AUTH_SECRET");
  opt("--auth-cache-ttl", f.auth_cache_ttl, "How long an auth answer is reused per (token, room)",
      "TANDEM_AUTH_CACHE_TTL");
  opt("--auth-timeout", f.auth_timeout, "Timeout of one auth request", "TANDEM_AUTH_TIMEOUT");
  opt("--max-message-size", f.max_message,
      "Largest message a client may send (closed with 1009 above)", "TANDEM_MAX_MESSAGE_SIZE");
  opt("--max-connections", s.front_door.max_connections, "Connections per server (4429 above)",
      "TANDEM_MAX_CONNECTIONS");
  opt("--max-connections-per-room", s.room.max_connections, "Connections per room (4429 above)",
      "TANDEM_MAX_CONNECTIONS_PER_ROOM");
  opt("--max-send-queue", f.max_send_queue,
      "Outgoing bytes queued per connection before it is closed (1008)", "TANDEM_MAX_SEND_QUEUE");
  opt("--max-nesting-depth", f.max_nesting_depth,
      "Deepest nesting of shared types an update may create (4413 above)",
      "TANDEM_MAX_NESTING_DEPTH");
  opt("--max-clients-per-update", f.max_clients_per_update,
      "Client groups in one update (4413 above)", "TANDEM_MAX_CLIENTS_PER_UPDATE");
  opt("--max-pending-size", f.max_pending,
      "Bytes of structs waiting for missing ones, per room (4413 above)",
      "TANDEM_MAX_PENDING_SIZE");
  opt("--max-awareness-states", s.room.max_awareness_states,
      "Awareness states one connection may hold (4413 above)", "TANDEM_MAX_AWARENESS_STATES");
  opt("--max-awareness-size", f.max_awareness_size, "Bytes of one awareness state (4413 above)",
      "TANDEM_MAX_AWARENESS_SIZE");
  opt("--max-awareness-room-size", f.max_awareness_room_size,
      "Bytes of all awareness states of one room (4413 for the update that would pass it)",
      "TANDEM_MAX_AWARENESS_ROOM_SIZE");
  opt("--max-document-size", f.max_document,
      "Updates are refused (4413) once a room's document is this large",
      "TANDEM_MAX_DOCUMENT_SIZE");
  opt("--ping-interval", f.ping_interval,
      "Keepalive ping interval; silent peers are dropped after twice this", "TANDEM_PING_INTERVAL");
  opt("--room-idle-unload", f.room_idle_unload,
      "Unload a room this long after its last client left", "TANDEM_ROOM_IDLE_UNLOAD");
  opt("--shutdown-timeout", f.shutdown_timeout, "Longest graceful shutdown",
      "TANDEM_SHUTDOWN_TIMEOUT");
  opt("--durability", f.durability,
      "full: fsync every group commit (survives power loss); normal: survives crashes",
      "TANDEM_DURABILITY")
      ->check(CLI::IsMember({"full", "normal"}));
  opt("--commit-delay", f.commit_delay,
      "While the room log is busy, how long it gathers updates into one durable commit (an idle "
      "log commits at once); updates are broadcast once committed. 0ms: never wait (lower "
      "latency, more fsyncs)",
      "TANDEM_COMMIT_DELAY");
  opt("--snapshot-url", c.snapshots.url,
      "Snapshot store base URL (POST/GET /collaboration/snapshot); default: embedded store in "
      "--data-dir. Falls back to CONVEX_SITE_URL",
      "TANDEM_SNAPSHOT_URL");
  opt("--snapshot-secret", c.snapshots.secret,
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
  opt("--compact-after", f.compact_after,
      "Compact a room's log into a snapshot after this many updates (up to a quarter fewer, at "
      "random, so rooms do not all compact at once)",
      "TANDEM_COMPACT_AFTER");
  opt("--admin-token", c.admin_token,
      "Bearer token of the operator's console (/console); without one the console answers only "
      "on a loopback bind",
      "TANDEM_ADMIN_TOKEN");
  opt("--node-id", c.node_id, "This server's name in the console and the cluster (default: random)",
      "TANDEM_NODE_ID");
  opt("--api-secret", c.api.secret,
      "Bearer secret of the document API (/api/v1/, docs/API.md); unset: the API is off",
      "TANDEM_API_SECRET");
  app_->add_option("--webhook-url", c.webhooks.urls,
                   "URL that receives signed room events (repeatable; docs/API.md)")
      ->envname("TANDEM_WEBHOOK_URLS")
      ->delimiter(',');
  opt("--webhook-secret", c.webhooks.secret,
      "Standard Webhooks secret (whsec_<base64>) signing the events", "TANDEM_WEBHOOK_SECRET");
  opt("--webhook-change-quiet", f.webhook_change_quiet,
      "room.changed is sent after this long without a change", "TANDEM_WEBHOOK_CHANGE_QUIET");
  opt("--webhook-change-max", f.webhook_change_max,
      "... and at the latest this long after the first change of a burst",
      "TANDEM_WEBHOOK_CHANGE_MAX");
  opt("--webhook-retry-for", f.webhook_retry_for,
      "Retry a failing delivery for this long, then drop it", "TANDEM_WEBHOOK_RETRY_FOR");
  opt("--webhook-max-backoff", f.webhook_max_backoff, "Longest wait between two attempts",
      "TANDEM_WEBHOOK_MAX_BACKOFF");
  opt("--webhook-timeout", f.webhook_timeout, "Timeout of one delivery", "TANDEM_WEBHOOK_TIMEOUT");
  opt("--redis", c.cluster.redis_url,
      "Cluster mode: redis://host:port[/db] holding the rooms' logs (docs/CLUSTER.md); needs "
      "--snapshot-url (a shared store)",
      "TANDEM_REDIS_URL");
  opt("--lease-ttl", f.lease_ttl, "Cluster mode: a room owner's lease, renewed every third",
      "TANDEM_LEASE_TTL");
  opt("--node-ttl", f.node_ttl,
      "Cluster mode: a node silent this long is gone (its clients' awareness dropped)",
      "TANDEM_NODE_TTL");
  opt("--trim-min-age", f.trim_min_age,
      "Cluster mode: log entries younger than this are never trimmed, even once saved",
      "TANDEM_TRIM_MIN_AGE");
  opt("--save-sweep-interval", f.save_sweep_interval,
      "Cluster mode: how often a node looks for due saves", "TANDEM_SAVE_SWEEP_INTERVAL");
  opt("--append-delay", f.append_delay,
      "Cluster mode: appends (any room's) leave for Redis together on ticks this far apart, "
      "aligned on the wall clock across nodes, sharing one call and one fsync; 0 sends at once",
      "TANDEM_APPEND_DELAY");
  opt("--log-level", c.log_level, "trace | debug | info | warn | error", "TANDEM_LOG_LEVEL")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));
}

ServeCommand::~ServeCommand() = default;

bool ServeCommand::parsed() const {
  return app_->parsed();
}

namespace {

// The flags as typed values; an error names the flag.
Result<ServeConfig> ParseServeFlags(const ServeFlags& f) {
  ServeConfig c = f.config;
  auto& s = c.server;
  struct DurationFlag {
    const char* name;
    const std::string& text;
    std::chrono::milliseconds& out;
  };
  snapshot::SavePolicyOptions& save = s.persistence.save_policy;
  std::chrono::milliseconds commit_delay{};
  for (DurationFlag d :
       {DurationFlag{"--auth-cache-ttl", f.auth_cache_ttl, c.auth.cache_ttl},
        DurationFlag{"--auth-timeout", f.auth_timeout, c.auth.timeout},
        DurationFlag{"--ping-interval", f.ping_interval, s.front_door.session.ping_interval},
        DurationFlag{"--commit-delay", f.commit_delay, commit_delay},
        DurationFlag{"--room-idle-unload", f.room_idle_unload, s.room_idle_unload},
        DurationFlag{"--shutdown-timeout", f.shutdown_timeout, s.shutdown_timeout},
        DurationFlag{"--save-interval", f.save_interval, save.interval},
        DurationFlag{"--disconnect-debounce", f.disconnect_debounce, save.debounce},
        DurationFlag{"--snapshot-timeout", f.snapshot_timeout, c.snapshots.timeout},
        DurationFlag{"--save-retry", f.save_retry, save.retry_min},
        DurationFlag{"--webhook-change-quiet", f.webhook_change_quiet, c.change_notify.quiet},
        DurationFlag{"--webhook-change-max", f.webhook_change_max, c.change_notify.max},
        DurationFlag{"--webhook-retry-for", f.webhook_retry_for, c.webhooks.retry_for},
        DurationFlag{"--webhook-max-backoff", f.webhook_max_backoff, c.webhooks.max_backoff},
        DurationFlag{"--webhook-timeout", f.webhook_timeout, c.webhooks.timeout},
        DurationFlag{"--lease-ttl", f.lease_ttl, c.cluster.lease_ttl},
        DurationFlag{"--node-ttl", f.node_ttl, c.cluster.node_ttl},
        DurationFlag{"--trim-min-age", f.trim_min_age, c.cluster.trim_min_age},
        DurationFlag{"--save-sweep-interval", f.save_sweep_interval, c.cluster.sweep_interval},
        DurationFlag{"--append-delay", f.append_delay, c.cluster.append_delay}}) {
    auto parsed = ParseDuration(d.text);
    if (!parsed.ok()) return parsed.status().WithContext(d.name);
    d.out = *parsed;
  }
  save.retry_max = std::max(save.retry_min, save.retry_max);
  c.log.commit_delay = commit_delay;
  struct SizeFlag {
    const char* name;
    const std::string& text;
    size_t& out;
  };
  for (SizeFlag z :
       {SizeFlag{"--max-message-size", f.max_message, s.front_door.session.max_message_bytes},
        SizeFlag{"--max-send-queue", f.max_send_queue, s.front_door.session.max_send_queue_bytes},
        SizeFlag{"--max-pending-size", f.max_pending, s.room.update_limits.max_pending_bytes},
        SizeFlag{"--max-awareness-size", f.max_awareness_size, s.room.max_awareness_bytes},
        SizeFlag{"--max-awareness-room-size", f.max_awareness_room_size,
                 s.room.max_awareness_room_bytes},
        SizeFlag{"--max-document-size", f.max_document, s.room.max_document_bytes}}) {
    auto parsed = ParseByteSize(z.text);
    if (!parsed.ok()) return parsed.status().WithContext(z.name);
    z.out = *parsed;
  }
  s.room.update_limits.max_nesting_depth = f.max_nesting_depth;
  s.room.update_limits.max_clients = f.max_clients_per_update;
  s.room.max_queued_reply_bytes = s.front_door.session.max_send_queue_bytes;
  s.persistence.compact_after_updates = f.compact_after;
  c.auth.mode = f.auth_mode == "jwt"    ? auth::AuthMode::kJwt
                : f.auth_mode == "http" ? auth::AuthMode::kHttp
                                        : auth::AuthMode::kNone;
  c.log.durability =
      f.durability == "normal" ? roomlog::Durability::kNormal : roomlog::Durability::kFull;
  // Deployments of the PartyKit + Convex design reuse their settings.
  if (c.snapshots.url.empty()) {
    if (const char* v = std::getenv("CONVEX_SITE_URL")) c.snapshots.url = v;
  }
  if (c.snapshots.secret.empty()) {
    if (const char* v = std::getenv("PARTYKIT_SECRET")) c.snapshots.secret = v;
  }
  if (!c.snapshots.url.empty()) {
    if (auto url = net::ParseUrl(c.snapshots.url); !url.ok()) {
      return url.status().WithContext("--snapshot-url");
    }
  }
  c.webhooks.min_backoff = std::min(c.webhooks.min_backoff, c.webhooks.max_backoff);
  c.change_notify.max = std::max(c.change_notify.max, c.change_notify.quiet);
  for (const std::string& url : c.webhooks.urls) {
    if (auto parsed = net::ParseUrl(url); !parsed.ok()) {
      return parsed.status().WithContext("--webhook-url");
    }
  }
  if (!c.webhooks.urls.empty()) {
    if (c.webhooks.secret.empty()) {
      return Status(StatusCode::kInvalidArgument,
                    "--webhook-url needs --webhook-secret (whsec_<base64>) to sign the events");
    }
    if (auto key = webhook::DecodeSecret(c.webhooks.secret); !key.ok()) return key.status();
  }
  if (!c.cluster.redis_url.empty()) {
    if (auto url = redis::ParseRedisUrl(c.cluster.redis_url); !url.ok()) {
      return url.status().WithContext("--redis");
    }
    if (c.snapshots.url.empty()) {
      return Status(StatusCode::kInvalidArgument,
                    "--redis needs --snapshot-url: the nodes of a cluster share one snapshot "
                    "store (run `tandem store`, on PostgreSQL for several machines); the "
                    "embedded store is per node");
    }
    if (c.cluster.lease_ttl.count() < 30 || c.cluster.node_ttl.count() < 30 ||
        c.cluster.sweep_interval.count() < 10) {
      return Status(StatusCode::kInvalidArgument,
                    "--lease-ttl and --node-ttl must be at least 30ms, --save-sweep-interval at "
                    "least 10ms");
    }
  }
  // The document API takes updates as large as a client may send.
  c.api.max_body_bytes = std::max<size_t>(s.front_door.session.max_message_bytes, 64 << 10);
  if (c.node_id.empty()) {
    std::random_device random;
    char id[16];
    std::snprintf(id, sizeof(id), "node-%08x", random());
    c.node_id = id;
  }
  return c;
}

}  // namespace

int ServeCommand::Run() {
  auto fail = [](const Status& s) {
    std::cerr << "tandem serve: " << s.message() << "\n";
    return 2;
  };
  auto config = ParseServeFlags(*flags_);
  if (!config.ok()) return fail(config.status());
  ServeConfig& c = *config;
  spdlog::set_level(spdlog::level::from_str(c.log_level));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %^%l%$ %v");
  KeepFreedMemoryForReuse();

  // The composition root: everything the server uses is built here, and outlives it. `io` runs
  // the calls that block or wait on the network outside the rooms' threads: auth callbacks,
  // snapshot store requests (HTTP) or storage calls (embedded).
  boost::asio::thread_pool io(2);
  auto verifier = auth::MakeVerifier(c.auth, io.get_executor());
  if (!verifier.ok()) return fail(verifier.status());
  // Cluster mode: the node's Redis side, and the room log on Redis streams. The node outlives
  // the log (whose last callbacks run on the node's thread), and both outlive the server.
  std::unique_ptr<cluster::ClusterNode> cluster_node;
  std::unique_ptr<roomlog::RoomLog> log;
  cluster::RedisRoomLog* redis_log = nullptr;
  if (!c.cluster.redis_url.empty()) {
    const auto& cc = c.cluster;
    const auto& save = c.server.persistence.save_policy;
    cluster_node = std::make_unique<cluster::ClusterNode>(cluster::ClusterOptions{
        .node_id = c.node_id,
        .redis = redis::RedisOptions{.url = *redis::ParseRedisUrl(cc.redis_url)},
        .lease_ttl = cc.lease_ttl,
        .node_ttl = cc.node_ttl,
        .sweep_interval = cc.sweep_interval,
        .save_interval = save.interval,
        .save_debounce = save.debounce,
        .save_retry_min = save.retry_min,
        .save_retry_max = save.retry_max});
    if (Status s = cluster_node->Connect(); !s.ok()) {
      // The node starts anyway (not ready) and recovers when Redis answers.
      spdlog::error("--redis {}: {}; not ready until it answers", cc.redis_url, s.message());
    }
    auto* node = cluster_node.get();
    auto redis_room_log = std::make_unique<cluster::RedisRoomLog>(
        node->NewClient(),
        cluster::RedisRoomLogOptions{
            .node_id = c.node_id,
            .save_interval = save.interval,
            .save_debounce = save.debounce,
            .min_age = cc.trim_min_age,
            .append_delay = cc.append_delay,
            .lane_client =
                [redis = redis::RedisOptions{.url = *redis::ParseRedisUrl(cc.redis_url)}](
                    const boost::asio::any_io_executor& executor) {
                  return redis::RedisClient::Create(executor, redis);
                },
            .epoch_for = [node](const std::string& room) { return node->EpochFor(room); }});
    redis_log = redis_room_log.get();
    node->set_log(redis_log);
    log = std::move(redis_room_log);
    spdlog::info("cluster mode: node {} on Redis {}", c.node_id, cc.redis_url);
  } else {
    auto sqlite_log = roomlog::SqliteRoomLog::Open(c.data_dir, c.log);
    if (!sqlite_log.ok()) return fail(sqlite_log.status());
    log = std::move(sqlite_log).value();
  }
  std::unique_ptr<snapshot::SnapshotClient> snapshots;
  if (c.snapshots.url.empty()) {
    auto embedded = store::EmbeddedSnapshotClient::Open(c.data_dir, io.get_executor());
    if (!embedded.ok()) return fail(embedded.status());
    snapshots = std::move(embedded).value();
  } else {
    if (c.snapshots.secret.empty()) {
      spdlog::warn(
          "--snapshot-url is set but --snapshot-secret is empty: the store will likely "
          "refuse saves");
    }
    snapshot::HttpSnapshotOptions options{.base_url = c.snapshots.url,
                                          .secret = c.snapshots.secret,
                                          .total_timeout = c.snapshots.timeout};
    if (cluster_node) {
      // Fencing: a save carries the owner's lease epoch; a node that lost the lease saves
      // nothing.
      options.before_save = [node = cluster_node.get()](const std::string& room,
                                                        net::HttpRequest& request) {
        const uint64_t epoch = node->EpochFor(room);
        if (epoch == 0) {
          return Status(StatusCode::kFailedPrecondition,
                        "this node does not hold the room's owner lease");
        }
        request.headers.emplace_back("X-Tandem-Epoch", std::to_string(epoch));
        return Status::Ok();
      };
    }
    snapshots = std::make_unique<snapshot::HttpSnapshotClient>(
        std::make_shared<net::HttpClient>(io.get_executor()), std::move(options));
  }
  std::unique_ptr<webhook::WebhookDispatcher> webhooks;
  if (!c.webhooks.urls.empty()) {
    auto started = webhook::WebhookDispatcher::Start(c.data_dir, c.webhooks);
    if (!started.ok()) return fail(started.status());
    webhooks = std::move(started).value();
  }
  {
    server::ServerParts parts{.verifier = verifier->get(),
                              .log = log.get(),
                              .snapshots = snapshots.get(),
                              .events = webhooks.get(),
                              .change_notify = c.change_notify};
    if (cluster_node) {
      auto* node = cluster_node.get();
      parts.cluster = node;
      parts.not_ready_reason = [node] {
        return node->redis_reachable() ? std::string() : std::string("redis unreachable");
      };
      parts.drain = [node] { node->Drain(); };
    }
    server::Server server(c.server, parts);
    const std::string& host = c.server.host;
    console::InstallWebPages(server.front_door());
    console::InstallConsoleApi(
        server.front_door(), server.registry(), server.metrics(), snapshots.get(),
        console::ConsoleOptions{
            .admin_token = c.admin_token,
            .loopback_only_bind = host == "127.0.0.1" || host == "::1" || host == "localhost",
            .node_id = c.node_id,
            .version = TANDEM_VERSION});
    api::InstallDocumentApi(server.front_door(), server.registry(), c.api);
    if (webhooks) {
      server.front_door().AddMetricsRenderer([w = webhooks.get()] { return w->RenderMetrics(); });
    }
    if (cluster_node) {
      server.front_door().AddMetricsRenderer(
          [node = cluster_node.get()] { return node->RenderMetrics(); });
      cluster_node->Start(&server.registry());
    }
    Status s = server.Start();
    if (!s.ok()) {
      // The relay and the appends' lanes run on the server's workers.
      if (cluster_node) cluster_node->ForgetServer();
      if (redis_log != nullptr) redis_log->ForgetWorkers();
      return fail(s);
    }
    server.Wait();
    // Other nodes' entries keep arriving until the node stops: none may reach a room now.
    if (cluster_node) cluster_node->ForgetServer();
    if (redis_log != nullptr) redis_log->ForgetWorkers();
  }
  log.reset();  // its last Redis callbacks run on the cluster node's thread
  if (cluster_node) cluster_node->Stop();
  // Requests still running on `io` use the snapshot client and the verifier: finish them first.
  io.join();
  return 0;
}

}  // namespace tandem::cli

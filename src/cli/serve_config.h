#pragma once
// What `tandem serve` runs with, as typed values: parsed once from the flags (cli/serve_command)
// and turned into the server's parts by BuildServer (cli/serve_command.cc).

#include <chrono>
#include <optional>
#include <string>

#include "api/document_api.h"
#include "auth/token_verifier.h"
#include "net/url.h"
#include "roomlog/sqlite_room_log.h"
#include "server/server.h"
#include "webhook/webhooks.h"

namespace tandem::cli {

struct SnapshotStoreConfig {
  std::string url;  // empty: the embedded store in the data directory
  std::string secret;
  std::chrono::milliseconds timeout{30'000};
};

// Cluster mode (docs/CLUSTER.md): on with a Redis URL.
struct ClusterConfig {
  std::string redis_url;  // empty: a single node
  std::chrono::milliseconds lease_ttl{10'000};
  std::chrono::milliseconds node_ttl{3'000};
  std::chrono::milliseconds trim_min_age{60'000};
  std::chrono::milliseconds sweep_interval{500};
  std::chrono::milliseconds append_delay{10};  // appends sharing one Redis call (and fsync)
};

struct ServeConfig {
  server::ServerOptions server;
  auth::AuthOptions auth;
  std::string data_dir = "./data";
  roomlog::SqliteRoomLogOptions log;
  SnapshotStoreConfig snapshots;
  std::string log_level = "info";
  std::string admin_token;           // the console API's Bearer token; empty: loopback binds only
  std::string node_id;               // shown by the console; empty: a random one
  api::DocumentApiOptions api;       // the document API (off without a secret)
  webhook::WebhookOptions webhooks;  // off without a URL
  room::ChangeNotifyOptions change_notify;
  ClusterConfig cluster;
};

}  // namespace tandem::cli

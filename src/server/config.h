#pragma once
// Settings of `tandem serve`, with the defaults a local run needs. Durations and sizes parse
// from flags, the environment and the config file alike ("300ms", "30s", "5m"; "64KiB", "16MiB").

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/result.h"

namespace tandem::server {

struct ServerConfig {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;
  unsigned threads = 0;  // 0: one per core
  std::string data_dir = "./data";

  // Auth
  std::string auth_mode = "none";  // none | jwt | http
  std::string jwt_secret;
  std::string auth_url;
  std::string auth_secret;
  std::chrono::milliseconds auth_cache_ttl{30'000};
  std::chrono::milliseconds auth_timeout{5'000};

  // Limits
  size_t max_message_bytes = 16 * 1024 * 1024;
  size_t max_connections = 20'000;
  size_t max_connections_per_room = 2'000;
  size_t max_send_queue_bytes = 32 * 1024 * 1024;  // per connection; over it the client is closed
  // What one client may make a room hold or do (docs/PROTOCOL.md, "Limits"); 4413 past them.
  size_t max_nesting_depth = 256;
  size_t max_clients_per_update = 10'000;
  size_t max_pending_bytes = 4 * 1024 * 1024;
  size_t max_awareness_states = 16;
  size_t max_awareness_bytes = 64 * 1024;
  size_t max_document_bytes = 64 * 1024 * 1024;
  std::chrono::milliseconds ping_interval{30'000};  // keepalive; a peer silent for 2x is dropped
  std::chrono::milliseconds handshake_timeout{10'000};
  std::chrono::milliseconds room_idle_unload{
      30'000};  // unload a room this long after its last client
  std::chrono::milliseconds awareness_timeout{30'000};  // drop awareness states not renewed
  std::chrono::milliseconds shutdown_timeout{10'000};

  // Persistence
  std::string durability = "full";  // full: fsync per group commit; normal: survives kill -9 only
  // While the room log is busy, how long its writer gathers appends into one group commit
  // (0: never wait). An idle log commits at once.
  std::chrono::milliseconds commit_delay{3};
  std::string snapshot_url;  // empty: the embedded snapshot store in data_dir
  std::string snapshot_secret;
  std::chrono::milliseconds save_interval{30'000};
  std::chrono::milliseconds disconnect_debounce{7'000};
  std::chrono::milliseconds snapshot_timeout{30'000};
  std::chrono::milliseconds save_retry{1'000};  // first retry after a failed save; doubles to 60 s
  size_t compact_after_updates = 2'000;

  std::string log_level = "info";
};

Result<std::chrono::milliseconds> ParseDuration(std::string_view text);
Result<size_t> ParseByteSize(std::string_view text);

// Room ids: URL-decoded, 1..256 bytes, valid UTF-8, no control characters.
Result<std::string> DecodeRoomId(std::string_view encoded);

}  // namespace tandem::server

#pragma once
// Process-wide counters and gauges, rendered as Prometheus text for GET /metrics. Lock-free
// (relaxed atomics); readable from any thread.

#include <array>
#include <atomic>
#include <cstdint>
#include <string>

namespace tandem::room {

struct Metrics {
  std::atomic<int64_t> connections{0};
  std::atomic<uint64_t> connections_total{0};
  std::atomic<int64_t> rooms_loaded{0};
  std::atomic<uint64_t> room_loads_total{0};
  std::atomic<uint64_t> room_load_micros_total{0};
  // By message type: sync step1, step2, update, awareness, query-awareness, auth.
  std::array<std::atomic<uint64_t>, 6> messages_in{};
  std::array<std::atomic<uint64_t>, 6> bytes_in{};
  std::atomic<uint64_t> messages_out{0};
  std::atomic<uint64_t> bytes_out{0};
  std::atomic<uint64_t> updates_applied{0};
  std::atomic<uint64_t> updates_rejected{0};
  std::atomic<uint64_t> readonly_updates_dropped{0};
  std::atomic<uint64_t> slow_client_closes{0};
  // Persistence
  std::atomic<uint64_t> saves_ok{0};
  std::atomic<uint64_t> saves_failed{0};
  std::atomic<uint64_t> saves_skipped_unchanged{0};
  std::atomic<uint64_t> save_micros_total{0};
  std::atomic<uint64_t> bytes_saved{0};
  std::atomic<uint64_t> cold_loads_from_store{0};
  std::atomic<uint64_t> room_load_failures{0};
  std::atomic<uint64_t> log_appends{0};
  std::atomic<uint64_t> log_append_failures{0};
  std::atomic<uint64_t> compactions{0};
  // Cluster mode: other nodes' log entries applied, entries that did not decode, resyncs.
  std::atomic<uint64_t> log_entries_relayed{0};
  std::atomic<uint64_t> log_entries_skipped{0};
  std::atomic<uint64_t> resyncs{0};
  std::atomic<uint64_t> refusals_4400{0}, refusals_4401{0}, refusals_4403{0}, refusals_4404{0},
      refusals_4429{0}, refusals_1009{0}, refusals_1013{0}, refusals_4413{0}, refusals_1008{0};
  // Sync step 1 and query-awareness messages answered by a reply still waiting to be sent.
  std::atomic<uint64_t> replies_coalesced{0};

  void CountRefusal(uint16_t code);
  std::string RenderPrometheus() const;
};

enum MessageKind {
  kMsgStep1 = 0,
  kMsgStep2,
  kMsgUpdate,
  kMsgAwareness,
  kMsgQueryAwareness,
  kMsgAuth
};

}  // namespace tandem::room

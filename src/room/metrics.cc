#include "room/metrics.h"

#include <sstream>

namespace tandem::room {

void Metrics::CountRefusal(uint16_t code) {
  switch (code) {
    case 4400: ++refusals_4400; break;
    case 4401: ++refusals_4401; break;
    case 4403: ++refusals_4403; break;
    case 4404: ++refusals_4404; break;
    case 4429: ++refusals_4429; break;
    case 1009: ++refusals_1009; break;
    case 1013: ++refusals_1013; break;
    case 4413: ++refusals_4413; break;
    case 1008: ++refusals_1008; break;
    default: break;
  }
}

std::string Metrics::RenderPrometheus() const {
  std::ostringstream o;
  auto gauge = [&](const char* name, const char* help, int64_t v) {
    o << "# HELP " << name << " " << help << "\n# TYPE " << name << " gauge\n"
      << name << " " << v << "\n";
  };
  auto counter = [&](const char* name, const char* help, uint64_t v) {
    o << "# HELP " << name << " " << help << "\n# TYPE " << name << " counter\n"
      << name << " " << v << "\n";
  };
  gauge("tandem_connections", "Open WebSocket connections.", connections.load());
  counter("tandem_connections_total", "WebSocket connections accepted.", connections_total.load());
  gauge("tandem_rooms_loaded", "Rooms held in memory.", rooms_loaded.load());
  counter("tandem_room_loads_total", "Rooms loaded.", room_loads_total.load());
  o << "# HELP tandem_room_load_seconds_total Time spent loading rooms.\n"
       "# TYPE tandem_room_load_seconds_total counter\ntandem_room_load_seconds_total "
    << static_cast<double>(room_load_micros_total.load()) / 1e6 << "\n";
  static const char* kKinds[] = {"sync_step1", "sync_step2",      "sync_update",
                                 "awareness",  "query_awareness", "auth"};
  o << "# HELP tandem_messages_in_total Messages received by type.\n# TYPE "
       "tandem_messages_in_total counter\n";
  for (size_t i = 0; i < messages_in.size(); ++i) {
    o << "tandem_messages_in_total{type=\"" << kKinds[i] << "\"} " << messages_in[i].load() << "\n";
  }
  o << "# HELP tandem_bytes_in_total Bytes received by message type.\n# TYPE tandem_bytes_in_total "
       "counter\n";
  for (size_t i = 0; i < bytes_in.size(); ++i) {
    o << "tandem_bytes_in_total{type=\"" << kKinds[i] << "\"} " << bytes_in[i].load() << "\n";
  }
  counter("tandem_messages_out_total", "Messages sent.", messages_out.load());
  counter("tandem_bytes_out_total", "Bytes sent.", bytes_out.load());
  counter("tandem_updates_applied_total", "Document updates applied.", updates_applied.load());
  counter("tandem_updates_rejected_total", "Malformed document updates rejected.",
          updates_rejected.load());
  counter("tandem_readonly_updates_dropped_total", "Updates from read-only connections dropped.",
          readonly_updates_dropped.load());
  counter("tandem_queue_drops_total", "Connections closed because their send queue overflowed.",
          slow_client_closes.load());
  counter("tandem_replies_coalesced_total",
          "Sync step 1 and query-awareness requests already answered by a reply not yet sent.",
          replies_coalesced.load());
  counter("tandem_saves_ok_total", "Snapshots saved to the snapshot store.", saves_ok.load());
  counter("tandem_saves_failed_total", "Snapshot saves that failed (retried later).",
          saves_failed.load());
  counter("tandem_saves_skipped_unchanged_total", "Save ticks skipped because nothing changed.",
          saves_skipped_unchanged.load());
  o << "# HELP tandem_save_seconds_total Time spent in snapshot saves.\n"
       "# TYPE tandem_save_seconds_total counter\ntandem_save_seconds_total "
    << static_cast<double>(save_micros_total.load()) / 1e6 << "\n";
  counter("tandem_bytes_saved_total", "Snapshot bytes saved.", bytes_saved.load());
  counter("tandem_cold_loads_from_store_total", "Rooms hydrated from the snapshot store.",
          cold_loads_from_store.load());
  counter("tandem_room_load_failures_total", "Rooms that could not be loaded (clients got 1013).",
          room_load_failures.load());
  counter("tandem_log_appends_total", "Updates appended durably to room logs.", log_appends.load());
  counter("tandem_log_append_failures_total", "Failed log appends (retried).",
          log_append_failures.load());
  counter("tandem_compactions_total", "Room logs compacted into snapshots.", compactions.load());
  counter("tandem_cluster_relayed_total", "Other nodes' log entries applied to rooms here.",
          log_entries_relayed.load());
  counter("tandem_cluster_poisoned_entries_total",
          "Log entries that did not decode and were skipped (that room only).",
          log_entries_skipped.load());
  counter("tandem_cluster_resyncs_total",
          "Rooms reloaded from the store and the log after missing trimmed entries.",
          resyncs.load());
  o << "# HELP tandem_refusals_total Connections refused or closed, by close code.\n"
       "# TYPE tandem_refusals_total counter\n";
  const std::pair<int, uint64_t> refusals[] = {
      {4400, refusals_4400.load()}, {4401, refusals_4401.load()}, {4403, refusals_4403.load()},
      {4404, refusals_4404.load()}, {4429, refusals_4429.load()}, {1009, refusals_1009.load()},
      {1013, refusals_1013.load()}, {4413, refusals_4413.load()}, {1008, refusals_1008.load()}};
  for (const auto& [code, n] : refusals)
    o << "tandem_refusals_total{code=\"" << code << "\"} " << n << "\n";
  return o.str();
}

}  // namespace tandem::room

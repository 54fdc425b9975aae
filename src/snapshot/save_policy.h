#pragma once
// When a room saves its snapshot to the snapshot store, as pure logic (no timers, no I/O) so the
// rules are tested with a fake clock:
//   - while connected: every `interval`, only if the document changed since the last successful
//     save (nothing is sent for unchanged documents);
//   - after the last connection leaves: once, `debounce` later; a reconnect inside the window
//     cancels it and periodic saving resumes;
//   - a failed save is retried with exponential backoff and jitter; at most one save in flight;
//   - a room with unsaved changes (or a save in flight) must not be unloaded.
// Owned by one room and used on its strand.

#include <chrono>
#include <cstdint>
#include <optional>
#include <random>

namespace tandem::snapshot {

struct SavePolicyOptions {
  std::chrono::milliseconds interval{30'000};
  std::chrono::milliseconds debounce{7'000};
  std::chrono::milliseconds retry_min{1'000};
  std::chrono::milliseconds retry_max{60'000};
};

class SavePolicy {
 public:
  using Clock = std::chrono::steady_clock;
  using TimePoint = Clock::time_point;

  explicit SavePolicy(SavePolicyOptions options, uint64_t jitter_seed = 0);

  // The document changed (an update was applied).
  void OnChange(TimePoint now);
  // Restores "changed since the last save" after a restart (persisted bookkeeping).
  void MarkUnsaved(TimePoint now) { OnChange(now); }
  void OnConnectionsChanged(size_t connections, TimePoint now);
  // Whether a save should start now. If true, the caller starts one and later reports it.
  bool ShouldSave(TimePoint now);
  // The caller started a save of the current document.
  void OnSaveStarted();
  void OnSaveFinished(bool ok, TimePoint now);

  // When ShouldSave may next return true (for the room's timer), if ever.
  std::optional<TimePoint> NextWakeup() const;

  bool dirty() const { return change_seq_ > saved_seq_; }
  // Changes since the last successful save.
  uint64_t unsaved_changes() const { return change_seq_ - saved_seq_; }
  bool save_in_flight() const { return in_flight_; }
  bool CanUnload() const { return connections_ == 0 && !dirty() && !in_flight_; }
  // Age of the oldest change not yet saved (metrics).
  std::optional<TimePoint> oldest_unsaved_change() const {
    return dirty() ? first_unsaved_ : std::nullopt;
  }
  int failed_attempts() const { return failed_attempts_; }
  std::optional<TimePoint> retry_at() const { return retry_at_; }

 private:
  SavePolicyOptions options_;
  std::mt19937_64 rng_;
  size_t connections_ = 0;
  uint64_t change_seq_ = 0;
  uint64_t saved_seq_ = 0;
  uint64_t in_flight_seq_ = 0;
  bool in_flight_ = false;
  std::optional<TimePoint> first_unsaved_;
  std::optional<TimePoint> next_periodic_;
  std::optional<TimePoint> debounce_at_;
  std::optional<TimePoint> retry_at_;
  int failed_attempts_ = 0;
};

}  // namespace tandem::snapshot

#include "snapshot/save_policy.h"

#include <algorithm>

namespace tandem::snapshot {

SavePolicy::SavePolicy(SavePolicyOptions options, uint64_t jitter_seed)
    : options_(options), rng_(jitter_seed != 0 ? jitter_seed : std::random_device{}()) {}

void SavePolicy::OnChange(TimePoint now) {
  if (!dirty()) first_unsaved_ = now;
  ++change_seq_;
  // A change while nobody is connected (e.g. restored after a restart) still gets saved.
  if (connections_ == 0 && !debounce_at_) debounce_at_ = now + options_.debounce;
}

void SavePolicy::OnConnectionsChanged(size_t connections, TimePoint now) {
  const size_t before = connections_;
  connections_ = connections;
  if (connections > 0) {
    debounce_at_.reset();  // a reconnect inside the window cancels the debounce save
    if (before == 0 || !next_periodic_) next_periodic_ = now + options_.interval;
  } else if (before > 0) {
    next_periodic_.reset();
    debounce_at_ = now + options_.debounce;
  }
}

bool SavePolicy::ShouldSave(TimePoint now) {
  if (in_flight_) return false;
  if (retry_at_) {
    if (now < *retry_at_) return false;
    return dirty();
  }
  bool due = false;
  if (next_periodic_ && now >= *next_periodic_) {
    due = true;
    // Keep the cadence; skip missed ticks rather than bursting.
    while (*next_periodic_ <= now) *next_periodic_ += options_.interval;
  }
  if (debounce_at_ && now >= *debounce_at_) {
    due = true;
    debounce_at_.reset();
  }
  return due && dirty();
}

void SavePolicy::OnSaveStarted() {
  in_flight_ = true;
  in_flight_seq_ = change_seq_;
}

void SavePolicy::OnSaveFinished(bool ok, TimePoint now) {
  in_flight_ = false;
  if (ok) {
    saved_seq_ = std::max(saved_seq_, in_flight_seq_);
    failed_attempts_ = 0;
    retry_at_.reset();
    first_unsaved_ = dirty() ? std::optional(now) : std::nullopt;
    // Changes that arrived during the save are saved by the next tick, or right away when
    // nobody is connected any more.
    if (dirty() && connections_ == 0 && !debounce_at_) debounce_at_ = now + options_.debounce;
    return;
  }
  ++failed_attempts_;
  // Exponential backoff with full jitter in [base/2, base].
  const auto base = std::min<int64_t>(
      options_.retry_max.count(), options_.retry_min.count() << std::min(failed_attempts_ - 1, 16));
  std::uniform_int_distribution<int64_t> jitter(base / 2, base);
  retry_at_ = now + std::chrono::milliseconds(jitter(rng_));
}

std::optional<SavePolicy::TimePoint> SavePolicy::NextWakeup() const {
  if (in_flight_) return std::nullopt;
  if (retry_at_) return dirty() ? retry_at_ : std::nullopt;
  std::optional<TimePoint> next;
  auto consider = [&next](const std::optional<TimePoint>& t) {
    if (t && (!next || *t < *next)) next = t;
  };
  consider(next_periodic_);
  consider(debounce_at_);
  return next;
}

}  // namespace tandem::snapshot

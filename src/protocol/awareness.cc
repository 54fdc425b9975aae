#include "protocol/awareness.h"

#include <algorithm>

#include "lib0/decoder.h"
#include "lib0/encoder.h"
#include "lib0/json.h"

namespace tandem::protocol {

std::vector<Awareness::ClientId> Awareness::Change::All() const {
  std::vector<ClientId> all = added;
  all.insert(all.end(), updated.begin(), updated.end());
  all.insert(all.end(), removed.begin(), removed.end());
  return all;
}

Result<Awareness::Change> Awareness::Apply(std::span<const uint8_t> update, Clock::time_point now,
                                           const Limits& limits) {
  struct Entry {
    ClientId client;
    uint64_t clock;
    std::string_view json;
    bool is_null;
  };
  // Decode and validate everything first, so a bad entry changes nothing.
  lib0::Decoder d(update);
  const uint64_t n = d.ReadCount(3);
  if (limits.max_entries != 0 && n > limits.max_entries) {
    return ResourceExhaustedError("limit: an awareness update with " + std::to_string(n) +
                                  " entries, more than the " + std::to_string(limits.max_entries) +
                                  " allowed");
  }
  std::vector<Entry> entries;
  entries.reserve(n);
  for (uint64_t i = 0; i < n && d.ok(); ++i) {
    Entry e;
    e.client = d.ReadVarUint();
    e.clock = d.ReadVarUint();
    e.json = d.ReadVarString();
    if (!d.ok()) break;
    if (limits.max_state_bytes != 0 && e.json.size() > limits.max_state_bytes) {
      return ResourceExhaustedError("limit: an awareness state of " +
                                    std::to_string(e.json.size()) + " bytes, more than the " +
                                    std::to_string(limits.max_state_bytes) + " allowed");
    }
    auto parsed = lib0::ParseJson(e.json);
    if (!parsed.ok())
      return MalformedError("awareness state is not JSON: " + parsed.status().message());
    e.is_null = parsed->is_null();
    entries.push_back(e);
  }
  if (!d.ok()) return d.status().WithContext("awareness update");
  if (limits.max_total_bytes != 0) {
    // What the held states would take if every entry applied (a bound: some may be outdated).
    int64_t total = static_cast<int64_t>(total_bytes_);
    for (const Entry& e : entries) {
      auto held = states_.find(e.client);
      if (held != states_.end()) total -= static_cast<int64_t>(held->second.size());
      if (!e.is_null) total += static_cast<int64_t>(e.json.size());
    }
    if (total > static_cast<int64_t>(limits.max_total_bytes)) {
      return ResourceExhaustedError("limit: the room's awareness states would take " +
                                    std::to_string(total) + " bytes, more than the " +
                                    std::to_string(limits.max_total_bytes) + " allowed");
    }
  }
  if (limits.max_new_states != static_cast<size_t>(-1)) {
    size_t new_states = 0;
    for (const Entry& e : entries) {
      if (!e.is_null && states_.count(e.client) == 0) ++new_states;
    }
    if (new_states > limits.max_new_states) {
      return ResourceExhaustedError("limit: the update sets " + std::to_string(new_states) +
                                    " new awareness states, more than the " +
                                    std::to_string(limits.max_new_states) + " allowed");
    }
  }
  Change change;
  for (const Entry& e : entries) {
    auto meta_it = meta_.find(e.client);
    const bool known = meta_it != meta_.end();
    const uint64_t current = known ? meta_it->second.clock : 0;
    const bool has_state = states_.count(e.client) > 0;
    if (!(current < e.clock || (current == e.clock && e.is_null && has_state))) continue;
    if (auto held = states_.find(e.client); held != states_.end()) {
      total_bytes_ -= held->second.size();
      if (e.is_null) states_.erase(held);
    }
    if (!e.is_null) {
      states_[e.client] = std::string(e.json);
      total_bytes_ += e.json.size();
    }
    meta_[e.client] = Meta{e.clock, now};
    if (!known && !e.is_null) {
      change.added.push_back(e.client);
    } else if (known && e.is_null) {
      change.removed.push_back(e.client);
    } else if (!e.is_null) {
      change.updated.push_back(e.client);
    }
  }
  return change;
}

Awareness::Change Awareness::Remove(const std::vector<ClientId>& clients) {
  Change change;
  for (ClientId c : clients) {
    auto held = states_.find(c);
    if (held == states_.end()) continue;
    total_bytes_ -= held->second.size();
    states_.erase(held);
    change.removed.push_back(c);
  }
  return change;
}

Awareness::Change Awareness::RemoveOutdated(Clock::time_point now,
                                            std::chrono::milliseconds timeout) {
  std::vector<ClientId> stale;
  for (const auto& [client, state] : states_) {
    auto it = meta_.find(client);
    if (it != meta_.end() && now - it->second.last_updated >= timeout) stale.push_back(client);
  }
  std::erase_if(meta_, [&](const auto& entry) {
    return states_.count(entry.first) == 0 && now - entry.second.last_updated >= timeout;
  });
  return Remove(stale);
}

std::vector<uint8_t> Awareness::Encode(const std::vector<ClientId>& clients) const {
  lib0::Encoder e;
  e.WriteVarUint(clients.size());
  for (ClientId c : clients) {
    auto s = states_.find(c);
    auto m = meta_.find(c);
    e.WriteVarUint(c);
    e.WriteVarUint(m == meta_.end() ? 0 : m->second.clock);
    e.WriteVarString(s == states_.end() ? std::string_view("null") : std::string_view(s->second));
  }
  return e.Take();
}

std::vector<Awareness::ClientId> Awareness::ClientsWithState() const {
  std::vector<ClientId> out;
  out.reserve(states_.size());
  for (const auto& [c, s] : states_) out.push_back(c);
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<uint8_t> Awareness::EncodeAll() const {
  return Encode(ClientsWithState());
}

}  // namespace tandem::protocol

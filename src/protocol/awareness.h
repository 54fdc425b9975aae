#pragma once
// A room's awareness states (y-protocols `awareness.js` from the server's side: it never has a
// local state). States are kept as the JSON text clients sent, which is what they re-encode.
// Not thread-safe: owned by a room, used on its strand.

#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/result.h"

namespace tandem::protocol {

// What one awareness update may do (0: no limit). An update past a limit changes nothing and
// fails with kResourceExhausted and a message starting with "limit:".
struct AwarenessLimits {
  size_t max_entries = 0;      // entries in one update
  size_t max_state_bytes = 0;  // JSON bytes of one state
  size_t max_total_bytes = 0;  // JSON bytes of every state held, after the update
  // Clients without a state that the update gives one (no limit by default).
  size_t max_new_states = static_cast<size_t>(-1);
};

class Awareness {
 public:
  using ClientId = uint64_t;
  using Clock = std::chrono::steady_clock;

  struct Change {
    std::vector<ClientId> added;
    std::vector<ClientId> updated;  // clock advanced (content may be equal)
    std::vector<ClientId> removed;
    bool empty() const { return added.empty() && updated.empty() && removed.empty(); }
    std::vector<ClientId> All() const;
  };

  using Limits = AwarenessLimits;

  // applyAwarenessUpdate. Malformed input changes nothing and returns an error.
  Result<Change> Apply(std::span<const uint8_t> update, Clock::time_point now = Clock::now(),
                       const Limits& limits = {});
  // removeAwarenessStates: drops the states (e.g. of a closed connection); clocks stay.
  Change Remove(const std::vector<ClientId>& clients);
  // Removes states not renewed within `timeout` (y-protocols outdatedTimeout, 30 s), and forgets
  // the clocks of clients that have had no state for that long (y-protocols keeps them forever:
  // a stream of removals for made-up clients would grow the room without bound).
  Change RemoveOutdated(Clock::time_point now, std::chrono::milliseconds timeout);

  // encodeAwarenessUpdate for the given clients (null state for removed ones).
  std::vector<uint8_t> Encode(const std::vector<ClientId>& clients) const;
  std::vector<uint8_t> EncodeAll() const;
  std::vector<ClientId> ClientsWithState() const;
  // The JSON text of a client's state, or null.
  const std::string* StateOf(ClientId client) const {
    auto it = states_.find(client);
    return it == states_.end() ? nullptr : &it->second;
  }
  size_t size() const { return states_.size(); }
  // Clients whose clock is remembered (with or without a state).
  size_t known_clients() const { return meta_.size(); }
  // JSON bytes of the states held.
  size_t total_bytes() const { return total_bytes_; }
  bool HasState(ClientId c) const { return states_.count(c) > 0; }

 private:
  struct Meta {
    uint64_t clock = 0;
    Clock::time_point last_updated;
  };
  std::unordered_map<ClientId, std::string> states_;  // JSON text, never "null"
  std::unordered_map<ClientId, Meta> meta_;
  size_t total_bytes_ = 0;
};

}  // namespace tandem::protocol

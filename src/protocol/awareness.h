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

  // applyAwarenessUpdate. Malformed input changes nothing and returns an error.
  Result<Change> Apply(std::span<const uint8_t> update, Clock::time_point now = Clock::now());
  // removeAwarenessStates: drops the states (e.g. of a closed connection); clocks stay.
  Change Remove(const std::vector<ClientId>& clients);
  // Removes states not renewed within `timeout` (y-protocols outdatedTimeout, 30 s).
  Change RemoveOutdated(Clock::time_point now, std::chrono::milliseconds timeout);

  // encodeAwarenessUpdate for the given clients (null state for removed ones).
  std::vector<uint8_t> Encode(const std::vector<ClientId>& clients) const;
  std::vector<uint8_t> EncodeAll() const;
  std::vector<ClientId> ClientsWithState() const;
  size_t size() const { return states_.size(); }
  bool HasState(ClientId c) const { return states_.count(c) > 0; }

 private:
  struct Meta {
    uint64_t clock = 0;
    Clock::time_point last_updated;
  };
  std::unordered_map<ClientId, std::string> states_;  // JSON text, never "null"
  std::unordered_map<ClientId, Meta> meta_;
};

}  // namespace tandem::protocol

#pragma once
// Identifiers of Yjs structs: (client, clock). Clocks count UTF-16 units for strings and one per
// element for everything else, as in yjs `src/utils/ID.js`.

#include <cstdint>
#include <functional>

namespace tandem::crdt {

using ClientId = uint64_t;
using Clock = uint64_t;

struct ID {
  ClientId client = 0;
  Clock clock = 0;
  friend bool operator==(const ID&, const ID&) = default;
};

// An ID that may be absent (yjs uses null): origin, right origin. Absence is a client value no
// update can carry (clients are at most 2^53 - 1), which keeps it as small as an ID.
struct OptionalId {
  static constexpr ClientId kAbsent = ~ClientId{0};
  ID id{kAbsent, 0};
  OptionalId() = default;
  OptionalId(ID i) : id(i) {}  // NOLINT(google-explicit-constructor)
  bool present() const { return id.client != kAbsent; }
  explicit operator bool() const { return present(); }
  friend bool operator==(const OptionalId& a, const OptionalId& b) { return a.id == b.id; }
};

}  // namespace tandem::crdt

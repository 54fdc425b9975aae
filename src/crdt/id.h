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

// An ID that may be absent (yjs uses null): origin, right origin.
struct OptionalId {
  ID id;
  bool present = false;
  OptionalId() = default;
  OptionalId(ID i) : id(i), present(true) {}  // NOLINT(google-explicit-constructor)
  explicit operator bool() const { return present; }
  friend bool operator==(const OptionalId& a, const OptionalId& b) {
    return a.present == b.present && (!a.present || a.id == b.id);
  }
};

}  // namespace tandem::crdt

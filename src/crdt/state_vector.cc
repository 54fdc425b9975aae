#include "crdt/state_vector.h"

#include <algorithm>

namespace tandem::crdt {

void WriteStateVector(lib0::Encoder& e, const StateVector& sv) {
  std::vector<std::pair<ClientId, Clock>> entries(sv.begin(), sv.end());
  std::sort(entries.begin(), entries.end(),
            [](const auto& a, const auto& b) { return a.first > b.first; });
  e.WriteVarUint(entries.size());
  for (const auto& [client, clock] : entries) {
    e.WriteVarUint(client);
    e.WriteVarUint(clock);
  }
}

std::vector<uint8_t> EncodeStateVector(const StateVector& sv) {
  lib0::Encoder e;
  WriteStateVector(e, sv);
  return e.Take();
}

StateVector ReadStateVector(lib0::Decoder& d) {
  StateVector sv;
  const uint64_t n = d.ReadCount(2);
  for (uint64_t i = 0; i < n && d.ok(); ++i) {
    const ClientId client = d.ReadVarUint();
    const Clock clock = d.ReadVarUint();
    sv[client] = clock;  // a repeated client: the last one wins, as Map.set does
  }
  return sv;
}

Result<StateVector> DecodeStateVector(std::span<const uint8_t> bytes) {
  lib0::Decoder d(bytes);
  StateVector sv = ReadStateVector(d);
  if (!d.ok()) return d.status().WithContext("state vector");
  return sv;
}

}  // namespace tandem::crdt

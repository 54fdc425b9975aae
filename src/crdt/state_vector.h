#pragma once
// State vectors (client -> next expected clock) and their v1 encoding (clients descending),
// as yjs `writeStateVector` / `readStateVector`.

#include <span>
#include <unordered_map>
#include <vector>

#include "base/result.h"
#include "crdt/id.h"
#include "lib0/decoder.h"
#include "lib0/encoder.h"

namespace tandem::crdt {

using StateVector = std::unordered_map<ClientId, Clock>;

inline Clock StateOf(const StateVector& sv, ClientId client) {
  auto it = sv.find(client);
  return it == sv.end() ? 0 : it->second;
}

void WriteStateVector(lib0::Encoder& encoder, const StateVector& sv);
std::vector<uint8_t> EncodeStateVector(const StateVector& sv);
StateVector ReadStateVector(lib0::Decoder& decoder);
Result<StateVector> DecodeStateVector(std::span<const uint8_t> bytes);

}  // namespace tandem::crdt

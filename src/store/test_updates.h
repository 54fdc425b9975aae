#pragma once
// Small Yjs v1 updates for the store's tests, written byte by byte as yjs 13.6 writes them.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "crdt/doc.h"
#include "crdt/read_api.h"
#include "lib0/encoder.h"
#include "lib0/json.h"

namespace tandem::store::testing {

using Bytes = std::vector<uint8_t>;

// "<prefix><n>", built by appending (g++ 12 -O3 warns falsely about `"k" + std::to_string(n)`).
inline std::string Name(std::string_view prefix, int64_t n) {
  std::string s(prefix);
  s += std::to_string(n);
  return s;
}
// "t<t>r<r>": writer t's key of round r.
inline std::string Key(int t, int r) {
  std::string s = Name("t", t);
  s += 'r';
  s += std::to_string(r);
  return s;
}

// client `client` at `clock` sets getMap('m').set(key, value) (no earlier entry for the key).
inline Bytes MapSet(uint64_t client, uint64_t clock, const std::string& key,
                    const std::string& value) {
  lib0::Encoder e;
  e.WriteVarUint(1);  // clients
  e.WriteVarUint(1);  // structs
  e.WriteVarUint(client);
  e.WriteVarUint(clock);
  e.WriteUint8(0x28);  // ContentAny | has parentSub
  e.WriteVarUint(1);   // parent is a root name
  e.WriteVarString("m");
  e.WriteVarString(key);
  e.WriteVarUint(1);  // one value
  e.WriteUint8(119);  // any: string
  e.WriteVarString(value);
  e.WriteVarUint(0);  // empty delete set
  return e.Take();
}

// client `client` at clock 0: getText('t').insert(0, text) (ASCII).
inline Bytes TextInsert(uint64_t client, const std::string& text) {
  lib0::Encoder e;
  e.WriteVarUint(1);
  e.WriteVarUint(1);
  e.WriteVarUint(client);
  e.WriteVarUint(0);
  e.WriteUint8(0x04);  // ContentString
  e.WriteVarUint(1);
  e.WriteVarString("t");
  e.WriteVarString(text);
  e.WriteVarUint(0);
  return e.Take();
}

// Only a delete set: client's clocks [clock, clock + len) deleted.
inline Bytes Delete(uint64_t client, uint64_t clock, uint64_t len) {
  lib0::Encoder e;
  e.WriteVarUint(0);  // no structs
  e.WriteVarUint(1);
  e.WriteVarUint(client);
  e.WriteVarUint(1);
  e.WriteVarUint(clock);
  e.WriteVarUint(len);
  return e.Take();
}

// The full state of a document holding all of `updates`.
inline Bytes Snapshot(const std::vector<Bytes>& updates) {
  crdt::Doc doc(crdt::DocOptions{.gc = true, .client_id = 1'000'000});
  for (const Bytes& u : updates) {
    if (!doc.ApplyUpdate(u).ok()) return {};
  }
  return doc.EncodeStateAsUpdate();
}

// JSON of every root of the document `snapshot` holds ("" if it does not apply).
inline std::string JsonOf(const Bytes& snapshot) {
  crdt::Doc doc(crdt::DocOptions{.gc = true, .client_id = 1'000'001});
  if (!doc.ApplyUpdate(snapshot).ok()) return "";
  return lib0::ToJson(crdt::DocToJson(doc));
}

// Keys of root map "m" (sorted JSON object of the doc's map, via DocToJson).
inline bool MapHasKey(const Bytes& snapshot, const std::string& key) {
  return JsonOf(snapshot).find("\"" + key + "\":") != std::string::npos;
}

}  // namespace tandem::store::testing

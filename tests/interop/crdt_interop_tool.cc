// C++ side of the yjs differential tests (crdt.test.mjs, fixtures.test.mjs).
//   crdt_interop_tool apply CASES OUT
// CASES: varUint(#cases), per case varString(name) varUint(flags: 1 gc, 2 v2)
//        varUint(#updates) varUint8Array* varUint(#peers) varUint8Array(stateVector)*
// OUT:   varUint(#cases), per case varString(name) varString(error) varUint8Array(state)
//        varUint8Array(stateVector) varString(json) varUint(#peers) varUint8Array(diff)*

#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

#include "crdt/doc.h"
#include "crdt/read_api.h"
#include "crdt/state_vector.h"
#include "lib0/decoder.h"
#include "lib0/encoder.h"
#include "lib0/json.h"

using namespace tandem;

int main(int argc, char** argv) {
  if (argc != 4 || std::string(argv[1]) != "apply") {
    std::cerr << "usage: crdt_interop_tool apply CASES OUT\n";
    return 2;
  }
  std::ifstream in(argv[2], std::ios::binary);
  std::vector<uint8_t> input{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  lib0::Decoder d(input);
  lib0::Encoder out;
  const uint64_t cases = d.ReadCount();
  out.WriteVarUint(cases);
  for (uint64_t c = 0; c < cases && d.ok(); ++c) {
    std::string name(d.ReadVarString());
    const uint64_t flags = d.ReadVarUint();
    const auto format = (flags & 2) != 0 ? crdt::UpdateFormat::kV2 : crdt::UpdateFormat::kV1;
    // A passive replica, as the server's rooms are: it stores what it is sent and authors nothing.
    crdt::Doc doc(
        crdt::DocOptions{.gc = (flags & 1) != 0, .client_id = 0, .clean_up_formatting = false});
    // The tests' schema: a root's type follows its name (the bytes do not say it), as the JS
    // side's getText('text') / getArray('array') / getMap('map') / getXmlFragment('xml').
    doc.GetOrCreateRoot("text", crdt::TypeRef::kText);
    doc.GetOrCreateRoot("array", crdt::TypeRef::kArray);
    doc.GetOrCreateRoot("map", crdt::TypeRef::kMap);
    doc.GetOrCreateRoot("xml", crdt::TypeRef::kXmlFragment);
    std::string error;
    const uint64_t n = d.ReadCount();
    for (uint64_t i = 0; i < n && d.ok(); ++i) {
      auto update = d.ReadVarUint8Array();
      Status s = doc.ApplyUpdate(update, format);
      if (!s.ok() && error.empty()) error = "update " + std::to_string(i) + ": " + s.ToString();
    }
    std::vector<std::vector<uint8_t>> diffs;
    const uint64_t peers = d.ReadCount();
    for (uint64_t i = 0; i < peers && d.ok(); ++i) {
      auto sv = crdt::DecodeStateVector(d.ReadVarUint8Array());
      if (!sv.ok()) {
        if (error.empty()) error = "peer state vector: " + sv.status().ToString();
        diffs.emplace_back();
        continue;
      }
      diffs.push_back(doc.EncodeStateAsUpdate(*sv, format));
    }
    out.WriteVarString(name);
    out.WriteVarString(error);
    out.WriteVarUint8Array(doc.EncodeStateAsUpdate({}, format));
    out.WriteVarUint8Array(doc.EncodeStateVector());
    out.WriteVarString(lib0::ToJson(crdt::DocToJson(doc)));
    out.WriteVarUint(diffs.size());
    for (const auto& diff : diffs) out.WriteVarUint8Array(diff);
  }
  if (!d.ok()) {
    std::cerr << "crdt_interop_tool: bad cases file: " << d.status().ToString() << "\n";
    return 2;
  }
  std::ofstream(argv[3], std::ios::binary)
      .write(reinterpret_cast<const char*>(out.data().data()),
             static_cast<std::streamsize>(out.size()));
  return 0;
}

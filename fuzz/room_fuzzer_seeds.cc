// Writes the seed inputs of room_fuzzer: the attack shapes of docs/ERRORS.md ("Hostile input")
// at sizes a fuzz run can mutate. Run: room_fuzzer_seeds fuzz/corpus/room_fuzzer

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "crdt/doc.h"
#include "crdt/hostile_updates.h"
#include "crdt/types/shared_types.h"
#include "lib0/encoder.h"
#include "protocol/message.h"

using namespace tandem;
using Bytes = std::vector<uint8_t>;

namespace {

class Stream {
 public:
  void Add(uint8_t conn, const Bytes& message) {
    if (message.size() > 0xffff) {
      std::fprintf(stderr, "message of %zu bytes does not fit a seed record\n", message.size());
      std::exit(1);
    }
    bytes_.push_back(conn);
    bytes_.push_back(static_cast<uint8_t>(message.size() & 0xff));
    bytes_.push_back(static_cast<uint8_t>(message.size() >> 8));
    bytes_.insert(bytes_.end(), message.begin(), message.end());
  }
  void Write(const std::string& path) const {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes_.data()),
              static_cast<std::streamsize>(bytes_.size()));
  }

 private:
  Bytes bytes_;
};

Bytes Awareness(uint64_t first, size_t n, const std::string& json) {
  lib0::Encoder e;
  e.WriteVarUint(n);
  for (size_t i = 0; i < n; ++i) {
    e.WriteVarUint(first + i);
    e.WriteVarUint(1);
    e.WriteVarString(json);
  }
  return protocol::EncodeAwareness(e.Take());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: room_fuzzer_seeds DIR\n");
    return 2;
  }
  const std::string dir = argv[1];
  {
    Stream s;  // deep nesting, then a delete of the outermost level (D1)
    s.Add(0, protocol::EncodeSyncUpdate(crdt::NestedArraysUpdate(9, 9000)));
    s.Add(1, protocol::EncodeSyncUpdate(crdt::NestedArraysUpdate(10, 200)));
    s.Add(0, protocol::EncodeSyncUpdate(crdt::DeleteRangeUpdate(10, 0, 1)));
    s.Write(dir + "/nested-arrays");
  }
  {
    Stream s;  // many one-struct clients (D2)
    s.Add(0, protocol::EncodeSyncUpdate(crdt::ManyClientsUpdate(2500)));
    s.Add(1, protocol::EncodeSyncUpdate(crdt::ManyClientsUpdate(2500, 100'000)));
    s.Write(dir + "/many-clients");
  }
  {
    Stream s;  // step 1 repeated by a client that does not read (D3)
    s.Add(0, protocol::EncodeSyncUpdate(crdt::GappedTextUpdate(3, 0, 1, 30'000)));
    for (uint8_t i = 0; i < 200; ++i) s.Add(2, protocol::EncodeSyncStep1(Bytes{1, i, 1}));
    s.Write(dir + "/step1-flood");
  }
  {
    Stream s;  // query-awareness repeated against large states (D4, D8)
    for (uint64_t c = 0; c < 16; ++c) {
      s.Add(0, Awareness(100 + c, 1, "\"" + std::string(3000, 'a') + "\""));
    }
    for (int i = 0; i < 500; ++i) s.Add(2, protocol::EncodeQueryAwareness());
    for (uint64_t m = 0; m < 200; ++m) s.Add(1, Awareness(10'000 + 16 * m, 16, "null"));
    s.Write(dir + "/awareness-flood");
  }
  {
    Stream s;  // many nested types changed in one transaction (D5)
    crdt::Doc author(crdt::DocOptions{.gc = true, .client_id = 4});
    auto root = author.GetArray("a");
    std::vector<crdt::Value> maps(2000, crdt::Value::Map({}));
    (void)root.Insert(0, maps);
    s.Add(0, protocol::EncodeSyncUpdate(author.EncodeStateAsUpdate()));
    const auto before = author.GetStateVector();
    author.Transact([&](crdt::Transaction&) {
      for (uint64_t i = 0; i < 2000; ++i) (void)crdt::MapRef(root.Nested(*root.Get(i))).Set("k", 1);
    });
    s.Add(1, protocol::EncodeSyncUpdate(author.EncodeStateAsUpdate(before)));
    s.Write(dir + "/changed-types");
  }
  {
    Stream s;  // structs waiting for missing ones (D13)
    for (uint64_t i = 0; i < 40; ++i) {
      s.Add(1,
            protocol::EncodeSyncUpdate(crdt::GappedTextUpdate(8, 1'000'000 + i * 1000, 1, 1000)));
    }
    s.Add(0, protocol::EncodeSyncStep1(Bytes{0}));
    s.Write(dir + "/pending");
  }
  return 0;
}

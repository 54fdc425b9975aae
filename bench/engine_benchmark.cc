// The document engine on the workloads the Node peers measure (bench/node/engine.bench.mjs writes
// the shared inputs into TANDEM_BENCH_DATA): load and encode B4 / B4x10 snapshots, apply the
// 259,778 single-edit B4 updates one by one, load the egwalker histories, and the memory a
// loaded document holds (malloc'd bytes, counter "bytes").

#include <benchmark/benchmark.h>
#include <malloc.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "crdt/doc.h"
#include "crdt/item_heap.h"
#include "crdt/read_api.h"
#include "lib0/decoder.h"

namespace {

using tandem::crdt::Doc;
using tandem::crdt::ItemHeap;
using tandem::crdt::UpdateFormat;
using Bytes = std::vector<uint8_t>;

Bytes Load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  Bytes bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  if (bytes.empty()) {
    std::fprintf(stderr, "missing bench data %s (run bench/run)\n", path.c_str());
    std::exit(2);
  }
  return bytes;
}

std::string DataDir() {
  const char* d = std::getenv("TANDEM_BENCH_DATA");
  return d != nullptr ? d : "build/bench";
}
std::string SharedDir() {
  const char* d = std::getenv("TANDEM_SHARED_DATA");
  return d != nullptr ? d : "../shared/data";
}

const Bytes& Snapshot(const std::string& name) {
  static const Bytes b4 = Load(DataDir() + "/b4-snapshot.bin");
  static const Bytes b4x10 = Load(DataDir() + "/b4x10-snapshot.bin");
  return name == "B4" ? b4 : b4x10;
}

const std::vector<Bytes>& B4Updates() {
  static const std::vector<Bytes> updates = [] {
    Bytes file = Load(DataDir() + "/b4-updates.bin");
    tandem::lib0::Decoder d(file);
    std::vector<Bytes> out;
    for (uint64_t n = d.ReadVarUint(); n > 0; --n) {
      auto u = d.ReadVarUint8Array();
      out.emplace_back(u.begin(), u.end());
    }
    return out;
  }();
  return updates;
}

size_t TextLength(const Doc& doc) {
  const auto* root = doc.FindRoot("text");
  return root == nullptr ? 0 : tandem::crdt::TextToString(*root).size();
}

void LoadSnapshot(benchmark::State& state, const std::string& name) {
  const Bytes& snap = Snapshot(name);
  for (auto _ : state) {
    auto doc = std::make_unique<Doc>();
    if (!doc->ApplyUpdate(snap).ok()) state.SkipWithError("load failed");
    benchmark::DoNotOptimize(TextLength(*doc));
    // Freeing the document is not part of loading it (yjs's figure leaves it to the GC).
    state.PauseTiming();
    doc.reset();
    state.ResumeTiming();
  }
  // Memory held by one loaded document.
  // Heap in use, counting blocks malloc placed in their own mappings (hblkhd): whether a large
  // block is mapped depends on malloc's adaptive threshold, not on what the document holds.
  // Items are in the ItemHeap, outside malloc.
  auto in_use = [] {
    const auto m = mallinfo2();
    return m.uordblks + m.hblkhd + ItemHeap::bytes_in_use();
  };
  const size_t before = in_use();
  auto doc = std::make_unique<Doc>();
  (void)doc->ApplyUpdate(snap);
  state.counters["bytes"] = static_cast<double>(in_use() - before);
}

void EncodeSnapshot(benchmark::State& state, const std::string& name) {
  Doc doc;
  (void)doc.ApplyUpdate(Snapshot(name));
  for (auto _ : state) benchmark::DoNotOptimize(doc.EncodeStateAsUpdate());
  state.counters["bytes"] = static_cast<double>(doc.EncodeStateAsUpdate().size());
}

void BM_ApplyB4Updates(benchmark::State& state) {
  const auto& updates = B4Updates();
  for (auto _ : state) {
    auto doc = std::make_unique<Doc>();
    for (const Bytes& u : updates) (void)doc->ApplyUpdate(u);
    benchmark::DoNotOptimize(TextLength(*doc));
    state.PauseTiming();
    doc.reset();
    state.ResumeTiming();
  }
  state.counters["updates"] = static_cast<double>(updates.size());
}

void LoadEgwalker(benchmark::State& state, const std::string& name) {
  static std::map<std::string, Bytes> files;
  if (!files.count(name))
    files[name] = Load(SharedDir() + "/yjs-fixtures/egwalker-" + name + ".yjs");
  const Bytes& bytes = files[name];
  for (auto _ : state) {
    auto doc = std::make_unique<Doc>();
    if (!doc->ApplyUpdate(bytes, UpdateFormat::kV2).ok()) state.SkipWithError("load failed");
    benchmark::DoNotOptimize(TextLength(*doc));
    state.PauseTiming();
    doc.reset();
    state.ResumeTiming();
  }
}

// Memory per document of many small documents (a server's idle rooms): one client typed a line.
void BM_SmallDocuments(benchmark::State& state) {
  static const Bytes update = Load(DataDir() + "/small-update.bin");
  constexpr size_t kCount = 1000;
  auto in_use = [] {
    const auto m = mallinfo2();
    return m.uordblks + m.hblkhd + ItemHeap::bytes_in_use();
  };
  size_t bytes = 0;
  for (auto _ : state) {
    std::vector<std::unique_ptr<Doc>> docs;
    docs.reserve(kCount);
    const size_t before = in_use();
    for (size_t i = 0; i < kCount; ++i) {
      docs.push_back(std::make_unique<Doc>());
      if (!docs.back()->ApplyUpdate(update).ok()) state.SkipWithError("load failed");
    }
    bytes = in_use() - before;
    state.PauseTiming();
    docs.clear();
    state.ResumeTiming();
  }
  state.counters["bytes"] = static_cast<double>(bytes) / kCount;
}

BENCHMARK_CAPTURE(LoadSnapshot, B4, std::string("B4"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(EncodeSnapshot, B4, std::string("B4"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(LoadSnapshot, B4x10, std::string("B4x10"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(EncodeSnapshot, B4x10, std::string("B4x10"))->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ApplyB4Updates)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_SmallDocuments)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(LoadEgwalker, S1, std::string("S1"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(LoadEgwalker, C1, std::string("C1"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(LoadEgwalker, A1, std::string("A1"))->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();

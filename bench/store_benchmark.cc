// The snapshot store's storage layer (src/store, no HTTP): saves/s and loads/s for 1 KB, 300 KB
// (B4) and 3 MB (B4x10) snapshots on SQLite, and on PostgreSQL when TANDEM_BENCH_PG_URL is set
// (e.g. postgresql://user@127.0.0.1:5432/db; the bench writes rooms named bench-*).
//
// A save is what `POST /collaboration/snapshot` does: size check, Yjs validation, SHA-256, the
// merge-rule check against the stored version (decoding both), the insert and the pruning.
//   Save/<backend>/<size>:      every save is a newer version of a room (the common case).
//   SaveFirst/<backend>/<size>: every save goes to a new room (no stored version to compare).
//   Load/<backend>/<size>:      the latest version of a room.
// Inputs: $TANDEM_BENCH_DATA/b4-snapshot.bin and b4x10-snapshot.bin (written by bench/run), else
// $TANDEM_SHARED_DATA/yjs-fixtures/b4-update.bin and a synthetic 3 MB document.

#include <benchmark/benchmark.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "crdt/updates.h"
#include "lib0/encoder.h"
#include "store/snapshot_store.h"

namespace {

using tandem::store::Bytes;
using tandem::store::SnapshotStore;

Bytes ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string Env(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : fallback;
}

std::string Name(std::string_view prefix, uint64_t n) {
  std::string s(prefix);
  s += std::to_string(n);
  return s;
}

// Client `client` sets `count` keys of root map "m", each to a string of `value_bytes`.
Bytes MapEntries(uint64_t client, uint64_t count, size_t value_bytes) {
  tandem::lib0::Encoder e;
  e.WriteVarUint(1);
  e.WriteVarUint(count);
  e.WriteVarUint(client);
  e.WriteVarUint(0);
  const std::string value(value_bytes, 'v');
  for (uint64_t i = 0; i < count; ++i) {
    e.WriteUint8(0x28);
    e.WriteVarUint(1);
    e.WriteVarString("m");
    e.WriteVarString(Name("k", i));
    e.WriteVarUint(1);
    e.WriteUint8(119);
    e.WriteVarString(value);
  }
  e.WriteVarUint(0);
  return e.Take();
}

const Bytes& Input(const std::string& size) {
  static const std::map<std::string, Bytes> inputs = [] {
    std::map<std::string, Bytes> m;
    const std::string data = Env("TANDEM_BENCH_DATA", "build/bench");
    const std::string shared = Env("TANDEM_SHARED_DATA", "../shared/data");
    m["1KB"] = MapEntries(1, 10, 90);
    m["300KB"] = ReadFile(data + "/b4-snapshot.bin");
    if (m["300KB"].empty()) m["300KB"] = ReadFile(shared + "/yjs-fixtures/b4-update.bin");
    m["3MB"] = ReadFile(data + "/b4x10-snapshot.bin");
    if (m["3MB"].empty()) m["3MB"] = MapEntries(2, 3000, 1000);
    for (const auto& [name, bytes] : m) {
      if (bytes.empty() || !tandem::crdt::ValidateUpdate(bytes).ok()) {
        std::fprintf(stderr, "store_benchmark: no valid %s input (see the header comment)\n",
                     name.c_str());
        std::exit(2);
      }
    }
    return m;
  }();
  return inputs.at(size);
}

// Input plus edits by another client at clocks [0, n): version n of a growing document.
std::vector<Bytes> Versions(const std::string& size, int count) {
  std::vector<Bytes> out;
  for (int i = 1; i <= count; ++i) {
    const Bytes extra = MapEntries(0x7fff'0000, static_cast<uint64_t>(i), 16);
    auto merged = tandem::crdt::MergeUpdates({Input(size), extra});
    if (!merged.ok()) std::exit(3);
    out.push_back(std::move(merged).value());
  }
  return out;
}

std::unique_ptr<SnapshotStore> OpenStore(const std::string& backend) {
  std::unique_ptr<tandem::store::Backend> b;
  if (backend == "postgres") {
    auto r = tandem::store::OpenPostgresBackend(Env("TANDEM_BENCH_PG_URL", ""), 4);
    if (!r.ok()) return nullptr;
    b = std::move(r).value();
  } else {
    static const std::string dir = (std::filesystem::temp_directory_path() /
                                    (std::string("tandem-store-bench-") + std::to_string(getpid())))
                                       .string();
    std::filesystem::remove_all(dir);
    auto r = tandem::store::OpenSqliteBackend(dir + "/snapshots.db");
    if (!r.ok()) return nullptr;
    b = std::move(r).value();
  }
  return std::make_unique<SnapshotStore>(
      std::move(b),
      tandem::store::StoreOptions{.max_snapshot_bytes = 256u << 20, .keep_versions = 10});
}

std::string Unique() {
  static std::atomic<uint64_t> n{0};
  return std::string("bench-") + std::to_string(getpid()) + std::string("-") + std::to_string(n++);
}

void Save(benchmark::State& state, const std::string& backend, const std::string& size) {
  auto store = OpenStore(backend);
  if (!store) return state.SkipWithError("cannot open the backend");
  constexpr int kVersions = 16;
  const std::vector<Bytes> versions = Versions(size, kVersions);
  std::string room = Unique();
  int i = 0;
  for (auto _ : state) {
    if (i == kVersions) {
      state.PauseTiming();
      room = Unique();
      i = 0;
      state.ResumeTiming();
    }
    auto saved = store->Save(room, versions[i++]);
    if (!saved.ok() || saved->merged) return state.SkipWithError("save failed");
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(versions[0].size()));
  state.counters["saves/s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

void SaveFirst(benchmark::State& state, const std::string& backend, const std::string& size) {
  auto store = OpenStore(backend);
  if (!store) return state.SkipWithError("cannot open the backend");
  const Bytes& input = Input(size);
  for (auto _ : state) {
    if (!store->Save(Unique(), input).ok()) return state.SkipWithError("save failed");
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(input.size()));
  state.counters["saves/s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

void Load(benchmark::State& state, const std::string& backend, const std::string& size) {
  auto store = OpenStore(backend);
  if (!store) return state.SkipWithError("cannot open the backend");
  const Bytes& input = Input(size);
  const std::string room = Unique();
  if (!store->Save(room, input).ok()) return state.SkipWithError("save failed");
  for (auto _ : state) {
    auto got = store->Get(room);
    if (!got.ok() || !got->has_value() || (*got)->data.size() != input.size())
      return state.SkipWithError("load failed");
    benchmark::DoNotOptimize(got);
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(input.size()));
  state.counters["loads/s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

void Register() {
  std::vector<std::string> backends = {"sqlite"};
  if (!Env("TANDEM_BENCH_PG_URL", "").empty()) backends.push_back("postgres");
  for (const auto& backend : backends) {
    for (const std::string size : {"1KB", "300KB", "3MB"}) {
      const auto unit = size == "1KB" ? benchmark::kMicrosecond : benchmark::kMillisecond;
      benchmark::RegisterBenchmark(("Save/" + backend + "/" + size).c_str(), Save, backend, size)
          ->Unit(unit)
          ->UseRealTime();
      benchmark::RegisterBenchmark(("SaveFirst/" + backend + "/" + size).c_str(), SaveFirst,
                                   backend, size)
          ->Unit(unit)
          ->UseRealTime();
      benchmark::RegisterBenchmark(("Load/" + backend + "/" + size).c_str(), Load, backend, size)
          ->Unit(unit)
          ->UseRealTime();
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  Register();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  std::filesystem::remove_all(std::filesystem::temp_directory_path() /
                              (std::string("tandem-store-bench-") + std::to_string(getpid())));
  return 0;
}

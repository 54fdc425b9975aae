// Durable rooms (docs/PERSISTENCE.md): how fast updates are appended durably, how long a cold
// room takes to answer its first client from a large snapshot, and how long a save blocks its
// room. The large snapshot is B4x10 (b4x10-snapshot.bin in TANDEM_BENCH_DATA, which
// bench/node/engine.bench.mjs --write-data makes: the B4 trace replayed ten times, ~2.2 MB).

#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "crdt/doc.h"
#include "protocol/message.h"
#include "roomlog/sqlite_room_log.h"

namespace {

namespace fs = std::filesystem;
using tandem::crdt::Doc;
using tandem::roomlog::Bytes;
using tandem::roomlog::Durability;
using tandem::roomlog::SqliteRoomLog;

Bytes LoadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  Bytes bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  if (bytes.empty()) {
    std::fprintf(stderr, "missing bench data %s (run bench/run)\n", path.c_str());
    std::exit(2);
  }
  return bytes;
}

const Bytes& B4x10() {
  static const Bytes bytes = [] {
    const char* d = std::getenv("TANDEM_BENCH_DATA");
    return LoadFile(std::string(d != nullptr ? d : "build/bench") + "/b4x10-snapshot.bin");
  }();
  return bytes;
}

// A fresh room log in a temporary folder, removed afterwards.
class TempLog {
 public:
  explicit TempLog(Durability durability) {
    dir_ = fs::temp_directory_path() / ("tandem-durable-bench-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    log_ = std::move(SqliteRoomLog::Open(dir_.string(), {.durability = durability})).value();
  }
  ~TempLog() {
    log_.reset();
    fs::remove_all(dir_);
  }
  SqliteRoomLog& log() { return *log_; }

 private:
  fs::path dir_;
  std::unique_ptr<SqliteRoomLog> log_;
};

// A typical keystroke update (yjs: one character inserted into text 't' by client 1).
Bytes SmallUpdate() {
  return {0x01, 0x01, 0x01, 0x00, 0x04, 0x01, 0x01, 0x74, 0x01, 0x61, 0x00};
}

// Updates/s appended durably through the group commit, as rooms do: many appends queued from
// other threads, each acknowledged once committed. range(0): rooms (round robin); range(1):
// 1 = --durability full (fsync per group commit), 0 = normal.
void BM_DurableAppend(benchmark::State& state) {
  const size_t rooms = static_cast<size_t>(state.range(0));
  TempLog temp(state.range(1) != 0 ? Durability::kFull : Durability::kNormal);
  SqliteRoomLog& log = temp.log();
  std::vector<std::string> ids;
  for (size_t i = 0; i < rooms; ++i) ids.push_back("room-" + std::to_string(i));
  const Bytes update = SmallUpdate();
  constexpr size_t kBurst = 1000;
  std::atomic<size_t> acked{0};
  size_t n = 0;
  for (auto _ : state) {
    for (size_t i = 0; i < kBurst; ++i)
      log.Append(ids[n++ % rooms], update, [&acked](tandem::Status, uint64_t) { ++acked; });
    log.Flush();
  }
  if (acked != n) state.SkipWithError("appends lost");
  state.SetItemsProcessed(static_cast<int64_t>(n));
  state.counters["batches"] = static_cast<double>(log.commits());
}

// One update at a time, each waited for: the latency of a durable append when nothing else is
// queued (what a lone typist's keystroke waits before it is broadcast).
void BM_DurableAppendLatency(benchmark::State& state) {
  TempLog temp(state.range(0) != 0 ? Durability::kFull : Durability::kNormal);
  SqliteRoomLog& log = temp.log();
  const Bytes update = SmallUpdate();
  for (auto _ : state) {
    log.Append("room", update, [](tandem::Status, uint64_t) {});
    log.Flush();
  }
  state.SetItemsProcessed(state.iterations());
}

// A cold room answering its first client from local storage holding B4x10: read snapshot + log
// from SQLite, apply it to a new document, encode the greeting (sync step 1) and the answer to
// the client's empty state vector (sync step 2, the whole document).
void BM_ColdRoomFirstAnswer(benchmark::State& state) {
  TempLog temp(Durability::kFull);
  if (!temp.log().CompactNow("cold", B4x10(), 0).ok()) state.SkipWithError("log failed");
  size_t answer_bytes = 0;
  for (auto _ : state) {
    auto loaded = temp.log().ReadNow("cold");
    if (!loaded.ok() || !loaded->has_value()) {
      state.SkipWithError("load failed");
      break;
    }
    Doc doc;
    if (!doc.ApplyUpdate((*loaded)->snapshot).ok()) state.SkipWithError("apply failed");
    for (const Bytes& u : (*loaded)->updates) (void)doc.ApplyUpdate(u);
    Bytes step1 = tandem::protocol::EncodeSyncStep1(doc.EncodeStateVector());
    Bytes step2 = tandem::protocol::EncodeSyncStep2(doc.EncodeStateAsUpdate());
    answer_bytes = step2.size();
    benchmark::DoNotOptimize(step1);
    benchmark::DoNotOptimize(step2);
  }
  state.counters["snapshot_bytes"] = static_cast<double>(B4x10().size());
  state.counters["answer_bytes"] = static_cast<double>(answer_bytes);
}

// How long a save blocks its room: the room encodes its state on its strand (the HTTP request
// runs elsewhere). Target: under 5 ms for B4x10.
void BM_SaveBlocksRoom(benchmark::State& state) {
  Doc doc;
  if (!doc.ApplyUpdate(B4x10()).ok()) state.SkipWithError("apply failed");
  for (auto _ : state) benchmark::DoNotOptimize(doc.EncodeStateAsUpdate());
  state.counters["bytes"] = static_cast<double>(doc.EncodeStateAsUpdate().size());
}

BENCHMARK(BM_DurableAppend)
    ->ArgNames({"rooms", "fsync"})
    ->Args({1, 1})
    ->Args({1000, 1})
    ->Args({1, 0})
    ->Args({1000, 0})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_DurableAppendLatency)
    ->ArgNames({"fsync"})
    ->Arg(1)
    ->Arg(0)
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();
BENCHMARK(BM_ColdRoomFirstAnswer)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_SaveBlocksRoom)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();

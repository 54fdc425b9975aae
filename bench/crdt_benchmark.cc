// dmonad's crdt-benchmarks B1-B4 on Tandem's editing API. bench/node/crdt.bench.mjs writes the
// operations every row performs (crdt-bench-ops.bin, format in bench/crdt_ops_format.md) and
// what yjs produced from them (crdt-bench-expected.json); this replays the same operations, so
// Tandem, yjs and ywasm run identical edits, and checks the content and the snapshot bytes
// against yjs's (sha256 of the V2 and V1 snapshots).
//
// One benchmark per row, BM_Crdt/<id>: real_time = the row's timed region; counters
// avgUpdateSize, docSize, encodeTimeMs, parseTimeMs, memBytes, and sameAsYjs (1 when content
// and both snapshots are byte-identical to yjs's).

#include <benchmark/benchmark.h>
#include <malloc.h>
#include <openssl/sha.h>

#include <algorithm>
#include <chrono>
#include <cmath>
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
#include "crdt/transaction.h"
#include "crdt/types/shared_types.h"
#include "lib0/decoder.h"
#include "lib0/json.h"

namespace {

using tandem::crdt::Doc;
using tandem::crdt::DocOptions;
using tandem::crdt::ItemHeap;
using tandem::crdt::Transaction;
using tandem::crdt::UpdateFormat;
using tandem::crdt::Value;
using tandem::lib0::Any;
using Bytes = std::vector<uint8_t>;
using Clock = std::chrono::steady_clock;

std::string DataDir() {
  const char* d = std::getenv("TANDEM_BENCH_DATA");
  return d != nullptr ? d : "build/bench";
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::string s{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  if (s.empty()) {
    std::fprintf(stderr, "missing bench data %s (run bench/run)\n", path.c_str());
    std::exit(2);
  }
  return s;
}

enum class Kind : uint8_t { kText = 0, kArray = 1, kMap = 2 };

enum class StepKind : uint8_t {
  kTextInsert = 0,
  kTextDelete = 1,
  kArrayInsert = 2,
  kArrayDelete = 3,
  kMapSet = 4,
  kTxnBegin = 5,
  kTxnEnd = 6,
  kDeliver = 7,
  kApplyAll = 8,
  kTimeBegin = 9,
  kTimeEnd = 10,
  kRead = 11,
};

struct Step {
  StepKind kind;
  uint32_t user = 0;
  uint32_t other = 0;  // DELIVER: to
  uint64_t index = 0;
  uint64_t length = 0;
  std::string text;  // text insert, map key
  std::vector<Value> values;
};

struct Row {
  std::string id;
  Kind kind = Kind::kText;
  std::vector<uint64_t> clients;
  uint64_t update_size_divisor = 0;
  bool parse_reads = false;
  std::vector<Step> steps;
};

struct Data {
  bool gc = true;
  std::vector<Row> rows;
  Any expected;
};

const Data& LoadData() {
  static const Data data = [] {
    Data d;
    const std::string file = ReadFile(DataDir() + "/crdt-bench-ops.bin");
    tandem::lib0::Decoder in(
        std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(file.data()), file.size()));
    if (in.ReadVarString() != "tandem-crdt-bench-ops" || in.ReadVarUint() != 1) {
      std::fprintf(stderr, "crdt-bench-ops.bin: unknown format\n");
      std::exit(2);
    }
    in.ReadVarUint();  // N
    d.gc = in.ReadVarUint() == 1;
    const uint64_t rows = in.ReadVarUint();
    for (uint64_t r = 0; r < rows && in.ok(); ++r) {
      Row row;
      row.id = std::string(in.ReadVarString());
      in.ReadVarString();  // title
      row.kind = static_cast<Kind>(in.ReadVarUint());
      const uint64_t users = in.ReadVarUint();
      for (uint64_t u = 0; u < users; ++u) row.clients.push_back(in.ReadVarUint());
      row.update_size_divisor = in.ReadVarUint();
      row.parse_reads = in.ReadVarUint() == 1;
      const uint64_t steps = in.ReadVarUint();
      in.ReadVarUint();  // byte length of the steps
      row.steps.reserve(steps);
      for (uint64_t s = 0; s < steps && in.ok(); ++s) {
        Step step;
        step.kind = static_cast<StepKind>(in.ReadVarUint());
        switch (step.kind) {
          case StepKind::kTextInsert:
            step.user = static_cast<uint32_t>(in.ReadVarUint());
            step.index = in.ReadVarUint();
            step.text = std::string(in.ReadVarString());
            break;
          case StepKind::kTextDelete:
          case StepKind::kArrayDelete:
            step.user = static_cast<uint32_t>(in.ReadVarUint());
            step.index = in.ReadVarUint();
            step.length = in.ReadVarUint();
            break;
          case StepKind::kArrayInsert: {
            step.user = static_cast<uint32_t>(in.ReadVarUint());
            step.index = in.ReadVarUint();
            const uint64_t n = in.ReadVarUint();
            for (uint64_t i = 0; i < n; ++i) step.values.emplace_back(tandem::lib0::ReadAny(in));
            break;
          }
          case StepKind::kMapSet:
            step.user = static_cast<uint32_t>(in.ReadVarUint());
            step.text = std::string(in.ReadVarString());
            step.values.emplace_back(tandem::lib0::ReadAny(in));
            break;
          case StepKind::kTxnBegin:
          case StepKind::kTxnEnd:
          case StepKind::kApplyAll:
          case StepKind::kRead: step.user = static_cast<uint32_t>(in.ReadVarUint()); break;
          case StepKind::kDeliver:
            step.user = static_cast<uint32_t>(in.ReadVarUint());
            step.other = static_cast<uint32_t>(in.ReadVarUint());
            break;
          case StepKind::kTimeBegin:
          case StepKind::kTimeEnd: break;
          default: std::fprintf(stderr, "crdt-bench-ops.bin: unknown step kind\n"); std::exit(2);
        }
        row.steps.push_back(std::move(step));
      }
      d.rows.push_back(std::move(row));
    }
    if (!in.ok()) {
      std::fprintf(stderr, "crdt-bench-ops.bin: %s\n", in.status().ToString().c_str());
      std::exit(2);
    }
    auto expected = tandem::lib0::ParseJson(ReadFile(DataDir() + "/crdt-bench-expected.json"));
    if (!expected.ok()) {
      std::fprintf(stderr, "crdt-bench-expected.json: %s\n", expected.status().ToString().c_str());
      std::exit(2);
    }
    d.expected = std::move(expected).value();
    return d;
  }();
  return data;
}

std::string Sha256Hex(std::string_view bytes) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), digest);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned char c : digest) {
    out += hex[c >> 4];
    out += hex[c & 15];
  }
  return out;
}

// JSON with object keys sorted, no spaces: the canonical form the expected file hashes.
void AppendCanonicalJson(std::string& out, const Any& v) {
  switch (v.kind()) {
    case Any::Kind::kArray: {
      out += '[';
      bool first = true;
      for (const Any& e : v.as_array()) {
        if (!first) out += ',';
        first = false;
        AppendCanonicalJson(out, e);
      }
      out += ']';
      break;
    }
    case Any::Kind::kObject: {
      auto members = v.as_object();
      std::sort(members.begin(), members.end(),
                [](const auto& a, const auto& b) { return a.first < b.first; });
      out += '{';
      bool first = true;
      for (const auto& [k, e] : members) {
        if (!first) out += ',';
        first = false;
        tandem::lib0::AppendJsonString(out, k);
        out += ':';
        AppendCanonicalJson(out, e);
      }
      out += '}';
      break;
    }
    default: tandem::lib0::AppendJson(out, v);
  }
}

// The content a READ looks at: the text, or the array / map as data (toString / toJSON).
Any ReadContent(Doc& doc, Kind kind) {
  switch (kind) {
    case Kind::kText: return Any(doc.GetText("text").ToString());
    case Kind::kArray: return doc.GetArray("array").ToJson();
    case Kind::kMap: return doc.GetMap("map").ToJson();
  }
  return {};
}

// That content in the form the expected file hashes.
std::string Digest(const Any& content) {
  if (content.kind() == Any::Kind::kString) return Sha256Hex(content.as_string());
  std::string json;
  AppendCanonicalJson(json, content);
  return Sha256Hex(json);
}

std::string ContentDigest(Doc& doc, Kind kind) {
  return Digest(ReadContent(doc, kind));
}

// A user's document with the roots every row has and an updateV2 listener that logs local
// transactions (applying remote updates logs nothing, as crdt-benchmarks' mutex does).
struct Session {
  struct Logged {
    uint32_t user;
    Bytes update;
  };
  std::vector<std::unique_ptr<Doc>> docs;
  std::vector<Logged> log;
  std::vector<size_t> delivered;  // per (from, to): log entries of `from` already delivered
  bool applying_remote = false;
  bool keep_updates = false;  // only rows that exchange updates need them kept
  uint64_t logged_bytes = 0;

  Session(const Row& row, bool gc) {
    for (const Step& step : row.steps) {
      if (step.kind == StepKind::kDeliver || step.kind == StepKind::kApplyAll) keep_updates = true;
    }
    const size_t n = row.clients.size();
    docs.reserve(n);
    delivered.assign(n * n, 0);
    for (size_t u = 0; u < n; ++u) {
      auto doc = std::make_unique<Doc>(DocOptions{.gc = gc, .client_id = 0});
      doc->set_client_id(row.clients[u]);
      doc->GetText("text");
      doc->GetArray("array");
      doc->GetMap("map");
      doc->OnUpdate(
          [this, user = static_cast<uint32_t>(u)](const Bytes& update, const Transaction&) {
            if (applying_remote) return;
            logged_bytes += update.size();
            if (keep_updates) log.push_back({user, update});
          },
          UpdateFormat::kV2);
      docs.push_back(std::move(doc));
    }
  }
};

bool Edit(Session& s, const Step& step) {
  Doc& doc = *s.docs[step.user];
  switch (step.kind) {
    case StepKind::kTextInsert: return doc.GetText("text").Insert(step.index, step.text).ok();
    case StepKind::kTextDelete: return doc.GetText("text").Delete(step.index, step.length).ok();
    case StepKind::kArrayInsert: return doc.GetArray("array").Insert(step.index, step.values).ok();
    case StepKind::kArrayDelete: return doc.GetArray("array").Delete(step.index, step.length).ok();
    case StepKind::kMapSet: return doc.GetMap("map").Set(step.text, step.values[0]).ok();
    default: return false;
  }
}

bool IsEdit(StepKind k) {
  return k <= StepKind::kMapSet;
}

struct RowResult {
  double time_ms = 0;
  bool ok = true;
  std::string error;
};

// Runs the row's steps on `s`; returns the timed region's wall time.
RowResult RunSteps(const Row& row, const Data& data, Session& s) {
  RowResult result;
  Clock::time_point start;
  const Any* expected = data.expected.Find("rows")->Find(row.id);
  const std::string want = expected != nullptr && expected->Find("contentSha256") != nullptr
                               ? expected->Find("contentSha256")->as_string()
                               : std::string();
  for (size_t i = 0; i < row.steps.size(); ++i) {
    const Step& step = row.steps[i];
    if (IsEdit(step.kind)) {
      if (!Edit(s, step)) {
        result.ok = false;
        result.error = "edit " + std::to_string(i) + " refused";
        return result;
      }
      continue;
    }
    switch (step.kind) {
      case StepKind::kTxnBegin: {
        // Every edit up to the matching TXN_END forms one transaction.
        Doc& doc = *s.docs[step.user];
        size_t j = i + 1;
        bool ok = true;
        doc.Transact([&](Transaction&) {
          for (; j < row.steps.size() && row.steps[j].kind != StepKind::kTxnEnd; ++j) {
            ok = Edit(s, row.steps[j]) && ok;
          }
        });
        if (!ok) {
          result.ok = false;
          result.error = "edit in transaction refused";
          return result;
        }
        i = j;  // the TXN_END
        break;
      }
      case StepKind::kDeliver: {
        const uint32_t from = step.user;
        const uint32_t to = step.other;
        size_t& done = s.delivered[from * s.docs.size() + to];
        s.applying_remote = true;
        size_t seen = 0;
        for (const auto& entry : s.log) {
          if (entry.user != from) continue;
          if (seen++ < done) continue;
          (void)s.docs[to]->ApplyUpdateV2(entry.update);
          ++done;
        }
        s.applying_remote = false;
        break;
      }
      case StepKind::kApplyAll: {
        Doc& doc = *s.docs[step.user];
        s.applying_remote = true;
        doc.Transact([&](Transaction&) {
          for (const auto& entry : s.log) (void)doc.ApplyUpdateV2(entry.update);
        });
        s.applying_remote = false;
        break;
      }
      case StepKind::kTimeBegin: start = Clock::now(); break;
      case StepKind::kTimeEnd:
        result.time_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
        break;
      case StepKind::kRead:
        if (!want.empty() && ContentDigest(*s.docs[step.user], row.kind) != want) {
          result.ok = false;
          result.error = "user " + std::to_string(step.user) + " content differs from yjs";
        }
        break;
      default: break;
    }
  }
  return result;
}

void BM_Crdt(benchmark::State& state, size_t row_index) {
  const Data& data = LoadData();
  const Row& row = data.rows[row_index];
  const Any* expected = data.expected.Find("rows")->Find(row.id);
  RowResult last;
  std::unique_ptr<Session> session;
  for (auto _ : state) {
    session = std::make_unique<Session>(row, data.gc);
    last = RunSteps(row, data, *session);
    if (!last.ok) {
      state.SkipWithError(last.error.c_str());
      return;
    }
    state.SetIterationTime(last.time_ms / 1000);
  }
  Session& s = *session;
  Doc& doc0 = *s.docs[0];
  // Encode, then parse the snapshot into a fresh document with a listener; medians of three, as
  // the Node side takes.
  const auto median3 = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  Bytes snapshot;
  std::vector<double> encodes;
  for (int k = 0; k < 3; ++k) {
    const auto t0 = Clock::now();
    snapshot = doc0.EncodeStateAsUpdateV2();
    encodes.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  const double encode_ms = median3(encodes);
  const Bytes snapshot_v1 = doc0.EncodeStateAsUpdate();
  if (const char* dump = std::getenv("TANDEM_CRDT_BENCH_DUMP")) {  // snapshots for profiling
    std::ofstream(std::string(dump) + "/" + row.id + ".v2.bin", std::ios::binary)
        .write(reinterpret_cast<const char*>(snapshot.data()),
               static_cast<std::streamsize>(snapshot.size()));
  }
  std::vector<double> parses;
  std::unique_ptr<Doc> parsed;
  bool parsed_ok = true;
  std::string parsed_digest;
  size_t heap_before = 0;
  size_t heap_after = 0;
  for (int k = 0; k < 3; ++k) {
    parsed.reset();
    heap_before = mallinfo2().uordblks + ItemHeap::bytes_in_use();
    const auto t0 = Clock::now();
    parsed = std::make_unique<Doc>(DocOptions{.gc = data.gc, .client_id = 0});
    parsed->OnUpdate([](const Bytes&, const Transaction&) {}, UpdateFormat::kV2);
    parsed_ok = parsed->ApplyUpdateV2(snapshot).ok() && parsed_ok;
    Any parsed_content;
    if (row.parse_reads) parsed_content = ReadContent(*parsed, row.kind);
    parses.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    if (row.parse_reads) parsed_digest = Digest(parsed_content);
    parsed_content = Any();
    heap_after = mallinfo2().uordblks + ItemHeap::bytes_in_use();  // the parsed document alone
  }
  const double parse_ms = median3(parses);
  const auto str = [&](const char* key) {
    const Any* v = expected == nullptr ? nullptr : expected->Find(key);
    return v != nullptr && v->kind() == Any::Kind::kString ? v->as_string() : std::string();
  };
  const auto as_view = [](const Bytes& b) {
    return std::string_view(reinterpret_cast<const char*>(b.data()), b.size());
  };
  const bool same = parsed_ok && Sha256Hex(as_view(snapshot)) == str("snapshotV2Sha256") &&
                    Sha256Hex(as_view(snapshot_v1)) == str("snapshotV1Sha256") &&
                    (!row.parse_reads || parsed_digest == str("contentSha256"));
  const double divisor = static_cast<double>(row.update_size_divisor);
  state.counters["avgUpdateSize"] =
      divisor > 0 ? std::round(static_cast<double>(s.logged_bytes) / divisor) : 0;
  state.counters["docSize"] = static_cast<double>(snapshot.size());
  state.counters["encodeTimeMs"] = encode_ms;
  state.counters["parseTimeMs"] = parse_ms;
  state.counters["memBytes"] = static_cast<double>(heap_after - heap_before);
  state.counters["sameAsYjs"] = same ? 1 : 0;
  if (!same) std::fprintf(stderr, "%s: snapshot or content differs from yjs's\n", row.id.c_str());
}

}  // namespace

// One benchmark per row of the ops file (TANDEM_CRDT_BENCH_ONLY=<id> picks one).
int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  const char* only = std::getenv("TANDEM_CRDT_BENCH_ONLY");
  const Data& data = LoadData();
  for (size_t i = 0; i < data.rows.size(); ++i) {
    const Row& row = data.rows[i];
    if (only != nullptr && row.id != only) continue;
    const bool long_row = row.id == "B4" || row.id == "B4x10";
    // Each repetition is a fresh run of the row; the report takes the median (noisy machines).
    benchmark::RegisterBenchmark(("BM_Crdt/" + row.id).c_str(), BM_Crdt, i)
        ->UseManualTime()
        ->Unit(benchmark::kMillisecond)
        ->Iterations(1)
        ->Repetitions(row.id == "B4x10" ? 3
                      : long_row        ? 5
                                        : 7)
        ->ReportAggregatesOnly(true);
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

// lib0 throughput on the same data the Node side measures (bench/node/lib0.bench.mjs writes it):
// varUint, varString and any, encode and decode. TANDEM_BENCH_DATA names the data folder.

#include <benchmark/benchmark.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "lib0/any.h"
#include "lib0/decoder.h"
#include "lib0/encoder.h"

namespace {

using tandem::lib0::Any;
using tandem::lib0::Decoder;
using tandem::lib0::Encoder;

std::vector<uint8_t> Load(const char* name) {
  const char* dir = std::getenv("TANDEM_BENCH_DATA");
  std::string path = std::string(dir != nullptr ? dir : "build/bench") + "/" + name;
  std::ifstream in(path, std::ios::binary);
  std::vector<uint8_t> bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  if (bytes.empty()) {
    std::fprintf(stderr, "missing bench data %s (run bench/run)\n", path.c_str());
    std::exit(2);
  }
  return bytes;
}

// Each file: varUint(n) then n values.
struct Data {
  std::vector<uint8_t> uints = Load("lib0-varuint.bin");
  std::vector<uint8_t> strings = Load("lib0-varstring.bin");
  std::vector<uint8_t> anys = Load("lib0-any.bin");
  std::vector<uint64_t> uint_values;
  std::vector<std::string> string_values;
  std::vector<Any> any_values;
  Data() {
    Decoder d(uints);
    for (uint64_t n = d.ReadVarUint(); n > 0; --n) uint_values.push_back(d.ReadVarUint());
    Decoder s(strings);
    for (uint64_t n = s.ReadVarUint(); n > 0; --n) string_values.emplace_back(s.ReadVarString());
    Decoder a(anys);
    for (uint64_t n = a.ReadVarUint(); n > 0; --n) any_values.push_back(tandem::lib0::ReadAny(a));
  }
};

const Data& GetData() {
  static const Data data;
  return data;
}

void SetCounters(benchmark::State& state, size_t items, size_t bytes) {
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * items));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
}

void BM_VarUintEncode(benchmark::State& state) {
  const auto& d = GetData();
  for (auto _ : state) {
    Encoder e;
    e.WriteVarUint(d.uint_values.size());
    for (uint64_t v : d.uint_values) e.WriteVarUint(v);
    benchmark::DoNotOptimize(e.data().data());
  }
  SetCounters(state, d.uint_values.size(), d.uints.size());
}

void BM_VarUintDecode(benchmark::State& state) {
  const auto& d = GetData();
  for (auto _ : state) {
    Decoder dec(d.uints);
    uint64_t sum = 0;
    for (uint64_t n = dec.ReadVarUint(); n > 0; --n) sum += dec.ReadVarUint();
    benchmark::DoNotOptimize(sum);
  }
  SetCounters(state, d.uint_values.size(), d.uints.size());
}

void BM_VarStringEncode(benchmark::State& state) {
  const auto& d = GetData();
  for (auto _ : state) {
    Encoder e;
    e.WriteVarUint(d.string_values.size());
    for (const auto& s : d.string_values) e.WriteVarString(s);
    benchmark::DoNotOptimize(e.data().data());
  }
  SetCounters(state, d.string_values.size(), d.strings.size());
}

void BM_VarStringDecode(benchmark::State& state) {
  const auto& d = GetData();
  for (auto _ : state) {
    Decoder dec(d.strings);
    size_t total = 0;
    // Materialise each string, as JS does.
    for (uint64_t n = dec.ReadVarUint(); n > 0; --n)
      total += std::string(dec.ReadVarString()).size();
    benchmark::DoNotOptimize(total);
  }
  SetCounters(state, d.string_values.size(), d.strings.size());
}

void BM_AnyEncode(benchmark::State& state) {
  const auto& d = GetData();
  for (auto _ : state) {
    Encoder e;
    e.WriteVarUint(d.any_values.size());
    for (const auto& v : d.any_values) tandem::lib0::WriteAny(e, v);
    benchmark::DoNotOptimize(e.data().data());
  }
  SetCounters(state, d.any_values.size(), d.anys.size());
}

void BM_AnyDecode(benchmark::State& state) {
  const auto& d = GetData();
  for (auto _ : state) {
    Decoder dec(d.anys);
    for (uint64_t n = dec.ReadVarUint(); n > 0; --n)
      benchmark::DoNotOptimize(tandem::lib0::ReadAny(dec));
  }
  SetCounters(state, d.any_values.size(), d.anys.size());
}

BENCHMARK(BM_VarUintEncode);
BENCHMARK(BM_VarUintDecode);
BENCHMARK(BM_VarStringEncode);
BENCHMARK(BM_VarStringDecode);
BENCHMARK(BM_AnyEncode);
BENCHMARK(BM_AnyDecode);

}  // namespace

BENCHMARK_MAIN();

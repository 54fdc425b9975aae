// C++ side of the lib0 interop test (lib0.test.mjs). Two modes:
//   reencode IN OUT.bin OUT.json   decode every value JS wrote, write them again, describe them
//   generate SEED COUNT OUT.bin OUT.json   write random values of every type, describe them
// File: varUint(#sections), each varString(type) varUint(#items) items. Column types (rle,
// uintOptRle, intDiffOptRle, string) write an item as varUint(#values) varUint8Array(column).
// The description is JSON the JS side builds the same way from its own values.

#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "lib0/any.h"
#include "lib0/decoder.h"
#include "lib0/encoder.h"
#include "lib0/json.h"
#include "lib0/rle.h"
#include "lib0/utf.h"

namespace {

using tandem::lib0::Any;
using tandem::lib0::Decoder;
using tandem::lib0::Encoder;

std::string NumberText(double d) {
  if (d == 0 && std::signbit(d)) return "-0";
  return tandem::lib0::JsNumberToString(d);
}

std::string Hex(std::span<const uint8_t> b) {
  static const char* kDigits = "0123456789abcdef";
  std::string out;
  for (uint8_t c : b) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

Any Describe(const Any& v) {
  switch (v.kind()) {
    case Any::Kind::kUndefined: return Any("U");
    case Any::Kind::kNull: return Any("N");
    case Any::Kind::kBool: return Any(v.as_bool() ? "T" : "F");
    case Any::Kind::kNumber: return Any("n:" + NumberText(v.as_number()));
    case Any::Kind::kBigInt: return Any("b:" + std::to_string(v.as_bigint()));
    case Any::Kind::kString: return Any("s:" + v.as_string());
    case Any::Kind::kBinary: return Any("x:" + Hex(v.as_binary()));
    case Any::Kind::kArray: {
      Any::Array out;
      for (const Any& item : v.as_array()) out.push_back(Describe(item));
      return Any(std::move(out));
    }
    case Any::Kind::kObject: {
      Any::Array entries;
      for (const auto& [k, item] : v.as_object())
        entries.push_back(Any(Any::Array{Any(k), Describe(item)}));
      Any::Object o;
      tandem::lib0::JsObjectSet(o, "o", Any(std::move(entries)));
      return Any(std::move(o));
    }
  }
  return {};
}

// One section's worth of values, as read or generated.
struct Section {
  std::string type;
  std::vector<Any> descriptions;
};

bool IsColumn(const std::string& t) {
  return t == "rle" || t == "uintOptRle" || t == "intDiffOptRle" || t == "string";
}

// Reads one item of `type` from `d` and writes it again to `e`; returns its description.
Any ReencodeItem(const std::string& type, Decoder& d, Encoder& e) {
  if (type == "varUint") {
    uint64_t v = d.ReadVarUint();
    e.WriteVarUint(v);
    return Any("n:" + std::to_string(v));
  }
  if (type == "varInt") {
    auto v = d.ReadVarIntSigned();
    e.WriteVarIntSigned(v.negative, v.magnitude);
    double x = static_cast<double>(v.magnitude);
    return Any("n:" + NumberText(v.negative ? -x : x));
  }
  if (type == "varString") {
    std::string s(d.ReadVarString());
    e.WriteVarString(s);
    return Any("s:" + s);
  }
  if (type == "varUint8Array") {
    auto b = d.ReadVarUint8Array();
    e.WriteVarUint8Array(b);
    return Any("x:" + Hex(b));
  }
  if (type == "float32") {
    float f = d.ReadFloat32();
    e.WriteFloat32(f);
    return Any("n:" + NumberText(f));
  }
  if (type == "float64") {
    double f = d.ReadFloat64();
    e.WriteFloat64(f);
    return Any("n:" + NumberText(f));
  }
  if (type == "bigint64") {
    int64_t v = d.ReadBigInt64();
    e.WriteBigInt64(v);
    return Any("b:" + std::to_string(v));
  }
  if (type == "any") {
    Any v = tandem::lib0::ReadAny(d);
    tandem::lib0::WriteAny(e, v);
    return Describe(v);
  }
  // Columns
  const uint64_t n = d.ReadCount(0);
  auto column = d.ReadVarUint8Array();
  Any::Array values;
  std::vector<uint8_t> out;
  if (type == "rle") {
    tandem::lib0::RleDecoder rd(column);
    tandem::lib0::RleEncoder re;
    for (uint64_t i = 0; i < n && rd.decoder().ok(); ++i) {
      uint8_t v = rd.Read();
      re.Write(v);
      values.push_back(Any("n:" + std::to_string(v)));
    }
    if (!rd.decoder().ok()) d.Fail("rle column");
    out = re.Finish();
  } else if (type == "uintOptRle") {
    tandem::lib0::UintOptRleDecoder rd(column);
    tandem::lib0::UintOptRleEncoder re;
    for (uint64_t i = 0; i < n && rd.decoder().ok(); ++i) {
      uint64_t v = rd.Read();
      re.Write(v);
      values.push_back(Any("n:" + std::to_string(v)));
    }
    if (!rd.decoder().ok()) d.Fail("uintOptRle column");
    out = re.Finish();
  } else if (type == "intDiffOptRle") {
    tandem::lib0::IntDiffOptRleDecoder rd(column);
    tandem::lib0::IntDiffOptRleEncoder re;
    for (uint64_t i = 0; i < n && rd.decoder().ok(); ++i) {
      int64_t v = rd.Read();
      re.Write(v);
      values.push_back(Any("n:" + NumberText(static_cast<double>(v))));
    }
    if (!rd.decoder().ok()) d.Fail("intDiffOptRle column");
    out = re.Finish();
  } else if (type == "string") {
    tandem::lib0::StringDecoder rd(column);
    tandem::lib0::StringEncoder re;
    for (uint64_t i = 0; i < n && rd.ok(); ++i) {
      std::string s(rd.Read());
      re.Write(s);
      values.push_back(Any("s:" + s));
    }
    if (!rd.ok()) d.Fail("string column");
    out = re.Finish();
  } else {
    d.Fail("unknown section type " + type);
  }
  e.WriteVarUint(n);
  e.WriteVarUint8Array(out);
  return Any(std::move(values));
}

class Generator {
 public:
  explicit Generator(uint64_t seed) : rng_(seed) {}

  uint64_t Uint(uint64_t max) { return std::uniform_int_distribution<uint64_t>(0, max)(rng_); }
  bool Coin() { return Uint(1) == 1; }

  // Magnitudes spread over all bit lengths up to 53.
  uint64_t VarUint() {
    const uint64_t bits = Uint(53);
    return bits == 0 ? 0 : Uint((uint64_t{1} << bits) - 1);
  }

  std::string String(size_t max_len) {
    std::string s;
    const size_t len = Uint(max_len);
    for (size_t i = 0; i < len; ++i) {
      switch (Uint(4)) {
        case 0:
        case 1: tandem::lib0::AppendUtf8(s, static_cast<uint32_t>(Uint(0x7f))); break;
        case 2:
          tandem::lib0::AppendUtf8(s, static_cast<uint32_t>(0x80 + Uint(0x7ff - 0x80)));
          break;
        case 3: {
          uint32_t cp = static_cast<uint32_t>(0x800 + Uint(0xffff - 0x800));
          if (cp >= 0xd800 && cp <= 0xdfff) cp = 0x4e2d;
          tandem::lib0::AppendUtf8(s, cp);
          break;
        }
        default:
          tandem::lib0::AppendUtf8(s, static_cast<uint32_t>(0x10000 + Uint(0x10ffff - 0x10000)));
      }
    }
    return s;
  }

  std::vector<uint8_t> Bytes(size_t max_len) {
    std::vector<uint8_t> b(Uint(max_len));
    for (auto& c : b) c = static_cast<uint8_t>(Uint(255));
    return b;
  }

  double Float64() {
    for (;;) {
      double d = std::bit_cast<double>(rng_());
      if (!std::isnan(d)) return d;
    }
  }

  float Float32() {
    for (;;) {
      float f = std::bit_cast<float>(static_cast<uint32_t>(rng_()));
      if (!std::isnan(f)) return f;
    }
  }

  double Number() {
    switch (Uint(5)) {
      case 0: return static_cast<double>(static_cast<int64_t>(Uint(200)) - 100);
      case 1: return Coin() ? -0.0 : 0.0;
      case 2: return static_cast<double>(VarUint()) * (Coin() ? 1 : -1);
      case 3: return static_cast<double>(Float32());
      case 4: return std::nan("");
      default: return Float64();
    }
  }

  Any AnyValue(int depth) {
    const uint64_t pick = Uint(depth > 3 ? 8 : 10);
    switch (pick) {
      case 0: return Any::Undefined();
      case 1: return Any::Null();
      case 2: return Any(Coin());
      case 3:
      case 4: return Any(Number());
      case 5: return Any::BigInt(static_cast<int64_t>(rng_()));
      case 6:
      case 7: return Any(String(12));
      case 8: return Any::Bytes(Bytes(8));
      case 9: {
        Any::Array a;
        for (uint64_t i = Uint(4); i > 0; --i) a.push_back(AnyValue(depth + 1));
        return Any(std::move(a));
      }
      default: {
        Any::Object o;
        for (uint64_t i = Uint(4); i > 0; --i) {
          std::string key = Uint(3) == 0 ? std::to_string(Uint(20)) : String(5);
          tandem::lib0::JsObjectSet(o, std::move(key), AnyValue(depth + 1));
        }
        return Any(std::move(o));
      }
    }
  }

  // Values with runs, so the run-length paths are exercised.
  std::vector<uint64_t> Runs(size_t n, uint64_t max) {
    std::vector<uint64_t> out;
    while (out.size() < n) {
      const uint64_t v = Uint(max);
      for (uint64_t r = Coin() ? 1 : 1 + Uint(6); r > 0 && out.size() < n; --r) out.push_back(v);
    }
    return out;
  }

  std::mt19937_64 rng_;
};

// Writes `count` random values of `type`, returns their descriptions.
Any GenerateItem(const std::string& type, Generator& g, Encoder& e) {
  if (type == "varUint") {
    uint64_t v = g.VarUint();
    e.WriteVarUint(v);
    return Any("n:" + std::to_string(v));
  }
  if (type == "varInt") {
    uint64_t m = g.VarUint();
    bool neg = g.Coin();
    e.WriteVarIntSigned(neg, m);
    double x = static_cast<double>(m);
    return Any("n:" + NumberText(neg ? -x : x));
  }
  if (type == "varString") {
    std::string s = g.String(40);
    e.WriteVarString(s);
    return Any("s:" + s);
  }
  if (type == "varUint8Array") {
    auto b = g.Bytes(40);
    e.WriteVarUint8Array(b);
    return Any("x:" + Hex(b));
  }
  if (type == "float32") {
    float f = g.Float32();
    e.WriteFloat32(f);
    return Any("n:" + NumberText(f));
  }
  if (type == "float64") {
    double f = g.Float64();
    e.WriteFloat64(f);
    return Any("n:" + NumberText(f));
  }
  if (type == "bigint64") {
    auto v = static_cast<int64_t>(g.rng_());
    e.WriteBigInt64(v);
    return Any("b:" + std::to_string(v));
  }
  if (type == "any") {
    Any v = g.AnyValue(0);
    tandem::lib0::WriteAny(e, v);
    return Describe(v);
  }
  const size_t n = g.Uint(200);
  Any::Array values;
  std::vector<uint8_t> column;
  if (type == "rle") {
    tandem::lib0::RleEncoder re;
    for (uint64_t v : g.Runs(n, 255)) {
      re.Write(static_cast<uint8_t>(v));
      values.push_back(Any("n:" + std::to_string(v)));
    }
    column = re.Finish();
  } else if (type == "uintOptRle") {
    tandem::lib0::UintOptRleEncoder re;
    for (uint64_t v : g.Runs(n, g.Coin() ? 3 : 1u << 30)) {
      re.Write(v);
      values.push_back(Any("n:" + std::to_string(v)));
    }
    column = re.Finish();
  } else if (type == "intDiffOptRle") {
    tandem::lib0::IntDiffOptRleEncoder re;
    int64_t v = 0;
    for (uint64_t step : g.Runs(n, 40)) {
      v += static_cast<int64_t>(step) - 20;
      re.Write(v);
      values.push_back(Any("n:" + NumberText(static_cast<double>(v))));
    }
    column = re.Finish();
  } else {  // string
    tandem::lib0::StringEncoder re;
    for (size_t i = 0; i < n; ++i) {
      std::string s = g.String(g.Coin() ? 2 : 25);
      re.Write(s);
      values.push_back(Any("s:" + s));
    }
    column = re.Finish();
  }
  e.WriteVarUint(n);
  e.WriteVarUint8Array(column);
  return Any(std::move(values));
}

std::vector<uint8_t> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void WriteOutputs(const std::string& bin_path, const std::vector<uint8_t>& bytes,
                  const std::string& json_path, const Any& description) {
  std::ofstream(bin_path, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()),
             static_cast<std::streamsize>(bytes.size()));
  std::ofstream(json_path) << tandem::lib0::ToJson(description);
}

Any SectionsToJson(std::vector<Section>& sections) {
  Any::Array out;
  for (auto& s : sections) {
    Any::Object o;
    tandem::lib0::JsObjectSet(o, "type", Any(s.type));
    tandem::lib0::JsObjectSet(o, "values", Any(std::move(s.descriptions)));
    out.push_back(Any(std::move(o)));
  }
  return Any(std::move(out));
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() == 4 && args[0] == "reencode") {
    auto input = ReadFile(args[1]);
    Decoder d(input);
    Encoder e;
    std::vector<Section> sections;
    const uint64_t n = d.ReadCount();
    e.WriteVarUint(n);
    for (uint64_t i = 0; i < n && d.ok(); ++i) {
      Section s;
      s.type = std::string(d.ReadVarString());
      const uint64_t count = d.ReadCount();
      e.WriteVarString(s.type);
      e.WriteVarUint(count);
      for (uint64_t j = 0; j < count && d.ok(); ++j)
        s.descriptions.push_back(ReencodeItem(s.type, d, e));
      sections.push_back(std::move(s));
    }
    if (!d.ok() || d.HasContent()) {
      std::cerr << "decode failed: " << (d.ok() ? "trailing bytes" : d.status().ToString()) << "\n";
      return 2;
    }
    WriteOutputs(args[2], e.data(), args[3], SectionsToJson(sections));
    return 0;
  }
  if (args.size() == 5 && args[0] == "generate") {
    Generator g(std::stoull(args[1]));
    const uint64_t count = std::stoull(args[2]);
    const std::vector<std::string> types = {
        "varUint",  "varInt", "varString", "varUint8Array", "float32",       "float64",
        "bigint64", "any",    "rle",       "uintOptRle",    "intDiffOptRle", "string"};
    Encoder e;
    std::vector<Section> sections;
    e.WriteVarUint(types.size());
    for (const auto& t : types) {
      Section s{t, {}};
      // Column items hold up to 200 values each: add items until `count` values are written.
      Encoder items;
      uint64_t values = 0;
      while (values < count) {
        s.descriptions.push_back(GenerateItem(t, g, items));
        values += IsColumn(t) ? s.descriptions.back().as_array().size() : 1;
      }
      e.WriteVarString(t);
      e.WriteVarUint(s.descriptions.size());
      e.WriteBytes(items.data());
      sections.push_back(std::move(s));
    }
    WriteOutputs(args[3], e.data(), args[4], SectionsToJson(sections));
    return 0;
  }
  std::cerr << "usage: lib0_interop_tool reencode IN OUT.bin OUT.json\n"
               "       lib0_interop_tool generate SEED COUNT OUT.bin OUT.json\n";
  return 2;
}

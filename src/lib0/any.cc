#include "lib0/any.h"

#include <bit>
#include <cmath>
#include <limits>

namespace tandem::lib0 {

const Any* Any::Find(std::string_view key) const {
  if (kind() != Kind::kObject) return nullptr;
  for (const auto& [k, v] : as_object()) {
    if (k == key) return &v;
  }
  return nullptr;
}

bool operator==(const Any& a, const Any& b) {
  if (a.kind() != b.kind()) return false;
  if (a.kind() == Any::Kind::kNumber) {
    return std::bit_cast<uint64_t>(a.as_number()) == std::bit_cast<uint64_t>(b.as_number());
  }
  return a.v_ == b.v_;
}

bool IsArrayIndexKey(std::string_view key) {
  if (key.empty() || key.size() > 10) return false;
  if (key.size() > 1 && key[0] == '0') return false;
  uint64_t v = 0;
  for (char c : key) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  return v <= 4294967294ULL;
}

namespace {
uint64_t IndexValue(std::string_view key) {
  uint64_t v = 0;
  for (char c : key) v = v * 10 + static_cast<uint64_t>(c - '0');
  return v;
}
}  // namespace

void JsObjectSet(Any::Object& obj, std::string key, Any value) {
  for (auto& [k, v] : obj) {
    if (k == key) {
      v = std::move(value);
      return;
    }
  }
  if (!IsArrayIndexKey(key)) {
    obj.emplace_back(std::move(key), std::move(value));
    return;
  }
  const uint64_t index = IndexValue(key);
  auto it = obj.begin();
  while (it != obj.end() && IsArrayIndexKey(it->first) && IndexValue(it->first) < index) ++it;
  obj.emplace(it, std::move(key), std::move(value));
}

namespace {

bool IsFloat32(double d) {
  if (std::isnan(d)) return false;
  if (std::isinf(d)) return true;
  if (std::fabs(d) > static_cast<double>(std::numeric_limits<float>::max())) return false;
  return static_cast<double>(static_cast<float>(d)) == d;
}

void WriteNumber(Encoder& e, double d) {
  // lib0: integers within 31 bits as varInt, else float32 when exact, else float64.
  if (std::isfinite(d) && std::trunc(d) == d && std::fabs(d) <= 2147483647.0) {
    e.WriteUint8(125);
    e.WriteVarIntSigned(std::signbit(d), static_cast<uint64_t>(std::fabs(d)));
  } else if (IsFloat32(d)) {
    e.WriteUint8(124);
    e.WriteFloat32(static_cast<float>(d));
  } else {
    e.WriteUint8(123);
    e.WriteFloat64(d);
  }
}

Any ReadAnyAt(Decoder& d, int depth) {
  if (depth > kMaxAnyDepth) {
    d.Fail("any value nested too deeply");
    return {};
  }
  const uint8_t tag = d.ReadUint8();
  if (!d.ok()) return {};
  switch (tag) {
    case 127: return Any::Undefined();
    case 126: return Any::Null();
    case 125: {
      SignedVarInt v = d.ReadVarIntSigned();
      const double m = static_cast<double>(v.magnitude);
      return Any(v.negative ? -m : m);
    }
    case 124: return Any(static_cast<double>(d.ReadFloat32()));
    case 123: return Any(d.ReadFloat64());
    case 122: return Any::BigInt(d.ReadBigInt64());
    case 121: return Any(false);
    case 120: return Any(true);
    case 119: return Any(std::string(d.ReadVarString()));
    case 118: {
      const uint64_t n = d.ReadCount(2);  // each entry: key length byte + value tag
      Any::Object obj;
      obj.reserve(static_cast<size_t>(n));
      for (uint64_t i = 0; i < n && d.ok(); ++i) {
        std::string key(d.ReadVarString());
        Any value = ReadAnyAt(d, depth + 1);
        JsObjectSet(obj, std::move(key), std::move(value));
      }
      return Any(std::move(obj));
    }
    case 117: {
      const uint64_t n = d.ReadCount(1);
      Any::Array arr;
      arr.reserve(static_cast<size_t>(n));
      for (uint64_t i = 0; i < n && d.ok(); ++i) arr.push_back(ReadAnyAt(d, depth + 1));
      return Any(std::move(arr));
    }
    case 116: {
      auto bytes = d.ReadVarUint8Array();
      return Any::Bytes(Any::Binary(bytes.begin(), bytes.end()));
    }
    default: d.Fail("unknown any tag " + std::to_string(tag)); return {};
  }
}

}  // namespace

void WriteAny(Encoder& e, const Any& value) {
  switch (value.kind()) {
    case Any::Kind::kUndefined: e.WriteUint8(127); break;
    case Any::Kind::kNull: e.WriteUint8(126); break;
    case Any::Kind::kBool: e.WriteUint8(value.as_bool() ? 120 : 121); break;
    case Any::Kind::kNumber: WriteNumber(e, value.as_number()); break;
    case Any::Kind::kBigInt:
      e.WriteUint8(122);
      e.WriteBigInt64(value.as_bigint());
      break;
    case Any::Kind::kString:
      e.WriteUint8(119);
      e.WriteVarString(value.as_string());
      break;
    case Any::Kind::kBinary:
      e.WriteUint8(116);
      e.WriteVarUint8Array(value.as_binary());
      break;
    case Any::Kind::kArray:
      e.WriteUint8(117);
      e.WriteVarUint(value.as_array().size());
      for (const Any& item : value.as_array()) WriteAny(e, item);
      break;
    case Any::Kind::kObject:
      e.WriteUint8(118);
      e.WriteVarUint(value.as_object().size());
      for (const auto& [k, v] : value.as_object()) {
        e.WriteVarString(k);
        WriteAny(e, v);
      }
      break;
  }
}

Any ReadAny(Decoder& decoder) {
  return ReadAnyAt(decoder, 0);
}

}  // namespace tandem::lib0

#pragma once
// lib0's `any`: the JSON-like values Yjs stores in maps and arrays (ContentAny), written with
// tags 116..127 by lib0 `writeAny`. Numbers are JS numbers (double); BigInt is a separate kind.
// Objects keep JavaScript's own key order (Object.keys: array-index keys ascending, then
// insertion order), because that order decides the bytes lib0 writes.

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "lib0/decoder.h"
#include "lib0/encoder.h"

namespace tandem::lib0 {

class Any {
 public:
  using Array = std::vector<Any>;
  using Object = std::vector<std::pair<std::string, Any>>;
  using Binary = std::vector<uint8_t>;

  enum class Kind : uint8_t {
    kUndefined,
    kNull,
    kBool,
    kNumber,
    kBigInt,
    kString,
    kBinary,
    kArray,
    kObject
  };

  Any() = default;                            // undefined
  Any(std::nullptr_t) : v_(nullptr) {}        // NOLINT(google-explicit-constructor)
  Any(bool b) : v_(b) {}                      // NOLINT(google-explicit-constructor)
  Any(double d) : v_(d) {}                    // NOLINT(google-explicit-constructor)
  Any(int i) : v_(static_cast<double>(i)) {}  // NOLINT(google-explicit-constructor)
  Any(std::string s) : v_(std::move(s)) {}    // NOLINT(google-explicit-constructor)
  Any(const char* s) : v_(std::string(s)) {}  // NOLINT(google-explicit-constructor)
  Any(Array a) : v_(std::move(a)) {}          // NOLINT(google-explicit-constructor)
  Any(Object o) : v_(std::move(o)) {}         // NOLINT(google-explicit-constructor)
  static Any Undefined() { return {}; }
  static Any Null() { return Any(nullptr); }
  static Any BigInt(int64_t v) {
    Any a;
    a.v_ = v;
    return a;
  }
  static Any Bytes(Binary b) {
    Any a;
    a.v_ = std::move(b);
    return a;
  }

  Kind kind() const { return static_cast<Kind>(v_.index()); }
  bool is_undefined() const { return kind() == Kind::kUndefined; }
  bool is_null() const { return kind() == Kind::kNull; }

  // REQUIRES: the matching kind().
  bool as_bool() const { return std::get<bool>(v_); }
  double as_number() const { return std::get<double>(v_); }
  int64_t as_bigint() const { return std::get<int64_t>(v_); }
  const std::string& as_string() const { return std::get<std::string>(v_); }
  const Binary& as_binary() const { return std::get<Binary>(v_); }
  const Array& as_array() const { return std::get<Array>(v_); }
  Array& as_array() { return std::get<Array>(v_); }
  const Object& as_object() const { return std::get<Object>(v_); }
  Object& as_object() { return std::get<Object>(v_); }

  // Object property lookup; nullptr when absent or not an object.
  const Any* Find(std::string_view key) const;

  // Structural equality; numbers compare by bits so -0 != 0 and NaN == NaN (what a round trip
  // must preserve).
  friend bool operator==(const Any& a, const Any& b);

 private:
  std::variant<std::monostate, std::nullptr_t, bool, double, int64_t, std::string, Binary, Array,
               Object>
      v_;
};

// `obj[key] = value` with JavaScript's property order: an existing key keeps its place,
// array-index keys ("0".."4294967294") sort numerically before all others.
void JsObjectSet(Any::Object& obj, std::string key, Any value);
bool IsArrayIndexKey(std::string_view key);

// lib0 writeAny / readAny. Reading fails (sticky) on unknown tags, nesting deeper than
// kMaxAnyDepth, and counts the input cannot hold.
inline constexpr int kMaxAnyDepth = 1000;
void WriteAny(Encoder& encoder, const Any& value);
Any ReadAny(Decoder& decoder);

}  // namespace tandem::lib0

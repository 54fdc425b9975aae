#include "lib0/json.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "lib0/utf.h"

namespace tandem::lib0 {

std::string JsNumberToString(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
  if (d == 0) return "0";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), d, std::chars_format::scientific);
  std::string_view sci(buf, static_cast<size_t>(res.ptr - buf));
  std::string out;
  if (sci.front() == '-') {
    out.push_back('-');
    sci.remove_prefix(1);
  }
  const size_t e_pos = sci.find('e');
  std::string digits;
  for (char c : sci.substr(0, e_pos)) {
    if (c != '.') digits.push_back(c);
  }
  int exponent = 0;
  std::from_chars(sci.data() + e_pos + (sci[e_pos + 1] == '+' ? 2 : 1), sci.data() + sci.size(),
                  exponent);
  const int k = static_cast<int>(digits.size());
  const int n = exponent + 1;  // value = 0.digits * 10^n
  if (k <= n && n <= 21) {
    out += digits;
    out.append(static_cast<size_t>(n - k), '0');
  } else if (0 < n && n <= 21) {
    out += digits.substr(0, static_cast<size_t>(n));
    out.push_back('.');
    out += digits.substr(static_cast<size_t>(n));
  } else if (-6 < n && n <= 0) {
    out += "0.";
    out.append(static_cast<size_t>(-n), '0');
    out += digits;
  } else {
    out.push_back(digits[0]);
    if (k > 1) {
      out.push_back('.');
      out += digits.substr(1);
    }
    out.push_back('e');
    out.push_back(n - 1 >= 0 ? '+' : '-');
    out += std::to_string(std::abs(n - 1));
  }
  return out;
}

void AppendJsonString(std::string& out, std::string_view s) {
  out.push_back('"');
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char esc[8];
          std::snprintf(esc, sizeof(esc), "\\u%04x", c);
          out += esc;
        } else {
          out.push_back(ch);
        }
    }
  }
  out.push_back('"');
}

namespace {

void AppendJsonValue(std::string& out, const Any& v, bool top_level) {
  switch (v.kind()) {
    case Any::Kind::kUndefined: out += top_level ? "undefined" : "null"; break;
    case Any::Kind::kNull: out += "null"; break;
    case Any::Kind::kBool: out += v.as_bool() ? "true" : "false"; break;
    case Any::Kind::kNumber: {
      const double d = v.as_number();
      out += std::isfinite(d) ? JsNumberToString(d) : "null";
      break;
    }
    case Any::Kind::kBigInt: out += std::to_string(v.as_bigint()); break;
    case Any::Kind::kString: AppendJsonString(out, v.as_string()); break;
    case Any::Kind::kBinary: {
      out.push_back('{');
      const auto& b = v.as_binary();
      for (size_t i = 0; i < b.size(); ++i) {
        if (i > 0) out.push_back(',');
        out.push_back('"');
        out += std::to_string(i);
        out += "\":";
        out += std::to_string(b[i]);
      }
      out.push_back('}');
      break;
    }
    case Any::Kind::kArray: {
      out.push_back('[');
      bool first = true;
      for (const Any& item : v.as_array()) {
        if (!first) out.push_back(',');
        first = false;
        AppendJsonValue(out, item, false);
      }
      out.push_back(']');
      break;
    }
    case Any::Kind::kObject: {
      out.push_back('{');
      bool first = true;
      for (const auto& [key, item] : v.as_object()) {
        if (item.is_undefined()) continue;
        if (!first) out.push_back(',');
        first = false;
        AppendJsonString(out, key);
        out.push_back(':');
        AppendJsonValue(out, item, false);
      }
      out.push_back('}');
      break;
    }
  }
}

class JsonParser {
 public:
  explicit JsonParser(std::string_view text) : s_(text) {}

  Result<Any> Parse() {
    SkipSpace();
    if (s_.substr(i_) == "undefined") return Any::Undefined();
    Any v = Value(0);
    SkipSpace();
    if (error_.empty() && i_ != s_.size()) Fail("unexpected text after JSON value");
    if (!error_.empty()) return MalformedError(error_ + " at offset " + std::to_string(error_pos_));
    return v;
  }

 private:
  void Fail(const char* what) {
    if (!error_.empty()) return;
    error_ = what;
    error_pos_ = i_;
    i_ = s_.size();
  }
  void SkipSpace() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r'))
      ++i_;
  }
  bool Consume(std::string_view word) {
    if (s_.substr(i_, word.size()) != word) return false;
    i_ += word.size();
    return true;
  }

  Any Value(int depth) {
    if (depth > kMaxAnyDepth) {
      Fail("JSON nested too deeply");
      return {};
    }
    SkipSpace();
    if (i_ >= s_.size()) {
      Fail("unexpected end of JSON");
      return {};
    }
    const char c = s_[i_];
    if (c == '{') return ObjectValue(depth);
    if (c == '[') return ArrayValue(depth);
    if (c == '"') return Any(StringValue());
    if (Consume("true")) return Any(true);
    if (Consume("false")) return Any(false);
    if (Consume("null")) return Any::Null();
    if (c == '-' || (c >= '0' && c <= '9')) return NumberValue();
    Fail("unexpected character in JSON");
    return {};
  }

  Any ObjectValue(int depth) {
    ++i_;
    Any::Object obj;
    SkipSpace();
    if (Consume("}")) return Any(std::move(obj));
    while (error_.empty()) {
      SkipSpace();
      if (i_ >= s_.size() || s_[i_] != '"') {
        Fail("expected a string key in JSON object");
        break;
      }
      std::string key = StringValue();
      SkipSpace();
      if (!Consume(":")) {
        Fail("expected ':' in JSON object");
        break;
      }
      Any v = Value(depth + 1);
      JsObjectSet(obj, std::move(key), std::move(v));
      SkipSpace();
      if (Consume("}")) break;
      if (!Consume(",")) Fail("expected ',' or '}' in JSON object");
    }
    return Any(std::move(obj));
  }

  Any ArrayValue(int depth) {
    ++i_;
    Any::Array arr;
    SkipSpace();
    if (Consume("]")) return Any(std::move(arr));
    while (error_.empty()) {
      arr.push_back(Value(depth + 1));
      SkipSpace();
      if (Consume("]")) break;
      if (!Consume(",")) Fail("expected ',' or ']' in JSON array");
    }
    return Any(std::move(arr));
  }

  bool Hex4(uint32_t& out) {
    if (s_.size() - i_ < 4) return false;
    out = 0;
    for (int k = 0; k < 4; ++k) {
      const char h = s_[i_++];
      out <<= 4;
      if (h >= '0' && h <= '9')
        out |= static_cast<uint32_t>(h - '0');
      else if (h >= 'a' && h <= 'f')
        out |= static_cast<uint32_t>(h - 'a' + 10);
      else if (h >= 'A' && h <= 'F')
        out |= static_cast<uint32_t>(h - 'A' + 10);
      else
        return false;
    }
    return true;
  }

  std::string StringValue() {
    ++i_;  // opening quote
    std::string out;
    while (i_ < s_.size()) {
      const char c = s_[i_++];
      if (c == '"') return out;
      if (static_cast<unsigned char>(c) < 0x20) {
        Fail("control character in JSON string");
        return out;
      }
      if (c != '\\') {
        out.push_back(c);
        continue;
      }
      if (i_ >= s_.size()) break;
      const char e = s_[i_++];
      switch (e) {
        case '"': out.push_back('"'); break;
        case '\\': out.push_back('\\'); break;
        case '/': out.push_back('/'); break;
        case 'b': out.push_back('\b'); break;
        case 'f': out.push_back('\f'); break;
        case 'n': out.push_back('\n'); break;
        case 'r': out.push_back('\r'); break;
        case 't': out.push_back('\t'); break;
        case 'u': {
          uint32_t cp;
          if (!Hex4(cp)) {
            Fail("bad \\u escape in JSON string");
            return out;
          }
          if (cp >= 0xd800 && cp <= 0xdbff && s_.substr(i_, 2) == "\\u") {
            const size_t save = i_;
            i_ += 2;
            uint32_t lo;
            if (Hex4(lo) && lo >= 0xdc00 && lo <= 0xdfff) {
              cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            } else {
              i_ = save;
            }
          }
          AppendUtf8(out, cp);
          break;
        }
        default: Fail("bad escape in JSON string"); return out;
      }
    }
    Fail("unterminated JSON string");
    return out;
  }

  Any NumberValue() {
    const size_t start = i_;
    if (s_[i_] == '-') ++i_;
    auto digits = [&] {
      const size_t b = i_;
      while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') ++i_;
      return i_ - b;
    };
    const size_t int_start = i_;
    const size_t int_digits = digits();
    if (int_digits == 0 || (int_digits > 1 && s_[int_start] == '0')) {
      Fail("bad JSON number");
      return {};
    }
    if (i_ < s_.size() && s_[i_] == '.') {
      ++i_;
      if (digits() == 0) {
        Fail("bad JSON number");
        return {};
      }
    }
    if (i_ < s_.size() && (s_[i_] == 'e' || s_[i_] == 'E')) {
      ++i_;
      if (i_ < s_.size() && (s_[i_] == '+' || s_[i_] == '-')) ++i_;
      if (digits() == 0) {
        Fail("bad JSON number");
        return {};
      }
    }
    double d = 0;
    auto res = std::from_chars(s_.data() + start, s_.data() + i_, d);
    if (res.ec == std::errc::result_out_of_range) {
      // from_chars reports overflow/underflow instead of rounding to +-Infinity/0 as JS does.
      const bool negative = s_[start] == '-';
      const std::string_view lit = s_.substr(start, i_ - start);
      const bool tiny =
          lit.find("e-") != std::string_view::npos || lit.find("E-") != std::string_view::npos;
      d = tiny ? (negative ? -0.0 : 0.0) : (negative ? -HUGE_VAL : HUGE_VAL);
    } else if (res.ec != std::errc()) {
      Fail("bad JSON number");
      return {};
    }
    return Any(d);
  }

  std::string_view s_;
  size_t i_ = 0;
  std::string error_;
  size_t error_pos_ = 0;
};

}  // namespace

void AppendJson(std::string& out, const Any& value) {
  AppendJsonValue(out, value, true);
}

std::string ToJson(const Any& value) {
  std::string out;
  AppendJson(out, value);
  return out;
}

Result<Any> ParseJson(std::string_view text) {
  return JsonParser(text).Parse();
}

}  // namespace tandem::lib0

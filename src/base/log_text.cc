#include "base/log_text.h"

namespace tandem {

namespace {
// Length of the valid UTF-8 sequence at s[i], or 0.
size_t Utf8SequenceLength(std::string_view s, size_t i) {
  const auto b = static_cast<unsigned char>(s[i]);
  size_t len = 0;
  if (b < 0x80) return 1;
  if (b >= 0xc2 && b <= 0xdf) len = 2;
  if (b >= 0xe0 && b <= 0xef) len = 3;
  if (b >= 0xf0 && b <= 0xf4) len = 4;
  if (len == 0 || i + len > s.size()) return 0;
  for (size_t k = 1; k < len; ++k) {
    if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) return 0;
  }
  return len;
}
}  // namespace

std::string Quoted(std::string_view text, size_t max_bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(std::min(text.size(), max_bytes) + 2);
  out.push_back('"');
  size_t i = 0;
  while (i < text.size()) {
    if (i >= max_bytes) {
      out += "...";
      break;
    }
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
      ++i;
      continue;
    }
    const size_t len = Utf8SequenceLength(text, i);
    if (len == 0 || c < 0x20 || c == 0x7f) {
      out += "\\x";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
      ++i;
      continue;
    }
    out.append(text.substr(i, len));
    i += len;
  }
  out.push_back('"');
  return out;
}

}  // namespace tandem

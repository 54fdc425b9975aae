#include "lib0/utf.h"

namespace tandem::lib0 {

bool IsValidUtf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  while (p < end) {
    // Fast path for ASCII runs, 8 bytes at a time.
    while (end - p >= 8) {
      uint64_t chunk;
      __builtin_memcpy(&chunk, p, 8);
      if (chunk & 0x8080808080808080ULL) break;
      p += 8;
    }
    if (p >= end) break;
    const unsigned char c = *p;
    if (c < 0x80) {
      ++p;
      continue;
    }
    if (c >= 0xc2 && c <= 0xdf) {
      if (end - p < 2 || (p[1] & 0xc0) != 0x80) return false;
      p += 2;
    } else if (c >= 0xe0 && c <= 0xef) {
      if (end - p < 3 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80) return false;
      if (c == 0xe0 && p[1] < 0xa0) return false;  // overlong
      if (c == 0xed && p[1] > 0x9f) return false;  // surrogate
      p += 3;
    } else if (c >= 0xf0 && c <= 0xf4) {
      if (end - p < 4 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80 || (p[3] & 0xc0) != 0x80) {
        return false;
      }
      if (c == 0xf0 && p[1] < 0x90) return false;  // overlong
      if (c == 0xf4 && p[1] > 0x8f) return false;  // > U+10FFFF
      p += 4;
    } else {
      return false;
    }
  }
  return true;
}

size_t Utf16Length(std::string_view utf8) {
  size_t n = 0;
  size_t i = 0;
  // ASCII runs, 8 bytes at a time: one unit per byte.
  while (utf8.size() - i >= 8) {
    uint64_t chunk;
    __builtin_memcpy(&chunk, utf8.data() + i, 8);
    if (chunk & 0x8080808080808080ULL) break;
    n += 8;
    i += 8;
  }
  for (unsigned char c : utf8.substr(i)) {
    // Every non-continuation byte starts a code point; 4-byte sequences need two units.
    n += static_cast<size_t>((c & 0xc0) != 0x80) + static_cast<size_t>(c >= 0xf0);
  }
  return n;
}

size_t Utf8OffsetOfUtf16Index(std::string_view utf8, size_t index, bool* split_pair) {
  if (split_pair != nullptr) *split_pair = false;
  size_t units = 0;
  size_t i = 0;
  while (i < utf8.size() && units < index) {
    const auto c = static_cast<unsigned char>(utf8[i]);
    size_t len = c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
    size_t u = len == 4 ? 2 : 1;
    if (units + u > index) {  // index is inside a surrogate pair
      if (split_pair != nullptr) *split_pair = true;
      return i;
    }
    units += u;
    i += len;
  }
  return i;
}

void AppendUtf8(std::string& out, uint32_t cp) {
  if (cp >= 0xd800 && cp <= 0xdfff) cp = 0xfffd;
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xc0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xe0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else {
    out.push_back(static_cast<char>(0xf0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  }
}

std::string Utf16Slice(std::string_view utf8, size_t begin, size_t end) {
  if (end <= begin) return {};
  bool begin_split = false;
  bool end_split = false;
  size_t b = Utf8OffsetOfUtf16Index(utf8, begin, &begin_split);
  size_t e = Utf8OffsetOfUtf16Index(utf8, end, &end_split);
  std::string out;
  if (begin_split) {
    // The slice starts with the low half of a pair: a lone surrogate, encoded as U+FFFD.
    AppendUtf8(out, 0xfffd);
    b += 4;
    if (end_split && e < b) return out;  // slice is exactly that one half
  }
  if (e > b) out.append(utf8.substr(b, e - b));
  if (end_split) AppendUtf8(out, 0xfffd);  // ends with the high half of a pair
  return out;
}

std::string Utf16ToUtf8(std::u16string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    uint32_t c = s[i];
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.size() && s[i + 1] >= 0xdc00 &&
        s[i + 1] <= 0xdfff) {
      c = 0x10000 + ((c - 0xd800) << 10) + (s[i + 1] - 0xdc00);
      ++i;
    }
    AppendUtf8(out, c);
  }
  return out;
}

std::u16string Utf8ToUtf16(std::string_view s) {
  std::u16string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    const size_t len = c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
    if (i + len > s.size()) break;  // truncated input: stop rather than read past the end
    uint32_t cp;
    if (c < 0x80) {
      cp = c;
      i += 1;
    } else if (c < 0xe0) {
      cp = ((c & 0x1fu) << 6) | (static_cast<unsigned char>(s[i + 1]) & 0x3fu);
      i += 2;
    } else if (c < 0xf0) {
      cp = ((c & 0x0fu) << 12) | ((static_cast<unsigned char>(s[i + 1]) & 0x3fu) << 6) |
           (static_cast<unsigned char>(s[i + 2]) & 0x3fu);
      i += 3;
    } else {
      cp = ((c & 0x07u) << 18) | ((static_cast<unsigned char>(s[i + 1]) & 0x3fu) << 12) |
           ((static_cast<unsigned char>(s[i + 2]) & 0x3fu) << 6) |
           (static_cast<unsigned char>(s[i + 3]) & 0x3fu);
      i += 4;
    }
    if (cp >= 0x10000) {
      cp -= 0x10000;
      out.push_back(static_cast<char16_t>(0xd800 + (cp >> 10)));
      out.push_back(static_cast<char16_t>(0xdc00 + (cp & 0x3ff)));
    } else {
      out.push_back(static_cast<char16_t>(cp));
    }
  }
  return out;
}

}  // namespace tandem::lib0

#pragma once
// UTF-8 <-> UTF-16 bookkeeping. Tandem stores text as UTF-8 but Yjs counts lengths, clocks and
// offsets in UTF-16 code units, as JavaScript strings do.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace tandem::lib0 {

// Strict UTF-8 as a fatal TextDecoder accepts it: no overlongs, no surrogates, <= U+10FFFF.
bool IsValidUtf8(std::string_view s);

// Number of UTF-16 code units (JS `.length`) of valid UTF-8.
size_t Utf16Length(std::string_view utf8);

// Byte offset in `utf8` of UTF-16 index `index`. If `index` falls between the two halves of a
// surrogate pair, *split_pair is set and the offset of the start of that code point is returned.
size_t Utf8OffsetOfUtf16Index(std::string_view utf8, size_t index, bool* split_pair = nullptr);

// JS string.slice semantics on UTF-8 text: the UTF-16 range [begin, end). A surrogate pair cut
// in half becomes U+FFFD, as TextEncoder does with a lone surrogate.
std::string Utf16Slice(std::string_view utf8, size_t begin, size_t end);

// Appends the UTF-8 encoding of a code point (a lone surrogate is written as U+FFFD).
void AppendUtf8(std::string& out, uint32_t code_point);

// Converts UTF-16 code units to UTF-8, lone surrogates as U+FFFD.
std::string Utf16ToUtf8(std::u16string_view utf16);
// REQUIRES: valid UTF-8 (a truncated last code point is dropped).
std::u16string Utf8ToUtf16(std::string_view utf8);

}  // namespace tandem::lib0

#pragma once
// JSON text exactly as JavaScript's JSON.stringify writes it and JSON.parse reads it, for the
// places where Yjs stores JSON text (V1 ContentJSON, ContentEmbed, ContentFormat) and for
// printing documents. Byte-identical V1 re-encoding depends on JS number formatting and escaping.

#include <string>
#include <string_view>

#include "base/result.h"
#include "lib0/any.h"

namespace tandem::lib0 {

// Number.prototype.toString(): shortest round-trip digits, exponent form outside [1e-7, 1e21).
std::string JsNumberToString(double d);

// JSON.stringify(value). Undefined object members are omitted and become null in arrays; NaN
// and Infinity become null; Uint8Array becomes {"0":..}; a top-level undefined gives "undefined"
// (what yjs writes for ContentJSON); BigInt (JS throws) is written as its digits.
std::string ToJson(const Any& value);
void AppendJson(std::string& out, const Any& value);
// JSON string literal with JSON.stringify's escaping.
void AppendJsonString(std::string& out, std::string_view utf8);

// JSON.parse(text), plus the bare word `undefined` that yjs writes for undefined ContentJSON
// entries. Lone surrogate escapes become U+FFFD.
Result<Any> ParseJson(std::string_view text);

}  // namespace tandem::lib0

#pragma once
// Base64 (RFC 4648): the standard alphabet with padding (what the document API and webhooks
// write) and the URL-safe alphabet without padding (JWTs). Decoding accepts either alphabet,
// with or without padding, so that clients may send what their language gives them.

#include <string>
#include <string_view>

#include "base/result.h"

namespace tandem {

std::string Base64Encode(std::string_view bytes);
std::string Base64UrlEncode(std::string_view bytes);  // no padding
// kMalformed on a character outside both alphabets, misplaced padding or an impossible length.
Result<std::string> Base64Decode(std::string_view text);

}  // namespace tandem

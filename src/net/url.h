#pragma once
// URLs for the HTTP client: http(s)://host[:port][/path][?query], and percent-encoding.

#include <cstdint>
#include <string>
#include <string_view>

#include "base/result.h"

namespace tandem::net {

struct Url {
  std::string scheme;  // "http" or "https"
  std::string host;
  uint16_t port = 0;
  std::string target;  // path and query, at least "/"
  bool tls() const { return scheme == "https"; }
};

Result<Url> ParseUrl(std::string_view text);
// RFC 3986 component encoding: unreserved characters kept, every other byte as %XX.
std::string UrlEncodeComponent(std::string_view s);
// Percent-decoding, the one decoder of the code base: rejects bad %-escapes. With
// `plus_is_space`, '+' is a space (query values, as URLSearchParams reads them).
Result<std::string> UrlDecode(std::string_view s, bool plus_is_space = false);

}  // namespace tandem::net

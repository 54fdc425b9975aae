#pragma once
// The Authorization header as servers read it: `Bearer <token>` with the scheme matched without
// regard to case (RFC 7235 §2.1) and one or more spaces before the token, and secrets compared
// in constant time.

#include <string_view>

namespace tandem::net {

// The token of a Bearer credential, or empty if the header holds none.
std::string_view BearerToken(std::string_view authorization_header);
// a == b, in time that depends on neither content nor length (SHA-256 of both, CRYPTO_memcmp).
bool SecretEquals(std::string_view a, std::string_view b);

}  // namespace tandem::net

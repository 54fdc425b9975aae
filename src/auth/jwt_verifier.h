#pragma once
// HS256 JWTs: base64url(header).base64url(payload).base64url(HMAC-SHA256). Claims: `sub` (user
// id, required), `exp` / `nbf` (unix seconds), `rooms` (room ids, or prefixes ending in `*`),
// `access` ("write" | "read"; absent = read). Verification is synchronous and thread-safe.

#include <functional>
#include <string>

#include "auth/token_verifier.h"

namespace tandem::auth {

class JwtVerifier : public TokenVerifier {
 public:
  // `now` returns unix seconds (injectable for tests).
  explicit JwtVerifier(std::string secret, std::function<int64_t()> now = nullptr);

  Decision Check(const AuthRequest& request) const;
  void Verify(AuthRequest request, std::function<void(Decision)> done) override {
    done(Check(request));
  }
  std::string_view mode() const override { return "jwt"; }

 private:
  std::string secret_;
  std::function<int64_t()> now_;
};

// Signs `payload_json` as an HS256 JWT (for tests, tools and the docs' examples).
std::string SignHs256Jwt(std::string_view secret, std::string_view payload_json);
// base64url without padding, strictly (Base64UrlEncode is in base/base64.h).
Result<std::string> Base64UrlDecode(std::string_view text);

}  // namespace tandem::auth

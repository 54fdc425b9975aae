#pragma once
// Auth at connect: a verifier decides, from the token a client presented and the room it asks
// for, whether it may enter and with which access. docs/AUTH.md describes the modes.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "base/result.h"

namespace tandem::auth {

enum class Access { kWrite, kRead };

struct AuthRequest {
  std::string token;
  std::string room_id;
};

// Either admitted (user id + access) or refused with a WebSocket close code and a reason.
struct Decision {
  bool admitted = false;
  std::string user_id;
  Access access = Access::kRead;
  uint16_t close_code = 0;  // when refused: 4401, 4403 or 1013
  std::string reason;

  static Decision Admit(std::string user, Access access) {
    return {true, std::move(user), access, 0, {}};
  }
  static Decision Refuse(uint16_t code, std::string reason) {
    return {false, {}, Access::kRead, code, std::move(reason)};
  }
};

class TokenVerifier {
 public:
  virtual ~TokenVerifier() = default;
  // Calls done exactly once, possibly later on the verifier's executor. Thread-safe.
  virtual void Verify(AuthRequest request, std::function<void(Decision)> done) = 0;
  virtual std::string_view mode() const = 0;
};

enum class AuthMode { kNone, kJwt, kHttp };
// "none", "jwt", "http".
inline std::string_view AuthModeName(AuthMode mode) {
  switch (mode) {
    case AuthMode::kNone: return "none";
    case AuthMode::kJwt: return "jwt";
    case AuthMode::kHttp: return "http";
  }
  return "?";
}

struct AuthOptions {
  AuthMode mode = AuthMode::kNone;
  std::string jwt_secret;
  std::string auth_url;
  std::string auth_secret;
  std::chrono::milliseconds cache_ttl{30'000};
  std::chrono::milliseconds timeout{5'000};
  size_t max_cache_entries = 10'000;
};

}  // namespace tandem::auth

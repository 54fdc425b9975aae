#include "auth/jwt_verifier.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <chrono>

#include "base/base64.h"
#include "lib0/json.h"
#include "protocol/close_codes.h"

namespace tandem::auth {

namespace {

std::string HmacSha256(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len);
  return std::string(reinterpret_cast<char*>(out), len);
}

Decision Unauthorized(std::string reason) {
  return Decision::Refuse(protocol::kCloseUnauthorized, std::move(reason));
}

bool RoomMatches(std::string_view pattern, std::string_view room) {
  if (!pattern.empty() && pattern.back() == '*') {
    pattern.remove_suffix(1);
    return room.substr(0, pattern.size()) == pattern;
  }
  return pattern == room;
}

}  // namespace

Result<std::string> Base64UrlDecode(std::string_view text) {
  // JWTs use the URL-safe alphabet without padding (RFC 7515 §2); nothing else is accepted.
  if (text.find_first_of("+/=") != std::string_view::npos) return MalformedError("bad base64url");
  return Base64Decode(text);
}

std::string SignHs256Jwt(std::string_view secret, std::string_view payload_json) {
  std::string signing_input =
      Base64UrlEncode(R"({"alg":"HS256","typ":"JWT"})") + "." + Base64UrlEncode(payload_json);
  return signing_input + "." + Base64UrlEncode(HmacSha256(secret, signing_input));
}

JwtVerifier::JwtVerifier(std::string secret, std::function<int64_t()> now)
    : secret_(std::move(secret)), now_(std::move(now)) {
  if (!now_) {
    now_ = [] {
      return std::chrono::duration_cast<std::chrono::seconds>(
                 std::chrono::system_clock::now().time_since_epoch())
          .count();
    };
  }
}

Decision JwtVerifier::Check(const AuthRequest& request) const {
  const std::string& token = request.token;
  if (token.empty()) return Unauthorized("missing token");
  const size_t dot1 = token.find('.');
  const size_t dot2 = dot1 == std::string::npos ? std::string::npos : token.find('.', dot1 + 1);
  if (dot2 == std::string::npos || token.find('.', dot2 + 1) != std::string::npos) {
    return Unauthorized("invalid token: not a JWT");
  }
  auto header_text = Base64UrlDecode(std::string_view(token).substr(0, dot1));
  auto payload_text = Base64UrlDecode(std::string_view(token).substr(dot1 + 1, dot2 - dot1 - 1));
  auto signature = Base64UrlDecode(std::string_view(token).substr(dot2 + 1));
  if (!header_text.ok() || !payload_text.ok() || !signature.ok())
    return Unauthorized("invalid token: bad encoding");
  auto header = lib0::ParseJson(*header_text);
  if (!header.ok() || header->kind() != lib0::Any::Kind::kObject)
    return Unauthorized("invalid token: bad header");
  const lib0::Any* alg = header->Find("alg");
  if (alg == nullptr || alg->kind() != lib0::Any::Kind::kString || alg->as_string() != "HS256") {
    return Unauthorized("invalid token: only HS256 is accepted");
  }
  const std::string expected = HmacSha256(secret_, std::string_view(token).substr(0, dot2));
  if (signature->size() != expected.size() ||
      CRYPTO_memcmp(signature->data(), expected.data(), expected.size()) != 0) {
    return Unauthorized("invalid token: bad signature");
  }
  auto payload = lib0::ParseJson(*payload_text);
  if (!payload.ok() || payload->kind() != lib0::Any::Kind::kObject)
    return Unauthorized("invalid token: bad payload");
  const int64_t now = now_();
  const lib0::Any* exp = payload->Find("exp");
  if (exp != nullptr &&
      (exp->kind() != lib0::Any::Kind::kNumber || exp->as_number() <= static_cast<double>(now))) {
    return Unauthorized("token expired");
  }
  const lib0::Any* nbf = payload->Find("nbf");
  if (nbf != nullptr &&
      (nbf->kind() != lib0::Any::Kind::kNumber || nbf->as_number() > static_cast<double>(now))) {
    return Unauthorized("token not valid yet");
  }
  const lib0::Any* sub = payload->Find("sub");
  if (sub == nullptr || sub->kind() != lib0::Any::Kind::kString)
    return Unauthorized("invalid token: no sub claim");
  Access access = Access::kRead;
  if (const lib0::Any* a = payload->Find("access")) {
    if (a->kind() != lib0::Any::Kind::kString ||
        (a->as_string() != "write" && a->as_string() != "read")) {
      return Unauthorized("invalid token: access must be \"write\" or \"read\"");
    }
    access = a->as_string() == "write" ? Access::kWrite : Access::kRead;
  }
  const lib0::Any* rooms = payload->Find("rooms");
  bool allowed = false;
  if (rooms != nullptr && rooms->kind() == lib0::Any::Kind::kArray) {
    for (const auto& r : rooms->as_array()) {
      if (r.kind() == lib0::Any::Kind::kString && RoomMatches(r.as_string(), request.room_id))
        allowed = true;
    }
  }
  if (!allowed)
    return Decision::Refuse(protocol::kCloseForbidden, "no access to room " + request.room_id);
  return Decision::Admit(sub->as_string(), access);
}

}  // namespace tandem::auth

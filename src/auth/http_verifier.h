#pragma once
// Asks the app's backend: POST <url> {"token", "roomId"} with `Authorization: Bearer <secret>`.
// 200 {"userId", "access"} admits; 401 -> 4401; 403 -> 4403; anything else, a timeout or a
// connection failure -> 1013 (try again later). Answers (not failures) are cached per
// (token, room) for a TTL. Thread-safe.

#include <chrono>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "auth/token_verifier.h"
#include "net/http_client.h"

namespace tandem::auth {

class HttpVerifier : public TokenVerifier {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;
  HttpVerifier(std::shared_ptr<net::HttpClient> http, AuthOptions options, Clock clock = nullptr);

  void Verify(AuthRequest request, std::function<void(Decision)> done) override;
  std::string_view mode() const override { return "http"; }

 private:
  struct CacheEntry {
    Decision decision;
    std::chrono::steady_clock::time_point expires;
    std::list<std::string>::iterator lru;
  };
  std::optional<Decision> Lookup(const std::string& key);
  void Store(const std::string& key, const Decision& d);

  std::shared_ptr<net::HttpClient> http_;
  AuthOptions options_;
  Clock clock_;
  std::mutex mu_;
  std::unordered_map<std::string, CacheEntry> cache_;  // GUARDED_BY(mu_)
  std::list<std::string> lru_;                         // GUARDED_BY(mu_), oldest first
};

}  // namespace tandem::auth

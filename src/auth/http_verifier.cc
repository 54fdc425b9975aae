#include "auth/http_verifier.h"

#include "lib0/json.h"
#include "protocol/close_codes.h"

namespace tandem::auth {

HttpVerifier::HttpVerifier(std::shared_ptr<net::HttpClient> http, AuthOptions options, Clock clock)
    : http_(std::move(http)), options_(std::move(options)), clock_(std::move(clock)) {
  if (!clock_) clock_ = [] { return std::chrono::steady_clock::now(); };
}

std::optional<Decision> HttpVerifier::Lookup(const std::string& key) {
  std::lock_guard lock(mu_);
  auto it = cache_.find(key);
  if (it == cache_.end()) return std::nullopt;
  if (clock_() >= it->second.expires) {
    lru_.erase(it->second.lru);
    cache_.erase(it);
    return std::nullopt;
  }
  return it->second.decision;
}

void HttpVerifier::Store(const std::string& key, const Decision& d) {
  if (options_.cache_ttl.count() <= 0) return;
  std::lock_guard lock(mu_);
  if (auto it = cache_.find(key); it != cache_.end()) {
    lru_.erase(it->second.lru);
    cache_.erase(it);
  }
  while (cache_.size() >= options_.max_cache_entries && !lru_.empty()) {
    cache_.erase(lru_.front());
    lru_.pop_front();
  }
  lru_.push_back(key);
  cache_.emplace(key, CacheEntry{d, clock_() + options_.cache_ttl, std::prev(lru_.end())});
}

void HttpVerifier::Verify(AuthRequest request, std::function<void(Decision)> done) {
  if (request.token.empty()) {
    done(Decision::Refuse(protocol::kCloseUnauthorized, "missing token"));
    return;
  }
  std::string key = request.token;
  key.push_back('\0');
  key += request.room_id;
  if (auto cached = Lookup(key)) {
    done(std::move(*cached));
    return;
  }
  lib0::Any::Object body;
  lib0::JsObjectSet(body, "token", lib0::Any(request.token));
  lib0::JsObjectSet(body, "roomId", lib0::Any(request.room_id));
  net::HttpRequest req;
  req.method = "POST";
  req.url = options_.auth_url;
  req.headers = {{"Authorization", "Bearer " + options_.auth_secret},
                 {"Content-Type", "application/json"}};
  req.body = lib0::ToJson(lib0::Any(std::move(body)));
  req.connect_timeout = options_.timeout;
  req.total_timeout = options_.timeout;
  req.max_response_bytes = 64 * 1024;
  http_->Send(std::move(req), [this, key = std::move(key),
                               done = std::move(done)](Result<net::HttpResponse> r) {
    if (!r.ok()) {
      done(Decision::Refuse(protocol::kCloseTryAgain, "auth service unavailable"));
      return;
    }
    Decision d;
    if (r->status == 200) {
      auto reply = lib0::ParseJson(r->body);
      const lib0::Any* user = reply.ok() ? reply->Find("userId") : nullptr;
      const lib0::Any* access = reply.ok() ? reply->Find("access") : nullptr;
      if (user == nullptr || user->kind() != lib0::Any::Kind::kString || access == nullptr ||
          access->kind() != lib0::Any::Kind::kString ||
          (access->as_string() != "write" && access->as_string() != "read")) {
        done(Decision::Refuse(protocol::kCloseTryAgain, "auth service returned an invalid reply"));
        return;
      }
      d = Decision::Admit(user->as_string(),
                          access->as_string() == "write" ? Access::kWrite : Access::kRead);
    } else if (r->status == 401) {
      d = Decision::Refuse(protocol::kCloseUnauthorized, "token rejected by the auth service");
    } else if (r->status == 403) {
      d = Decision::Refuse(protocol::kCloseForbidden, "no access to this room");
    } else {
      done(Decision::Refuse(protocol::kCloseTryAgain,
                            "auth service unavailable (HTTP " + std::to_string(r->status) + ")"));
      return;
    }
    Store(key, d);
    done(std::move(d));
  });
}

}  // namespace tandem::auth

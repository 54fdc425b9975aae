#pragma once
// What an HTTP session needs from the server, and no more: the admission of a WebSocket (room
// id, shutdown, connection limit, auth) as one decision, connection ids, and the plain HTTP
// routes (health, readiness, metrics, and whatever handlers the composition root adds: the
// console, the document API). Owned by the Server; outlives every session. Thread-safe.

#include <atomic>
#include <boost/beast/http.hpp>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "auth/token_verifier.h"
#include "room/metrics.h"
#include "room/room_registry.h"
#include "server/upgrade_decision.h"
#include "server/ws_session.h"

namespace tandem::server {

using HttpRequest = boost::beast::http::request<boost::beast::http::string_body>;
using HttpResponse = boost::beast::http::response<boost::beast::http::string_body>;
using Respond = std::function<void(HttpResponse)>;
// Takes the requests it serves (returns true) and calls `respond` exactly once, from any thread;
// returns false to let the next handler look.
using HttpHandler = std::function<bool(const HttpRequest& request, Respond& respond)>;
using HttpRequestHeader = boost::beast::http::request_header<>;
// Looks at a request's header before its body is read: a response refuses it at once (wrong
// secret, method or content type: an unauthenticated client must not make the server read a
// large body); nullopt lets it through.
using HeaderScreen = std::function<std::optional<HttpResponse>(const HttpRequestHeader& header)>;

struct FrontDoorOptions {
  size_t max_connections = 20'000;
  SessionOptions session;
  size_t max_request_body_bytes = 64 * 1024;  // plain HTTP requests (the document API raises it)
};

class FrontDoor {
 public:
  FrontDoor(room::RoomRegistry& registry, auth::TokenVerifier& verifier, room::Metrics& metrics,
            FrontDoorOptions options);

  // Decides on an upgrade request; `done` runs once, possibly on the verifier's thread.
  void Admit(const HttpRequest& request, std::function<void(UpgradeDecision)> done);
  // Answers a plain HTTP request: the added handlers first, then /healthz, /readyz, /metrics,
  // then 404. `respond` may run on any thread.
  void HandleHttp(const HttpRequest& request, Respond respond);
  // REQUIRES: before the server starts.
  void AddHandler(HttpHandler handler) { handlers_.push_back(std::move(handler)); }
  // REQUIRES: before the server starts. Requests whose target starts with `prefix` are screened
  // by `screen` and may carry bodies of up to `max_body_bytes`.
  void AddRoute(std::string prefix, size_t max_body_bytes, HeaderScreen screen) {
    routes_.push_back({std::move(prefix), max_body_bytes, std::move(screen)});
  }
  // What an HTTP session asks once it has read a header: a refusal, or the body limit.
  std::optional<HttpResponse> Screen(const HttpRequestHeader& header) const;
  size_t BodyLimitFor(std::string_view target) const;
  size_t LargestBodyLimit() const;
  // REQUIRES: before the server starts. Adds Prometheus text to /metrics.
  void AddMetricsRenderer(std::function<std::string()> f) {
    metrics_renderers_.push_back(std::move(f));
  }

  // REQUIRES: before the server starts (it fits the limit under the descriptor limit).
  void set_max_connections(size_t n) { options_.max_connections = n; }
  bool shutting_down() const { return shutting_down_; }
  void set_shutting_down() { shutting_down_ = true; }
  // /readyz answers 503 with this reason while it returns a non-empty one (before Start()).
  void set_not_ready_reason(std::function<std::string()> f) { not_ready_reason_ = std::move(f); }
  uint64_t NextConnectionId() { return ++next_connection_id_; }
  room::RoomRegistry& registry() { return registry_; }
  room::Metrics& metrics() { return metrics_; }
  const FrontDoorOptions& options() const { return options_; }

 private:
  room::RoomRegistry& registry_;
  auth::TokenVerifier& verifier_;
  room::Metrics& metrics_;
  FrontDoorOptions options_;
  std::vector<HttpHandler> handlers_;
  struct Route {
    std::string prefix;
    size_t max_body_bytes;
    HeaderScreen screen;
  };
  std::vector<Route> routes_;
  std::vector<std::function<std::string()>> metrics_renderers_;
  std::function<std::string()> not_ready_reason_;
  std::atomic<bool> shutting_down_{false};
  std::atomic<uint64_t> next_connection_id_{0};
};

// Splits a request target into path and the value of the `token` query parameter.
struct ParsedTarget {
  std::string path;
  std::string token;
};
ParsedTarget ParseTarget(std::string_view target);
// The encoded room id in "/{room}" or "/parties/{party}/{room}"; empty if the path fits neither.
std::string_view RoomFromPath(std::string_view path);
// A respond that may be handed to several places (a room visit, a store answer): the first call
// wins, later ones do nothing.
Respond RespondOnce(Respond respond);
// A JSON error body `{"error": code, "message": message}` with its status.
HttpResponse JsonError(boost::beast::http::status status, std::string_view code,
                       std::string_view message);

}  // namespace tandem::server

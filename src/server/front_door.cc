#include "server/front_door.h"

#include <algorithm>
#include <memory>

#include "lib0/json.h"
#include "net/http_auth.h"
#include "net/url.h"
#include "protocol/close_codes.h"
#include "protocol/room_id.h"

namespace tandem::server {

namespace http = boost::beast::http;

ParsedTarget ParseTarget(std::string_view target) {
  ParsedTarget out;
  const size_t q = target.find('?');
  out.path = std::string(target.substr(0, q));
  if (q == std::string_view::npos) return out;
  std::string_view query = target.substr(q + 1);
  while (!query.empty()) {
    const size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    const size_t eq = pair.find('=');
    if (pair.substr(0, eq) == "token" && eq != std::string_view::npos) {
      const std::string_view raw = pair.substr(eq + 1);
      auto decoded = net::UrlDecode(raw, /*plus_is_space=*/true);
      out.token = decoded.ok() ? std::move(decoded).value() : std::string(raw);
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return out;
}

std::string_view RoomFromPath(std::string_view path) {
  if (path.size() < 2 || path[0] != '/') return {};
  std::string_view rest = path.substr(1);
  if (rest.find('/') == std::string_view::npos) return rest;  // "/{room}"
  constexpr std::string_view kParties = "parties/";
  if (rest.substr(0, kParties.size()) == kParties) {
    std::string_view party_room = rest.substr(kParties.size());
    const size_t slash = party_room.find('/');
    if (slash == std::string_view::npos || slash == 0) return {};
    std::string_view room = party_room.substr(slash + 1);
    if (room.find('/') != std::string_view::npos) return {};
    return room;
  }
  return {};
}

HttpResponse JsonError(http::status status, std::string_view code, std::string_view message) {
  HttpResponse res{status, 11};
  res.set(http::field::content_type, "application/json");
  std::string body = "{\"error\":";
  lib0::AppendJsonString(body, code);
  body += ",\"message\":";
  lib0::AppendJsonString(body, message);
  body += "}";
  res.body() = std::move(body);
  return res;
}

FrontDoor::FrontDoor(room::RoomRegistry& registry, auth::TokenVerifier& verifier,
                     room::Metrics& metrics, FrontDoorOptions options)
    : registry_(registry), verifier_(verifier), metrics_(metrics), options_(options) {}

void FrontDoor::Admit(const HttpRequest& request, std::function<void(UpgradeDecision)> done) {
  const ParsedTarget target = ParseTarget(request.target());
  const std::string_view encoded_room = RoomFromPath(target.path);
  if (encoded_room.empty()) {
    done(UpgradeDecision::Refuse("", protocol::kCloseBadRoom,
                                 "bad room path: use /{room} or /parties/{party}/{room}"));
    return;
  }
  auto room = net::UrlDecode(encoded_room);
  Status valid = room.ok() ? protocol::ValidateRoomId(*room) : room.status();
  if (!valid.ok()) {
    done(UpgradeDecision::Refuse("", protocol::kCloseBadRoom, "bad room id: " + valid.message()));
    return;
  }
  if (shutting_down()) {
    done(UpgradeDecision::Refuse(*room, protocol::kCloseGoingAway, "server shutting down"));
    return;
  }
  if (static_cast<size_t>(metrics_.connections.load()) >= options_.max_connections) {
    done(UpgradeDecision::Refuse(*room, protocol::kCloseTooMany,
                                 "too many connections on this server"));
    return;
  }
  std::string token = target.token;
  if (token.empty()) token = std::string(net::BearerToken(request[http::field::authorization]));
  verifier_.Verify(auth::AuthRequest{std::move(token), *room}, [room = *room,
                                                                done = std::move(done)](
                                                                   const auth::Decision& decision) {
    if (!decision.admitted) {
      done(UpgradeDecision::Refuse(room, decision.close_code, decision.reason));
      return;
    }
    done(UpgradeDecision{room, 0, {}, decision.access == auth::Access::kRead, decision.user_id});
  });
}

std::optional<HttpResponse> FrontDoor::Screen(const HttpRequestHeader& header) const {
  const std::string_view target = header.target();
  for (const Route& r : routes_) {
    if (target.substr(0, r.prefix.size()) == r.prefix)
      return r.screen ? r.screen(header) : std::nullopt;
  }
  return std::nullopt;
}

size_t FrontDoor::LargestBodyLimit() const {
  size_t largest = options_.max_request_body_bytes;
  for (const Route& r : routes_) largest = std::max(largest, r.max_body_bytes);
  return largest;
}

size_t FrontDoor::BodyLimitFor(std::string_view target) const {
  for (const Route& r : routes_) {
    if (target.substr(0, r.prefix.size()) == r.prefix) return r.max_body_bytes;
  }
  return options_.max_request_body_bytes;
}

void FrontDoor::HandleHttp(const HttpRequest& request, Respond respond) {
  for (const auto& handler : handlers_) {
    if (handler(request, respond)) return;
  }
  const std::string path = ParseTarget(request.target()).path;
  const bool get = request.method() == http::verb::get || request.method() == http::verb::head;
  auto text = [](http::status status, std::string body, const char* type = "text/plain") {
    HttpResponse res{status, 11};
    res.set(http::field::content_type, type);
    res.body() = std::move(body);
    return res;
  };
  if (path == "/healthz" || path == "/readyz" || path == "/metrics") {
    if (!get) {
      HttpResponse res =
          JsonError(http::status::method_not_allowed, "method_not_allowed", "use GET or HEAD");
      res.set(http::field::allow, "GET, HEAD");
      respond(std::move(res));
    } else if (path == "/healthz") {
      respond(text(http::status::ok, "ok\n"));
    } else if (path == "/readyz") {
      std::string not_ready = shutting_down()     ? "shutting down"
                              : not_ready_reason_ ? not_ready_reason_()
                                                  : std::string();
      respond(not_ready.empty() ? text(http::status::ok, "ready\n")
                                : text(http::status::service_unavailable, not_ready + "\n"));
    } else {
      std::string body = metrics_.RenderPrometheus();
      for (const auto& render : metrics_renderers_) body += render();
      respond(text(http::status::ok, std::move(body), "text/plain; version=0.0.4"));
    }
    return;
  }
  respond(JsonError(http::status::not_found, "not_found",
                    "not found: WebSocket clients connect to /{room} or /parties/{party}/{room}"));
}

Respond RespondOnce(Respond respond) {
  auto shared = std::make_shared<Respond>(std::move(respond));
  return [shared](HttpResponse res) {
    if (*shared) {
      auto f = std::move(*shared);
      *shared = nullptr;
      f(std::move(res));
    }
  };
}

}  // namespace tandem::server

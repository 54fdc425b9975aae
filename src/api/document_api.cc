#include "api/document_api.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <memory>
#include <mutex>
#include <optional>

#include "api/edits.h"
#include "base/base64.h"
#include "base/log_text.h"
#include "crdt/read_api.h"
#include "crdt/state_vector.h"
#include "lib0/json.h"
#include "net/http_auth.h"
#include "net/url.h"
#include "protocol/room_id.h"

namespace tandem::api {

namespace {

namespace http = boost::beast::http;
using lib0::Any;
using server::HttpRequest;
using server::HttpRequestHeader;
using server::HttpResponse;
using server::JsonError;
using server::Respond;

constexpr std::string_view kPrefix = "/api/v1/";

enum class RouteKind { kRooms, kRoom, kStateVector, kUpdate, kEdit };

struct Route {
  RouteKind kind;
  std::string room;
};

// The route of a target, or the error response for it (404, 400).
Result<Route> ParseRoute(std::string_view target) {
  std::string_view path = target.substr(0, target.find('?'));
  path.remove_prefix(std::min(path.size(), kPrefix.size()));
  auto not_found = [] { return Status(StatusCode::kNotFound, "no such document API route"); };
  if (path == "rooms" || path == "rooms/") return Route{RouteKind::kRooms, {}};
  if (path.substr(0, 6) != "rooms/") return not_found();
  path.remove_prefix(6);
  const size_t slash = path.find('/');
  auto room = net::UrlDecode(path.substr(0, slash));
  if (!room.ok()) return Status(StatusCode::kInvalidArgument, "bad percent-escape in the room id");
  if (Status valid = protocol::ValidateRoomId(*room); !valid.ok()) {
    return Status(StatusCode::kInvalidArgument, valid.message());
  }
  const std::string_view rest = slash == std::string_view::npos ? "" : path.substr(slash);
  if (rest.empty()) return Route{RouteKind::kRoom, std::move(room).value()};
  if (rest == "/state-vector") return Route{RouteKind::kStateVector, std::move(room).value()};
  if (rest == "/update") return Route{RouteKind::kUpdate, std::move(room).value()};
  if (rest == "/edit") return Route{RouteKind::kEdit, std::move(room).value()};
  return not_found();
}

const char* AllowedMethods(RouteKind kind) {
  switch (kind) {
    case RouteKind::kRooms:
    case RouteKind::kStateVector: return "GET, HEAD";
    case RouteKind::kRoom: return "GET, HEAD, DELETE";
    case RouteKind::kUpdate:
    case RouteKind::kEdit: return "POST";
  }
  return "";
}

bool MethodAllowed(RouteKind kind, http::verb method) {
  const bool get = method == http::verb::get || method == http::verb::head;
  switch (kind) {
    case RouteKind::kRooms:
    case RouteKind::kStateVector: return get;
    case RouteKind::kRoom: return get || method == http::verb::delete_;
    case RouteKind::kUpdate:
    case RouteKind::kEdit: return method == http::verb::post;
  }
  return false;
}

// The media type of a Content-Type value, lowercased, without parameters.
std::string MediaType(std::string_view content_type) {
  std::string out(content_type.substr(0, content_type.find(';')));
  while (!out.empty() && out.back() == ' ') out.pop_back();
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// The decoded value of query parameter `name` (the first), if present.
std::optional<std::string> QueryParam(std::string_view target, std::string_view name) {
  const size_t q = target.find('?');
  if (q == std::string_view::npos) return std::nullopt;
  std::string_view query = target.substr(q + 1);
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    const size_t eq = pair.find('=');
    if (pair.substr(0, eq) == name) {
      auto decoded = net::UrlDecode(eq == std::string_view::npos ? "" : pair.substr(eq + 1),
                                    /*plus_is_space=*/true);
      // A bad escape is kept as written: no parameter accepts a '%' as it is.
      return decoded.ok() ? std::move(decoded).value()
                          : std::string(eq == std::string_view::npos ? "" : pair.substr(eq + 1));
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

HttpResponse JsonOk(const Any& body) {
  HttpResponse res{http::status::ok, 11};
  res.set(http::field::content_type, "application/json");
  res.set(http::field::cache_control, "no-store");
  res.body() = lib0::ToJson(body);
  return res;
}

HttpResponse BytesOk(const std::vector<uint8_t>& bytes) {
  HttpResponse res{http::status::ok, 11};
  res.set(http::field::content_type, "application/octet-stream");
  res.set(http::field::cache_control, "no-store");
  res.body().assign(bytes.begin(), bytes.end());
  return res;
}

std::string B64(const std::vector<uint8_t>& bytes) {
  return Base64Encode(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

bool WantsBytes(const HttpRequest& req) {
  return req[http::field::accept].find("application/octet-stream") != std::string_view::npos;
}

Result<crdt::UpdateFormat> FormatOf(const HttpRequest& req) {
  const std::string_view header = req["X-Update-Format"];
  const std::optional<std::string> v = QueryParam(req.target(), "v");
  const bool v2 = header == "v2" || header == "2" || (v.has_value() && *v == "2");
  const bool v1 = header.empty() || header == "v1" || header == "1";
  if (!v2 && !v1) return Status(StatusCode::kInvalidArgument, "X-Update-Format is v1 or v2");
  if (v.has_value() && *v != "1" && *v != "2")
    return Status(StatusCode::kInvalidArgument, "v is 1 or 2");
  return v2 ? crdt::UpdateFormat::kV2 : crdt::UpdateFormat::kV1;
}

class DocumentApi {
 public:
  DocumentApi(room::RoomRegistry& registry, DocumentApiOptions options)
      : registry_(registry), options_(std::move(options)) {}

  std::optional<HttpResponse> Screen(const HttpRequestHeader& req) const {
    if (options_.secret.empty()) {
      return JsonError(http::status::not_found, "api_off",
                       "the document API is off: start tandem serve with --api-secret "
                       "(TANDEM_API_SECRET)");
    }
    const std::string_view authorization = req[http::field::authorization];
    const std::string_view token = net::BearerToken(authorization);
    if (token.empty()) {
      HttpResponse res = JsonError(http::status::unauthorized, "unauthorized",
                                   "missing Authorization: Bearer <api secret>");
      res.set(http::field::www_authenticate, "Bearer");
      return res;
    }
    if (!net::SecretEquals(token, options_.secret)) {
      return JsonError(http::status::forbidden, "forbidden", "wrong API secret");
    }
    auto route = ParseRoute(req.target());
    if (!route.ok()) {
      return route.status().code() == StatusCode::kNotFound
                 ? JsonError(http::status::not_found, "not_found", route.status().message())
                 : JsonError(http::status::bad_request, "bad_room_id", route.status().message());
    }
    if (!MethodAllowed(route->kind, req.method())) {
      HttpResponse res =
          JsonError(http::status::method_not_allowed, "method_not_allowed",
                    std::string(req.method_string()) +
                        " is not allowed here (allowed: " + AllowedMethods(route->kind) + ")");
      res.set(http::field::allow, AllowedMethods(route->kind));
      return res;
    }
    const std::string media = MediaType(req[http::field::content_type]);
    if (route->kind == RouteKind::kUpdate && media != "application/octet-stream") {
      return JsonError(http::status::unsupported_media_type, "unsupported_media_type",
                       "send the update as Content-Type: application/octet-stream");
    }
    if (route->kind == RouteKind::kEdit && media != "application/json") {
      return JsonError(http::status::unsupported_media_type, "unsupported_media_type",
                       "send the edits as Content-Type: application/json");
    }
    return std::nullopt;
  }

  bool Handle(const HttpRequest& req, Respond& respond) {
    if (req.target().substr(0, kPrefix.size()) != kPrefix &&
        req.target() != kPrefix.substr(0, kPrefix.size() - 1)) {
      return false;
    }
    if (auto refused = Screen(req)) {
      respond(std::move(*refused));
      return true;
    }
    Route route = std::move(ParseRoute(req.target())).value();
    Respond once = server::RespondOnce(std::move(respond));
    switch (route.kind) {
      case RouteKind::kRooms: ListRooms(req, std::move(once)); break;
      case RouteKind::kRoom:
        if (req.method() == http::verb::delete_) {
          Erase(route.room, once);
        } else {
          Read(req, route.room, once);
        }
        break;
      case RouteKind::kStateVector: StateVector(req, route.room, once); break;
      case RouteKind::kUpdate: Update(req, route.room, once); break;
      case RouteKind::kEdit: Edit(req, route.room, once); break;
    }
    return true;
  }

 private:
  // Runs `fn` on the ready room `id` (loading it if needed); a room that cannot load answers
  // 503, and one erased meanwhile is looked up again (a new, empty room).
  void VisitReady(const std::string& id, const Respond& respond,
                  std::function<void(room::Room&)> fn, bool again = true) {
    registry_.Visit(id, [this, id, respond, fn = std::move(fn), again](room::Room& r) mutable {
      if (r.state() == room::Room::State::kDeleted && again) {
        VisitReady(id, respond, std::move(fn), false);
        return;
      }
      if (r.state() != room::Room::State::kReady) {
        HttpResponse res = JsonError(http::status::service_unavailable, "room_unavailable",
                                     "the room could not be loaded (is the snapshot store "
                                     "down?); try again");
        res.set(http::field::retry_after, "5");
        respond(std::move(res));
        return;
      }
      fn(r);
    });
  }

  void ListRooms(const HttpRequest& req, Respond respond) {
    size_t limit = options_.page_limit;
    if (auto l = QueryParam(req.target(), "limit")) {
      const bool digits =
          !l->empty() && l->size() <= 4 &&
          std::all_of(l->begin(), l->end(), [](char c) { return c >= '0' && c <= '9'; });
      limit = digits ? std::stoul(*l) : 0;
      if (limit < 1 || limit > 1000) {
        respond(JsonError(http::status::bad_request, "bad_request", "limit is 1..1000"));
        return;
      }
    }
    const std::string after = QueryParam(req.target(), "after").value_or("");
    std::vector<std::shared_ptr<room::Room>> rooms;
    for (auto& r : registry_.Rooms()) {
      if (r->id() > after) rooms.push_back(std::move(r));
    }
    std::sort(rooms.begin(), rooms.end(),
              [](const auto& a, const auto& b) { return a->id() < b->id(); });
    const bool more = rooms.size() > limit;
    if (more) rooms.resize(limit);
    struct Gather {
      std::mutex mu;
      std::vector<std::pair<std::string, Any>> rows;
      size_t left;
      Respond respond;
      std::string next;
    };
    auto g = std::make_shared<Gather>();
    g->left = rooms.size();
    g->respond = std::move(respond);
    if (more) g->next = rooms.back()->id();
    auto finish = [g] {
      std::sort(g->rows.begin(), g->rows.end(),
                [](const auto& a, const auto& b) { return a.first < b.first; });
      Any::Array list;
      for (auto& [id, row] : g->rows) list.push_back(std::move(row));
      Any::Object o;
      lib0::JsObjectSet(o, "rooms", Any(std::move(list)));
      lib0::JsObjectSet(o, "next", g->next.empty() ? Any::Null() : Any(g->next));
      g->respond(JsonOk(Any(std::move(o))));
    };
    if (rooms.empty()) {
      finish();
      return;
    }
    for (auto& r : rooms) {
      r->Visit([g, finish](room::Room& room) {
        Any::Object row;
        lib0::JsObjectSet(row, "id", Any(room.id()));
        lib0::JsObjectSet(row, "connections", Any(static_cast<double>(room.connection_count())));
        lib0::JsObjectSet(row, "documentBytes", Any(static_cast<double>(room.document_bytes())));
        const room::RoomPersistence* p = room.persistence();
        lib0::JsObjectSet(row, "unsavedChanges",
                          Any(static_cast<double>(p != nullptr ? p->unsaved_changes() : 0)));
        bool last;
        {
          std::lock_guard lock(g->mu);
          g->rows.emplace_back(room.id(), Any(std::move(row)));
          last = --g->left == 0;
        }
        if (last) finish();
      });
    }
  }

  void Read(const HttpRequest& req, const std::string& id, const Respond& respond) {
    auto format = FormatOf(req);
    if (!format.ok()) {
      respond(JsonError(http::status::bad_request, "bad_request", format.status().message()));
      return;
    }
    std::optional<crdt::StateVector> since;
    if (auto text = QueryParam(req.target(), "since")) {
      auto bytes = Base64Decode(*text);
      auto sv = bytes.ok() ? crdt::DecodeStateVector(std::span<const uint8_t>(
                                 reinterpret_cast<const uint8_t*>(bytes->data()), bytes->size()))
                           : Result<crdt::StateVector>(bytes.status());
      if (!sv.ok()) {
        respond(JsonError(http::status::bad_request, "bad_request",
                          "since must be a base64 state vector: " + sv.status().message()));
        return;
      }
      since = std::move(sv).value();
    }
    const bool bytes = WantsBytes(req) || since.has_value() || QueryParam(req.target(), "v");
    VisitReady(
        id, respond, [respond, bytes, format = *format, since = std::move(since)](room::Room& r) {
          if (bytes) {
            respond(
                BytesOk(r.doc().EncodeStateAsUpdate(since.value_or(crdt::StateVector{}), format)));
            return;
          }
          auto json = crdt::DocToJsonChecked(r.doc());
          if (!json.ok()) {
            respond(
                JsonError(http::status::unprocessable_entity, "too_deep", json.status().message()));
            return;
          }
          respond(JsonOk(*json));
        });
  }

  void StateVector(const HttpRequest& req, const std::string& id, const Respond& respond) {
    const bool bytes = WantsBytes(req);
    VisitReady(id, respond, [respond, bytes](room::Room& r) {
      const std::vector<uint8_t> sv = r.doc().EncodeStateVector();
      if (bytes) {
        respond(BytesOk(sv));
        return;
      }
      Any::Object o;
      lib0::JsObjectSet(o, "stateVector", Any(B64(sv)));
      respond(JsonOk(Any(std::move(o))));
    });
  }

  // {"stateVector": ...} once what the room holds now is durable.
  static void AnswerWhenDurable(room::Room& r, Respond respond, Any::Object extra = {}) {
    const std::vector<uint8_t> sv = r.doc().EncodeStateVector();
    r.WhenDurable([respond = std::move(respond), sv, extra = std::move(extra)]() mutable {
      Any::Object o;
      lib0::JsObjectSet(o, "stateVector", Any(B64(sv)));
      for (auto& [k, v] : extra) lib0::JsObjectSet(o, k, std::move(v));
      respond(JsonOk(Any(std::move(o))));
    });
  }

  void Update(const HttpRequest& req, const std::string& id, const Respond& respond) {
    auto format = FormatOf(req);
    if (!format.ok()) {
      respond(JsonError(http::status::bad_request, "bad_request", format.status().message()));
      return;
    }
    auto body = std::make_shared<std::vector<uint8_t>>(req.body().begin(), req.body().end());
    VisitReady(id, respond, [respond, body, format = *format, id](room::Room& r) {
      Status s = r.ApplyUpdate(*body, format);
      if (s.code() == StatusCode::kResourceExhausted) {
        respond(JsonError(http::status::payload_too_large, "limit", s.message()));
        return;
      }
      if (!s.ok()) {
        spdlog::info("room={} document API: rejected update: {}", Quoted(id),
                     Quoted(s.message(), 256));
        respond(JsonError(http::status::bad_request, "malformed_update", s.message()));
        return;
      }
      Any::Object extra;
      lib0::JsObjectSet(extra, "pending", Any(r.doc().has_pending()));
      AnswerWhenDurable(r, respond, std::move(extra));
    });
  }

  void Edit(const HttpRequest& req, const std::string& id, const Respond& respond) {
    auto parsed = ParseEditList(req.body());
    if (!parsed.ok()) {
      const bool json = parsed.status().code() != StatusCode::kMalformed;
      respond(JsonError(http::status::bad_request, json ? "invalid_edit" : "bad_json",
                        parsed.status().message()));
      return;
    }
    auto edits = std::make_shared<std::vector<Any>>(std::move(parsed).value());
    VisitReady(id, respond, [respond, edits, id](room::Room& r) {
      EditResult result = EditCopy(r.doc(), *edits);
      if (!result.status.ok()) {
        HttpResponse res =
            JsonError(http::status::bad_request, "invalid_edit", result.status.message());
        // The failing edit's position, beside error and message.
        res.body().pop_back();
        res.body() += ",\"index\":" + std::to_string(result.failed_index) + "}";
        respond(std::move(res));
        return;
      }
      const auto client = static_cast<double>(r.doc().client_id());
      if (!result.update.empty()) {
        // Applied as a client's update would be: within the room's limits (nesting depth,
        // document size), logged, then broadcast.
        const crdt::ClientId own = r.doc().client_id();
        Status s = r.ApplyUpdate(result.update, crdt::UpdateFormat::kV1);
        // The update carries the room's own client id: keep it (the engine picks a new one, as
        // yjs does, when a remote update carries its id).
        (void)r.ApplyEdit([own](crdt::Doc& doc) {
          doc.set_client_id(own);
          return Status::Ok();
        });
        if (s.code() == StatusCode::kResourceExhausted) {
          respond(JsonError(http::status::payload_too_large, "limit", s.message()));
          return;
        }
        if (!s.ok()) {
          spdlog::error("room={} document API: an edit's own update did not apply: {}", Quoted(id),
                        Quoted(s.message(), 256));
          respond(JsonError(http::status::internal_server_error, "internal", s.message()));
          return;
        }
      }
      Any::Object extra;
      lib0::JsObjectSet(extra, "update", Any(B64(result.update)));
      lib0::JsObjectSet(extra, "clientId", Any(client));
      AnswerWhenDurable(r, respond, std::move(extra));
    });
  }

  void Erase(const std::string& id, const Respond& respond) {
    registry_.Erase(id, [respond, id](const Status& s, size_t closed) {
      if (!s.ok()) {
        const bool cannot = s.code() == StatusCode::kFailedPrecondition;
        HttpResponse res =
            JsonError(cannot ? http::status::bad_gateway : http::status::service_unavailable,
                      cannot ? "store_cannot_delete" : "room_unavailable",
                      "nothing was deleted: " + s.message());
        if (!cannot) res.set(http::field::retry_after, "5");
        respond(std::move(res));
        return;
      }
      spdlog::warn("room={} deleted through the document API ({} connection(s) closed)", Quoted(id),
                   closed);
      Any::Object o;
      lib0::JsObjectSet(o, "deleted", Any(true));
      lib0::JsObjectSet(o, "closedConnections", Any(static_cast<double>(closed)));
      respond(JsonOk(Any(std::move(o))));
    });
  }

  room::RoomRegistry& registry_;
  const DocumentApiOptions options_;
};

}  // namespace

void InstallDocumentApi(server::FrontDoor& front_door, room::RoomRegistry& registry,
                        DocumentApiOptions options) {
  const size_t max_body = options.max_body_bytes;
  auto api = std::make_shared<DocumentApi>(registry, std::move(options));
  front_door.AddRoute(std::string(kPrefix), max_body,
                      [api](const HttpRequestHeader& header) { return api->Screen(header); });
  front_door.AddHandler(
      [api](const HttpRequest& req, Respond& respond) { return api->Handle(req, respond); });
}

}  // namespace tandem::api

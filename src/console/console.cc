#include "console/console.h"

#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>

#include "crdt/read_api.h"
#include "crdt/types/replace_content.h"
#include "lib0/json.h"
#include "net/http_auth.h"
#include "net/url.h"
#include "protocol/room_id.h"
#include "web/web_assets.h"

namespace tandem::console {

namespace http = boost::beast::http;
using server::HttpRequest;
using server::HttpResponse;
using server::JsonError;
using server::Respond;

namespace {

constexpr std::string_view kApiPrefix = "/console/api/";

HttpResponse JsonOk(const lib0::Any& body, http::status status = http::status::ok) {
  HttpResponse res{status, 11};
  res.set(http::field::content_type, "application/json");
  res.set(http::field::cache_control, "no-store");
  res.body() = lib0::ToJson(body);
  return res;
}

lib0::Any Field(lib0::Any::Object& o, std::string key, lib0::Any value) {
  lib0::JsObjectSet(o, std::move(key), std::move(value));
  return {};
}

// "/a/b%2Fc" -> {"a", "b/c"}; nullopt on a bad escape.
std::optional<std::vector<std::string>> Segments(std::string_view path) {
  std::vector<std::string> out;
  while (!path.empty()) {
    if (path.front() == '/') {
      path.remove_prefix(1);
      continue;
    }
    const size_t slash = path.find('/');
    auto decoded = net::UrlDecode(path.substr(0, slash));
    if (!decoded.ok()) return std::nullopt;
    out.push_back(std::move(decoded).value());
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash);
  }
  return out;
}

std::string_view PathOf(const HttpRequest& req) {
  const std::string_view target = req.target();
  return target.substr(0, target.find('?'));
}

// The state of one loaded room, as the console shows it (on the room's strand).
lib0::Any RoomSummary(room::Room& r) {
  lib0::Any::Object o;
  Field(o, "id", lib0::Any(r.id()));
  const char* state = r.state() == room::Room::State::kReady     ? "ready"
                      : r.state() == room::Room::State::kLoading ? "loading"
                                                                 : "failed";
  Field(o, "state", lib0::Any(state));
  Field(o, "connections", lib0::Any(static_cast<double>(r.connection_count())));
  Field(o, "documentBytes", lib0::Any(static_cast<double>(r.document_bytes())));
  const room::RoomPersistence* p = r.persistence();
  Field(o, "updatesSinceSave",
        lib0::Any(static_cast<double>(p != nullptr ? p->unsaved_changes() : 0)));
  const int64_t unsaved = r.unsaved_since_unix_ms();
  Field(o, "unsavedSinceMs",
        unsaved != 0 ? lib0::Any(static_cast<double>(unsaved)) : lib0::Any::Null());
  if (p != nullptr && p->last_save_unix_ms() != 0) {
    lib0::Any::Object save;
    Field(save, "time", lib0::Any(static_cast<double>(p->last_save_unix_ms())));
    Field(save, "ok", lib0::Any(p->last_save_ok()));
    Field(save, "error",
          p->last_save_ok() || p->last_error().empty() ? lib0::Any::Null()
                                                       : lib0::Any(p->last_error()));
    Field(o, "lastSave", lib0::Any(std::move(save)));
  } else {
    Field(o, "lastSave", lib0::Any::Null());
  }
  Field(o, "lastError",
        p != nullptr && !p->last_error().empty() ? lib0::Any(p->last_error()) : lib0::Any::Null());
  return lib0::Any(std::move(o));
}

lib0::Any RoomDetail(room::Room& r) {
  lib0::Any detail = RoomSummary(r);
  lib0::Any::Object& o = detail.as_object();
  Field(o, "loaded", lib0::Any(true));
  lib0::Any::Array conns;
  r.ForEachConnection([&](const room::Connection& c) {
    lib0::Any::Object e;
    Field(e, "id", lib0::Any(static_cast<double>(c.id())));
    Field(e, "user", c.user_id().empty() ? lib0::Any::Null() : lib0::Any(c.user_id()));
    Field(e, "readOnly", lib0::Any(c.read_only()));
    conns.push_back(lib0::Any(std::move(e)));
  });
  std::sort(conns.begin(), conns.end(), [](const lib0::Any& a, const lib0::Any& b) {
    return a.Find("id")->as_number() < b.Find("id")->as_number();
  });
  Field(o, "connections", lib0::Any(std::move(conns)));
  lib0::Any::Array states;
  for (uint64_t client : r.awareness().ClientsWithState()) {
    lib0::Any::Object e;
    Field(e, "clientId", lib0::Any(static_cast<double>(client)));
    const std::string* json = r.awareness().StateOf(client);
    auto parsed = json != nullptr ? lib0::ParseJson(*json) : Result<lib0::Any>(lib0::Any::Null());
    Field(e, "state", parsed.ok() ? std::move(parsed).value() : lib0::Any::Null());
    states.push_back(lib0::Any(std::move(e)));
  }
  Field(o, "awareness", lib0::Any(std::move(states)));
  const crdt::Doc& doc = r.doc();
  auto json = crdt::DocToJsonChecked(doc);
  if (json.ok()) {
    Field(o, "document", std::move(json).value());
  } else {
    Field(o, "document", lib0::Any::Null());
    Field(o, "documentError", lib0::Any(json.status().message()));
  }
  lib0::Any::Object sv;
  std::vector<std::pair<crdt::ClientId, crdt::Clock>> clocks(doc.GetStateVector().begin(),
                                                             doc.GetStateVector().end());
  std::sort(clocks.begin(), clocks.end());
  for (const auto& [client, clock] : clocks) {
    Field(sv, std::to_string(client), lib0::Any(static_cast<double>(clock)));
  }
  Field(o, "stateVector", lib0::Any(std::move(sv)));
  return detail;
}

class ConsoleApi {
 public:
  ConsoleApi(room::RoomRegistry& registry, room::Metrics& metrics,
             snapshot::SnapshotClient* snapshots, ConsoleOptions options)
      : registry_(registry),
        metrics_(metrics),
        snapshots_(snapshots),
        options_(std::move(options)),
        started_(std::chrono::steady_clock::now()) {}

  bool Handle(const HttpRequest& req, Respond& respond) {
    const std::string_view path = PathOf(req);
    if (path.substr(0, kApiPrefix.size()) != kApiPrefix) return false;
    if (auto refused = Refuse(req)) {
      respond(std::move(*refused));
      return true;
    }
    auto parts = Segments(path.substr(kApiPrefix.size()));
    if (!parts) {
      respond(JsonError(http::status::bad_request, "bad_request", "bad percent-escape in path"));
      return true;
    }
    const auto& p = *parts;
    const bool get = req.method() == http::verb::get || req.method() == http::verb::head;
    const bool post = req.method() == http::verb::post;
    auto not_allowed = [&](const char* allow) {
      HttpResponse res = JsonError(http::status::method_not_allowed, "method_not_allowed",
                                   std::string("use ") + allow);
      res.set(http::field::allow, allow);
      respond(std::move(res));
      return true;
    };
    if (p.size() == 1 && p[0] == "overview") {
      if (!get) return not_allowed("GET");
      respond(JsonOk(Overview()));
      return true;
    }
    if (p.size() == 1 && p[0] == "rooms") {
      if (!get) return not_allowed("GET");
      ListRooms(server::RespondOnce(std::move(respond)));
      return true;
    }
    if (p.size() >= 2 && p[0] == "rooms") {
      const std::string& room = p[1];
      if (Status valid = protocol::ValidateRoomId(room); !valid.ok()) {
        respond(JsonError(http::status::bad_request, "bad_request", valid.message()));
        return true;
      }
      if (p.size() == 2) {
        if (!get) return not_allowed("GET");
        DescribeRoom(room, server::RespondOnce(std::move(respond)));
        return true;
      }
      if (p.size() == 3 && p[2] == "versions") {
        if (!get) return not_allowed("GET");
        Versions(room, server::RespondOnce(std::move(respond)));
        return true;
      }
      if (p.size() == 3 && p[2] == "save") {
        if (!post) return not_allowed("POST");
        SaveRoom(room, server::RespondOnce(std::move(respond)));
        return true;
      }
      if (p.size() == 3 && p[2] == "restore") {
        if (!post) return not_allowed("POST");
        Restore(room, req.body(), server::RespondOnce(std::move(respond)));
        return true;
      }
    }
    respond(JsonError(http::status::not_found, "not_found", "no such console API route"));
    return true;
  }

 private:
  std::optional<HttpResponse> Refuse(const HttpRequest& req) const {
    if (options_.admin_token.empty()) {
      if (options_.loopback_only_bind) return std::nullopt;
      return JsonError(http::status::forbidden, "forbidden",
                       "the console is off: this server listens beyond loopback; set "
                       "--admin-token (TANDEM_ADMIN_TOKEN) to turn it on");
    }
    const std::string_view token = net::BearerToken(req[http::field::authorization]);
    if (token.empty() || !net::SecretEquals(token, options_.admin_token)) {
      HttpResponse res = JsonError(http::status::unauthorized, "unauthorized",
                                   "missing or wrong Authorization: Bearer <admin token>");
      res.set(http::field::www_authenticate, "Bearer");
      return res;
    }
    return std::nullopt;
  }

  lib0::Any Overview() const {
    lib0::Any::Object counters;
    auto n = [](uint64_t v) { return lib0::Any(static_cast<double>(v)); };
    uint64_t messages_in = 0;
    uint64_t bytes_in = 0;
    for (size_t i = 0; i < metrics_.messages_in.size(); ++i) {
      messages_in += metrics_.messages_in[i].load();
      bytes_in += metrics_.bytes_in[i].load();
    }
    Field(counters, "connections",
          n(static_cast<uint64_t>(std::max<int64_t>(0, metrics_.connections.load()))));
    Field(counters, "roomsLoaded",
          n(static_cast<uint64_t>(std::max<int64_t>(0, metrics_.rooms_loaded.load()))));
    Field(counters, "updatesApplied", n(metrics_.updates_applied.load()));
    Field(counters, "bytesIn", n(bytes_in));
    Field(counters, "bytesOut", n(metrics_.bytes_out.load()));
    Field(counters, "messagesIn", n(messages_in));
    Field(counters, "messagesOut", n(metrics_.messages_out.load()));
    Field(counters, "savesOk", n(metrics_.saves_ok.load()));
    Field(counters, "savesFailed", n(metrics_.saves_failed.load()));
    Field(counters, "saveMicrosTotal", n(metrics_.save_micros_total.load()));
    Field(counters, "roomLoadFailures", n(metrics_.room_load_failures.load()));
    lib0::Any::Object o;
    Field(o, "node", lib0::Any(options_.node_id));
    Field(o, "version", lib0::Any(options_.version));
    Field(o, "uptimeSeconds",
          lib0::Any(
              std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count()));
    Field(o, "store", lib0::Any(snapshots_ != nullptr ? snapshots_->describe() : "none"));
    Field(o, "counters", lib0::Any(std::move(counters)));
    return lib0::Any(std::move(o));
  }

  void ListRooms(Respond respond) {
    auto rooms = registry_.Rooms();
    struct Gather {
      std::mutex mu;
      lib0::Any::Array rows;
      size_t left;
      Respond respond;
    };
    auto g = std::make_shared<Gather>();
    g->left = rooms.size();
    g->respond = std::move(respond);
    auto finish = [g] {
      std::sort(g->rows.begin(), g->rows.end(), [](const lib0::Any& a, const lib0::Any& b) {
        return a.Find("id")->as_string() < b.Find("id")->as_string();
      });
      lib0::Any::Object o;
      Field(o, "rooms", lib0::Any(std::move(g->rows)));
      g->respond(JsonOk(lib0::Any(std::move(o))));
    };
    if (rooms.empty()) {
      finish();
      return;
    }
    for (auto& r : rooms) {
      r->Visit([g, finish](room::Room& room) {
        bool last;
        {
          std::lock_guard lock(g->mu);
          g->rows.push_back(RoomSummary(room));
          last = --g->left == 0;
        }
        if (last) finish();
      });
    }
  }

  void DescribeRoom(const std::string& id, Respond respond) {
    auto room = registry_.Find(id);
    if (!room) {
      respond(JsonError(http::status::not_found, "not_loaded",
                        "the room is not loaded on this server (nobody is in it)"));
      return;
    }
    room->Visit([respond = std::move(respond)](room::Room& r) { respond(JsonOk(RoomDetail(r))); });
  }

  bool NeedStore(Respond& respond) {
    if (snapshots_ != nullptr) return true;
    respond(
        JsonError(http::status::not_implemented, "no_store", "this server has no snapshot store"));
    return false;
  }

  void Versions(const std::string& id, Respond respond) {
    if (!NeedStore(respond)) return;
    snapshots_->ListVersions(
        id, [respond = std::move(respond)](Result<std::vector<snapshot::VersionInfo>> list) {
          if (!list.ok()) {
            const bool unsupported = list.status().code() == StatusCode::kFailedPrecondition;
            respond(JsonError(
                unsupported ? http::status::not_implemented : http::status::bad_gateway,
                unsupported ? "unsupported" : "store_unavailable", list.status().message()));
            return;
          }
          lib0::Any::Array rows;
          for (const auto& v : *list) {
            lib0::Any::Object e;
            Field(e, "version", lib0::Any(static_cast<double>(v.version)));
            Field(e, "size", lib0::Any(static_cast<double>(v.size)));
            Field(e, "time", lib0::Any(static_cast<double>(v.time_ms)));
            Field(e, "checksum", lib0::Any(v.checksum));
            Field(e, "merged", lib0::Any(v.merged));
            rows.push_back(lib0::Any(std::move(e)));
          }
          lib0::Any::Object o;
          Field(o, "versions", lib0::Any(std::move(rows)));
          respond(JsonOk(lib0::Any(std::move(o))));
        });
  }

  void SaveRoom(const std::string& id, Respond respond) {
    if (!NeedStore(respond)) return;
    registry_.Visit(id, [respond = std::move(respond)](room::Room& r) mutable {
      if (r.state() != room::Room::State::kReady) {
        respond(JsonError(http::status::service_unavailable, "room_unavailable",
                          "the room could not be loaded (snapshot store down?)"));
        return;
      }
      r.SaveNow([respond](const Status& s) {
        if (!s.ok()) {
          respond(JsonError(http::status::bad_gateway, "store_unavailable", s.message()));
          return;
        }
        lib0::Any::Object o;
        Field(o, "saved", lib0::Any(true));
        respond(JsonOk(lib0::Any(std::move(o))));
      });
    });
  }

  void Restore(const std::string& id, const std::string& body, Respond respond) {
    if (!NeedStore(respond)) return;
    auto json = lib0::ParseJson(body);
    const lib0::Any* v =
        json.ok() && json->kind() == lib0::Any::Kind::kObject ? json->Find("version") : nullptr;
    if (v == nullptr || v->kind() != lib0::Any::Kind::kNumber || v->as_number() < 1) {
      respond(JsonError(http::status::bad_request, "bad_request",
                        "the body must be {\"version\": <a positive integer>}"));
      return;
    }
    const auto version = static_cast<int64_t>(v->as_number());
    snapshots_->LoadVersion(
        id, version,
        [this, id, version,
         respond = std::move(respond)](Result<std::optional<snapshot::Bytes>> got) {
          if (!got.ok()) {
            respond(
                JsonError(http::status::bad_gateway, "store_unavailable", got.status().message()));
            return;
          }
          if (!got->has_value()) {
            respond(JsonError(
                http::status::not_found, "not_found",
                "the store keeps no version " + std::to_string(version) + " of this room"));
            return;
          }
          auto bytes = std::make_shared<snapshot::Bytes>(std::move(**got));
          registry_.Visit(id, [bytes, version, respond](room::Room& r) {
            if (r.state() != room::Room::State::kReady) {
              respond(JsonError(http::status::service_unavailable, "room_unavailable",
                                "the room could not be loaded (snapshot store down?)"));
              return;
            }
            crdt::Doc old(
                crdt::DocOptions{.gc = true, .client_id = 1, .clean_up_formatting = false});
            if (Status s = old.ApplyUpdate(*bytes); !s.ok()) {
              respond(JsonError(http::status::bad_gateway, "bad_version",
                                "the stored version does not decode: " + s.message()));
              return;
            }
            Status edited =
                r.ApplyEdit([&](crdt::Doc& doc) { return crdt::ReplaceContent(doc, old); });
            if (!edited.ok()) {
              respond(JsonError(http::status::internal_server_error, "internal", edited.message()));
              return;
            }
            r.SaveNow([respond, version](const Status& s) {
              lib0::Any::Object o;
              Field(o, "restoredVersion", lib0::Any(static_cast<double>(version)));
              Field(o, "saved", lib0::Any(s.ok()));
              if (!s.ok()) Field(o, "saveError", lib0::Any(s.message()));
              respond(JsonOk(lib0::Any(std::move(o))));
            });
          });
        });
  }

  room::RoomRegistry& registry_;
  room::Metrics& metrics_;
  snapshot::SnapshotClient* snapshots_;
  const ConsoleOptions options_;
  const std::chrono::steady_clock::time_point started_;
};

// The page a browser path shows, or null: "/" and "/w/{room}" the workspace, "/console..." the
// console (its API excepted), "/assets/..." the asset itself.
const web::Asset* PageFor(std::string_view path) {
  if (path == "/" || path == "/index.html" || path.substr(0, 3) == "/w/") {
    return web::FindAsset("/index.html");
  }
  if (path == "/console" ||
      (path.substr(0, 9) == "/console/" && path.substr(0, kApiPrefix.size()) != kApiPrefix)) {
    return web::FindAsset("/console.html");
  }
  if (path.substr(0, 8) == "/assets/" || path.substr(0, 9) == "/favicon-") {
    return web::FindAsset(path);
  }
  return nullptr;
}

}  // namespace

void InstallWebPages(server::FrontDoor& front_door) {
  front_door.AddHandler([](const HttpRequest& req, Respond& respond) {
    if (req.method() != http::verb::get && req.method() != http::verb::head) return false;
    const web::Asset* asset = PageFor(PathOf(req));
    if (asset == nullptr) return false;
    HttpResponse res{http::status::ok, 11};
    res.set(http::field::etag, asset->etag);
    res.set(http::field::cache_control,
            asset->immutable ? "public, max-age=31536000, immutable" : "no-cache");
    if (req[http::field::if_none_match] == asset->etag) {
      res.result(http::status::not_modified);
    } else {
      res.set(http::field::content_type, asset->content_type);
      res.body() = std::string(asset->body);
    }
    res.set("X-Content-Type-Options", "nosniff");
    respond(std::move(res));
    return true;
  });
}

void InstallConsoleApi(server::FrontDoor& front_door, room::RoomRegistry& registry,
                       room::Metrics& metrics, snapshot::SnapshotClient* snapshots,
                       ConsoleOptions options) {
  auto api = std::make_shared<ConsoleApi>(registry, metrics, snapshots, std::move(options));
  front_door.AddHandler(
      [api](const HttpRequest& req, Respond& respond) { return api->Handle(req, respond); });
}

}  // namespace tandem::console

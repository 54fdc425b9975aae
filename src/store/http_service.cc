#include "store/http_service.h"

#include <openssl/crypto.h>
#include <spdlog/spdlog.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <charconv>
#include <condition_variable>
#include <cstdio>
#include <thread>
#include <vector>

#include "base/log_text.h"
#include "lib0/json.h"
#include "net/http_auth.h"
#include "net/url.h"

namespace tandem::store {

namespace beast = boost::beast;
namespace http = beast::http;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

constexpr std::string_view kSnapshotPath = "/collaboration/snapshot";
constexpr std::string_view kVersionsPath = "/collaboration/snapshot/versions";
constexpr std::string_view kRollbackPath = "/collaboration/snapshot/rollback";

std::string JsonString(std::string_view s) {
  std::string out;
  lib0::AppendJsonString(out, s);
  return out;
}

HttpResponse Json(unsigned version, http::status status, std::string body) {
  HttpResponse res{status, version};
  res.set(http::field::server, "tandem-store");
  res.set(http::field::content_type, "application/json");
  res.body() = std::move(body);
  return res;
}

HttpResponse Error(unsigned version, http::status status, std::string_view code,
                   std::string_view message) {
  return Json(version, status,
              "{\"error\":" + JsonString(code) + ",\"message\":" + JsonString(message) + "}");
}

http::status HttpStatusOf(const Status& s) {
  switch (s.code()) {
    case StatusCode::kInvalidArgument:
    case StatusCode::kMalformed:
    case StatusCode::kOutOfRange: return http::status::bad_request;
    case StatusCode::kResourceExhausted: return http::status::payload_too_large;
    case StatusCode::kNotFound: return http::status::not_found;
    case StatusCode::kUnavailable: return http::status::service_unavailable;
    case StatusCode::kAborted: return http::status::conflict;
    default: return http::status::internal_server_error;
  }
}

std::string_view ErrorCodeOf(const Status& s) {
  switch (s.code()) {
    case StatusCode::kInvalidArgument: return "bad_request";
    case StatusCode::kMalformed: return "invalid_snapshot";
    case StatusCode::kResourceExhausted: return "too_large";
    case StatusCode::kUnavailable: return "storage_unavailable";
    case StatusCode::kAborted: return "stale_epoch";
    default: return "internal";
  }
}

std::string InfoJson(const VersionInfo& v) {
  return "{\"version\":" + std::to_string(v.version) + ",\"size\":" + std::to_string(v.size) +
         ",\"time\":" + std::to_string(v.time_ms) + ",\"checksum\":" + JsonString(v.checksum) +
         ",\"merged\":" + (v.merged ? "true" : "false") + "}";
}

struct Query {
  std::string room;
  std::optional<int64_t> version;
};

// roomId (required, once) and version (optional) from the query string; '+' is a space, as in
// URLSearchParams. Unknown parameters are ignored.
Result<Query> ParseQuery(std::string_view target, bool allow_version) {
  const size_t q = target.find('?');
  if (q == std::string_view::npos) return InvalidArgumentError("missing query: ?roomId=...");
  std::string_view query = target.substr(q + 1);
  Query out;
  bool have_room = false;
  bool have_version = false;
  while (!query.empty()) {
    const size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    const size_t eq = pair.find('=');
    const std::string_view key = pair.substr(0, eq);
    const std::string_view raw =
        eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    if (key == "roomId") {
      if (have_room) return InvalidArgumentError("roomId given more than once");
      if (raw.size() > kMaxRoomIdBytes * 3)
        return InvalidArgumentError("roomId longer than " + std::to_string(kMaxRoomIdBytes) +
                                    " bytes");
      auto decoded = net::UrlDecode(raw, /*plus_is_space=*/true);
      if (!decoded.ok()) return InvalidArgumentError("roomId: " + decoded.status().message());
      out.room = std::move(decoded).value();
      have_room = true;
    } else if (key == "version" && allow_version) {
      if (have_version) return InvalidArgumentError("version given more than once");
      int64_t v = 0;
      auto [ptr, ec] = std::from_chars(raw.data(), raw.data() + raw.size(), v);
      if (ec != std::errc() || ptr != raw.data() + raw.size() || v < 1)
        return InvalidArgumentError("version must be a positive integer");
      out.version = v;
      have_version = true;
    }
  }
  if (!have_room) return InvalidArgumentError("missing roomId");
  TANDEM_RETURN_IF_ERROR(ValidateRoomId(out.room));
  return out;
}

}  // namespace

bool BearerMatches(std::string_view header, std::string_view secret) {
  const std::string_view given = net::BearerToken(header);
  return !secret.empty() && !given.empty() && net::SecretEquals(given, secret);
}

bool StoreHandler::Authorized(const HttpRequest& req) const {
  return BearerMatches(req[http::field::authorization], secret_);
}

HttpResponse StoreHandler::Handle(const HttpRequest& req) {
  ++metrics_.requests;
  HttpResponse res = Route(req);
  const unsigned code = res.result_int();
  if (code < 300) {
    ++metrics_.status_2xx;
  } else if (code < 500) {
    ++metrics_.status_4xx;
  } else {
    ++metrics_.status_5xx;
  }
  res.keep_alive(req.keep_alive());
  res.version(req.version());
  res.prepare_payload();
  if (req.method() == http::verb::head) {
    // Same headers as GET (Content-Length included), no body.
    const size_t length = res.body().size();
    res.body().clear();
    res.content_length(length);
  }
  return res;
}

HttpResponse StoreHandler::TooLarge(unsigned version) {
  ++metrics_.requests;
  ++metrics_.status_4xx;
  HttpResponse res = Error(version, http::status::payload_too_large, "too_large",
                           "snapshot exceeds --max-snapshot-bytes " +
                               std::to_string(store_.options().max_snapshot_bytes));
  res.keep_alive(false);
  res.prepare_payload();
  return res;
}

HttpResponse StoreHandler::BodyIncomplete() {
  ++metrics_.requests;
  ++metrics_.status_4xx;
  HttpResponse res = Error(11, http::status::bad_request, "bad_request",
                           "the connection ended before the whole body (Content-Length) arrived");
  res.keep_alive(false);
  res.prepare_payload();
  return res;
}

HttpResponse StoreHandler::HeaderTooLarge() {
  ++metrics_.requests;
  ++metrics_.status_4xx;
  HttpResponse res = Error(11, http::status::request_header_fields_too_large, "bad_request",
                           "request line and headers exceed 16 KiB (roomId too long?)");
  res.keep_alive(false);
  res.prepare_payload();
  return res;
}

HttpResponse StoreHandler::Finish(HttpResponse res, unsigned version, bool keep_alive) {
  ++metrics_.requests;
  const unsigned code = res.result_int();
  ++(code < 300 ? metrics_.status_2xx : code < 500 ? metrics_.status_4xx : metrics_.status_5xx);
  res.version(version);
  res.keep_alive(keep_alive);
  res.prepare_payload();
  return res;
}

HttpResponse StoreHandler::Malformed(std::string_view why) {
  return Finish(Error(11, http::status::bad_request, "bad_request",
                      "malformed HTTP request: " + std::string(why)),
                11, false);
}

HttpResponse StoreHandler::Busy() {
  HttpResponse res = Error(11, http::status::service_unavailable, "busy",
                           "too many request bodies are being received; retry shortly");
  res.set(http::field::retry_after, "1");
  return Finish(std::move(res), 11, false);
}

std::optional<HttpResponse> StoreHandler::AnswerFromHeader(const HttpRequest& req) {
  const std::string_view te = req[http::field::transfer_encoding];
  if (!te.empty() && !beast::iequals(te, "chunked")) {
    // RFC 9112 §6.1: a transfer coding the server does not understand.
    return Finish(Error(req.version(), http::status::not_implemented, "not_implemented",
                        "unsupported Transfer-Encoding (only chunked is)"),
                  req.version(), false);
  }
  const bool body_expected =
      req.method() == http::verb::post || req.has_content_length() || req.chunked();
  if (!body_expected) return std::nullopt;  // the whole request is here: Route answers it
  // What Route would refuse without looking at the body is refused before reading it.
  if (auto refused = Refuse(req)) return Finish(std::move(*refused), req.version(), false);
  return std::nullopt;
}

std::optional<HttpResponse> StoreHandler::Refuse(const HttpRequest& req) {
  const unsigned v = req.version();
  const std::string_view target = req.target();
  const std::string_view path = target.substr(0, target.find('?'));
  const bool get = req.method() == http::verb::get || req.method() == http::verb::head;
  auto not_allowed = [&](const char* allow) {
    HttpResponse res =
        Error(v, http::status::method_not_allowed, "method_not_allowed",
              std::string(req.method_string()) + " is not allowed here (allowed: " + allow + ")");
    res.set(http::field::allow, allow);
    return res;
  };
  if (path == "/healthz" || path == "/metrics") {
    if (!get) return not_allowed("GET, HEAD");
    return std::nullopt;
  }
  const bool snapshot = path == kSnapshotPath;
  const bool versions = path == kVersionsPath;
  const bool rollback = path == kRollbackPath;
  if (!snapshot && !versions && !rollback) {
    return Error(v, http::status::not_found, "not_found",
                 "unknown path; use /collaboration/snapshot?roomId=...");
  }
  if (snapshot && !get && req.method() != http::verb::post && req.method() != http::verb::delete_)
    return not_allowed("GET, HEAD, POST, DELETE");
  if (versions && !get) return not_allowed("GET, HEAD");
  if (rollback && req.method() != http::verb::post) return not_allowed("POST");
  if (!Authorized(req)) {
    ++metrics_.unauthorized;
    HttpResponse res = Error(v, http::status::unauthorized, "unauthorized",
                             "missing or wrong Authorization: Bearer <secret>");
    res.set(http::field::www_authenticate, "Bearer");
    return res;
  }
  return std::nullopt;
}

HttpResponse StoreHandler::Route(const HttpRequest& req) {
  const unsigned v = req.version();
  if (auto refused = Refuse(req)) return std::move(*refused);
  const std::string_view target = req.target();
  const std::string_view path = target.substr(0, target.find('?'));
  const bool get = req.method() == http::verb::get || req.method() == http::verb::head;
  if (path == "/healthz") {
    Status s = store_.backend().Ping();
    HttpResponse res{s.ok() ? http::status::ok : http::status::service_unavailable, v};
    res.set(http::field::content_type, "text/plain");
    res.body() = s.ok() ? "ok\n" : "storage unavailable: " + s.message() + "\n";
    return res;
  }
  if (path == "/metrics") {
    HttpResponse res{http::status::ok, v};
    res.set(http::field::content_type, "text/plain; version=0.0.4");
    res.body() = RenderMetrics();
    return res;
  }
  const bool snapshot = path == kSnapshotPath;
  const bool versions = path == kVersionsPath;
  const bool rollback = path == kRollbackPath;
  auto query = ParseQuery(target, (snapshot && get) || rollback);
  if (!query.ok()) {
    spdlog::info("event=rejected reason=bad_query message={}", Quoted(query.status().message()));
    return Error(v, http::status::bad_request, "bad_request", query.status().message());
  }
  if (versions) return Versions(query->room);
  if (rollback) return Rollback(query->room, query->version);
  if (req.method() == http::verb::post) return Save(req, query->room);
  if (req.method() == http::verb::delete_) return Delete(query->room);
  return Load(query->room, query->version);
}

HttpResponse StoreHandler::Save(const HttpRequest& req, const std::string& room) {
  const unsigned v = req.version();
  const std::string& body = req.body();
  const auto start = std::chrono::steady_clock::now();
  // X-Tandem-Epoch: a cluster node's lease epoch for this room (docs/CLUSTER.md); a lower one
  // than a save already carried is refused with 409.
  uint64_t epoch = 0;
  if (auto it = req.find("X-Tandem-Epoch"); it != req.end()) {
    const std::string_view text(it->value().data(), it->value().size());
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), epoch);
    if (ec != std::errc() || end != text.data() + text.size()) {
      return Error(v, http::status::bad_request, "bad_request",
                   "X-Tandem-Epoch must be a non-negative integer");
    }
  }
  auto saved =
      store_.Save(room, {reinterpret_cast<const uint8_t*>(body.data()), body.size()}, epoch);
  const auto ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  if (!saved.ok()) {
    const auto status = HttpStatusOf(saved.status());
    if (static_cast<unsigned>(status) >= 500) {
      spdlog::error("event=save_failed room={} size={} error={}", Quoted(room), body.size(),
                    Quoted(saved.status().ToString(), 512));
    } else {
      spdlog::info("event=save_rejected room={} size={} status={} reason={}", Quoted(room),
                   body.size(), static_cast<unsigned>(status),
                   Quoted(saved.status().message(), 512));
    }
    return Error(v, status, ErrorCodeOf(saved.status()), saved.status().message());
  }
  const SaveOutcome& o = *saved;
  spdlog::info(
      "event=saved room={} version={} size={} incoming_size={} merged={} unchanged={} "
      "ms={:.1f}",
      Quoted(room), o.info.version, o.info.size, body.size(), o.merged, o.unchanged, ms);
  std::string json = InfoJson(o.info);
  json.pop_back();
  json += ",\"roomId\":" + JsonString(room) + ",\"unchanged\":" + (o.unchanged ? "true" : "false") +
          "}";
  HttpResponse res = Json(v, http::status::ok, std::move(json));
  res.set("X-Tandem-Merged", o.merged ? "1" : "0");
  res.set("X-Tandem-Version", std::to_string(o.info.version));
  res.set("X-Tandem-Checksum", o.info.checksum);
  return res;
}

HttpResponse StoreHandler::Load(const std::string& room, std::optional<int64_t> version) {
  const unsigned v = 11;
  auto got = store_.Get(room, version);
  if (!got.ok()) {
    spdlog::error("event=load_failed room={} error={}", Quoted(room),
                  Quoted(got.status().ToString(), 512));
    return Error(v, HttpStatusOf(got.status()), ErrorCodeOf(got.status()), got.status().message());
  }
  if (!got->has_value()) {
    return Error(v, http::status::not_found, "not_found",
                 version.has_value() ? "no version " + std::to_string(*version) + " of this room"
                                     : "no snapshot for this room");
  }
  const Version& snap = **got;
  HttpResponse res{http::status::ok, v};
  res.set(http::field::server, "tandem-store");
  res.set(http::field::content_type, "application/octet-stream");
  res.set("X-Tandem-Version", std::to_string(snap.info.version));
  res.set("X-Tandem-Checksum", snap.info.checksum);
  res.set(http::field::etag, "\"" + snap.info.checksum + "\"");
  res.body().assign(snap.data.begin(), snap.data.end());
  spdlog::debug("event=loaded room={} version={} size={}", Quoted(room), snap.info.version,
                snap.info.size);
  return res;
}

HttpResponse StoreHandler::Versions(const std::string& room) {
  auto list = store_.ListVersions(room);
  if (!list.ok()) {
    return Error(11, HttpStatusOf(list.status()), ErrorCodeOf(list.status()),
                 list.status().message());
  }
  std::string json = "[";
  for (const VersionInfo& info : *list) {
    if (json.size() > 1) json += ",";
    json += InfoJson(info);
  }
  json += "]";
  return Json(11, http::status::ok, std::move(json));
}

HttpResponse StoreHandler::Delete(const std::string& room) {
  auto deleted = store_.Delete(room);
  if (!deleted.ok()) {
    spdlog::error("event=delete_failed room={} error={}", Quoted(room),
                  Quoted(deleted.status().ToString(), 512));
    return Error(11, HttpStatusOf(deleted.status()), ErrorCodeOf(deleted.status()),
                 deleted.status().message());
  }
  spdlog::warn("event=deleted room={} versions={}", Quoted(room), *deleted);
  HttpResponse res{http::status::no_content, 11};
  res.set(http::field::server, "tandem-store");
  res.set("X-Tandem-Deleted-Versions", std::to_string(*deleted));
  return res;
}

HttpResponse StoreHandler::Rollback(const std::string& room, std::optional<int64_t> version) {
  if (!version.has_value()) {
    return Error(11, http::status::bad_request, "bad_request", "missing version");
  }
  auto done = store_.Rollback(room, *version);
  if (!done.ok()) {
    if (done.status().code() == StatusCode::kNotFound)
      return Error(11, http::status::not_found, "not_found", done.status().message());
    return Error(11, HttpStatusOf(done.status()), ErrorCodeOf(done.status()),
                 done.status().message());
  }
  spdlog::warn("event=rolled_back room={} to_version={} new_version={} unchanged={}", Quoted(room),
               *version, done->info.version, done->unchanged);
  std::string json = InfoJson(done->info);
  json.pop_back();
  json += ",\"roomId\":" + JsonString(room) + ",\"rolledBackTo\":" + std::to_string(*version) +
          ",\"unchanged\":" + (done->unchanged ? "true" : "false") + "}";
  HttpResponse res = Json(11, http::status::ok, std::move(json));
  res.set("X-Tandem-Version", std::to_string(done->info.version));
  return res;
}

std::string StoreHandler::RenderMetrics() const {
  const StoreMetrics& m = store_.metrics();
  std::string o;
  auto counter = [&o](const char* name, const char* help, uint64_t value, const char* labels = "") {
    o += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " counter\n" + name +
         labels + " " + std::to_string(value) + "\n";
  };
  counter("tandem_store_saves_total", "Snapshot versions written.", m.saves.load());
  counter("tandem_store_saves_unchanged_total",
          "Saves identical to the latest version (nothing written).", m.saves_unchanged.load());
  counter("tandem_store_merges_total",
          "Saves whose snapshot lacked stored content; the union was stored.", m.merges.load());
  counter("tandem_store_deletes_total", "Rooms erased (every version) by DELETE.",
          m.deletes.load());
  counter("tandem_store_rollbacks_total", "Rollbacks to an earlier version by an operator.",
          m.rollbacks.load());
  o += "# HELP tandem_store_loads_total Snapshot loads by result.\n"
       "# TYPE tandem_store_loads_total counter\n";
  o += "tandem_store_loads_total{result=\"hit\"} " + std::to_string(m.loads_hit.load()) + "\n";
  o += "tandem_store_loads_total{result=\"miss\"} " + std::to_string(m.loads_miss.load()) + "\n";
  o += "# HELP tandem_store_rejected_total Saves refused by reason.\n"
       "# TYPE tandem_store_rejected_total counter\n";
  o += "tandem_store_rejected_total{reason=\"invalid\"} " +
       std::to_string(m.rejected_invalid.load()) + "\n";
  o += "tandem_store_rejected_total{reason=\"too_large\"} " +
       std::to_string(m.rejected_too_large.load()) + "\n";
  o += "tandem_store_rejected_total{reason=\"stale_epoch\"} " +
       std::to_string(m.rejected_stale_epoch.load()) + "\n";
  counter("tandem_store_storage_errors_total", "Failed storage operations.", m.errors.load());
  counter("tandem_store_saved_bytes_total", "Bytes of snapshot versions written.",
          m.bytes_saved.load());
  char seconds[32];
  std::snprintf(seconds, sizeof(seconds), "%.6f", static_cast<double>(m.save_micros.load()) / 1e6);
  o +=
      std::string("# HELP tandem_store_save_seconds_total Time spent saving (validation, merge, ") +
      "storage).\n# TYPE tandem_store_save_seconds_total "
      "counter\ntandem_store_save_seconds_total " +
      seconds + "\n";
  counter("tandem_store_http_requests_total", "HTTP requests.", metrics_.requests.load());
  o += "# HELP tandem_store_http_responses_total HTTP responses by status class.\n"
       "# TYPE tandem_store_http_responses_total counter\n";
  o += "tandem_store_http_responses_total{class=\"2xx\"} " +
       std::to_string(metrics_.status_2xx.load()) + "\n";
  o += "tandem_store_http_responses_total{class=\"4xx\"} " +
       std::to_string(metrics_.status_4xx.load()) + "\n";
  o += "tandem_store_http_responses_total{class=\"5xx\"} " +
       std::to_string(metrics_.status_5xx.load()) + "\n";
  counter("tandem_store_unauthorized_total", "Requests refused for a missing or wrong secret.",
          metrics_.unauthorized.load());
  return o;
}

// ---------------------------------------------------------------------------------------------

namespace {

// Bytes of request bodies being received, across connections (ServiceOptions).
class BodyBudget {
 public:
  explicit BodyBudget(size_t limit) : limit_(limit) {}
  bool TryTake(size_t bytes) {
    size_t used = used_.load();
    do {
      if (used + bytes > limit_ && used > 0) return false;  // one body always fits
    } while (!used_.compare_exchange_weak(used, used + bytes));
    return true;
  }
  void Give(size_t bytes) { used_ -= bytes; }

 private:
  const size_t limit_;
  std::atomic<size_t> used_{0};
};

// Whether `ec` says the bytes were not HTTP/1.1 (as opposed to a closed or timed-out stream).
bool IsParseError(const beast::error_code& ec) {
  return ec.category() == beast::http::make_error_code(http::error::bad_method).category() &&
         ec != http::error::end_of_stream && ec != http::error::partial_message &&
         ec != http::error::need_more && ec != http::error::need_buffer &&
         ec != http::error::buffer_overflow;
}

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, StoreHandler& handler, size_t max_body,
          std::chrono::milliseconds timeout, std::atomic<int>& in_flight,
          std::atomic<bool>& stopping, BodyBudget& budget)
      : stream_(std::move(socket)),
        handler_(handler),
        max_body_(max_body),
        timeout_(timeout),
        in_flight_(in_flight),
        stopping_(stopping),
        budget_(budget) {}
  ~Session() { ReturnBudget(); }

  void Start() { DoRead(); }

 private:
  // The header first: a request refused by its header (no secret, too large) is answered
  // before any of its body is read, so unauthenticated clients cannot make the store hold
  // their bodies.
  void DoRead() {
    parser_.emplace();
    parser_->header_limit(16 * 1024);
    parser_->body_limit(max_body_);
    stream_.expires_after(timeout_);
    http::async_read_header(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnHeader(ec); });
  }

  void OnHeader(beast::error_code ec) {
    if (ec == http::error::header_limit) {
      Write(handler_.HeaderTooLarge(), /*linger=*/true);
      return;
    }
    if (ec == http::error::body_limit) {  // Content-Length over the limit
      Write(handler_.TooLarge(parser_->get().version()), /*linger=*/true);
      return;
    }
    if (IsParseError(ec)) {
      Write(handler_.Malformed(ec.message()), /*linger=*/true);
      return;
    }
    if (ec) return Close();
    if (auto answer = handler_.AnswerFromHeader(parser_->get())) {
      Write(std::move(*answer), /*linger=*/!parser_->is_done());
      return;
    }
    if (!parser_->is_done()) {
      const auto declared = parser_->content_length();
      budget_taken_ = declared ? static_cast<size_t>(*declared) : max_body_;
      if (!budget_.TryTake(budget_taken_)) {
        budget_taken_ = 0;
        Write(handler_.Busy(), /*linger=*/true);
        return;
      }
    }
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code e, size_t) { self->OnRead(e); });
  }

  void OnRead(beast::error_code ec) {
    if (ec == http::error::body_limit) {
      ReturnBudget();
      Write(handler_.TooLarge(parser_->get().version()), /*linger=*/true);
      return;
    }
    if (ec == http::error::partial_message) {
      // The peer closed its side before the whole body arrived: answer, store nothing.
      ReturnBudget();
      Write(handler_.BodyIncomplete(), /*linger=*/false);
      return;
    }
    if (IsParseError(ec)) {
      ReturnBudget();
      Write(handler_.Malformed(ec.message()), /*linger=*/true);
      return;
    }
    if (ec) return Close();
    ++in_flight_;
    HttpResponse res;
    try {
      res = handler_.Handle(parser_->get());
    } catch (const std::exception& e) {
      spdlog::error("event=handler_exception error={}", Quoted(e.what()));
      res = Error(11, http::status::internal_server_error, "internal", "internal error");
      res.prepare_payload();
    }
    parser_.reset();  // the body goes as soon as it is handled
    ReturnBudget();
    if (stopping_) res.keep_alive(false);
    counted_ = true;  // in flight until the reply is written
    Write(std::move(res), false);
  }

  void ReturnBudget() {
    if (budget_taken_ == 0) return;
    budget_.Give(budget_taken_);
    budget_taken_ = 0;
  }

  void Write(HttpResponse res, bool linger) {
    res_ = std::make_shared<HttpResponse>(std::move(res));
    stream_.expires_after(timeout_);
    http::async_write(stream_, *res_,
                      [self = shared_from_this(), linger](beast::error_code ec, size_t) {
                        if (self->counted_) {
                          self->counted_ = false;
                          --self->in_flight_;
                        }
                        if (ec) return self->Close();
                        if (linger) return self->Linger();
                        if (!self->res_->keep_alive()) return self->Close();
                        self->DoRead();
                      });
  }

  // After refusing a request whose body is not read, the client may still be sending it: read
  // and drop it for a while (64 KiB at a time) so the response is not lost to a TCP reset.
  void Linger() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.expires_after(std::chrono::seconds(5));
    DrainSome();
  }
  void DrainSome() {
    drain_.resize(64 * 1024);
    stream_.async_read_some(asio::buffer(drain_),
                            [self = shared_from_this()](beast::error_code ec, size_t) {
                              if (ec) return self->Close();
                              self->DrainSome();
                            });
  }

  void Close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.socket().close(ignored);
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::shared_ptr<HttpResponse> res_;
  std::vector<char> drain_;
  bool counted_ = false;
  StoreHandler& handler_;
  size_t max_body_;
  std::chrono::milliseconds timeout_;
  std::atomic<int>& in_flight_;
  std::atomic<bool>& stopping_;
  BodyBudget& budget_;
  size_t budget_taken_ = 0;
};

}  // namespace

struct StoreService::Impl {
  Impl(SnapshotStore& s, ServiceOptions o)
      : store(s),
        options(std::move(o)),
        handler(s, options.secret),
        budget(options.max_inflight_body_bytes != 0
                   ? options.max_inflight_body_bytes
                   : 4 * std::min(store.options().max_snapshot_bytes, size_t{1} << 40)) {}

  void Accept() {
    acceptor.async_accept(asio::make_strand(ioc), [this](beast::error_code ec, tcp::socket sock) {
      if (ec) {
        if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
        // E.g. out of file descriptors: back off instead of spinning.
        spdlog::warn("event=accept_failed error={}", ec.message());
        accept_backoff.expires_after(std::chrono::milliseconds(100));
        accept_backoff.async_wait([this](beast::error_code) {
          if (acceptor.is_open()) Accept();
        });
        return;
      } else {
        std::make_shared<Session>(std::move(sock), handler, store.options().max_snapshot_bytes,
                                  options.read_timeout, in_flight, stopping, budget)
            ->Start();
      }
      Accept();
    });
  }

  SnapshotStore& store;
  ServiceOptions options;
  StoreHandler handler;
  BodyBudget budget;
  asio::io_context ioc;
  tcp::acceptor acceptor{ioc};
  asio::steady_timer accept_backoff{ioc};
  std::vector<std::thread> threads;
  std::atomic<int> in_flight{0};
  std::atomic<bool> stopping{false};
  uint16_t port = 0;
};

StoreService::StoreService(SnapshotStore& store, ServiceOptions options)
    : impl_(std::make_unique<Impl>(store, std::move(options))) {}

StoreService::~StoreService() {
  try {
    Stop();
  } catch (const std::exception& e) {
    spdlog::error("event=stop_failed error={}", Quoted(e.what()));
  }
}

Status StoreService::Start() {
  Impl& m = *impl_;
  if (m.options.secret.empty()) return InvalidArgumentError("--secret is required");
  beast::error_code ec;
  const auto address = asio::ip::make_address(m.options.host, ec);
  if (ec) return InvalidArgumentError("bad --host '" + m.options.host + "': " + ec.message());
  const tcp::endpoint endpoint(address, m.options.port);
  m.acceptor.open(endpoint.protocol(), ec);
  if (!ec) m.acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) m.acceptor.bind(endpoint, ec);
  if (!ec) m.acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return UnavailableError("cannot listen on " + m.options.host + ":" +
                            std::to_string(m.options.port) + ": " + ec.message());
  }
  m.port = m.acceptor.local_endpoint().port();
  m.Accept();
  for (unsigned i = 0; i < std::max(m.options.threads, 1u); ++i) {
    m.threads.emplace_back([&m] { m.ioc.run(); });
  }
  spdlog::info(
      "event=listening host={} port={} storage=\"{}\" max_snapshot_bytes={} keep_versions={}",
      m.options.host, m.port, m.store.backend().describe(), m.store.options().max_snapshot_bytes,
      m.store.options().keep_versions);
  return Status::Ok();
}

uint16_t StoreService::port() const {
  return impl_->port;
}

void StoreService::Stop() {
  Impl& m = *impl_;
  if (m.threads.empty()) return;
  m.stopping = true;
  asio::post(m.ioc, [&m] {
    beast::error_code ignored;
    m.acceptor.close(ignored);
    m.accept_backoff.cancel();
  });
  const auto deadline = std::chrono::steady_clock::now() + m.options.shutdown_timeout;
  while (m.in_flight.load() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  m.ioc.stop();
  for (auto& t : m.threads) t.join();
  m.threads.clear();
  spdlog::info("event=stopped requests={}", m.handler.metrics().requests.load());
}

}  // namespace tandem::store

#include "server/http_session.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <boost/asio/dispatch.hpp>
#include <boost/beast/websocket.hpp>

#include "base/log_text.h"
#include "lib0/json.h"
#include "net/http_auth.h"
#include "protocol/close_codes.h"
#include "server/server.h"

namespace tandem::server {

namespace beast = boost::beast;
namespace http = beast::http;

namespace {
std::string UrlDecodeLenient(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out.push_back(' ');
    } else if (s[i] == '%' && i + 2 < s.size() &&
               std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
               std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out.push_back(static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}
}  // namespace

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
    if (pair.substr(0, eq) == "token" && eq != std::string_view::npos)
      out.token = UrlDecodeLenient(pair.substr(eq + 1));
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

HttpSession::HttpSession(beast::tcp_stream&& stream, Server& server)
    : stream_(std::move(stream)), server_(server) {}

void HttpSession::Run() {
  boost::asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->DoRead(); });
}

void HttpSession::DoRead() {
  parser_.emplace();
  parser_->header_limit(16 * 1024);
  parser_->body_limit(64 * 1024);
  stream_.expires_after(server_.config().handshake_timeout);
  http::async_read(
      stream_, buffer_, *parser_,
      [self = shared_from_this()](beast::error_code ec, size_t n) { self->OnRead(ec, n); });
}

namespace {
// Whether `ec` says the bytes were not HTTP/1.1 (as opposed to a closed or timed-out stream).
bool IsParseError(const beast::error_code& ec) {
  return ec.category() == http::make_error_code(http::error::bad_method).category() &&
         ec != http::error::end_of_stream && ec != http::error::partial_message &&
         ec != http::error::need_more && ec != http::error::need_buffer &&
         ec != http::error::buffer_overflow;
}
}  // namespace

void HttpSession::OnRead(beast::error_code ec, size_t) {
  if (IsParseError(ec)) {
    // Duplicate Content-Length, Content-Length with Transfer-Encoding, bare LF line ends, a
    // header or body over its limit: say so, then close.
    if (ec == http::error::header_limit) {
      RespondAndClose(http::status::request_header_fields_too_large, "headers over 16 KiB");
    } else if (ec == http::error::body_limit) {
      RespondAndClose(http::status::payload_too_large, "body over 64 KiB");
    } else {
      RespondAndClose(http::status::bad_request, "malformed HTTP request: " + ec.message());
    }
    return;
  }
  if (ec) {
    beast::error_code ignored;
    stream_.socket().shutdown(boost::asio::ip::tcp::socket::shutdown_send, ignored);
    return;
  }
  if (const auto te = parser_->get()[http::field::transfer_encoding];
      !te.empty() && !beast::iequals(te, "chunked")) {
    RespondAndClose(http::status::not_implemented, "unsupported Transfer-Encoding");
    return;
  }
  Request req = parser_->release();
  if (beast::websocket::is_upgrade(req)) {
    HandleUpgrade(std::move(req));
    return;
  }
  HandleHttp(std::move(req));
}

void HttpSession::HandleHttp(Request req) {
  auto res = std::make_shared<http::response<http::string_body>>();
  res->version(req.version());
  res->keep_alive(req.keep_alive());
  res->set(http::field::server, "tandem");
  const std::string path = ParseTarget(req.target()).path;
  if (req.method() != http::verb::get && req.method() != http::verb::head) {
    res->result(http::status::method_not_allowed);
    res->set(http::field::allow, "GET, HEAD");
    res->set(http::field::content_type, "application/json");
    res->body() = R"({"error":"method not allowed"})";
  } else if (path == "/healthz") {
    res->result(http::status::ok);
    res->set(http::field::content_type, "text/plain");
    res->body() = "ok\n";
  } else if (path == "/readyz") {
    const bool ready = !server_.shutting_down();
    res->result(ready ? http::status::ok : http::status::service_unavailable);
    res->set(http::field::content_type, "text/plain");
    res->body() = ready ? "ready\n" : "shutting down\n";
  } else if (path == "/metrics") {
    res->result(http::status::ok);
    res->set(http::field::content_type, "text/plain; version=0.0.4");
    res->body() = server_.metrics().RenderPrometheus();
  } else {
    res->result(http::status::not_found);
    res->set(http::field::content_type, "application/json");
    res->body() =
        R"({"error":"not found: WebSocket clients connect to /{room} or /parties/{party}/{room}"})";
  }
  res->prepare_payload();
  http::async_write(stream_, *res, [self = shared_from_this(), res](beast::error_code ec, size_t) {
    if (ec || !res->keep_alive()) {
      beast::error_code ignored;
      self->stream_.socket().shutdown(boost::asio::ip::tcp::socket::shutdown_send, ignored);
      return;
    }
    self->DoRead();
  });
}

void HttpSession::RespondAndClose(http::status status, std::string message) {
  auto res = std::make_shared<http::response<http::string_body>>(status, 11);
  res->set(http::field::server, "tandem");
  res->set(http::field::content_type, "application/json");
  std::string body = "{\"error\":";
  lib0::AppendJsonString(body, http::obsolete_reason(status));
  body += ",\"message\":";
  lib0::AppendJsonString(body, message);
  body += "}";
  res->body() = std::move(body);
  res->keep_alive(false);
  res->prepare_payload();
  http::async_write(stream_, *res, [self = shared_from_this(), res](beast::error_code, size_t) {
    beast::error_code ignored;
    self->stream_.socket().shutdown(boost::asio::ip::tcp::socket::shutdown_send, ignored);
  });
}

void HttpSession::HandleUpgrade(Request req) {
  const ParsedTarget target = ParseTarget(req.target());
  std::string_view encoded_room = RoomFromPath(target.path);
  auto room_id = DecodeRoomId(encoded_room);
  if (encoded_room.empty() || !room_id.ok()) {
    const std::string reason = encoded_room.empty()
                                   ? "bad room path: use /{room} or /parties/{party}/{room}"
                                   : "bad room id: " + room_id.status().message();
    StartWebSocket(std::move(req), "", protocol::kCloseBadRoom, reason, false, "");
    return;
  }
  if (server_.shutting_down()) {
    StartWebSocket(std::move(req), *room_id, protocol::kCloseGoingAway, "server shutting down",
                   false, "");
    return;
  }
  if (static_cast<size_t>(server_.metrics().connections.load()) >=
      server_.config().max_connections) {
    StartWebSocket(std::move(req), *room_id, protocol::kCloseTooMany,
                   "too many connections on this server", false, "");
    return;
  }
  std::string token = target.token;
  if (token.empty()) {
    token = std::string(net::BearerToken(req[http::field::authorization]));
  }
  auto self = shared_from_this();
  auto shared_req = std::make_shared<Request>(std::move(req));
  std::string room = *room_id;
  server_.verifier().Verify(
      auth::AuthRequest{std::move(token), room}, [self, shared_req, room](auth::Decision decision) {
        boost::asio::dispatch(
            self->stream_.get_executor(), [self, shared_req, room, decision = std::move(decision)] {
              if (!decision.admitted) {
                spdlog::info("room={} connection refused: {} {}", Quoted(room), decision.close_code,
                             decision.reason);
                self->StartWebSocket(std::move(*shared_req), room, decision.close_code,
                                     decision.reason, false, "");
                return;
              }
              self->StartWebSocket(std::move(*shared_req), room, 0, "",
                                   decision.access == auth::Access::kRead, decision.user_id);
            });
      });
}

namespace {
// Moves an idle socket onto `executor` (the room's strand), so that the room's broadcasts reach
// the session without a post to another strand. Keeps the socket as it is if that fails.
boost::asio::ip::tcp::socket RebindSocket(boost::asio::ip::tcp::socket socket,
                                          const boost::asio::any_io_executor& executor) {
  using tcp = boost::asio::ip::tcp;
  boost::system::error_code ec;
  const tcp::endpoint local = socket.local_endpoint(ec);
  if (ec) return socket;
  const auto fd = socket.release(ec);
  if (ec) return socket;
  tcp::socket moved(executor);
  moved.assign(local.protocol(), fd, ec);
  if (ec) {
    ::close(fd);
    spdlog::warn("could not move a connection onto its room's strand: {}", ec.message());
  }
  return moved;
}
}  // namespace

void HttpSession::StartWebSocket(Request req, std::string room_id, uint16_t refuse_code,
                                 std::string reason, bool read_only, std::string user_id) {
  stream_.expires_never();
  boost::asio::ip::tcp::socket socket = stream_.release_socket();
  if (refuse_code == 0) {
    socket = RebindSocket(std::move(socket), server_.registry().StrandFor(room_id));
  }
  // Bytes the client sent after its request (a first message) belong to the session.
  std::string early_bytes = beast::buffers_to_string(buffer_.data());
  auto session = std::make_shared<WsSession>(server_.NextConnectionId(), std::move(socket),
                                             std::move(early_bytes), server_.session_options(),
                                             server_.metrics(), read_only, std::move(user_id));
  session->Start(req, &server_.registry(), std::move(room_id), refuse_code, std::move(reason));
}

}  // namespace tandem::server

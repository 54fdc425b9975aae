#include "server/http_session.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <boost/asio/dispatch.hpp>
#include <boost/beast/websocket.hpp>

#include "base/log_text.h"

namespace tandem::server {

namespace beast = boost::beast;
namespace http = beast::http;

namespace {

// Whether `ec` says the bytes were not HTTP/1.1 (as opposed to a closed or timed-out stream).
bool IsParseError(const beast::error_code& ec) {
  return ec.category() == http::make_error_code(http::error::bad_method).category() &&
         ec != http::error::end_of_stream && ec != http::error::partial_message &&
         ec != http::error::need_more && ec != http::error::need_buffer &&
         ec != http::error::buffer_overflow;
}

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

HttpSession::HttpSession(beast::tcp_stream&& stream, FrontDoor& front_door)
    : stream_(std::move(stream)), front_door_(front_door) {}

void HttpSession::Run() {
  boost::asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->DoRead(); });
}

void HttpSession::DoRead() {
  parser_.emplace();
  parser_->header_limit(16 * 1024);
  parser_->body_limit(front_door_.LargestBodyLimit());
  stream_.expires_after(front_door_.options().session.handshake_timeout);
  http::async_read_header(
      stream_, buffer_, *parser_,
      [self = shared_from_this()](beast::error_code ec, size_t n) { self->OnHeader(ec, n); });
}

bool HttpSession::HandledReadError(const beast::error_code& ec) {
  if (IsParseError(ec)) {
    // Duplicate Content-Length, Content-Length with Transfer-Encoding, bare LF line ends, a
    // header or body over its limit: say so, then close.
    if (ec == http::error::header_limit) {
      RespondAndClose(http::status::request_header_fields_too_large, "headers over 16 KiB");
    } else if (ec == http::error::body_limit) {
      RespondAndClose(http::status::payload_too_large,
                      "request body larger than the " +
                          std::to_string(front_door_.BodyLimitFor(parser_->get().target())) +
                          " bytes allowed here",
                      "too_large");
    } else {
      RespondAndClose(http::status::bad_request, "malformed HTTP request: " + ec.message());
    }
    return true;
  }
  if (ec) {
    beast::error_code ignored;
    stream_.socket().shutdown(boost::asio::ip::tcp::socket::shutdown_send, ignored);
    return true;
  }
  return false;
}

void HttpSession::OnHeader(beast::error_code ec, size_t) {
  if (HandledReadError(ec)) return;
  const auto& header = parser_->get();
  if (!beast::websocket::is_upgrade(header)) {
    if (auto refused = front_door_.Screen(header)) {
      // The body is not read: answer, then close the connection.
      refused->version(header.version());
      refused->set(http::field::server, "tandem");
      refused->prepare_payload();
      if (header.method() == http::verb::head) refused->body().clear();
      Write(std::move(*refused), /*keep_alive=*/false);
      return;
    }
    // Beast checks a Content-Length against the limit in force when the header was read (the
    // largest of any route): check this route's own limit here.
    const size_t limit = front_door_.BodyLimitFor(header.target());
    if (const auto length = parser_->content_length(); length && *length > limit) {
      RespondAndClose(
          http::status::payload_too_large,
          "request body larger than the " + std::to_string(limit) + " bytes allowed here",
          "too_large");
      return;
    }
    parser_->body_limit(limit);
  } else {
    parser_->body_limit(front_door_.options().max_request_body_bytes);
  }
  http::async_read(stream_, buffer_, *parser_,
                   [self = shared_from_this()](beast::error_code read_ec, size_t n) {
                     self->OnRead(read_ec, n);
                   });
}

void HttpSession::OnRead(beast::error_code ec, size_t) {
  if (HandledReadError(ec)) return;
  if (const auto te = parser_->get()[http::field::transfer_encoding];
      !te.empty() && !beast::iequals(te, "chunked")) {
    RespondAndClose(http::status::not_implemented, "unsupported Transfer-Encoding");
    return;
  }
  HttpRequest req = parser_->release();
  if (beast::websocket::is_upgrade(req)) {
    auto shared_req = std::make_shared<HttpRequest>(std::move(req));
    front_door_.Admit(*shared_req, [self = shared_from_this(), shared_req](UpgradeDecision d) {
      boost::asio::dispatch(self->stream_.get_executor(),
                            [self, shared_req, d = std::move(d)]() mutable {
                              self->StartWebSocket(*shared_req, std::move(d));
                            });
    });
    return;
  }
  const bool keep_alive = req.keep_alive();
  const bool head = req.method() == http::verb::head;
  const unsigned version = req.version();
  front_door_.HandleHttp(
      req, [self = shared_from_this(), keep_alive, head, version](HttpResponse res) {
        boost::asio::dispatch(self->stream_.get_executor(),
                              [self, res = std::move(res), keep_alive, head, version]() mutable {
                                res.version(version);
                                res.set(http::field::server, "tandem");
                                res.prepare_payload();
                                if (head) {
                                  // Same headers as GET (Content-Length included), no body.
                                  const size_t length = res.body().size();
                                  res.body().clear();
                                  res.content_length(length);
                                }
                                self->Write(std::move(res), keep_alive);
                              });
      });
}

void HttpSession::Write(HttpResponse response, bool keep_alive) {
  auto res = std::make_shared<HttpResponse>(std::move(response));
  res->keep_alive(keep_alive);
  http::async_write(stream_, *res, [self = shared_from_this(), res](beast::error_code ec, size_t) {
    if (ec || !res->keep_alive()) {
      beast::error_code ignored;
      self->stream_.socket().shutdown(boost::asio::ip::tcp::socket::shutdown_send, ignored);
      return;
    }
    self->DoRead();
  });
}

void HttpSession::RespondAndClose(http::status status, const std::string& message,
                                  std::string_view code) {
  HttpResponse res = JsonError(
      status, code.empty() ? std::string_view(http::obsolete_reason(status)) : code, message);
  res.set(http::field::server, "tandem");
  res.prepare_payload();
  Write(std::move(res), /*keep_alive=*/false);
}

void HttpSession::StartWebSocket(const HttpRequest& req, UpgradeDecision decision) {
  if (!decision.admitted() && !decision.room_id.empty()) {
    spdlog::info("room={} connection refused: {} {}", Quoted(decision.room_id),
                 decision.refuse_code, Quoted(decision.reason));
  }
  stream_.expires_never();
  boost::asio::ip::tcp::socket socket = stream_.release_socket();
  if (decision.admitted()) {
    socket = RebindSocket(std::move(socket), front_door_.registry().StrandFor(decision.room_id));
  }
  // Bytes the client sent after its request (a first message) belong to the session.
  std::string early_bytes = beast::buffers_to_string(buffer_.data());
  auto session = std::make_shared<WsSession>(
      front_door_.NextConnectionId(), std::move(socket), std::move(early_bytes),
      front_door_.options().session, front_door_.metrics(), decision.read_only,
      std::move(decision.user_id));  // the session keeps the user id once (as a Connection)
  session->Start(req, front_door_.registry(), std::move(decision));
}

}  // namespace tandem::server

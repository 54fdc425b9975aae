#include "server/ws_session.h"

#include <spdlog/spdlog.h>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>

#include "protocol/close_codes.h"

namespace tandem::server {

namespace beast = boost::beast;
namespace websocket = beast::websocket;

WsSession::WsSession(uint64_t id, beast::tcp_stream&& stream, SessionOptions options,
                     Metrics& metrics, bool read_only, std::string user_id)
    : Connection(id, read_only, std::move(user_id)),
      ws_(std::move(stream)),
      options_(options),
      metrics_(metrics) {}

WsSession::~WsSession() = default;

void WsSession::Start(Request request, RoomRegistry* registry, std::string room_id,
                      uint16_t refuse_code, std::string refuse_reason) {
  registry_ = registry;
  room_id_ = std::move(room_id);
  beast::get_lowest_layer(ws_).expires_never();  // the websocket timeouts take over
  websocket::stream_base::timeout timeouts{};
  timeouts.handshake_timeout = options_.handshake_timeout;
  // Beast pings after half the idle timeout and drops the peer after the full timeout.
  timeouts.idle_timeout = options_.ping_interval * 2;
  timeouts.keep_alive_pings = true;
  ws_.set_option(timeouts);
  ws_.set_option(websocket::stream_base::decorator(
      [](websocket::response_type& res) { res.set(beast::http::field::server, "tandem"); }));
  ws_.read_message_max(options_.max_message_bytes);
  ws_.binary(true);
  if (refuse_code != 0) {
    close_code_ = refuse_code;
    close_reason_ = std::move(refuse_reason);
  } else {
    // Counted from the handshake on, so a shutdown waits for connections still completing it.
    ++metrics_.connections;
    counted_ = true;
  }
  ws_.async_accept(request,
                   [self = shared_from_this()](beast::error_code ec) { self->OnAccept(ec); });
}

void WsSession::OnAccept(beast::error_code ec) {
  if (ec) {
    Finish();
    return;
  }
  if (close_code_ != 0) {
    metrics_.CountRefusal(close_code_);
    DoClose(close_code_, close_reason_);
    DoRead();  // read until the close handshake completes
    return;
  }
  ++metrics_.connections_total;
  joined_ = true;
  room_ = registry_->Acquire(room_id_);
  room_->Join(shared_from_this());
  DoRead();
}

void WsSession::DoRead() {
  ws_.async_read(read_buf_, [self = shared_from_this()](beast::error_code ec, size_t n) {
    self->OnRead(ec, n);
  });
}

void WsSession::OnRead(beast::error_code ec, size_t bytes) {
  if (ec) {
    if (ec == websocket::error::message_too_big) {
      metrics_.CountRefusal(protocol::kCloseTooBig);
      spdlog::info("room={} conn={} message larger than {} bytes: closing with 1009", room_id_,
                   id(), options_.max_message_bytes);
    }
    Finish();
    return;
  }
  if (joined_ && !closing_) {
    auto frame = std::make_shared<std::vector<uint8_t>>(bytes);
    boost::asio::buffer_copy(boost::asio::buffer(*frame), read_buf_.data());
    room_->Receive(shared_from_this(), std::move(frame));
  }
  read_buf_.consume(bytes);
  if (read_buf_.capacity() > 64 * 1024) read_buf_.shrink_to_fit();  // idle connections stay small
  DoRead();
}

void WsSession::Send(SharedFrame frame) {
  boost::asio::dispatch(ws_.get_executor(),
                        [self = shared_from_this(), frame = std::move(frame)]() mutable {
                          self->Enqueue(std::move(frame));
                        });
}

void WsSession::Enqueue(SharedFrame frame) {
  if (closing_ || finished_) return;
  // One frame is always accepted into an empty queue, so a document larger than the limit can
  // still be served (as sync step 2).
  if (!queue_.empty() && queued_bytes_ + frame->size() > options_.max_send_queue_bytes) {
    // A client that does not keep up is closed rather than buffered without bound; its provider
    // reconnects and resyncs.
    ++metrics_.slow_client_closes;
    spdlog::info("room={} conn={} send queue over {} bytes: closing slow client", room_id_, id(),
                 options_.max_send_queue_bytes);
    DoClose(protocol::kClosePolicy, "client too slow: send queue full");
    return;
  }
  queued_bytes_ += frame->size();
  queue_.push_back(std::move(frame));
  if (!writing_) DoWrite();
}

void WsSession::DoWrite() {
  writing_ = true;
  ws_.async_write(
      boost::asio::buffer(*queue_.front()),
      [self = shared_from_this()](beast::error_code ec, size_t n) { self->OnWrite(ec, n); });
}

void WsSession::OnWrite(beast::error_code ec, size_t bytes) {
  writing_ = false;
  if (ec) {
    Finish();
    return;
  }
  ++metrics_.messages_out;
  metrics_.bytes_out += bytes;
  queued_bytes_ -= queue_.front()->size();
  queue_.pop_front();
  if (close_after_write_) {
    close_after_write_ = false;
    ws_.async_close(
        websocket::close_reason(static_cast<websocket::close_code>(close_code_), close_reason_),
        [self = shared_from_this()](beast::error_code) {});
    return;
  }
  if (!queue_.empty() && !closing_) DoWrite();
}

void WsSession::Close(uint16_t code, std::string reason) {
  boost::asio::dispatch(ws_.get_executor(),
                        [self = shared_from_this(), code, reason = std::move(reason)]() mutable {
                          self->DoClose(code, std::move(reason));
                        });
}

void WsSession::DoClose(uint16_t code, std::string reason) {
  if (closing_ || finished_) return;
  closing_ = true;
  close_code_ = code;
  // Close reasons are limited to 123 bytes by the protocol.
  close_reason_ = reason.size() > 123 ? reason.substr(0, 120) + "..." : std::move(reason);
  queue_.erase(queue_.begin() + (writing_ ? 1 : 0), queue_.end());
  queued_bytes_ = writing_ ? queue_.front()->size() : 0;
  if (writing_) {
    close_after_write_ = true;
    return;
  }
  ws_.async_close(
      websocket::close_reason(static_cast<websocket::close_code>(close_code_), close_reason_),
      [self = shared_from_this()](beast::error_code) {});
}

void WsSession::Finish() {
  if (finished_) return;
  finished_ = true;
  if (counted_) --metrics_.connections;
  if (joined_) room_->Leave(shared_from_this());
  queue_.clear();
  queued_bytes_ = 0;
}

}  // namespace tandem::server

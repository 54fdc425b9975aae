#pragma once
// One WebSocket client: the socket, its strand (the stream's executor), a bounded write queue,
// keepalive pings. Reads are handed to the room; the room sends back through Send(), which may
// be called from any thread. Owned by its pending operations (shared_ptr).

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <deque>
#include <memory>
#include <string>

#include "server/connection.h"
#include "server/metrics.h"
#include "server/room.h"
#include "server/room_registry.h"

namespace tandem::server {

struct SessionOptions {
  size_t max_message_bytes = 16 * 1024 * 1024;
  size_t max_send_queue_bytes = 32 * 1024 * 1024;
  std::chrono::milliseconds ping_interval{30'000};
  std::chrono::milliseconds handshake_timeout{10'000};
};

class WsSession : public Connection, public std::enable_shared_from_this<WsSession> {
 public:
  using Request = boost::beast::http::request<boost::beast::http::string_body>;

  WsSession(uint64_t id, boost::beast::tcp_stream&& stream, SessionOptions options,
            Metrics& metrics, bool read_only, std::string user_id);
  ~WsSession() override;

  // Completes the WebSocket handshake, then either joins room `room_id` of `registry` or, when
  // `refuse_code` is set, closes with that code and reason right away.
  void Start(Request request, RoomRegistry* registry, std::string room_id, uint16_t refuse_code,
             std::string refuse_reason);

  void Send(SharedFrame frame) override;
  void Close(uint16_t code, std::string reason) override;

 private:
  void OnAccept(boost::beast::error_code ec);
  void DoRead();
  void OnRead(boost::beast::error_code ec, size_t bytes);
  void Enqueue(SharedFrame frame);
  void DoWrite();
  void OnWrite(boost::beast::error_code ec, size_t bytes);
  void DoClose(uint16_t code, std::string reason);
  void Finish();

  boost::beast::websocket::stream<boost::beast::tcp_stream> ws_;
  boost::beast::flat_buffer read_buf_;
  SessionOptions options_;
  Metrics& metrics_;
  RoomRegistry* registry_ = nullptr;
  std::string room_id_;
  std::shared_ptr<Room> room_;
  std::deque<SharedFrame> queue_;
  size_t queued_bytes_ = 0;
  bool writing_ = false;
  bool closing_ = false;
  bool close_after_write_ = false;
  uint16_t close_code_ = 0;
  std::string close_reason_;
  bool counted_ = false;  // in metrics_.connections
  bool joined_ = false;
  bool finished_ = false;
};

}  // namespace tandem::server

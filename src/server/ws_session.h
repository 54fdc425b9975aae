#pragma once
// One WebSocket client: completes the upgrade (the HTTP request was parsed by HttpSession), then
// frames messages itself (server/ws_frame.h) on the raw socket. The socket runs on its room's
// strand, so the room's broadcasts are queued here without a thread hop; Send and Close may still
// be called from any thread. Owned by its pending operations (shared_ptr).
//
// Memory: an idle connection holds no read or write buffer. Reads wait for readability, then
// read into a buffer shared by the connections of the thread and parse it at once; only an
// unfinished frame is kept. Writes gather queued frames (shared buffers) into one send.

#include <array>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "server/connection.h"
#include "server/metrics.h"
#include "server/room.h"
#include "server/room_registry.h"
#include "server/ws_frame.h"

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

  // `early_bytes`: what the client sent after its upgrade request, already read by HttpSession.
  WsSession(uint64_t id, boost::asio::ip::tcp::socket socket, std::string early_bytes,
            SessionOptions options, Metrics& metrics, bool read_only, std::string user_id);
  ~WsSession() override;

  // Answers the upgrade, then either joins room `room_id` of `registry` or, when `refuse_code`
  // is set, closes with that code and reason right away.
  void Start(const Request& request, RoomRegistry* registry, std::string room_id,
             uint16_t refuse_code, std::string refuse_reason);

  void Send(SharedFrame frame) override;
  void Close(uint16_t code, std::string reason) override;

 private:
  struct OutFrame {
    SharedFrame payload;
    std::array<uint8_t, kMaxWsHeaderBytes> header;
    uint8_t header_size;
    bool is_close;
  };

  // True when called on the strand the socket runs on (its room's).
  bool OnOwnStrand() const;
  void OnHandshakeWritten(boost::system::error_code ec);
  void DoRead();
  void OnReadable(boost::system::error_code ec);
  void Consume(std::span<const uint8_t> bytes);
  void OnEvent(WsEvent&& event);
  void Enqueue(WsOpcode opcode, SharedFrame payload);
  void DoWrite();
  void OnWrite(boost::system::error_code ec, size_t frames, size_t bytes);
  // Bookkeeping once `frames` queued frames (`bytes` in all) are written; true if more wait.
  bool Written(size_t frames, size_t bytes);
  void DoClose(uint16_t code, std::string reason);
  void ScheduleKeepalive();
  void Finish();

  boost::asio::ip::tcp::socket socket_;
  std::string early_bytes_;
  SessionOptions options_;
  Metrics& metrics_;
  WsFrameParser parser_;
  boost::asio::steady_timer timer_;        // keepalive pings; then the close handshake's deadline
  boost::asio::any_io_executor executor_;  // the socket's: its room's strand, as a rule
  const Room::Strand* own_strand_;         // that strand, when it is one (points into executor_)
  RoomRegistry* registry_ = nullptr;
  std::string room_id_;
  std::shared_ptr<Room> room_;
  std::shared_ptr<const std::string> handshake_;  // the 101 response while it is written
  std::vector<OutFrame> queue_;  // a vector: an empty deque would still hold a 512-byte block
  std::vector<std::array<uint8_t, kMaxWsHeaderBytes>> write_headers_;  // of the write in flight
  size_t queued_bytes_ = 0;
  size_t writing_frames_ = 0;  // frames of queue_'s front in the write in flight
  uint16_t refuse_code_ = 0;
  std::string refuse_reason_;
  bool heard_since_ping_ = false;
  bool ping_outstanding_ = false;
  bool closing_ = false;  // our close frame is queued or sent
  bool close_sent_ = false;
  bool close_received_ = false;
  bool counted_ = false;  // in metrics_.connections
  bool joined_ = false;
  bool finished_ = false;
};

}  // namespace tandem::server

#pragma once
// One WebSocket client: completes the upgrade (the HTTP request was parsed by HttpSession), then
// frames messages itself (server/ws_frame.h) on the raw socket. The socket runs on its room's
// strand, so the room's broadcasts are queued here without a thread hop; Send and Close may still
// be called from any thread. Owned by its pending operations (shared_ptr).
//
// Lifecycle: kUpgrading (the 101 is being written) -> kOpen -> kClosing (our close frame is
// queued) -> kAwaitingPeerClose (written; up to 5 s for the peer's) -> kFinished (socket closed,
// the room left). A peer's close frame is answered with the same code.
//
// Memory: an idle connection holds no read or write buffer. Reads wait for readability, then
// read into a buffer shared by the connections of the thread and parse it at once; only an
// unfinished frame is kept. Writes gather queued frames (shared buffers) into one send.

#include <sys/uio.h>

#include <array>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "room/connection.h"
#include "room/metrics.h"
#include "room/room.h"
#include "room/room_registry.h"
#include "server/upgrade_decision.h"
#include "server/ws_frame.h"

namespace tandem::server {

struct SessionOptions {
  size_t max_message_bytes = 16 * 1024 * 1024;
  size_t max_send_queue_bytes = 32 * 1024 * 1024;
  std::chrono::milliseconds ping_interval{30'000};
  std::chrono::milliseconds handshake_timeout{10'000};
};

class WsSession : public room::Connection, public std::enable_shared_from_this<WsSession> {
 public:
  using Request = boost::beast::http::request<boost::beast::http::string_body>;

  // `early_bytes`: what the client sent after its upgrade request, already read by HttpSession.
  WsSession(uint64_t id, boost::asio::ip::tcp::socket socket, std::string early_bytes,
            SessionOptions options, room::Metrics& metrics, bool read_only, std::string user_id);
  ~WsSession() override;

  // Answers the upgrade, then joins the decision's room of `registry` or, when the decision
  // refuses, closes with its code and reason right away.
  void Start(const Request& request, room::RoomRegistry& registry, UpgradeDecision decision);

  void Send(room::SharedFrame frame) override;
  void Close(uint16_t code, std::string reason) override;

  // For SendBatch: whether the write it holds should still go out (the session is open), the
  // socket, and what the send did (bytes written or -errno; -ECANCELED when it did not go).
  bool BatchedSendWanted() const { return !finished(); }
  int native_handle() { return socket_.native_handle(); }
  void OnBatchedSend(int result, std::span<const iovec> buffers);

 private:
  enum class Phase { kUpgrading, kOpen, kClosing, kAwaitingPeerClose, kFinished };
  // Keepalive: heard from the peer since the last tick; quiet for one tick; pinged and waiting.
  enum class Liveness { kHeard, kQuiet, kPinged };
  struct OutFrame {
    room::SharedFrame payload;
    std::array<uint8_t, kMaxWsHeaderBytes> header;
    uint8_t header_size;
    bool is_close;
  };

  // True when called on the strand the socket runs on (its room's).
  bool OnOwnStrand() const;
  bool closing() const { return phase_ >= Phase::kClosing; }
  bool finished() const { return phase_ == Phase::kFinished; }
  void OnHandshakeWritten(boost::system::error_code ec);
  void DoRead();
  void OnReadable(boost::system::error_code ec);
  void Consume(std::span<const uint8_t> bytes);
  void OnEvent(WsEvent&& event);
  void Enqueue(WsOpcode opcode, room::SharedFrame payload);
  void DoWrite();
  void OnWrite(boost::system::error_code ec, size_t frames, size_t bytes);
  // The part of a write the kernel did not take at once, `written` bytes into `buffers`.
  void WriteRest(std::vector<boost::asio::const_buffer> buffers, size_t frames, size_t written);
  // Bookkeeping once `frames` queued frames (`bytes` in all) are written; true if more wait.
  bool Written(size_t frames, size_t bytes);
  void DoClose(uint16_t code, std::string reason);
  void ScheduleKeepalive();
  void Finish();

  boost::asio::ip::tcp::socket socket_;
  std::string early_bytes_;
  SessionOptions options_;
  room::Metrics& metrics_;
  WsFrameParser parser_;
  boost::asio::steady_timer timer_;        // keepalive pings; then the close handshake's deadline
  boost::asio::any_io_executor executor_;  // the socket's: its room's strand, as a rule
  const room::Room::Strand* own_strand_;   // that strand, when it is one (points into executor_)
  room::RoomRegistry* registry_ = nullptr;
  UpgradeDecision decision_;
  std::shared_ptr<room::Room> room_;              // set once joined
  std::shared_ptr<const std::string> handshake_;  // the 101 response while it is written
  std::vector<OutFrame> queue_;  // a vector: an empty deque would still hold a 512-byte block
  std::vector<std::array<uint8_t, kMaxWsHeaderBytes>> write_headers_;  // of the write in flight
  size_t queued_bytes_ = 0;
  size_t writing_frames_ = 0;  // frames of queue_'s front in the write in flight
  Phase phase_ = Phase::kUpgrading;
  Liveness liveness_ = Liveness::kQuiet;  // the first tick pings a peer that said nothing
  bool peer_closed_ = false;              // the peer's close frame arrived
  bool counted_ = false;                  // 101 sent to an admitted client: in metrics_.connections
};

}  // namespace tandem::server

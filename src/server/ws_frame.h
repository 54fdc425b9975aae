#pragma once
// WebSocket framing (RFC 6455), server side and without I/O: a parser for the frames clients
// send (always masked) and the header of the frames the server sends (never masked). The parser
// holds only an unfinished frame or message, so an idle connection holds no buffer; that is why
// Tandem frames WebSocket messages itself instead of keeping a Beast websocket::stream (whose
// fixed read buffer alone is 1.5 KB per connection). Beast still parses the HTTP upgrade.
//
// Thread-safety: none; one parser per connection.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace tandem::server {

enum class WsOpcode : uint8_t {
  kContinuation = 0,
  kText = 1,
  kBinary = 2,
  kClose = 8,
  kPing = 9,
  kPong = 10,
};

inline constexpr size_t kMaxWsHeaderBytes = 10;  // server frames: 2 + 8 length bytes, no mask

// Writes the header of a final, unmasked server frame carrying `payload_size` bytes into `out`
// and returns its length (2, 4 or 10).
size_t WriteWsFrameHeader(WsOpcode opcode, uint64_t payload_size, uint8_t* out);

// Whether a peer may send this close code (RFC 6455 §7.4.1-2).
bool IsValidWireCloseCode(uint16_t code);

// The payload of a close frame: the code, big-endian, then the reason.
std::vector<uint8_t> WsClosePayload(uint16_t code, std::string_view reason);

struct WsEvent {
  enum class Kind { kMessage, kPing, kPong, kClose, kError };
  Kind kind = Kind::kMessage;
  std::vector<uint8_t> payload;  // message, ping or pong data
  uint16_t code = 0;  // kClose: the peer's code (1005 when it sent none); kError: the code to send
  std::string reason;
};

class WsFrameParser {
 public:
  explicit WsFrameParser(size_t max_message_bytes) : max_message_bytes_(max_message_bytes) {}

  // Consumes `bytes`, calling `on_event` for each complete message and control frame. At the
  // first violation it reports one kError event (1002 protocol error, 1003 text frames, 1009
  // message too big), ignores everything after it and returns false.
  bool Feed(std::span<const uint8_t> bytes, const std::function<void(WsEvent&&)>& on_event);

  bool failed() const { return failed_; }

 private:
  bool Fail(uint16_t code, std::string reason, const std::function<void(WsEvent&&)>& on_event);
  // Called once the header is complete; checks it and prepares for the payload.
  bool StartFrame(const std::function<void(WsEvent&&)>& on_event);
  void FinishFrame(const std::function<void(WsEvent&&)>& on_event);

  size_t max_message_bytes_;
  bool failed_ = false;

  // The frame being read.
  uint8_t header_[14] = {};
  size_t header_have_ = 0;
  size_t header_need_ = 2;
  bool in_payload_ = false;
  bool fin_ = false;
  WsOpcode opcode_ = WsOpcode::kContinuation;
  uint8_t mask_[4] = {};
  uint64_t payload_left_ = 0;
  size_t mask_offset_ = 0;
  std::vector<uint8_t> control_;  // payload of a control frame (<= 125 bytes)

  // The data message being assembled (possibly over several frames).
  bool in_message_ = false;
  std::vector<uint8_t> message_;
};

}  // namespace tandem::server

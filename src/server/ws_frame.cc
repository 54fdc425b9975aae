#include "server/ws_frame.h"

#include <algorithm>

#include "lib0/utf.h"

namespace tandem::server {

size_t WriteWsFrameHeader(WsOpcode opcode, uint64_t payload_size, uint8_t* out) {
  out[0] = static_cast<uint8_t>(0x80 | static_cast<uint8_t>(opcode));  // FIN
  if (payload_size < 126) {
    out[1] = static_cast<uint8_t>(payload_size);
    return 2;
  }
  if (payload_size <= 0xFFFF) {
    out[1] = 126;
    out[2] = static_cast<uint8_t>(payload_size >> 8);
    out[3] = static_cast<uint8_t>(payload_size);
    return 4;
  }
  out[1] = 127;
  for (int i = 0; i < 8; ++i) out[2 + i] = static_cast<uint8_t>(payload_size >> (56 - 8 * i));
  return 10;
}

bool IsValidWireCloseCode(uint16_t code) {
  if (code >= 3000 && code <= 4999) return true;  // registered (3xxx) and private (4xxx)
  switch (code) {
    case 1000:
    case 1001:
    case 1002:
    case 1003:
    case 1007:
    case 1008:
    case 1009:
    case 1010:
    case 1011:
    case 1012:
    case 1013:
    case 1014: return true;
    default: return false;
  }
}

std::vector<uint8_t> WsClosePayload(uint16_t code, std::string_view reason) {
  std::vector<uint8_t> out;
  out.reserve(2 + reason.size());
  out.push_back(static_cast<uint8_t>(code >> 8));
  out.push_back(static_cast<uint8_t>(code));
  out.insert(out.end(), reason.begin(), reason.end());
  return out;
}

bool WsFrameParser::Fail(uint16_t code, std::string reason,
                         const std::function<void(WsEvent&&)>& on_event) {
  failed_ = true;
  message_ = {};
  control_ = {};
  WsEvent e;
  e.kind = WsEvent::Kind::kError;
  e.code = code;
  e.reason = std::move(reason);
  on_event(std::move(e));
  return false;
}

bool WsFrameParser::StartFrame(const std::function<void(WsEvent&&)>& on_event) {
  const uint8_t b0 = header_[0];
  const uint8_t b1 = header_[1];
  fin_ = (b0 & 0x80) != 0;
  if ((b0 & 0x70) != 0)
    return Fail(1002, "reserved bits set (no extension was negotiated)", on_event);
  const uint8_t op = b0 & 0x0F;
  if (op > 2 && (op < 8 || op > 10)) return Fail(1002, "unknown opcode", on_event);
  opcode_ = static_cast<WsOpcode>(op);
  if ((b1 & 0x80) == 0) return Fail(1002, "client frames must be masked", on_event);
  const uint8_t len7 = b1 & 0x7F;
  uint64_t len = len7;
  size_t pos = 2;
  if (len7 == 126) {
    len = (uint64_t{header_[2]} << 8) | header_[3];
    pos = 4;
  } else if (len7 == 127) {
    len = 0;
    for (int i = 0; i < 8; ++i) len = (len << 8) | header_[2 + i];
    if ((len >> 63) != 0) return Fail(1002, "frame length out of range", on_event);
    pos = 10;
  }
  std::copy_n(header_ + pos, 4, mask_);
  const bool control = op >= 8;
  if (control) {
    if (!fin_) return Fail(1002, "fragmented control frame", on_event);
    if (len > 125) return Fail(1002, "control frame longer than 125 bytes", on_event);
  } else if (opcode_ == WsOpcode::kContinuation) {
    if (!in_message_) return Fail(1002, "continuation frame without a message", on_event);
  } else {
    if (in_message_) return Fail(1002, "new message before the last one finished", on_event);
    if (opcode_ == WsOpcode::kText)
      return Fail(1003, "text messages are not supported: the protocol is binary", on_event);
  }
  if (!control && len > max_message_bytes_ - std::min(message_.size(), max_message_bytes_)) {
    return Fail(1009, "message larger than " + std::to_string(max_message_bytes_) + " bytes",
                on_event);
  }
  if (!control && opcode_ != WsOpcode::kContinuation) in_message_ = true;
  payload_left_ = len;
  mask_offset_ = 0;
  in_payload_ = true;
  control_.clear();
  return true;
}

void WsFrameParser::FinishFrame(const std::function<void(WsEvent&&)>& on_event) {
  in_payload_ = false;
  header_have_ = 0;
  header_need_ = 2;
  WsEvent e;
  switch (opcode_) {
    case WsOpcode::kPing:
      e.kind = WsEvent::Kind::kPing;
      e.payload = std::move(control_);
      break;
    case WsOpcode::kPong:
      e.kind = WsEvent::Kind::kPong;
      e.payload = std::move(control_);
      break;
    case WsOpcode::kClose:
      e.kind = WsEvent::Kind::kClose;
      if (control_.size() == 1) {
        Fail(1002, "close frame with a 1-byte payload", on_event);
        return;
      }
      e.code =
          control_.size() >= 2 ? static_cast<uint16_t>((control_[0] << 8) | control_[1]) : 1005;
      // RFC 6455 §7.4: codes below 1000, the ones reserved for local use only (1004-1006,
      // 1015) and unassigned ones below 3000 never appear on the wire; the reason is UTF-8.
      if (control_.size() >= 2 && !IsValidWireCloseCode(e.code)) {
        Fail(1002, "invalid close code " + std::to_string(e.code), on_event);
        return;
      }
      if (control_.size() > 2) e.reason.assign(control_.begin() + 2, control_.end());
      if (!lib0::IsValidUtf8(e.reason)) {
        Fail(1007, "close reason is not valid UTF-8", on_event);
        return;
      }
      break;
    default:
      if (!fin_) return;  // more fragments follow
      e.kind = WsEvent::Kind::kMessage;
      e.payload = std::move(message_);
      message_ = {};
      in_message_ = false;
      break;
  }
  control_ = {};
  on_event(std::move(e));
}

bool WsFrameParser::Feed(std::span<const uint8_t> bytes,
                         const std::function<void(WsEvent&&)>& on_event) {
  size_t i = 0;
  while (!failed_ && i < bytes.size()) {
    if (!in_payload_) {
      // Header: 2 bytes say how many more (extended length, then the 4-byte mask) follow.
      const size_t take = std::min(header_need_ - header_have_, bytes.size() - i);
      std::copy_n(bytes.data() + i, take, header_ + header_have_);
      header_have_ += take;
      i += take;
      if (header_have_ < header_need_) break;
      if (header_need_ == 2) {
        const uint8_t len7 = header_[1] & 0x7F;
        header_need_ = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + ((header_[1] & 0x80) ? 4 : 0);
        if (header_have_ < header_need_) continue;
      }
      if (!StartFrame(on_event)) return false;
      if (payload_left_ == 0) FinishFrame(on_event);
      continue;
    }
    const size_t take = static_cast<size_t>(std::min<uint64_t>(payload_left_, bytes.size() - i));
    std::vector<uint8_t>& into = static_cast<uint8_t>(opcode_) >= 8 ? control_ : message_;
    const size_t at = into.size();
    into.resize(at + take);
    for (size_t k = 0; k < take; ++k) into[at + k] = bytes[i + k] ^ mask_[(mask_offset_ + k) & 3];
    mask_offset_ += take;
    payload_left_ -= take;
    i += take;
    if (payload_left_ == 0) FinishFrame(on_event);
  }
  return !failed_;
}

}  // namespace tandem::server

#include "server/ws_session.h"

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <spdlog/spdlog.h>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <cerrno>
#include <vector>

#include "base/log_text.h"
#include "protocol/close_codes.h"
#include "server/send_batch.h"

namespace tandem::server {

namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;

namespace {

// How long we wait for the peer's close frame after sending ours.
constexpr std::chrono::seconds kCloseHandshakeTimeout{5};
// Frames gathered into one send.
constexpr size_t kMaxFramesPerWrite = 64;

// Sec-WebSocket-Accept: base64(SHA-1(key + the RFC 6455 GUID)).
std::string AcceptKey(std::string_view key) {
  std::string input(key);
  input += "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest);
  unsigned char out[4 * ((SHA_DIGEST_LENGTH + 2) / 3) + 1];
  const int n = EVP_EncodeBlock(out, digest, SHA_DIGEST_LENGTH);
  return std::string(reinterpret_cast<const char*>(out), static_cast<size_t>(n));
}

// The bytes of one read, shared by every connection of the thread: a read and its parsing happen
// in one handler, so no connection needs a buffer of its own while it waits.
std::array<uint8_t, 64 * 1024>& ThreadReadBuffer() {
  thread_local std::array<uint8_t, 64 * 1024> buffer;
  return buffer;
}

}  // namespace

WsSession::WsSession(uint64_t id, tcp::socket socket, std::string early_bytes,
                     SessionOptions options, room::Metrics& metrics, bool read_only,
                     std::string user_id)
    : Connection(id, read_only, std::move(user_id)),
      socket_(std::move(socket)),
      early_bytes_(std::move(early_bytes)),
      options_(options),
      metrics_(metrics),
      parser_(options.max_message_bytes),
      timer_(socket_.get_executor()),
      executor_(socket_.get_executor()),
      own_strand_(executor_.target<room::Room::Strand>()) {}

WsSession::~WsSession() = default;

void WsSession::Start(const Request& request, room::RoomRegistry& registry,
                      UpgradeDecision decision) {
  registry_ = &registry;
  decision_ = std::move(decision);
  const auto key = request[http::field::sec_websocket_key];
  const auto version = request[http::field::sec_websocket_version];
  std::string response;
  bool upgrade = true;
  if (key.empty() || version != "13") {
    response =
        "HTTP/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 13\r\nConnection: close\r\n"
        "Content-Length: 0\r\n\r\n";
    upgrade = false;
  } else {
    response =
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Server: tandem\r\nSec-WebSocket-Accept: " +
        AcceptKey(key) + "\r\n\r\n";
    if (decision_.admitted()) {
      // Counted from the handshake on, so a shutdown waits for connections still completing it.
      ++metrics_.connections;
      counted_ = true;
    }
  }
  handshake_ = std::make_shared<const std::string>(std::move(response));
  boost::asio::async_write(
      socket_, boost::asio::buffer(*handshake_),
      [self = shared_from_this(), upgrade](boost::system::error_code ec, size_t) {
        if (!upgrade) {
          self->Finish();  // 426: nothing more to say
          return;
        }
        self->OnHandshakeWritten(ec);
      });
}

void WsSession::OnHandshakeWritten(boost::system::error_code ec) {
  handshake_.reset();
  if (ec) {
    Finish();
    return;
  }
  phase_ = Phase::kOpen;
  boost::system::error_code ignored;
  socket_.non_blocking(true, ignored);
  ScheduleKeepalive();
  if (!decision_.admitted()) {
    metrics_.CountRefusal(decision_.refuse_code);
    DoClose(decision_.refuse_code, decision_.reason);
  } else {
    ++metrics_.connections_total;
    room_ = registry_->Acquire(decision_.room_id);
    room_->Join(shared_from_this());
  }
  if (!early_bytes_.empty()) {
    std::string early = std::move(early_bytes_);
    Consume({reinterpret_cast<const uint8_t*>(early.data()), early.size()});
  }
  if (!finished()) DoRead();
}

void WsSession::DoRead() {
  socket_.async_wait(
      tcp::socket::wait_read,
      [self = shared_from_this()](boost::system::error_code ec) { self->OnReadable(ec); });
}

void WsSession::OnReadable(boost::system::error_code ec) {
  if (finished()) return;
  if (ec) {
    Finish();
    return;
  }
  auto& buffer = ThreadReadBuffer();
  // A few reads at most per wake-up, so one busy client cannot starve the others of its thread.
  for (int i = 0; i < 4 && !finished(); ++i) {
    const size_t n = socket_.read_some(boost::asio::buffer(buffer), ec);
    if (ec == boost::asio::error::would_block || ec == boost::asio::error::try_again) break;
    if (ec) {  // end of stream, reset
      Finish();
      return;
    }
    Consume({buffer.data(), n});
    if (n < buffer.size()) break;
  }
  if (!finished()) DoRead();
}

void WsSession::Consume(std::span<const uint8_t> bytes) {
  liveness_ = Liveness::kHeard;
  if (parser_.failed()) return;  // after a protocol error we only wait for the close
  parser_.Feed(bytes, [this](WsEvent&& e) { OnEvent(std::move(e)); });
}

void WsSession::OnEvent(WsEvent&& e) {
  switch (e.kind) {
    case WsEvent::Kind::kMessage:
      if (room_ && !closing()) {
        room_->Receive(shared_from_this(),
                       std::make_shared<std::vector<uint8_t>>(std::move(e.payload)));
      }
      return;
    case WsEvent::Kind::kPing:
      if (!closing())
        Enqueue(WsOpcode::kPong,
                std::make_shared<const std::vector<uint8_t>>(std::move(e.payload)));
      return;
    case WsEvent::Kind::kPong: return;
    case WsEvent::Kind::kClose:
      peer_closed_ = true;
      if (phase_ == Phase::kAwaitingPeerClose) {
        Finish();
      } else if (!closing()) {
        // Echo the peer's code, as the RFC asks.
        DoClose(e.code == 1005 ? 1000 : e.code, "");
      }
      return;
    case WsEvent::Kind::kError:
      if (e.code == protocol::kCloseTooBig) {
        metrics_.CountRefusal(protocol::kCloseTooBig);
        spdlog::info("room={} conn={} message larger than {} bytes: closing with 1009",
                     Quoted(decision_.room_id), id(), options_.max_message_bytes);
      } else {
        spdlog::info("room={} conn={} WebSocket protocol error: {}", Quoted(decision_.room_id),
                     id(), Quoted(e.reason));
      }
      DoClose(e.code, e.reason);
      return;
  }
}

bool WsSession::OnOwnStrand() const {
  return own_strand_ != nullptr && own_strand_->running_in_this_thread();
}

void WsSession::Send(room::SharedFrame frame) {
  if (OnOwnStrand()) {  // a broadcast from our room: no dispatch machinery per recipient
    if (!closing()) Enqueue(WsOpcode::kBinary, std::move(frame));
    return;
  }
  boost::asio::dispatch(executor_, [self = shared_from_this(), frame = std::move(frame)]() mutable {
    if (self->closing()) return;
    self->Enqueue(WsOpcode::kBinary, std::move(frame));
  });
}

void WsSession::Enqueue(WsOpcode opcode, room::SharedFrame payload) {
  if (finished()) return;
  // One frame is always accepted into an empty queue, so a document larger than the limit can
  // still be served (as sync step 2).
  if (opcode == WsOpcode::kBinary && !queue_.empty() &&
      queued_bytes_ + payload->size() > options_.max_send_queue_bytes) {
    // A client that does not keep up is closed rather than buffered without bound; its provider
    // reconnects and resyncs.
    ++metrics_.slow_client_closes;
    spdlog::info("room={} conn={} send queue over {} bytes: closing slow client",
                 Quoted(decision_.room_id), id(), options_.max_send_queue_bytes);
    DoClose(protocol::kClosePolicy, "client too slow: send queue full");
    return;
  }
  OutFrame f;
  f.header_size =
      static_cast<uint8_t>(WriteWsFrameHeader(opcode, payload->size(), f.header.data()));
  f.is_close = opcode == WsOpcode::kClose;
  queued_bytes_ += payload->size();
  f.payload = std::move(payload);
  queue_.push_back(std::move(f));
  if (writing_frames_ == 0) DoWrite();
}

void WsSession::DoWrite() {
  // A loop, not a recursion through OnWrite: a long queue written at once must not grow the stack.
  for (;;) {
    const size_t n = std::min(queue_.size(), kMaxFramesPerWrite);
    // The headers go to their own array: queue_ may grow (and move) while the write is in flight.
    write_headers_.assign(n, {});
    std::vector<boost::asio::const_buffer> buffers;
    buffers.reserve(2 * n);
    bool has_close = false;
    size_t total = 0;
    for (size_t i = 0; i < n; ++i) {
      const OutFrame& f = queue_[i];
      std::copy_n(f.header.data(), f.header_size, write_headers_[i].data());
      buffers.emplace_back(write_headers_[i].data(), f.header_size);
      if (!f.payload->empty()) buffers.emplace_back(f.payload->data(), f.payload->size());
      has_close |= f.is_close;
      total += f.header_size + f.payload->size();
    }
    writing_frames_ = n;
    size_t written = 0;
    // Most writes fit in the socket's buffer: send without an asynchronous operation and its
    // completion handler. A broadcast's sends are gathered with the other sends of this turn of
    // the thread's loop into one system call where io_uring is available; others go at once. Close
    // frames and what the kernel does not take at once go the asynchronous way.
    if (!has_close && socket_.non_blocking() && room::Connection::InBroadcast() && OnOwnStrand()) {
      if (SendBatch* batch = SendBatch::ForThisThread()) {
        std::array<iovec, 2 * kMaxFramesPerWrite> iov{};
        for (size_t i = 0; i < buffers.size(); ++i) {
          iov[i] = {const_cast<void*>(buffers[i].data()), buffers[i].size()};
        }
        batch->Add(shared_from_this(), std::span<const iovec>(iov.data(), buffers.size()),
                   executor_);
        return;
      }
    }
    if (!has_close && socket_.non_blocking()) {
      boost::system::error_code ec;
      written = socket_.write_some(buffers, ec);
      if (ec && ec != boost::asio::error::would_block && ec != boost::asio::error::try_again) {
        // The caller may be iterating over its room's connections: leave the room later.
        boost::asio::post(executor_, [self = shared_from_this(), ec] { self->OnWrite(ec, 0, 0); });
        return;
      }
      if (ec) written = 0;
      if (written == total) {
        writing_frames_ = 0;
        if (Written(n, written)) continue;
        return;
      }
    }
    WriteRest(std::move(buffers), n, written);
    return;
  }
}

void WsSession::WriteRest(std::vector<boost::asio::const_buffer> buffers, size_t frames,
                          size_t written) {
  // Skip what the kernel took.
  size_t skip = written;
  auto it = buffers.begin();
  while (it != buffers.end() && skip >= it->size()) skip -= (it++)->size();
  if (it != buffers.end()) *it += skip;
  buffers.erase(buffers.begin(), it);
  boost::asio::async_write(
      socket_, buffers,
      [self = shared_from_this(), frames, written](boost::system::error_code ec, size_t bytes) {
        self->OnWrite(ec, frames, written + bytes);
      });
}

void WsSession::OnBatchedSend(int result, std::span<const iovec> buffers) {
  if (finished()) return;  // closed before the batch went out: nothing was sent
  const size_t frames = writing_frames_;
  if (result < 0 && result != -EAGAIN && result != -EWOULDBLOCK) {
    const boost::system::error_code ec(-result, boost::system::system_category());
    boost::asio::post(executor_, [self = shared_from_this(), ec] { self->OnWrite(ec, 0, 0); });
    return;
  }
  const size_t written = result > 0 ? static_cast<size_t>(result) : 0;
  size_t total = 0;
  for (const iovec& b : buffers) total += b.iov_len;
  if (written == total) {
    writing_frames_ = 0;
    if (Written(frames, written)) DoWrite();
    return;
  }
  std::vector<boost::asio::const_buffer> rest;
  rest.reserve(buffers.size());
  for (const iovec& b : buffers) rest.emplace_back(b.iov_base, b.iov_len);
  WriteRest(std::move(rest), frames, written);
}

void WsSession::OnWrite(boost::system::error_code ec, size_t frames, size_t bytes) {
  writing_frames_ = 0;
  if (ec || finished()) {
    Finish();
    return;
  }
  if (Written(frames, bytes)) DoWrite();
}

bool WsSession::Written(size_t frames, size_t bytes) {
  metrics_.messages_out += frames;
  metrics_.bytes_out += bytes;
  bool wrote_close = false;
  frames = std::min(frames, queue_.size());
  for (size_t i = 0; i < frames; ++i) {
    queued_bytes_ -= queue_[i].payload->size();
    wrote_close |= queue_[i].is_close;
  }
  queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(frames));
  if (queue_.empty()) {  // idle connections stay small
    if (queue_.capacity() > 16) queue_ = {};
    write_headers_ = {};
  }
  if (wrote_close) {
    phase_ = Phase::kAwaitingPeerClose;
    if (peer_closed_) {
      Finish();
      return false;
    }
    // Wait for the peer's close frame, but not forever.
    timer_.expires_after(kCloseHandshakeTimeout);
    timer_.async_wait([self = shared_from_this()](boost::system::error_code e) {
      if (!e) self->Finish();
    });
    return false;
  }
  return !queue_.empty();
}

void WsSession::Close(uint16_t code, std::string reason) {
  boost::asio::dispatch(executor_,
                        [self = shared_from_this(), code, reason = std::move(reason)]() mutable {
                          self->DoClose(code, std::move(reason));
                        });
}

void WsSession::DoClose(uint16_t code, std::string reason) {
  if (closing()) return;
  phase_ = Phase::kClosing;
  // Close reasons are limited to 123 bytes by the protocol.
  if (reason.size() > 123) reason = reason.substr(0, 120) + "...";
  // Frames not yet being written are dropped; the close frame goes right after.
  while (queue_.size() > writing_frames_) {
    queued_bytes_ -= queue_.back().payload->size();
    queue_.pop_back();
  }
  Enqueue(WsOpcode::kClose,
          std::make_shared<const std::vector<uint8_t>>(WsClosePayload(code, reason)));
}

void WsSession::ScheduleKeepalive() {
  timer_.expires_after(options_.ping_interval);
  timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
    if (ec || self->closing()) return;
    if (self->liveness_ == Liveness::kPinged) {
      // Silent for two intervals, the last of which had a ping in it: a dead peer.
      spdlog::debug("room={} conn={} no answer to ping: dropping", Quoted(self->decision_.room_id),
                    self->id());
      self->Finish();
      return;
    }
    if (self->liveness_ == Liveness::kQuiet) {
      self->liveness_ = Liveness::kPinged;
      self->Enqueue(WsOpcode::kPing, std::make_shared<const std::vector<uint8_t>>());
    } else {
      self->liveness_ = Liveness::kQuiet;
    }
    self->ScheduleKeepalive();
  });
}

void WsSession::Finish() {
  if (finished()) return;
  phase_ = Phase::kFinished;
  boost::system::error_code ignored;
  timer_.cancel();
  socket_.shutdown(tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
  if (counted_) --metrics_.connections;
  if (room_) room_->Leave(shared_from_this());
  queue_.clear();
  queued_bytes_ = 0;
}

}  // namespace tandem::server

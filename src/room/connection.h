#pragma once
// What a room needs from a client connection. Implemented by WsSession; tests use fakes.
// Send and Close are thread-safe: they hand the work to the connection's own strand.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace tandem::room {

using SharedFrame = std::shared_ptr<const std::vector<uint8_t>>;

class Connection {
 public:
  virtual ~Connection() = default;
  // Queues a frame; one buffer may be shared by many connections (broadcast).
  virtual void Send(SharedFrame frame) = 0;
  // True on this thread while a room hands one frame to several connections: a connection may
  // then gather its send with the others' into one system call (server/send_batch.h), where a
  // lone send is cheaper made at once.
  static bool InBroadcast() { return broadcast_depth_ > 0; }
  class BroadcastScope {
   public:
    BroadcastScope() { ++broadcast_depth_; }
    ~BroadcastScope() { --broadcast_depth_; }
    BroadcastScope(const BroadcastScope&) = delete;
    BroadcastScope& operator=(const BroadcastScope&) = delete;
  };
  virtual void Close(uint16_t code, std::string reason) = 0;

  uint64_t id() const { return id_; }
  bool read_only() const { return read_only_; }
  const std::string& user_id() const { return user_id_; }

 protected:
  Connection(uint64_t id, bool read_only, std::string user_id)
      : id_(id), read_only_(read_only), user_id_(std::move(user_id)) {}

 private:
  uint64_t id_;
  bool read_only_;
  std::string user_id_;
  static inline thread_local int broadcast_depth_ = 0;
};

}  // namespace tandem::room

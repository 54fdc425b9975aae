#pragma once
// A Redis client on Asio for cluster mode (docs/CLUSTER.md): replies are parsed by hiredis (RESP2;
// Debian's libhiredis), commands written in RESP's request form (EncodeCommand, checked against
// hiredis's formatter), the socket is Asio's. One connection, commands
// pipelined in order; every callback runs on the client's strand. A lost connection fails the
// commands in flight with kUnavailable and the next command reconnects. Blocking commands
// (XREAD BLOCK) hold the connection: give them a client of their own.

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

struct redisReader;

namespace tandem::redis {

// A reply as RESP2 gives it. A top-level error reply arrives as a Result error: kUnavailable
// for a passing state (LOADING, BUSY, OOM, ...), else kFailedPrecondition with Redis's message;
// inside an array (EXEC) it is a kError element.
struct Reply {
  enum class Type : uint8_t { kString, kArray, kInteger, kNil, kStatus, kError };
  Type type = Type::kNil;
  std::string str;  // kString, kStatus, kError
  int64_t integer = 0;
  std::vector<Reply> elements;  // kArray

  bool is_nil() const { return type == Type::kNil; }
};

struct RedisUrl {
  std::string host = "127.0.0.1";
  uint16_t port = 6379;
  int db = 0;
};
// redis://host[:port][/db]; kInvalidArgument with a message otherwise.
Result<RedisUrl> ParseRedisUrl(std::string_view url);

// Whether an error reply of Redis says something that passes (loading its AOF, out of memory
// under noeviction, a busy script, a replica without its primary), so the command can be tried
// again, as opposed to a fault of the command or its data.
bool IsTransientError(std::string_view message);

struct RedisOptions {
  RedisUrl url;
  std::chrono::milliseconds connect_timeout{2'000};
  // A command unanswered this long (beyond a BLOCK's own timeout) breaks the connection.
  std::chrono::milliseconds command_timeout{5'000};
};

class RedisClient : public std::enable_shared_from_this<RedisClient> {
 public:
  using Callback = std::function<void(Result<Reply>)>;
  // A message pushed by Redis (pub/sub: ["message", channel, payload], or a pattern's
  // "pmessage"). The views point into the parsed reply and last while the handler runs: a
  // relayed entry goes from the socket's bytes to its room without a copy of every field.
  struct PushMessage {
    std::string_view channel;
    std::string_view payload;
  };
  using PushHandler = std::function<void(const PushMessage&)>;

  static std::shared_ptr<RedisClient> Create(const boost::asio::any_io_executor& executor,
                                             RedisOptions options);
  ~RedisClient();

  // Sends one command (its arguments, binary-safe). `done` runs once, on the client's strand.
  // `extra_wait`: how long beyond command_timeout the reply may take (a BLOCK timeout).
  void Command(const std::vector<std::string>& args, Callback done,
               std::chrono::milliseconds extra_wait = {});
  // Closes the connection; commands in flight fail with kUnavailable.
  void Close();
  // Close() at once, on the caller's thread, without the connection-lost handler: only once
  // nothing runs the client's executor any more (its io_context is about to be destroyed).
  void Abandon();
  // Subscriber mode: pub/sub messages go to `handler` (set before the first SUBSCRIBE), and
  // `on_lost` runs (on the strand) whenever the connection is lost, so subscriptions can be
  // renewed. Subscribe one channel per command: each confirmation answers one command.
  void SetPushHandler(PushHandler handler, std::function<void()> on_lost);

  // The strand every callback runs on (a caller's timers for this client belong on it).
  const boost::asio::strand<boost::asio::any_io_executor>& executor() const { return strand_; }

  uint64_t connects() const { return connects_; }
  // Replies received and their total round-trip time (blocking commands not counted).
  uint64_t replies() const { return replies_.load(std::memory_order_relaxed); }
  uint64_t roundtrip_micros() const { return roundtrip_micros_.load(std::memory_order_relaxed); }

 private:
  struct Pending {
    Callback done;
    std::chrono::steady_clock::time_point deadline;
    std::chrono::steady_clock::time_point sent{};  // not set: not timed (blocking, SELECT)
  };
  RedisClient(const boost::asio::any_io_executor& executor, RedisOptions options);
  void DoCommand(const std::string& encoded, Callback done, std::chrono::milliseconds extra_wait);
  void Connect();
  void OnConnected(const boost::system::error_code& ec);
  void Write();
  void Read();
  // Parses `n` bytes read and answers what they complete; false once the connection failed or
  // was replaced (by a callback) and nothing more may be read with `gen`.
  bool OnBytes(size_t n, uint64_t gen);
  void Fail(const Status& why);
  void ArmWatchdog();

  boost::asio::strand<boost::asio::any_io_executor> strand_;
  const RedisOptions options_;
  boost::asio::ip::tcp::socket socket_;
  boost::asio::steady_timer watchdog_;
  bool watchdog_armed_ = false;
  enum class State { kIdle, kConnecting, kOpen } state_ = State::kIdle;
  std::string out_;      // encoded commands waiting to be written
  std::string writing_;  // the buffer of the write in progress
  bool write_in_progress_ = false;
  std::deque<Pending> pending_;  // written or queued, awaiting replies, in order
  std::vector<char> read_buf_;
  redisReader* reader_ = nullptr;
  uint64_t connects_ = 0;
  uint64_t generation_ = 0;  // bumped on each (re)connect: stale handlers ignore themselves
  PushHandler push_handler_;
  std::function<void()> on_lost_;
  std::atomic<uint64_t> replies_{0};
  std::atomic<uint64_t> roundtrip_micros_{0};
};

// Encodes one command in RESP's request form (an array of bulk strings).
std::string EncodeCommand(const std::vector<std::string>& args);

}  // namespace tandem::redis

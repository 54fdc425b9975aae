#include "redis/redis_client.h"

#include <hiredis/hiredis.h>
#include <spdlog/spdlog.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <charconv>
#include <optional>

namespace tandem::redis {

namespace {

Reply Convert(const redisReply* r) {
  Reply out;
  switch (r->type) {
    case REDIS_REPLY_STRING:
      out.type = Reply::Type::kString;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = Reply::Type::kStatus;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ERROR:
      out.type = Reply::Type::kError;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = Reply::Type::kInteger;
      out.integer = r->integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = Reply::Type::kArray;
      out.elements.reserve(r->elements);
      for (size_t i = 0; i < r->elements; ++i) out.elements.push_back(Convert(r->element[i]));
      break;
    default: out.type = Reply::Type::kNil; break;
  }
  return out;
}

std::string_view View(const redisReply* r) {
  return {r->str, r->len};
}

bool IsBulk(const redisReply* r) {
  return r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS;
}

// ["message", channel, payload] or ["pmessage", pattern, channel, payload]; anything else is a
// reply to a command.
std::optional<RedisClient::PushMessage> AsPushMessage(const redisReply* r) {
  if (r->type != REDIS_REPLY_ARRAY || r->elements < 3) return std::nullopt;
  for (size_t i = 0; i < r->elements; ++i) {
    if (!IsBulk(r->element[i])) return std::nullopt;
  }
  const std::string_view kind = View(r->element[0]);
  if (kind == "message" && r->elements == 3) {
    return RedisClient::PushMessage{View(r->element[1]), View(r->element[2])};
  }
  if (kind == "pmessage" && r->elements == 4) {
    return RedisClient::PushMessage{View(r->element[2]), View(r->element[3])};
  }
  return std::nullopt;
}

// An error reply: a passing state of the server is kUnavailable, to try again; anything else is
// the command's fault.
Status ErrorStatus(std::string message) {
  if (IsTransientError(message)) return UnavailableError("redis: " + message);
  return Status(StatusCode::kFailedPrecondition, std::move(message));
}

}  // namespace

bool IsTransientError(std::string_view message) {
  // The error's code is its first word (BUSYGROUP, say, is not BUSY).
  const std::string_view code = message.substr(0, message.find(' '));
  for (std::string_view transient : {"LOADING", "BUSY", "TRYAGAIN", "OOM", "MASTERDOWN"}) {
    if (code == transient) return true;
  }
  return false;
}

Result<RedisUrl> ParseRedisUrl(std::string_view url) {
  constexpr std::string_view kScheme = "redis://";
  auto bad = [&](const std::string& why) {
    return Status(StatusCode::kInvalidArgument, "bad Redis URL \"" +
                                                    std::string(url.substr(0, 200)) + "\": " + why +
                                                    " (expected redis://host[:port][/db])");
  };
  if (url.substr(0, kScheme.size()) != kScheme) return bad("it must start with redis://");
  std::string_view rest = url.substr(kScheme.size());
  RedisUrl out;
  const size_t slash = rest.find('/');
  std::string_view hostport = rest.substr(0, slash);
  if (slash != std::string_view::npos) {
    std::string_view db = rest.substr(slash + 1);
    if (!db.empty()) {
      auto [p, ec] = std::from_chars(db.data(), db.data() + db.size(), out.db);
      if (ec != std::errc() || p != db.data() + db.size() || out.db < 0 || out.db > 15)
        return bad("the database is a number 0..15");
    }
  }
  if (hostport.find('@') != std::string_view::npos) return bad("credentials are not supported");
  const size_t colon = hostport.rfind(':');
  if (colon != std::string_view::npos) {
    std::string_view port = hostport.substr(colon + 1);
    unsigned value = 0;
    auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || p != port.data() + port.size() || value == 0 || value > 65535)
      return bad("the port is a number 1..65535");
    out.port = static_cast<uint16_t>(value);
    hostport = hostport.substr(0, colon);
  }
  if (hostport.empty()) return bad("no host");
  out.host = std::string(hostport);
  return out;
}

namespace {
void AppendLengthLine(std::string& out, char kind, size_t n) {
  char digits[24];
  const auto end = std::to_chars(digits, digits + sizeof digits, n).ptr;
  out.push_back(kind);
  out.append(digits, end);
  out.append("\r\n");
}
}  // namespace

std::string EncodeCommand(const std::vector<std::string>& args) {
  // RESP's request form, written straight into one string: hiredis's formatter prints each
  // length with sprintf into a buffer of its own, which a copy would follow (an append script
  // call has some 30 arguments, on every tick of a busy node).
  size_t size = 16;
  for (const std::string& a : args) size += a.size() + 24;
  std::string out;
  out.reserve(size);
  AppendLengthLine(out, '*', args.size());
  for (const std::string& a : args) {
    AppendLengthLine(out, '$', a.size());
    out.append(a);
    out.append("\r\n");
  }
  return out;
}

std::shared_ptr<RedisClient> RedisClient::Create(const boost::asio::any_io_executor& executor,
                                                 RedisOptions options) {
  return std::shared_ptr<RedisClient>(new RedisClient(executor, std::move(options)));
}

RedisClient::RedisClient(const boost::asio::any_io_executor& executor, RedisOptions options)
    : strand_(boost::asio::make_strand(executor)),
      options_(std::move(options)),
      socket_(strand_),
      watchdog_(strand_),
      read_buf_(64 * 1024) {}

RedisClient::~RedisClient() {
  if (reader_ != nullptr) redisReaderFree(reader_);
}

void RedisClient::Command(const std::vector<std::string>& args, Callback done,
                          std::chrono::milliseconds extra_wait) {
  std::string encoded = EncodeCommand(args);
  auto send = [self = shared_from_this(), encoded = std::move(encoded), done = std::move(done),
               extra_wait]() mutable { self->DoCommand(encoded, std::move(done), extra_wait); };
  // From the thread that runs the client (a worker's lane, say), the command is written now:
  // a post would cost that thread one more turn of its loop. Inside the client's own handlers
  // (a reply's callback) it waits for them to finish. No callback runs before Command returns.
  if (strand_.running_in_this_thread()) {
    boost::asio::post(strand_, std::move(send));
  } else {
    boost::asio::dispatch(strand_, std::move(send));
  }
}

void RedisClient::SetPushHandler(PushHandler handler, std::function<void()> on_lost) {
  boost::asio::post(strand_, [self = shared_from_this(), handler = std::move(handler),
                              on_lost = std::move(on_lost)]() mutable {
    self->push_handler_ = std::move(handler);
    self->on_lost_ = std::move(on_lost);
  });
}

void RedisClient::Close() {
  boost::asio::post(strand_, [self = shared_from_this()] {
    self->Fail(UnavailableError("redis: client closed"));
  });
}

void RedisClient::Abandon() {
  push_handler_ = nullptr;
  on_lost_ = nullptr;
  Fail(UnavailableError("redis: client abandoned"));
}

void RedisClient::DoCommand(const std::string& encoded, Callback done,
                            std::chrono::milliseconds extra_wait) {
  if (encoded.empty()) {
    boost::asio::post(strand_, [done = std::move(done)] {
      done(Status(StatusCode::kInvalidArgument, "redis: empty command"));
    });
    return;
  }
  const auto now = std::chrono::steady_clock::now();
  pending_.push_back({std::move(done), now + options_.command_timeout + extra_wait,
                      extra_wait.count() == 0 ? now : std::chrono::steady_clock::time_point{}});
  out_ += encoded;
  ArmWatchdog();
  if (state_ == State::kIdle) {
    Connect();
  } else if (state_ == State::kOpen) {
    Write();
  }
}

void RedisClient::Connect() {
  state_ = State::kConnecting;
  ++generation_;
  if (reader_ != nullptr) redisReaderFree(reader_);
  reader_ = redisReaderCreate();
  if (options_.url.db != 0) {
    // SELECT goes first on the new connection; its answer is for nobody.
    out_.insert(0, EncodeCommand({"SELECT", std::to_string(options_.url.db)}));
    pending_.push_front({[](const Result<Reply>&) {},
                         pending_.empty()
                             ? std::chrono::steady_clock::now() + options_.connect_timeout
                             : pending_.front().deadline});
  }
  // The connection's generation: a watchdog of the last one no longer counts.
  watchdog_.cancel();
  watchdog_armed_ = false;
  ArmWatchdog();
  auto resolver = std::make_shared<boost::asio::ip::tcp::resolver>(strand_);
  resolver->async_resolve(
      options_.url.host, std::to_string(options_.url.port),
      [self = shared_from_this(), resolver, gen = generation_](
          const boost::system::error_code& ec,
          const boost::asio::ip::tcp::resolver::results_type& results) {
        if (gen != self->generation_) return;
        if (ec) {
          self->Fail(UnavailableError("redis: cannot resolve " + self->options_.url.host + ": " +
                                      ec.message()));
          return;
        }
        boost::asio::async_connect(self->socket_, results,
                                   [self, gen](const boost::system::error_code& ec2,
                                               const boost::asio::ip::tcp::endpoint&) {
                                     if (gen != self->generation_) return;
                                     self->OnConnected(ec2);
                                   });
      });
}

void RedisClient::OnConnected(const boost::system::error_code& ec) {
  if (ec) {
    Fail(UnavailableError("redis: cannot connect to " + options_.url.host + ":" +
                          std::to_string(options_.url.port) + ": " + ec.message()));
    return;
  }
  boost::system::error_code ignored;
  socket_.set_option(boost::asio::ip::tcp::no_delay(true), ignored);
  // The first try of a write (Write()) must never block the thread.
  socket_.non_blocking(true, ignored);
  state_ = State::kOpen;
  ++connects_;
  Write();
  Read();
}

void RedisClient::Write() {
  if (write_in_progress_ || out_.empty() || state_ != State::kOpen) return;
  // Most commands fit in the socket's buffer: written at once, without an asynchronous write
  // whose completion costs the thread one more turn of its loop. What the kernel does not take
  // goes the asynchronous way.
  boost::system::error_code now_ec;
  const size_t n = socket_.write_some(boost::asio::buffer(out_), now_ec);
  if (now_ec && now_ec != boost::asio::error::would_block &&
      now_ec != boost::asio::error::try_again) {
    // Failed from the caller's stack (Command, say): its callbacks run after it returns.
    boost::asio::post(strand_, [self = shared_from_this(), gen = generation_, now_ec] {
      if (gen == self->generation_)
        self->Fail(UnavailableError("redis: write failed: " + now_ec.message()));
    });
    return;
  }
  out_.erase(0, now_ec ? 0 : n);
  if (out_.empty()) return;
  write_in_progress_ = true;
  writing_.clear();
  writing_.swap(out_);
  boost::asio::async_write(
      socket_, boost::asio::buffer(writing_),
      [self = shared_from_this(), gen = generation_](const boost::system::error_code& ec, size_t) {
        if (gen != self->generation_) return;
        self->write_in_progress_ = false;
        if (ec) {
          self->Fail(UnavailableError("redis: write failed: " + ec.message()));
          return;
        }
        self->Write();
      });
}

void RedisClient::Read() {
  // A read handed to Asio with its buffer. Asio (1.26) tries every such read at once, so after a
  // reply it costs one recv that finds the socket empty; a readiness wait (async_wait) would cost
  // one epoll_ctl re-arming the descriptor instead. Either way one system call per read.
  socket_.async_read_some(
      boost::asio::buffer(read_buf_), [self = shared_from_this(), gen = generation_](
                                          const boost::system::error_code& ec, size_t n) {
        if (gen != self->generation_) return;
        if (ec) {
          self->Fail(UnavailableError("redis: connection lost: " + ec.message()));
          return;
        }
        if (!self->OnBytes(n, gen)) return;
        self->Read();
      });
}

bool RedisClient::OnBytes(size_t n, uint64_t gen) {
  if (redisReaderFeed(reader_, read_buf_.data(), n) != REDIS_OK) {
    Fail(MalformedError("redis: unreadable reply"));
    return false;
  }
  while (true) {
    void* raw = nullptr;
    if (redisReaderGetReply(reader_, &raw) != REDIS_OK) {
      Fail(MalformedError("redis: unreadable reply"));
      return false;
    }
    if (raw == nullptr) break;
    auto* reply = static_cast<redisReply*>(raw);
    if (push_handler_) {
      if (const auto message = AsPushMessage(reply)) {
        push_handler_(*message);
        freeReplyObject(reply);
        if (gen != generation_) return false;  // the handler closed the connection
        continue;
      }
    }
    Result<Reply> result = reply->type == REDIS_REPLY_ERROR
                               ? Result<Reply>(ErrorStatus(std::string(reply->str, reply->len)))
                               : Result<Reply>(Convert(reply));
    freeReplyObject(reply);
    if (pending_.empty()) {
      Fail(MalformedError("redis: a reply nobody asked for"));
      return false;
    }
    Callback done = std::move(pending_.front().done);
    if (pending_.front().sent != std::chrono::steady_clock::time_point{}) {
      const auto took = std::chrono::steady_clock::now() - pending_.front().sent;
      replies_.fetch_add(1, std::memory_order_relaxed);
      roundtrip_micros_.fetch_add(
          static_cast<uint64_t>(
              std::chrono::duration_cast<std::chrono::microseconds>(took).count()),
          std::memory_order_relaxed);
    }
    pending_.pop_front();
    done(std::move(result));
    if (gen != generation_) return false;  // the callback closed the connection
  }
  return true;
}

void RedisClient::Fail(const Status& why) {
  ++generation_;
  state_ = State::kIdle;
  write_in_progress_ = false;
  boost::system::error_code ignored;
  socket_.close(ignored);
  watchdog_.cancel();
  watchdog_armed_ = false;
  out_.clear();
  std::deque<Pending> failed;
  failed.swap(pending_);
  for (Pending& p : failed) p.done(why);
  if (on_lost_) on_lost_();
}

void RedisClient::ArmWatchdog() {
  // Deadlines only grow along the queue (one timeout for all but blocking commands, which
  // add theirs): a timer armed for an earlier command fires first and re-arms for the front.
  // Re-arming on every command would cancel and queue a timer handler each time.
  if (watchdog_armed_ || pending_.empty()) return;
  watchdog_armed_ = true;
  watchdog_.expires_at(pending_.front().deadline);
  watchdog_.async_wait(
      [self = shared_from_this(), gen = generation_](const boost::system::error_code& ec) {
        if (gen != self->generation_) return;  // Fail() disarmed it
        self->watchdog_armed_ = false;
        if (ec || self->pending_.empty()) return;
        if (std::chrono::steady_clock::now() < self->pending_.front().deadline) {
          self->ArmWatchdog();
          return;
        }
        self->Fail(Status(StatusCode::kDeadlineExceeded, "redis: no reply in time"));
      });
}

}  // namespace tandem::redis

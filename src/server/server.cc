#include "server/server.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "protocol/close_codes.h"
#include "server/http_session.h"

namespace tandem::server {

namespace net = boost::asio;
using tcp = net::ip::tcp;

Server::Server(ServerOptions options, ServerParts parts)
    : options_(std::move(options)),
      parts_(std::move(parts)),
      acceptor_(ioc_),
      signals_(ioc_, SIGINT, SIGTERM) {
  const unsigned n =
      options_.threads != 0 ? options_.threads : std::max(1u, std::thread::hardware_concurrency());
  std::vector<net::any_io_executor> shard_executors;
  for (unsigned i = 0; i < n; ++i) {
    shards_.push_back(std::make_unique<net::io_context>(1));
    shard_work_.push_back(net::make_work_guard(*shards_.back()));
    shard_executors.push_back(shards_.back()->get_executor());
  }
  room::PersistenceServices persistence;
  persistence.log = parts_.log;
  persistence.snapshots = parts_.snapshots;
  persistence.clock = parts_.clock;
  persistence.events = parts_.events;
  persistence.change_notify = parts_.change_notify;
  persistence.cluster = parts_.cluster;
  persistence.options = options_.persistence;
  registry_ =
      std::make_unique<room::RoomRegistry>(ioc_.get_executor(), shard_executors, options_.room,
                                           persistence, options_.room_idle_unload, metrics_);
  front_door_ =
      std::make_unique<FrontDoor>(*registry_, *parts_.verifier, metrics_, options_.front_door);
  front_door_->AddMetricsRenderer([this] { return RenderPersistenceMetrics(); });
  if (parts_.not_ready_reason) front_door_->set_not_ready_reason(parts_.not_ready_reason);
}

Server::~Server() {
  StopAll();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  if (spare_fd_ >= 0) ::close(spare_fd_);
}

void Server::StopAll() {
  shard_work_.clear();
  for (auto& shard : shards_) shard->stop();
  ioc_.stop();
}

Status Server::Start() {
  if (parts_.verifier->mode() == "none") {
    spdlog::warn(
        "AUTH IS OFF (--auth none): anyone who can reach this port can read and write every room");
  }
  spdlog::info("room log: {}; snapshots: {}",
               parts_.log != nullptr ? parts_.log->describe() : "none (rooms in memory)",
               parts_.snapshots != nullptr ? parts_.snapshots->describe() : "none");
  FitDescriptorLimit();
  boost::system::error_code ec;
  const auto address = net::ip::make_address(options_.host, ec);
  if (ec) return InvalidArgumentError("bad --host '" + options_.host + "': " + ec.message());
  tcp::endpoint endpoint(address, options_.port);
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
  if (ec)
    return UnavailableError("cannot listen on " + options_.host + ":" +
                            std::to_string(options_.port) + ": " + ec.message());
  bound_port_ = acceptor_.local_endpoint().port();

  signals_.async_wait([this](const boost::system::error_code& e, int signal) {
    if (e) return;
    spdlog::info("signal {}: shutting down", signal);
    Shutdown();
  });
  DoAccept();
  // Rooms left with unsaved changes by a previous run (crash, kill -9) save them now.
  if (parts_.log != nullptr) {
    auto needing = parts_.log->RoomsNeedingSave();
    if (needing.ok()) {
      for (const auto& room : *needing) registry_->Resume(room);
      if (!needing->empty())
        spdlog::info("resuming saves of {} rooms with unsaved changes", needing->size());
    }
  }
  threads_.emplace_back([this] { ioc_.run(); });
  workers_running_ = shards_.size();
  for (auto& shard : shards_) {
    threads_.emplace_back([this, &shard] {
      shard->run();
      std::lock_guard lock(exit_mu_);
      --workers_running_;
      exit_cv_.notify_all();
    });
  }
  spdlog::info("tandem listening on {}:{} ({} threads, auth {})", options_.host, bound_port_,
               shards_.size(), parts_.verifier->mode());
  return Status::Ok();
}

void Server::DoAccept() {
  acceptor_.async_accept(net::make_strand(ioc_), [this](boost::system::error_code ec,
                                                        tcp::socket socket) {
    if (ec == net::error::operation_aborted || shutting_down_) return;
    if (ec) {
      OnAcceptFailed(ec);
      return;
    }
    accept_delay_ = std::chrono::milliseconds(0);
    socket.set_option(tcp::no_delay(true), ec);
    std::make_shared<HttpSession>(boost::beast::tcp_stream(std::move(socket)), *front_door_)->Run();
    DoAccept();
  });
}

void Server::OnAcceptFailed(const boost::system::error_code& ec) {
  // Out of descriptors, the waiting connection stays in the backlog and accept fails again at
  // once: retrying without a pause spun a core and wrote a log line per try. Give the spare
  // descriptor back to take that connection and close it (the client sees a close, not a hang),
  // then pause. (The log uses strerror: under UBSan, message() on an accept error tripped a false
  // vptr report of Boost's system category.)
  if ((ec.value() == EMFILE || ec.value() == ENFILE) && spare_fd_ >= 0) {
    ::close(spare_fd_);
    spare_fd_ = -1;
    const int fd = ::accept(acceptor_.native_handle(), nullptr, nullptr);
    if (fd >= 0) ::close(fd);
    spare_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  }
  ++accept_failures_;
  const auto now = std::chrono::steady_clock::now();
  if (now - last_accept_warning_ >= std::chrono::seconds(10)) {
    spdlog::warn("accept failed {} times: {} (--max-connections {}, fd limit: see ulimit -n)",
                 accept_failures_, std::strerror(ec.value()),
                 front_door_->options().max_connections);
    accept_failures_ = 0;
    last_accept_warning_ = now;
  }
  accept_delay_ =
      std::clamp(accept_delay_ * 2, std::chrono::milliseconds(10), std::chrono::milliseconds(1000));
  accept_backoff_.expires_after(accept_delay_);
  accept_backoff_.async_wait([this](const boost::system::error_code& e) {
    if (!e && !shutting_down_) DoAccept();
  });
}

void Server::FitDescriptorLimit() {
  // Descriptors besides client sockets: SQLite files and journals, the log, store and auth
  // connections, the spare, worker wake-ups.
  constexpr rlim_t kMargin = 128;
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  if (limit.rlim_cur < limit.rlim_max) {
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  }
  const rlim_t budget = limit.rlim_cur > kMargin ? limit.rlim_cur - kMargin : 1;
  if (options_.front_door.max_connections > budget) {
    spdlog::warn(
        "--max-connections {} does not fit the descriptor limit {} (ulimit -n) with a margin of "
        "{}: using {}",
        options_.front_door.max_connections, limit.rlim_cur, kMargin, budget);
    options_.front_door.max_connections = static_cast<size_t>(budget);
    front_door_->set_max_connections(static_cast<size_t>(budget));
  }
  spare_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
}

void Server::Shutdown() {
  if (shutting_down_.exchange(true)) return;
  front_door_->set_shutting_down();
  net::post(ioc_, [this] {
    boost::system::error_code ec;
    acceptor_.close(ec);
    signals_.cancel(ec);
    accept_backoff_.cancel();
    if (parts_.drain) {
      // A cluster node: the others take over this node's rooms (leases released first), and
      // clients reconnect to them at once.
      parts_.drain();
      registry_->CloseAll(protocol::kCloseServiceRestart, "node restarting: reconnect");
    } else {
      registry_->CloseAll(protocol::kCloseGoingAway, "server shutting down");
    }
    // Save every room with unsaved changes; stop once saved and every client has gone, or after
    // the timeout.
    auto saved = std::make_shared<std::atomic<bool>>(false);
    registry_->SaveAll([saved] { *saved = true; });
    auto deadline = std::chrono::steady_clock::now() + options_.shutdown_timeout;
    auto timer = std::make_shared<net::steady_timer>(ioc_);
    auto check = std::make_shared<std::function<void()>>();
    *check = [this, timer, deadline, check, saved] {
      const bool timed_out = std::chrono::steady_clock::now() >= deadline;
      if ((metrics_.connections.load() <= 0 && *saved) || timed_out) {
        if (timed_out && !*saved)
          spdlog::warn("shutdown timeout: some rooms could not save (their log is kept)");
        if (parts_.log != nullptr) parts_.log->Flush();
        spdlog::info("shutdown complete");
        StopAll();
        *check = nullptr;
        return;
      }
      timer->expires_after(std::chrono::milliseconds(20));
      timer->async_wait([check](const boost::system::error_code&) {
        if (*check) (*check)();
      });
    };
    (*check)();
  });
}

std::string Server::RenderPersistenceMetrics() {
  size_t unsaved = 0;
  int64_t oldest_ms = 0;
  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  for (const auto& room : registry_->Rooms()) {
    const int64_t since = room->unsaved_since_unix_ms();
    if (since == 0) continue;
    ++unsaved;
    oldest_ms = std::max(oldest_ms, now_ms - since);
  }
  std::string o;
  o += "# HELP tandem_rooms_unsaved Loaded rooms with changes not yet in the snapshot store.\n";
  o += "# TYPE tandem_rooms_unsaved gauge\ntandem_rooms_unsaved " + std::to_string(unsaved) + "\n";
  o += "# HELP tandem_oldest_unsaved_change_seconds Age of the oldest change not yet saved.\n";
  o += "# TYPE tandem_oldest_unsaved_change_seconds gauge\ntandem_oldest_unsaved_change_seconds " +
       std::to_string(static_cast<double>(oldest_ms) / 1000.0) + "\n";
  if (parts_.log != nullptr) {
    auto log_bytes = parts_.log->LogBytes();
    o += "# HELP tandem_log_bytes Bytes in local room logs (not yet compacted).\n";
    o += "# TYPE tandem_log_bytes gauge\ntandem_log_bytes " +
         std::to_string(log_bytes.ok() ? *log_bytes : 0) + "\n";
  }
  return o;
}

void Server::Wait() {
  // The first thread runs ioc_, which stops when shutdown is complete.
  if (!threads_.empty() && threads_.front().joinable()) threads_.front().join();
  // Workers stop after the handler they are in. One that runs on (a huge update being applied)
  // must not keep the process alive: everything acknowledged is in the room log already.
  std::unique_lock lock(exit_mu_);
  if (!exit_cv_.wait_for(lock, options_.shutdown_timeout,
                         [this] { return workers_running_ == 0; })) {
    spdlog::error("a worker is still busy {} ms after shutdown; exiting without it",
                  options_.shutdown_timeout.count());
    spdlog::shutdown();
    std::_Exit(0);
  }
  lock.unlock();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
}

}  // namespace tandem::server

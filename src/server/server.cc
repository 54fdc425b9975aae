#include "server/server.h"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include "net/http_client.h"
#include "protocol/close_codes.h"
#include "server/http_session.h"
#include "snapshot/http_snapshot_client.h"

namespace tandem::server {

namespace net = boost::asio;
using tcp = net::ip::tcp;

Server::Server(ServerConfig config)
    : config_(std::move(config)), acceptor_(ioc_), signals_(ioc_, SIGINT, SIGTERM) {}

Server::~Server() {
  StopAll();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
}

void Server::StopAll() {
  shard_work_.clear();
  for (auto& shard : shards_) shard->stop();
  ioc_.stop();
}

SessionOptions Server::session_options() const {
  SessionOptions o;
  o.max_message_bytes = config_.max_message_bytes;
  o.max_send_queue_bytes = config_.max_send_queue_bytes;
  o.ping_interval = config_.ping_interval;
  o.handshake_timeout = config_.handshake_timeout;
  return o;
}

Status Server::Start() {
  auth::AuthOptions auth_options;
  auth_options.mode = config_.auth_mode;
  auth_options.jwt_secret = config_.jwt_secret;
  auth_options.auth_url = config_.auth_url;
  auth_options.auth_secret = config_.auth_secret;
  auth_options.cache_ttl = config_.auth_cache_ttl;
  auth_options.timeout = config_.auth_timeout;
  auto verifier = auth::MakeVerifier(auth_options, ioc_.get_executor());
  if (!verifier.ok()) return verifier.status();
  verifier_ = std::move(verifier).value();
  if (config_.auth_mode == "none") {
    spdlog::warn(
        "AUTH IS OFF (--auth none): anyone who can reach this port can read and write every room");
  }

  // Local durable storage and the snapshot store.
  auto store = storage::SqliteRoomStore::Open(config_.data_dir, config_.durability == "normal"
                                                                    ? storage::Durability::kNormal
                                                                    : storage::Durability::kFull);
  if (!store.ok()) return store.status();
  room_store_ = std::move(store).value();
  commit_log_ = std::make_unique<storage::CommitLog>(*room_store_, 1024, config_.commit_delay);
  if (config_.snapshot_url.empty()) {
    auto embedded = snapshot::OpenSqliteSnapshotStorage(config_.data_dir);
    if (!embedded.ok()) return embedded.status();
    embedded_snapshots_ = std::move(embedded).value();
    snapshot_client_ = std::make_unique<snapshot::EmbeddedSnapshotClient>(
        *embedded_snapshots_, io_pool_.get_executor(), "embedded store in " + config_.data_dir);
  } else {
    if (config_.snapshot_secret.empty()) {
      spdlog::warn(
          "--snapshot-url is set but --snapshot-secret is empty: the store will likely refuse "
          "saves");
    }
    snapshot::HttpSnapshotOptions o;
    o.base_url = config_.snapshot_url;
    o.secret = config_.snapshot_secret;
    o.total_timeout = config_.snapshot_timeout;
    snapshot_client_ = std::make_unique<snapshot::HttpSnapshotClient>(
        std::make_shared<tandem::net::HttpClient>(io_pool_.get_executor()), o);
  }
  spdlog::info("room storage in {} (durability {}), snapshots to {}", config_.data_dir,
               config_.durability, snapshot_client_->describe());

  RoomOptions room_options;
  room_options.max_connections = config_.max_connections_per_room;
  room_options.awareness_timeout = config_.awareness_timeout;
  RoomServices services;
  services.store = room_store_.get();
  services.log = commit_log_.get();
  services.snapshots = snapshot_client_.get();
  services.io = io_pool_.get_executor();
  services.save_policy.interval = config_.save_interval;
  services.save_policy.debounce = config_.disconnect_debounce;
  services.save_policy.retry_min = config_.save_retry;
  services.save_policy.retry_max = std::max(config_.save_retry, services.save_policy.retry_max);
  services.compact_after_updates = config_.compact_after_updates;
  const unsigned n =
      config_.threads != 0 ? config_.threads : std::max(1u, std::thread::hardware_concurrency());
  std::vector<boost::asio::any_io_executor> shard_executors;
  for (unsigned i = 0; i < n; ++i) {
    shards_.push_back(std::make_unique<net::io_context>(1));
    shard_work_.push_back(net::make_work_guard(*shards_.back()));
    shard_executors.push_back(shards_.back()->get_executor());
  }
  registry_ = std::make_unique<RoomRegistry>(ioc_.get_executor(), shard_executors, room_options,
                                             services, config_.room_idle_unload, metrics_);
  metrics_.render_extra = [this] { return RenderPersistenceMetrics(); };

  boost::system::error_code ec;
  const auto address = net::ip::make_address(config_.host, ec);
  if (ec) return InvalidArgumentError("bad --host '" + config_.host + "': " + ec.message());
  tcp::endpoint endpoint(address, config_.port);
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
  if (ec)
    return UnavailableError("cannot listen on " + config_.host + ":" +
                            std::to_string(config_.port) + ": " + ec.message());
  bound_port_ = acceptor_.local_endpoint().port();

  signals_.async_wait([this](const boost::system::error_code& e, int signal) {
    if (e) return;
    spdlog::info("signal {}: shutting down", signal);
    Shutdown();
  });
  DoAccept();
  // Rooms left with unsaved changes by a previous run (crash, kill -9) save them now.
  auto needing = room_store_->RoomsNeedingSave();
  if (needing.ok()) {
    for (const auto& room : *needing) registry_->Resume(room);
    if (!needing->empty())
      spdlog::info("resuming saves of {} rooms with unsaved changes", needing->size());
  }
  threads_.emplace_back([this] { ioc_.run(); });
  for (auto& shard : shards_) threads_.emplace_back([&shard] { shard->run(); });
  spdlog::info("tandem listening on {}:{} ({} threads, auth {})", config_.host, bound_port_, n,
               config_.auth_mode);
  return Status::Ok();
}

void Server::DoAccept() {
  acceptor_.async_accept(net::make_strand(ioc_), [this](boost::system::error_code ec,
                                                        tcp::socket socket) {
    if (ec) {
      if (ec == net::error::operation_aborted) return;
      spdlog::warn("accept failed: {}", ec.message());  // e.g. out of file descriptors; keep going
    } else {
      socket.set_option(tcp::no_delay(true), ec);
      std::make_shared<HttpSession>(boost::beast::tcp_stream(std::move(socket)), *this)->Run();
    }
    if (!shutting_down_) DoAccept();
  });
}

void Server::Shutdown() {
  if (shutting_down_.exchange(true)) return;
  net::post(ioc_, [this] {
    boost::system::error_code ec;
    acceptor_.close(ec);
    signals_.cancel(ec);
    registry_->CloseAll(protocol::kCloseGoingAway, "server shutting down");
    // Save every room with unsaved changes; stop once saved and every client has gone, or after
    // the timeout.
    auto saved = std::make_shared<std::atomic<bool>>(false);
    registry_->SaveAll([saved] { *saved = true; });
    auto deadline = std::chrono::steady_clock::now() + config_.shutdown_timeout;
    auto timer = std::make_shared<net::steady_timer>(ioc_);
    auto check = std::make_shared<std::function<void()>>();
    *check = [this, timer, deadline, check, saved] {
      const bool timed_out = std::chrono::steady_clock::now() >= deadline;
      if ((metrics_.connections.load() <= 0 && *saved) || timed_out) {
        if (timed_out && !*saved)
          spdlog::warn("shutdown timeout: some rooms could not save (their log is kept)");
        commit_log_->Flush();
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
  auto log_bytes = room_store_->LogBytes();
  std::string o;
  o += "# HELP tandem_rooms_unsaved Loaded rooms with changes not yet in the snapshot store.\n";
  o += "# TYPE tandem_rooms_unsaved gauge\ntandem_rooms_unsaved " + std::to_string(unsaved) + "\n";
  o += "# HELP tandem_oldest_unsaved_change_seconds Age of the oldest change not yet saved.\n";
  o += "# TYPE tandem_oldest_unsaved_change_seconds gauge\ntandem_oldest_unsaved_change_seconds " +
       std::to_string(static_cast<double>(oldest_ms) / 1000.0) + "\n";
  o += "# HELP tandem_log_bytes Bytes in local room logs (not yet compacted).\n";
  o += "# TYPE tandem_log_bytes gauge\ntandem_log_bytes " +
       std::to_string(log_bytes.ok() ? *log_bytes : 0) + "\n";
  return o;
}

void Server::Wait() {
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
}

}  // namespace tandem::server

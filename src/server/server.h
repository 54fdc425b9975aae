#pragma once
// `tandem serve`: the HTTP + WebSocket listener, the worker threads, the room registry and
// graceful shutdown. Start() returns once listening; Wait() blocks until shutdown completes.

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "auth/token_verifier.h"
#include "base/status.h"
#include "server/config.h"
#include "server/metrics.h"
#include "server/room_registry.h"
#include "server/ws_session.h"
#include "snapshot/embedded_snapshot_client.h"
#include "snapshot/snapshot_client.h"
#include "storage/commit_log.h"
#include "storage/sqlite_room_store.h"

namespace tandem::server {

class Server {
 public:
  explicit Server(ServerConfig config);
  ~Server();

  // Binds, starts the worker threads and handles SIGINT/SIGTERM.
  Status Start();
  // Blocks until the server has shut down.
  void Wait();
  // Graceful shutdown: stop accepting, close clients with 1001, stop after they left (bounded).
  void Shutdown();

  uint16_t port() const { return bound_port_; }
  Metrics& metrics() { return metrics_; }
  bool shutting_down() const { return shutting_down_; }

  // Used by sessions.
  const ServerConfig& config() const { return config_; }
  RoomRegistry& registry() { return *registry_; }
  auth::TokenVerifier& verifier() { return *verifier_; }
  uint64_t NextConnectionId() { return ++next_connection_id_; }
  SessionOptions session_options() const;

 private:
  void DoAccept();
  // After an accept failure (out of descriptors, say): sheds the waiting connection with the
  // spare descriptor, then waits before accepting again, longer each time up to a second.
  void OnAcceptFailed(const boost::system::error_code& ec);
  // Sizes the descriptor budget: raises the soft limit to the hard one and keeps a margin for
  // files, the log and store connections; lowers --max-connections to fit if it must.
  void FitDescriptorLimit();
  void StopAll();

  std::string RenderPersistenceMetrics();

  ServerConfig config_;
  Metrics metrics_;
  // ioc_ runs the listener, HTTP, auth and shutdown on one thread; rooms and their connections
  // run on the shards, one single-threaded io_context per worker thread, so a room's work and
  // its sockets' completions never wake another thread.
  boost::asio::io_context ioc_{1};
  std::vector<std::unique_ptr<boost::asio::io_context>> shards_;
  std::vector<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> shard_work_;
  boost::asio::thread_pool io_pool_{2};  // blocking storage and snapshot-store calls
  std::unique_ptr<storage::SqliteRoomStore> room_store_;
  std::unique_ptr<storage::CommitLog> commit_log_;
  std::unique_ptr<snapshot::SnapshotStorage> embedded_snapshots_;
  std::unique_ptr<snapshot::SnapshotClient> snapshot_client_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::signal_set signals_;
  std::unique_ptr<RoomRegistry> registry_;
  std::unique_ptr<auth::TokenVerifier> verifier_;
  std::vector<std::thread> threads_;
  boost::asio::steady_timer accept_backoff_{ioc_};
  std::chrono::milliseconds accept_delay_{0};
  std::chrono::steady_clock::time_point last_accept_warning_;
  uint64_t accept_failures_ = 0;  // since the last warning
  int spare_fd_ = -1;             // closed to accept (and drop) a connection when out of fds
  // Worker threads still running, for Wait()'s bound on a worker stuck in one handler.
  std::mutex exit_mu_;
  std::condition_variable exit_cv_;
  size_t workers_running_ = 0;  // GUARDED_BY(exit_mu_)
  std::atomic<uint64_t> next_connection_id_{0};
  std::atomic<bool> shutting_down_{false};
  uint16_t bound_port_ = 0;
};

}  // namespace tandem::server

#pragma once
// `tandem serve`'s process: the listener, the worker threads the rooms run on, the room registry
// and graceful shutdown. It builds nothing it does not own: the composition root (src/cli) builds
// the verifier, the room log and the snapshot store client and hands them over as ServerParts.
// Start() returns once listening; Wait() blocks until shutdown completes.

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "auth/token_verifier.h"
#include "base/status.h"
#include "room/clock.h"
#include "room/metrics.h"
#include "room/room.h"
#include "room/room_registry.h"
#include "roomlog/room_log.h"
#include "server/front_door.h"
#include "snapshot/snapshot_client.h"

namespace tandem::server {

struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;  // 0: any free port (see port())
  unsigned threads = 0;  // workers the rooms run on; 0: one per core
  FrontDoorOptions front_door;
  room::RoomOptions room;
  room::PersistenceOptions persistence;
  std::chrono::milliseconds room_idle_unload{
      30'000};  // unload a room this long after its last client
  std::chrono::milliseconds shutdown_timeout{10'000};
};

// What the composition root builds. Each must outlive the Server.
struct ServerParts {
  auth::TokenVerifier* verifier = nullptr;        // required
  roomlog::RoomLog* log = nullptr;                // null: rooms live in memory
  snapshot::SnapshotClient* snapshots = nullptr;  // null: no snapshot store
  room::Clock* clock = nullptr;                   // null: the system clock
  room::RoomEvents* events = nullptr;             // null: nobody listens (no webhooks)
  room::ChangeNotifyOptions change_notify;        // room.changed debounce
  // Cluster mode (docs/CLUSTER.md; all null on a single node): what rooms tell the cluster,
  // whether this node can serve (Redis reachable: /readyz), and the drain on shutdown (leases
  // released before clients are told to reconnect elsewhere with 1012).
  room::RoomCluster* cluster = nullptr;
  std::function<std::string()> not_ready_reason;  // empty string: ready
  std::function<void()> drain;
};

class Server {
 public:
  Server(ServerOptions options, ServerParts parts);
  ~Server();

  // Binds, starts the worker threads and handles SIGINT/SIGTERM.
  Status Start();
  // Blocks until the server has shut down.
  void Wait();
  // Graceful shutdown: stop accepting, close clients with 1001, save every room, stop after the
  // clients left (bounded by shutdown_timeout).
  void Shutdown();

  uint16_t port() const { return bound_port_; }
  room::Metrics& metrics() { return metrics_; }
  room::RoomRegistry& registry() { return *registry_; }
  // Routes of the HTTP port; add handlers before Start().
  FrontDoor& front_door() { return *front_door_; }
  const ServerOptions& options() const { return options_; }

 private:
  void DoAccept();
  // After an accept failure (out of descriptors, say): sheds the waiting connection with the
  // spare descriptor, then waits before accepting again, longer each time up to a second.
  void OnAcceptFailed(const boost::system::error_code& ec);
  // Sizes the descriptor budget: raises the soft limit to the hard one and keeps a margin for
  // files, the log and store connections; lowers the connection limit to fit if it must.
  void FitDescriptorLimit();
  void StopAll();
  std::string RenderPersistenceMetrics();

  ServerOptions options_;
  ServerParts parts_;
  room::Metrics metrics_;
  // ioc_ runs the listener, HTTP and shutdown on one thread; rooms and their connections run on
  // the shards, one single-threaded io_context per worker thread, so a room's work and its
  // sockets' completions never wake another thread.
  boost::asio::io_context ioc_{1};
  std::vector<std::unique_ptr<boost::asio::io_context>> shards_;
  std::vector<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> shard_work_;
  std::unique_ptr<room::RoomRegistry> registry_;
  std::unique_ptr<FrontDoor> front_door_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::signal_set signals_;
  std::vector<std::thread> threads_;
  std::atomic<bool> shutting_down_{false};
  uint16_t bound_port_ = 0;
  boost::asio::steady_timer accept_backoff_{ioc_};
  std::chrono::milliseconds accept_delay_{0};
  std::chrono::steady_clock::time_point last_accept_warning_;
  uint64_t accept_failures_ = 0;  // since the last warning
  int spare_fd_ = -1;             // closed to accept (and drop) a connection when out of fds
  // Worker threads still running, for Wait()'s bound on a worker stuck in one handler.
  std::mutex exit_mu_;
  std::condition_variable exit_cv_;
  size_t workers_running_ = 0;  // GUARDED_BY(exit_mu_)
};

}  // namespace tandem::server

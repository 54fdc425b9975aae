#pragma once
// A real redis-server for tests (Debian's package): started on 127.0.0.1 on a free port, in a
// temporary directory, with the append-only file on and fsync at every write, never as the
// system service. Stop() kills it (SIGKILL: what a crash looks like); Start() again restarts it
// from its AOF on the same port.

#include <sys/types.h>

#include <cstdint>
#include <string>

namespace tandem::redis {

class TestRedisServer {
 public:
  TestRedisServer();
  ~TestRedisServer();
  // False when redis-server is not installed or did not come up (the message says why).
  bool Start();
  void Kill();
  uint16_t port() const { return port_; }
  std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_); }
  const std::string& error() const { return error_; }

 private:
  std::string dir_;
  uint16_t port_ = 0;
  pid_t pid_ = -1;
  std::string error_;
};

}  // namespace tandem::redis

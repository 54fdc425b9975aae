#include "redis/test_redis_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <thread>
#include <vector>

extern char** environ;

namespace tandem::redis {

namespace {

uint16_t FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    addr.sin_port = 0;
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

// True once the server answers PING with PONG (not while it loads its AOF: -LOADING).
bool Ready(uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  if (ok) {
    static constexpr char kPing[] = "PING\r\n";
    char buf[16] = {};
    ok = ::write(fd, kPing, sizeof(kPing) - 1) == sizeof(kPing) - 1 &&
         ::read(fd, buf, sizeof(buf) - 1) > 0 && std::string(buf).rfind("+PONG", 0) == 0;
  }
  ::close(fd);
  return ok;
}

}  // namespace

TestRedisServer::TestRedisServer() {
  dir_ = (std::filesystem::temp_directory_path() /
          ("tandem-redis-" + std::to_string(::getpid()) + "-" + std::to_string(FreePort())))
             .string();
  std::filesystem::create_directories(dir_);
  port_ = FreePort();
}

TestRedisServer::~TestRedisServer() {
  Kill();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

bool TestRedisServer::Start() {
  const char* binary = "/usr/bin/redis-server";
  if (::access(binary, X_OK) != 0) {
    error_ = "redis-server is not installed (scripts/install-deps installs it)";
    return false;
  }
  const std::string port = std::to_string(port_);
  std::vector<std::string> args = {binary,
                                   "--port",
                                   port,
                                   "--bind",
                                   "127.0.0.1",
                                   "--dir",
                                   dir_,
                                   "--appendonly",
                                   "yes",
                                   "--appendfsync",
                                   "always",
                                   "--save",
                                   "",
                                   "--maxmemory-policy",
                                   "noeviction",
                                   "--daemonize",
                                   "no",
                                   "--loglevel",
                                   "warning",
                                   "--logfile",
                                   dir_ + "/redis.log"};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  if (posix_spawn(&pid_, binary, nullptr, nullptr, argv.data(), environ) != 0) {
    error_ = "cannot start redis-server";
    pid_ = -1;
    return false;
  }
  for (int i = 0; i < 200; ++i) {
    if (Ready(port_)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  error_ =
      "redis-server did not accept connections on port " + port + " (see " + dir_ + "/redis.log)";
  return false;
}

void TestRedisServer::Kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

}  // namespace tandem::redis

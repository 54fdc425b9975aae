// The real `tandem store` binary: killed with SIGKILL while snapshots stream in, it comes back
// with the last acknowledged version intact; SIGTERM shuts it down cleanly.

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <thread>

#include "crdt/doc.h"
#include "store/snapshot_store.h"
#include "store/test_http_call.h"
#include "store/test_updates.h"

extern char** environ;

namespace tandem::store {
namespace {

using testing::Call;
using testing::MapHasKey;
using testing::MapSet;
using testing::Name;
namespace http = boost::beast::http;

uint16_t FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  uint16_t port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0)
    port = ntohs(addr.sin_port);
  close(fd);
  return port;
}

class StoreProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           (std::string("tandem-store-process-") + std::to_string(getpid()));
    std::filesystem::remove_all(dir_);
    port_ = FreePort();
    ASSERT_NE(port_, 0);
  }
  void TearDown() override {
    if (pid_ > 0) Kill(SIGKILL);
    std::filesystem::remove_all(dir_);
  }

  // Starts the binary and waits until /healthz answers.
  void Start() {
    const std::string port = std::to_string(port_);
    const std::string data_dir = dir_.string();
    std::vector<std::string> args = {TANDEM_BINARY, "store",  "--port",          port,
                                     "--data-dir",  data_dir, "--secret",        testing::kSecret,
                                     "--log-level", "warn",   "--keep-versions", "10"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ASSERT_EQ(posix_spawn(&pid_, TANDEM_BINARY, nullptr, nullptr, argv.data(), environ), 0);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
      if (Call(port_, http::verb::get, "/healthz", "", "").status == 200) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    FAIL() << "tandem store did not become healthy";
  }

  // Sends `sig` and returns the wait status.
  int Kill(int sig) {
    kill(pid_, sig);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return status;
  }

  std::filesystem::path dir_;
  uint16_t port_ = 0;
  pid_t pid_ = -1;
};

TEST_F(StoreProcessTest, KillNineMidStreamKeepsLastAcknowledgedVersion) {
  ASSERT_NO_FATAL_FAILURE(Start());
  const std::string target = "/collaboration/snapshot?roomId=killed";
  std::atomic<bool> stop{false};
  std::vector<uint8_t> acked_bytes;
  int64_t acked_version = 0;
  int acked_round = -1;
  std::thread writer([&] {
    crdt::Doc doc(crdt::DocOptions{.gc = true, .client_id = 77});
    const std::string value(8 * 1024, 'x');
    for (int i = 0; !stop; ++i) {
      if (!doc.ApplyUpdate(MapSet(9, i, Name("k", i), value)).ok()) return;
      const auto snap = doc.EncodeStateAsUpdate();
      auto r = Call(port_, http::verb::post, target, std::string(snap.begin(), snap.end()));
      if (r.status != 200) return;  // killed
      acked_bytes = snap;
      acked_version = std::stoll(r.headers["X-Tandem-Version"]);
      acked_round = i;
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  const int status = Kill(SIGKILL);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  stop = true;
  writer.join();
  ASSERT_GT(acked_version, 1) << "no save was acknowledged before the kill";

  ASSERT_NO_FATAL_FAILURE(Start());
  // The latest version is the last acknowledged one, or one save later (written, not yet
  // acknowledged when the process died).
  auto latest = Call(port_, http::verb::get, target, "");
  ASSERT_EQ(latest.status, 200) << latest.body;
  const int64_t latest_version = std::stoll(latest.headers["X-Tandem-Version"]);
  EXPECT_GE(latest_version, acked_version);
  EXPECT_LE(latest_version, acked_version + 1);
  EXPECT_TRUE(MapHasKey(latest.bytes(), Name("k", acked_round)));
  auto exact = Call(port_, http::verb::get,
                    target + std::string("&version=") + std::to_string(acked_version), "");
  ASSERT_EQ(exact.status, 200);
  EXPECT_EQ(exact.bytes(), acked_bytes);
  EXPECT_EQ(exact.headers["X-Tandem-Checksum"], Sha256Hex(acked_bytes));
  // Still writable.
  auto more =
      Call(port_, http::verb::post, target, std::string(latest.body.begin(), latest.body.end()));
  EXPECT_EQ(more.status, 200) << more.body;

  const int term = Kill(SIGTERM);
  EXPECT_TRUE(WIFEXITED(term) && WEXITSTATUS(term) == 0) << "graceful shutdown exits 0";
}

TEST_F(StoreProcessTest, RefusesToStartWithoutSecret) {
  std::vector<std::string> args = {TANDEM_BINARY,         "store",      "--port",
                                   std::to_string(port_), "--data-dir", dir_.string()};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<char*> env;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string_view v(*e);
    if (v.starts_with("TANDEM_STORE_SECRET=") || v.starts_with("PARTYKIT_SECRET=")) continue;
    env.push_back(*e);
  }
  env.push_back(nullptr);
  pid_t pid = -1;
  ASSERT_EQ(posix_spawn(&pid, TANDEM_BINARY, nullptr, nullptr, argv.data(), env.data()), 0);
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 2);
}

}  // namespace
}  // namespace tandem::store

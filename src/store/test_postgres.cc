#include "store/test_postgres.h"

#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

namespace tandem::store {

namespace {

uint16_t FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  uint16_t port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

std::string Quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out.push_back(c);
    }
  }
  return out + "'";
}

}  // namespace

std::string TestPostgres::FindBinDir() {
  if (const char* env = std::getenv("TANDEM_PG_BIN"); env != nullptr && *env != '\0') return env;
  std::error_code ec;
  std::string best;
  for (const auto& entry : std::filesystem::directory_iterator("/usr/lib/postgresql", ec)) {
    const auto bin = entry.path() / "bin";
    if (std::filesystem::exists(bin / "initdb") && std::filesystem::exists(bin / "pg_ctl") &&
        (best.empty() || bin.string() > best)) {
      best = bin.string();
    }
  }
  return best;
}

Status TestPostgres::Start() {
  bin_ = FindBinDir();
  if (bin_.empty()) return NotFoundError("no PostgreSQL server binaries (initdb, pg_ctl)");
  char tmpl[] = "/tmp/tandem-pg-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) return InternalError("mkdtemp failed");
  dir_ = tmpl;
  if (geteuid() == 0) {
    for (const char* user : {"postgres", "nobody"}) {
      if (passwd* pw = getpwnam(user); pw != nullptr) {
        if (chown(dir_.c_str(), pw->pw_uid, pw->pw_gid) != 0) continue;
        run_as_ = user;
        break;
      }
    }
    if (run_as_.empty()) return InternalError("running as root and no postgres/nobody user");
  }
  const std::string prefix = run_as_.empty() ? "" : "runuser -u " + run_as_ + " -- ";
  const std::string data = dir_ + "/data";
  const std::string initdb = prefix + Quote(bin_ + "/initdb") + " -D " + Quote(data) +
                             " -A trust -U tandem --no-sync > " + Quote(dir_ + "/initdb.log") +
                             " 2>&1";
  if (std::system(initdb.c_str()) != 0)
    return InternalError("initdb failed; see " + dir_ + "/initdb.log");
  for (int attempt = 0; attempt < 3 && !running_; ++attempt) {
    const uint16_t port = FreePort();
    const std::string start = prefix + Quote(bin_ + "/pg_ctl") + " -D " + Quote(data) + " -l " +
                              Quote(dir_ + "/server.log") + " -w -t 30 -o " +
                              Quote("-p " + std::to_string(port) + " -k " + dir_ +
                                    " -c listen_addresses=127.0.0.1 -c fsync=off") +
                              " start > /dev/null 2>&1";
    if (std::system(start.c_str()) == 0) {
      running_ = true;
      url_ = "postgresql://tandem@127.0.0.1:" + std::to_string(port) + "/postgres";
    }
  }
  if (!running_) return InternalError("postgres did not start; see " + dir_ + "/server.log");
  return Status::Ok();
}

void TestPostgres::Stop() {
  if (running_) {
    const std::string prefix = run_as_.empty() ? "" : "runuser -u " + run_as_ + " -- ";
    const std::string stop = prefix + Quote(bin_ + "/pg_ctl") + " -D " + Quote(dir_ + "/data") +
                             " -m immediate -w stop > /dev/null 2>&1";
    (void)std::system(stop.c_str());
    running_ = false;
  }
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
    dir_.clear();
  }
}

}  // namespace tandem::store

#pragma once
// A throwaway PostgreSQL server for tests: initdb in a temporary folder, postgres on 127.0.0.1
// and a free port, stopped and deleted by Stop(). As root, the server runs as the `postgres`
// user (or `nobody`) through runuser, since postgres refuses to run as root.

#include <memory>
#include <string>

#include "base/status.h"

namespace tandem::store {

class TestPostgres {
 public:
  TestPostgres() = default;
  ~TestPostgres() { Stop(); }
  TestPostgres(const TestPostgres&) = delete;
  TestPostgres& operator=(const TestPostgres&) = delete;

  // Where the server binaries live: $TANDEM_PG_BIN, else /usr/lib/postgresql/<newest>/bin;
  // empty when none is installed (tests SKIP).
  static std::string FindBinDir();

  Status Start();
  void Stop();
  // libpq URL of the running server ("postgresql://tandem@127.0.0.1:PORT/postgres").
  const std::string& url() const { return url_; }

 private:
  std::string bin_;
  std::string dir_;
  std::string run_as_;  // "" or a user name for runuser
  std::string url_;
  bool running_ = false;
};

// A TestPostgres started on first use, so that a suite's SQLite cases do not wait for it.
class LazyTestPostgres {
 public:
  // Starts the server the first time; the result of that start every time.
  const Status& Start() {
    if (pg_ == nullptr) {
      pg_ = std::make_unique<TestPostgres>();
      status_ = pg_->Start();
    }
    return status_;
  }
  // REQUIRES: Start() succeeded.
  const std::string& url() const { return pg_->url(); }
  void Stop() { pg_.reset(); }

 private:
  std::unique_ptr<TestPostgres> pg_;
  Status status_;
};

}  // namespace tandem::store

#pragma once
// The HTTP face of the snapshot store (`tandem store`), on Boost.Beast:
//   POST /collaboration/snapshot?roomId=R            body: a Yjs v1 update (the room's state)
//   GET  /collaboration/snapshot?roomId=R[&version=V]
//   GET  /collaboration/snapshot/versions?roomId=R
//   POST /collaboration/snapshot/rollback?roomId=R&version=V   (operators)
//   GET  /healthz, GET /metrics
// The contract, errors and merge rule are in docs/STORE.md. Storage calls block, so they run on
// the service's worker threads (`threads`), one request per connection at a time.

#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "base/status.h"
#include "store/snapshot_store.h"

namespace tandem::store {

struct ServiceOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8090;  // 0: any free port (see port())
  std::string secret;  // required: every snapshot request carries "Authorization: Bearer <secret>"
  unsigned threads = 4;
  std::chrono::milliseconds read_timeout{60'000};
  // Request bodies being received at once may declare at most this many bytes in all (a chunked
  // body counts as the largest snapshot); past it a request is answered 503 before its body is
  // read. 0: four times the largest snapshot.
  size_t max_inflight_body_bytes = 0;
  std::chrono::milliseconds shutdown_timeout{10'000};
};

struct HttpMetrics {
  std::atomic<uint64_t> requests{0};
  std::atomic<uint64_t> status_2xx{0};
  std::atomic<uint64_t> status_4xx{0};
  std::atomic<uint64_t> status_5xx{0};
  std::atomic<uint64_t> unauthorized{0};
};

using HttpRequest = boost::beast::http::request<boost::beast::http::string_body>;
using HttpResponse = boost::beast::http::response<boost::beast::http::string_body>;

// The routes, without sockets: what the service answers to one request.
class StoreHandler {
 public:
  StoreHandler(SnapshotStore& store, std::string secret)
      : store_(store), secret_(std::move(secret)) {}
  HttpResponse Handle(const HttpRequest& req);
  // 413 for a body over the cap that was not read (the connection is closed after it).
  HttpResponse TooLarge(unsigned version);
  // 431 for a request line + headers over 16 KiB (e.g. a huge roomId).
  HttpResponse HeaderTooLarge();
  // 400 for a request whose body ended early (the peer closed its side).
  HttpResponse BodyIncomplete();
  // 400 for a request that does not parse as HTTP/1.1 (duplicate Content-Length, both
  // Content-Length and Transfer-Encoding, bare LF line ends, ...).
  HttpResponse Malformed(std::string_view why);
  // 503 when the bodies already being received take the whole budget.
  HttpResponse Busy();
  // The answer to a request that can be given from its header alone (unknown path, method not
  // allowed, missing or wrong secret, body over the limit, an unsupported transfer coding), so
  // that no body is read for it; nullopt when the body must be read.
  std::optional<HttpResponse> AnswerFromHeader(const HttpRequest& req);
  std::string RenderMetrics() const;
  HttpMetrics& metrics() { return metrics_; }

 private:
  HttpResponse Route(const HttpRequest& req);
  // The refusal that the header alone decides (path, method, secret), or nullopt.
  std::optional<HttpResponse> Refuse(const HttpRequest& req);
  // Counts and finishes a response made before Handle (headers, keep-alive).
  HttpResponse Finish(HttpResponse res, unsigned version, bool keep_alive);
  HttpResponse Save(const HttpRequest& req, const std::string& room);
  HttpResponse Load(const std::string& room, std::optional<int64_t> version);
  HttpResponse Versions(const std::string& room);
  HttpResponse Rollback(const std::string& room, std::optional<int64_t> version);
  HttpResponse Delete(const std::string& room);
  bool Authorized(const HttpRequest& req) const;

  SnapshotStore& store_;
  std::string secret_;
  HttpMetrics metrics_;
};

class StoreService {
 public:
  StoreService(SnapshotStore& store, ServiceOptions options);
  ~StoreService();
  StoreService(const StoreService&) = delete;
  StoreService& operator=(const StoreService&) = delete;

  // Binds and starts the worker threads.
  Status Start();
  uint16_t port() const;
  // Graceful: stops accepting, lets requests in flight finish (up to shutdown_timeout), stops.
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// "Bearer <secret>" compared in constant time (SHA-256 of both, CRYPTO_memcmp).
bool BearerMatches(std::string_view authorization_header, std::string_view secret);

}  // namespace tandem::store

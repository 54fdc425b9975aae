#pragma once
// An asynchronous HTTP/1.1 client on Boost.Beast, for the auth callback and the snapshot store:
// http and https (system CA roots, SNI, host name verification), connect and total timeouts,
// a cap on the response size. One connection per request. Thread-safe: Send may be called from
// any thread; the callback runs exactly once, on the client's executor.

#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "base/result.h"

namespace tandem::net {

struct HttpRequest {
  std::string method = "GET";
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::chrono::milliseconds connect_timeout{5'000};
  std::chrono::milliseconds total_timeout{30'000};
  size_t max_response_bytes = 64 * 1024 * 1024;
};

struct HttpResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

class HttpClient {
 public:
  explicit HttpClient(boost::asio::any_io_executor executor);
  ~HttpClient();

  // Errors: kInvalidArgument (bad URL), kUnavailable (DNS, refused, reset, TLS),
  // kDeadlineExceeded (timeouts), kResourceExhausted (response too large), kMalformed.
  void Send(HttpRequest request, std::function<void(Result<HttpResponse>)> done);

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace tandem::net

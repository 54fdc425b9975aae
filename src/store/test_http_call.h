#pragma once
// A blocking one-request HTTP client for the store's tests.

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cstdint>
#include <string>
#include <vector>

namespace tandem::store::testing {

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = boost::asio::ip::tcp;

inline constexpr const char* kSecret = "s3cret-for-tests";

struct Reply {
  int status = 0;  // -1: no answer (body holds the error)
  std::string body;
  http::fields headers;
  std::vector<uint8_t> bytes() const { return std::vector<uint8_t>(body.begin(), body.end()); }
};

// One request on a fresh connection; `auth` "" sends no Authorization header.
inline Reply Call(uint16_t port, http::verb method, const std::string& target,
                  const std::string& body,
                  const std::string& auth = std::string("Bearer ") + kSecret,
                  const std::vector<std::pair<std::string, std::string>>& headers = {}) {
  boost::asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  beast::error_code ec;
  stream.connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port), ec);
  if (ec) return {-1, ec.message(), {}};
  http::request<http::string_body> req{method, target, 11};
  req.set(http::field::host, "127.0.0.1");
  if (!auth.empty()) req.set(http::field::authorization, auth);
  for (const auto& [name, value] : headers) req.set(name, value);
  if (method == http::verb::post) req.set(http::field::content_type, "application/octet-stream");
  req.body() = body;
  req.prepare_payload();
  http::write(stream, req, ec);
  if (ec) return {-1, "write: " + ec.message(), {}};
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 * 1024 * 1024);
  http::read(stream, buffer, parser, ec);
  if (ec) return {-1, "read: " + ec.message(), {}};
  auto res = parser.release();
  Reply r{static_cast<int>(res.result_int()), res.body(), {}};
  for (const auto& f : res) r.headers.set(f.name_string(), f.value());
  return r;
}

}  // namespace tandem::store::testing

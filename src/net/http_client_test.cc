#include "net/http_client.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <future>

#include "net/test_http_server.h"

namespace tandem::net {
namespace {

namespace http = boost::beast::http;
using namespace std::chrono_literals;

Result<HttpResponse> SendAndWait(HttpRequest req) {
  boost::asio::io_context ioc;
  HttpClient client(ioc.get_executor());
  std::optional<Result<HttpResponse>> out;
  client.Send(std::move(req), [&](Result<HttpResponse> r) { out = std::move(r); });
  ioc.run();
  if (!out) return InternalError("callback never ran");
  return std::move(*out);
}

TEST(HttpClientTest, PostRoundTripWithHeadersAndBinaryBody) {
  TestHttpServer server([](const TestHttpServer::Request& req) {
    TestHttpServer::Response res{http::status::created, 11};
    res.set("X-Echo", std::string(req[http::field::authorization]));
    res.body() = req.body();
    return res;
  });
  HttpRequest req;
  req.method = "POST";
  req.url =
      "http://127.0.0.1:" + std::to_string(server.port()) + "/collaboration/snapshot?roomId=a%2Fb";
  req.headers = {{"Authorization", "Bearer s3cret"}, {"Content-Type", "application/octet-stream"}};
  req.body = std::string("\x00\x01\xff", 3);
  auto r = SendAndWait(req);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 201);
  EXPECT_EQ(r->body, std::string("\x00\x01\xff", 3));
  bool echoed = false;
  for (const auto& [k, v] : r->headers) echoed |= (k == "X-Echo" && v == "Bearer s3cret");
  EXPECT_TRUE(echoed);
  ASSERT_EQ(server.requests().size(), 1u);
  EXPECT_EQ(server.requests()[0].target(), "/collaboration/snapshot?roomId=a%2Fb");
  EXPECT_EQ(server.requests()[0][http::field::content_type], "application/octet-stream");
}

TEST(HttpClientTest, NotFoundIsAResponseNotAnError) {
  TestHttpServer server([](const TestHttpServer::Request&) {
    return TestHttpServer::Response{http::status::not_found, 11};
  });
  auto r = SendAndWait({.url = "http://127.0.0.1:" + std::to_string(server.port()) + "/x"});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 404);
}

TEST(HttpClientTest, RefusedConnectionIsUnavailable) {
  uint16_t port;
  {
    TestHttpServer server(
        [](const TestHttpServer::Request&) { return TestHttpServer::Response{}; });
    port = server.port();
  }
  auto r = SendAndWait({.url = "http://127.0.0.1:" + std::to_string(port) + "/"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
}

TEST(HttpClientTest, SilentServerTimesOut) {
  TestHttpServer server([](const TestHttpServer::Request&) { return TestHttpServer::Response{}; },
                        /*never_answer=*/true);
  const auto start = std::chrono::steady_clock::now();
  auto r = SendAndWait(
      {.url = "http://127.0.0.1:" + std::to_string(server.port()) + "/", .total_timeout = 200ms});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
}

TEST(HttpClientTest, OversizedResponseIsRejected) {
  TestHttpServer server([](const TestHttpServer::Request&) {
    TestHttpServer::Response res{http::status::ok, 11};
    res.body() = std::string(10'000, 'x');
    return res;
  });
  auto r = SendAndWait({.url = "http://127.0.0.1:" + std::to_string(server.port()) + "/",
                        .max_response_bytes = 1000});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kResourceExhausted);
}

TEST(HttpClientTest, BadUrlFailsThroughTheCallback) {
  auto r = SendAndWait({.url = "ftp://nope"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace tandem::net

// The dispatcher against a local receiver. Signatures are checked against the npm
// `standardwebhooks` package by tests/api/webhooks.test.mjs.

#include "webhook/webhooks.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "net/test_http_server.h"

namespace tandem::webhook {
namespace {

namespace fs = std::filesystem;
namespace http = boost::beast::http;
using namespace std::chrono_literals;

constexpr const char* kSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

template <typename F>
bool WaitFor(F cond, std::chrono::milliseconds limit = 10s) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (!cond() && std::chrono::steady_clock::now() < end) std::this_thread::sleep_for(5ms);
  return cond();
}

class WebhookTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("tandem-webhook-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  WebhookOptions Options(std::vector<std::string> urls) {
    WebhookOptions o;
    o.urls = std::move(urls);
    o.secret = kSecret;
    o.min_backoff = 10ms;
    o.max_backoff = 40ms;
    o.timeout = 2s;
    return o;
  }
  static std::string Url(uint16_t port) {
    return "http://127.0.0.1:" + std::to_string(port) + "/hook";
  }
  fs::path dir_;
};

TEST_F(WebhookTest, SecretsMustBeStandardWebhooksSecrets) {
  EXPECT_TRUE(DecodeSecret(kSecret).ok());
  EXPECT_TRUE(DecodeSecret("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").ok());
  EXPECT_FALSE(DecodeSecret("whsec_short").ok());
  EXPECT_FALSE(DecodeSecret("not base64 at all!!!!!!!!!!!!!!!").ok());
  EXPECT_FALSE(WebhookDispatcher::Start(dir_.string(), {.urls = {"http://x"}, .secret = "x"}).ok());
}

TEST_F(WebhookTest, SignsIdTimestampAndBody) {
  const std::string key = *DecodeSecret(kSecret);
  const std::string a = Sign(key, "msg_1", 1700000000, "{}");
  EXPECT_EQ(a.rfind("v1,", 0), 0u);
  EXPECT_EQ(a.size(), 3u + 44u);  // base64 of 32 bytes
  EXPECT_NE(a, Sign(key, "msg_2", 1700000000, "{}"));
  EXPECT_NE(a, Sign(key, "msg_1", 1700000001, "{}"));
  EXPECT_NE(a, Sign(key, "msg_1", 1700000000, "{ }"));
}

TEST_F(WebhookTest, FailuresAreRetriedUntilDeliveredWithTheSameIdAndBody) {
  std::atomic<int> calls{0};
  net::TestHttpServer receiver([&](const net::TestHttpServer::Request&) {
    net::TestHttpServer::Response res{
        ++calls <= 2 ? http::status::service_unavailable : http::status::no_content, 11};
    return res;
  });
  auto d =
      std::move(WebhookDispatcher::Start(dir_.string(), Options({Url(receiver.port())}))).value();
  d->OnUserJoined("room-1", 7, "alice", false);
  ASSERT_TRUE(WaitFor([&] {
    return d->RenderMetrics().find("deliveries_total 1") != std::string::npos;
  })) << d->RenderMetrics();
  auto requests = receiver.requests();
  ASSERT_EQ(requests.size(), 3u);
  for (const auto& r : requests) {
    EXPECT_EQ(r["webhook-id"], requests[0]["webhook-id"]);
    EXPECT_EQ(r.body(), requests[0].body());
    const int64_t ts = std::stoll(std::string(r["webhook-timestamp"]));
    EXPECT_EQ(r["webhook-signature"],
              Sign(*DecodeSecret(kSecret), std::string(r["webhook-id"]), ts, r.body()));
  }
  EXPECT_NE(requests[0].body().find(R"("type":"user.joined")"), std::string::npos);
  EXPECT_NE(requests[0].body().find(
                R"("data":{"room":"room-1","user":"alice","connection":7,"readOnly":false})"),
            std::string::npos)
      << requests[0].body();
  EXPECT_NE(d->RenderMetrics().find("tandem_webhook_retries_total 2"), std::string::npos);
  EXPECT_NE(d->RenderMetrics().find("tandem_webhook_outbox_pending 0"), std::string::npos);
}

TEST_F(WebhookTest, UndeliveredEventsSurviveARestart) {
  uint16_t dead_port;
  {
    net::TestHttpServer gone([](const auto&) { return net::TestHttpServer::Response{}; });
    dead_port = gone.port();
  }  // nothing listens there now: connections are refused
  {
    auto d = std::move(WebhookDispatcher::Start(dir_.string(), Options({Url(dead_port)}))).value();
    d->OnEmpty("a");
    d->OnDeleted("b");
    ASSERT_TRUE(WaitFor([&] {
      return d->RenderMetrics().find("tandem_webhook_retries_total 0") == std::string::npos;
    }));
  }
  // The receiver is back on that port... a new one cannot take the same port reliably, so the
  // next run is configured with the new URL: the old deliveries wait (their URL is not
  // configured) and the outbox keeps them.
  net::TestHttpServer receiver([](const auto&) {
    return net::TestHttpServer::Response{http::status::ok, 11};
  });
  {
    auto d =
        std::move(WebhookDispatcher::Start(dir_.string(), Options({Url(receiver.port())}))).value();
    d->OnSaved("c", 10);
    ASSERT_TRUE(WaitFor([&] { return receiver.requests().size() == 1; }));
  }
  // Configured again with the old URL: both left-over events are sent.
  auto d = std::move(WebhookDispatcher::Start(dir_.string(), Options({Url(dead_port)}))).value();
  EXPECT_NE(d->RenderMetrics().find("tandem_webhook_outbox_pending 2"), std::string::npos)
      << d->RenderMetrics();
}

TEST_F(WebhookTest, A410UnsubscribesThatUrlOnly) {
  net::TestHttpServer gone([](const auto&) {
    return net::TestHttpServer::Response{http::status::gone, 11};
  });
  std::atomic<int> ok_calls{0};
  net::TestHttpServer ok([&](const auto&) {
    ++ok_calls;
    return net::TestHttpServer::Response{http::status::ok, 11};
  });
  auto d = std::move(
               WebhookDispatcher::Start(dir_.string(), Options({Url(gone.port()), Url(ok.port())})))
               .value();
  d->OnEmpty("a");
  ASSERT_TRUE(WaitFor([&] { return ok_calls == 1 && gone.requests().size() == 1; }));
  ASSERT_TRUE(WaitFor([&] {
    return d->RenderMetrics().find("tandem_webhook_unsubscribed_total 1") != std::string::npos;
  }));
  d->OnEmpty("b");
  ASSERT_TRUE(WaitFor([&] { return ok_calls == 2; }));
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(gone.requests().size(), 1u) << "nothing more to the unsubscribed URL";
}

}  // namespace
}  // namespace tandem::webhook

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

#include "auth/http_verifier.h"
#include "auth/jwt_verifier.h"
#include "auth/verifiers.h"
#include "base/base64.h"
#include "net/test_http_server.h"

namespace tandem::auth {
namespace {

namespace http = boost::beast::http;
using namespace std::chrono_literals;

constexpr int64_t kNow = 1'700'000'000;

JwtVerifier Verifier() {
  return JwtVerifier("secret", [] { return kNow; });
}

TEST(JwtVerifierTest, AdmitsValidTokens) {
  auto d = Verifier().Check(
      {SignHs256Jwt("secret",
                    R"({"sub":"ann","exp":1700000100,"rooms":["doc-1"],"access":"write"})"),
       "doc-1"});
  ASSERT_TRUE(d.admitted) << d.reason;
  EXPECT_EQ(d.user_id, "ann");
  EXPECT_EQ(d.access, Access::kWrite);
  d = Verifier().Check({SignHs256Jwt("secret", R"({"sub":"bob","rooms":["team-*"]})"), "team-42"});
  ASSERT_TRUE(d.admitted);
  EXPECT_EQ(d.access, Access::kRead);  // no access claim: read
  EXPECT_TRUE(Verifier()
                  .Check({SignHs256Jwt("secret", R"({"sub":"c","rooms":["*"]})"), "anything"})
                  .admitted);
}

TEST(JwtVerifierTest, RefusesWithTheRightCodes) {
  auto code = [](const std::string& token, const std::string& room = "doc-1") {
    return Verifier().Check({token, room}).close_code;
  };
  EXPECT_EQ(code(""), 4401);
  EXPECT_EQ(code("abc"), 4401);
  EXPECT_EQ(code("a.b.c.d"), 4401);
  EXPECT_EQ(code(SignHs256Jwt("other", R"({"sub":"x","rooms":["*"]})")), 4401);  // wrong secret
  EXPECT_EQ(code(SignHs256Jwt("secret", R"({"sub":"x","rooms":["*"],"exp":1})")), 4401);  // expired
  EXPECT_EQ(code(SignHs256Jwt("secret", R"({"sub":"x","rooms":["*"],"nbf":1800000000})")), 4401);
  EXPECT_EQ(code(SignHs256Jwt("secret", R"({"rooms":["*"]})")), 4401);  // no sub
  EXPECT_EQ(code(SignHs256Jwt("secret", R"({"sub":"x","rooms":["*"],"access":"admin"})")), 4401);
  EXPECT_EQ(code(SignHs256Jwt("secret", R"({"sub":"x","rooms":["doc-2","team-*"]})")), 4403);
  EXPECT_EQ(code(SignHs256Jwt("secret", R"({"sub":"x"})")), 4403);  // no rooms claim
  // alg "none" with an empty signature
  std::string none = Base64UrlEncode(R"({"alg":"none"})") + "." +
                     Base64UrlEncode(R"({"sub":"x","rooms":["*"]})") + ".";
  EXPECT_EQ(code(none), 4401);
  // tampered payload keeps the old signature
  std::string good = SignHs256Jwt("secret", R"({"sub":"x","rooms":["doc-2"]})");
  std::string forged = good.substr(0, good.find('.') + 1) +
                       Base64UrlEncode(R"({"sub":"x","rooms":["*"]})") +
                       good.substr(good.rfind('.'));
  EXPECT_EQ(code(forged), 4401);
}

struct HttpFixture {
  boost::asio::io_context ioc;
  std::shared_ptr<net::HttpClient> client = std::make_shared<net::HttpClient>(ioc.get_executor());
  Decision Verify(HttpVerifier& v, const std::string& token, const std::string& room = "doc") {
    Decision out;
    v.Verify({token, room}, [&](Decision d) { out = std::move(d); });
    ioc.restart();
    ioc.run();
    return out;
  }
};

TEST(HttpVerifierTest, FollowsTheContractAndCaches) {
  net::TestHttpServer backend([](const net::TestHttpServer::Request& req) {
    net::TestHttpServer::Response res{http::status::ok, 11};
    if (req[http::field::authorization] != "Bearer backend-secret") {
      res.result(http::status::internal_server_error);
    } else if (req.body().find("\"token\":\"w\"") != std::string::npos) {
      res.body() = R"({"userId":"u1","access":"write"})";
    } else if (req.body().find("\"token\":\"r\"") != std::string::npos) {
      res.body() = R"({"userId":"u2","access":"read"})";
    } else if (req.body().find("\"token\":\"bad\"") != std::string::npos) {
      res.result(http::status::unauthorized);
    } else if (req.body().find("\"token\":\"no\"") != std::string::npos) {
      res.result(http::status::forbidden);
    } else {
      res.result(http::status::bad_gateway);
    }
    return res;
  });
  HttpFixture f;
  auto now = std::chrono::steady_clock::now();
  AuthOptions o{.mode = AuthMode::kHttp,
                .auth_url = "http://127.0.0.1:" + std::to_string(backend.port()) + "/auth",
                .auth_secret = "backend-secret",
                .cache_ttl = 30s,
                .timeout = 1s};
  HttpVerifier v(f.client, o, [&] { return now; });
  auto d = f.Verify(v, "w");
  ASSERT_TRUE(d.admitted) << d.reason;
  EXPECT_EQ(d.user_id, "u1");
  EXPECT_EQ(d.access, Access::kWrite);
  ASSERT_EQ(backend.requests().size(), 1u);
  EXPECT_EQ(backend.requests()[0].body(), R"({"token":"w","roomId":"doc"})");
  EXPECT_EQ(f.Verify(v, "r").access, Access::kRead);
  EXPECT_EQ(f.Verify(v, "bad").close_code, 4401);
  EXPECT_EQ(f.Verify(v, "no").close_code, 4403);
  EXPECT_EQ(f.Verify(v, "boom").close_code, 1013);
  // cached: no new request inside the TTL; a new one after it
  const size_t before = backend.requests().size();
  EXPECT_TRUE(f.Verify(v, "w").admitted);
  EXPECT_EQ(backend.requests().size(), before);
  now += 31s;
  EXPECT_TRUE(f.Verify(v, "w").admitted);
  EXPECT_EQ(backend.requests().size(), before + 1);
}

TEST(HttpVerifierTest, DownOrSilentBackendIs1013) {
  uint16_t port;
  {
    net::TestHttpServer gone(
        [](const net::TestHttpServer::Request&) { return net::TestHttpServer::Response{}; });
    port = gone.port();
  }
  HttpFixture f;
  HttpVerifier down(f.client,
                    AuthOptions{.auth_url = "http://127.0.0.1:" + std::to_string(port) + "/"});
  EXPECT_EQ(f.Verify(down, "t").close_code, 1013);
  net::TestHttpServer silent(
      [](const net::TestHttpServer::Request&) { return net::TestHttpServer::Response{}; }, true);
  HttpVerifier slow(
      f.client, AuthOptions{.auth_url = "http://127.0.0.1:" + std::to_string(silent.port()) + "/",
                            .timeout = 200ms});
  EXPECT_EQ(f.Verify(slow, "t").close_code, 1013);
}

TEST(MakeVerifierTest, ValidatesOptions) {
  boost::asio::io_context ioc;
  EXPECT_TRUE(MakeVerifier({.mode = AuthMode::kNone}, ioc.get_executor()).ok());
  EXPECT_FALSE(MakeVerifier({.mode = AuthMode::kJwt}, ioc.get_executor()).ok());
  EXPECT_FALSE(
      MakeVerifier({.mode = AuthMode::kHttp, .auth_url = "nope"}, ioc.get_executor()).ok());
}

}  // namespace
}  // namespace tandem::auth

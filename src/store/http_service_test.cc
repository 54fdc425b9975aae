// `tandem store`'s HTTP contract on both backends, through real sockets.

#include "store/http_service.h"

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <filesystem>
#include <thread>

#include "store/test_http_call.h"
#include "store/test_postgres.h"
#include "store/test_updates.h"

namespace tandem::store {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = boost::asio::ip::tcp;
using testing::Bytes;
using testing::Call;
using testing::Key;
using testing::kSecret;
using testing::MapHasKey;
using testing::MapSet;
using testing::Name;
using testing::Reply;
using testing::Snapshot;

constexpr size_t kMaxBytes = 256 * 1024;

std::string Str(const Bytes& b) {
  return std::string(b.begin(), b.end());
}

class StoreHttpTest : public ::testing::TestWithParam<std::string> {
 protected:
  static void SetUpTestSuite() { spdlog::set_level(spdlog::level::warn); }
  static void TearDownTestSuite() { pg_.Stop(); }

  void SetUp() override {
    const std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    dir_ = std::filesystem::temp_directory_path() /
           (std::string("tandem-store-http-") + std::to_string(getpid()) + "-" +
            std::to_string(std::hash<std::string>()(name)));
    std::filesystem::remove_all(dir_);
    prefix_ = std::string("h") + std::to_string(getpid()) + std::string("-") +
              std::to_string(std::hash<std::string>()(name));
    std::unique_ptr<Backend> backend;
    if (GetParam() == "postgres") {
      if (TestPostgres::FindBinDir().empty()) {
        skip_ = "PostgreSQL server binaries not installed (/usr/lib/postgresql/*/bin)";
        return;
      }
      const Status& started = pg_.Start();
      ASSERT_TRUE(started.ok()) << started.ToString();
      auto b = OpenPostgresBackend(pg_.url(), 4);
      ASSERT_TRUE(b.ok()) << b.status().ToString();
      backend = std::move(b).value();
    } else {
      auto b = OpenSqliteBackend((dir_ / "snapshots.db").string());
      ASSERT_TRUE(b.ok()) << b.status().ToString();
      backend = std::move(b).value();
    }
    store_ = std::make_unique<SnapshotStore>(
        std::move(backend), StoreOptions{.max_snapshot_bytes = kMaxBytes, .keep_versions = 4});
    service_ = std::make_unique<StoreService>(
        *store_, ServiceOptions{.host = "127.0.0.1", .port = 0, .secret = kSecret, .threads = 4});
    ASSERT_TRUE(service_->Start().ok());
    port_ = service_->port();
  }
  void TearDown() override {
    service_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::string Target(const std::string& room, const std::string& extra = "") {
    return "/collaboration/snapshot?roomId=" + prefix_ + room + extra;
  }
  Reply Post(const std::string& room, const Bytes& body) {
    return Call(port_, http::verb::post, Target(room), Str(body));
  }
  Reply Get(const std::string& room, const std::string& extra = "") {
    return Call(port_, http::verb::get, Target(room, extra), "");
  }

  static LazyTestPostgres pg_;
  std::filesystem::path dir_;
  std::string prefix_;
  std::string skip_;
  std::unique_ptr<SnapshotStore> store_;
  std::unique_ptr<StoreService> service_;
  uint16_t port_ = 0;
};

LazyTestPostgres StoreHttpTest::pg_;

#define REQUIRE_SERVICE()                      \
  do {                                         \
    if (!skip_.empty()) GTEST_SKIP() << skip_; \
    ASSERT_NE(service_, nullptr);              \
  } while (0)

TEST_P(StoreHttpTest, RoundTrip404AndHealth) {
  REQUIRE_SERVICE();
  EXPECT_EQ(Get("r").status, 404);
  const Bytes snap = Snapshot({MapSet(1, 0, "a", "x")});
  Reply saved = Post("r", snap);
  ASSERT_EQ(saved.status, 200) << saved.body;
  EXPECT_EQ(saved.headers["X-Tandem-Merged"], "0");
  EXPECT_EQ(saved.headers["X-Tandem-Version"], "1");
  EXPECT_NE(saved.body.find("\"version\":1"), std::string::npos) << saved.body;
  Reply got = Get("r");
  ASSERT_EQ(got.status, 200);
  EXPECT_EQ(got.bytes(), snap);
  EXPECT_EQ(got.headers[http::field::content_type], "application/octet-stream");
  EXPECT_EQ(got.headers["X-Tandem-Checksum"], Sha256Hex(snap));
  // HEAD: the same headers, no body (the client reads none).
  {
    boost::asio::io_context ioc;
    beast::tcp_stream stream(ioc);
    stream.connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port_));
    http::request<http::empty_body> req{http::verb::head, Target("r"), 11};
    req.set(http::field::authorization, std::string("Bearer ") + kSecret);
    http::write(stream, req);
    beast::flat_buffer buffer;
    http::response_parser<http::empty_body> parser;
    parser.skip(true);
    http::read_header(stream, buffer, parser);
    EXPECT_EQ(parser.get().result_int(), 200u);
    EXPECT_EQ(parser.get()[http::field::content_length], std::to_string(snap.size()));
  }
  EXPECT_EQ(Call(port_, http::verb::get, "/healthz", "", "").status, 200);
  Reply metrics = Call(port_, http::verb::get, "/metrics", "", "");
  EXPECT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.body.find("tandem_store_saves_total 1"), std::string::npos) << metrics.body;
}

TEST_P(StoreHttpTest, MissingOrWrongSecretIs401AndStoresNothing) {
  REQUIRE_SERVICE();
  const Bytes snap = Snapshot({MapSet(1, 0, "a", "x")});
  for (const std::string& auth :
       {std::string(), std::string("Bearer wrong"), std::string("Bearer ") + kSecret + "x",
        std::string(kSecret), std::string("Basic ") + kSecret, std::string("Bearer ")}) {
    EXPECT_EQ(Call(port_, http::verb::post, Target("r"), Str(snap), auth).status, 401) << auth;
    EXPECT_EQ(Call(port_, http::verb::get, Target("r"), "", auth).status, 401) << auth;
    EXPECT_EQ(Call(port_, http::verb::get,
                   "/collaboration/snapshot/versions?roomId=" + prefix_ + "r", "", auth)
                  .status,
              401);
  }
  EXPECT_EQ(Get("r").status, 404);
}

TEST_P(StoreHttpTest, InvalidBodiesAre400AndOversizedIs413) {
  REQUIRE_SERVICE();
  const Bytes snap = Snapshot({MapSet(1, 0, "a", "hello"), MapSet(2, 0, "b", "world")});
  Reply r = Call(port_, http::verb::post, Target("r"), "this is not a yjs update");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("\"error\":\"invalid_snapshot\""), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("not a Yjs update"), std::string::npos) << r.body;
  EXPECT_EQ(Post("r", {}).status, 400);
  for (size_t cut : {size_t{1}, size_t{3}, snap.size() / 2, snap.size() - 1}) {
    Reply t = Post("r", Bytes(snap.begin(), snap.begin() + static_cast<long>(cut)));
    EXPECT_EQ(t.status, 400) << "truncated to " << cut << ": " << t.body;
  }
  Reply big = Post("r", Bytes(kMaxBytes + 1, 7));
  EXPECT_EQ(big.status, 413) << big.body;
  EXPECT_NE(big.body.find("too_large"), std::string::npos);
  // A body within the HTTP cap but still refused by the engine's cap is impossible; a huge one
  // is refused from its Content-Length without reading it all.
  Reply huge = Post("r", Bytes(8 * 1024 * 1024, 7));
  EXPECT_EQ(huge.status, 413) << huge.body;
  EXPECT_EQ(Get("r").status, 404) << "nothing stored";
  // The service still works afterwards.
  EXPECT_EQ(Post("r", snap).status, 200);
}

TEST_P(StoreHttpTest, BodyCutShortByTheClientIs400AndStoresNothing) {
  REQUIRE_SERVICE();
  const Bytes snap = Snapshot({MapSet(1, 0, "a", "hello"), MapSet(2, 0, "b", "world")});
  boost::asio::io_context ioc;
  tcp::socket socket(ioc);
  socket.connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port_));
  std::string request = "POST " + Target("r") + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                        kSecret + "\r\nContent-Length: " + std::to_string(snap.size()) + "\r\n\r\n";
  request.append(snap.begin(), snap.begin() + static_cast<long>(snap.size() / 2));
  boost::asio::write(socket, boost::asio::buffer(request));
  socket.shutdown(tcp::socket::shutdown_send);
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  beast::error_code ec;
  http::read(socket, buffer, res, ec);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(res.result_int(), 400u);
  EXPECT_NE(res.body().find("before the whole body"), std::string::npos) << res.body();
  EXPECT_EQ(Get("r").status, 404) << "nothing stored";
}

// Sends raw bytes and reads one response (status, or -1 when the connection closed without one).
int RawStatus(uint16_t port, const std::string& request, std::string* body = nullptr) {
  boost::asio::io_context ioc;
  tcp::socket socket(ioc);
  socket.connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port));
  boost::asio::write(socket, boost::asio::buffer(request));
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  beast::error_code ec;
  http::read(socket, buffer, res, ec);
  if (ec) return -1;
  if (body != nullptr) *body = res.body();
  return static_cast<int>(res.result_int());
}

TEST_P(StoreHttpTest, UnauthenticatedBodyIsRefusedFromItsHeaderAlone) {
  REQUIRE_SERVICE();
  // A declared body within the limit, without the secret: the 401 comes right after the
  // header, while none of the body has been sent (a store that read bodies first would wait).
  const std::string header = "POST " + Target("r") + " HTTP/1.1\r\nHost: x\r\nContent-Length: " +
                             std::to_string(kMaxBytes) +
                             "\r\nContent-Type: application/octet-stream\r\n\r\n";
  std::string body;
  EXPECT_EQ(RawStatus(port_, header, &body), 401) << body;
  // Over the limit: 413 from Content-Length, before the secret is even looked at.
  const std::string authed = "POST " + Target("r") +
                             " HTTP/1.1\r\nHost: x\r\nAuthorization: " + "bearer " + kSecret +
                             "\r\nContent-Length: 60000000\r\n\r\n";
  EXPECT_EQ(RawStatus(port_, authed), 413);
}

TEST_P(StoreHttpTest, MalformedFramingIs400AndUnknownCodingIs501) {
  REQUIRE_SERVICE();
  const std::string start =
      "POST " + Target("r") + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + kSecret + "\r\n";
  std::string body;
  EXPECT_EQ(RawStatus(port_, start + "Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", &body),
            400)
      << body;
  EXPECT_EQ(RawStatus(port_, start + "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
                                     "3\r\nabc\r\n0\r\n\r\n"),
            400);
  EXPECT_EQ(RawStatus(port_, "GET /healthz HTTP/1.1\nHost: x\n\n"), 400);
  EXPECT_EQ(RawStatus(port_, start + "Transfer-Encoding: xchunked\r\n\r\nabc"), 501);
  EXPECT_EQ(Get("r").status, 404) << "nothing stored";
}

TEST_P(StoreHttpTest, StaleSnapshotIsMergedAndSaysSo) {
  REQUIRE_SERVICE();
  const Bytes a = MapSet(1, 0, "a", "1");
  const Bytes b = MapSet(2, 0, "b", "2");
  const Bytes c = MapSet(3, 0, "c", "3");
  ASSERT_EQ(Post("r", Snapshot({a, b})).status, 200);
  Reply stale = Post("r", Snapshot({a, c}));
  ASSERT_EQ(stale.status, 200);
  EXPECT_EQ(stale.headers["X-Tandem-Merged"], "1");
  EXPECT_NE(stale.body.find("\"merged\":true"), std::string::npos) << stale.body;
  const Bytes merged = Get("r").bytes();
  for (const char* key : {"a", "b", "c"}) EXPECT_TRUE(MapHasKey(merged, key)) << key;
  Reply metrics = Call(port_, http::verb::get, "/metrics", "", "");
  EXPECT_NE(metrics.body.find("tandem_store_merges_total 1"), std::string::npos) << metrics.body;
}

TEST_P(StoreHttpTest, ASaveUnderALowerEpochIs409AndStoresNothing) {
  REQUIRE_SERVICE();
  auto post = [&](const Bytes& body, const std::string& epoch) {
    return Call(port_, http::verb::post, Target("r"), Str(body), std::string("Bearer ") + kSecret,
                {{"X-Tandem-Epoch", epoch}});
  };
  ASSERT_EQ(post(Snapshot({MapSet(1, 0, "a", "1")}), "2").status, 200);
  Reply stale = post(Snapshot({MapSet(2, 0, "b", "2")}), "1");
  EXPECT_EQ(stale.status, 409) << stale.body;
  EXPECT_NE(stale.body.find("stale_epoch"), std::string::npos) << stale.body;
  EXPECT_FALSE(MapHasKey(Get("r").bytes(), "b")) << "a refused save stores nothing";
  EXPECT_EQ(post(Snapshot({MapSet(3, 0, "c", "3")}), "2").status, 200) << "the same epoch saves";
  EXPECT_EQ(post(Snapshot({MapSet(4, 0, "d", "4")}), "3").status, 200);
  EXPECT_EQ(post(Snapshot({MapSet(5, 0, "e", "5")}), "x").status, 400);
  EXPECT_EQ(Post("r", Snapshot({MapSet(6, 0, "f", "6")})).status, 200) << "no epoch: not fenced";
  Reply metrics = Call(port_, http::verb::get, "/metrics", "", "");
  EXPECT_NE(metrics.body.find("tandem_store_rejected_total{reason=\"stale_epoch\"} 1"),
            std::string::npos);
}

TEST_P(StoreHttpTest, VersionsListedAndFetched) {
  REQUIRE_SERVICE();
  std::vector<Bytes> updates;
  std::vector<Bytes> snaps;
  for (int i = 0; i < 6; ++i) {
    updates.push_back(MapSet(20 + i, 0, Name("k", i), "v"));
    snaps.push_back(Snapshot(updates));
    ASSERT_EQ(Post("r", snaps.back()).status, 200);
  }
  Reply list =
      Call(port_, http::verb::get, "/collaboration/snapshot/versions?roomId=" + prefix_ + "r", "");
  ASSERT_EQ(list.status, 200);
  EXPECT_EQ(list.headers[http::field::content_type], "application/json");
  // keep_versions = 4: versions 6, 5, 4, 3, newest first.
  EXPECT_EQ(list.body.rfind(
                std::string("[{\"version\":6,\"size\":") + std::to_string(snaps[5].size()), 0),
            0u)
      << list.body;
  for (int v : {5, 4, 3}) {
    EXPECT_NE(list.body.find(std::string("{\"version\":") + std::to_string(v) + ","),
              std::string::npos);
  }
  EXPECT_EQ(list.body.find("{\"version\":2,"), std::string::npos) << list.body;
  EXPECT_NE(list.body.find("\"checksum\":\"" + Sha256Hex(snaps[3]) + "\""), std::string::npos);
  EXPECT_NE(list.body.find("\"time\":"), std::string::npos);
  Reply v4 = Get("r", "&version=4");
  ASSERT_EQ(v4.status, 200);
  EXPECT_EQ(v4.bytes(), snaps[3]);
  EXPECT_EQ(v4.headers["X-Tandem-Version"], "4");
  EXPECT_EQ(Get("r", "&version=1").status, 404);
  EXPECT_EQ(Get("r", "&version=abc").status, 400);
  EXPECT_EQ(Get("r", "&version=0").status, 400);
  // An operator rolls back to version 4: a new version 7 with its bytes, not merged.
  const std::string rollback = "/collaboration/snapshot/rollback?roomId=" + prefix_ + "r";
  Reply rolled = Call(port_, http::verb::post, rollback + "&version=4", "");
  ASSERT_EQ(rolled.status, 200) << rolled.body;
  EXPECT_EQ(rolled.headers["X-Tandem-Version"], "7");
  Reply latest = Get("r");
  EXPECT_EQ(latest.bytes(), snaps[3]);
  EXPECT_EQ(latest.headers["X-Tandem-Version"], "7");
  EXPECT_EQ(Call(port_, http::verb::post, rollback + "&version=1", "").status, 404);
  EXPECT_EQ(Call(port_, http::verb::post, rollback, "").status, 400);
  EXPECT_EQ(Call(port_, http::verb::get, rollback + "&version=4", "").status, 405);
  EXPECT_EQ(Call(port_, http::verb::post, rollback + "&version=4", "", "").status, 401);
  Reply none = Call(port_, http::verb::get,
                    "/collaboration/snapshot/versions?roomId=" + prefix_ + "none", "");
  EXPECT_EQ(none.status, 200);
  EXPECT_EQ(none.body, "[]");
}

TEST_P(StoreHttpTest, DeleteErasesEveryVersionAndVersionNumbersGoOn) {
  REQUIRE_SERVICE();
  for (int i = 0; i < 3; ++i)
    ASSERT_EQ(Post("r", Snapshot({MapSet(30 + i, 0, "k", "v")})).status, 200);
  ASSERT_EQ(Post("other", Snapshot({MapSet(40, 0, "k", "v")})).status, 200);
  EXPECT_EQ(Call(port_, http::verb::delete_, Target("r"), "", "").status, 401);
  EXPECT_EQ(Get("r").status, 200) << "refused without the secret: nothing deleted";
  Reply deleted = Call(port_, http::verb::delete_, Target("r"), "");
  ASSERT_EQ(deleted.status, 204) << deleted.body;
  EXPECT_EQ(deleted.headers["X-Tandem-Deleted-Versions"], "3");
  EXPECT_EQ(Get("r").status, 404);
  EXPECT_EQ(Get("r", "&version=2").status, 404);
  EXPECT_EQ(Get("other").status, 200);
  // Idempotent.
  EXPECT_EQ(Call(port_, http::verb::delete_, Target("r"), "").status, 204);
  // A new life of the room: versions are never reused.
  Reply again = Post("r", Snapshot({MapSet(50, 0, "k", "v")}));
  ASSERT_EQ(again.status, 200);
  EXPECT_EQ(again.headers["X-Tandem-Version"], "4");
}

TEST_P(StoreHttpTest, BadRoomIdsMethodsAndQueriesAre4xxAndStoreNothing) {
  REQUIRE_SERVICE();
  const std::string body = Str(Snapshot({MapSet(1, 0, "a", "x")}));
  struct Case {
    http::verb method;
    std::string target;
    int status;
  };
  const std::vector<Case> cases = {
      {http::verb::post, "/collaboration/snapshot?roomId=" + std::string(2000, 'x'), 400},
      {http::verb::post, "/collaboration/snapshot?roomId=" + std::string(1025, 'x'), 400},
      {http::verb::post, "/collaboration/snapshot?roomId=", 400},
      {http::verb::post, "/collaboration/snapshot?roomId", 400},
      {http::verb::post, "/collaboration/snapshot", 400},
      {http::verb::post, "/collaboration/snapshot?", 400},
      {http::verb::post, "/collaboration/snapshot?room=x", 400},
      {http::verb::post, "/collaboration/snapshot?roomId=a&roomId=b", 400},
      {http::verb::post, "/collaboration/snapshot?roomId=%zz", 400},
      {http::verb::post, "/collaboration/snapshot?roomId=a%", 400},
      {http::verb::post, "/collaboration/snapshot?roomId=%FF%FE", 400},  // not UTF-8
      {http::verb::post, "/collaboration/snapshot?roomId=a%0Ab", 400},   // control character
      {http::verb::post, "/collaboration/snapshot?roomId=a%00b", 400},
      {http::verb::put, "/collaboration/snapshot?roomId=x", 405},
      {http::verb::patch, "/collaboration/snapshot?roomId=x", 405},
      {http::verb::delete_, "/collaboration/snapshot?roomId=", 400},
      {http::verb::post, "/collaboration/snapshot/versions?roomId=x", 405},
      {http::verb::post, "/healthz", 405},
      {http::verb::post, "/collaboration/other?roomId=x", 404},
      {http::verb::get, "/collaboration/snapshot/versions", 400},
  };
  for (const Case& c : cases) {
    Reply r = Call(port_, c.method, c.target, body);
    EXPECT_EQ(r.status, c.status) << c.target << " " << r.body;
    EXPECT_EQ(r.headers[http::field::content_type], "application/json") << c.target;
    EXPECT_NE(r.body.find("\"error\":"), std::string::npos) << c.target << " " << r.body;
  }
  Reply huge = Call(port_, http::verb::post,
                    "/collaboration/snapshot?roomId=" + std::string(100'000, 'x'), body);
  EXPECT_EQ(huge.status, 431) << huge.body;
  EXPECT_NE(huge.body.find("\"error\":"), std::string::npos) << huge.body;
  EXPECT_EQ(store_->metrics().saves.load(), 0u) << "nothing stored";
  EXPECT_EQ(Call(port_, http::verb::get, "/collaboration/snapshot?roomId=x", "").status, 404);

  // Odd but valid ids are distinct rooms: encoded slashes, unicode, spaces, 1024 bytes.
  const Bytes snap = Snapshot({MapSet(1, 0, "a", "x")});
  const std::vector<std::pair<std::string, std::string>> ok = {
      {"a%2Fb", "a/b"}, {"a%2F..%2Fb", "a/../b"}, {"%E2%9C%93%20caf%C3%A9", "\u2713 caf\u00e9"},
      {"a+b", "a b"},   {"a%2Bb", "a+b"},         {std::string(1024, 'y'), std::string(1024, 'y')}};
  for (const auto& [encoded, decoded] : ok) {
    Reply r = Call(port_, http::verb::post, "/collaboration/snapshot?roomId=" + encoded, Str(snap));
    EXPECT_EQ(r.status, 200) << encoded << " " << r.body;
    auto got = store_->Get(decoded);
    ASSERT_TRUE(got.ok());
    EXPECT_TRUE(got->has_value()) << encoded;
  }
  EXPECT_FALSE(store_->Get("a").value().has_value());
  EXPECT_FALSE(store_->Get("b").value().has_value());
}

TEST_P(StoreHttpTest, ConcurrentSavesOverHttpLoseNothing) {
  REQUIRE_SERVICE();
  constexpr int kThreads = 8;
  constexpr int kRounds = 6;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::vector<Bytes> mine;
      for (int r = 0; r < kRounds; ++r) {
        mine.push_back(MapSet(200 + t, r, Key(t, r), "v"));
        const Bytes snap = Snapshot(mine);
        if (Post("shared", snap).status != 200) ++failures;
        if (Post(Name("room", t), snap).status != 200) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  const Bytes shared = Get("shared").bytes();
  for (int t = 0; t < kThreads; ++t) {
    for (int r = 0; r < kRounds; ++r) {
      const std::string key = Key(t, r);
      EXPECT_TRUE(MapHasKey(shared, key)) << key;
    }
    const Bytes own = Get(Name("room", t)).bytes();
    for (int r = 0; r < kRounds; ++r) {
      EXPECT_TRUE(MapHasKey(own, Key(t, r)));
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreHttpTest, ::testing::Values("sqlite", "postgres"),
                         [](const auto& p) { return p.param; });

TEST(StoreAuthTest, BearerMatchesOnlyTheExactSecret) {
  EXPECT_TRUE(BearerMatches("Bearer abc", "abc"));
  EXPECT_FALSE(BearerMatches("Bearer abcd", "abc"));
  EXPECT_FALSE(BearerMatches("Bearer ab", "abc"));
  EXPECT_TRUE(BearerMatches("bearer abc", "abc"));  // the scheme is case-insensitive
  EXPECT_TRUE(BearerMatches("BEARER  abc", "abc"));
  EXPECT_FALSE(BearerMatches("abc", "abc"));
  EXPECT_FALSE(BearerMatches("Bearer ", ""));
}

}  // namespace
}  // namespace tandem::store

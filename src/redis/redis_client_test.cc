// The client against a real redis-server (AOF on, fsync always), started by the test.

#include "redis/redis_client.h"

#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <boost/asio/io_context.hpp>
#include <future>
#include <mutex>
#include <thread>

#include "redis/test_redis_server.h"

namespace tandem::redis {
namespace {

using namespace std::chrono_literals;

class RedisClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!server_.Start()) GTEST_SKIP() << server_.error();
    thread_ = std::thread([this] { ioc_.run(); });
    client_ = RedisClient::Create(
        ioc_.get_executor(),
        RedisOptions{.url = *ParseRedisUrl(server_.url() + "/2"), .command_timeout = 1s});
  }
  void TearDown() override {
    work_.reset();
    if (client_) client_->Close();
    client_.reset();
    if (thread_.joinable()) thread_.join();
  }
  Result<Reply> Run(const std::vector<std::string>& args) {
    std::promise<Result<Reply>> p;
    client_->Command(args, [&](Result<Reply> r) { p.set_value(std::move(r)); });
    return p.get_future().get();
  }
  TestRedisServer server_;
  boost::asio::io_context ioc_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_{
      ioc_.get_executor()};
  std::thread thread_;
  std::shared_ptr<RedisClient> client_;
};

TEST(RedisUrlTest, ParsesHostPortAndDatabase) {
  auto u = ParseRedisUrl("redis://10.0.0.5:6390/3");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->host, "10.0.0.5");
  EXPECT_EQ(u->port, 6390);
  EXPECT_EQ(u->db, 3);
  EXPECT_EQ(ParseRedisUrl("redis://cache")->port, 6379);
  for (const char* bad : {"http://x", "redis://", "redis://x:0", "redis://x:99999", "redis://x/16",
                          "redis://u:p@x", "redis://x:12a"}) {
    EXPECT_FALSE(ParseRedisUrl(bad).ok()) << bad;
  }
}

TEST(RedisErrorTest, PassingStatesAreTransientByTheirCodeAlone) {
  EXPECT_TRUE(IsTransientError("OOM command not allowed when used memory > 'maxmemory'."));
  EXPECT_TRUE(IsTransientError("LOADING Redis is loading the dataset in memory"));
  EXPECT_TRUE(IsTransientError("BUSY Redis is busy running a script."));
  EXPECT_TRUE(IsTransientError("MASTERDOWN Link with MASTER is down"));
  EXPECT_FALSE(
      IsTransientError("WRONGTYPE Operation against a key holding the wrong kind of value"));
  EXPECT_FALSE(IsTransientError("BUSYGROUP Consumer Group name already exists"));
  EXPECT_FALSE(IsTransientError("ERR OOM in the text is not the code"));
  EXPECT_FALSE(IsTransientError(""));
}

TEST(EncodeCommandTest, WritesWhatHiredisFormatterWrites) {
  const std::vector<std::vector<std::string>> commands = {
      {"PING"},
      {"SET", "k", ""},
      {"EVALSHA", std::string(40, 'a'), "2", "tandem:{r}:log", "tandem:{r}:meta",
       std::string("\0\r\n\xff", 4), std::string(1000, 'x')}};
  for (const auto& args : commands) {
    std::vector<const char*> argv;
    std::vector<size_t> lens;
    for (const std::string& a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    char* formatted = nullptr;
    const int n =
        redisFormatCommandArgv(&formatted, static_cast<int>(args.size()), argv.data(), lens.data());
    ASSERT_GT(n, 0);
    EXPECT_EQ(EncodeCommand(args), std::string(formatted, static_cast<size_t>(n)));
    redisFreeCommand(formatted);
  }
}

TEST_F(RedisClientTest, RepliesOfEveryKindInOrderAndBinarySafe) {
  const std::string binary("a\0b\r\n\xff", 6);
  EXPECT_EQ(Run({"SET", "k", binary})->str, "OK");
  EXPECT_EQ(Run({"GET", "k"})->str, binary);
  EXPECT_TRUE(Run({"GET", "missing"})->is_nil());
  EXPECT_EQ(Run({"INCRBY", "n", "5"})->integer, 5);
  auto err = Run({"INCR", "k"});
  EXPECT_EQ(err.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(err.status().message().find("not an integer"), std::string::npos);
  EXPECT_EQ(Run({"XADD", "s", "*", "u", binary})->type, Reply::Type::kString);
  auto range = Run({"XRANGE", "s", "-", "+"});
  ASSERT_EQ(range->elements.size(), 1u);
  EXPECT_EQ(range->elements[0].elements[1].elements[1].str, binary);
  // The URL's database was selected.
  auto db = Run({"CLIENT", "INFO"});
  EXPECT_NE(db->str.find("db=2"), std::string::npos) << db->str;
}

TEST_F(RedisClientTest, PublishedMessagesReachThePushHandlerWhole) {
  auto subscriber =
      RedisClient::Create(ioc_.get_executor(), RedisOptions{.url = *ParseRedisUrl(server_.url())});
  std::mutex mu;
  std::vector<std::pair<std::string, std::string>> heard;
  std::promise<void> both;
  subscriber->SetPushHandler(
      [&](const RedisClient::PushMessage& m) {
        std::lock_guard lock(mu);
        heard.emplace_back(m.channel, m.payload);
        if (heard.size() == 2) both.set_value();
      },
      [] {});
  std::promise<void> subscribed;
  subscriber->Command({"SUBSCRIBE", "tandem:{a}:relay"}, [&](const Result<Reply>& r) {
    EXPECT_TRUE(r.ok());
    subscriber->Command({"PSUBSCRIBE", "other:*"}, [&](const Result<Reply>& r2) {
      EXPECT_TRUE(r2.ok());
      subscribed.set_value();
    });
  });
  subscribed.get_future().wait();
  const std::string binary("1-0 1 2 n1\0\r\n\xff", 14);
  EXPECT_EQ(Run({"PUBLISH", "tandem:{a}:relay", binary})->integer, 1);
  EXPECT_EQ(Run({"PUBLISH", "other:x", "by pattern"})->integer, 1);
  ASSERT_EQ(both.get_future().wait_for(5s), std::future_status::ready);
  std::lock_guard lock(mu);
  EXPECT_EQ(heard[0], std::make_pair(std::string("tandem:{a}:relay"), binary));
  EXPECT_EQ(heard[1], std::make_pair(std::string("other:x"), std::string("by pattern")));
  subscriber->Close();
}

TEST_F(RedisClientTest, PipelinedCommandsAnswerInOrder) {
  constexpr int kCommands = 2000;
  std::vector<int64_t> got;
  std::promise<void> done;
  for (int i = 0; i < kCommands; ++i) {
    client_->Command({"INCR", "counter"}, [&, i](Result<Reply> r) {
      got.push_back(r.ok() ? r->integer : -1);
      if (i == kCommands - 1) done.set_value();
    });
  }
  done.get_future().get();
  ASSERT_EQ(got.size(), static_cast<size_t>(kCommands));
  for (int i = 0; i < kCommands; ++i) EXPECT_EQ(got[i], i + 1);
}

TEST_F(RedisClientTest, ADeadServerFailsCommandsAndARestartedOneIsReconnectedToFromItsAof) {
  ASSERT_EQ(Run({"SET", "kept", "1"})->str, "OK");
  server_.Kill();
  auto down = Run({"GET", "kept"});
  EXPECT_EQ(down.status().code(), StatusCode::kUnavailable) << down.status().ToString();
  ASSERT_TRUE(server_.Start()) << server_.error();
  // The acknowledged write survived the kill (appendfsync always), and the client reconnects.
  auto back = Run({"GET", "kept"});
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->str, "1");
  EXPECT_EQ(client_->connects(), 2u);
}

TEST_F(RedisClientTest, ABlockingCommandWaitsItsTimeAndOthersTimeOut) {
  auto t0 = std::chrono::steady_clock::now();
  std::promise<Result<Reply>> p;
  client_->Command(
      {"XREAD", "BLOCK", "1500", "STREAMS", "nothing", "$"},
      [&](Result<Reply> r) { p.set_value(std::move(r)); }, 1500ms);
  auto r = p.get_future().get();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->is_nil());
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 1400ms);
  // Without the extra wait the same command passes the 1 s command timeout.
  std::promise<Result<Reply>> q;
  client_->Command({"XREAD", "BLOCK", "3000", "STREAMS", "nothing", "$"},
                   [&](Result<Reply> r2) { q.set_value(std::move(r2)); });
  EXPECT_EQ(q.get_future().get().status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_EQ(Run({"PING"})->str, "PONG");  // and the client goes on, on a new connection
}

}  // namespace
}  // namespace tandem::redis

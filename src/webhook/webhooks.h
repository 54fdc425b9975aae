#pragma once
// Signed webhooks (docs/API.md "Webhooks"): room events POSTed as JSON to the configured URLs,
// signed per the Standard Webhooks convention (webhook-id, webhook-timestamp, webhook-signature
// = "v1," base64 HMAC-SHA256 over "id.timestamp.body" with the secret's key).
//
// Delivery is at least once: an event is written to a durable outbox (SQLite in the data
// directory, WAL: it survives kill -9) before it is sent, and stays there until the receiver
// answers 2xx. Failures retry with exponential backoff and full jitter up to `retry_for`, then
// the event is dropped (and counted); a receiver answering 410 Gone is unsubscribed for the
// life of the process. Everything runs on the dispatcher's own thread: rooms only hand it an
// event, so no receiver can slow a room.

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "base/result.h"
#include "net/http_client.h"
#include "room/room_events.h"
#include "sqlite/database.h"

namespace tandem::webhook {

struct WebhookOptions {
  std::vector<std::string> urls;
  std::string secret;  // "whsec_<base64>" (or bare base64): the key is the decoded bytes
  std::chrono::milliseconds retry_for{24 * 3600 * 1000};
  std::chrono::milliseconds min_backoff{1'000};
  std::chrono::milliseconds max_backoff{10 * 60 * 1000};
  std::chrono::milliseconds timeout{10'000};
  size_t max_in_flight_per_url = 8;
  size_t max_pending = 100'000;  // deliveries in the outbox; past it new events are dropped
};

// The key of a Standard Webhooks secret; kInvalidArgument with a message for a bad one.
Result<std::string> DecodeSecret(std::string_view secret);
// "v1,<base64 HMAC-SHA256(key, id.timestamp.body)>"
std::string Sign(std::string_view key, std::string_view id, int64_t timestamp,
                 std::string_view body);

class WebhookDispatcher : public room::RoomEvents {
 public:
  // Opens (creating) `<data_dir>/webhooks.db` and starts the dispatcher's thread; events left in
  // the outbox by an earlier run are sent again.
  static Result<std::unique_ptr<WebhookDispatcher>> Start(const std::string& data_dir,
                                                          WebhookOptions options);
  // Stops the thread; what is not delivered stays in the outbox for the next run.
  ~WebhookDispatcher() override;

  // room::RoomEvents (any thread; they return at once).
  void OnChanged(const std::string& room, const std::vector<uint8_t>& state_vector,
                 std::vector<std::string> types) override;
  void OnSaved(const std::string& room, size_t bytes) override;
  void OnSaveFailed(const std::string& room, const std::string& error) override;
  void OnEmpty(const std::string& room) override;
  void OnUserJoined(const std::string& room, uint64_t connection, const std::string& user,
                    bool read_only) override;
  void OnUserLeft(const std::string& room, uint64_t connection, const std::string& user,
                  bool read_only) override;
  void OnDeleted(const std::string& room) override;

  // Prometheus text: deliveries, retries, drops, outbox size.
  std::string RenderMetrics() const;

 private:
  struct Delivery {
    int64_t row = 0;
    std::string url;
    std::string id;
    std::string body;
    int64_t created_ms = 0;
    int attempts = 0;
    int64_t next_ms = 0;
  };

  WebhookDispatcher(std::unique_ptr<sqlite::Database> db, std::string key, WebhookOptions options);
  // Builds {"type", "timestamp", "data"} and hands it to the dispatcher's thread.
  void Emit(const std::string& type, const std::string& data_json);
  void Enqueue(const std::string& body, int64_t now_ms);  // dispatcher thread
  void Pump();                                            // sends what is due
  void Send(Delivery d);
  void OnAnswer(Delivery d, Result<net::HttpResponse> answer);
  void ArmTimer();
  void Forget(const Delivery& d);
  Status LoadOutbox();
  static int64_t NowMs();

  const std::string key_;
  const WebhookOptions options_;
  std::unique_ptr<sqlite::Database> db_;  // dispatcher thread only (after Start)
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  net::HttpClient http_;
  boost::asio::steady_timer timer_;
  std::vector<Delivery> waiting_;  // dispatcher thread: not in flight, by next_ms
  std::vector<size_t> in_flight_;  // per URL index
  std::set<std::string> unsubscribed_;
  const std::string run_id_;  // event ids are msg_<run>_<sequence>: unique across restarts
  std::atomic<uint64_t> next_sequence_{0};
  std::atomic<uint64_t> events_{0};
  std::atomic<uint64_t> deliveries_{0};
  std::atomic<uint64_t> retries_{0};
  std::atomic<uint64_t> drops_{0};
  std::atomic<uint64_t> unsubscribes_{0};
  std::atomic<int64_t> pending_{0};
  std::thread thread_;
};

}  // namespace tandem::webhook

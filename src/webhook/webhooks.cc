#include "webhook/webhooks.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <random>

#include "base/base64.h"
#include "base/log_text.h"
#include "lib0/json.h"

namespace tandem::webhook {

namespace {

constexpr const char* kSetup =
    // WAL without an fsync per commit: an event survives the process being killed, which is what
    // the outbox promises (the room log, not the outbox, carries the documents themselves).
    "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA journal_size_limit=4194304;"
    "CREATE TABLE IF NOT EXISTS webhook_outbox (row INTEGER PRIMARY KEY AUTOINCREMENT, "
    "url TEXT NOT NULL, id TEXT NOT NULL, body TEXT NOT NULL, created_ms INTEGER NOT NULL, "
    "attempts INTEGER NOT NULL DEFAULT 0, next_ms INTEGER NOT NULL);";

std::string JsonStr(std::string_view s) {
  std::string out;
  lib0::AppendJsonString(out, s);
  return out;
}

std::string IsoTime(int64_t ms) {
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  const size_t n = std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  return std::string(buf, n) + "." + std::to_string(1000 + ms % 1000).substr(1) + "Z";
}

std::string RandomHex() {
  std::random_device rd;
  const uint64_t r = (static_cast<uint64_t>(rd()) << 32) | rd();
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(r));
  return buf;
}

std::string UserJson(const std::string& user) {
  return user.empty() ? "null" : JsonStr(user);
}

}  // namespace

Result<std::string> DecodeSecret(std::string_view secret) {
  std::string_view b64 = secret;
  if (b64.substr(0, 6) == "whsec_") b64.remove_prefix(6);
  auto key = Base64Decode(b64);
  if (!key.ok() || key->size() < 16) {
    return Status(StatusCode::kInvalidArgument,
                  "--webhook-secret must be a Standard Webhooks secret: \"whsec_\" and the "
                  "base64 of at least 16 random bytes (e.g. whsec_$(openssl rand -base64 32))");
  }
  return key;
}

std::string Sign(std::string_view key, std::string_view id, int64_t timestamp,
                 std::string_view body) {
  std::string content;
  content.reserve(id.size() + body.size() + 24);
  content.append(id).append(".").append(std::to_string(timestamp)).append(".").append(body);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(content.data()), content.size(), mac, &len);
  return "v1," + Base64Encode(std::string_view(reinterpret_cast<const char*>(mac), len));
}

Result<std::unique_ptr<WebhookDispatcher>> WebhookDispatcher::Start(const std::string& data_dir,
                                                                    WebhookOptions options) {
  TANDEM_ASSIGN_OR_RETURN(std::string key, DecodeSecret(options.secret));
  if (options.urls.empty()) return Status(StatusCode::kInvalidArgument, "no webhook URL");
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  auto db =
      sqlite::Database::Open((std::filesystem::path(data_dir) / "webhooks.db").string(), kSetup);
  if (!db.ok()) return db.status().WithContext("webhook outbox");
  std::unique_ptr<WebhookDispatcher> d(
      new WebhookDispatcher(std::move(db).value(), std::move(key), std::move(options)));
  TANDEM_RETURN_IF_ERROR(d->LoadOutbox());
  d->thread_ = std::thread([raw = d.get()] { raw->io_.run(); });
  boost::asio::post(d->io_, [raw = d.get()] { raw->Pump(); });
  return d;
}

WebhookDispatcher::WebhookDispatcher(std::unique_ptr<sqlite::Database> db, std::string key,
                                     WebhookOptions options)
    : key_(std::move(key)),
      options_(std::move(options)),
      db_(std::move(db)),
      work_(io_.get_executor()),
      http_(io_.get_executor()),
      timer_(io_),
      in_flight_(options_.urls.size(), 0),
      run_id_(RandomHex()) {}

WebhookDispatcher::~WebhookDispatcher() {
  // Undelivered events stay in the outbox: stopping drops only what is in flight.
  work_.reset();
  io_.stop();
  try {
    if (thread_.joinable()) thread_.join();
  } catch (const std::system_error& e) {
    spdlog::error("webhooks: cannot join the dispatcher thread: {}", e.what());
  }
}

int64_t WebhookDispatcher::NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Status WebhookDispatcher::LoadOutbox() {
  sqlite::Statement s = db_->Prepare(
      "SELECT row, url, id, body, created_ms, attempts, next_ms FROM webhook_outbox ORDER BY row");
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) {
    Delivery d;
    d.row = s.ColumnInt(0);
    d.url = s.ColumnText(1);
    d.id = s.ColumnText(2);
    d.body = s.ColumnText(3);
    d.created_ms = s.ColumnInt(4);
    d.attempts = static_cast<int>(s.ColumnInt(5));
    d.next_ms = s.ColumnInt(6);
    if (std::find(options_.urls.begin(), options_.urls.end(), d.url) == options_.urls.end()) {
      continue;  // a URL no longer configured: kept, in case it comes back
    }
    waiting_.push_back(std::move(d));
  }
  if (rc != SQLITE_DONE) return db_->Error("webhook outbox");
  pending_ = static_cast<int64_t>(waiting_.size());
  if (!waiting_.empty()) {
    spdlog::info("webhooks: {} event deliveries left by the last run will be retried",
                 waiting_.size());
  }
  return Status::Ok();
}

void WebhookDispatcher::Emit(const std::string& type, const std::string& data_json) {
  ++events_;
  const int64_t now = NowMs();
  std::string body = "{\"type\":" + JsonStr(type) + ",\"timestamp\":" + JsonStr(IsoTime(now)) +
                     ",\"data\":" + data_json + "}";
  boost::asio::post(io_, [this, body = std::move(body), now] { Enqueue(body, now); });
}

void WebhookDispatcher::Enqueue(const std::string& body, int64_t now_ms) {
  const std::string id = "msg_" + run_id_ + "_" + std::to_string(++next_sequence_);
  if (pending_ >= static_cast<int64_t>(options_.max_pending)) {
    // The receivers have been down long enough for the outbox to fill: keep what is there.
    drops_ += options_.urls.size();
    spdlog::error("webhooks: the outbox holds {} deliveries (the limit); event {} is dropped",
                  pending_.load(), id);
    return;
  }
  if (Status s = db_->Exec("BEGIN"); !s.ok()) {
    spdlog::error("webhooks: cannot write to the outbox ({}); event {} is sent without it",
                  Quoted(s.message()), id);
  }
  for (const std::string& url : options_.urls) {
    if (unsubscribed_.count(url) > 0) continue;
    Delivery d{0, url, id, body, now_ms, 0, now_ms};
    sqlite::Statement s = db_->Cached(
        "INSERT INTO webhook_outbox (url, id, body, created_ms, next_ms) VALUES (?, ?, ?, ?, ?)");
    s.BindText(1, url);
    s.BindText(2, id);
    s.BindText(3, body);
    s.BindInt(4, now_ms);
    s.BindInt(5, now_ms);
    if (s.Step() == SQLITE_DONE) {
      d.row = db_->LastInsertRowId();
    } else {
      spdlog::error("webhooks: cannot write to the outbox: {}",
                    Quoted(db_->Error("insert").message()));
    }
    waiting_.push_back(std::move(d));
    ++pending_;
  }
  (void)db_->Exec("COMMIT");
  Pump();
}

void WebhookDispatcher::Pump() {
  const int64_t now = NowMs();
  // Due deliveries, oldest first, while their URL has room in flight.
  std::stable_sort(waiting_.begin(), waiting_.end(),
                   [](const Delivery& a, const Delivery& b) { return a.next_ms < b.next_ms; });
  std::vector<Delivery> keep;
  std::vector<Delivery> send;
  for (Delivery& d : waiting_) {
    const size_t u = static_cast<size_t>(
        std::find(options_.urls.begin(), options_.urls.end(), d.url) - options_.urls.begin());
    if (d.next_ms <= now && u < in_flight_.size() &&
        in_flight_[u] < options_.max_in_flight_per_url) {
      ++in_flight_[u];
      send.push_back(std::move(d));
    } else {
      keep.push_back(std::move(d));
    }
  }
  waiting_ = std::move(keep);
  for (Delivery& d : send) Send(std::move(d));
  ArmTimer();
}

void WebhookDispatcher::ArmTimer() {
  if (waiting_.empty()) return;
  int64_t next = waiting_.front().next_ms;
  for (const Delivery& d : waiting_) next = std::min(next, d.next_ms);
  const int64_t delay = std::max<int64_t>(next - NowMs(), 0);
  // A delivery due now but held back by the in-flight bound is pumped again when an answer
  // comes; the timer covers the ones that wait for their time.
  timer_.expires_after(std::chrono::milliseconds(std::max<int64_t>(delay, 5)));
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) Pump();
  });
}

void WebhookDispatcher::Send(Delivery d) {
  const int64_t ts = NowMs() / 1000;
  net::HttpRequest req;
  req.method = "POST";
  req.url = d.url;
  req.headers = {{"Content-Type", "application/json"},
                 {"User-Agent", "tandem-webhooks"},
                 {"webhook-id", d.id},
                 {"webhook-timestamp", std::to_string(ts)},
                 {"webhook-signature", Sign(key_, d.id, ts, d.body)}};
  req.body = d.body;
  req.connect_timeout = std::min(options_.timeout, std::chrono::milliseconds(5'000));
  req.total_timeout = options_.timeout;
  req.max_response_bytes = 64 * 1024;
  http_.Send(std::move(req), [this, d = std::move(d)](Result<net::HttpResponse> answer) mutable {
    OnAnswer(std::move(d), std::move(answer));
  });
}

void WebhookDispatcher::Forget(const Delivery& d) {
  if (d.row == 0) return;
  sqlite::Statement s = db_->Cached("DELETE FROM webhook_outbox WHERE row = ?");
  s.BindInt(1, d.row);
  if (s.Step() != SQLITE_DONE) {
    spdlog::warn("webhooks: cannot update the outbox: {}", Quoted(db_->Error("delete").message()));
  }
}

void WebhookDispatcher::OnAnswer(Delivery d, Result<net::HttpResponse> answer) {
  const size_t u = static_cast<size_t>(
      std::find(options_.urls.begin(), options_.urls.end(), d.url) - options_.urls.begin());
  if (u < in_flight_.size()) --in_flight_[u];
  const int status = answer.ok() ? answer->status : 0;
  if (status >= 200 && status < 300) {
    ++deliveries_;
    --pending_;
    Forget(d);
  } else if (status == 410) {
    // The receiver asks to be forgotten: drop what waits for it, send it nothing more.
    if (unsubscribed_.insert(d.url).second) {
      ++unsubscribes_;
      spdlog::warn("webhooks: {} answered 410 Gone: unsubscribed until restart", Quoted(d.url));
    }
    ++drops_;
    --pending_;
    Forget(d);
    std::erase_if(waiting_, [&](const Delivery& w) {
      if (w.url != d.url) return false;
      ++drops_;
      --pending_;
      Forget(w);
      return true;
    });
  } else {
    ++d.attempts;
    const int64_t now = NowMs();
    const std::string why =
        answer.ok() ? "HTTP " + std::to_string(status) : answer.status().message();
    if (now - d.created_ms >= options_.retry_for.count()) {
      ++drops_;
      --pending_;
      spdlog::error("webhooks: dropping event {} for {} after {} attempts over {} s: {}", d.id,
                    Quoted(d.url), d.attempts, (now - d.created_ms) / 1000, Quoted(why, 200));
      Forget(d);
    } else {
      ++retries_;
      // Exponential backoff with full jitter: many rooms failing together do not retry in step.
      const double cap = std::min<double>(
          static_cast<double>(options_.max_backoff.count()),
          static_cast<double>(options_.min_backoff.count()) * std::pow(2.0, d.attempts - 1));
      static thread_local std::mt19937_64 rng{std::random_device{}()};
      const auto wait =
          static_cast<int64_t>(std::uniform_real_distribution<double>(cap / 2, cap)(rng));
      d.next_ms = now + wait;
      spdlog::info("webhooks: event {} to {} failed ({}); attempt {} in {} ms", d.id, Quoted(d.url),
                   Quoted(why, 200), d.attempts + 1, wait);
      if (d.row != 0) {
        sqlite::Statement s =
            db_->Cached("UPDATE webhook_outbox SET attempts = ?, next_ms = ? WHERE row = ?");
        s.BindInt(1, d.attempts);
        s.BindInt(2, d.next_ms);
        s.BindInt(3, d.row);
        (void)s.Step();
      }
      waiting_.push_back(std::move(d));
    }
  }
  Pump();
}

// ---------------------------------------------------------------------------------------------
// Events

void WebhookDispatcher::OnChanged(const std::string& room, const std::vector<uint8_t>& state_vector,
                                  std::vector<std::string> types) {
  std::string list = "[";
  for (const std::string& t : types) {
    if (list.size() > 1) list += ",";
    list += JsonStr(t);
  }
  list += "]";
  Emit("room.changed",
       "{\"room\":" + JsonStr(room) + ",\"stateVector\":" +
           JsonStr(Base64Encode(std::string_view(reinterpret_cast<const char*>(state_vector.data()),
                                                 state_vector.size()))) +
           ",\"types\":" + list + "}");
}

void WebhookDispatcher::OnSaved(const std::string& room, size_t bytes) {
  Emit("room.saved", "{\"room\":" + JsonStr(room) + ",\"bytes\":" + std::to_string(bytes) + "}");
}

void WebhookDispatcher::OnSaveFailed(const std::string& room, const std::string& error) {
  Emit("room.save_failed",
       "{\"room\":" + JsonStr(room) + ",\"error\":" + JsonStr(error.substr(0, 500)) + "}");
}

void WebhookDispatcher::OnEmpty(const std::string& room) {
  Emit("room.empty", "{\"room\":" + JsonStr(room) + "}");
}

void WebhookDispatcher::OnUserJoined(const std::string& room, uint64_t connection,
                                     const std::string& user, bool read_only) {
  Emit("user.joined", "{\"room\":" + JsonStr(room) + ",\"user\":" + UserJson(user) +
                          ",\"connection\":" + std::to_string(connection) +
                          ",\"readOnly\":" + (read_only ? "true" : "false") + "}");
}

void WebhookDispatcher::OnUserLeft(const std::string& room, uint64_t connection,
                                   const std::string& user, bool read_only) {
  Emit("user.left", "{\"room\":" + JsonStr(room) + ",\"user\":" + UserJson(user) +
                        ",\"connection\":" + std::to_string(connection) +
                        ",\"readOnly\":" + (read_only ? "true" : "false") + "}");
}

void WebhookDispatcher::OnDeleted(const std::string& room) {
  Emit("room.deleted", "{\"room\":" + JsonStr(room) + "}");
}

std::string WebhookDispatcher::RenderMetrics() const {
  std::string o;
  auto metric = [&o](const char* name, const char* type, const char* help, int64_t v) {
    o += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n" +
         name + " " + std::to_string(v) + "\n";
  };
  metric("tandem_webhook_events_total", "counter", "Events emitted (one per event, any URLs).",
         static_cast<int64_t>(events_.load()));
  metric("tandem_webhook_deliveries_total", "counter", "Deliveries answered 2xx.",
         static_cast<int64_t>(deliveries_.load()));
  metric("tandem_webhook_retries_total", "counter", "Failed attempts that will be retried.",
         static_cast<int64_t>(retries_.load()));
  metric("tandem_webhook_drops_total", "counter",
         "Deliveries given up (retry time passed, or the receiver answered 410).",
         static_cast<int64_t>(drops_.load()));
  metric("tandem_webhook_unsubscribed_total", "counter", "URLs unsubscribed by a 410 answer.",
         static_cast<int64_t>(unsubscribes_.load()));
  metric("tandem_webhook_outbox_pending", "gauge", "Deliveries waiting in the outbox.",
         pending_.load());
  return o;
}

}  // namespace tandem::webhook

#include "room/clock.h"

#include <boost/asio/steady_timer.hpp>

namespace tandem::room {

namespace {

class SteadyTimer : public Timer {
 public:
  explicit SteadyTimer(const boost::asio::any_io_executor& executor) : timer_(executor) {}
  void ExpireAt(std::chrono::steady_clock::time_point at, std::function<void()> fn) override {
    timer_.expires_at(at);  // cancels a wait in progress
    timer_.async_wait([fn = std::move(fn)](const boost::system::error_code& ec) {
      if (!ec) fn();
    });
  }
  void Cancel() override { timer_.cancel(); }

 private:
  boost::asio::steady_timer timer_;
};

}  // namespace

int64_t SystemClock::UnixMillis() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::unique_ptr<Timer> SystemClock::MakeTimer(boost::asio::any_io_executor executor) {
  return std::make_unique<SteadyTimer>(std::move(executor));
}

SystemClock& SystemClock::Instance() {
  static SystemClock clock;
  return clock;
}

}  // namespace tandem::room

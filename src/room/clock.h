#pragma once
// Time for rooms, injected so that tests of the save rules (30 s while connected, 7 s after the
// last leave, retries) run on a fake clock without sleeping. A Timer runs a callback on the
// executor it was made for (a room's strand) once the clock reaches a time point.
// SystemClock is std::chrono::steady_clock with Asio timers; FakeClock (room/fake_clock.h) moves
// only when a test advances it.

#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <functional>
#include <memory>

namespace tandem::room {

class Timer {
 public:
  virtual ~Timer() = default;
  // (Re)arms the timer: `fn` runs on the timer's executor at `at` unless cancelled or re-armed
  // before. At most one callback is armed at a time.
  virtual void ExpireAt(std::chrono::steady_clock::time_point at, std::function<void()> fn) = 0;
  virtual void Cancel() = 0;
};

class Clock {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  virtual ~Clock() = default;
  virtual TimePoint Now() const = 0;
  // Unix epoch milliseconds (for what is shown to people and stored: "last saved at").
  virtual int64_t UnixMillis() const = 0;
  virtual std::unique_ptr<Timer> MakeTimer(boost::asio::any_io_executor executor) = 0;
};

class SystemClock : public Clock {
 public:
  TimePoint Now() const override { return std::chrono::steady_clock::now(); }
  int64_t UnixMillis() const override;
  std::unique_ptr<Timer> MakeTimer(boost::asio::any_io_executor executor) override;
  // The process's one system clock (it holds no state).
  static SystemClock& Instance();
};

}  // namespace tandem::room

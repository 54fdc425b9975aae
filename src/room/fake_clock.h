#pragma once
// A Clock for tests: time stands still until Advance(), which posts every timer that came due
// to its executor (the test then runs the io_context). Thread-safe.

#include <boost/asio/post.hpp>
#include <map>
#include <mutex>

#include "room/clock.h"

namespace tandem::room {

class FakeClock : public Clock {
 public:
  FakeClock() = default;
  ~FakeClock() override {
    // Callbacks still armed are dropped outside the lock: what they hold may own timers of
    // this clock, whose destructors cancel (and lock).
    std::multimap<std::pair<TimePoint, uint64_t>, Armed> dropped;
    {
      std::lock_guard lock(mu_);
      dropped.swap(armed_);
    }
  }
  TimePoint Now() const override {
    std::lock_guard lock(mu_);
    return now_;
  }
  int64_t UnixMillis() const override {
    std::lock_guard lock(mu_);
    return 1'700'000'000'000 +
           std::chrono::duration_cast<std::chrono::milliseconds>(now_ - TimePoint()).count();
  }
  std::unique_ptr<Timer> MakeTimer(boost::asio::any_io_executor executor) override;
  // Moves time forward and posts the callbacks of the timers that came due, earliest first.
  void Advance(std::chrono::milliseconds by);
  // Timers armed and not yet due.
  size_t armed() const {
    std::lock_guard lock(mu_);
    return armed_.size();
  }

 private:
  class FakeTimer;
  struct Armed {
    boost::asio::any_io_executor executor;
    std::function<void()> fn;
  };
  mutable std::mutex mu_;
  TimePoint now_{std::chrono::hours(1)};
  uint64_t next_id_ = 0;
  std::multimap<std::pair<TimePoint, uint64_t>, Armed> armed_;  // GUARDED_BY(mu_)
  friend class FakeTimer;
};

class FakeClock::FakeTimer : public Timer {
 public:
  FakeTimer(FakeClock& clock, boost::asio::any_io_executor executor)
      : clock_(clock), executor_(std::move(executor)) {}
  ~FakeTimer() override { Cancel(); }
  void ExpireAt(TimePoint at, std::function<void()> fn) override {
    std::lock_guard lock(clock_.mu_);
    Forget();
    key_ = {at, ++clock_.next_id_};
    clock_.armed_.emplace(*key_, Armed{executor_, std::move(fn)});
  }
  void Cancel() override {
    std::lock_guard lock(clock_.mu_);
    Forget();
  }

 private:
  void Forget() {  // REQUIRES: clock_.mu_ held
    if (key_) clock_.armed_.erase(*key_);
    key_.reset();
  }
  FakeClock& clock_;
  boost::asio::any_io_executor executor_;
  std::optional<std::pair<TimePoint, uint64_t>> key_;
};

inline std::unique_ptr<Timer> FakeClock::MakeTimer(boost::asio::any_io_executor executor) {
  return std::make_unique<FakeTimer>(*this, std::move(executor));
}

inline void FakeClock::Advance(std::chrono::milliseconds by) {
  std::vector<Armed> due;
  {
    std::lock_guard lock(mu_);
    now_ += by;
    while (!armed_.empty() && armed_.begin()->first.first <= now_) {
      due.push_back(std::move(armed_.begin()->second));
      armed_.erase(armed_.begin());
    }
  }
  for (auto& a : due) boost::asio::post(a.executor, std::move(a.fn));
}

}  // namespace tandem::room

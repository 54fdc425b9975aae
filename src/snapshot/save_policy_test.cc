#include "snapshot/save_policy.h"

#include <gtest/gtest.h>

namespace tandem::snapshot {
namespace {

using namespace std::chrono_literals;
using TP = SavePolicy::TimePoint;

class SavePolicyTest : public ::testing::Test {
 protected:
  SavePolicy policy_{
      SavePolicyOptions{.interval = 300ms, .debounce = 150ms, .retry_min = 100ms, .retry_max = 1s},
      42};
  TP t0_ = TP{} + 1h;
};

TEST_F(SavePolicyTest, PeriodicSavesOnlyWhenChanged) {
  policy_.OnConnectionsChanged(1, t0_);
  EXPECT_FALSE(policy_.ShouldSave(t0_ + 300ms));  // nothing changed: no save
  policy_.OnChange(t0_ + 310ms);
  EXPECT_FALSE(policy_.ShouldSave(t0_ + 400ms));
  EXPECT_EQ(policy_.NextWakeup(), t0_ + 600ms);
  EXPECT_TRUE(policy_.ShouldSave(t0_ + 600ms));
  policy_.OnSaveStarted();
  EXPECT_FALSE(policy_.ShouldSave(t0_ + 900ms));  // one save in flight at most
  policy_.OnSaveFinished(true, t0_ + 610ms);
  EXPECT_FALSE(policy_.dirty());
  EXPECT_FALSE(policy_.ShouldSave(t0_ + 900ms));
}

TEST_F(SavePolicyTest, ChangesDuringASaveStayDirty) {
  policy_.OnConnectionsChanged(1, t0_);
  policy_.OnChange(t0_);
  ASSERT_TRUE(policy_.ShouldSave(t0_ + 300ms));
  policy_.OnSaveStarted();
  policy_.OnChange(t0_ + 305ms);
  policy_.OnSaveFinished(true, t0_ + 310ms);
  EXPECT_TRUE(policy_.dirty());
  EXPECT_TRUE(policy_.ShouldSave(t0_ + 600ms));
}

TEST_F(SavePolicyTest, LastLeaveSavesOnceAfterDebounce) {
  policy_.OnConnectionsChanged(1, t0_);
  policy_.OnChange(t0_ + 10ms);
  policy_.OnConnectionsChanged(0, t0_ + 100ms);
  EXPECT_FALSE(policy_.CanUnload());
  EXPECT_FALSE(policy_.ShouldSave(t0_ + 200ms));
  EXPECT_EQ(policy_.NextWakeup(), t0_ + 250ms);
  EXPECT_TRUE(policy_.ShouldSave(t0_ + 250ms));
  policy_.OnSaveStarted();
  policy_.OnSaveFinished(true, t0_ + 260ms);
  EXPECT_TRUE(policy_.CanUnload());
  EXPECT_FALSE(policy_.NextWakeup().has_value());
}

TEST_F(SavePolicyTest, RejoinInsideDebounceCancelsIt) {
  policy_.OnConnectionsChanged(1, t0_);
  policy_.OnChange(t0_ + 10ms);
  policy_.OnConnectionsChanged(0, t0_ + 100ms);
  policy_.OnConnectionsChanged(1, t0_ + 200ms);
  EXPECT_FALSE(policy_.ShouldSave(t0_ + 260ms));  // the debounce save is gone
  EXPECT_EQ(policy_.NextWakeup(), t0_ + 500ms);   // periodic saving resumed
  EXPECT_TRUE(policy_.ShouldSave(t0_ + 500ms));
}

TEST_F(SavePolicyTest, FailuresBackOffWithJitterAndRecover) {
  policy_.OnConnectionsChanged(1, t0_);
  policy_.OnChange(t0_);
  ASSERT_TRUE(policy_.ShouldSave(t0_ + 300ms));
  TP now = t0_ + 300ms;
  std::chrono::milliseconds last_wait{0};
  for (int attempt = 1; attempt <= 5; ++attempt) {
    policy_.OnSaveStarted();
    policy_.OnSaveFinished(false, now);
    ASSERT_TRUE(policy_.retry_at());
    auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(*policy_.retry_at() - now);
    const auto base = std::min<int64_t>(1000, 100 << (attempt - 1));
    EXPECT_GE(wait.count(), base / 2);
    EXPECT_LE(wait.count(), base);
    EXPECT_FALSE(policy_.ShouldSave(now + wait - 1ms));
    now += wait;
    ASSERT_TRUE(policy_.ShouldSave(now));
    last_wait = wait;
  }
  EXPECT_EQ(policy_.failed_attempts(), 5);
  policy_.OnSaveStarted();
  policy_.OnSaveFinished(true, now);
  EXPECT_EQ(policy_.failed_attempts(), 0);
  EXPECT_FALSE(policy_.dirty());
}

TEST_F(SavePolicyTest, ChangeWithoutConnectionsIsSavedAfterDebounce) {
  policy_.MarkUnsaved(t0_);  // e.g. unsaved changes found after a restart
  EXPECT_EQ(policy_.NextWakeup(), t0_ + 150ms);
  EXPECT_TRUE(policy_.ShouldSave(t0_ + 150ms));
}

}  // namespace
}  // namespace tandem::snapshot

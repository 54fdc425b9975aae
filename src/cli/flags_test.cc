#include "cli/flags.h"

#include <gtest/gtest.h>

namespace tandem::cli {
namespace {

TEST(FlagsTest, ParsesDurations) {
  EXPECT_EQ(*ParseDuration("300ms"), std::chrono::milliseconds(300));
  EXPECT_EQ(*ParseDuration("30s"), std::chrono::milliseconds(30'000));
  EXPECT_EQ(*ParseDuration("5m"), std::chrono::milliseconds(300'000));
  EXPECT_EQ(*ParseDuration("7"), std::chrono::milliseconds(7'000));
  EXPECT_FALSE(ParseDuration("").ok());
  EXPECT_FALSE(ParseDuration("fast").ok());
  EXPECT_FALSE(ParseDuration("3 days").ok());
}

TEST(FlagsTest, ParsesSizes) {
  EXPECT_EQ(*ParseByteSize("65536"), 65536u);
  EXPECT_EQ(*ParseByteSize("64KiB"), 65536u);
  EXPECT_EQ(*ParseByteSize("16MiB"), 16u << 20);
  EXPECT_FALSE(ParseByteSize("lots").ok());
  EXPECT_FALSE(ParseByteSize("3PB").ok());
}

}  // namespace
}  // namespace tandem::cli

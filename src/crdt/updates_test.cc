#include "crdt/updates.h"

#include <gtest/gtest.h>

#include "crdt/doc.h"

namespace tandem::crdt {
namespace {

using Bytes = std::vector<uint8_t>;

const Bytes kTextAndMapV1 = {0x01, 0x02, 0x01, 0x00, 0x04, 0x01, 0x01, 0x74, 0x02, 0x61, 0x62,
                             0x28, 0x01, 0x01, 0x6d, 0x01, 0x6b, 0x01, 0x7d, 0x01, 0x00};

TEST(UpdatesTest, ConvertV1ToV2AndBack) {
  auto v2 = ConvertUpdateFormat(kTextAndMapV1, UpdateFormat::kV1, UpdateFormat::kV2);
  ASSERT_TRUE(v2.ok());
  auto v1 = ConvertUpdateFormat(*v2, UpdateFormat::kV2, UpdateFormat::kV1);
  ASSERT_TRUE(v1.ok());
  EXPECT_EQ(*v1, kTextAndMapV1);
}

TEST(UpdatesTest, StateVectorFromUpdate) {
  auto sv = EncodeStateVectorFromUpdate(kTextAndMapV1);
  ASSERT_TRUE(sv.ok());
  EXPECT_EQ(*sv, (Bytes{1, 1, 3}));
}

TEST(UpdatesTest, MergeKeepsGapsAsSkips) {
  Doc doc;
  ASSERT_TRUE(doc.ApplyUpdate(kTextAndMapV1).ok());
  // the map entry alone (clock 2) and the text alone (clock 0..1)
  Bytes tail = DiffUpdate(kTextAndMapV1, StateVector{{1, 2}}).value();
  auto merged = MergeUpdates({tail, kTextAndMapV1});
  ASSERT_TRUE(merged.ok());
  EXPECT_EQ(*merged, kTextAndMapV1);
  // A diff that starts at clock 2 has no SV entry for client 1 (it does not start at 0).
  EXPECT_EQ(EncodeStateVectorFromUpdate(tail).value(), (Bytes{0}));
}

TEST(UpdatesTest, DiffCopiesWholeDeleteSet) {
  const Bytes with_delete = {0x00, 0x01, 0x01, 0x01, 0x00, 0x01};
  auto merged = MergeUpdates({kTextAndMapV1, with_delete});
  ASSERT_TRUE(merged.ok());
  auto diff = DiffUpdate(*merged, StateVector{{1, 3}});
  ASSERT_TRUE(diff.ok());
  EXPECT_EQ(*diff, with_delete);
}

TEST(UpdatesTest, RejectsMalformed) {
  Bytes truncated(kTextAndMapV1.begin(), kTextAndMapV1.end() - 3);
  EXPECT_FALSE(MergeUpdates({truncated, kTextAndMapV1}).ok());
  EXPECT_FALSE(DiffUpdate(truncated, {}).ok());
  EXPECT_FALSE(EncodeStateVectorFromUpdate(truncated).ok());
  EXPECT_FALSE(ConvertUpdateFormat(truncated, UpdateFormat::kV1, UpdateFormat::kV2).ok());
}

}  // namespace
}  // namespace tandem::crdt

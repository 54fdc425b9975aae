// The engine against hostile updates (docs/ERRORS.md, "Hostile input"): nothing may overflow the
// stack or cost time out of proportion to the input, and the limits refuse without changing
// anything.

#include <gtest/gtest.h>

#include "crdt/doc.h"
#include "crdt/hostile_updates.h"
#include "crdt/read_api.h"
#include "crdt/types/shared_types.h"
#include "lib0/json.h"

namespace tandem::crdt {
namespace {

DocOptions Relay() {
  return DocOptions{.gc = true, .client_id = 1, .clean_up_formatting = false};
}

TEST(HostileInputTest, DeepNestingIsAppliedDeletedAndCollectedWithoutRecursion) {
  // 100,000 levels: a recursive delete or GC would overflow the stack (ASan: 8 MB).
  constexpr size_t kLevels = 100'000;
  Doc doc(Relay());
  ASSERT_TRUE(doc.ApplyUpdate(NestedArraysUpdate(7, kLevels)).ok());
  EXPECT_EQ(doc.GetStateVector().at(7), kLevels);
  auto json = DocToJsonChecked(doc);
  ASSERT_FALSE(json.ok());
  EXPECT_EQ(json.status().code(), StatusCode::kResourceExhausted);
  ASSERT_TRUE(doc.ApplyUpdate(DeleteRangeUpdate(7, 0, 1)).ok());
  // Everything inside the deleted outer array is collected.
  EXPECT_EQ(lib0::ToJson(DocToJson(doc)), R"({"a":[]})");
  Doc copy(Relay());
  ASSERT_TRUE(copy.ApplyUpdate(doc.EncodeStateAsUpdate()).ok());
  EXPECT_EQ(copy.EncodeStateAsUpdate(), doc.EncodeStateAsUpdate());
}

TEST(HostileInputTest, DeepDeleteWithoutGcKeepsEveryLevelDeleted) {
  constexpr size_t kLevels = 50'000;
  Doc doc(DocOptions{.gc = false, .client_id = 1, .clean_up_formatting = false});
  ASSERT_TRUE(doc.ApplyUpdate(NestedArraysUpdate(7, kLevels)).ok());
  ASSERT_TRUE(doc.ApplyUpdate(DeleteRangeUpdate(7, 0, 1)).ok());
  EXPECT_EQ(lib0::ToJson(DocToJson(doc)), R"({"a":[]})");
  // Every level was deleted (a delete recursing into its children): the delete set covers all.
  Doc copy(DocOptions{.gc = false, .client_id = 2, .clean_up_formatting = false});
  ASSERT_TRUE(copy.ApplyUpdate(doc.EncodeStateAsUpdate()).ok());
  EXPECT_EQ(copy.EncodeStateAsUpdate(), doc.EncodeStateAsUpdate());
}

TEST(HostileInputTest, NestingDepthLimitRefusesAndChangesNothing) {
  Doc doc(Relay());
  UpdateLimits limits{.max_nesting_depth = 256};
  ASSERT_TRUE(doc.ApplyUpdate(NestedArraysUpdate(7, 256), UpdateFormat::kV1, limits).ok());
  const Bytes before = doc.EncodeStateAsUpdate();
  // One level more, in a second update that continues the chain.
  Doc deeper(Relay());
  Status s = deeper.ApplyUpdate(NestedArraysUpdate(7, 257), UpdateFormat::kV1, limits);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kResourceExhausted);
  EXPECT_NE(s.message().find("limit:"), std::string::npos) << s.message();
  EXPECT_EQ(deeper.EncodeStateAsUpdate(), (Bytes{0, 0}));
  // An item nested under the existing 256th level is refused too; the document stays as it was.
  const Bytes full = NestedArraysUpdate(7, 260);
  Doc source(Relay());
  ASSERT_TRUE(source.ApplyUpdate(full).ok());
  crdt::StateVector sv{{7, 256}};
  s = doc.ApplyUpdate(source.EncodeStateAsUpdate(sv), UpdateFormat::kV1, limits);
  EXPECT_EQ(s.code(), StatusCode::kResourceExhausted) << s.message();
  EXPECT_EQ(doc.EncodeStateAsUpdate(), before);
}

TEST(HostileInputTest, DeepNestingThroughOriginsIsCounted) {
  // Arrays inserted after one another share a parent: their level comes from their origin.
  Doc doc(DocOptions{.gc = true, .client_id = 5, .clean_up_formatting = false});
  auto outer = doc.GetArray("a");
  ASSERT_TRUE(outer.Insert(0, {Value::Array({}), Value::Array({})}).ok());
  Doc relay(Relay());
  UpdateLimits limits{.max_nesting_depth = 1};
  EXPECT_TRUE(relay.ApplyUpdate(doc.EncodeStateAsUpdate(), UpdateFormat::kV1, limits).ok());
}

TEST(HostileInputTest, ManyClientsDecodeInLinearTime) {
  // 200,000 one-struct clients: a quadratic decode took minutes; linear is well under a second
  // (more under ASan; the ctest timeout is the bound).
  constexpr size_t kClients = 200'000;
  Doc doc(Relay());
  ASSERT_TRUE(doc.ApplyUpdate(ManyClientsUpdate(kClients)).ok());
  EXPECT_EQ(doc.GetStateVector().size(), kClients);
  EXPECT_EQ(doc.GetText("t").length(), kClients);
}

TEST(HostileInputTest, ClientLimitRefusesBeforeDecoding) {
  Doc doc(Relay());
  Status s = doc.ApplyUpdate(ManyClientsUpdate(1001), UpdateFormat::kV1,
                             UpdateLimits{.max_clients = 1000});
  EXPECT_EQ(s.code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(doc.EncodeStateAsUpdate(), (Bytes{0, 0}));
  EXPECT_TRUE(
      doc.ApplyUpdate(ManyClientsUpdate(1000), UpdateFormat::kV1, UpdateLimits{.max_clients = 1000})
          .ok());
}

TEST(HostileInputTest, PendingLimitDropsWhatWouldWaitPastIt) {
  Doc doc(Relay());
  UpdateLimits limits{.max_pending_bytes = 16 * 1024};
  size_t accepted = 0;
  uint64_t additions = doc.pending_additions();
  for (Clock c = 0; c < 100; ++c) {
    // Structs of client 9 from clock 1,000,000 on, 1 KB each: they wait for clock 999,999.
    Status s = doc.ApplyUpdate(GappedTextUpdate(9, 1'000'000 + c * 1000, 1, 1000),
                               UpdateFormat::kV1, limits);
    if (!s.ok()) {
      EXPECT_EQ(s.code(), StatusCode::kResourceExhausted);
      break;
    }
    EXPECT_GT(doc.pending_additions(), additions);
    additions = doc.pending_additions();
    ++accepted;
  }
  EXPECT_GT(accepted, 5u);
  EXPECT_LT(accepted, 100u);
  EXPECT_LE(doc.pending_bytes(), 16u * 1024);
  // An update that leaves nothing waiting does not count as a pending addition.
  ASSERT_TRUE(doc.ApplyUpdate(ManyClientsUpdate(1)).ok());
  EXPECT_EQ(doc.pending_additions(), additions + 0);
}

TEST(HostileInputTest, ManyChangedTypesInOneTransaction) {
  // 20,000 nested maps, each given a key in one update: bookkeeping per changed type must not
  // scan the others (it was quadratic).
  Doc author(DocOptions{.gc = true, .client_id = 3, .clean_up_formatting = false});
  auto root = author.GetArray("a");
  std::vector<Value> maps;
  for (int i = 0; i < 20'000; ++i) maps.push_back(Value::Map({}));
  ASSERT_TRUE(root.Insert(0, maps).ok());
  Doc relay(Relay());
  ASSERT_TRUE(relay.ApplyUpdate(author.EncodeStateAsUpdate()).ok());
  const StateVector before = author.GetStateVector();
  author.Transact([&](Transaction&) {
    for (size_t i = 0; i < 20'000; ++i) {
      ASSERT_TRUE(MapRef(root.Nested(*root.Get(i))).Set("k", Value(1.0)).ok());
    }
  });
  ASSERT_TRUE(relay.ApplyUpdate(author.EncodeStateAsUpdate(before)).ok());
  EXPECT_EQ(relay.EncodeStateAsUpdate(), author.EncodeStateAsUpdate());
}

TEST(HostileInputTest, ManyKeysOfOneMapInOneTransaction) {
  // 60,000 keys set in one transaction: the changed keys of a type are a set, not a list scan.
  Doc author(DocOptions{.gc = true, .client_id = 3, .clean_up_formatting = false});
  auto m = author.GetMap("m");
  author.Transact([&](Transaction&) {
    for (int i = 0; i < 60'000; ++i) {
      std::string key = "k";  // (g++ 12 -O3 warns falsely about "k" + std::to_string(i))
      key += std::to_string(i);
      ASSERT_TRUE(m.Set(key, Value::Map({})).ok());
    }
  });
  Doc relay(Relay());
  ASSERT_TRUE(relay
                  .ApplyUpdate(author.EncodeStateAsUpdate(), UpdateFormat::kV1,
                               UpdateLimits{.max_nesting_depth = 256})
                  .ok());
  EXPECT_EQ(relay.EncodeStateAsUpdate(), author.EncodeStateAsUpdate());
}

}  // namespace
}  // namespace tandem::crdt

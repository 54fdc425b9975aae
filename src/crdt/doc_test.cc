#include "crdt/doc.h"

#include <gtest/gtest.h>

#include "crdt/doc_internal.h"
#include "crdt/read_api.h"
#include "crdt/types/shared_types.h"
#include "crdt/updates.h"
#include "lib0/json.h"

namespace tandem::crdt {
namespace {

using Bytes = std::vector<uint8_t>;

// yjs 13.6.33: clientID = 1; getText('t').insert(0, 'ab'); getMap('m').set('k', 1)
const Bytes kTextAndMapV1 = {0x01, 0x02, 0x01, 0x00, 0x04, 0x01, 0x01, 0x74, 0x02, 0x61, 0x62,
                             0x28, 0x01, 0x01, 0x6d, 0x01, 0x6b, 0x01, 0x7d, 0x01, 0x00};
const Bytes kTextAndMapV2 = {0x00, 0x00, 0x01, 0x01, 0x00, 0x00, 0x03, 0x04, 0x00, 0x28, 0x0a,
                             0x05, 0x74, 0x61, 0x62, 0x6d, 0x6b, 0x01, 0x02, 0x41, 0x00, 0x01,
                             0x01, 0x00, 0x01, 0x01, 0x01, 0x02, 0x00, 0x7d, 0x01, 0x00};

std::string Json(const Doc& doc) {
  return lib0::ToJson(DocToJson(doc));
}

TEST(DocTest, EmptyDocEncodings) {
  Doc doc(DocOptions{.gc = true, .client_id = 1});
  EXPECT_EQ(doc.EncodeStateAsUpdate(), (Bytes{0, 0}));
  EXPECT_EQ(doc.EncodeStateAsUpdateV2(), (Bytes{0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(doc.EncodeStateVector(), (Bytes{0}));
}

TEST(DocTest, AppliesAndReencodesYjsBytesV1AndV2) {
  Doc doc(DocOptions{.gc = true, .client_id = 99});
  ASSERT_TRUE(doc.ApplyUpdate(kTextAndMapV1).ok());
  EXPECT_EQ(Json(doc), R"({"t":"ab","m":{"k":1}})");
  EXPECT_EQ(doc.EncodeStateAsUpdate(), kTextAndMapV1);
  EXPECT_EQ(doc.EncodeStateAsUpdateV2(), kTextAndMapV2);
  EXPECT_EQ(doc.EncodeStateVector(), (Bytes{1, 1, 3}));

  Doc doc2;
  ASSERT_TRUE(doc2.ApplyUpdateV2(kTextAndMapV2).ok());
  EXPECT_EQ(doc2.EncodeStateAsUpdate(), kTextAndMapV1);
}

TEST(DocTest, DiffAgainstStateVectorWritesOffsetStruct) {
  Doc doc;
  ASSERT_TRUE(doc.ApplyUpdate(kTextAndMapV1).ok());
  // A peer that has "a" (client 1, clock 1) needs "b" and the map entry.
  Bytes diff = doc.EncodeStateAsUpdate(StateVector{{1, 1}});
  Doc peer;
  ASSERT_TRUE(peer.ApplyUpdate(doc.EncodeStateAsUpdate(StateVector{{1, 3}})).ok());
  EXPECT_EQ(Json(peer), "{}");
  Doc full;
  ASSERT_TRUE(full.ApplyUpdate(kTextAndMapV1).ok());
  EXPECT_EQ(diff[0], 1);  // one client
  auto diff_bytes = DiffUpdate(kTextAndMapV1, StateVector{{1, 1}});
  ASSERT_TRUE(diff_bytes.ok());
  EXPECT_EQ(*diff_bytes, diff);
}

TEST(DocTest, OutOfOrderUpdatesWaitAsPending) {
  Doc source;
  ASSERT_TRUE(source.ApplyUpdate(kTextAndMapV1).ok());
  Bytes first = source.EncodeStateAsUpdate(StateVector{});
  Bytes second_half = source.EncodeStateAsUpdate(StateVector{{1, 1}});
  Bytes first_half = DiffUpdate(first, StateVector{}).value();
  // Build "a" alone: a doc holding clock 0 only.
  Doc only_a;
  ASSERT_TRUE(only_a.ApplyUpdate(second_half).ok());
  EXPECT_TRUE(only_a.has_pending());
  EXPECT_EQ(Json(only_a), "{}");
  EXPECT_EQ(only_a.PendingMissing().at(1), 0u);
  // The pending structs are carried in its full state.
  Doc relay;
  ASSERT_TRUE(relay.ApplyUpdate(only_a.EncodeStateAsUpdate()).ok());
  ASSERT_TRUE(relay.ApplyUpdate(first_half).ok());
  EXPECT_FALSE(relay.has_pending());
  // Root "m" was first seen in the pending part, as in yjs (doc.get runs at decode time).
  EXPECT_EQ(Json(relay), R"({"m":{"k":1},"t":"ab"})");
}

TEST(DocTest, MalformedUpdateIsRejectedAndChangesNothing) {
  Doc doc;
  ASSERT_TRUE(doc.ApplyUpdate(kTextAndMapV1).ok());
  const Bytes before = doc.EncodeStateAsUpdate();
  for (size_t cut = 1; cut < kTextAndMapV1.size(); ++cut) {
    Bytes truncated(kTextAndMapV1.begin(), kTextAndMapV1.begin() + static_cast<ptrdiff_t>(cut));
    Doc fresh;
    Status s = fresh.ApplyUpdate(truncated);
    EXPECT_FALSE(s.ok()) << "cut at " << cut;
    EXPECT_EQ(fresh.EncodeStateAsUpdate(), (Bytes{0, 0}));
    EXPECT_FALSE(doc.ApplyUpdate(truncated).ok());
    EXPECT_EQ(doc.EncodeStateAsUpdate(), before);
  }
  Bytes bad_ref = kTextAndMapV1;
  bad_ref[4] = 0x0b;  // content ref 11 does not exist
  EXPECT_FALSE(doc.ApplyUpdate(bad_ref).ok());
  EXPECT_EQ(doc.EncodeStateAsUpdate(), before);
}

void PutVarUint(Bytes& out, uint64_t v) {
  while (v > 0x7f) {
    out.push_back(static_cast<uint8_t>(0x80 | (v & 0x7f)));
    v >>= 7;
  }
  out.push_back(static_cast<uint8_t>(v));
}

// One GC struct of client 7 at `clock`, `length` long, as a v1 update.
Bytes GcStructAt(uint64_t clock, uint64_t length) {
  Bytes u = {1, 1, 7};
  PutVarUint(u, clock);
  u.push_back(0);  // info: GC
  PutVarUint(u, length);
  u.push_back(0);  // empty delete set
  return u;
}

TEST(DocTest, ClocksPast32BitsAreRefusedAndChangeNothing) {
  Doc doc;
  ASSERT_TRUE(doc.ApplyUpdate(kTextAndMapV1).ok());
  const Bytes before = doc.EncodeStateAsUpdate();
  // Ends exactly at 2^32: accepted (it waits as pending, clocks 0.. are missing).
  Doc pending;
  EXPECT_TRUE(pending.ApplyUpdate(GcStructAt(0xfffffffe, 2)).ok());
  Doc other;
  Status s = other.ApplyUpdate(GcStructAt(0xffffffff, 2));
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("2^32"), std::string::npos) << s.message();
  EXPECT_EQ(other.EncodeStateAsUpdate(), (Bytes{0, 0}));
  // An origin past 2^32 - 1 is refused too: client 7 inserts "a" after (1, 2^32).
  Bytes origin_past = {1, 1, 7, 0, 0x84, 1};
  PutVarUint(origin_past, uint64_t{1} << 32);
  origin_past.insert(origin_past.end(), {1, 'a', 0});
  s = doc.ApplyUpdate(origin_past);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("2^32"), std::string::npos) << s.message();
  EXPECT_EQ(doc.EncodeStateAsUpdate(), before);
}

TEST(DocTest, DeleteSetRemovesText) {
  Doc doc(DocOptions{.gc = true, .client_id = 5});
  ASSERT_TRUE(doc.ApplyUpdate(kTextAndMapV1).ok());
  // delete set: client 1, clock 0, len 1 -> deletes "a"
  Bytes del = {0x00, 0x01, 0x01, 0x01, 0x00, 0x01};
  ASSERT_TRUE(doc.ApplyUpdate(del).ok());
  EXPECT_EQ(Json(doc), R"({"t":"b","m":{"k":1}})");
  // gc turned "a" into a Deleted item of length 1; the state keeps clocks 0..2
  EXPECT_EQ(doc.EncodeStateVector(), (Bytes{1, 1, 3}));
  Doc copy;
  ASSERT_TRUE(copy.ApplyUpdate(doc.EncodeStateAsUpdate()).ok());
  EXPECT_EQ(Json(copy), R"({"t":"b","m":{"k":1}})");
}

TEST(DocTest, UpdateObserverSeesTransactionUpdate) {
  Doc doc;
  std::vector<Bytes> seen;
  doc.OnUpdate([&](const Bytes& u, const Transaction&) { seen.push_back(u); });
  ASSERT_TRUE(doc.ApplyUpdate(kTextAndMapV1).ok());
  ASSERT_TRUE(doc.ApplyUpdate(kTextAndMapV1).ok());  // nothing new: no event
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0], kTextAndMapV1);
}

// Found by update_fuzzer: a client's structs went pending twice in one update (pushed on the
// integration stack, then superseded by a later struct of the same client). yjs drops the
// earlier one; the engine must free it rather than leak it.
TEST(DocTest, StructsDroppedFromPendingAreFreed) {
  const Bytes update = {
      0x05, 0x05, 0x00, 0x00, 0x01, 0x2c, 0x7e, 0x01, 0x01, 0x21, 0x01, 0x01, 0x01, 0x01,
      0x01, 0x01, 0x00, 0x11, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x03, 0x41,
      0x01, 0x9d, 0x9d, 0x9d, 0x9d, 0x9d, 0x9d, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0xff,
      0x00, 0x07, 0xfe, 0x00, 0x00, 0x63, 0x00, 0x21, 0x21, 0x21, 0x21, 0x21, 0x21, 0x21,
      0x01, 0x01, 0x01, 0x01, 0x03, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01,
      0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x4a, 0x4a, 0x01, 0x01, 0x01,
      0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x03, 0x01, 0x01, 0x01, 0x01, 0x01,
      0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x04, 0x01, 0x21, 0x01, 0x01, 0x01, 0x01,
      0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x03,
      0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x00, 0x00, 0x00, 0x60, 0x00,
      0x00, 0x00, 0x00, 0x00, 0x00, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0xff, 0x20, 0x20,
      0x20, 0x04, 0x00, 0x00, 0x36, 0x2e, 0x20, 0x20, 0xff, 0xff, 0xff, 0xff,
  };
  Doc doc(DocOptions{.gc = true, .client_id = 7});
  ASSERT_TRUE(doc.ApplyUpdate(kTextAndMapV1).ok());
  (void)doc.ApplyUpdate(update);
  size_t in_store = 0;
  for (const auto& [client, structs] : DocInternals::store(doc).clients())
    in_store += structs.size();
  EXPECT_EQ(DocInternals::store(doc).pool().live(), in_store);
}

// Items keep a string's UTF-16 length in 16 bits below 65,535 units and in the string's heap
// block from there on; a long paste edited in the middle round-trips through an update.
TEST(DocTest, ALongPasteEditedInTheMiddleRoundTrips) {
  Doc doc(DocOptions{.gc = true, .client_id = 3});
  TextRef text = doc.GetText("t");
  std::string paste;
  uint64_t units = 0;
  for (int i = 0; i < 40000; ++i) {
    paste += i % 7 == 0 ? "\xc3\xa9" : "ab";  // bytes and UTF-16 units differ
    units += i % 7 == 0 ? 1 : 2;
  }
  ASSERT_GT(units, 70000u);
  ASSERT_TRUE(text.Insert(0, paste).ok());
  EXPECT_EQ(text.length(), units);
  ASSERT_TRUE(text.Delete(65530, 10).ok());
  ASSERT_TRUE(text.Insert(100, "X").ok());
  EXPECT_EQ(text.length(), units - 9);
  Doc copy(DocOptions{.gc = true, .client_id = 4});
  ASSERT_TRUE(copy.ApplyUpdate(doc.EncodeStateAsUpdate()).ok());
  EXPECT_EQ(copy.GetText("t").ToString(), text.ToString());
  EXPECT_EQ(copy.EncodeStateAsUpdate(), doc.EncodeStateAsUpdate());
}

// A map's keys are ordered by first integration, as in a JS Map. Entries of a nested map that
// arrive before the map wait as pending, and join its keys when they integrate. The expected
// strings are what yjs 13.6 gives for the same updates applied in the same orders (checked with
// the yjs npm package).
TEST(DocTest, MapKeysFollowIntegrationOrderWhenEntriesArriveBeforeTheirMap) {
  Doc origin(DocOptions{.gc = true, .client_id = 1});
  MapRef root = origin.GetMap("m");
  ASSERT_TRUE(root.Set("nested", Value::Map()).ok());
  ASSERT_TRUE(root.Set("r", 0).ok());
  const Bytes base = origin.EncodeStateAsUpdate();
  auto edit = [&](ClientId client, const char* key, const char* value, const char* root_key) {
    Doc d(DocOptions{.gc = true, .client_id = client});
    EXPECT_TRUE(d.ApplyUpdate(base).ok());
    const StateVector sv = d.GetStateVector();
    MapRef m = d.GetMap("m");
    MapRef nested(m.Nested(*m.Get("nested")));
    EXPECT_TRUE(nested.Set(key, value).ok());
    EXPECT_TRUE(m.Set(root_key, static_cast<int>(client)).ok());
    return d.EncodeStateAsUpdate(sv);
  };
  const Bytes e2 = edit(2, "k2", "two", "x2");
  const Bytes e3 = edit(3, "k3", "three", "x3");
  const Bytes e4 = edit(4, "k4", "four", "x4");
  const struct {
    std::vector<const Bytes*> order;
    const char* json;
  } cases[] = {
      {{&e3, &e2, &base, &e4},
       R"({"nested":{"k3":"three","k2":"two","k4":"four"},"r":0,"x3":3,"x2":2,"x4":4})"},
      {{&e4, &e2, &e3, &base},
       R"({"nested":{"k4":"four","k3":"three","k2":"two"},"r":0,"x4":4,"x3":3,"x2":2})"},
      {{&base, &e3, &e2, &e4},
       R"({"nested":{"k3":"three","k2":"two","k4":"four"},"r":0,"x3":3,"x2":2,"x4":4})"},
  };
  for (const auto& c : cases) {
    Doc d(DocOptions{.gc = true, .client_id = 9});
    for (const Bytes* u : c.order) ASSERT_TRUE(d.ApplyUpdate(*u).ok());
    EXPECT_FALSE(d.has_pending());
    EXPECT_EQ(lib0::ToJson(TypeToJson(*d.GetMap("m").type())), c.json);
    // Loaded from one full state, entries integrate client by client, highest first (yjs too).
    Doc copy(DocOptions{.gc = true, .client_id = 10});
    ASSERT_TRUE(copy.ApplyUpdate(d.EncodeStateAsUpdate()).ok());
    EXPECT_EQ(lib0::ToJson(TypeToJson(*copy.GetMap("m").type())),
              R"({"nested":{"k4":"four","k3":"three","k2":"two"},"x4":4,"x3":3,"x2":2,"r":0})");
  }
}

}  // namespace
}  // namespace tandem::crdt

// Unit tests of the editing API. Byte compatibility with yjs is shown by interop.editing (real
// yjs runs the same random scripts); these pin down behaviour that needs no oracle: positions
// against a plain model over thousands of edits (search markers must never change a result),
// refusals that change nothing, handles on deleted types, events, positions and snapshots.

#include "crdt/types/shared_types.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "crdt/transaction.h"
#include "lib0/json.h"

namespace tandem::crdt {
namespace {

using Bytes = std::vector<uint8_t>;

std::string Json(const lib0::Any& v) {
  return lib0::ToJson(v);
}

lib0::Any::Object Attrs(std::initializer_list<std::pair<std::string, lib0::Any>> kv) {
  lib0::Any::Object o;
  for (const auto& [k, v] : kv) lib0::JsObjectSet(o, k, v);
  return o;
}

TEST(TextTest, InsertDeleteFormatAndDelta) {
  Doc doc(DocOptions{.gc = true, .client_id = 1});
  TextRef text = doc.GetText("t");
  ASSERT_TRUE(text.Insert(0, "Hello world").ok());
  const auto bold = Attrs({{"bold", lib0::Any(true)}});
  ASSERT_TRUE(text.Format(6, 5, bold).ok());
  ASSERT_TRUE(text.Insert(11, "!").ok());  // continues the bold run
  ASSERT_TRUE(text.Delete(0, 1).ok());
  ASSERT_TRUE(text.Insert(0, "h").ok());
  EXPECT_EQ(text.ToString(), "hello world!");
  EXPECT_EQ(text.length(), 12u);
  EXPECT_EQ(Json(text.ToDeltaAny()),
            R"([{"insert":"hello "},{"insert":"world!","attributes":{"bold":true}}])");
  // Removing the format merges the runs back.
  ASSERT_TRUE(text.Format(0, 12, Attrs({{"bold", lib0::Any(nullptr)}})).ok());
  EXPECT_EQ(Json(text.ToDeltaAny()), R"([{"insert":"hello world!"}])");
}

TEST(TextTest, Utf16IndicesAndSurrogatePairs) {
  Doc doc(DocOptions{.gc = true, .client_id = 1});
  TextRef text = doc.GetText("t");
  ASSERT_TRUE(text.Insert(0,
                          "a\xF0\x9F\x98\x80"
                          "b")
                  .ok());  // a😀b: 4 UTF-16 units
  EXPECT_EQ(text.length(), 4u);
  ASSERT_TRUE(text.Insert(3, "c").ok());  // after the emoji
  EXPECT_EQ(text.ToString(),
            "a\xF0\x9F\x98\x80"
            "cb");
  ASSERT_TRUE(text.Delete(1, 2).ok());  // the whole pair
  EXPECT_EQ(text.ToString(), "acb");
}

TEST(TextTest, RefusalsChangeNothing) {
  Doc doc(DocOptions{.gc = true, .client_id = 1});
  int updates = 0;
  doc.OnUpdate([&](const Bytes&, const Transaction&) { ++updates; });
  TextRef text = doc.GetText("t");
  ASSERT_TRUE(text.Insert(0, "abc").ok());
  const Bytes before = doc.EncodeStateAsUpdate();
  EXPECT_EQ(text.Insert(4, "x").code(), StatusCode::kOutOfRange);
  EXPECT_EQ(text.Delete(5, 1).code(), StatusCode::kOutOfRange);
  EXPECT_EQ(text.Format(9, 1, Attrs({{"b", lib0::Any(true)}})).code(), StatusCode::kOutOfRange);
  ArrayRef array = doc.GetArray("a");
  EXPECT_EQ(array.Insert(1, {Value(1)}).code(), StatusCode::kOutOfRange);
  EXPECT_EQ(array.Insert(0, {Value(lib0::Any())}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(array.Delete(0, 1).code(), StatusCode::kOutOfRange);
  EXPECT_EQ(doc.EncodeStateAsUpdate(), before);
  EXPECT_EQ(updates, 1);
  // As in yjs, a text delete past the end stops at the end.
  ASSERT_TRUE(text.Delete(1, 100).ok());
  EXPECT_EQ(text.ToString(), "a");
}

// Thousands of random edits, each checked against a plain model: the search markers that
// shorten position lookups must never change where an edit lands.
TEST(TextTest, RandomEditsMatchAModel) {
  for (uint32_t seed : {1u, 2u, 3u}) {
    Doc doc(DocOptions{.gc = seed != 2, .client_id = seed});
    TextRef text = doc.GetText("t");
    std::u16string model;
    std::mt19937 rng(seed);
    for (int i = 0; i < 6000; ++i) {
      const uint64_t len = model.size();
      // Mostly local edits near the last position, sometimes a jump: the B4 shape.
      static uint64_t cursor = 0;
      cursor = (rng() % 10 == 0 || cursor > len) ? (len == 0 ? 0 : rng() % (len + 1)) : cursor;
      const int op = static_cast<int>(rng() % 10);
      if (op < 6 || len == 0) {
        const char c = static_cast<char>('a' + rng() % 26);
        ASSERT_TRUE(text.Insert(cursor, std::string(1, c)).ok());
        model.insert(model.begin() + static_cast<ptrdiff_t>(cursor), static_cast<char16_t>(c));
        ++cursor;
      } else if (op < 9) {
        const uint64_t at = cursor == 0 ? 0 : cursor - 1;
        const uint64_t n = std::min<uint64_t>(1 + rng() % 3, len - std::min(at, len));
        if (at >= len) continue;
        ASSERT_TRUE(text.Delete(at, n).ok());
        model.erase(at, n);
        cursor = at;
      } else {
        // A transaction with several edits, and a read of a random index on the way.
        doc.Transact([&](Transaction&) {
          for (int k = 0; k < 5; ++k) {
            const uint64_t at = rng() % (model.size() + 1);
            ASSERT_TRUE(text.Insert(at, "xy").ok());
            model.insert(at, u"xy");
          }
        });
      }
      ASSERT_EQ(text.length(), model.size());
    }
    std::string expected(model.begin(), model.end());
    EXPECT_EQ(text.ToString(), expected);
    // A peer that loads the state sees the same text.
    Doc peer;
    ASSERT_TRUE(peer.ApplyUpdate(doc.EncodeStateAsUpdate()).ok());
    EXPECT_EQ(peer.GetText("t").ToString(), expected);
  }
}

TEST(ArrayTest, RandomEditsMatchAModel) {
  Doc doc(DocOptions{.gc = true, .client_id = 7});
  ArrayRef array = doc.GetArray("a");
  std::vector<double> model;
  std::mt19937 rng(42);
  for (int i = 0; i < 5000; ++i) {
    const uint64_t len = model.size();
    const uint64_t at = len == 0 ? 0 : rng() % (len + 1);
    if (rng() % 3 != 0 || len == 0) {
      const double v = static_cast<double>(i);
      ASSERT_TRUE(array.Insert(at, {Value(v), Value(v + 0.5)}).ok());
      model.insert(model.begin() + static_cast<ptrdiff_t>(at), {v, v + 0.5});
    } else {
      const uint64_t pos = std::min(at, len - 1);
      const uint64_t n = std::min<uint64_t>(1 + rng() % 4, len - pos);
      ASSERT_TRUE(array.Delete(pos, n).ok());
      model.erase(model.begin() + static_cast<ptrdiff_t>(pos),
                  model.begin() + static_cast<ptrdiff_t>(pos + n));
    }
    if (i % 97 == 0 && !model.empty()) {
      const uint64_t k = rng() % model.size();
      auto v = array.Get(k);
      ASSERT_TRUE(v.has_value());
      ASSERT_EQ(v->any.as_number(), model[k]);
    }
  }
  ASSERT_TRUE(array.Push({Value(-1)}).ok());
  model.push_back(-1);
  const auto values = array.ToArray();
  ASSERT_EQ(values.size(), model.size());
  for (size_t i = 0; i < model.size(); ++i) ASSERT_EQ(values[i].any.as_number(), model[i]);
}

// A remote update applied inside a local transaction moves positions; the next local edit by
// index must still land right (its search markers are dropped).
TEST(ArrayTest, RemoteUpdateInsideLocalTransaction) {
  Doc remote(DocOptions{.gc = true, .client_id = 2});
  Doc local(DocOptions{.gc = true, .client_id = 1});
  ArrayRef a = local.GetArray("a");
  ASSERT_TRUE(a.Insert(0, {Value(1), Value(2), Value(3)}).ok());
  ASSERT_TRUE(remote.ApplyUpdate(local.EncodeStateAsUpdate()).ok());
  (void)a.Get(2);  // leaves a marker
  ASSERT_TRUE(remote.GetArray("a").Insert(0, {Value(0)}).ok());
  const Bytes from_remote = remote.EncodeStateAsUpdate(local.GetStateVector());
  local.Transact([&](Transaction&) {
    ASSERT_TRUE(local.ApplyUpdate(from_remote).ok());
    ASSERT_TRUE(a.Insert(3, {Value(99)}).ok());
  });
  EXPECT_EQ(Json(a.ToJson()), "[0,1,2,99,3]");
}

TEST(TransactionTest, ChangedRootNamesNamesEachRootOnceWhateverTheDepth) {
  Doc doc(DocOptions{.gc = true, .client_id = 3});
  MapRef map = doc.GetMap("m");
  ASSERT_TRUE(map.Set("list", Value::Array({Value::Map({{"k", Value(true)}})})).ok());
  ArrayRef list(map.Nested(*map.Get("list")));
  MapRef inner(list.Nested(*list.Get(0)));
  std::vector<std::vector<std::string>> seen;
  doc.OnUpdate([&](const std::vector<uint8_t>&, const Transaction& t) {
    seen.push_back(ChangedRootNames(t));
  });
  doc.Transact([&](Transaction&) {
    ASSERT_TRUE(doc.GetText("t").Insert(0, "x").ok());
    ASSERT_TRUE(inner.Set("k", Value(false)).ok());
    ASSERT_TRUE(list.Push({Value(1)}).ok());
  });
  ASSERT_TRUE(inner.Set("j", Value(1)).ok());
  EXPECT_EQ(seen, (std::vector<std::vector<std::string>>{{"t", "m"}, {"m"}}));
}

TEST(MapTest, SetGetDeleteNestedAndClear) {
  Doc doc(DocOptions{.gc = true, .client_id = 3});
  MapRef map = doc.GetMap("m");
  ASSERT_TRUE(map.Set("title", Value("x")).ok());
  ASSERT_TRUE(map.Set("title", Value("y")).ok());
  ASSERT_TRUE(map.Set("bytes", Value::Binary({1, 2})).ok());
  ASSERT_TRUE(map.Set("list", Value::Array({Value(1), Value::Map({{"k", Value(true)}})})).ok());
  EXPECT_EQ(map.size(), 3u);
  EXPECT_EQ(map.Get("title")->any.as_string(), "y");
  EXPECT_EQ(map.Get("bytes")->any.kind(), lib0::Any::Kind::kBinary);
  ASSERT_EQ(map.Get("list")->kind, OutValue::Kind::kType);
  ArrayRef list(map.Nested(*map.Get("list")));
  ASSERT_TRUE(list.Push({Value("z")}).ok());
  EXPECT_EQ(Json(map.ToJson()), R"({"title":"y","bytes":{"0":1,"1":2},"list":[1,{"k":true},"z"]})");
  EXPECT_EQ(map.Keys(), (std::vector<std::string>{"title", "bytes", "list"}));
  ASSERT_TRUE(map.Delete("title").ok());
  EXPECT_FALSE(map.Has("title"));
  EXPECT_FALSE(map.Get("missing").has_value());
  ASSERT_TRUE(map.Clear().ok());
  EXPECT_EQ(map.size(), 0u);
  // The nested array was deleted and collected; its handle stays valid and refuses edits.
  EXPECT_TRUE(list.collected());
  EXPECT_EQ(list.length(), 0u);
  EXPECT_EQ(list.Push({Value(1)}).code(), StatusCode::kFailedPrecondition);
}

TEST(XmlTest, ElementsAttributesAndText) {
  Doc doc(DocOptions{.gc = true, .client_id = 4});
  XmlFragmentRef xml = doc.GetXmlFragment("x");
  const Value paragraph = Value::XmlElement("P", {{"class", Value("intro")}},
                                            {Value::XmlText("hi"), Value::XmlElement("br")});
  ASSERT_TRUE(xml.Insert(0, std::vector<Value>{paragraph}).ok());
  XmlElementRef p(xml.FirstChild());
  EXPECT_EQ(p.node_name(), "P");
  ASSERT_TRUE(p.SetAttribute("id", Value("a")).ok());
  XmlTextRef hi(p.FirstChild());
  ASSERT_TRUE(hi.Format(0, 2, Attrs({{"b", lib0::Any(lib0::Any::Object{})}})).ok());
  EXPECT_EQ(xml.ToString(), R"(<p class="intro" id="a"><b>hi</b><br></br></p>)");
  EXPECT_EQ(XmlElementRef(hi.NextSibling()).node_name(), "br");
  ASSERT_TRUE(p.InsertAfter(hi, std::vector<Value>{Value::XmlText("!")}).ok());
  EXPECT_EQ(xml.ToString(), R"(<p class="intro" id="a"><b>hi</b>!<br></br></p>)");
}

TEST(EventsTest, DeltasKeysAndPaths) {
  Doc doc(DocOptions{.gc = true, .client_id = 5});
  TextRef text = doc.GetText("t");
  MapRef map = doc.GetMap("m");
  ASSERT_TRUE(text.Insert(0, "abc").ok());
  ASSERT_TRUE(map.Set("a", Value(1)).ok());
  ASSERT_TRUE(map.Set("inner", Value::Map()).ok());

  std::vector<std::string> seen;
  text.Observe(
      [&](Event& e, Transaction&) { seen.push_back("text " + Json(DeltaToAny(e.delta(), true))); });
  map.ObserveDeep([&](std::vector<Event*>& events, Transaction&) {
    for (Event* e : events) {
      lib0::Any::Array path;
      for (const auto& p : e->path()) path.push_back(lib0::Any(std::get<std::string>(p)));
      seen.push_back("map " + Json(lib0::Any(path)) + " " + Json(KeysToAny(e->keys())));
    }
  });
  int update_events = 0;
  doc.OnUpdate([&](const Bytes&, const Transaction&) { ++update_events; });
  MapRef inner(map.Nested(*map.Get("inner")));
  doc.Transact([&](Transaction&) {
    ASSERT_TRUE(text.Insert(1, "X", nullptr).ok());
    ASSERT_TRUE(text.Delete(3, 1).ok());
    ASSERT_TRUE(map.Set("a", Value(2)).ok());
    ASSERT_TRUE(map.Set("b", Value(3)).ok());
    ASSERT_TRUE(inner.Set("deep", Value(true)).ok());
  });
  EXPECT_EQ(update_events, 1);  // one transaction, one update
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0], R"(text [{"retain":1},{"insert":"X"},{"retain":1},{"delete":1}])");
  EXPECT_EQ(seen[1], R"(map [] {"a":{"action":"update","oldValue":1},"b":{"action":"add"}})");
  EXPECT_EQ(seen[2], R"(map ["inner"] {"deep":{"action":"add"}})");
}

TEST(RelativePositionTest, SurvivesConcurrentEdits) {
  Doc a(DocOptions{.gc = true, .client_id = 1});
  Doc b(DocOptions{.gc = true, .client_id = 2});
  ASSERT_TRUE(a.GetText("t").Insert(0, "hello").ok());
  ASSERT_TRUE(b.ApplyUpdate(a.EncodeStateAsUpdate()).ok());
  // A cursor before "llo" on b; a inserts at the start concurrently.
  const RelativePosition cursor = CreateRelativePositionFromTypeIndex(b.GetText("t").type(), 2);
  const Bytes encoded = EncodeRelativePosition(cursor);
  auto decoded = DecodeRelativePosition(encoded);
  ASSERT_TRUE(decoded.ok());
  // The binary form keeps the item only (the root name is implied by it), as yjs writes it.
  EXPECT_EQ(decoded->item, cursor.item);
  EXPECT_EQ(EncodeRelativePosition(*decoded), encoded);
  ASSERT_TRUE(a.GetText("t").Insert(0, ">> ").ok());
  ASSERT_TRUE(b.ApplyUpdate(a.EncodeStateAsUpdate(b.GetStateVector())).ok());
  auto abs = CreateAbsolutePositionFromRelativePosition(*decoded, b);
  ASSERT_TRUE(abs.has_value());
  EXPECT_EQ(abs->index, 5u);
  EXPECT_EQ(abs->type, b.GetText("t").type());
  auto json = RelativePositionFromJson(RelativePositionToJson(cursor));
  ASSERT_TRUE(json.ok());
  EXPECT_EQ(*json, cursor);
  EXPECT_FALSE(DecodeRelativePosition(Bytes{7}).ok());
}

TEST(SnapshotTest, RestoresAnEarlierState) {
  Doc doc(DocOptions{.gc = false, .client_id = 9});
  TextRef text = doc.GetText("t");
  ASSERT_TRUE(text.Insert(0, "first").ok());
  const Snapshot then = TakeSnapshot(doc);
  ASSERT_TRUE(text.Delete(0, 5).ok());
  ASSERT_TRUE(text.Insert(0, "second").ok());
  for (UpdateFormat f : {UpdateFormat::kV1, UpdateFormat::kV2}) {
    auto decoded = DecodeSnapshot(EncodeSnapshot(then, f), f);
    ASSERT_TRUE(decoded.ok());
    EXPECT_TRUE(EqualSnapshots(*decoded, then));
  }
  EXPECT_FALSE(EqualSnapshots(then, TakeSnapshot(doc)));
  Doc restored;
  ASSERT_TRUE(CreateDocFromSnapshot(doc, then, restored).ok());
  EXPECT_EQ(restored.GetText("t").ToString(), "first");
  EXPECT_EQ(text.ToString(), "second");  // the origin is unchanged
  // History view: what changed between the two snapshots.
  const Snapshot now = TakeSnapshot(doc);
  EXPECT_EQ(Json(text.ToDeltaAny(&now, &then)),
            R"([{"insert":"first","attributes":{"ychange":{"type":"removed"}}},)"
            R"({"insert":"second","attributes":{"ychange":{"type":"added"}}}])");
  Doc collected(DocOptions{.gc = true, .client_id = 1});
  EXPECT_EQ(EncodeStateFromSnapshot(collected, then).status().code(),
            StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace tandem::crdt

// Edit lists without an oracle: all or nothing, addressing, refusals naming the edit. That the
// updates are byte-identical to yjs's for the same edits is shown by tests/api (real yjs).

#include "api/edits.h"

#include <gtest/gtest.h>

#include "crdt/read_api.h"
#include "lib0/json.h"

namespace tandem::api {
namespace {

std::string Json(const crdt::Doc& doc) {
  return lib0::ToJson(crdt::DocToJson(doc));
}

EditResult EditAndApply(crdt::Doc& doc, std::string_view body) {
  auto edits = ParseEditList(body);
  EXPECT_TRUE(edits.ok()) << edits.status().ToString();
  EditResult r = EditCopy(doc, *edits);
  if (r.status.ok() && !r.update.empty()) {
    EXPECT_TRUE(doc.ApplyUpdate(r.update).ok());
  }
  return r;
}

TEST(EditsTest, EveryKindAppliesInOneUpdate) {
  crdt::Doc doc(crdt::DocOptions{.gc = true, .client_id = 7});
  EditResult r = EditAndApply(doc, R"([
    {"op": "text.insert", "type": "t", "index": 0, "text": "Hello world"},
    {"op": "text.format", "type": "t", "index": 0, "length": 5, "attributes": {"bold": true}},
    {"op": "text.delete", "type": "t", "index": 5, "length": 6},
    {"op": "map.set", "type": "meta", "key": "title", "value": "Plan"},
    {"op": "map.set", "type": "meta", "key": "gone", "value": 1},
    {"op": "map.delete", "type": "meta", "key": "gone"},
    {"op": "array.insert", "type": "tasks", "index": 0, "values": [
      {"$type": "map", "value": {"title": "a", "done": false}},
      {"$type": "map", "value": {"title": "b", "done": false, "notes": {"$type": "text", "value": "n"}}},
      {"$type": "array", "value": [1, 2]}, {"plain": {"$type": "map"}}]},
    {"op": "map.set", "type": "tasks", "path": [1], "key": "done", "value": true},
    {"op": "text.insert", "type": "tasks", "path": [1, "notes"], "index": 1, "text": "!"},
    {"op": "array.move", "type": "tasks", "from": 1, "to": 0},
    {"op": "array.delete", "type": "tasks", "index": 2, "length": 1}
  ])");
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_FALSE(r.update.empty());
  EXPECT_EQ(
      Json(doc),
      R"({"t":"Hello","meta":{"title":"Plan"},"tasks":[{"title":"b","done":true,"notes":"n!"},)"
      R"({"title":"a","done":false},{"plain":{"$type":"map"}}]})");
  // The edits were made by the document's own client.
  EXPECT_EQ(doc.GetStateVector().size(), 1u);
  EXPECT_TRUE(doc.GetStateVector().count(7));
}

TEST(EditsTest, AnInvalidEditChangesNothingAndIsNamed) {
  crdt::Doc doc(crdt::DocOptions{.gc = true, .client_id = 7});
  ASSERT_TRUE(EditAndApply(doc, R"([{"op": "text.insert", "type": "t", "index": 0, "text": "ab"},
                           {"op": "map.set", "type": "m", "key": "k", "value": 1}])")
                  .status.ok());
  const auto before = doc.EncodeStateAsUpdate();
  struct Case {
    const char* body;
    size_t index;
    const char* says;
  };
  const Case cases[] = {
      {R"([{"op":"text.insert","type":"t","index":0,"text":"x"},
           {"op":"text.insert","type":"t","index":0,"text":"y"},
           {"op":"text.insert","type":"t","index":40,"text":"z"}])",
       2, "edit 2 (text.insert)"},
      {R"([{"op":"nope","type":"t"}])", 0, "unknown op"},
      {R"([{"op":"map.set","type":"t","key":"k","value":1}])", 0, "is Y.Text, not Y.Map"},
      {R"([{"op":"text.insert","type":"m","path":["k"],"index":0,"text":"x"}])", 0, "plain value"},
      {R"([{"op":"text.insert","type":"m","path":["none"],"index":0,"text":"x"}])", 0, "nothing"},
      {R"([{"op":"array.delete","type":"a","index":-1,"length":1}])", 0, "non-negative"},
      {R"([{"op":"array.insert","type":"a","index":0,"values":[{"$type":"set"}]}])", 0, "$type"},
      {R"([{"op":"map.set","type":"m","key":"k"}])", 0, "value"},
      {R"([{"op":"array.move","type":"a","from":0,"to":0}])", 0, "past the end"},
      {R"([1])", 0, "JSON object"},
      // Found by the fuzzer: yjs formats past the end by inserting newlines, 2e10 of them here.
      {R"([{"op":"text.format","type":"t","index":1,"length":20000000000,"attributes":{"b":1}}])",
       0, "past the end of the text"},
  };
  for (const Case& c : cases) {
    auto edits = ParseEditList(c.body);
    ASSERT_TRUE(edits.ok()) << c.body;
    EditResult r = EditCopy(doc, *edits);
    EXPECT_FALSE(r.status.ok()) << c.body;
    EXPECT_EQ(r.failed_index, c.index) << c.body;
    EXPECT_NE(r.status.message().find(c.says), std::string::npos) << r.status.message();
    EXPECT_TRUE(r.update.empty());
  }
  EXPECT_EQ(doc.EncodeStateAsUpdate(), before);
}

TEST(EditsTest, BodiesThatAreNotEditListsAreRefused) {
  EXPECT_EQ(ParseEditList("{").status().code(), StatusCode::kMalformed);
  // Found by the fuzzer: invalid UTF-8 in a key made an update the engine then refused.
  EXPECT_EQ(ParseEditList("[{\"op\":\"text.insert\",\"type\":\"t\",\"index\":0,\"text\":\"x\","
                          "\"attributes\":{\"it\xd7\xd7\":true}}]")
                .status()
                .code(),
            StatusCode::kMalformed);
  EXPECT_EQ(ParseEditList(R"({"edit": []})").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseEditList("3").status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(ParseEditList(R"({"edits": []})").ok());
  std::string deep(2000, '[');
  EXPECT_FALSE(ParseEditList(deep).ok());
}

TEST(EditsTest, ValuesNestAtMost64TypesDeep) {
  crdt::Doc doc(crdt::DocOptions{.gc = true, .client_id = 7});
  std::string value = "1";
  for (int i = 0; i < 70; ++i) {
    value.insert(0, R"({"$type":"array","value":[)");
    value += "]}";
  }
  EditResult r =
      EditAndApply(doc, R"([{"op":"map.set","type":"m","key":"k","value":)" + value + "}]");
  EXPECT_NE(r.status.message().find("nest"), std::string::npos) << r.status.message();
}

}  // namespace
}  // namespace tandem::api

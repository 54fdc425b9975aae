#include "crdt/types/replace_content.h"

#include <gtest/gtest.h>

#include "crdt/read_api.h"
#include "crdt/types/shared_types.h"
#include "lib0/json.h"

namespace tandem::crdt {
namespace {

std::string Json(const Doc& doc) {
  return lib0::ToJson(DocToJson(doc));
}

TEST(ReplaceContentTest, ALiveDocumentGetsAnEarlierVersionBackByEdits) {
  Doc live(DocOptions{.gc = true, .client_id = 1});
  lib0::Any::Object bold;
  lib0::JsObjectSet(bold, "bold", lib0::Any(true));
  ASSERT_TRUE(live.GetText("title").Insert(0, "Plan").ok());
  ASSERT_TRUE(live.GetText("title").Insert(4, " B", &bold).ok());
  ASSERT_TRUE(
      live.GetMap("m").Set("tasks", Value::Array({Value::Map({{"done", Value(false)}})})).ok());
  auto doc = live.GetXmlFragment("document");
  const std::vector<Value> children = {
      Value::XmlElement("paragraph", {{"level", Value(1.0)}}, {Value::XmlText("hello")})};
  ASSERT_TRUE(doc.Insert(0, children).ok());
  // Formatting inside the XML text, as a rich-text editor writes it.
  auto paragraph = XmlElementRef(doc.Nested(*doc.Get(0)));
  ASSERT_TRUE(XmlTextRef(paragraph.Nested(*paragraph.Get(0))).Format(0, 5, bold).ok());
  const std::string version_json = Json(live);
  const auto version = live.EncodeStateAsUpdate();
  const auto version_delta = XmlTextRef(paragraph.Nested(*paragraph.Get(0))).ToDeltaAny();

  // People edit on.
  ASSERT_TRUE(live.GetText("title").Insert(0, "New ").ok());
  ASSERT_TRUE(live.GetMap("m").Set("extra", Value(1.0)).ok());
  ASSERT_TRUE(live.GetArray("later").Push({Value(2.0)}).ok());  // a root the version lacks
  ASSERT_TRUE(doc.Delete(0, 1).ok());
  ASSERT_NE(Json(live), version_json);

  Doc old(DocOptions{.gc = true, .client_id = 2});
  ASSERT_TRUE(old.ApplyUpdate(version).ok());
  std::vector<uint8_t> restore_update;
  live.OnUpdate([&](const std::vector<uint8_t>& u, const Transaction&) { restore_update = u; });
  ASSERT_TRUE(ReplaceContent(live, old).ok());
  EXPECT_EQ(
      Json(live),
      R"({"title":"Plan B","m":{"tasks":[{"done":false}]},"document":"<paragraph level=\"1\"><bold>hello</bold></paragraph>","later":[]})");
  auto restored = XmlElementRef(doc.Nested(*doc.Get(0)));
  EXPECT_EQ(lib0::ToJson(XmlTextRef(restored.Nested(*restored.Get(0))).ToDeltaAny()),
            lib0::ToJson(version_delta));
  EXPECT_EQ(lib0::ToJson(live.GetText("title").ToDeltaAny()),
            R"([{"insert":"Plan"},{"insert":" B","attributes":{"bold":true}}])");
  // The restore is one update that another replica applies to reach the same document.
  Doc replica(DocOptions{.gc = true, .client_id = 3});
  ASSERT_TRUE(replica.ApplyUpdate(live.EncodeStateAsUpdate()).ok());
  EXPECT_EQ(Json(replica), Json(live));
  EXPECT_FALSE(restore_update.empty());
}

}  // namespace
}  // namespace tandem::crdt

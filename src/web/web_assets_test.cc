#include "web/web_assets.h"

#include <gtest/gtest.h>

#include <regex>
#include <set>
#include <string>

namespace tandem::web {
namespace {

// Every local URL (src="/..." or href="/...") an HTML page references.
std::set<std::string> LocalReferences(std::string_view html) {
  static const std::regex kRef(R"re((?:src|href)="(/[^"]*)")re");
  std::set<std::string> refs;
  const std::string text(html);
  for (auto it = std::sregex_iterator(text.begin(), text.end(), kRef); it != std::sregex_iterator();
       ++it) {
    refs.insert((*it)[1].str());
  }
  return refs;
}

TEST(WebAssetsTest, PagesArePresentAsHtml) {
  for (std::string_view page : {"/index.html", "/console.html"}) {
    const Asset* asset = FindAsset(page);
    ASSERT_NE(asset, nullptr) << page;
    EXPECT_EQ(asset->path, page);
    EXPECT_EQ(asset->content_type, "text/html; charset=utf-8");
    EXPECT_NE(asset->body.find("<!doctype html>"), std::string_view::npos) << page;
    EXPECT_NE(asset->body.find("<div id=\"app\">"), std::string_view::npos) << page;
    EXPECT_FALSE(asset->immutable) << "pages keep their names, so they must be revalidated";
  }
}

TEST(WebAssetsTest, EveryReferenceOfThePagesIsEmbedded) {
  for (std::string_view page : {"/index.html", "/console.html"}) {
    const Asset* html = FindAsset(page);
    ASSERT_NE(html, nullptr);
    const std::set<std::string> refs = LocalReferences(html->body);
    EXPECT_GE(refs.size(), 3u) << page << " should reference its script, stylesheet and icon";
    bool script = false;
    bool style = false;
    for (const std::string& ref : refs) {
      const Asset* asset = FindAsset(ref);
      ASSERT_NE(asset, nullptr) << page << " references " << ref << ", which is not embedded";
      EXPECT_FALSE(asset->body.empty()) << ref;
      EXPECT_TRUE(asset->immutable) << ref;
      if (ref.ends_with(".js")) {
        script = true;
        EXPECT_EQ(asset->content_type, "text/javascript; charset=utf-8");
      }
      if (ref.ends_with(".css")) {
        style = true;
        EXPECT_EQ(asset->content_type, "text/css; charset=utf-8");
      }
    }
    EXPECT_TRUE(script) << page;
    EXPECT_TRUE(style) << page;
  }
}

TEST(WebAssetsTest, AssetsHaveDistinctPathsAndQuotedEtags) {
  std::set<std::string_view> paths;
  std::set<std::string_view> etags;
  ASSERT_FALSE(AllAssets().empty());
  EXPECT_EQ(AllAssets().front().content_type, "text/html; charset=utf-8");
  for (const Asset& asset : AllAssets()) {
    EXPECT_TRUE(paths.insert(asset.path).second) << asset.path;
    EXPECT_TRUE(asset.path.starts_with("/")) << asset.path;
    EXPECT_EQ(asset.immutable, asset.path.starts_with("/assets/")) << asset.path;
    ASSERT_GE(asset.etag.size(), 3u) << asset.path;
    EXPECT_EQ(asset.etag.front(), '"');
    EXPECT_EQ(asset.etag.back(), '"');
    etags.insert(asset.etag);
    EXPECT_EQ(FindAsset(asset.path), &asset);
  }
  EXPECT_EQ(etags.size(), paths.size());
}

TEST(WebAssetsTest, UnknownPathsAreAbsent) {
  EXPECT_EQ(FindAsset("/"), nullptr);
  EXPECT_EQ(FindAsset(""), nullptr);
  EXPECT_EQ(FindAsset("/assets/"), nullptr);
  EXPECT_EQ(FindAsset("/index.html/"), nullptr);
  EXPECT_EQ(FindAsset("index.html"), nullptr);
}

}  // namespace
}  // namespace tandem::web

#include "crdt/content.h"

#include <gtest/gtest.h>

#include <string>

#include "crdt/item.h"

namespace tandem::crdt {
namespace {

// Strings of up to 8 bytes live inside the content and longer ones in a heap block; these tests
// cross that boundary in every direction a split or a merge can.

TEST(ContentTest, AStringKeepsItsTextAndUtf16Length) {
  for (const std::string& text :
       {std::string(""), std::string("abc"), std::string("12345678"), std::string("123456789"),
        std::string(300, 'x'), std::string("h\xc3\xa9llo \xf0\x9f\x98\x80")}) {
    const Content c = Content::String(text);
    EXPECT_EQ(c.ref(), ContentRef::kString);
    EXPECT_EQ(c.string(), text);
  }
  EXPECT_EQ(Content::String("h\xc3\xa9llo \xf0\x9f\x98\x80").length(), 8u);  // é: 1, 😀: 2
}

TEST(ContentTest, SplittingAnAsciiStringKeepsBothHalvesAtEveryOffset) {
  for (const size_t size : {2u, 8u, 9u, 16u, 40u}) {
    std::string text;
    for (size_t i = 0; i < size; ++i) text += static_cast<char>('a' + i % 26);
    for (size_t offset = 1; offset < size; ++offset) {
      Content left = Content::String(text);
      Content right = left.Splice(offset);
      EXPECT_EQ(left.string(), text.substr(0, offset)) << size << " at " << offset;
      EXPECT_EQ(right.string(), text.substr(offset)) << size << " at " << offset;
      EXPECT_EQ(left.length(), offset);
      EXPECT_EQ(right.length(), size - offset);
    }
  }
}

TEST(ContentTest, SplittingInsideASurrogatePairLeavesReplacementCharactersOfOneUnitEach) {
  Content left = Content::String(
      "ab\xf0\x9f\x98\x80"
      "cdefghij");  // 😀 is units 2 and 3
  Content right = left.Splice(3);
  EXPECT_EQ(left.string(), "ab\xef\xbf\xbd");
  EXPECT_EQ(right.string(),
            "\xef\xbf\xbd"
            "cdefghij");
  EXPECT_EQ(left.length(), 3u);
  EXPECT_EQ(right.length(), 9u);
}

TEST(ContentTest, MergingStringsAppendsAcrossTheInlineLimit) {
  Content text = Content::String("a");
  std::string expected = "a";
  for (int i = 0; i < 100; ++i) {  // typing: one character at a time
    Content next = Content::String(i % 7 == 0 ? "\xc3\xa9" : "b");
    expected += i % 7 == 0 ? "\xc3\xa9" : "b";
    ASSERT_TRUE(text.MergeWith(next));
    ASSERT_EQ(text.string(), expected);
  }
  EXPECT_EQ(text.length(), 101u);
}

TEST(ContentTest, OnlyContentsOfOneMergeableKindMerge) {
  Content deleted = Content::Deleted(3);
  Content more = Content::Deleted(4);
  EXPECT_TRUE(deleted.MergeWith(more));
  EXPECT_EQ(deleted.length(), 7u);
  Content text = Content::String("x");
  EXPECT_FALSE(deleted.MergeWith(text));
  EXPECT_EQ(text.string(), "x");
  Content embed(EmbedContent{lib0::Any(1.0)});
  Content other(EmbedContent{lib0::Any(2.0)});
  EXPECT_FALSE(embed.MergeWith(other));
}

TEST(ContentTest, MovingHandsOverTheTextAndLeavesAnEmptyDeletedContent) {
  Content a = Content::String(std::string(50, 'q'));
  Content b(std::move(a));
  EXPECT_EQ(b.string(), std::string(50, 'q'));
  EXPECT_EQ(a.ref(), ContentRef::kDeleted);  // NOLINT(bugprone-use-after-move): defined state
  EXPECT_EQ(a.length(), 0u);
  Content c = Content::String("short");
  c = std::move(b);
  EXPECT_EQ(c.string(), std::string(50, 'q'));
  const Content copy = c.Copy();
  EXPECT_EQ(copy.string(), c.string());
  EXPECT_NE(copy.string().data(), c.string().data());
}

TEST(ContentTest, ATypeContentHandsOverItsType) {
  auto type = std::make_unique<Type>();
  type->ref = TypeRef::kMap;
  Type* raw = type.get();
  Content c(TypeContent{std::move(type)});
  EXPECT_EQ(c.type(), raw);
  EXPECT_EQ(c.length(), 1u);
  std::unique_ptr<Type> taken = c.TakeType();
  EXPECT_EQ(taken.get(), raw);
  EXPECT_EQ(c.type(), nullptr);
  EXPECT_EQ(c.ref(), ContentRef::kDeleted);
}

TEST(ContentTest, AnItemsFlagsLiveBesideItsContentWithoutDisturbingIt) {
  Item item;
  item.info = 0xff;
  item.set_gc();
  item.content = Content::String("12345678");  // inline, the largest that fits
  item.content = Content::String(std::string(20, 'z'));
  EXPECT_EQ(item.info, 0xff);
  EXPECT_TRUE(item.is_gc());
  EXPECT_EQ(item.content.string(), std::string(20, 'z'));
  item.content = Content::Deleted(5);
  EXPECT_EQ(item.length(), 5u);
  EXPECT_EQ(item.info, 0xff);
}

// A content keeps a string's UTF-16 length in 16 bits; from 65,535 units on, the length lives in
// the heap block after the bytes. Splits and merges cross that boundary both ways.
TEST(ContentTest, StringsOf65535UnitsOrMoreKeepTheirLengthThroughSplitsAndMerges) {
  std::string accented;  // "é" is 2 bytes and 1 UTF-16 unit: bytes and units differ
  for (int i = 0; i < 70000; ++i) accented += "\xc3\xa9";
  for (const std::string& text : {std::string(70000, 'a'), accented}) {
    const uint64_t units = 70000;
    Content c = Content::String(text);
    EXPECT_EQ(c.length(), units);
    EXPECT_EQ(c.string(), text);
    for (const uint64_t at : {uint64_t{65535}, uint64_t{65534}, uint64_t{100}, uint64_t{69999}}) {
      Content left = Content::String(text);
      Content right = left.Splice(at);
      EXPECT_EQ(left.length(), at);
      EXPECT_EQ(right.length(), units - at);
      const size_t bytes_per_unit = text.size() / units;
      EXPECT_EQ(left.string(), text.substr(0, at * bytes_per_unit));
      EXPECT_EQ(right.string(), text.substr(at * bytes_per_unit));
      ASSERT_TRUE(left.MergeWith(right));
      EXPECT_EQ(left.length(), units);
      EXPECT_EQ(left.string(), text);
    }
  }
  // Typing across the boundary, one unit at a time.
  Content grown = Content::String(std::string(65533, 'b'));
  for (int i = 0; i < 4; ++i) {
    Content one = Content::String("c");
    ASSERT_TRUE(grown.MergeWith(one));
    EXPECT_EQ(grown.length(), 65534u + static_cast<uint64_t>(i));
  }
  EXPECT_EQ(grown.string(), std::string(65533, 'b') + "cccc");
  Content moved(std::move(grown));
  EXPECT_EQ(moved.length(), 65537u);
}

}  // namespace
}  // namespace tandem::crdt

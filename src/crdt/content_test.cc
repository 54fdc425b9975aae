#include "crdt/content.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "crdt/client_table.h"
#include "crdt/item.h"
#include "crdt/item_heap.h"

namespace tandem::crdt {
namespace {

// Strings of up to 4 bytes live inside the content, longer ones in a block of the ItemHeap (up to
// 256 bytes; ASCII text without a byte count) or of malloc; these tests cross those boundaries in
// every direction a split or a merge can.

TEST(ContentTest, AStringKeepsItsTextAndUtf16Length) {
  for (const std::string& text :
       {std::string(""), std::string("abc"), std::string("1234"), std::string("12345"),
        std::string(300, 'x'), std::string("h\xc3\xa9llo \xf0\x9f\x98\x80")}) {
    const Content c = Content::String(text);
    EXPECT_EQ(c.ref(), ContentRef::kString);
    EXPECT_EQ(c.string(), text);
  }
  EXPECT_EQ(Content::String("h\xc3\xa9llo \xf0\x9f\x98\x80").length(), 8u);  // é: 1, 😀: 2
}

TEST(ContentTest, SplittingAnAsciiStringKeepsBothHalvesAtEveryOffset) {
  for (const size_t size : {2u, 4u, 5u, 8u, 9u, 16u, 40u, 255u, 256u, 257u, 300u}) {
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
  item.content = Content::String("1234");  // inline, the largest that fits
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

// Text typed one character at a time moves from inline to an ItemHeap block, from ASCII to text
// with a byte count, and to malloc past 256 bytes; splitting walks back. Every byte the heap
// handed out comes back when the contents go.
TEST(ContentTest, StringsMoveBetweenInlineHeapAndMallocBlocksAndGiveTheirBytesBack) {
  const size_t before = ItemHeap::bytes_in_use();
  {
    Content text = Content::String("a");
    std::string expected = "a";
    for (int i = 0; i < 400; ++i) {
      const std::string next =
          i == 150 ? "\xc3\xa9" : std::string(1, static_cast<char>('b' + i % 20));
      Content piece = Content::String(next);
      ASSERT_TRUE(text.MergeWith(piece));
      expected += next;
      ASSERT_EQ(text.string(), expected) << i;
      ASSERT_EQ(text.length(), static_cast<uint64_t>(i) + 2) << i;
    }
    EXPECT_GT(ItemHeap::bytes_in_use(), before);
    // Split off the tail in steps: the left part shrinks back through every kind.
    for (const uint64_t offset : {300u, 200u, 152u, 151u, 100u, 9u, 5u, 4u, 1u}) {
      Content tail = text.Splice(offset);
      ASSERT_EQ(text.length(), offset);
      const std::string left(text.string());
      ASSERT_EQ(expected.rfind(left, 0), 0u) << offset;  // a prefix of the typed text
      ASSERT_EQ(left + std::string(tail.string()), expected) << offset;
      expected = left;
    }
    EXPECT_EQ(text.string(), "a");
  }
  EXPECT_EQ(ItemHeap::bytes_in_use(), before);
}

// ASCII text in a heap block keeps no byte count (its UTF-16 length is its byte count); merging
// in a non-ASCII character must add one, and splitting it off must not lose text.
TEST(ContentTest, AsciiAndNonAsciiHeapStringsMergeAndSplitBothWays) {
  const size_t before = ItemHeap::bytes_in_use();
  {
    Content ascii = Content::String("abcdefgh");
    Content accent = Content::String("\xc3\xa9xyz");
    ASSERT_TRUE(ascii.MergeWith(accent));
    EXPECT_EQ(ascii.string(), "abcdefgh\xc3\xa9xyz");
    EXPECT_EQ(ascii.length(), 12u);
    Content right = ascii.Splice(8);
    EXPECT_EQ(ascii.string(), "abcdefgh");
    EXPECT_EQ(right.string(), "\xc3\xa9xyz");
    Content more = Content::String("ijklmnop");
    ASSERT_TRUE(ascii.MergeWith(more));
    EXPECT_EQ(ascii.string(), "abcdefghijklmnop");
    EXPECT_EQ(ascii.length(), 16u);
    const Content copy = ascii.Copy();
    EXPECT_EQ(copy.string(), ascii.string());
  }
  EXPECT_EQ(ItemHeap::bytes_in_use(), before);
}

// A deleted run keeps 48 bits of length in the content; a longer one (only a malformed update
// carries it) saturates, so it still fails every clock bound.
TEST(ContentTest, DeletedLengthsKeep48BitsAndSaturateBeyond) {
  const uint64_t big = (uint64_t{1} << 40) + 5;
  Content d = Content::Deleted(big);
  EXPECT_EQ(d.length(), big);
  Content tail = d.Splice(big - 2);
  EXPECT_EQ(d.length(), big - 2);
  EXPECT_EQ(tail.length(), 2u);
  ASSERT_TRUE(d.MergeWith(tail));
  EXPECT_EQ(d.length(), big);
  EXPECT_EQ(Content::Deleted(uint64_t{1} << 50).length(), (uint64_t{1} << 48) - 1);
  EXPECT_EQ(Content::Deleted(UINT64_MAX).length(), (uint64_t{1} << 48) - 1);
}

// The boxed kinds live in the ItemHeap, so a content names them by a 32-bit handle.
TEST(ContentTest, BoxedKindsLiveInTheItemHeapAndGoBackWithTheirContent) {
  const size_t before = ItemHeap::bytes_in_use();
  {
    Content json(JsonContent{{lib0::Any(1.5), lib0::Any(std::string("x"))}});
    Content binary(BinaryContent{{1, 2, 3}});
    Content format(FormatContent{"bold", std::make_shared<const lib0::Any>(true)});
    EXPECT_GT(ItemHeap::bytes_in_use(), before);
    EXPECT_TRUE(ItemHeap::Contains(json.get<JsonContent>()));
    EXPECT_TRUE(ItemHeap::Contains(binary.get<BinaryContent>()));
    EXPECT_EQ(json.length(), 2u);
    EXPECT_EQ(binary.get<BinaryContent>()->bytes, (std::vector<uint8_t>{1, 2, 3}));
    EXPECT_EQ(format.get<FormatContent>()->key, "bold");
    Content tail = json.Splice(1);
    EXPECT_EQ(json.length(), 1u);
    EXPECT_EQ(tail.length(), 1u);
    const Content copy = binary.Copy();
    EXPECT_NE(copy.get<BinaryContent>(), binary.get<BinaryContent>());
    EXPECT_EQ(copy.get<BinaryContent>()->bytes, binary.get<BinaryContent>()->bytes);
  }
  EXPECT_EQ(ItemHeap::bytes_in_use(), before);
}

// An item stores an origin of its own client as a clock in 4 bytes; an origin of another client,
// or a clock of 2^31 or more, takes a record in the ItemHeap, which goes when it is replaced.
TEST(ItemOriginTest, OriginsOfOtherClientsAndHighClocksTakeARecordAndGiveItBack) {
  const ClientRef mine = ClientTable::Acquire(101);
  const ClientRef other = ClientTable::Acquire(202);
  const size_t before = ItemHeap::bytes_in_use();
  {
    Item a;
    a.set_id(mine, 10);
    a.set_origin(mine, 9);
    a.set_right_origin(mine, 0);
    EXPECT_EQ(ItemHeap::bytes_in_use(), before);  // both inline
    EXPECT_EQ(a.origin(), OptionalId(ID{101, 9}));
    EXPECT_EQ(a.right_origin(), OptionalId(ID{101, 0}));
    EXPECT_TRUE(a.origin_is(mine, 9));
    EXPECT_FALSE(a.origin_is(other, 9));

    a.set_right_origin(other, 7);
    EXPECT_GT(ItemHeap::bytes_in_use(), before);
    EXPECT_EQ(a.right_origin(), OptionalId(ID{202, 7}));
    EXPECT_EQ(a.right_origin_client_ref(), other);
    EXPECT_EQ(a.parent_id(), (ID{202, 7}));

    const Clock high = (Clock{1} << 31) + 3;
    a.set_origin(mine, high);
    EXPECT_EQ(a.origin(), OptionalId(ID{101, high}));
    EXPECT_TRUE(a.origin_is(mine, high));

    // Items of different clients compare their origins as IDs, whatever the storage.
    Item b;
    b.set_id(other, 0);
    b.set_origin(mine, high);
    b.set_right_origin(other, 7);
    EXPECT_TRUE(a.same_origin(b));
    EXPECT_TRUE(a.same_right_origin(b));
    Item c;
    c.set_id(other, 8);
    c.set_right_origin_at(b);  // (other, 0): inline for c
    EXPECT_TRUE(c.right_origin_is_start_of(b));
    EXPECT_FALSE(a.same_right_origin(c));
    c.copy_right_origin(a);
    EXPECT_TRUE(c.same_right_origin(a));

    a.clear_origin();
    a.set_right_origin(mine, 3);
    EXPECT_FALSE(a.has_origin());
    EXPECT_FALSE(static_cast<bool>(a.origin()));
    EXPECT_EQ(a.right_origin(), OptionalId(ID{101, 3}));
  }
  EXPECT_EQ(ItemHeap::bytes_in_use(), before);
  ClientTable::Release(mine);
  ClientTable::Release(other);
}

}  // namespace
}  // namespace tandem::crdt

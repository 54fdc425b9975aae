#include "crdt/item_heap.h"

#include <gtest/gtest.h>

#include <cstring>
#include <new>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "crdt/doc.h"
#include "crdt/doc_internal.h"
#include "crdt/item.h"
#include "crdt/types/shared_types.h"

namespace tandem::crdt {
namespace {

TEST(ItemHeapTest, HandlesRoundTripAndNullIsZero) {
  void* chunk = ItemHeap::AllocateChunk(ItemHeap::kMinChunk);
  ASSERT_TRUE(ItemHeap::Contains(chunk));
  auto* bytes = static_cast<unsigned char*>(chunk);
  for (size_t off = 0; off < ItemHeap::kMinChunk; off += ItemHeap::kUnit) {
    const uint32_t h = ItemHeap::Compress(bytes + off);
    EXPECT_NE(h, 0u);
    EXPECT_EQ(ItemHeap::Decompress(h), bytes + off);
  }
  EXPECT_EQ(ItemHeap::Compress(nullptr), 0u);
  EXPECT_EQ(ItemHeap::Decompress(0), nullptr);

  HeapPtr<Item> p;
  EXPECT_EQ(p.get(), nullptr);
  auto* item = reinterpret_cast<Item*>(bytes);
  p = item;
  EXPECT_EQ(p.get(), item);
  EXPECT_TRUE(p == item);
  p = nullptr;
  EXPECT_TRUE(p == nullptr);
  ItemHeap::FreeChunk(chunk, ItemHeap::kMinChunk);
}

TEST(ItemHeapTest, CountsBytesInUseAndReusesFreedChunks) {
  const size_t before = ItemHeap::bytes_in_use();
  void* a = ItemHeap::AllocateChunk(4096);
  void* b = ItemHeap::AllocateChunk(ItemHeap::kMaxChunk);
  EXPECT_EQ(ItemHeap::bytes_in_use(), before + 4096 + ItemHeap::kMaxChunk);
  EXPECT_NE(a, b);
  std::memset(b, 0xab, ItemHeap::kMaxChunk);  // the pages are writable
  ItemHeap::FreeChunk(b, ItemHeap::kMaxChunk);
  EXPECT_EQ(ItemHeap::bytes_in_use(), before + 4096);
  // The freed chunk serves the next request of its size (its pages were given back, so it
  // reads as zeros or as before; either way it is usable).
  void* c = ItemHeap::AllocateChunk(ItemHeap::kMaxChunk);
  EXPECT_EQ(c, b);
  std::memset(c, 0, ItemHeap::kMaxChunk);
  ItemHeap::FreeChunk(c, ItemHeap::kMaxChunk);
  ItemHeap::FreeChunk(a, 4096);
  EXPECT_EQ(ItemHeap::bytes_in_use(), before);
}

TEST(ItemHeapTest, RefusesSizesOutsideTheClasses) {
  EXPECT_THROW(ItemHeap::AllocateChunk(100), std::bad_alloc);
  EXPECT_THROW(ItemHeap::AllocateChunk(ItemHeap::kMinChunk / 2), std::bad_alloc);
  EXPECT_THROW(ItemHeap::AllocateChunk(ItemHeap::kMaxChunk * 2), std::bad_alloc);
  EXPECT_THROW(ItemHeap::AllocateChunk(3 * ItemHeap::kMinChunk), std::bad_alloc);
}

TEST(ItemHeapTest, BlocksAreSixteenAlignedCountedAndReused) {
  const size_t before = ItemHeap::bytes_in_use();
  std::vector<void*> blocks;
  for (size_t bytes : {1, 16, 17, 24, 200, 512}) {
    void* b = ItemHeap::AllocateBlock(bytes);
    EXPECT_TRUE(ItemHeap::Contains(b));
    EXPECT_EQ(reinterpret_cast<uintptr_t>(b) % ItemHeap::kBlockAlign, 0u);
    // Handles of blocks are even: items use the low bit as a tag.
    EXPECT_EQ(ItemHeap::Compress(b) % 2, 0u);
    std::memset(b, 0x5a, bytes);
    blocks.push_back(b);
  }
  EXPECT_EQ(ItemHeap::bytes_in_use(), before + 16 + 16 + 32 + 32 + 208 + 512);
  ItemHeap::FreeBlock(blocks[3], 24);
  EXPECT_EQ(ItemHeap::AllocateBlock(32), blocks[3]);  // same class (17..32 bytes)
  const size_t sizes[] = {1, 16, 17, 24, 200, 512};
  for (size_t i = 0; i < blocks.size(); ++i) ItemHeap::FreeBlock(blocks[i], sizes[i]);
  EXPECT_EQ(ItemHeap::bytes_in_use(), before);
  EXPECT_THROW(ItemHeap::AllocateBlock(0), std::bad_alloc);
  EXPECT_THROW(ItemHeap::AllocateBlock(ItemHeap::kMaxBlock + 1), std::bad_alloc);
}

// Text blocks come in 8-byte steps up to 256 bytes, with no header: a 9-byte string takes 16.
TEST(ItemHeapTest, TextBlocksComeInEightByteStepsAndAreReused) {
  const size_t before = ItemHeap::bytes_in_use();
  std::vector<void*> blocks;
  const size_t sizes[] = {1, 8, 9, 100, 256};
  for (size_t bytes : sizes) {
    void* b = ItemHeap::AllocateBytes(bytes);
    EXPECT_TRUE(ItemHeap::Contains(b));
    EXPECT_EQ(reinterpret_cast<uintptr_t>(b) % ItemHeap::kBytesStep, 0u);
    EXPECT_EQ(ItemHeap::Decompress(ItemHeap::Compress(b)), b);
    std::memset(b, 0x3c, bytes);
    blocks.push_back(b);
  }
  EXPECT_EQ(ItemHeap::bytes_in_use(), before + 8 + 8 + 16 + 104 + 256);
  ItemHeap::FreeBytes(blocks[2], 9);
  EXPECT_EQ(ItemHeap::AllocateBytes(16), blocks[2]);  // same class (9..16 bytes)
  for (size_t i = 0; i < blocks.size(); ++i) ItemHeap::FreeBytes(blocks[i], sizes[i]);
  EXPECT_EQ(ItemHeap::bytes_in_use(), before);
  EXPECT_THROW(ItemHeap::AllocateBytes(0), std::bad_alloc);
  EXPECT_THROW(ItemHeap::AllocateBytes(ItemHeap::kMaxBytes + 1), std::bad_alloc);
}

TEST(ItemHeapTest, ThreadsGetDistinctChunks) {
  constexpr int kThreads = 4;
  constexpr int kRounds = 200;
  std::vector<std::vector<void*>> kept(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int r = 0; r < kRounds; ++r) {
        const size_t bytes = ItemHeap::kMinChunk << (r % 3);
        void* chunk = ItemHeap::AllocateChunk(bytes);
        std::memset(chunk, t, bytes);
        if (r % 2 == 0) {
          ItemHeap::FreeChunk(chunk, bytes);
        } else {
          kept[t].push_back(chunk);
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  std::set<void*> distinct;
  for (int t = 0; t < kThreads; ++t) {
    for (size_t k = 0; k < kept[t].size(); ++k) {
      EXPECT_TRUE(distinct.insert(kept[t][k]).second);
      // Nobody else wrote into a chunk this thread kept.
      EXPECT_EQ(*static_cast<unsigned char*>(kept[t][k]), static_cast<unsigned char>(t));
    }
  }
  for (int t = 0; t < kThreads; ++t) {
    for (size_t k = 0; k < kept[t].size(); ++k) {
      // Rounds kept are the odd ones: r % 3 gives their size class.
      const int r = static_cast<int>(2 * k + 1);
      ItemHeap::FreeChunk(kept[t][k], ItemHeap::kMinChunk << (r % 3));
    }
  }
}

TEST(ItemHeapTest, ADocumentsItemsLiveInTheHeapAndGoBackWithIt) {
  const size_t before = ItemHeap::bytes_in_use();
  {
    Doc doc;
    TextRef text = doc.GetText("t");
    for (int i = 0; i < 3000; ++i) {
      // Typing at alternating ends makes one item per keystroke.
      ASSERT_TRUE(text.Insert(i % 2 == 0 ? 0 : text.length(), "x").ok());
    }
    EXPECT_GT(ItemHeap::bytes_in_use(), before + 1000 * sizeof(Item));
    size_t items = 0;
    for (const auto& [client, structs] : DocInternals::store(doc).clients()) {
      for (Item* item : structs) {
        EXPECT_TRUE(ItemHeap::Contains(item));
        ++items;
      }
    }
    EXPECT_GT(items, 1000u);
    EXPECT_EQ(text.ToString(), std::string(3000, 'x'));
  }
  EXPECT_EQ(ItemHeap::bytes_in_use(), before);
}

}  // namespace
}  // namespace tandem::crdt

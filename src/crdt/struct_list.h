#pragma once
// The structs of one client, ordered by clock (yjs keeps a plain array). Stored in chunks so
// that splitting or merging a struct in the middle of a long history moves one chunk, not the
// whole tail: with a single array every keystroke in the middle of a large document cost a
// memmove of the rest of its client's history. A chunk keeps the handles of its structs (4 bytes
// each, see ItemHeap) and the clock of every 8th struct, so that finding the struct of a clock
// reads contiguous clocks and then at most three structs: 4.5 bytes per struct.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "crdt/id.h"
#include "crdt/item_heap.h"

namespace tandem::crdt {

struct Item;

class StructList {
 public:
  static constexpr size_t kNotFound = static_cast<size_t>(-1);

  StructList() = default;
  explicit StructList(const std::vector<Item*>& items);

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  Item* operator[](size_t i) const {
    const size_t c = Locate(i);
    return chunks_[c].items[i - starts_[c]];
  }
  Item* front() const { return chunks_.front().items.front(); }
  Item* back() const { return chunks_.back().items.back(); }
  // Puts `item` at index i in place of a struct with the same clock (GC replacing an item).
  void Replace(size_t i, Item* item) {
    const size_t c = Locate(i);
    chunks_[c].items[i - starts_[c]] = item;
  }

  void push_back(Item* item);
  // Inserts `item` so that it gets index `index`.
  void insert(size_t index, Item* item);
  // Removes [first, last).
  void erase(size_t first, size_t last);
  void clear();

  // Index of the struct holding `clock`, or kNotFound (findIndexSS).
  size_t FindIndex(Clock clock) const;

  class const_iterator {  // NOLINT(readability-identifier-naming): the name range-for expects
   public:
    const_iterator(const StructList* list, size_t chunk, size_t offset)
        : list_(list), chunk_(chunk), offset_(offset) {}
    Item* operator*() const { return list_->chunks_[chunk_].items[offset_]; }
    const_iterator& operator++() {
      if (++offset_ == list_->chunks_[chunk_].items.size()) {
        ++chunk_;
        offset_ = 0;
      }
      return *this;
    }
    bool operator!=(const const_iterator& o) const {
      return chunk_ != o.chunk_ || offset_ != o.offset_;
    }

   private:
    const StructList* list_;
    size_t chunk_;
    size_t offset_;
  };
  const_iterator begin() const { return const_iterator(this, 0, 0); }
  // Iterator to the struct at index i (REQUIRES: i < size()).
  const_iterator IteratorAt(size_t i) const {
    const size_t c = Locate(i);
    return const_iterator(this, c, i - starts_[c]);
  }
  const_iterator end() const { return const_iterator(this, chunks_.size(), 0); }

 private:
  struct Chunk {
    std::vector<HeapPtr<Item>> items;  // 4 bytes each: items live in the ItemHeap
    // The clock of every kSampleStride-th item (items[0], items[kSampleStride], ...): a lookup
    // searches these contiguous clocks and then reads only a few items.
    std::vector<uint32_t> samples;
    size_t size() const { return items.size(); }
    // Recomputes the samples of items from index `from` on.
    void Resample(size_t from);
  };
  static constexpr size_t kChunkMax = 256;
  static constexpr size_t kSampleStride = 8;
  // The chunk holding index i; remembered in last_chunk_ for the next (usually nearby) access.
  size_t Locate(size_t i) const {
    const size_t c = last_chunk_;
    if (c < chunks_.size() && i >= starts_[c] && i - starts_[c] < chunks_[c].size()) return c;
    return LocateSlow(i);
  }
  size_t LocateSlow(size_t i) const;
  void RecomputeStartsFrom(size_t chunk);

  std::vector<Chunk> chunks_;
  std::vector<size_t> starts_;          // index of each chunk's first struct
  std::vector<uint32_t> first_clocks_;  // clock of each chunk's first struct
  size_t size_ = 0;
  mutable size_t last_chunk_ = 0;
};

}  // namespace tandem::crdt

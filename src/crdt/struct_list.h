#pragma once
// The structs of one client, ordered by clock (yjs keeps a plain array). Stored in chunks so
// that splitting or merging a struct in the middle of a long history moves one chunk, not the
// whole tail: with a single array every keystroke in the middle of a large document cost a
// memmove of the rest of its client's history.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "crdt/id.h"

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
    return chunks_[c][i - starts_[c]];
  }
  Item*& operator[](size_t i) {
    const size_t c = Locate(i);
    return chunks_[c][i - starts_[c]];
  }
  Item* front() const { return chunks_.front().front(); }
  Item* back() const { return chunks_.back().back(); }

  void push_back(Item* item);
  // Inserts `item` so that it gets index `index`.
  void insert(size_t index, Item* item);
  // Removes [first, last).
  void erase(size_t first, size_t last);
  void clear();

  // Index of the struct holding `clock`, or kNotFound (findIndexSS).
  size_t FindIndex(Clock clock) const;

  class const_iterator {
   public:
    const_iterator(const StructList* list, size_t chunk, size_t offset)
        : list_(list), chunk_(chunk), offset_(offset) {}
    Item* operator*() const { return list_->chunks_[chunk_][offset_]; }
    const_iterator& operator++() {
      if (++offset_ == list_->chunks_[chunk_].size()) {
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
  const_iterator end() const { return const_iterator(this, chunks_.size(), 0); }

 private:
  static constexpr size_t kChunkMax = 512;
  // The chunk holding index i; remembered in last_chunk_ for the next (usually nearby) access.
  size_t Locate(size_t i) const {
    const size_t c = last_chunk_;
    if (c < chunks_.size() && i >= starts_[c] && i - starts_[c] < chunks_[c].size()) return c;
    return LocateSlow(i);
  }
  size_t LocateSlow(size_t i) const;
  void RecomputeStartsFrom(size_t chunk);

  std::vector<std::vector<Item*>> chunks_;
  std::vector<size_t> starts_;       // index of each chunk's first struct
  std::vector<Clock> first_clocks_;  // clock of each chunk's first struct (no pointer chasing)
  size_t size_ = 0;
  mutable size_t last_chunk_ = 0;
};

}  // namespace tandem::crdt

#include "crdt/struct_list.h"

#include <algorithm>

#include "crdt/item.h"

namespace tandem::crdt {

StructList::StructList(const std::vector<Item*>& items) {
  for (Item* item : items) push_back(item);
}

void StructList::Chunk::Resample(size_t from) {
  samples.resize((items.size() + kSampleStride - 1) / kSampleStride);
  for (size_t j = from / kSampleStride; j < samples.size(); ++j) {
    samples[j] = static_cast<uint32_t>(items[j * kSampleStride]->clock());
  }
}

size_t StructList::LocateSlow(size_t i) const {
  const size_t c = last_chunk_;
  if (c + 1 < chunks_.size() && i >= starts_[c + 1] && i - starts_[c + 1] < chunks_[c + 1].size()) {
    return last_chunk_ = c + 1;
  }
  const auto it = std::upper_bound(starts_.begin(), starts_.end(), i);
  return last_chunk_ = static_cast<size_t>(it - starts_.begin()) - 1;
}

void StructList::RecomputeStartsFrom(size_t chunk) {
  starts_.resize(chunks_.size());
  first_clocks_.resize(chunks_.size());
  for (size_t c = chunk; c < chunks_.size(); ++c) {
    starts_[c] = c == 0 ? 0 : starts_[c - 1] + chunks_[c - 1].size();
    first_clocks_[c] = chunks_[c].items.front()->clock();
  }
  if (last_chunk_ >= chunks_.size()) last_chunk_ = 0;
}

void StructList::push_back(Item* item) {
  if (chunks_.empty() || chunks_.back().size() >= kChunkMax) {
    chunks_.emplace_back();
    starts_.push_back(size_);
    first_clocks_.push_back(static_cast<uint32_t>(item->clock()));
  }
  Chunk& chunk = chunks_.back();
  if (chunk.items.size() % kSampleStride == 0) {
    chunk.samples.push_back(static_cast<uint32_t>(item->clock()));
  }
  chunk.items.push_back(item);
  ++size_;
}

void StructList::insert(size_t index, Item* item) {
  if (index == size_) {
    push_back(item);
    return;
  }
  const size_t c = Locate(index);
  Chunk& chunk = chunks_[c];
  const auto at = static_cast<ptrdiff_t>(index - starts_[c]);
  if (at == 0) first_clocks_[c] = static_cast<uint32_t>(item->clock());
  chunk.items.insert(chunk.items.begin() + at, item);
  chunk.Resample(static_cast<size_t>(at));
  ++size_;
  if (chunk.size() > 2 * kChunkMax) {
    // Split in halves so both can grow again.
    Chunk right;
    right.items.assign(chunk.items.begin() + static_cast<ptrdiff_t>(kChunkMax), chunk.items.end());
    chunk.items.resize(kChunkMax);
    chunk.Resample(kChunkMax);
    right.Resample(0);
    chunks_.insert(chunks_.begin() + static_cast<ptrdiff_t>(c + 1), std::move(right));
    starts_.insert(starts_.begin() + static_cast<ptrdiff_t>(c + 1), 0);
    first_clocks_.insert(first_clocks_.begin() + static_cast<ptrdiff_t>(c + 1), 0);
    RecomputeStartsFrom(c + 1);
  } else {
    for (size_t k = c + 1; k < starts_.size(); ++k) ++starts_[k];
  }
}

void StructList::erase(size_t first, size_t last) {
  if (first >= last) return;
  size_t c = Locate(first);
  const size_t first_chunk = c;
  size_t remaining = last - first;
  size_t offset = first - starts_[c];
  const auto erase_in = [](Chunk& chunk, size_t from, size_t n) {
    const auto a = static_cast<ptrdiff_t>(from);
    const auto b = static_cast<ptrdiff_t>(from + n);
    chunk.items.erase(chunk.items.begin() + a, chunk.items.begin() + b);
    chunk.Resample(from);
  };
  // The common case: a few structs inside one chunk that keeps some.
  if (offset + remaining < chunks_[c].size() ||
      (offset > 0 && offset + remaining == chunks_[c].size())) {
    erase_in(chunks_[c], offset, remaining);
    size_ -= remaining;
    if (offset == 0) first_clocks_[c] = chunks_[c].items.front()->clock();
    for (size_t k = c + 1; k < starts_.size(); ++k) starts_[k] -= remaining;
    return;
  }
  while (remaining > 0) {
    Chunk& chunk = chunks_[c];
    const size_t n = std::min(remaining, chunk.size() - offset);
    erase_in(chunk, offset, n);
    remaining -= n;
    size_ -= n;
    offset = 0;
    ++c;
  }
  // Drop emptied chunks and fold a small chunk into its left neighbour.
  size_t write = first_chunk;
  for (size_t k = first_chunk; k < c; ++k) {
    if (chunks_[k].size() == 0) continue;
    if (write > 0 && chunks_[k].size() < kChunkMax / 8 &&
        chunks_[write - 1].size() + chunks_[k].size() <= kChunkMax) {
      Chunk& into = chunks_[write - 1];
      const size_t old_size = into.items.size();
      into.items.insert(into.items.end(), chunks_[k].items.begin(), chunks_[k].items.end());
      into.Resample(old_size);
      continue;
    }
    if (write != k) chunks_[write] = std::move(chunks_[k]);
    ++write;
  }
  if (write != c) {
    chunks_.erase(chunks_.begin() + static_cast<ptrdiff_t>(write),
                  chunks_.begin() + static_cast<ptrdiff_t>(c));
  }
  RecomputeStartsFrom(first_chunk == 0 ? 0 : first_chunk - 1);
}

void StructList::clear() {
  chunks_.clear();
  starts_.clear();
  first_clocks_.clear();
  size_ = 0;
  last_chunk_ = 0;
}

namespace {

// Index of the last element <= `clock` in the sorted `values` (REQUIRES: values[0] <= clock).
// Branch-free (the comparison becomes a conditional move): lookups hit clocks in no particular
// order, so a branching binary search mispredicts about every other step.
size_t LastAtOrBefore(const uint32_t* values, size_t n, uint32_t clock) {
  const uint32_t* base = values;
  while (n > 1) {
    const size_t half = n / 2;
    base = base[half] <= clock ? base + half : base;
    n -= half;
  }
  return static_cast<size_t>(base - values);
}

// The same over the items' own clocks.
size_t LastStartingAtOrBefore(const HeapPtr<Item>* items, size_t n, uint32_t clock) {
  const HeapPtr<Item>* base = items;
  while (n > 1) {
    const size_t half = n / 2;
    base = base[half]->clock() <= clock ? base + half : base;
    n -= half;
  }
  return static_cast<size_t>(base - items);
}

}  // namespace

size_t StructList::FindIndex(Clock clock) const {
  if (size_ == 0) return kNotFound;
  const Item* last = back();
  // Integration mostly looks up the struct just added: check the last one first.
  if (last->clock() <= clock) return clock < last->end_clock() ? size_ - 1 : kNotFound;
  // Here clock < last->clock(), so it fits in 32 bits as every item's clock does.
  const auto clock32 = static_cast<uint32_t>(clock);
  // The chunk: the last one whose first struct starts at or before `clock`. Runs of lookups
  // (a delete set's ranges, in order) mostly stay in the chunk of the previous access.
  if (first_clocks_.front() > clock32) return kNotFound;
  size_t c = last_chunk_;
  if (c >= chunks_.size() || first_clocks_[c] > clock32 ||
      (c + 1 < chunks_.size() && first_clocks_[c + 1] <= clock32)) {
    c = LastAtOrBefore(first_clocks_.data(), first_clocks_.size(), clock32);
  }
  // Then the struct: the last sample at or before `clock`, and among the structs it starts, the
  // last one starting at or before `clock`.
  const Chunk& chunk = chunks_[c];
  const size_t first =
      kSampleStride * LastAtOrBefore(chunk.samples.data(), chunk.samples.size(), clock32);
  const size_t k =
      first + LastStartingAtOrBefore(chunk.items.data() + first,
                                     std::min(kSampleStride, chunk.size() - first), clock32);
  if (clock >= chunks_[c].items[k]->end_clock()) return kNotFound;
  last_chunk_ = c;
  return starts_[c] + k;
}

}  // namespace tandem::crdt

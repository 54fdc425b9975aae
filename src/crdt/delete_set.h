#pragma once
// Delete sets: per client, sorted and merged clock ranges (yjs `src/utils/DeleteSet.js`).

#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "crdt/id.h"

namespace tandem::crdt {

class UpdateEncoder;
class UpdateDecoder;
class StructStore;

struct DeleteItem {
  Clock clock = 0;
  uint64_t len = 0;
  friend bool operator==(const DeleteItem&, const DeleteItem&) = default;
};

// A map from client to V that iterates in insertion order, like a JS Map: yjs walks delete sets
// in the order their clients were first added, and formatting cleanup depends on that order.
template <typename V>
class ClientMap {
 public:
  using Entry = std::pair<ClientId, V>;
  using iterator = typename std::vector<Entry>::iterator;
  using const_iterator = typename std::vector<Entry>::const_iterator;

  iterator begin() { return entries_.begin(); }
  iterator end() { return entries_.end(); }
  const_iterator begin() const { return entries_.begin(); }
  const_iterator end() const { return entries_.end(); }
  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  void clear() {
    entries_.clear();
    if (!index_.empty()) index_.clear();
  }

  iterator find(ClientId client) {
    const size_t i = IndexOf(client);
    return i == kNone ? entries_.end() : entries_.begin() + static_cast<ptrdiff_t>(i);
  }
  const_iterator find(ClientId client) const {
    const size_t i = IndexOf(client);
    return i == kNone ? entries_.end() : entries_.begin() + static_cast<ptrdiff_t>(i);
  }
  V& operator[](ClientId client) {
    size_t i = IndexOf(client);
    if (i == kNone) {
      i = entries_.size();
      entries_.emplace_back(client, V());
      if (!index_.empty()) {
        index_.emplace(client, i);
      } else if (entries_.size() > kLinear) {
        for (size_t k = 0; k < entries_.size(); ++k) index_.emplace(entries_[k].first, k);
      }
    }
    return entries_[i].second;
  }
  const V& at(ClientId client) const { return entries_[IndexOf(client)].second; }

 private:
  static constexpr size_t kNone = static_cast<size_t>(-1);
  static constexpr size_t kLinear = 8;
  size_t IndexOf(ClientId client) const {
    if (index_.empty()) {
      for (size_t i = 0; i < entries_.size(); ++i) {
        if (entries_[i].first == client) return i;
      }
      return kNone;
    }
    auto it = index_.find(client);
    return it == index_.end() ? kNone : it->second;
  }
  std::vector<Entry> entries_;
  std::unordered_map<ClientId, size_t> index_;  // once there are many clients
};

// One client's entry of a delete set on the wire (writeDeleteSet's inner loop). A template so
// that writers of a known format call the encoder without virtual dispatch.
template <typename Encoder>
void WriteClientDeletes(Encoder& e, ClientId client, const std::vector<DeleteItem>& ranges) {
  e.ResetDsCurVal();
  e.rest().WriteVarUint(client);
  e.rest().WriteVarUint(ranges.size());
  for (const DeleteItem& d : ranges) {
    e.WriteDsClock(d.clock);
    e.WriteDsLen(d.len);
  }
}

class DeleteSet {
 public:
  using Ranges = std::vector<DeleteItem>;
  using Clients = ClientMap<Ranges>;

  void Add(ClientId client, Clock clock, uint64_t len) { clients_[client].push_back({clock, len}); }
  // Sorts each client's ranges and merges overlapping or adjacent ones (sortAndMergeDeleteSet).
  void SortAndMerge();
  bool IsDeleted(ID id) const;
  bool empty() const { return clients_.empty(); }
  void Clear() { clients_.clear(); }

  const Clients& clients() const { return clients_; }
  Clients& clients() { return clients_; }

  // Clients descending, ranges as stored (writeDeleteSet).
  void Write(UpdateEncoder& encoder) const;
  // readDeleteSet; errors are left in the decoder.
  static DeleteSet Read(UpdateDecoder& decoder);
  // createDeleteSetFromStructStore
  static DeleteSet FromStore(const StructStore& store);
  // mergeDeleteSets
  static DeleteSet Merge(const std::vector<DeleteSet>& sets);

 private:
  Clients clients_;
};

}  // namespace tandem::crdt

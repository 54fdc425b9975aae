#pragma once
// Delete sets: per client, sorted and merged clock ranges (yjs `src/utils/DeleteSet.js`).

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

class DeleteSet {
 public:
  using Ranges = std::vector<DeleteItem>;

  void Add(ClientId client, Clock clock, uint64_t len) { clients_[client].push_back({clock, len}); }
  // Sorts each client's ranges and merges overlapping or adjacent ones (sortAndMergeDeleteSet).
  void SortAndMerge();
  bool IsDeleted(ID id) const;
  bool empty() const { return clients_.empty(); }

  const std::unordered_map<ClientId, Ranges>& clients() const { return clients_; }
  std::unordered_map<ClientId, Ranges>& clients() { return clients_; }

  // Clients descending, ranges as stored (writeDeleteSet).
  void Write(UpdateEncoder& encoder) const;
  // readDeleteSet; errors are left in the decoder.
  static DeleteSet Read(UpdateDecoder& decoder);
  // createDeleteSetFromStructStore
  static DeleteSet FromStore(const StructStore& store);
  // mergeDeleteSets
  static DeleteSet Merge(const std::vector<DeleteSet>& sets);

 private:
  std::unordered_map<ClientId, Ranges> clients_;
};

}  // namespace tandem::crdt

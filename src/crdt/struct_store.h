#pragma once
// Per-client arrays of structs ordered by clock (yjs `src/utils/StructStore.js`), with the
// binary search yjs uses. Owns its items through a pool.

#include <cstddef>
#include <memory>
#include <unordered_map>
#include <vector>

#include "crdt/item.h"
#include "crdt/state_vector.h"
#include "crdt/struct_list.h"

namespace tandem::crdt {

// Allocates a document's Items in chunks of the ItemHeap and recycles freed ones.
class ItemPool {
 public:
  ItemPool() = default;
  ItemPool(const ItemPool&) = delete;
  ItemPool& operator=(const ItemPool&) = delete;
  ~ItemPool();

  Item* New();
  void Free(Item* item);
  size_t live() const { return live_; }

 private:
  std::vector<std::pair<void*, size_t>> chunks_;  // start and size in bytes
  std::vector<Item*> free_;
  size_t used_in_chunk_ = 0;
  size_t chunk_items_ = 0;  // capacity of the newest chunk
  size_t live_ = 0;
};

class StructStore {
 public:
  using Structs = StructList;
  static constexpr size_t kNotFound = static_cast<size_t>(-1);

  StructStore() = default;
  StructStore(const StructStore&) = delete;
  StructStore& operator=(const StructStore&) = delete;
  ~StructStore();

  Clock GetState(ClientId client) const;
  StateVector GetStateVector() const;

  Structs* Get(ClientId client);
  const Structs* Get(ClientId client) const;
  const std::unordered_map<ClientId, Structs>& clients() const { return clients_; }
  std::unordered_map<ClientId, Structs>& clients() { return clients_; }

  // Index of the struct holding `clock`, or kNotFound.
  static size_t FindIndex(const Structs& structs, Clock clock);
  // The struct holding `id`, or nullptr.
  Item* Find(ID id) const;
  // Replaces the struct starting at old->id() with `replacement` and frees `old`.
  void Replace(Item* old, Item* replacement);

  ItemPool& pool() { return pool_; }

  // The ref items use for `client`; the store holds it until it goes.
  ClientRef Ref(ClientId client) {
    if (client == last_client_ && last_ref_ != kNoClientRef) return last_ref_;
    return RefSlow(client);
  }

  // A decode that fails gives back the refs it took: StartRefLog before it, DropLoggedRefs
  // after a failure (no item may use them then).
  void StartRefLog() { ref_log_.clear(); }
  void DropLoggedRefs();

 private:
  ClientRef RefSlow(ClientId client);

  ItemPool pool_;
  std::unordered_map<ClientId, ClientRef> refs_;
  ClientId last_client_ = 0;
  ClientRef last_ref_ = kNoClientRef;
  std::vector<ClientId> ref_log_;  // clients whose refs were taken since StartRefLog
  std::unordered_map<ClientId, Structs> clients_;
};

}  // namespace tandem::crdt

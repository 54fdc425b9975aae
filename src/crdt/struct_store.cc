#include "crdt/struct_store.h"

#include <algorithm>
#include <new>

namespace tandem::crdt {

ItemPool::~ItemPool() {
  // Items still alive are destroyed by their owner (StructStore) before the pool goes away.
  for (const auto& [chunk, bytes] : chunks_) ItemHeap::FreeChunk(chunk, bytes);
}

Item* ItemPool::New() {
  ++live_;
  if (!free_.empty()) {
    Item* item = free_.back();
    free_.pop_back();
    return new (item) Item;  // default-init: the members' initializers, no extra memset
  }
  if (chunks_.empty() || used_in_chunk_ == chunk_items_) {
    // Chunks grow from small (most rooms hold small documents) to large.
    const size_t bytes = chunks_.empty() ? ItemHeap::kMinChunk
                                         : std::min(chunks_.back().second * 2, ItemHeap::kMaxChunk);
    if (chunks_.capacity() == chunks_.size()) chunks_.reserve(chunks_.size() * 2 + 1);
    chunks_.emplace_back(ItemHeap::AllocateChunk(bytes), bytes);
    chunk_items_ = bytes / sizeof(Item);
    used_in_chunk_ = 0;
  }
  void* slot = static_cast<unsigned char*>(chunks_.back().first) + sizeof(Item) * used_in_chunk_++;
  return new (slot) Item;
}

void ItemPool::Free(Item* item) {
  --live_;
  item->~Item();
  free_.push_back(item);
}

StructStore::~StructStore() {
  for (auto& [client, structs] : clients_) {
    for (Item* item : structs) pool_.Free(item);
  }
  for (const auto& [client, ref] : refs_) ClientTable::Release(ref);
}

ClientRef StructStore::RefSlow(ClientId client) {
  auto [it, inserted] = refs_.try_emplace(client, kNoClientRef);
  if (inserted) {
    try {
      it->second = ClientTable::Acquire(client);
    } catch (...) {
      refs_.erase(it);
      throw;
    }
    ref_log_.push_back(client);
  }
  last_client_ = client;
  last_ref_ = it->second;
  return it->second;
}

Clock StructStore::GetState(ClientId client) const {
  auto it = clients_.find(client);
  if (it == clients_.end() || it->second.empty()) return 0;
  return it->second.back()->end_clock();
}

StateVector StructStore::GetStateVector() const {
  StateVector sv;
  sv.reserve(clients_.size());
  for (const auto& [client, structs] : clients_) {
    if (!structs.empty()) sv[client] = structs.back()->end_clock();
  }
  return sv;
}

StructStore::Structs* StructStore::Get(ClientId client) {
  auto it = clients_.find(client);
  return it == clients_.end() ? nullptr : &it->second;
}

const StructStore::Structs* StructStore::Get(ClientId client) const {
  auto it = clients_.find(client);
  return it == clients_.end() ? nullptr : &it->second;
}

void StructStore::DropLoggedRefs() {
  for (ClientId client : ref_log_) {
    auto it = refs_.find(client);
    ClientTable::Release(it->second);
    refs_.erase(it);
  }
  ref_log_.clear();
  last_ref_ = kNoClientRef;
}

size_t StructStore::FindIndex(const Structs& structs, Clock clock) {
  return structs.FindIndex(clock);
}

Item* StructStore::Find(ID id) const {
  const Structs* structs = Get(id.client);
  if (structs == nullptr) return nullptr;
  const size_t index = FindIndex(*structs, id.clock);
  return index == kNotFound ? nullptr : (*structs)[index];
}

void StructStore::Replace(Item* old, Item* replacement) {
  Structs& structs = clients_[old->client()];
  const size_t index = FindIndex(structs, old->clock());
  structs.Replace(index, replacement);
  pool_.Free(old);
}

}  // namespace tandem::crdt

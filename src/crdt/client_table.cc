#include "crdt/client_table.h"

#include <mutex>
#include <stdexcept>
#include <unordered_map>
#include <vector>

namespace tandem::crdt {

std::atomic<ClientId*> ClientTable::chunks_[ClientTable::kMaxChunks];

namespace {

struct Registry {
  std::mutex mu;
  std::unordered_map<ClientId, ClientRef> by_client;
  std::vector<uint32_t> counts;  // references held, per ref
  std::vector<ClientRef> free;   // refs whose count dropped to zero
};

Registry& registry() {
  static Registry* r = new Registry();  // never destroyed: documents may outlive statics
  return *r;
}

}  // namespace

ClientRef ClientTable::Acquire(ClientId client) {
  Registry& r = registry();
  std::lock_guard lock(r.mu);
  auto [it, inserted] = r.by_client.try_emplace(client, kNoClientRef);
  if (!inserted) {
    ++r.counts[it->second];
    return it->second;
  }
  ClientRef ref;
  if (!r.free.empty()) {
    ref = r.free.back();
    r.free.pop_back();
  } else {
    if (r.counts.size() >= static_cast<size_t>(kChunkSize) * kMaxChunks) {
      r.by_client.erase(it);
      throw std::length_error("too many distinct clients held at once");
    }
    ref = static_cast<ClientRef>(r.counts.size());
    r.counts.push_back(0);
    if ((ref & (kChunkSize - 1)) == 0) {
      chunks_[ref >> kChunkBits].store(new ClientId[kChunkSize](), std::memory_order_release);
    }
  }
  chunks_[ref >> kChunkBits].load(std::memory_order_relaxed)[ref & (kChunkSize - 1)] = client;
  r.counts[ref] = 1;
  it->second = ref;
  return ref;
}

void ClientTable::Release(ClientRef ref) {
  Registry& r = registry();
  std::lock_guard lock(r.mu);
  if (--r.counts[ref] == 0) {
    r.by_client.erase(Get(ref));
    r.free.push_back(ref);
  }
}

size_t ClientTable::live() {
  Registry& r = registry();
  std::lock_guard lock(r.mu);
  return r.by_client.size();
}

}  // namespace tandem::crdt

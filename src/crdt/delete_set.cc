#include "crdt/delete_set.h"

#include <algorithm>

#include "crdt/struct_store.h"
#include "crdt/update_codec.h"

namespace tandem::crdt {

void DeleteSet::SortAndMerge() {
  for (auto& [client, dels] : clients_) {
    std::sort(dels.begin(), dels.end(),
              [](const DeleteItem& a, const DeleteItem& b) { return a.clock < b.clock; });
    size_t j = 1;
    for (size_t i = 1; i < dels.size(); ++i) {
      DeleteItem& left = dels[j - 1];
      const DeleteItem& right = dels[i];
      if (left.clock + left.len >= right.clock) {
        left.len = std::max(left.len, right.clock + right.len - left.clock);
      } else {
        if (j < i) dels[j] = right;
        ++j;
      }
    }
    if (!dels.empty()) dels.resize(j);
  }
}

bool DeleteSet::IsDeleted(ID id) const {
  auto it = clients_.find(id.client);
  if (it == clients_.end()) return false;
  const Ranges& dis = it->second;
  size_t left = 0;
  size_t right = dis.size();
  while (left < right) {
    const size_t mid = (left + right) / 2;
    if (dis[mid].clock <= id.clock) {
      if (id.clock < dis[mid].clock + dis[mid].len) return true;
      left = mid + 1;
    } else {
      right = mid;
    }
  }
  return false;
}

void DeleteSet::Write(UpdateEncoder& e) const {
  if (clients_.size() <= 1) {  // the common case of a local transaction: no order to sort
    e.rest().WriteVarUint(clients_.size());
    for (const auto& [client, dels] : clients_) WriteClientDeletes(e, client, dels);
    return;
  }
  std::vector<ClientId> order;
  order.reserve(clients_.size());
  for (const auto& [client, dels] : clients_) order.push_back(client);
  std::sort(order.begin(), order.end(), std::greater<>());
  e.rest().WriteVarUint(order.size());
  for (ClientId client : order) WriteClientDeletes(e, client, clients_.at(client));
}

DeleteSet DeleteSet::Read(UpdateDecoder& d) {
  DeleteSet ds;
  lib0::Decoder& rest = d.rest();
  const uint64_t num_clients = rest.ReadCount(2);
  for (uint64_t i = 0; i < num_clients && d.ok(); ++i) {
    d.ResetDsCurVal();
    const ClientId client = rest.ReadVarUint();
    const uint64_t n = rest.ReadCount(2);
    if (n == 0) continue;
    Ranges& dels = ds.clients_[client];
    dels.reserve(dels.size() + n);
    for (uint64_t k = 0; k < n && d.ok(); ++k) {
      const Clock clock = d.ReadDsClock();
      const uint64_t len = d.ReadDsLen();
      dels.push_back({clock, len});
    }
  }
  return ds;
}

DeleteSet DeleteSet::FromStore(const StructStore& store) {
  DeleteSet ds;
  for (const auto& [client, structs] : store.clients()) {
    Ranges items;
    for (size_t i = 0; i < structs.size(); ++i) {
      const Item* s = structs[i];
      if (!s->deleted()) continue;
      const Clock clock = s->clock();
      uint64_t len = s->length();
      while (i + 1 < structs.size() && structs[i + 1]->deleted()) {
        len += structs[i + 1]->length();
        ++i;
      }
      items.push_back({clock, len});
    }
    if (!items.empty()) ds.clients_[client] = std::move(items);
  }
  return ds;
}

DeleteSet DeleteSet::Merge(const std::vector<DeleteSet>& sets) {
  DeleteSet merged;
  for (const DeleteSet& ds : sets) {
    for (const auto& [client, dels] : ds.clients_) {
      Ranges& out = merged.clients_[client];
      out.insert(out.end(), dels.begin(), dels.end());
    }
  }
  merged.SortAndMerge();
  return merged;
}

}  // namespace tandem::crdt

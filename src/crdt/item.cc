#include "crdt/item.h"

namespace tandem::crdt {

KeySlot* Type::FindSlot(const std::string* key) const {
  if (map_index_ != nullptr) {
    auto it = map_index_->find(key);
    return it == map_index_->end() ? nullptr : map_entries_[it->second];
  }
  for (KeySlot* slot : map_entries_) {
    if (slot->key == key) return slot;
  }
  return nullptr;
}

Item* Type::MapGet(const std::string* key) const {
  const KeySlot* slot = FindSlot(key);
  return slot == nullptr ? nullptr : slot->item;
}

void Type::AddSlot(KeySlot* slot) {
  map_entries_.push_back(slot);
  if (map_index_ != nullptr) {
    map_index_->emplace(slot->key, map_entries_.size() - 1);
  } else if (map_entries_.size() > 8) {
    map_index_ = std::make_unique<std::unordered_map<const std::string*, size_t>>();
    for (size_t i = 0; i < map_entries_.size(); ++i) (*map_index_)[map_entries_[i]->key] = i;
  }
}

void Type::MapClear() {
  map_entries_.clear();
  map_index_.reset();
}

}  // namespace tandem::crdt

#include "crdt/item.h"

namespace tandem::crdt {

Item* Type::MapGet(const std::string* key) const {
  if (map_index_ != nullptr) {
    auto it = map_index_->find(key);
    return it == map_index_->end() ? nullptr : map_entries_[it->second].second;
  }
  for (const auto& [k, value] : map_entries_) {
    if (k == key) return value;
  }
  return nullptr;
}

void Type::MapSet(const std::string* key, Item* value) {
  if (map_index_ == nullptr) {
    for (auto& entry : map_entries_) {
      if (entry.first == key) {
        entry.second = value;
        return;
      }
    }
    map_entries_.emplace_back(key, value);
    if (map_entries_.size() > 8) {
      map_index_ = std::make_unique<std::unordered_map<const std::string*, size_t>>();
      for (size_t i = 0; i < map_entries_.size(); ++i) (*map_index_)[map_entries_[i].first] = i;
    }
    return;
  }
  auto [it, inserted] = map_index_->emplace(key, map_entries_.size());
  if (inserted) {
    map_entries_.emplace_back(key, value);
  } else {
    map_entries_[it->second].second = value;
  }
}

void Type::MapClear() {
  map_entries_.clear();
  map_index_.reset();
}

}  // namespace tandem::crdt

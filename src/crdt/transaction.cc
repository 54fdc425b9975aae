#include "crdt/transaction.h"

#include <algorithm>
#include <stdexcept>

#include "crdt/doc_internal.h"
#include "crdt/events.h"
#include "crdt/struct_store.h"
#include "crdt/types/text.h"

namespace tandem::crdt {

Transaction::Transaction(Doc& d) : doc_(&d) {}

Transaction::~Transaction() = default;

void Transaction::Reset(bool is_local, const void* txn_origin) {
  // Clearing an empty hash map still sweeps its buckets: skip what was not used.
  changed_clients.clear();
  if (!changed_index_.empty()) changed_index_.clear();
  if (!delete_set.empty()) delete_set.Clear();
  merge_structs.clear();
  local = is_local;
  origin = txn_origin;
  changed.Clear();
  if (!changed_parent_types.empty()) changed_parent_types.clear();
  if (!events.empty()) events.clear();
  need_formatting_cleanup = false;
  applying_update = false;
  split_snapshots.clear();
}

Clock Transaction::BeforeState(ClientId client) const {
  if (changed_index_.empty()) {
    for (const ClientChange& c : changed_clients) {
      if (c.client == client) return c.before;
    }
  } else if (auto it = changed_index_.find(client); it != changed_index_.end()) {
    return changed_clients[it->second].before;
  }
  return DocInternals::store(doc()).GetState(client);  // unchanged
}

void Transaction::RecordGrowth(ClientId client, Clock before) {
  if (!changed_clients.empty() && changed_clients.back().client == client) return;
  constexpr size_t kLinear = 8;
  if (changed_index_.empty()) {
    for (const ClientChange& c : changed_clients) {
      if (c.client == client) return;
    }
    changed_clients.push_back({client, before, before});
    if (changed_clients.size() > kLinear) {
      for (size_t i = 0; i < changed_clients.size(); ++i)
        changed_index_[changed_clients[i].client] = i;
    }
    return;
  }
  if (changed_index_.emplace(client, changed_clients.size()).second) {
    changed_clients.push_back({client, before, before});
  }
}

namespace {
constexpr size_t kChangedTypesLinear = 8;
}

size_t ChangedTypes::IndexOf(const Type* type) const {
  if (!index_.empty()) {
    auto it = index_.find(type);
    return it == index_.end() ? count_ : it->second;
  }
  for (size_t i = 0; i < count_; ++i) {
    if (entries_[i].first == type) return i;
  }
  return count_;
}

void ChangedTypes::Add(Type* type, const std::string* sub) {
  if (const size_t i = IndexOf(type); i < count_) {
    auto& subs = entries_[i].second;
    if (subs.size() < kChangedTypesLinear && subs_index_.empty()) {
      if (std::find(subs.begin(), subs.end(), sub) == subs.end()) subs.push_back(sub);
      return;
    }
    if (subs_index_.empty()) {
      for (size_t k = 0; k < count_; ++k) {
        for (const std::string* s : entries_[k].second) subs_index_.emplace(entries_[k].first, s);
      }
    }
    if (subs_index_.emplace(type, sub).second) subs.push_back(sub);
    return;
  }
  if (!subs_index_.empty()) subs_index_.emplace(type, sub);
  if (count_ == entries_.size()) entries_.emplace_back();
  auto& entry = entries_[count_];
  entry.first = type;
  entry.second.assign(1, sub);
  if (!index_.empty()) {
    index_.emplace(type, count_);
  } else if (count_ + 1 > kChangedTypesLinear) {
    for (size_t i = 0; i <= count_; ++i) {
      if (entries_[i].first != nullptr) index_.emplace(entries_[i].first, i);
    }
  }
  ++count_;
  ++live_;
}

void ChangedTypes::Clear() {
  count_ = 0;
  live_ = 0;
  if (!index_.empty()) index_.clear();
  if (!subs_index_.empty()) subs_index_.clear();
}

void ChangedTypes::Erase(Type* type) {
  // A hole keeps the order of the others (a JS Map delete) without moving them.
  const size_t i = IndexOf(type);
  if (i == count_) return;
  if (!subs_index_.empty()) {
    for (const std::string* sub : entries_[i].second) subs_index_.erase({type, sub});
  }
  entries_[i].first = nullptr;
  entries_[i].second.clear();
  if (!index_.empty()) index_.erase(type);
  --live_;
}

const std::vector<const std::string*>* ChangedTypes::Find(const Type* type) const {
  if (type == nullptr) return nullptr;
  const size_t i = IndexOf(type);
  return i < count_ ? &entries_[i].second : nullptr;
}

std::vector<std::string> ChangedRootNames(const Transaction& t) {
  std::vector<std::string> names;
  std::unordered_map<const Type*, const std::string*> root_of;  // null: detached
  std::vector<const Type*> walked;
  for (size_t i = 0; i < t.changed.size(); ++i) {
    const Type* type = t.changed.type(i);
    if (type == nullptr) continue;
    walked.clear();
    const std::string* root = nullptr;
    while (true) {
      if (auto it = root_of.find(type); it != root_of.end()) {
        root = it->second;
        break;
      }
      walked.push_back(type);
      if (type->root_name != nullptr) {
        root = type->root_name;
        break;
      }
      const Type* parent = type->item != nullptr ? type->item->parent() : nullptr;
      if (parent == nullptr) break;
      type = parent;
    }
    for (const Type* w : walked) root_of.emplace(w, root);
    if (root != nullptr && std::find(names.begin(), names.end(), *root) == names.end()) {
      names.push_back(*root);
    }
  }
  return names;
}

void AddChangedType(Transaction& t, Type* type, const std::string* parent_sub) {
  const Item* item = type->item;
  if (item == nullptr || (item->clock() < t.BeforeState(item->client()) && !item->deleted())) {
    t.changed.Add(type, parent_sub);
  }
}

namespace {

StructStore::Structs& StructsOf(Transaction& t, ClientId client) {
  return *DocInternals::store(t.doc()).Get(client);
}

// Item.mergeWith / GC.mergeWith for integrated structs.
bool MergeWith(Item* left, Item* right) {
  if (left->is_gc() || right->is_gc()) {
    if (!(left->is_gc() && right->is_gc())) return false;
    return left->content.MergeWith(right->content);  // both Deleted: the lengths add up
  }
  const uint64_t left_length = left->length();  // before the contents merge
  if (right->origin_is(left->client_ref(), left->clock() + left_length - 1) &&
      left->right == right && left->same_right_origin(*right) &&
      left->client_ref() == right->client_ref() && left->clock() + left_length == right->clock() &&
      left->deleted() == right->deleted() && left->content.ref() == right->content.ref() &&
      left->content.MergeWith(right->content)) {
    // `right` is forgotten: markers on it move to `left` (Item.mergeWith).
    Type* parent = left->parent();
    if ((right->info & kItemMarked) != 0 && parent != nullptr && !parent->markers.empty()) {
      SearchMarkers& markers = parent->markers;
      for (size_t i = 0; i < markers.size(); ++i) {
        if (markers.items[i] != right) continue;
        markers.items[i] = left;
        left->info |= kItemMarked;
        if (!left->deleted() && left->countable()) markers.indices[i] -= left_length;
      }
    }
    if (right->keep()) left->set_keep(true);
    left->right = right->right;
    if (left->right != nullptr) left->right->left = left;
    return true;
  }
  return false;
}

// tryToMergeWithLefts: merges structs[pos] into its left neighbours while possible; returns
// how many structs were merged away.
size_t TryToMergeWithLefts(StructStore& store, StructStore::Structs& structs, size_t pos) {
  size_t i = pos;
  for (; i > 0; --i) {
    Item* right = structs[i];
    Item* left = structs[i - 1];
    if (left->deleted() != right->deleted() || left->is_gc() != right->is_gc()) break;
    if (!MergeWith(left, right)) break;
    KeySlot* slot = right->is_gc() ? nullptr : right->key_slot();
    if (slot != nullptr && slot->item == right) slot->item = left;
  }
  const size_t merged = pos - i;
  if (merged > 0) {
    for (size_t k = pos + 1 - merged; k <= pos; ++k) store.pool().Free(structs[k]);
    structs.erase(pos + 1 - merged, pos + 1);
  }
  return merged;
}

// Item.gc: drops the content of a deleted item; inside a collected parent the item becomes GC.
// yjs recurses into nested types; a worklist keeps the stack flat however deep the nesting
// (hostile updates nest tens of thousands of levels). Children are collected after their
// parent is: each child's collection touches only the child, so the order does not show.
void GcItem(Doc& doc, Item* top, bool top_parent_gcd) {
  StructStore& store = DocInternals::store(doc);
  std::vector<std::pair<Item*, bool>> work{{top, top_parent_gcd}};
  while (!work.empty()) {
    auto [item, parent_gcd] = work.back();
    work.pop_back();
    const uint64_t length = item->length();
    if (Type* type = item->content.type()) {
      for (Item* child = type->start; child != nullptr; child = child->right) {
        work.emplace_back(child, true);
      }
      type->start = nullptr;
      for (const KeySlot* entry : type->map_entries()) {
        for (Item* child = entry->item; child != nullptr; child = child->left) {
          work.emplace_back(child, true);
        }
      }
      type->MapClear();
      type->markers.clear();
      type->length = 0;
      type->item = nullptr;
      type->collected = true;
      DocInternals::RetireType(doc, item->content.TakeType());
      item->content = Content::Deleted(length);  // the struct keeps its clock range
    }
    if (parent_gcd) {
      Item* gc = store.pool().New();
      gc->set_id(item->client_ref(), item->clock());
      gc->content = Content::Deleted(length);
      gc->set_gc();
      store.Replace(item, gc);
    } else {
      item->content = Content::Deleted(length);
    }
  }
}

void TryGcDeleteSet(const DeleteSet& ds, Doc& doc) {
  StructStore& store = DocInternals::store(doc);
  for (const auto& [client, deletes] : ds.clients()) {
    StructStore::Structs* structs = store.Get(client);
    if (structs == nullptr) continue;
    for (size_t di = deletes.size(); di-- > 0;) {
      const DeleteItem& d = deletes[di];
      const Clock end = d.clock + d.len;
      for (size_t si = StructStore::FindIndex(*structs, d.clock);
           si < structs->size() && (*structs)[si]->clock() < end; ++si) {
        Item* s = (*structs)[si];
        if (!s->is_gc() && s->deleted() && !s->keep()) GcItem(doc, s, false);
      }
    }
  }
}

void TryMergeDeleteSet(const DeleteSet& ds, StructStore& store) {
  for (const auto& [client, deletes] : ds.clients()) {
    StructStore::Structs* structs = store.Get(client);
    if (structs == nullptr) continue;
    for (size_t di = deletes.size(); di-- > 0;) {
      const DeleteItem& d = deletes[di];
      const size_t last = StructStore::FindIndex(*structs, d.clock + d.len - 1);
      if (last == StructStore::kNotFound) continue;
      int64_t si = static_cast<int64_t>(std::min(structs->size() - 1, last + 1));
      while (si > 0 && (*structs)[static_cast<size_t>(si)]->clock() >= d.clock) {
        si -=
            1 + static_cast<int64_t>(TryToMergeWithLefts(store, *structs, static_cast<size_t>(si)));
      }
    }
  }
}

void Cleanup(Transaction& t) {
  Doc& doc = t.doc();
  StructStore& store = DocInternals::store(doc);
  t.delete_set.SortAndMerge();
  for (Transaction::ClientChange& c : t.changed_clients) c.after = store.GetState(c.client);
  CallObservers(t);
  if (t.need_formatting_cleanup && doc.clean_up_formatting()) CleanupTextAfterTransaction(t);
  if (doc.gc()) TryGcDeleteSet(t.delete_set, doc);
  TryMergeDeleteSet(t.delete_set, store);
  for (const Transaction::ClientChange& c : t.changed_clients) {
    const Clock before = c.before;
    if (before == c.after) continue;
    StructStore::Structs& structs = StructsOf(t, c.client);
    const size_t found = StructStore::FindIndex(structs, before);
    const int64_t first_change =
        std::max<int64_t>(found == StructStore::kNotFound ? 0 : static_cast<int64_t>(found), 1);
    for (int64_t i = static_cast<int64_t>(structs.size()) - 1; i >= first_change;) {
      i -= 1 + static_cast<int64_t>(TryToMergeWithLefts(store, structs, static_cast<size_t>(i)));
    }
  }
  for (size_t i = t.merge_structs.size(); i-- > 0;) {
    const ID id = t.merge_structs[i];
    StructStore::Structs& structs = StructsOf(t, id.client);
    const size_t pos = StructStore::FindIndex(structs, id.clock);
    if (pos == StructStore::kNotFound) continue;
    if (pos + 1 < structs.size() && TryToMergeWithLefts(store, structs, pos + 1) > 1) continue;
    if (pos > 0) TryToMergeWithLefts(store, structs, pos);
  }
  const bool own_client_changed = std::any_of(
      t.changed_clients.begin(), t.changed_clients.end(),
      [&](const auto& c) { return c.client == doc.client_id() && c.after != c.before; });
  if (!t.local && own_client_changed) {
    DocInternals::RegenerateClientId(doc);  // another client is using our id
  }
  DocInternals::EmitUpdate(doc, t);
}

}  // namespace

void Transact(Doc& doc, FunctionRef<void(Transaction&)> fn, bool local, const void* origin) {
  if (DocInternals::current_transaction(doc) != nullptr) {
    fn(*DocInternals::current_transaction(doc));
    return;
  }
  auto& cleanups = DocInternals::transaction_cleanups(doc);
  cleanups.push_back(DocInternals::AcquireTransaction(doc));
  Transaction* t = cleanups.back().get();
  t->Reset(local, origin);
  const bool first = cleanups.size() == 1;
  DocInternals::set_current_transaction(doc, t);
  fn(*t);
  DocInternals::set_current_transaction(doc, nullptr);
  if (!first) return;  // started by an observer: cleaned up by the loop below, after its parent
  for (size_t i = 0; i < cleanups.size(); ++i) Cleanup(*cleanups[i]);
  for (auto& done : cleanups) DocInternals::ReleaseTransaction(doc, std::move(done));
  cleanups.clear();
}

// findIndexCleanStart
size_t FindIndexCleanStart(Transaction& t, StructStore::Structs& structs, Clock clock) {
  size_t index = StructStore::FindIndex(structs, clock);
  Item* s = structs[index];
  if (s->clock() < clock && !s->is_gc()) {
    structs.insert(index + 1, SplitItem(t, s, clock - s->clock()));
    return index + 1;
  }
  return index;
}

// iterateStructs: calls f on every struct covering [clock_start, clock_start + len), splitting
// the first and last so they start and end on the range.
void IterateStructs(Transaction& t, StructStore::Structs& structs, Clock clock_start, uint64_t len,
                    FunctionRef<void(Item*)> f) {
  if (len == 0) return;
  const Clock clock_end = clock_start + len;
  size_t index = FindIndexCleanStart(t, structs, clock_start);
  for (;;) {
    Item* s = structs[index++];
    if (clock_end < s->clock() + s->length()) FindIndexCleanStart(t, structs, clock_end);
    f(s);
    if (!(index < structs.size() && structs[index]->clock() < clock_end)) break;
  }
}

// iterateDeletedStructs
void IterateDeletedStructs(Transaction& t, const DeleteSet& ds, FunctionRef<void(Item*)> f) {
  for (const auto& [client, deletes] : ds.clients()) {
    StructStore::Structs* structs = DocInternals::store(t.doc()).Get(client);
    if (structs == nullptr || structs->empty()) continue;
    const Clock state = structs->back()->end_clock();
    for (const DeleteItem& d : deletes) {
      if (d.clock >= state) break;
      IterateStructs(t, *structs, d.clock, d.len, f);
    }
  }
}

Item* InsertLocalItem(Transaction& t, Item* left, Item* right, Type* parent,
                      const std::string* parent_sub, Content content) {
  StructStore& store = DocInternals::store(t.doc());
  const ClientId client = t.doc().client_id();
  const Clock clock = store.GetState(client);
  if (content.length() > kMaxItemClock + 1 - clock) {
    throw std::length_error("this client's clock would pass 2^32 - 1, the largest an item stores");
  }
  Item* item = store.pool().New();
  item->set_id(store.Ref(client), clock);
  item->left = left;
  if (left != nullptr) item->set_origin_after(*left);
  item->right = right;
  if (right != nullptr) item->set_right_origin_at(*right);
  if (parent_sub != nullptr) {
    item->set_key_slot(DocInternals::KeySlotFor(t.doc(), parent, parent_sub));
  } else {
    item->set_parent(parent);
  }
  item->content = std::move(content);
  item->info = item->content.countable() ? kItemCountable : 0;
  Integrate(t, item, 0);
  return item;
}

void AddStruct(Transaction& t, Item* item) {
  StructStore& store = DocInternals::store(t.doc());
  const ClientId client = item->client();
  StructStore::Structs& structs = store.clients()[client];
  const Clock state = structs.empty() ? 0 : structs.back()->end_clock();
  t.RecordGrowth(client, state);
  if (!structs.empty() && state != item->clock()) {
    store.pool().Free(item);  // not contiguous: unreachable by design
    return;
  }
  structs.push_back(item);
}

Item* SplitItem(Transaction& t, Item* left, uint64_t diff) {
  Item* right = DocInternals::store(t.doc()).pool().New();
  right->set_id(left->client_ref(), left->clock() + diff);
  right->left = left;
  right->set_origin(left->client_ref(), left->clock() + diff - 1);
  right->right = left->right;
  right->copy_right_origin(*left);
  right->copy_parent(*left);
  right->content = left->content.Splice(diff);
  right->info = right->content.countable() ? kItemCountable : 0;
  if (left->deleted()) right->MarkDeleted();
  if (left->keep()) right->set_keep(true);
  left->right = right;
  if (right->right != nullptr) right->right->left = right;
  t.merge_structs.push_back(right->id());
  if (KeySlot* slot = right->key_slot(); slot != nullptr && right->right == nullptr) {
    slot->item = right;
  }
  return right;
}

Item* GetItemCleanStart(Transaction& t, ID id) {
  StructStore::Structs* structs = DocInternals::store(t.doc()).Get(id.client);
  if (structs == nullptr) return nullptr;
  const size_t index = StructStore::FindIndex(*structs, id.clock);
  if (index == StructStore::kNotFound) return nullptr;
  Item* s = (*structs)[index];
  if (s->clock() < id.clock && !s->is_gc()) {
    Item* right = SplitItem(t, s, id.clock - s->clock());
    structs->insert(index + 1, right);
    return right;
  }
  return s;
}

Item* GetItemCleanEnd(Transaction& t, ID id) {
  StructStore::Structs* structs = DocInternals::store(t.doc()).Get(id.client);
  if (structs == nullptr) return nullptr;
  const size_t index = StructStore::FindIndex(*structs, id.clock);
  if (index == StructStore::kNotFound) return nullptr;
  Item* s = (*structs)[index];
  if (id.clock != s->clock() + s->length() - 1 && !s->is_gc()) {
    Item* right = SplitItem(t, s, id.clock - s->clock() + 1);
    structs->insert(index + 1, right);
  }
  return s;
}

std::optional<ClientId> GetMissing(Transaction& t, Item* item) {
  StructStore& store = DocInternals::store(t.doc());
  // Refs of one client are equal, so the common case (origins of the item's own client)
  // costs no lookup.
  if (item->has_origin() && item->origin_client_ref() != item->client_ref()) {
    const ClientId client = ClientTable::Get(item->origin_client_ref());
    if (item->origin_clock() >= store.GetState(client)) return client;
  }
  const bool parent_is_id = (item->info & kItemParentIsId) != 0;
  if (item->has_right_origin() && item->right_origin_client_ref() != item->client_ref()) {
    const ClientId client = ClientTable::Get(item->right_origin_client_ref());
    // the right origin, or the parent's ID
    if (item->right_origin_clock() >= store.GetState(client)) return client;
  }
  const ID parent_id = parent_is_id ? item->parent_id() : ID{};
  if (parent_is_id) item->clear_right_origin();  // it held the parent's ID
  // Everything is there: find the neighbours. A reference the store cannot resolve only comes
  // from a malformed update; such an item is collected (parent = null) instead of crashing.
  bool unresolvable = false;
  if (item->has_origin()) {
    item->left = GetItemCleanEnd(t, item->origin().id);
    if (item->left == nullptr) {
      unresolvable = true;
    } else {
      item->set_origin_after(*item->left);
    }
  }
  if (item->has_right_origin()) {
    // The right origin is mostly still the left neighbour's right (nothing was inserted between
    // them since): then it is found without a search.
    Item* next = item->left != nullptr ? item->left->right : nullptr;
    item->right = next != nullptr && item->right_origin_is_start_of(*next)
                      ? next
                      : GetItemCleanStart(t, item->right_origin().id);
    if (item->right == nullptr) {
      unresolvable = true;
    } else {
      item->set_right_origin_at(*item->right);
    }
  }
  item->info &= static_cast<uint8_t>(~kItemParentIsId);
  if (unresolvable || (item->left != nullptr && item->left->is_gc()) ||
      (item->right != nullptr && item->right->is_gc())) {
    item->set_parent(nullptr);
  } else if (parent_is_id) {
    Item* parent_item = store.Find(parent_id);
    item->set_parent(parent_item == nullptr || parent_item->is_gc() ? nullptr
                                                                    : parent_item->content.type());
  } else if (item->parent() == nullptr) {
    if (item->left != nullptr && !item->left->is_gc()) {
      item->copy_parent(*item->left);
    } else if (item->right != nullptr && !item->right->is_gc()) {
      item->copy_parent(*item->right);
    }
  }
  return std::nullopt;
}

namespace {

// The sets of the conflict loop. Adding is a push_back; membership is asked only for items
// whose origin differs, and a hash index is built the first time a large set is asked.
// (Thousands of items conflict when many clients insert at one position concurrently.)
class ItemSet {
 public:
  void Add(const Item* i) {
    items_.push_back(i);
    if (indexed_) index_.insert(i);
  }
  bool Has(const Item* i) {
    if (items_.size() <= kLinear) return std::find(items_.begin(), items_.end(), i) != items_.end();
    if (!indexed_) {
      index_.insert(items_.begin(), items_.end());
      indexed_ = true;
    }
    return index_.count(i) > 0;
  }
  void Clear() {
    items_.clear();
    if (indexed_) {
      index_.clear();
      indexed_ = false;
    }
  }

 private:
  static constexpr size_t kLinear = 32;
  std::vector<const Item*> items_;
  std::unordered_set<const Item*> index_;
  bool indexed_ = false;
};

// ContentX.integrate
void IntegrateContent(Transaction& t, Item* item) {
  switch (item->content.ref()) {
    case ContentRef::kDeleted:
      t.delete_set.Add(item->client(), item->clock(), item->length());
      item->MarkDeleted();
      break;
    case ContentRef::kType: {
      Type* type = item->content.type();
      type->item = item;
      if (type->prelim) IntegratePrelim(t, type);
      break;
    }
    case ContentRef::kFormat:
      // Search markers are not kept for rich text (ContentFormat.integrate).
      {
        Type* parent = item->parent();
        parent->has_formatting = true;
        parent->has_format_items = true;
        parent->markers_enabled = false;
        parent->markers.clear();
        break;
      }
    default: break;
  }
}

}  // namespace

void Integrate(Transaction& t, Item* item, uint64_t offset) {
  StructStore& store = DocInternals::store(t.doc());
  if (item->is_gc()) {
    if (offset > 0) {
      item->set_clock(item->clock() + offset);
      item->content = Content::Deleted(item->length() - offset);
    }
    AddStruct(t, item);
    return;
  }
  if (offset > 0) {
    item->set_clock(item->clock() + offset);
    item->left = GetItemCleanEnd(t, ID{item->client(), item->clock() - 1});
    item->set_origin_after(*item->left);
    item->content = item->content.Splice(offset);
  }
  if (item->parent() == nullptr) {
    // The parent is gone (collected): keep only the clock range, as a GC struct.
    item->set_gc();
    item->content = Content::Deleted(item->length());
    item->left = item->right = nullptr;
    item->clear_parent();
    item->clear_origin();
    item->clear_right_origin();
    item->info = kItemGc;
    AddStruct(t, item);
    return;
  }
  Type* parent = item->parent();
  if ((item->info & kItemProvisionalKey) != 0) {
    // The map is known now: the key joins it (in integration order, as yjs's _map.set).
    item->set_key_slot(DocInternals::KeySlotFor(t.doc(), parent, item->parent_sub()));
    item->info &= static_cast<uint8_t>(~kItemProvisionalKey);
  }
  KeySlot* const slot = item->key_slot();
  if (t.applying_update && !parent->markers.empty()) parent->markers.clear();
  if ((item->left == nullptr && (item->right == nullptr || item->right->left != nullptr)) ||
      (item->left != nullptr && item->left->right != item->right)) {
    Item* left = item->left;
    Item* o;
    if (left != nullptr) {
      o = left->right;
    } else if (slot != nullptr) {
      o = slot->item;
      while (o != nullptr && o->left != nullptr) o = o->left;
    } else {
      o = parent->start;
    }
    ItemSet conflicting;
    ItemSet before_origin;
    while (o != nullptr && o != item->right) {
      before_origin.Add(o);
      conflicting.Add(o);
      if (item->same_origin(*o)) {
        if (o->client() < item->client()) {
          left = o;
          conflicting.Clear();
        } else if (item->same_right_origin(*o)) {
          break;
        }
      } else if (o->has_origin() && before_origin.Has(store.Find(o->origin().id))) {
        if (!conflicting.Has(store.Find(o->origin().id))) {
          left = o;
          conflicting.Clear();
        }
      } else {
        break;
      }
      o = o->right;
    }
    item->left = left;
  }
  if (item->left != nullptr) {
    item->right = item->left->right;
    item->left->right = item;
  } else {
    Item* r;
    if (slot != nullptr) {
      r = slot->item;
      while (r != nullptr && r->left != nullptr) r = r->left;
    } else {
      r = parent->start;
      parent->start = item;
    }
    item->right = r;
  }
  if (item->right != nullptr) {
    item->right->left = item;
  } else if (slot != nullptr) {
    slot->item = item;
    if (item->left != nullptr) DeleteStruct(t, item->left);  // the previous value of this key
  }
  if (slot == nullptr && item->countable() && !item->deleted()) parent->length += item->length();
  AddStruct(t, item);
  IntegrateContent(t, item);
  AddChangedType(t, parent, item->parent_sub());
  if ((parent->item != nullptr && parent->item->deleted()) ||
      (slot != nullptr && item->right != nullptr)) {
    DeleteStruct(t, item);
  }
}

void DeleteStruct(Transaction& t, Item* top) {
  if (top->deleted()) return;
  // Item.delete recurses into a deleted type's children; an explicit stack visits them in the
  // same order (depth first, list part then map part) without growing the call stack.
  std::vector<Item*> work{top};
  std::vector<Item*> children;
  while (!work.empty()) {
    Item* item = work.back();
    work.pop_back();
    Type* parent = item->parent();
    if (t.applying_update && !parent->markers.empty()) parent->markers.clear();
    const std::string* parent_sub = item->parent_sub();
    if (item->countable() && parent_sub == nullptr) parent->length -= item->length();
    item->MarkDeleted();
    t.delete_set.Add(item->client(), item->clock(), item->length());
    AddChangedType(t, parent, parent_sub);
    Type* type = item->content.type();
    if (type == nullptr) continue;
    // Children cannot add this type back to `changed`: its item is deleted already.
    t.changed.Erase(type);
    children.clear();
    auto visit_child = [&](Item* child) {
      if (!child->deleted()) {
        children.push_back(child);
      } else if (child->clock() < t.BeforeState(child->client())) {
        t.merge_structs.push_back(child->id());  // collected later; try to merge it then
      }
    };
    for (Item* child = type->start; child != nullptr; child = child->right) visit_child(child);
    for (const KeySlot* entry : type->map_entries()) visit_child(entry->item);
    work.insert(work.end(), children.rbegin(), children.rend());
  }
}

}  // namespace tandem::crdt

#include "crdt/doc.h"

#include <algorithm>
#include <map>
#include <random>
#include <tuple>
#include <unordered_set>

#include "crdt/doc_internal.h"
#include "crdt/transaction.h"
#include "crdt/updates.h"

namespace tandem::crdt {

namespace {
// A random 32-bit id as yjs makes (random.uint32()). Opening the random device for every
// document was measurable when a server loads thousands of rooms, so each thread seeds one
// generator from it.
ClientId RandomClientId() {
  thread_local std::mt19937_64 generator{std::random_device{}()};
  return static_cast<ClientId>(static_cast<uint32_t>(generator()));
}
constexpr Clock kMaxClock = (Clock{1} << 53) - 1;
}  // namespace

Doc::Doc(DocOptions options)
    : client_id_(options.client_id != 0 ? options.client_id : RandomClientId()),
      gc_(options.gc),
      clean_up_formatting_(options.clean_up_formatting) {}

Doc::~Doc() = default;

void Doc::Transact(FunctionRef<void(Transaction&)> fn, const void* origin) {
  crdt::Transact(*this, fn, /*local=*/true, origin);
}

namespace {

// Finished transactions kept for reuse, with their scratch. They are shared by the documents
// of a thread (a document holds none), so a room's document does not pay for one at rest.
std::vector<std::unique_ptr<Transaction>>& SpareTransactions() {
  thread_local std::vector<std::unique_ptr<Transaction>> spare;
  return spare;
}

}  // namespace

std::unique_ptr<Transaction> Doc::AcquireTransaction() {
  auto& spare = SpareTransactions();
  if (spare.empty()) return std::make_unique<Transaction>(*this);
  std::unique_ptr<Transaction> t = std::move(spare.back());
  spare.pop_back();
  t->Rebind(*this);
  return t;
}

void Doc::ReleaseTransaction(std::unique_ptr<Transaction> t) {
  // A transaction that loaded a whole document has scratch sized for it: keeping that for the
  // small edits that follow would hold as much memory as a tenth of the document.
  constexpr size_t kLargeScratch = 1024;
  auto& spare = SpareTransactions();
  if (t->merge_structs.capacity() > kLargeScratch || spare.size() >= 4) return;
  t->Reset(/*local=*/true, /*origin=*/nullptr);  // a kept transaction holds no finished changes
  spare.push_back(std::move(t));
}

void Doc::RegenerateClientId() {
  client_id_ = RandomClientId();
}

const std::string* Doc::InternKey(std::string_view key) {
  return &*keys_.emplace(key).first;
}

KeySlot* Doc::KeySlotFor(Type* type, const std::string* key) {
  if (KeySlot* slot = type->FindSlot(key)) return slot;
  key_slots_.push_back(std::make_unique<KeySlot>());
  KeySlot* slot = key_slots_.back().get();
  slot->type = type;
  slot->key = key;
  type->AddSlot(slot);
  return slot;
}

KeySlot* Doc::NewProvisionalKeySlot(const std::string* key) {
  provisional_key_slots_.push_back(std::make_unique<KeySlot>());
  provisional_key_slots_.back()->key = key;
  return provisional_key_slots_.back().get();
}

const std::string* Doc::FindKey(std::string_view key) const {
  auto it = keys_.find(std::string(key));
  return it == keys_.end() ? nullptr : &*it;
}

Type* Doc::FindRoot(std::string_view name) const {
  for (const auto& [key, type] : root_order_) {
    if (*key == name) return type;
  }
  return nullptr;
}

Type* Doc::GetOrCreateRoot(std::string_view name, TypeRef ref) {
  if (Type* t = FindRoot(name)) {
    if (t->ref == TypeRef::kUndefined) t->ref = ref;
    return t;
  }
  auto type = std::make_unique<Type>();
  type->ref = ref;
  type->root_name = InternKey(name);
  root_order_.emplace_back(type->root_name, type.get());
  root_types_.push_back(std::move(type));
  return root_types_.back().get();
}

void Doc::OnUpdate(UpdateObserver observer, UpdateFormat format) {
  (format == UpdateFormat::kV2 ? on_update_v2_ : on_update_v1_) = std::move(observer);
}

void Doc::EmitUpdate(Transaction& t) {
  if (on_update_v1_) {
    if (!update_encoder_v1_) update_encoder_v1_ = std::make_unique<UpdateEncoderV1>();
    if (WriteUpdateFromTransaction(t, *update_encoder_v1_)) {
      on_update_v1_(update_encoder_v1_->Finish(), t);
    }
  }
  if (on_update_v2_) {
    if (!update_encoder_v2_) update_encoder_v2_ = std::make_unique<UpdateEncoderV2>();
    if (WriteUpdateFromTransaction(t, *update_encoder_v2_)) {
      on_update_v2_(update_encoder_v2_->Finish(), t);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Writing

namespace {

// Item.write / GC.write for integrated (or not yet integrated) structs. A template so that the
// bulk writers call the final encoder classes directly.
template <typename Encoder>
void WriteStructTo(Encoder& e, const Item& item, uint64_t offset) {
  if (item.is_gc()) {
    e.WriteInfo(0);
    e.WriteLen(item.length() - offset);
    return;
  }
  if (item.is_skip()) {
    e.WriteInfo(10);
    e.rest().WriteVarUint(item.length() - offset);
    return;
  }
  const OptionalId origin =
      offset > 0 ? OptionalId(ID{item.client(), item.clock() + offset - 1}) : item.origin();
  const bool parent_is_id = (item.info & kItemParentIsId) != 0;
  const OptionalId right_origin = parent_is_id ? OptionalId() : item.right_origin();
  const uint8_t info =
      static_cast<uint8_t>((static_cast<uint8_t>(item.content.ref()) & 0x1f) | (origin ? 0x80 : 0) |
                           (right_origin ? 0x40 : 0) | (item.parent_sub() != nullptr ? 0x20 : 0));
  e.WriteInfo(info);
  if (origin) e.WriteLeftId(origin.id);
  if (right_origin) e.WriteRightId(right_origin.id);
  if (!origin && !right_origin) {
    if (parent_is_id) {
      e.WriteParentInfo(false);
      e.WriteLeftId(item.parent_id());
    } else if (const Type* parent = item.parent(); parent != nullptr && parent->item == nullptr) {
      e.WriteParentInfo(true);
      e.WriteString(parent->root_name != nullptr ? *parent->root_name : std::string());
    } else if (parent != nullptr) {
      e.WriteParentInfo(false);
      e.WriteLeftId(parent->item->id());
    }
    if (const std::string* key = item.parent_sub()) e.WriteString(*key);
  }
  item.content.WriteTo(e, offset);
}

template <typename Encoder>
void WriteStructsTo(Encoder& e, const StructStore::Structs& structs, ClientId client, Clock clock) {
  clock = std::max(clock, structs[0]->clock());
  const size_t start = StructStore::FindIndex(structs, clock);
  e.rest().WriteVarUint(structs.size() - start);
  e.WriteClient(client);
  e.rest().WriteVarUint(clock);
  const Item* first = structs[start];
  WriteStructTo(e, *first, clock - first->clock());
  for (auto it = ++structs.IteratorAt(start); it != structs.end(); ++it) WriteStructTo(e, **it, 0);
}

void WriteStructs(UpdateEncoder& e, const StructStore::Structs& structs, ClientId client,
                  Clock clock) {
  WithFinalEncoder(e, [&](auto& typed) { WriteStructsTo(typed, structs, client, clock); });
}

}  // namespace

void WriteStruct(UpdateEncoder& e, const Item& item, uint64_t offset) {
  WriteStructTo(e, item, offset);
}

namespace {

void WriteClientsStructsFrom(UpdateEncoder& e,
                             const std::unordered_map<ClientId, StructStore::Structs>& clients,
                             const StateVector& sv) {
  // Every client the peer lacks something of, from the clock it has, clients descending.
  std::vector<std::tuple<ClientId, Clock, const StructStore::Structs*>> todo;
  todo.reserve(clients.size());
  for (const auto& [client, structs] : clients) {
    if (structs.empty()) continue;
    auto it = sv.find(client);
    if (it == sv.end()) {
      todo.emplace_back(client, 0, &structs);
    } else if (structs.back()->end_clock() > it->second) {
      todo.emplace_back(client, it->second, &structs);
    }
  }
  std::sort(todo.begin(), todo.end(),
            [](const auto& a, const auto& b) { return std::get<0>(a) > std::get<0>(b); });
  e.rest().WriteVarUint(todo.size());
  for (const auto& [client, clock, structs] : todo) WriteStructs(e, *structs, client, clock);
}

}  // namespace

namespace {

template <typename Encoder>
void WriteDeleteSetOfStoreTo(Encoder& e, const StructStore& store) {
  // createDeleteSetFromStructStore + writeDeleteSet without building the set: clients
  // descending, each client's deleted runs merged.
  std::vector<std::pair<ClientId, const StructStore::Structs*>> clients;
  for (const auto& [client, structs] : store.clients()) {
    for (const Item* s : structs) {
      if (s->deleted()) {
        clients.emplace_back(client, &structs);
        break;
      }
    }
  }
  std::sort(clients.begin(), clients.end(),
            [](const auto& a, const auto& b) { return a.first > b.first; });
  e.rest().WriteVarUint(clients.size());
  std::vector<DeleteItem> ranges;
  for (const auto& [client, structs] : clients) {
    ranges.clear();
    for (const Item* s : *structs) {
      if (!s->deleted()) continue;
      if (!ranges.empty() && ranges.back().clock + ranges.back().len == s->clock()) {
        ranges.back().len += s->length();
      } else {
        ranges.push_back({s->clock(), s->length()});
      }
    }
    WriteClientDeletes(e, client, ranges);
  }
}

}  // namespace

void WriteDeleteSetOfStore(UpdateEncoder& e, const StructStore& store) {
  WithFinalEncoder(e, [&](auto& typed) { WriteDeleteSetOfStoreTo(typed, store); });
}

void WriteClientsStructs(UpdateEncoder& e, const StructStore& store, const StateVector& sv) {
  WriteClientsStructsFrom(e, store.clients(), sv);
}

bool WriteUpdateFromTransaction(const Transaction& t, UpdateEncoder& e) {
  if (t.delete_set.empty() && t.changed_clients.empty()) return false;
  // writeStructsFromTransaction: every client that grew, from its clock before, descending.
  const StructStore& store = DocInternals::store(t.doc());
  e.rest().WriteVarUint(t.changed_clients.size());
  if (t.changed_clients.size() == 1) {
    const Transaction::ClientChange& c = t.changed_clients[0];
    WriteStructs(e, *store.Get(c.client), c.client, c.before);
  } else if (!t.changed_clients.empty()) {
    std::vector<std::pair<ClientId, Clock>> grown;
    grown.reserve(t.changed_clients.size());
    for (const auto& c : t.changed_clients) grown.emplace_back(c.client, c.before);
    std::sort(grown.begin(), grown.end(),
              [](const auto& a, const auto& b) { return a.first > b.first; });
    for (const auto& [client, clock] : grown) WriteStructs(e, *store.Get(client), client, clock);
  }
  t.delete_set.Write(e);
  return true;
}

std::vector<uint8_t> Doc::EncodeStateAsUpdate(const StateVector& target,
                                              UpdateFormat format) const {
  auto encoder = MakeUpdateEncoder(format);
  // A v1 update is one buffer: reserve what the last full state took. (A v2 update is assembled
  // from several streams at the end.)
  const bool full = target.empty() && format == UpdateFormat::kV1;
  if (full && last_full_encode_bytes_ > 0)
    encoder->Reserve(last_full_encode_bytes_ + last_full_encode_bytes_ / 8);
  WriteClientsStructs(*encoder, store_, target);
  WriteDeleteSetOfStore(*encoder, store_);
  std::vector<uint8_t> main = encoder->Finish();
  if (full) last_full_encode_bytes_ = main.size();
  if (!pending_ds_ && !pending_structs_) return main;
  // Pending structs and deletes travel along (they are v2; convert for a v1 result).
  std::vector<std::vector<uint8_t>> parts;
  if (pending_ds_) parts.push_back(*pending_ds_);
  if (pending_structs_) {
    auto diff = DiffUpdate(pending_structs_->Merged(), target, UpdateFormat::kV2);
    if (diff.ok()) parts.push_back(std::move(diff).value());
  }
  if (format == UpdateFormat::kV1) {
    for (auto& p : parts) {
      auto v1 = ConvertUpdateFormat(p, UpdateFormat::kV2, UpdateFormat::kV1);
      if (v1.ok()) p = std::move(v1).value();
    }
  }
  std::vector<std::span<const uint8_t>> spans{main};
  for (const auto& p : parts) spans.emplace_back(p);
  auto merged = MergeUpdates(spans, format);
  return merged.ok() ? std::move(merged).value() : main;
}

// ---------------------------------------------------------------------------------------------
// Reading and integrating (readUpdateV2)

namespace {

struct ClientRefs {
  std::vector<Item*> refs;
  size_t i = 0;
};

struct DecodedUpdate {
  std::map<ClientId, ClientRefs> clients;  // sorted: integration takes the highest client first
  std::vector<std::pair<Item*, const std::string*>> root_parents;
  std::vector<std::pair<ClientId, DeleteSet::Ranges>> deletes;  // in stream order
};

// Frees every item a failed or finished decode still owns.
void FreeRefs(StructStore& store, std::vector<Item*>& items) {
  for (Item* item : items) store.pool().Free(item);
  items.clear();
}

// Gives back everything a successful decode holds, for an update refused after decoding.
void DiscardDecoded(StructStore& store, DecodedUpdate& decoded) {
  for (auto& [client, refs] : decoded.clients) FreeRefs(store, refs.refs);
  decoded.clients.clear();
  decoded.root_parents.clear();
  store.DropLoggedRefs();
}

// readClientsStructRefs + the delete set, without touching the document. On error, nothing
// allocated survives.
Status DecodeUpdate(Doc& doc, UpdateDecoder& d, DecodedUpdate& out, size_t input_size,
                    size_t max_clients = 0) {
  StructStore& store = DocInternals::store(doc);
  store.StartRefLog();
  std::vector<Item*> all;
  lib0::Decoder& rest = d.rest();
  const uint64_t num_clients = rest.ReadCount(2);
  if (max_clients != 0 && num_clients > max_clients) {
    return ResourceExhaustedError("limit: the update has " + std::to_string(num_clients) +
                                  " client groups, more than the " + std::to_string(max_clients) +
                                  " allowed");
  }
  // Structs of a client group that a later group of the same client replaced: freed once the
  // decode is done (erasing them from `all` at once made many repeated groups quadratic).
  std::vector<Item*> replaced;
  // Run-length columns let v2 describe many structs in few bytes; bound the total by the input
  // size so a tiny update cannot make us allocate without limit.
  const uint64_t max_structs = std::max<uint64_t>(uint64_t{1} << 16, uint64_t{64} * input_size);
  uint64_t total_structs = 0;
  for (uint64_t c = 0; c < num_clients && d.ok(); ++c) {
    const uint64_t num_structs = rest.ReadVarUint();
    total_structs += num_structs;
    if (total_structs > max_structs) {
      d.Fail("more structs than the update size justifies");
      break;
    }
    const ClientId client = d.ReadClient();
    Clock clock = rest.ReadVarUint();
    if (!d.ok()) break;
    const ClientRef client_ref = store.Ref(client);
    ClientRefs& refs = out.clients[client];
    if (!refs.refs.empty()) {
      // A repeated client group replaces the earlier one, as yjs's Map.set does.
      replaced.insert(replaced.end(), refs.refs.begin(), refs.refs.end());
      refs.refs.clear();
    }
    refs.i = 0;
    // Sized once: growing these by doubling copied and page-faulted megabytes per large load.
    // A struct takes at least one byte of a v1 update; v2 counts are bounded above.
    const size_t expected = static_cast<size_t>(std::min<uint64_t>(num_structs, input_size));
    refs.refs.reserve(expected);
    // `all` grows geometrically: reserving exactly per group copied the whole vector for every
    // one of many small groups (quadratic in the number of clients).
    if (all.capacity() < all.size() + expected) {
      all.reserve(std::max(all.size() + expected, 2 * all.capacity()));
    }
    for (uint64_t s = 0; s < num_structs && d.ok(); ++s) {
      // Every struct takes at least one byte somewhere; stop a huge count on exhausted input.
      if (!rest.HasContent() && d.format() == UpdateFormat::kV1) {
        d.Fail("unexpected end of input in structs");
        break;
      }
      Item* item = store.pool().New();
      all.push_back(item);
      bool id_out_of_range = false;
      // The ref of an ID the struct points to (its own client's in the common case); notes a
      // clock an item cannot store.
      auto ref_of = [&](const ID& id) {
        if (id.clock > kMaxItemClock) id_out_of_range = true;
        return id.client == client ? client_ref : store.Ref(id.client);
      };
      item->set_id(client_ref, clock);
      const uint8_t info = d.ReadInfo();
      const uint8_t ref = info & 0x1f;
      if (ref == 0) {
        item->set_gc();
        item->content = Content::Deleted(d.ReadLen());
      } else if (ref == 10) {
        item->info |= kItemSkip;
        item->content = Content::Deleted(rest.ReadVarUint());
      } else {
        if (info & 0x80) {
          const ID origin = d.ReadLeftId();
          item->set_origin(ref_of(origin), origin.clock);
        }
        if (info & 0x40) {
          const ID right_origin = d.ReadRightId();
          item->set_right_origin(ref_of(right_origin), right_origin.clock);
        }
        if ((info & 0xc0) == 0) {
          if (d.ReadParentInfo()) {
            out.root_parents.emplace_back(item, DocInternals::InternKey(doc, d.ReadString()));
          } else {
            const ID parent = d.ReadLeftId();
            item->set_right_origin(ref_of(parent), parent.clock);  // see kItemParentIsId
            item->info |= kItemParentIsId;
          }
          if (info & 0x20) {
            item->set_key_slot(DocInternals::NewProvisionalKeySlot(
                doc, DocInternals::InternKey(doc, d.ReadString())));
            item->info |= kItemProvisionalKey;
          }
        }
        if (ref > 10) {
          d.Fail("unknown content ref " + std::to_string(ref));
          break;
        }
        item->content = ReadContent(d, static_cast<ContentRef>(ref));
        if (item->content.countable()) item->info |= kItemCountable;
      }
      if (!d.ok()) break;
      if (item->length() == 0) {
        d.Fail("zero-length struct");
        break;
      }
      if (item->length() > kMaxClock - clock) {
        d.Fail("clock out of range");
        break;
      }
      // Items keep 32-bit clocks (as yrs does); no editing session comes near the limit.
      if (id_out_of_range || clock + item->length() > kMaxItemClock + 1) {
        d.Fail("clock beyond 2^32 - 1, the largest this engine stores");
        break;
      }
      clock += item->length();
      refs.refs.push_back(item);
    }
  }
  if (d.ok()) {
    const uint64_t ds_clients = rest.ReadCount(2);
    for (uint64_t c = 0; c < ds_clients && d.ok(); ++c) {
      d.ResetDsCurVal();
      const ClientId client = rest.ReadVarUint();
      const uint64_t n = rest.ReadCount(2);
      DeleteSet::Ranges ranges;
      ranges.reserve(n);
      for (uint64_t k = 0; k < n && d.ok(); ++k) {
        const Clock clock = d.ReadDsClock();
        const uint64_t len = d.ReadDsLen();
        if (clock > kMaxClock || len > kMaxClock) d.Fail("delete set clock out of range");
        ranges.push_back({clock, len});
      }
      out.deletes.emplace_back(client, std::move(ranges));
    }
  }
  if (!d.ok()) {
    FreeRefs(store, all);
    store.DropLoggedRefs();
    out.clients.clear();
    return d.status();
  }
  if (!replaced.empty()) {
    std::unordered_set<Item*> dropped(replaced.begin(), replaced.end());
    std::erase_if(out.root_parents, [&](const auto& p) { return dropped.count(p.first) > 0; });
    FreeRefs(store, replaced);
  }
  return Status::Ok();
}

// The nesting level of the type holding each decoded item, and the refusal of an update that
// would nest types deeper than `max_depth` (UpdateLimits). Runs before the document is touched.
// An item names its type through its parent (a root or an item) or, when it has neighbours,
// through them; either may be in the update or in the document. Whatever cannot be found yet
// (its structs will wait as pending) counts as level 0, so this is a lower bound there.
Status CheckNestingDepth(const Doc& doc, const DecodedUpdate& decoded, size_t max_depth) {
  bool has_types = false;
  for (const auto& [client, refs] : decoded.clients) {
    for (const Item* item : refs.refs) {
      if (!item->is_gc() && !item->is_skip() && item->content.ref() == ContentRef::kType) {
        has_types = true;
        break;
      }
    }
    if (has_types) break;
  }
  if (!has_types) return Status::Ok();

  std::unordered_set<const Item*> at_root;
  for (const auto& [item, key] : decoded.root_parents) at_root.insert(item);
  auto find_decoded = [&](const ID& id) -> const Item* {
    auto it = decoded.clients.find(id.client);
    if (it == decoded.clients.end()) return nullptr;
    const auto& refs = it->second.refs;
    auto pos = std::upper_bound(refs.begin(), refs.end(), id.clock,
                                [](Clock c, const Item* item) { return c < item->clock(); });
    if (pos == refs.begin()) return nullptr;
    const Item* item = *std::prev(pos);
    return id.clock < item->clock() + item->length() ? item : nullptr;
  };
  // Levels of types already in the document (a root: 0), walked up at most max_depth + 1 steps.
  std::unordered_map<const Type*, size_t> type_levels;
  auto level_of_type = [&](const Type* type) -> size_t {
    if (type == nullptr) return 0;
    auto [it, inserted] = type_levels.emplace(type, 0);
    if (!inserted) return it->second;
    size_t level = 0;
    for (const Type* t = type; t->item != nullptr && !t->item->is_gc() &&
                               t->item->parent() != nullptr && level <= max_depth;
         t = t->item->parent()) {
      ++level;
    }
    it->second = level;
    return level;
  };
  auto existing_container_level = [&](const Item* item) -> size_t {
    return item->is_gc() ? 0 : level_of_type(item->parent());
  };

  // Container level of decoded items, resolved with an explicit stack (origin chains are as
  // long as the update). kResolving marks an item on the stack: a cycle counts as level 0.
  constexpr size_t kResolving = static_cast<size_t>(-1);
  std::unordered_map<const Item*, size_t> levels;
  std::vector<const Item*> stack;
  // The decoded item `item` takes its level from (null when the level is known: `known`).
  auto source = [&](const Item* item, size_t& known, bool& add_one) -> const Item* {
    known = 0;
    add_one = false;
    if (item->is_gc() || item->is_skip() || at_root.count(item) > 0) return nullptr;
    if ((item->info & kItemParentIsId) != 0) {
      const ID parent = item->parent_id();
      if (const Item* p = find_decoded(parent)) {
        if (p->is_gc() || p->content.ref() != ContentRef::kType) return nullptr;
        add_one = true;
        return p;
      }
      const Item* p = DocInternals::store(doc).Find(parent);
      if (p != nullptr && !p->is_gc() && p->content.type() != nullptr) {
        known = level_of_type(p->content.type());
      }
      return nullptr;
    }
    const OptionalId neighbour = item->has_origin() ? item->origin() : item->right_origin();
    if (!neighbour) return nullptr;
    if (const Item* n = find_decoded(neighbour.id)) return n == item ? nullptr : n;
    if (const Item* n = DocInternals::store(doc).Find(neighbour.id))
      known = existing_container_level(n);
    return nullptr;
  };
  for (const auto& [client, refs] : decoded.clients) {
    for (const Item* start : refs.refs) {
      if (start->is_gc() || start->is_skip() || start->content.ref() != ContentRef::kType) continue;
      stack.push_back(start);
      while (!stack.empty()) {
        const Item* item = stack.back();
        auto [it, inserted] = levels.emplace(item, kResolving);
        if (!inserted && it->second != kResolving) {
          stack.pop_back();
          continue;
        }
        size_t level = 0;
        bool add_one = false;
        const Item* from = source(item, level, add_one);
        if (from != nullptr) {
          auto f = levels.find(from);
          if (f == levels.end()) {
            stack.push_back(from);
            continue;
          }
          level = f->second == kResolving ? 0 : f->second + (add_one ? 1 : 0);
        }
        levels[item] = level;
        stack.pop_back();
      }
      const size_t type_level = levels[start] + 1;
      if (type_level > max_depth) {
        return ResourceExhaustedError("limit: the update nests shared types " +
                                      std::to_string(type_level) + " levels deep, more than the " +
                                      std::to_string(max_depth) + " allowed");
      }
    }
  }
  return Status::Ok();
}

struct IntegrateResult {
  StateVector missing;
  std::vector<uint8_t> update;  // v2
};

// integrateStructs: integrates what it can; returns the rest (waiting for missing clients).
std::optional<IntegrateResult> IntegrateStructs(Transaction& t, DecodedUpdate& decoded) {
  StructStore& store = DocInternals::store(t.doc());
  auto& clients = decoded.clients;
  std::vector<ClientId> ids;
  for (auto& [client, refs] : clients) ids.push_back(client);  // ascending
  std::vector<Item*> to_free;
  std::map<ClientId, std::vector<Item*>> rest_structs;
  StateVector missing_sv;
  auto update_missing = [&](ClientId client, Clock clock) {
    auto it = missing_sv.find(client);
    if (it == missing_sv.end() || it->second > clock) missing_sv[client] = clock;
  };
  // Clients moved to the rest leave `clients`; their ids are skipped here (erasing each from
  // `ids` at once was quadratic when many clients wait for missing structs).
  auto next_target = [&]() -> ClientRefs* {
    while (!ids.empty()) {
      auto it = clients.find(ids.back());
      if (it != clients.end() && it->second.i < it->second.refs.size()) return &it->second;
      ids.pop_back();
    }
    return nullptr;
  };
  ClientRefs* target = next_target();
  if (target == nullptr) return std::nullopt;
  std::vector<Item*> stack;
  Item* head = target->refs[target->i++];
  StateVector state;

  // Replacing a client's rest (as yjs's Map.set does) drops the structs it held before.
  auto set_rest = [&](ClientId client, std::vector<Item*> items) {
    auto& slot = rest_structs[client];
    for (Item* old : slot) {
      if (std::find(items.begin(), items.end(), old) == items.end()) to_free.push_back(old);
    }
    slot = std::move(items);
  };
  auto add_stack_to_rest = [&]() {
    for (Item* item : stack) {
      const ClientId client = item->client();
      auto it = clients.find(client);
      if (it != clients.end() && !it->second.refs.empty()) {
        ClientRefs& inapplicable = it->second;
        --inapplicable.i;
        set_rest(client, std::vector<Item*>(
                             inapplicable.refs.begin() + static_cast<ptrdiff_t>(inapplicable.i),
                             inapplicable.refs.end()));
        inapplicable.refs.clear();
        inapplicable.i = 0;
        clients.erase(it);
        if (target == &inapplicable) target = nullptr;
      } else {
        set_rest(client, {item});
      }
      // The rest starts at the client's last consumed struct; a stack item of the same client
      // consumed before it is dropped, as yjs drops it, and must be freed here.
      const auto& slot = rest_structs[client];
      if (std::find(slot.begin(), slot.end(), item) == slot.end()) to_free.push_back(item);
    }
    stack.clear();
  };

  for (;;) {
    if (!head->is_skip()) {
      const ClientId client = head->client();
      auto st = state.find(client);
      Clock& local_clock =
          st != state.end() ? st->second : (state[client] = store.GetState(client));
      if (local_clock < head->clock()) {
        stack.push_back(head);
        update_missing(client, head->clock() - 1);
        add_stack_to_rest();
      } else {
        const uint64_t offset = local_clock - head->clock();
        std::optional<ClientId> missing = GetMissing(t, head);
        if (missing) {
          stack.push_back(head);
          auto it = clients.find(*missing);
          if (it == clients.end() || it->second.i == it->second.refs.size()) {
            update_missing(*missing, store.GetState(*missing));
            add_stack_to_rest();
          } else {
            head = it->second.refs[it->second.i++];
            continue;
          }
        } else if (offset == 0 || offset < head->length()) {
          Integrate(t, head, offset);
          local_clock = head->clock() + head->length();
        } else {
          to_free.push_back(head);  // already known
        }
      }
    } else {
      to_free.push_back(head);
    }
    if (!stack.empty()) {
      head = stack.back();
      stack.pop_back();
    } else if (target != nullptr && target->i < target->refs.size()) {
      head = target->refs[target->i++];
    } else {
      target = next_target();
      if (target == nullptr) break;
      head = target->refs[target->i++];
    }
  }
  // Whatever no client group still holds was handed to rest_structs or freed above.
  for (auto& [client, refs] : clients) {
    for (size_t k = refs.i; k < refs.refs.size(); ++k) to_free.push_back(refs.refs[k]);
  }
  // An item can reach to_free on two paths (a replaced rest and a dropped stack item).
  std::sort(to_free.begin(), to_free.end());
  to_free.erase(std::unique(to_free.begin(), to_free.end()), to_free.end());
  FreeRefs(store, to_free);
  if (rest_structs.empty()) return std::nullopt;
  std::unordered_map<ClientId, StructStore::Structs> rest;
  for (const auto& [client, items] : rest_structs)
    rest.emplace(client, StructStore::Structs(items));
  UpdateEncoderV2 encoder;
  WriteClientsStructsFrom(encoder, rest, {});
  encoder.rest().WriteVarUint(0);  // no deletes
  IntegrateResult result{std::move(missing_sv), encoder.Finish()};
  for (auto& [client, items] : rest_structs) FreeRefs(store, items);
  return result;
}

// readAndApplyDeleteSet: deletes what exists; returns the rest as a v2 update.
std::optional<std::vector<uint8_t>> ApplyDeletes(
    Transaction& t, const std::vector<std::pair<ClientId, DeleteSet::Ranges>>& deletes) {
  StructStore& store = DocInternals::store(t.doc());
  DeleteSet unapplied;
  for (const auto& [client, ranges] : deletes) {
    const Clock state = store.GetState(client);
    StructStore::Structs* structs = store.Get(client);
    for (const DeleteItem& d : ranges) {
      const Clock clock = d.clock;
      const Clock clock_end = d.clock + d.len;
      if (clock < state) {
        if (state < clock_end) unapplied.Add(client, state, clock_end - state);
        size_t index = StructStore::FindIndex(*structs, clock);
        Item* s = (*structs)[index];
        if (!s->deleted() && s->clock() < clock) {
          structs->insert(index + 1, SplitItem(t, s, clock - s->clock()));
          ++index;
        }
        while (index < structs->size()) {
          s = (*structs)[index++];
          if (s->clock() >= clock_end) break;
          if (!s->deleted()) {
            if (clock_end < s->clock() + s->length()) {
              structs->insert(index, SplitItem(t, s, clock_end - s->clock()));
            }
            DeleteStruct(t, s);
          }
        }
      } else {
        unapplied.Add(client, clock, d.len);
      }
    }
  }
  if (unapplied.empty()) return std::nullopt;
  UpdateEncoderV2 encoder;
  encoder.rest().WriteVarUint(0);  // no structs
  unapplied.Write(encoder);
  return encoder.Finish();
}

Status ReadDeletesOnly(std::span<const uint8_t> update,
                       std::vector<std::pair<ClientId, DeleteSet::Ranges>>& out) {
  UpdateDecoderV2 d(update);
  d.rest().ReadVarUint();  // zero structs
  const uint64_t n = d.rest().ReadCount(2);
  for (uint64_t c = 0; c < n && d.ok(); ++c) {
    d.ResetDsCurVal();
    const ClientId client = d.rest().ReadVarUint();
    const uint64_t k = d.rest().ReadCount(2);
    DeleteSet::Ranges ranges;
    for (uint64_t j = 0; j < k && d.ok(); ++j) {
      const Clock clock = d.ReadDsClock();
      ranges.push_back({clock, d.ReadDsLen()});
    }
    out.emplace_back(client, std::move(ranges));
  }
  return d.status();
}

// Whether applying the pending delete set now could delete anything: only if some client it
// names has structs past the start of one of its ranges (ApplyDeletes applies clock < state).
bool PendingDeletesMayApply(const StructStore& store, std::span<const uint8_t> pending_ds) {
  std::vector<std::pair<ClientId, DeleteSet::Ranges>> ranges;
  if (!ReadDeletesOnly(pending_ds, ranges).ok()) return true;
  for (const auto& [client, rs] : ranges) {
    const Clock state = store.GetState(client);
    for (const DeleteItem& d : rs) {
      if (d.clock < state) return true;
    }
  }
  return false;
}

Status ApplyDecoded(Transaction& t, DecodedUpdate& first, const UpdateLimits& limits) {
  Doc& doc = t.doc();
  StructStore& store = DocInternals::store(doc);
  Status result;
  DecodedUpdate retried;
  DecodedUpdate* decoded = &first;
  // yjs recurses when pending structs become applicable; a loop keeps the stack flat.
  for (;;) {
    for (auto& [item, key] : decoded->root_parents) item->set_parent(doc.GetOrCreateRoot(*key));
    std::optional<IntegrateResult> rest = IntegrateStructs(t, *decoded);
    bool retry = false;
    auto& pending = DocInternals::pending_structs(doc);
    const size_t pending_before = doc.pending_bytes();
    if (rest && limits.max_pending_bytes != 0 &&
        pending_before + rest->update.size() > limits.max_pending_bytes) {
      // What integrated stays; the structs that would wait are dropped (their author still has
      // them and sends them again once it resyncs).
      result = ResourceExhaustedError("limit: structs waiting for missing ones would take " +
                                      std::to_string(pending_before + rest->update.size()) +
                                      " bytes, more than the " +
                                      std::to_string(limits.max_pending_bytes) + " allowed");
      rest.reset();
    }
    if (rest) DocInternals::CountPendingAddition(doc);
    if (pending) {
      for (const auto& [client, clock] : pending->missing) {
        if (clock < store.GetState(client)) {
          retry = true;
          break;
        }
      }
      if (rest) {
        for (const auto& [client, clock] : rest->missing) {
          auto it = pending->missing.find(client);
          if (it == pending->missing.end() || it->second > clock) pending->missing[client] = clock;
        }
        pending->bytes += rest->update.size();
        pending->parts.push_back(std::move(rest->update));
      }
    } else if (rest) {
      pending = Doc::PendingStructs{std::move(rest->missing), {}, rest->update.size()};
      pending->parts.push_back(std::move(rest->update));
    }
    std::optional<std::vector<uint8_t>> ds_rest = ApplyDeletes(t, decoded->deletes);
    if (ds_rest && limits.max_pending_bytes != 0 &&
        doc.pending_bytes() + ds_rest->size() > limits.max_pending_bytes) {
      result = ResourceExhaustedError("limit: deletes waiting for missing structs would take " +
                                      std::to_string(doc.pending_bytes() + ds_rest->size()) +
                                      " bytes, more than the " +
                                      std::to_string(limits.max_pending_bytes) + " allowed");
      ds_rest.reset();
    }
    if (ds_rest) DocInternals::CountPendingAddition(doc);
    auto& pending_ds = DocInternals::pending_ds(doc);
    if (pending_ds) {
      // yjs re-applies the pending delete set with every update. When no client it names has
      // grown past one of its ranges, that would delete nothing and give the same ranges back:
      // skip it, so a large pending set does not make every update cost its size.
      std::optional<std::vector<uint8_t>> ds_rest2;
      if (PendingDeletesMayApply(store, *pending_ds)) {
        std::vector<std::pair<ClientId, DeleteSet::Ranges>> old;
        if (ReadDeletesOnly(*pending_ds, old).ok()) ds_rest2 = ApplyDeletes(t, old);
      } else {
        ds_rest2 = std::move(*pending_ds);
      }
      if (ds_rest && ds_rest2) {
        auto merged = MergeUpdates({*ds_rest, *ds_rest2}, UpdateFormat::kV2);
        pending_ds = merged.ok() ? std::optional(std::move(merged).value()) : ds_rest;
      } else {
        pending_ds = ds_rest ? std::move(ds_rest) : std::move(ds_rest2);
      }
    } else {
      pending_ds = std::move(ds_rest);
    }
    if (!retry) return result;
    std::vector<uint8_t> update = pending->Merged();
    pending.reset();
    UpdateDecoderV2 d(update);
    DecodedUpdate again;
    TANDEM_RETURN_IF_ERROR(DecodeUpdate(doc, d, again, update.size()));
    retried = std::move(again);
    decoded = &retried;
  }
}

}  // namespace

const std::vector<uint8_t>& Doc::PendingStructs::Merged() {
  if (parts.size() > 1) {
    std::vector<std::span<const uint8_t>> spans(parts.begin(), parts.end());
    auto merged = MergeUpdates(spans, UpdateFormat::kV2);
    if (merged.ok()) {
      parts.clear();
      parts.push_back(std::move(merged).value());
      bytes = parts.front().size();
    }
  }
  return parts.front();
}

Status Doc::ApplyUpdate(std::span<const uint8_t> update, UpdateFormat format) {
  return ApplyUpdate(update, format, UpdateLimits{});
}

Status Doc::ApplyUpdate(std::span<const uint8_t> update, UpdateFormat format,
                        const UpdateLimits& limits) {
  // The provisional key slots this apply makes are done with when it returns.
  struct DropProvisional {
    Doc& doc;
    size_t keep;
    ~DropProvisional() { DocInternals::DropProvisionalKeySlots(doc, keep); }
  } drop_provisional{*this, provisional_key_slots()};
  auto decoder = MakeUpdateDecoder(format, update);
  DecodedUpdate decoded;
  if (Status s = DecodeUpdate(*this, *decoder, decoded, update.size(), limits.max_clients);
      !s.ok()) {
    return s.code() == StatusCode::kResourceExhausted ? s : s.WithContext("update rejected");
  }
  if (limits.max_nesting_depth != 0) {
    if (Status s = CheckNestingDepth(*this, decoded, limits.max_nesting_depth); !s.ok()) {
      DiscardDecoded(store_, decoded);
      return s;
    }
  }
  Status result;
  crdt::Transact(
      *this,
      [&](Transaction& t) {
        const bool was_applying = t.applying_update;
        t.applying_update = true;
        result = ApplyDecoded(t, decoded, limits);
        t.applying_update = was_applying;
      },
      /*local=*/false);
  return result;
}

}  // namespace tandem::crdt

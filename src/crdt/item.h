#pragma once
// The struct model of yjs (`src/structs/Item.js`, `GC.js`, `src/types/AbstractType.js`):
// an Item is a run of content with its YATA neighbours; a GC block is a run of collected
// clocks (stored as an Item with the kItemGc flag, so one array per client holds both); a Type is a
// shared container (root or nested in a TypeContent).
//
// Thread-safety: none. A document and everything in it is touched by one thread at a time (a
// room's strand).

#include <cassert>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "crdt/client_table.h"
#include "crdt/content.h"
#include "crdt/id.h"
#include "crdt/item_heap.h"

namespace tandem::crdt {

struct Item;
struct KeySlot;
struct Prelim;
struct TypeObservers;

// yjs ArraySearchMarkers: remembered (item, index) pairs that shorten position lookups in long
// lists, kept column-wise because every edit scans them. Markers only speed lookups up; the
// positions found are the same without them.
struct SearchMarkers {
  std::vector<Item*> items;
  std::vector<uint64_t> indices;  // countable length before the item
  std::vector<uint64_t> stamps;   // last use, for replacing the oldest
  size_t recent = 0;              // the marker used last
  size_t size() const { return items.size(); }
  bool empty() const { return items.empty(); }
  void clear() {
    items.clear();
    indices.clear();
    stamps.clear();
  }
  void Erase(size_t i) {
    items.erase(items.begin() + static_cast<ptrdiff_t>(i));
    indices.erase(indices.begin() + static_cast<ptrdiff_t>(i));
    stamps.erase(stamps.begin() + static_cast<ptrdiff_t>(i));
  }
};

// Type refs as written by `AbstractType._write` (ContentType).
enum class TypeRef : uint8_t {
  kArray = 0,
  kMap = 1,
  kText = 2,
  kXmlElement = 3,
  kXmlFragment = 4,
  kXmlHook = 5,
  kXmlText = 6,
  kUndefined = 255,  // a root whose kind the bytes do not say
};

struct Type {
  TypeRef ref = TypeRef::kUndefined;
  std::string name;                        // XmlElement node name / XmlHook hook name
  const std::string* root_name = nullptr;  // set for root types
  Item* item = nullptr;                    // the item whose content this is; null for roots
  Item* start = nullptr;                   // first item of the list part
  uint64_t length = 0;                     // countable, undeleted length of the list part
  bool has_formatting = false;    // yjs `_hasFormatting` (reset when a root is first typed)
  bool has_format_items = false;  // a format item was ever integrated here (never reset)
  // Search markers are kept for Text and Array types until a format item disables them, as in
  // yjs (`_searchMarker` null vs []).
  bool markers_enabled = false;
  // The type's item was collected (its content became Deleted or GC); the Type object is kept
  // alive by the document so handles to it stay valid, but it is detached and empty.
  bool collected = false;
  SearchMarkers markers;
  std::unique_ptr<TypeObservers> observers;  // null until someone observes this type
  std::shared_ptr<const Prelim> prelim;      // content to insert when the type is integrated

  Type();
  ~Type();
  Type(const Type&) = delete;
  Type& operator=(const Type&) = delete;
  // Types live in the ItemHeap, so that an item names its parent by a 32-bit handle.
  static void* operator new(size_t bytes) { return ItemHeap::AllocateBlock(bytes); }
  static void operator delete(void* p, size_t bytes) { ItemHeap::FreeBlock(p, bytes); }

  // Map part: one slot per key, holding the rightmost item of that key, in first-insertion
  // order like a JS Map. Keys are interned by the document, so pointers compare as strings.
  Item* MapGet(const std::string* key) const;
  KeySlot* FindSlot(const std::string* key) const;
  // Appends the slot of a key this map does not have yet (the document owns the slot).
  void AddSlot(KeySlot* slot);
  void MapClear();
  const std::vector<KeySlot*>& map_entries() const { return map_entries_; }

 private:
  std::vector<KeySlot*> map_entries_;
  // Built once a map has more than 8 keys; below that, a scan is as fast.
  std::unique_ptr<std::unordered_map<const std::string*, size_t>> map_index_;
};

// A key of one map. A map entry's items point here for both their Type and their key, so an
// item spends one pointer on its parent. The document owns slots.
struct KeySlot {
  Type* type = nullptr;
  const std::string* key = nullptr;
  Item* item = nullptr;  // the rightmost item of this key (its value), or null
  // In the ItemHeap, as types are.
  static void* operator new(size_t bytes) { return ItemHeap::AllocateBlock(bytes); }
  static void operator delete(void* p, size_t bytes) { ItemHeap::FreeBlock(p, bytes); }
};
static_assert(sizeof(Type) <= ItemHeap::kMaxBlock);

// yjs Item.info bits.
inline constexpr uint8_t kItemKeep = 1;
inline constexpr uint8_t kItemCountable = 2;
inline constexpr uint8_t kItemDeleted = 4;
inline constexpr uint8_t kItemMarked = 8;  // a search marker was placed here (may be stale)
// Before integration, the item's parent is an item whose ID the right origin field holds (the
// bytes only carry a parent when there is neither origin nor right origin).
inline constexpr uint8_t kItemParentIsId = 16;
// A Skip struct: a gap in an update, never integrated.
inline constexpr uint8_t kItemSkip = 32;
// A decoded map entry whose key slot is provisional (Doc::NewProvisionalKeySlot): its map is
// not known yet, and the key joins the map's order only when the item integrates.
inline constexpr uint8_t kItemProvisionalKey = 64;
// A GC struct (yjs GC): a run of collected clocks, stored as an Item with a Deleted content.
inline constexpr uint8_t kItemGc = 128;

// The largest clock an item stores (IDs inside items are 32-bit; see Item).
inline constexpr Clock kMaxItemClock = 0xffffffff;

struct Item {
  // Neighbours by 32-bit handles: items live in the ItemHeap.
  HeapPtr<Item> left;
  HeapPtr<Item> right;

  // The parent Type (null: the parent was collected, and the item becomes GC) and, for a map
  // entry, its key (yjs parentSub; null for list items).
  Type* parent() const {
    return (parent_ & kKeyed) != 0 ? key_slot()->type
                                   : static_cast<Type*>(ItemHeap::Decompress(parent_));
  }
  const std::string* parent_sub() const {
    return (parent_ & kKeyed) != 0 ? key_slot()->key : nullptr;
  }
  KeySlot* key_slot() const {
    return (parent_ & kKeyed) != 0 ? static_cast<KeySlot*>(ItemHeap::Decompress(parent_ & ~kKeyed))
                                   : nullptr;
  }
  // Sets the parent of a list item, or of a map entry whose key slot is provisional.
  void set_parent(Type* type) {
    if ((parent_ & kKeyed) != 0) {
      key_slot()->type = type;
    } else {
      parent_ = ItemHeap::Compress(type);
    }
  }
  // Makes the item an entry of slot->type under slot->key.
  void set_key_slot(KeySlot* slot) { parent_ = ItemHeap::Compress(slot) | kKeyed; }
  // Parent and key of `o` (neighbours and split halves share them).
  void copy_parent(const Item& o) { parent_ = o.parent_; }
  void clear_parent() { parent_ = 0; }

  Item() = default;
  ~Item() {
    FreeRecord(origin_);
    FreeRecord(right_origin_);
  }
  // Items live at fixed places (their handles are stored around the document); they are never
  // copied or moved.
  Item(const Item&) = delete;
  Item& operator=(const Item&) = delete;

  // IDs are kept as 32-bit client refs (see ClientTable) and 32-bit clocks (as in yrs). An
  // update that needs a larger clock is refused on decode.
  const ID id() const { return ID{ClientTable::Get(client_), clock_}; }
  ClientId client() const { return ClientTable::Get(client_); }
  ClientRef client_ref() const { return client_; }
  Clock clock() const { return clock_; }
  const OptionalId origin() const { return ToOptionalId(Decode(origin_)); }
  const OptionalId right_origin() const { return ToOptionalId(Decode(right_origin_)); }
  ClientRef origin_client_ref() const { return Decode(origin_).client; }
  Clock origin_clock() const { return Decode(origin_).clock; }
  ClientRef right_origin_client_ref() const { return Decode(right_origin_).client; }
  Clock right_origin_clock() const { return Decode(right_origin_).clock; }
  bool has_origin() const { return origin_ != kAbsent; }
  bool has_right_origin() const { return right_origin_ != kAbsent; }
  // Comparisons of refs and clocks only (refs of one client are equal).
  bool origin_is(ClientRef client, Clock clock) const {
    return clock <= kMaxItemClock &&
           Decode(origin_) == OriginId{client, static_cast<uint32_t>(clock)};
  }
  bool same_origin(const Item& o) const {
    // Words of one client compare as they are; otherwise decode.
    if (client_ == o.client_ && origin_ < kEscaped && o.origin_ < kEscaped) {
      return origin_ == o.origin_;
    }
    return Decode(origin_) == o.Decode(o.origin_);
  }
  bool same_right_origin(const Item& o) const {
    if (client_ == o.client_ && right_origin_ < kEscaped && o.right_origin_ < kEscaped) {
      return right_origin_ == o.right_origin_;
    }
    return Decode(right_origin_) == o.Decode(o.right_origin_);
  }
  bool right_origin_is_start_of(const Item& o) const {
    return Decode(right_origin_) == OriginId{o.client_, o.clock_};
  }
  // REQUIRES: no origin is set yet, or the client stays the same (origins of the item's own
  // client are stored relative to it).
  void set_id(ClientRef client, Clock clock) {
    assert((origin_ == kAbsent && right_origin_ == kAbsent) || client == client_);
    client_ = client;
    clock_ = static_cast<uint32_t>(clock);
  }
  void set_clock(Clock clock) { clock_ = static_cast<uint32_t>(clock); }
  void set_origin(ClientRef client, Clock clock) {
    Encode(origin_, OriginId{client, static_cast<uint32_t>(clock)});
  }
  void set_right_origin(ClientRef client, Clock clock) {
    Encode(right_origin_, OriginId{client, static_cast<uint32_t>(clock)});
  }
  // Origin := the last ID of `left`; right origin := the ID of `right`.
  void set_origin_after(const Item& l) { set_origin(l.client_, l.clock_ + l.length() - 1); }
  void set_right_origin_at(const Item& r) { set_right_origin(r.client_, r.clock_); }
  void copy_right_origin(const Item& o) { Encode(right_origin_, o.Decode(o.right_origin_)); }
  void clear_origin() { Encode(origin_, OriginId{kNoClientRef, 0}); }
  void clear_right_origin() { Encode(right_origin_, OriginId{kNoClientRef, 0}); }

  [[no_unique_address]] Content content;
  uint8_t info = 0;

  bool is_skip() const { return (info & kItemSkip) != 0; }
  // GC and Skip blocks keep their length in a Deleted content.
  uint64_t length() const { return content.length(); }
  bool is_gc() const { return (info & kItemGc) != 0; }
  void set_gc() { info |= kItemGc; }
  bool deleted() const { return (info & (kItemGc | kItemDeleted)) != 0; }
  bool countable() const { return (info & kItemCountable) != 0; }
  bool keep() const { return (info & kItemKeep) != 0; }
  void set_keep(bool k) { info = k ? (info | kItemKeep) : (info & ~kItemKeep); }
  void MarkDeleted() { info |= kItemDeleted; }
  ID last_id() const { return ID{client(), clock_ + length() - 1}; }
  Clock end_clock() const { return clock_ + length(); }
  // Before integration, an item whose parent is another item keeps that ID in right_origin.
  ID parent_id() const {
    const OriginId o = Decode(right_origin_);
    return ID{ClientTable::Get(o.client), o.clock};
  }

 private:
  // The parent's handle; with kKeyed set, the handle of a KeySlot. Types and slots are 16-aligned
  // in the ItemHeap, so their handles are even.
  static constexpr uint32_t kKeyed = 1;
  uint32_t parent_ = 0;
  ClientRef client_ = kNoClientRef;
  uint32_t clock_ = 0;

  // An origin in 4 bytes. Most origins name a clock of the item's own client (all of them in a
  // one-writer document), so a word below kEscaped is such a clock; kEscaped itself is no origin;
  // any other word is kEscaped | (handle >> 1) of an OriginId kept in the ItemHeap (blocks are
  // 16-aligned, so the handle is even). That saves 8 bytes an item over two full IDs.
  struct OriginId {
    ClientRef client;
    uint32_t clock;
    bool operator==(const OriginId&) const = default;
  };
  static constexpr uint32_t kEscaped = 0x80000000;
  static constexpr uint32_t kAbsent = kEscaped;
  static const OriginId* Record(uint32_t word) {
    return static_cast<const OriginId*>(ItemHeap::Decompress((word & ~kEscaped) << 1));
  }
  OriginId Decode(uint32_t word) const {
    if (word < kEscaped) return OriginId{client_, word};
    if (word == kAbsent) return OriginId{kNoClientRef, 0};
    return *Record(word);
  }
  static OptionalId ToOptionalId(OriginId o) {
    return o.client == kNoClientRef ? OptionalId()
                                    : OptionalId(ID{ClientTable::Get(o.client), o.clock});
  }
  void Encode(uint32_t& word, OriginId o) {
    if (o.client == kNoClientRef || (o.client == client_ && o.clock < kEscaped)) {
      FreeRecord(word);
      word = o.client == kNoClientRef ? kAbsent : o.clock;
      return;
    }
    if (word > kEscaped) {
      *const_cast<OriginId*>(Record(word)) = o;
      return;
    }
    void* block = ItemHeap::AllocateBlock(sizeof(OriginId));
    *static_cast<OriginId*>(block) = o;
    word = kEscaped | (ItemHeap::Compress(block) >> 1);
  }
  static void FreeRecord(uint32_t& word) {
    if (word > kEscaped) {
      ItemHeap::FreeBlock(const_cast<OriginId*>(Record(word)), sizeof(OriginId));
      word = kAbsent;
    }
  }

  uint32_t origin_ = kAbsent;
  uint32_t right_origin_ = kAbsent;
};
static_assert(sizeof(Item) == 36, "an Item's flags share the tail of its content");

}  // namespace tandem::crdt

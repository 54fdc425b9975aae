#include "crdt/types/list.h"

#include <algorithm>
#include <cmath>

#include "crdt/doc_internal.h"
#include "crdt/transaction.h"
#include "crdt/types/text.h"
#include "lib0/utf.h"

namespace tandem::crdt {

namespace {

constexpr size_t kMaxSearchMarkers = 80;

// globalSearchMarkerTimestamp: only the order of stamps within one type matters. Rooms run on
// several threads, so each thread counts for itself.
thread_local uint64_t marker_clock = 0;

void OverwriteMarker(SearchMarkers& markers, size_t i, Item* p, uint64_t index) {
  p->info |= kItemMarked;
  markers.items[i] = p;
  markers.indices[i] = index;
  markers.stamps[i] = ++marker_clock;
}

size_t MarkPosition(SearchMarkers& markers, Item* p, uint64_t index) {
  if (markers.size() >= kMaxSearchMarkers) {
    size_t oldest = 0;
    for (size_t i = 1; i < markers.size(); ++i) {
      if (markers.stamps[i] < markers.stamps[oldest]) oldest = i;
    }
    OverwriteMarker(markers, oldest, p, index);
    return oldest;
  }
  p->info |= kItemMarked;
  markers.items.push_back(p);
  markers.indices.push_back(index);
  markers.stamps.push_back(++marker_clock);
  return markers.size() - 1;
}

uint64_t AbsDiff(uint64_t a, uint64_t b) {
  return a > b ? a - b : b - a;
}

Item* Prev(Item* n) {
  Item* p = n->left;
  while (p != nullptr && p->deleted()) p = p->left;
  return p;
}

}  // namespace

MarkerHit FindMarker(Type* type, uint64_t index) {
  if (type->start == nullptr || index == 0 || !type->markers_enabled) return {};
  SearchMarkers& markers = type->markers;
  constexpr size_t kNone = static_cast<size_t>(-1);
  size_t marker = kNone;
  // Edits cluster: the marker used last is usually close enough; otherwise take the closest.
  constexpr uint64_t kNear = 32;
  if (markers.recent < markers.size() && AbsDiff(index, markers.indices[markers.recent]) <= kNear) {
    marker = markers.recent;
  } else if (!markers.empty()) {
    marker = 0;
    uint64_t best = AbsDiff(index, markers.indices[0]);
    for (size_t i = 1; i < markers.size(); ++i) {
      const uint64_t d = AbsDiff(index, markers.indices[i]);
      if (d <= best) {
        best = d;
        marker = i;
      }
    }
  }
  Item* p = type->start;
  uint64_t pindex = 0;
  if (marker != kNone) {
    p = markers.items[marker];
    pindex = markers.indices[marker];
    markers.stamps[marker] = ++marker_clock;
  }
  // Iterate right while possible, then left if we went past the index.
  while (p->right != nullptr && pindex < index) {
    if (!p->deleted() && p->countable()) {
      if (index < pindex + p->length()) break;
      pindex += p->length();
    }
    p = p->right;
  }
  while (p->left != nullptr && pindex > index) {
    p = p->left;
    if (!p->deleted() && p->countable()) pindex -= p->length();
  }
  // yjs walks left here so that a marker never sits on an item that could merge into its left
  // neighbour (MergeWith moves markers off merged items for that). In text the walk matters for
  // results too: a lookup starting at the marker knows no attributes before it, so where the
  // marker sits decides which format items are read on the way (an insert at the end of a bold
  // run continues it or not). Text walks as yjs does; lists need not.
  if (type->ref == TypeRef::kText || type->ref == TypeRef::kXmlText) {
    while (p->left != nullptr && p->left->client() == p->client() &&
           p->left->clock() + p->left->length() == p->clock()) {
      p = p->left;
      if (!p->deleted() && p->countable()) pindex -= p->length();
    }
  }
  if (marker != kNone &&
      static_cast<double>(AbsDiff(markers.indices[marker], pindex)) <
          static_cast<double>(p->parent()->length) / static_cast<double>(kMaxSearchMarkers)) {
    OverwriteMarker(markers, marker, p, pindex);
  } else {
    marker = MarkPosition(markers, p, pindex);
  }
  markers.recent = marker;
  return {p, pindex};
}

// A marker's index is the countable length before its item. Unlike yjs, which walks each
// marker left to an undeleted item on every insertion, this only looks at an item when the
// marker sits exactly at the insertion point: an undeleted item there is always right of the
// new content, a deleted one may be on either side and its marker is dropped. Deletions only
// shift indices. Positions found never depend on markers, only how fast they are found.
void UpdateMarkerChanges(Type* type, uint64_t index, int64_t len) {
  SearchMarkers& markers = type->markers;
  uint64_t* indices = markers.indices.data();
  if (len > 0) {
    const auto n = static_cast<uint64_t>(len);
    for (size_t i = markers.size(); i-- > 0;) {
      if (indices[i] > index) {
        indices[i] += n;
      } else if (indices[i] == index) {
        const Item* p = markers.items[i];
        if (p->deleted() || !p->countable()) {
          markers.Erase(i);
          indices = markers.indices.data();
          continue;
        }
        indices[i] += n;
      }
    }
  } else {
    const auto n = static_cast<uint64_t>(-len);
    for (size_t i = 0; i < markers.size(); ++i) {
      if (index < indices[i]) indices[i] = indices[i] - index > n ? indices[i] - n : index;
    }
  }
}

Status ValidateListValues(std::span<const Value> values) {
  for (const Value& v : values) {
    if (v.kind() != Value::Kind::kAny) continue;
    if (v.any().is_undefined())
      return InvalidArgumentError("undefined cannot be inserted in a list");
    if (v.any().kind() == lib0::Any::Kind::kBigInt) {
      return InvalidArgumentError("a BigInt cannot be inserted in a list");
    }
  }
  return Status::Ok();
}

Status ValidateMapValue(const Value&) {
  return Status::Ok();
}

std::unique_ptr<Type> NewPrelimType(const std::shared_ptr<const Prelim>& prelim) {
  auto type = std::make_unique<Type>();
  type->ref = prelim->ref;
  type->name = prelim->name;
  type->markers_enabled = prelim->ref == TypeRef::kText || prelim->ref == TypeRef::kArray ||
                          prelim->ref == TypeRef::kXmlText;
  type->prelim = prelim;
  return type;
}

Content ContentOfValue(const Value& value) {
  switch (value.kind()) {
    case Value::Kind::kAny:
      if (value.any().kind() == lib0::Any::Kind::kBinary) {
        return Content(BinaryContent{value.any().as_binary()});
      }
      return Content(AnyContent{{value.any()}});
    case Value::Kind::kType: return Content(TypeContent{NewPrelimType(value.prelim())});
    case Value::Kind::kDoc: return Content(DocContent{value.guid(), value.any()});
  }
  return Content::Deleted(0);
}

OutValue ContentValueAt(const Content& content, uint64_t index) {
  OutValue v;
  switch (content.ref()) {
    case ContentRef::kAny: v.any = content.get<AnyContent>()->values[index]; return v;
    case ContentRef::kJson: v.any = content.get<JsonContent>()->values[index]; return v;
    case ContentRef::kString: {
      // getContent() yields UTF-16 units; half a surrogate pair reads as U+FFFD here.
      v.any = lib0::Any(lib0::Utf16Slice(content.string(), index, index + 1));
      return v;
    }
    default: {
      std::vector<OutValue> values;
      AppendContentValues(content, values);
      return values.empty() ? v : std::move(values[0]);
    }
  }
}

void ListInsertAfter(Transaction& t, Type* parent, Item* reference, std::span<const Value> values) {
  Item* left = reference;
  Item* right = reference == nullptr ? parent->start : reference->right.get();
  std::vector<lib0::Any> json;
  auto pack = [&] {
    if (json.empty()) return;
    left = InsertLocalItem(t, left, right, parent, nullptr, Content(AnyContent{std::move(json)}));
    json.clear();
  };
  for (const Value& v : values) {
    if (v.kind() == Value::Kind::kAny && v.any().kind() != lib0::Any::Kind::kBinary) {
      json.push_back(v.any());
      continue;
    }
    pack();
    left = InsertLocalItem(t, left, right, parent, nullptr, ContentOfValue(v));
  }
  pack();
}

void ListInsert(Transaction& t, Type* parent, uint64_t index, std::span<const Value> values) {
  if (index == 0) {
    if (parent->markers_enabled) {
      UpdateMarkerChanges(parent, index, static_cast<int64_t>(values.size()));
    }
    ListInsertAfter(t, parent, nullptr, values);
    return;
  }
  const uint64_t start_index = index;
  const MarkerHit marker = FindMarker(parent, index);
  Item* n = parent->start;
  if (marker.p != nullptr) {
    n = marker.p;
    index -= marker.index;
    if (index == 0) {
      // Step to the left undeleted item so that the loop below can count it.
      n = Prev(n);
      index += (n != nullptr && n->countable() && !n->deleted()) ? n->length() : 0;
    }
  }
  for (; n != nullptr; n = n->right) {
    if (!n->deleted() && n->countable()) {
      if (index <= n->length()) {
        if (index < n->length()) GetItemCleanStart(t, ID{n->client(), n->clock() + index});
        break;
      }
      index -= n->length();
    }
  }
  if (parent->markers_enabled) {
    UpdateMarkerChanges(parent, start_index, static_cast<int64_t>(values.size()));
  }
  ListInsertAfter(t, parent, n, values);
}

void ListPush(Transaction& t, Type* parent, std::span<const Value> values) {
  // Start from the marker with the highest index and walk to the end.
  Item* n = parent->start;
  uint64_t best = 0;
  const SearchMarkers& markers = parent->markers;
  for (size_t i = 0; i < markers.size(); ++i) {
    if (markers.indices[i] > best) {
      best = markers.indices[i];
      n = markers.items[i];
    }
  }
  if (n != nullptr) {
    while (n->right != nullptr) n = n->right;
  }
  ListInsertAfter(t, parent, n, values);
}

void ListDelete(Transaction& t, Type* parent, uint64_t index, uint64_t length) {
  if (length == 0) return;
  const uint64_t start_index = index;
  const uint64_t start_length = length;
  const MarkerHit marker = FindMarker(parent, index);
  Item* n = parent->start;
  if (marker.p != nullptr) {
    n = marker.p;
    index -= marker.index;
  }
  for (; n != nullptr && index > 0; n = n->right) {
    if (!n->deleted() && n->countable()) {
      if (index < n->length()) GetItemCleanStart(t, ID{n->client(), n->clock() + index});
      index -= n->length();
    }
  }
  while (length > 0 && n != nullptr) {
    if (!n->deleted()) {
      if (length < n->length()) GetItemCleanStart(t, ID{n->client(), n->clock() + length});
      DeleteStruct(t, n);
      length -= n->length();
    }
    n = n->right;
  }
  if (parent->markers_enabled) {
    UpdateMarkerChanges(parent, start_index,
                        -static_cast<int64_t>(start_length) + static_cast<int64_t>(length));
  }
}

OutValue ListGet(Type* type, uint64_t index) {
  const MarkerHit marker = FindMarker(type, index);
  Item* n = type->start;
  if (marker.p != nullptr) {
    n = marker.p;
    index -= marker.index;
  }
  for (; n != nullptr; n = n->right) {
    if (!n->deleted() && n->countable()) {
      if (index < n->length()) return ContentValueAt(n->content, index);
      index -= n->length();
    }
  }
  return {};
}

std::vector<OutValue> ListSlice(const Type* type, int64_t start, int64_t end) {
  const auto length = static_cast<int64_t>(type->length);
  if (start < 0) start += length;
  if (end < 0) end += length;
  int64_t len = end - start;
  std::vector<OutValue> out;
  for (const Item* n = type->start; n != nullptr && len > 0; n = n->right) {
    if (!n->countable() || n->deleted()) continue;
    const auto c = static_cast<int64_t>(n->length());
    if (c <= start) {
      start -= c;
      continue;
    }
    for (int64_t i = std::max<int64_t>(start, 0); i < c && len > 0; ++i, --len) {
      out.push_back(ContentValueAt(n->content, static_cast<uint64_t>(i)));
    }
    start = 0;
  }
  return out;
}

std::vector<OutValue> ListToArray(const Type* type) {
  std::vector<OutValue> out;
  for (const Item* n = type->start; n != nullptr; n = n->right) {
    if (n->countable() && !n->deleted()) {
      for (uint64_t i = 0; i < n->length(); ++i) out.push_back(ContentValueAt(n->content, i));
    }
  }
  return out;
}

void MapSet(Transaction& t, Type* parent, const std::string* key, const Value& value) {
  Item* left = parent->MapGet(key);
  InsertLocalItem(t, left, nullptr, parent, key, ContentOfValue(value));
}

void MapDelete(Transaction& t, Type* parent, const std::string* key) {
  if (Item* c = parent->MapGet(key)) DeleteStruct(t, c);
}

std::optional<OutValue> MapGetValue(const Type* parent, const std::string* key) {
  if (key == nullptr) return std::nullopt;
  const Item* item = parent->MapGet(key);
  if (item == nullptr || item->deleted()) return std::nullopt;
  return LastContentValue(item->content);
}

bool MapHas(const Type* parent, const std::string* key) {
  if (key == nullptr) return false;
  const Item* item = parent->MapGet(key);
  return item != nullptr && !item->deleted();
}

std::vector<std::pair<std::string, OutValue>> MapEntries(const Type* parent) {
  std::vector<std::pair<std::string, OutValue>> out;
  for (const KeySlot* entry : parent->map_entries()) {
    if (!entry->item->deleted())
      out.emplace_back(*entry->key, LastContentValue(entry->item->content));
  }
  return out;
}

// AbstractType._integrate of each kind: the content given before integration goes in now.
void IntegratePrelim(Transaction& t, Type* type) {
  const std::shared_ptr<const Prelim> prelim = std::move(type->prelim);
  type->prelim.reset();
  Doc& doc = t.doc();
  // A JS Map keeps a key's first position and its last value.
  auto set_entries = [&](const std::vector<std::pair<std::string, Value>>& entries) {
    std::vector<std::pair<const std::string*, const Value*>> ordered;
    for (const auto& [k, v] : entries) {
      const std::string* key = DocInternals::InternKey(doc, k);
      auto it = std::find_if(ordered.begin(), ordered.end(),
                             [key](const auto& e) { return e.first == key; });
      if (it != ordered.end()) {
        it->second = &v;
      } else {
        ordered.emplace_back(key, &v);
      }
    }
    for (const auto& [key, v] : ordered) MapSet(t, type, key, *v);
  };
  switch (prelim->ref) {
    case TypeRef::kArray:
    case TypeRef::kXmlFragment: ListInsert(t, type, 0, prelim->children); break;
    case TypeRef::kXmlElement:
      ListInsert(t, type, 0, prelim->children);
      set_entries(prelim->entries);
      break;
    case TypeRef::kMap:
    case TypeRef::kXmlHook: set_entries(prelim->entries); break;
    case TypeRef::kText:
    case TypeRef::kXmlText:
      if (prelim->delta) {
        TextApplyDelta(t, type, *prelim->delta);
      } else if (!prelim->text.empty()) {
        TextInsert(t, type, 0, Value(prelim->text), nullptr);
      }
      break;
    default: break;
  }
}

}  // namespace tandem::crdt

#pragma once
// The list and map halves of every shared type (yjs `src/types/AbstractType.js`): search
// markers, typeList* and typeMap* operations. Indices count the countable, undeleted length
// (UTF-16 units for text). Callers validate arguments; these functions assume them valid.

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"
#include "crdt/item.h"
#include "crdt/value.h"

namespace tandem::crdt {

class Transaction;

// A place to start walking from: `p` starts at countable index `index`.
struct MarkerHit {
  Item* p = nullptr;
  uint64_t index = 0;
};
// findMarker: a marker at or before `index` (refreshed), or none (p null) when the type keeps
// none.
MarkerHit FindMarker(Type* type, uint64_t index);
// updateMarkerChanges: `len` > 0 for an insertion at `index`, < 0 for a deletion.
void UpdateMarkerChanges(Type* type, uint64_t index, int64_t len);

// Checks that `values` can go into a list (no undefined, no BigInt: yjs throws on them).
Status ValidateListValues(std::span<const Value> values);
// Checks that `value` can be a map entry.
Status ValidateMapValue(const Value& value);
// The content of a single value (typeMapSet's conversion, and each non-JSON list value).
Content ContentOfValue(const Value& value);
// A new, not yet integrated type for a prelim value (its content waits in Type::prelim).
std::unique_ptr<Type> NewPrelimType(const std::shared_ptr<const Prelim>& prelim);
// The value at `index` of an item's content (getContent()[index]).
OutValue ContentValueAt(const Content& content, uint64_t index);

// typeListInsertGenericsAfter: inserts after `reference` (null: at the start).
void ListInsertAfter(Transaction& t, Type* parent, Item* reference, std::span<const Value> values);
// typeListInsertGenerics. REQUIRES: index <= parent->length.
void ListInsert(Transaction& t, Type* parent, uint64_t index, std::span<const Value> values);
// typeListPushGenerics
void ListPush(Transaction& t, Type* parent, std::span<const Value> values);
// typeListDelete. REQUIRES: index + length <= parent->length.
void ListDelete(Transaction& t, Type* parent, uint64_t index, uint64_t length);
// typeListGet. REQUIRES: index < type->length.
OutValue ListGet(Type* type, uint64_t index);
// typeListSlice with JS semantics for negative bounds.
std::vector<OutValue> ListSlice(const Type* type, int64_t start, int64_t end);
std::vector<OutValue> ListToArray(const Type* type);

// typeMapSet / typeMapDelete / typeMapGet / typeMapHas
void MapSet(Transaction& t, Type* parent, const std::string* key, const Value& value);
void MapDelete(Transaction& t, Type* parent, const std::string* key);
// `key` is the document's interned key (Doc::FindKey); null means the key was never used.
std::optional<OutValue> MapGetValue(const Type* parent, const std::string* key);
bool MapHas(const Type* parent, const std::string* key);
// Live entries in insertion order.
std::vector<std::pair<std::string, OutValue>> MapEntries(const Type* parent);

}  // namespace tandem::crdt

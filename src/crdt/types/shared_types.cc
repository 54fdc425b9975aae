#include "crdt/types/shared_types.h"

#include <algorithm>

#include "crdt/doc_internal.h"
#include "crdt/read_api.h"
#include "crdt/transaction.h"
#include "crdt/types/list.h"

namespace tandem::crdt {

namespace {

Status RangeError(uint64_t index, uint64_t length, uint64_t size) {
  return OutOfRangeError("index " + std::to_string(index) + " + length " + std::to_string(length) +
                         " is beyond the end (" + std::to_string(size) + ")");
}

Status IndexError(uint64_t index, uint64_t size) {
  return OutOfRangeError("index " + std::to_string(index) + " is beyond the end (" +
                         std::to_string(size) + ")");
}

// The next / previous undeleted sibling of a nested type (Item.next / Item.prev).
SharedType Sibling(Doc* doc, const Type* type, bool next) {
  const Item* item = type->item;
  if (item == nullptr) return {};
  const Item* n = next ? item->right : item->left;
  while (n != nullptr && n->deleted()) n = next ? n->right : n->left;
  if (n == nullptr) return {};
  Type* sibling = n->content.type();
  return sibling == nullptr ? SharedType() : SharedType(doc, sibling);
}

// Makes a root typed on first typed access, as yjs's doc.get(name, Constructor) does: a root
// first seen untyped (from an update) becomes a fresh typed instance with search markers.
Type* TypedRoot(Doc& doc, std::string_view name, TypeRef ref) {
  Type* type = doc.FindRoot(name);
  const bool fresh = type == nullptr || type->ref == TypeRef::kUndefined;
  if (type != nullptr && fresh) type->has_formatting = false;
  type = doc.GetOrCreateRoot(name, ref);
  if (fresh && type->ref == ref) {
    type->markers_enabled =
        ref == TypeRef::kText || ref == TypeRef::kArray || ref == TypeRef::kXmlText;
  }
  return type;
}

}  // namespace

TextRef Doc::GetText(std::string_view name) {
  return TextRef(this, TypedRoot(*this, name, TypeRef::kText));
}
ArrayRef Doc::GetArray(std::string_view name) {
  return ArrayRef(this, TypedRoot(*this, name, TypeRef::kArray));
}
MapRef Doc::GetMap(std::string_view name) {
  return MapRef(this, TypedRoot(*this, name, TypeRef::kMap));
}
XmlFragmentRef Doc::GetXmlFragment(std::string_view name) {
  return XmlFragmentRef(this, TypedRoot(*this, name, TypeRef::kXmlFragment));
}
XmlElementRef Doc::GetXmlElement(std::string_view name) {
  return XmlElementRef(this, TypedRoot(*this, name, TypeRef::kXmlElement));
}

// ---------------------------------------------------------------------------------------------

SharedType SharedType::parent() const {
  if (type_->item == nullptr || type_->item->parent() == nullptr) return {};
  return SharedType(doc_, type_->item->parent());
}

uint64_t SharedType::Observe(EventHandler handler) const {
  return crdt::Observe(*doc_, type_, std::move(handler));
}

uint64_t SharedType::ObserveDeep(DeepEventHandler handler) const {
  return crdt::ObserveDeep(*doc_, type_, std::move(handler));
}

bool SharedType::Unobserve(uint64_t id) const {
  return crdt::Unobserve(type_, id);
}

lib0::Any SharedType::ToJson() const {
  return TypeToJson(*type_);
}

Status SharedType::CheckEditable() const {
  if (type_ == nullptr) return InvalidArgumentError("empty handle");
  if (type_->collected) {
    return Status(StatusCode::kFailedPrecondition, "the type was deleted and collected");
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------
// Text

std::string TextRef::ToString() const {
  return TextToString(*type_);
}

Status TextRef::Insert(uint64_t index, std::string_view text,
                       const lib0::Any::Object* attributes) const {
  TANDEM_RETURN_IF_ERROR(CheckEditable());
  if (index > type_->length) return IndexError(index, type_->length);
  if (text.empty()) return Status::Ok();
  Transact(*doc_, [&](Transaction& t) {
    TextInsert(t, type_, index, Value(std::string(text)), attributes);
  });
  return Status::Ok();
}

Status TextRef::InsertEmbed(uint64_t index, const Value& embed,
                            const lib0::Any::Object* attributes) const {
  TANDEM_RETURN_IF_ERROR(CheckEditable());
  if (index > type_->length) return IndexError(index, type_->length);
  Transact(*doc_, [&](Transaction& t) {
    TextInsert(t, type_, index, embed, attributes, /*as_embed=*/true);
  });
  return Status::Ok();
}

Status TextRef::Delete(uint64_t index, uint64_t length) const {
  TANDEM_RETURN_IF_ERROR(CheckEditable());
  if (index > type_->length) return IndexError(index, type_->length);
  // As in yjs, a length past the end deletes to the end.
  length = std::min(length, type_->length - index);
  if (length == 0) return Status::Ok();
  Transact(*doc_, [&](Transaction& t) { TextDelete(t, type_, index, length); });
  return Status::Ok();
}

Status TextRef::Format(uint64_t index, uint64_t length, const lib0::Any::Object& attributes) const {
  TANDEM_RETURN_IF_ERROR(CheckEditable());
  if (index > type_->length) return IndexError(index, type_->length);
  if (length == 0) return Status::Ok();
  Transact(*doc_, [&](Transaction& t) { TextFormat(t, type_, index, length, attributes); });
  return Status::Ok();
}

Status TextRef::ApplyDelta(const std::vector<DeltaInput>& delta, bool sanitize) const {
  TANDEM_RETURN_IF_ERROR(CheckEditable());
  // Deletes past the end and embeds of unusable values are refused up front.
  uint64_t position = 0;
  uint64_t length = type_->length;
  for (const DeltaInput& op : delta) {
    switch (op.kind) {
      case DeltaInput::Kind::kInsert:
        if (op.insert.kind() == Value::Kind::kAny && op.insert.any().is_undefined()) {
          return InvalidArgumentError("delta insert without a value");
        }
        break;
      case DeltaInput::Kind::kRetain: position += op.len; break;
      case DeltaInput::Kind::kDelete:
        if (position + op.len > length) return RangeError(position, op.len, length);
        length -= op.len;
        break;
    }
  }
  Transact(*doc_, [&](Transaction& t) { TextApplyDelta(t, type_, delta, sanitize); });
  return Status::Ok();
}

std::vector<DeltaOp> TextRef::ToDelta(const Snapshot* snapshot,
                                      const Snapshot* prev_snapshot) const {
  return TextToDelta(*doc_, type_, snapshot, prev_snapshot);
}

lib0::Any TextRef::ToDeltaAny(const Snapshot* snapshot, const Snapshot* prev_snapshot) const {
  return DeltaToAny(ToDelta(snapshot, prev_snapshot), /*text=*/true);
}

Status TextRef::SetAttribute(std::string_view name, const Value& value) const {
  TANDEM_RETURN_IF_ERROR(CheckEditable());
  Transact(*doc_,
           [&](Transaction& t) { MapSet(t, type_, DocInternals::InternKey(*doc_, name), value); });
  return Status::Ok();
}

Status TextRef::RemoveAttribute(std::string_view name) const {
  TANDEM_RETURN_IF_ERROR(CheckEditable());
  Transact(*doc_,
           [&](Transaction& t) { MapDelete(t, type_, DocInternals::InternKey(*doc_, name)); });
  return Status::Ok();
}

std::optional<OutValue> TextRef::GetAttribute(std::string_view name) const {
  return MapGetValue(type_, DocInternals::FindKey(*doc_, name));
}

std::vector<std::pair<std::string, OutValue>> TextRef::GetAttributes() const {
  return MapEntries(type_);
}

std::string XmlTextRef::ToXmlString() const {
  return XmlToString(*type_);
}

SharedType XmlTextRef::NextSibling() const {
  return Sibling(doc_, type_, true);
}

SharedType XmlTextRef::PrevSibling() const {
  return Sibling(doc_, type_, false);
}

// ---------------------------------------------------------------------------------------------
// Array

Status ArrayRef::Insert(uint64_t index, std::span<const Value> values) const {
  TANDEM_RETURN_IF_ERROR(CheckEditable());
  if (index > type_->length) return IndexError(index, type_->length);
  TANDEM_RETURN_IF_ERROR(ValidateListValues(values));
  Transact(*doc_, [&](Transaction& t) { ListInsert(t, type_, index, values); });
  return Status::Ok();
}

Status ArrayRef::Push(std::span<const Value> values) const {
  TANDEM_RETURN_IF_ERROR(CheckEditable());
  TANDEM_RETURN_IF_ERROR(ValidateListValues(values));
  Transact(*doc_, [&](Transaction& t) { ListPush(t, type_, values); });
  return Status::Ok();
}

Status ArrayRef::Delete(uint64_t index, uint64_t length) const {
  TANDEM_RETURN_IF_ERROR(CheckEditable());
  if (index > type_->length || length > type_->length - index) {
    return RangeError(index, length, type_->length);
  }
  if (length == 0) return Status::Ok();
  Transact(*doc_, [&](Transaction& t) { ListDelete(t, type_, index, length); });
  return Status::Ok();
}

std::optional<OutValue> ArrayRef::Get(uint64_t index) const {
  if (index >= type_->length) return std::nullopt;
  return ListGet(type_, index);
}

std::vector<OutValue> ArrayRef::Slice(int64_t start, int64_t end) const {
  return ListSlice(type_, start, end);
}

std::vector<OutValue> ArrayRef::ToArray() const {
  return ListToArray(type_);
}

// ---------------------------------------------------------------------------------------------
// Map

Status MapRef::Set(std::string_view key, const Value& value) const {
  TANDEM_RETURN_IF_ERROR(CheckEditable());
  Transact(*doc_,
           [&](Transaction& t) { MapSet(t, type_, DocInternals::InternKey(*doc_, key), value); });
  return Status::Ok();
}

Status MapRef::Delete(std::string_view key) const {
  TANDEM_RETURN_IF_ERROR(CheckEditable());
  const std::string* k = DocInternals::FindKey(*doc_, key);
  if (k == nullptr) return Status::Ok();
  Transact(*doc_, [&](Transaction& t) { MapDelete(t, type_, k); });
  return Status::Ok();
}

Status MapRef::Clear() const {
  TANDEM_RETURN_IF_ERROR(CheckEditable());
  Transact(*doc_, [&](Transaction& t) {
    std::vector<const std::string*> keys;
    for (const KeySlot* entry : type_->map_entries()) {
      if (!entry->item->deleted()) keys.push_back(entry->key);
    }
    for (const std::string* key : keys) MapDelete(t, type_, key);
  });
  return Status::Ok();
}

std::optional<OutValue> MapRef::Get(std::string_view key) const {
  return MapGetValue(type_, DocInternals::FindKey(*doc_, key));
}

bool MapRef::Has(std::string_view key) const {
  return MapHas(type_, DocInternals::FindKey(*doc_, key));
}

uint64_t MapRef::size() const {
  uint64_t n = 0;
  for (const KeySlot* entry : type_->map_entries()) n += entry->item->deleted() ? 0 : 1;
  return n;
}

std::vector<std::string> MapRef::Keys() const {
  std::vector<std::string> keys;
  for (const KeySlot* entry : type_->map_entries()) {
    if (!entry->item->deleted()) keys.push_back(*entry->key);
  }
  return keys;
}

std::vector<std::pair<std::string, OutValue>> MapRef::Entries() const {
  return MapEntries(type_);
}

// ---------------------------------------------------------------------------------------------
// XML

Status XmlFragmentRef::Insert(uint64_t index, std::span<const Value> children) const {
  TANDEM_RETURN_IF_ERROR(CheckEditable());
  if (index > type_->length) return IndexError(index, type_->length);
  TANDEM_RETURN_IF_ERROR(ValidateListValues(children));
  Transact(*doc_, [&](Transaction& t) { ListInsert(t, type_, index, children); });
  return Status::Ok();
}

Status XmlFragmentRef::InsertAfter(const SharedType& ref, std::span<const Value> children) const {
  TANDEM_RETURN_IF_ERROR(CheckEditable());
  Item* reference = nullptr;
  if (ref) {
    reference = ref.type()->item;
    if (reference == nullptr || reference->parent() != type_) {
      return InvalidArgumentError("the reference is not a child of this type");
    }
  }
  TANDEM_RETURN_IF_ERROR(ValidateListValues(children));
  Transact(*doc_, [&](Transaction& t) { ListInsertAfter(t, type_, reference, children); });
  return Status::Ok();
}

Status XmlFragmentRef::Delete(uint64_t index, uint64_t length) const {
  TANDEM_RETURN_IF_ERROR(CheckEditable());
  if (index > type_->length || length > type_->length - index) {
    return RangeError(index, length, type_->length);
  }
  if (length == 0) return Status::Ok();
  Transact(*doc_, [&](Transaction& t) { ListDelete(t, type_, index, length); });
  return Status::Ok();
}

std::optional<OutValue> XmlFragmentRef::Get(uint64_t index) const {
  if (index >= type_->length) return std::nullopt;
  return ListGet(type_, index);
}

std::vector<OutValue> XmlFragmentRef::Slice(int64_t start, int64_t end) const {
  return ListSlice(type_, start, end);
}

std::vector<OutValue> XmlFragmentRef::ToArray() const {
  return ListToArray(type_);
}

SharedType XmlFragmentRef::FirstChild() const {
  for (const Item* n = type_->start; n != nullptr; n = n->right) {
    if (n->deleted()) continue;
    Type* type = n->content.type();
    return type == nullptr ? SharedType() : SharedType(doc_, type);
  }
  return {};
}

std::string XmlFragmentRef::ToString() const {
  return XmlToString(*type_);
}

Status XmlElementRef::SetAttribute(std::string_view name, const Value& value) const {
  TANDEM_RETURN_IF_ERROR(CheckEditable());
  Transact(*doc_,
           [&](Transaction& t) { MapSet(t, type_, DocInternals::InternKey(*doc_, name), value); });
  return Status::Ok();
}

Status XmlElementRef::RemoveAttribute(std::string_view name) const {
  TANDEM_RETURN_IF_ERROR(CheckEditable());
  const std::string* k = DocInternals::FindKey(*doc_, name);
  if (k == nullptr) return Status::Ok();
  Transact(*doc_, [&](Transaction& t) { MapDelete(t, type_, k); });
  return Status::Ok();
}

std::optional<OutValue> XmlElementRef::GetAttribute(std::string_view name) const {
  return MapGetValue(type_, DocInternals::FindKey(*doc_, name));
}

bool XmlElementRef::HasAttribute(std::string_view name) const {
  return MapHas(type_, DocInternals::FindKey(*doc_, name));
}

std::vector<std::pair<std::string, OutValue>> XmlElementRef::GetAttributes() const {
  return MapEntries(type_);
}

SharedType XmlElementRef::NextSibling() const {
  return Sibling(doc_, type_, true);
}

SharedType XmlElementRef::PrevSibling() const {
  return Sibling(doc_, type_, false);
}

}  // namespace tandem::crdt

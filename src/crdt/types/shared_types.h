#pragma once
// Handles on shared types, the editing API of yjs's Y.Text, Y.Array, Y.Map, Y.XmlFragment,
// Y.XmlElement, Y.XmlText and Y.XmlHook. A handle is a (document, type) pair: cheap to copy,
// valid as long as the document lives (a nested type that was deleted and collected stays a
// valid, empty handle whose edits fail).
//
// Every edit runs in a transaction: the caller's (Doc::Transact) or one of its own, which ends
// with the edit. Edits check their arguments first and change nothing when they fail.
// Indices count UTF-16 units in text and elements in lists.
//
// Thread-safety: none; a document and its handles belong to one strand.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "crdt/doc.h"
#include "crdt/events.h"
#include "crdt/item.h"
#include "crdt/relative_position.h"
#include "crdt/snapshot.h"
#include "crdt/types/text.h"
#include "crdt/value.h"
#include "lib0/any.h"

namespace tandem::crdt {

class SharedType {
 public:
  SharedType() = default;
  SharedType(Doc* doc, Type* type) : doc_(doc), type_(type) {}

  Doc* doc() const { return doc_; }
  Type* type() const { return type_; }
  explicit operator bool() const { return type_ != nullptr; }
  TypeRef kind() const { return type_->ref; }
  // The type was deleted and garbage collected: it reads as empty and refuses edits.
  bool collected() const { return type_->collected; }
  // The parent type, or an empty handle for a root.
  SharedType parent() const;

  // type.observe / observeDeep; the returned id unsubscribes.
  uint64_t Observe(EventHandler handler) const;
  uint64_t ObserveDeep(DeepEventHandler handler) const;
  bool Unobserve(uint64_t id) const;

  // type.toJSON()
  lib0::Any ToJson() const;

  // A handle on a nested type read from this one (OutValue::Kind::kType).
  SharedType Nested(const OutValue& value) const { return SharedType(doc_, value.type); }

  friend bool operator==(const SharedType& a, const SharedType& b) { return a.type_ == b.type_; }

 protected:
  Status CheckEditable() const;
  Doc* doc_ = nullptr;
  Type* type_ = nullptr;
};

// Y.Text
class TextRef : public SharedType {
 public:
  using SharedType::SharedType;
  explicit TextRef(const SharedType& t) : SharedType(t) {}

  uint64_t length() const { return type_->length; }
  std::string ToString() const;
  // insert(index, text, attributes?): without attributes the text continues the formatting in
  // effect at `index`.
  Status Insert(uint64_t index, std::string_view text,
                const lib0::Any::Object* attributes = nullptr) const;
  // insertEmbed(index, embed, attributes?): a JSON value or a new nested type.
  Status InsertEmbed(uint64_t index, const Value& embed,
                     const lib0::Any::Object* attributes = nullptr) const;
  // delete(index, length): as in yjs, a length past the end deletes to the end.
  Status Delete(uint64_t index, uint64_t length) const;
  // format(index, length, attributes): a null value removes that attribute.
  Status Format(uint64_t index, uint64_t length, const lib0::Any::Object& attributes) const;
  Status ApplyDelta(const std::vector<DeltaInput>& delta, bool sanitize = true) const;
  // toDelta(snapshot?, prevSnapshot?)
  std::vector<DeltaOp> ToDelta(const Snapshot* snapshot = nullptr,
                               const Snapshot* prev_snapshot = nullptr) const;
  lib0::Any ToDeltaAny(const Snapshot* snapshot = nullptr,
                       const Snapshot* prev_snapshot = nullptr) const;

  // Attributes of the text as a whole (the map part; used by XmlText for block attributes).
  Status SetAttribute(std::string_view name, const Value& value) const;
  Status RemoveAttribute(std::string_view name) const;
  std::optional<OutValue> GetAttribute(std::string_view name) const;
  std::vector<std::pair<std::string, OutValue>> GetAttributes() const;
};

// Y.Array
class ArrayRef : public SharedType {
 public:
  using SharedType::SharedType;
  explicit ArrayRef(const SharedType& t) : SharedType(t) {}

  uint64_t length() const { return type_->length; }
  Status Insert(uint64_t index, std::span<const Value> values) const;
  Status Insert(uint64_t index, std::initializer_list<Value> values) const {
    return Insert(index, std::span<const Value>(values.begin(), values.size()));
  }
  Status Push(std::span<const Value> values) const;
  Status Push(std::initializer_list<Value> values) const {
    return Push(std::span<const Value>(values.begin(), values.size()));
  }
  Status Unshift(std::span<const Value> values) const { return Insert(0, values); }
  Status Delete(uint64_t index, uint64_t length = 1) const;
  std::optional<OutValue> Get(uint64_t index) const;
  // slice(start, end) with JS semantics: negative bounds count from the end.
  std::vector<OutValue> Slice(int64_t start, int64_t end) const;
  std::vector<OutValue> ToArray() const;
};

// Y.Map
class MapRef : public SharedType {
 public:
  using SharedType::SharedType;
  explicit MapRef(const SharedType& t) : SharedType(t) {}

  Status Set(std::string_view key, const Value& value) const;
  Status Delete(std::string_view key) const;
  Status Clear() const;
  std::optional<OutValue> Get(std::string_view key) const;
  bool Has(std::string_view key) const;
  uint64_t size() const;
  std::vector<std::string> Keys() const;
  // Live entries in insertion order.
  std::vector<std::pair<std::string, OutValue>> Entries() const;
};

// Y.XmlFragment: a list of XmlElement / XmlText children.
class XmlFragmentRef : public SharedType {
 public:
  using SharedType::SharedType;
  explicit XmlFragmentRef(const SharedType& t) : SharedType(t) {}

  uint64_t length() const { return type_->length; }
  Status Insert(uint64_t index, std::span<const Value> children) const;
  // insertAfter(ref, content): after the child `ref` (an empty handle: at the start).
  Status InsertAfter(const SharedType& ref, std::span<const Value> children) const;
  Status Push(std::span<const Value> children) const { return Insert(length(), children); }
  Status Unshift(std::span<const Value> children) const { return Insert(0, children); }
  Status Delete(uint64_t index, uint64_t length = 1) const;
  std::optional<OutValue> Get(uint64_t index) const;
  std::vector<OutValue> Slice(int64_t start, int64_t end) const;
  std::vector<OutValue> ToArray() const;
  // The first undeleted child, or an empty handle.
  SharedType FirstChild() const;
  std::string ToString() const;
};

// Y.XmlElement: a node name, attributes and children.
class XmlElementRef : public XmlFragmentRef {
 public:
  using XmlFragmentRef::XmlFragmentRef;
  explicit XmlElementRef(const SharedType& t) : XmlFragmentRef(t) {}

  const std::string& node_name() const { return type_->name; }
  Status SetAttribute(std::string_view name, const Value& value) const;
  Status RemoveAttribute(std::string_view name) const;
  std::optional<OutValue> GetAttribute(std::string_view name) const;
  bool HasAttribute(std::string_view name) const;
  std::vector<std::pair<std::string, OutValue>> GetAttributes() const;
  SharedType NextSibling() const;
  SharedType PrevSibling() const;
};

// Y.XmlText: formatted text inside XML.
class XmlTextRef : public TextRef {
 public:
  using TextRef::TextRef;
  explicit XmlTextRef(const SharedType& t) : TextRef(t) {}

  // The text with its formats as tags (YXmlText.toString).
  std::string ToXmlString() const;
  SharedType NextSibling() const;
  SharedType PrevSibling() const;
};

// Y.XmlHook: a map with a hook name.
class XmlHookRef : public MapRef {
 public:
  using MapRef::MapRef;
  explicit XmlHookRef(const SharedType& t) : MapRef(t) {}
  const std::string& hook_name() const { return type_->name; }
};

}  // namespace tandem::crdt

#pragma once
// Values going into and coming out of shared types, as the JavaScript values yjs takes and gives:
// JSON-like values (ContentAny), byte arrays (ContentBinary), new nested types with their initial
// content (yjs "prelim" types, ContentType) and sub-documents (ContentDoc).

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "crdt/item.h"
#include "lib0/any.h"

namespace tandem::crdt {

struct DeltaInput;  // crdt/types/text.h

// A value to insert. A lib0::Any holding a byte array at top level is stored as ContentBinary, as
// yjs does for a Uint8Array; any other Any (objects, arrays, primitives, nested bytes) as
// ContentAny.
class Value {
 public:
  enum class Kind : uint8_t { kAny, kType, kDoc };

  Value() = default;                              // undefined
  Value(lib0::Any any) : any_(std::move(any)) {}  // NOLINT(google-explicit-constructor)
  Value(const char* s) : any_(s) {}               // NOLINT(google-explicit-constructor)
  Value(std::string s) : any_(std::move(s)) {}    // NOLINT(google-explicit-constructor)
  Value(double d) : any_(d) {}                    // NOLINT(google-explicit-constructor)
  Value(int i) : any_(i) {}                       // NOLINT(google-explicit-constructor)
  Value(bool b) : any_(b) {}                      // NOLINT(google-explicit-constructor)

  static Value Binary(std::vector<uint8_t> bytes) {
    return Value(lib0::Any::Bytes(std::move(bytes)));
  }
  // new Y.Map(entries)
  static Value Map(std::vector<std::pair<std::string, Value>> entries = {});
  // Y.Array.from(items)
  static Value Array(std::vector<Value> items = {});
  // new Y.Text(text)
  static Value Text(std::string text = {});
  // A new Y.Text given a delta before integration (yjs `text.applyDelta(delta)` on a prelim
  // text, as YText.clone() does): formatted text and embeds.
  static Value TextFromDelta(std::vector<DeltaInput> delta);
  // new Y.XmlText(text)
  static Value XmlText(std::string text = {});
  // new Y.XmlElement(name) with attributes set and children inserted before integration
  static Value XmlElement(std::string name,
                          std::vector<std::pair<std::string, Value>> attributes = {},
                          std::vector<Value> children = {});
  static Value XmlFragment(std::vector<Value> children = {});
  static Value XmlHook(std::string name, std::vector<std::pair<std::string, Value>> entries = {});
  // new Y.Doc({guid}) inserted as a sub-document; `opts` is what yjs writes beside the guid.
  static Value SubDoc(std::string guid, lib0::Any opts = lib0::Any::Object{});

  Kind kind() const { return kind_; }
  const lib0::Any& any() const { return any_; }
  const std::shared_ptr<const Prelim>& prelim() const { return prelim_; }
  const std::string& guid() const { return guid_; }

 private:
  Kind kind_ = Kind::kAny;
  lib0::Any any_;  // kAny: the value; kDoc: the options
  std::shared_ptr<const Prelim> prelim_;
  std::string guid_;
};

// The initial content of a nested type created locally, integrated right after the type's item
// (yjs `_prelimContent`, `_prelimAttrs`, YText `_pending`), in yjs's order: list children, then
// map entries / attributes, then text.
struct Prelim {
  TypeRef ref = TypeRef::kMap;
  std::string name;                                      // XmlElement node name, XmlHook hook name
  std::vector<Value> children;                           // Array, XmlFragment, XmlElement
  std::vector<std::pair<std::string, Value>> entries;    // Map, XmlHook entries; XmlElement attrs
  std::string text;                                      // Text, XmlText
  std::shared_ptr<const std::vector<DeltaInput>> delta;  // Text: applied instead of `text`
};

// A value read from a shared type (ContentX.getContent()[i]).
struct OutValue {
  enum class Kind : uint8_t { kAny, kType, kDoc };
  Kind kind = Kind::kAny;
  lib0::Any any;         // kAny (byte arrays as Any::Binary)
  Type* type = nullptr;  // kType
  std::string guid;      // kDoc

  // The value as JSON-like data: nested types through toJSON(), sub-documents as {guid}.
  lib0::Any ToAny() const;
};

// The values an item holds (getContent()); a string yields one value per code point.
void AppendContentValues(const Content& content, std::vector<OutValue>& out);
// The last value an item holds (map entries).
OutValue LastContentValue(const Content& content);

}  // namespace tandem::crdt

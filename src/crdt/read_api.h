#pragma once
// Reading a document the way yjs's toJSON / toString / toDelta do, for every kind of type.

#include <cstddef>
#include <string>

#include "base/result.h"
#include "crdt/doc.h"
#include "crdt/item.h"
#include "lib0/any.h"

namespace tandem::crdt {

// Reading recurses once per level of nested types (as yjs's toJSON does), up to this many
// levels; deeper content reads as undefined (JSON) or empty (strings).
inline constexpr size_t kMaxReadDepth = 1000;

// The kind of a root whose kind the bytes do not say: Map if it only has keyed items, Text if
// its list holds text (strings, formats, embeds), XmlFragment if it holds XML nodes, else Array.
TypeRef InferTypeRef(const Type& type);

// yjs `type.toJSON()`: Array -> array, Map -> object, Text and XML -> their string.
lib0::Any TypeToJson(const Type& type);
// YText.toString(): the visible text.
std::string TextToString(const Type& type);
// YText.toDelta(): [{insert, attributes?}], embeds and nested types as their JSON.
lib0::Any TextToDelta(const Type& type);
// YXmlFragment/YXmlElement/YXmlText .toString().
std::string XmlToString(const Type& type);
// JS String(type): text for Text, XML for the XML types, "[object Object]" otherwise.
std::string TypeToJsString(const Type& type);
// JS String(value) for attribute values.
std::string JsToString(const lib0::Any& value);

// {rootName: json} for every root that has content, in first-seen order.
lib0::Any DocToJson(const Doc& doc);
// DocToJson, or kResourceExhausted when the document nests deeper than kMaxReadDepth.
Result<lib0::Any> DocToJsonChecked(const Doc& doc);

}  // namespace tandem::crdt

#include "crdt/read_api.h"

#include <algorithm>

#include "lib0/json.h"

namespace tandem::crdt {

namespace {

// Reading recurses once per nested type, as yjs does. Past kMaxReadDepth levels the nested
// content is left out and the read is marked truncated, so that a hostile document cannot
// exhaust the stack; DocToJsonChecked turns the mark into an error.
thread_local size_t read_depth = 0;
thread_local bool read_truncated = false;

class ReadDepthGuard {
 public:
  ReadDepthGuard() { ++read_depth; }
  ~ReadDepthGuard() { --read_depth; }
  ReadDepthGuard(const ReadDepthGuard&) = delete;
  ReadDepthGuard& operator=(const ReadDepthGuard&) = delete;
  bool too_deep() const {
    if (read_depth <= kMaxReadDepth) return false;
    read_truncated = true;
    return true;
  }
};

// ` key="value"`, as yjs writes attributes (values are not escaped, as in yjs).
void AppendAttribute(std::string& out, const std::string& key, const std::string& value) {
  out += ' ';
  out += key;
  out += "=\"";
  out += value;
  out += '"';
}

bool Visible(const Item* item) {
  return !item->deleted() && item->countable();
}

// The values ContentX.getContent() yields, converted to JSON as toJSON does.
void AppendContentJson(const Content& c, lib0::Any::Array& out) {
  switch (c.ref()) {
    case ContentRef::kAny:
      for (const auto& v : c.get<AnyContent>()->values) out.push_back(v);
      break;
    case ContentRef::kJson:
      for (const auto& v : c.get<JsonContent>()->values) out.push_back(v);
      break;
    case ContentRef::kBinary: out.push_back(lib0::Any::Bytes(c.get<BinaryContent>()->bytes)); break;
    case ContentRef::kString: {
      // getContent() splits a string into UTF-16 units (a pair would split; keep code points).
      const std::string_view s = c.string();
      for (size_t i = 0; i < s.size();) {
        const auto b = static_cast<unsigned char>(s[i]);
        const size_t len = b < 0x80 ? 1 : b < 0xe0 ? 2 : b < 0xf0 ? 3 : 4;
        out.push_back(lib0::Any(std::string(s.substr(i, len))));
        i += len;
      }
      break;
    }
    case ContentRef::kEmbed: out.push_back(c.get<EmbedContent>()->value); break;
    case ContentRef::kType: out.push_back(TypeToJson(*c.type())); break;
    case ContentRef::kDoc: {
      lib0::Any::Object o;
      lib0::JsObjectSet(o, "guid", lib0::Any(c.get<DocContent>()->guid));
      out.push_back(lib0::Any(std::move(o)));
      break;
    }
    default: break;
  }
}

lib0::Any LastValue(const Item* item) {
  lib0::Any::Array values;
  AppendContentJson(item->content, values);
  return values.empty() ? lib0::Any::Undefined() : std::move(values.back());
}

lib0::Any MapToJson(const Type& type) {
  lib0::Any::Object obj;
  for (const KeySlot* entry : type.map_entries()) {
    if (!entry->item->deleted()) lib0::JsObjectSet(obj, *entry->key, LastValue(entry->item));
  }
  return lib0::Any(std::move(obj));
}

lib0::Any ArrayToJson(const Type& type) {
  lib0::Any::Array out;
  for (const Item* n = type.start; n != nullptr; n = n->right) {
    if (Visible(n)) AppendContentJson(n->content, out);
  }
  return lib0::Any(std::move(out));
}

// Attributes in JS Map order: a format key keeps its first position until it is removed.
using Attributes = std::vector<std::pair<std::string, lib0::Any>>;

void UpdateAttributes(Attributes& attrs, const FormatContent& f) {
  auto it =
      std::find_if(attrs.begin(), attrs.end(), [&](const auto& a) { return a.first == f.key; });
  if (f.value->is_null()) {
    if (it != attrs.end()) attrs.erase(it);
  } else if (it != attrs.end()) {
    it->second = *f.value;
  } else {
    attrs.emplace_back(f.key, *f.value);
  }
}

lib0::Any AttributesObject(const Attributes& attrs) {
  lib0::Any::Object o;
  for (const auto& [k, v] : attrs) lib0::JsObjectSet(o, k, v);
  return lib0::Any(std::move(o));
}

struct DeltaOp {
  lib0::Any insert;            // string, embed value or nested type JSON
  const Type* type = nullptr;  // set when the insert is a nested type
  bool has_attributes = false;
  Attributes attributes;
};

std::vector<DeltaOp> ComputeDelta(const Type& type) {
  std::vector<DeltaOp> ops;
  Attributes current;
  std::string str;
  auto pack = [&] {
    if (str.empty()) return;
    DeltaOp op;
    op.insert = lib0::Any(std::move(str));
    op.has_attributes = !current.empty();
    op.attributes = current;
    ops.push_back(std::move(op));
    str.clear();
  };
  for (const Item* n = type.start; n != nullptr; n = n->right) {
    if (n->deleted()) continue;
    switch (n->content.ref()) {
      case ContentRef::kString: str += n->content.string(); break;
      case ContentRef::kType:
      case ContentRef::kEmbed: {
        pack();
        DeltaOp op;
        if (Type* nested = n->content.type()) {
          op.type = nested;
          op.insert = TypeToJson(*nested);
        } else {
          op.insert = n->content.get<EmbedContent>()->value;
        }
        op.has_attributes = !current.empty();
        op.attributes = current;
        ops.push_back(std::move(op));
        break;
      }
      case ContentRef::kFormat:
        pack();
        UpdateAttributes(current, *n->content.get<FormatContent>());
        break;
      default: break;
    }
  }
  pack();
  return ops;
}

std::string AsciiLower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

// `for (const key in value)` over a JS value: object keys, array/string indices.
std::vector<std::pair<std::string, std::string>> ForInEntries(const lib0::Any& v) {
  std::vector<std::pair<std::string, std::string>> out;
  switch (v.kind()) {
    case lib0::Any::Kind::kObject:
      for (const auto& [k, val] : v.as_object()) out.emplace_back(k, JsToString(val));
      break;
    case lib0::Any::Kind::kArray:
      for (size_t i = 0; i < v.as_array().size(); ++i)
        out.emplace_back(std::to_string(i), JsToString(v.as_array()[i]));
      break;
    case lib0::Any::Kind::kString: {
      const std::string& s = v.as_string();
      size_t idx = 0;
      for (size_t i = 0; i < s.size(); ++idx) {
        const auto b = static_cast<unsigned char>(s[i]);
        const size_t len = b < 0x80 ? 1 : b < 0xe0 ? 2 : b < 0xf0 ? 3 : 4;
        out.emplace_back(std::to_string(idx), s.substr(i, len));
        i += len;
      }
      break;
    }
    default: break;
  }
  return out;
}

std::string XmlTextToString(const Type& type) {
  std::string out;
  for (const DeltaOp& op : ComputeDelta(type)) {
    std::vector<std::pair<std::string, std::vector<std::pair<std::string, std::string>>>> nodes;
    for (const auto& [name, value] : op.attributes) {
      auto attrs = ForInEntries(value);
      std::stable_sort(attrs.begin(), attrs.end(),
                       [](const auto& a, const auto& b) { return a.first < b.first; });
      nodes.emplace_back(name, std::move(attrs));
    }
    std::stable_sort(nodes.begin(), nodes.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    for (const auto& [name, attrs] : nodes) {
      out += '<';
      out += name;
      for (const auto& [k, v] : attrs) AppendAttribute(out, k, v);
      out += '>';
    }
    if (op.type != nullptr) {
      out += TypeToJsString(*op.type);
    } else {
      out += JsToString(op.insert);
    }
    for (auto it = nodes.rbegin(); it != nodes.rend(); ++it) out += "</" + it->first + ">";
  }
  return out;
}

std::string XmlChildrenToString(const Type& type) {
  std::string out;
  for (const Item* n = type.start; n != nullptr; n = n->right) {
    if (!Visible(n)) continue;
    if (const Type* nested = n->content.type()) {
      out += TypeToJsString(*nested);
    } else {
      lib0::Any::Array values;
      AppendContentJson(n->content, values);
      for (const auto& v : values) out += JsToString(v);
    }
  }
  return out;
}

}  // namespace

std::string JsToString(const lib0::Any& v) {
  switch (v.kind()) {
    case lib0::Any::Kind::kUndefined: return "undefined";
    case lib0::Any::Kind::kNull: return "null";
    case lib0::Any::Kind::kBool: return v.as_bool() ? "true" : "false";
    case lib0::Any::Kind::kNumber: return lib0::JsNumberToString(v.as_number());
    case lib0::Any::Kind::kBigInt: return std::to_string(v.as_bigint());
    case lib0::Any::Kind::kString: return v.as_string();
    case lib0::Any::Kind::kBinary: {
      std::string out;
      for (size_t i = 0; i < v.as_binary().size(); ++i) {
        if (i > 0) out += ",";
        out += std::to_string(v.as_binary()[i]);
      }
      return out;
    }
    case lib0::Any::Kind::kArray: {
      std::string out;
      const auto& a = v.as_array();
      for (size_t i = 0; i < a.size(); ++i) {
        if (i > 0) out += ",";
        if (!a[i].is_null() && !a[i].is_undefined()) out += JsToString(a[i]);
      }
      return out;
    }
    case lib0::Any::Kind::kObject: return "[object Object]";
  }
  return {};
}

TypeRef InferTypeRef(const Type& type) {
  if (type.ref != TypeRef::kUndefined) return type.ref;
  if (type.start == nullptr)
    return type.map_entries().empty() ? TypeRef::kUndefined : TypeRef::kMap;
  bool xml = false;
  for (const Item* n = type.start; n != nullptr; n = n->right) {
    switch (n->content.ref()) {
      case ContentRef::kString:
      case ContentRef::kFormat:
      case ContentRef::kEmbed: return TypeRef::kText;
      case ContentRef::kType: {
        const TypeRef r = n->content.type()->ref;
        if (r == TypeRef::kXmlElement || r == TypeRef::kXmlText || r == TypeRef::kXmlHook)
          xml = true;
        break;
      }
      default: break;
    }
  }
  return xml ? TypeRef::kXmlFragment : TypeRef::kArray;
}

std::string TextToString(const Type& type) {
  std::string out;
  for (const Item* n = type.start; n != nullptr; n = n->right) {
    if (Visible(n) && n->content.ref() == ContentRef::kString) out += n->content.string();
  }
  return out;
}

lib0::Any TextToDelta(const Type& type) {
  lib0::Any::Array out;
  for (DeltaOp& op : ComputeDelta(type)) {
    lib0::Any::Object o;
    lib0::JsObjectSet(o, "insert", std::move(op.insert));
    if (op.has_attributes) lib0::JsObjectSet(o, "attributes", AttributesObject(op.attributes));
    out.push_back(lib0::Any(std::move(o)));
  }
  return lib0::Any(std::move(out));
}

std::string XmlToString(const Type& type) {
  switch (type.ref) {
    case TypeRef::kXmlText: return XmlTextToString(type);
    case TypeRef::kXmlElement: {
      std::vector<std::pair<std::string, std::string>> attrs;
      for (const KeySlot* entry : type.map_entries()) {
        if (!entry->item->deleted()) {
          attrs.emplace_back(*entry->key, JsToString(LastValue(entry->item)));
        }
      }
      std::sort(attrs.begin(), attrs.end());
      std::string name = AsciiLower(type.name);
      std::string out = "<" + name;
      for (const auto& [k, v] : attrs) AppendAttribute(out, k, v);
      out += '>';
      out += XmlChildrenToString(type);
      out += "</";
      out += name;
      out += '>';
      return out;
    }
    case TypeRef::kXmlHook: return JsToString(MapToJson(type));
    default: return XmlChildrenToString(type);
  }
}

std::string TypeToJsString(const Type& type) {
  ReadDepthGuard depth;
  if (depth.too_deep()) return {};
  switch (type.ref) {
    case TypeRef::kText: return TextToString(type);
    case TypeRef::kXmlText:
    case TypeRef::kXmlElement:
    case TypeRef::kXmlFragment: return XmlToString(type);
    default: return "[object Object]";  // YArray, YMap, YXmlHook have no toString
  }
}

lib0::Any TypeToJson(const Type& type) {
  ReadDepthGuard depth;
  if (depth.too_deep()) return lib0::Any::Undefined();
  switch (InferTypeRef(type)) {
    case TypeRef::kMap:
    case TypeRef::kXmlHook: return MapToJson(type);
    case TypeRef::kText: return lib0::Any(TextToString(type));
    case TypeRef::kXmlElement:
    case TypeRef::kXmlFragment:
    case TypeRef::kXmlText: return lib0::Any(XmlToString(type));
    case TypeRef::kArray: return ArrayToJson(type);
    case TypeRef::kUndefined: return lib0::Any(lib0::Any::Object{});
  }
  return {};
}

lib0::Any DocToJson(const Doc& doc) {
  lib0::Any::Object out;
  for (const auto& [name, type] : doc.roots()) {
    if (type->start == nullptr && type->map_entries().empty()) continue;
    lib0::JsObjectSet(out, *name, TypeToJson(*type));
  }
  return lib0::Any(std::move(out));
}

Result<lib0::Any> DocToJsonChecked(const Doc& doc) {
  read_truncated = false;
  lib0::Any json = DocToJson(doc);
  if (read_truncated) {
    read_truncated = false;
    return ResourceExhaustedError("the document nests shared types more than " +
                                  std::to_string(kMaxReadDepth) +
                                  " levels deep; it cannot be shown as JSON");
  }
  return json;
}

}  // namespace tandem::crdt

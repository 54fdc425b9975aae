#include "crdt/value.h"

#include "crdt/events.h"
#include "crdt/read_api.h"
#include "crdt/types/text.h"

namespace tandem::crdt {

// Type's members need the complete Prelim and TypeObservers.
Type::Type() = default;
Type::~Type() = default;

Value Value::Map(std::vector<std::pair<std::string, Value>> entries) {
  auto p = std::make_shared<Prelim>();
  p->ref = TypeRef::kMap;
  p->entries = std::move(entries);
  Value v;
  v.kind_ = Kind::kType;
  v.prelim_ = std::move(p);
  return v;
}

Value Value::Array(std::vector<Value> items) {
  auto p = std::make_shared<Prelim>();
  p->ref = TypeRef::kArray;
  p->children = std::move(items);
  Value v;
  v.kind_ = Kind::kType;
  v.prelim_ = std::move(p);
  return v;
}

Value Value::TextFromDelta(std::vector<DeltaInput> delta) {
  auto p = std::make_shared<Prelim>();
  p->ref = TypeRef::kText;
  p->delta = std::make_shared<const std::vector<DeltaInput>>(std::move(delta));
  Value v;
  v.kind_ = Kind::kType;
  v.prelim_ = std::move(p);
  return v;
}

Value Value::Text(std::string text) {
  auto p = std::make_shared<Prelim>();
  p->ref = TypeRef::kText;
  p->text = std::move(text);
  Value v;
  v.kind_ = Kind::kType;
  v.prelim_ = std::move(p);
  return v;
}

Value Value::XmlText(std::string text) {
  auto p = std::make_shared<Prelim>();
  p->ref = TypeRef::kXmlText;
  p->text = std::move(text);
  Value v;
  v.kind_ = Kind::kType;
  v.prelim_ = std::move(p);
  return v;
}

Value Value::XmlElement(std::string name, std::vector<std::pair<std::string, Value>> attributes,
                        std::vector<Value> children) {
  auto p = std::make_shared<Prelim>();
  p->ref = TypeRef::kXmlElement;
  p->name = std::move(name);
  p->entries = std::move(attributes);
  p->children = std::move(children);
  Value v;
  v.kind_ = Kind::kType;
  v.prelim_ = std::move(p);
  return v;
}

Value Value::XmlFragment(std::vector<Value> children) {
  auto p = std::make_shared<Prelim>();
  p->ref = TypeRef::kXmlFragment;
  p->children = std::move(children);
  Value v;
  v.kind_ = Kind::kType;
  v.prelim_ = std::move(p);
  return v;
}

Value Value::XmlHook(std::string name, std::vector<std::pair<std::string, Value>> entries) {
  auto p = std::make_shared<Prelim>();
  p->ref = TypeRef::kXmlHook;
  p->name = std::move(name);
  p->entries = std::move(entries);
  Value v;
  v.kind_ = Kind::kType;
  v.prelim_ = std::move(p);
  return v;
}

Value Value::SubDoc(std::string guid, lib0::Any opts) {
  Value v;
  v.kind_ = Kind::kDoc;
  v.guid_ = std::move(guid);
  v.any_ = std::move(opts);
  return v;
}

lib0::Any OutValue::ToAny() const {
  switch (kind) {
    case Kind::kAny: return any;
    case Kind::kType: return TypeToJson(*type);
    case Kind::kDoc: {
      lib0::Any::Object o;
      lib0::JsObjectSet(o, "guid", lib0::Any(guid));
      return lib0::Any(std::move(o));
    }
  }
  return {};
}

void AppendContentValues(const Content& c, std::vector<OutValue>& out) {
  auto push_any = [&out](lib0::Any a) {
    OutValue v;
    v.any = std::move(a);
    out.push_back(std::move(v));
  };
  switch (c.ref()) {
    case ContentRef::kAny:
      for (const auto& v : c.get<AnyContent>()->values) push_any(v);
      break;
    case ContentRef::kJson:
      for (const auto& v : c.get<JsonContent>()->values) push_any(v);
      break;
    case ContentRef::kBinary: push_any(lib0::Any::Bytes(c.get<BinaryContent>()->bytes)); break;
    case ContentRef::kString: {
      const std::string_view s = c.string();
      for (size_t i = 0; i < s.size();) {
        const auto b = static_cast<unsigned char>(s[i]);
        const size_t len = b < 0x80 ? 1 : b < 0xe0 ? 2 : b < 0xf0 ? 3 : 4;
        push_any(lib0::Any(std::string(s.substr(i, len))));
        i += len;
      }
      break;
    }
    case ContentRef::kEmbed: push_any(c.get<EmbedContent>()->value); break;
    case ContentRef::kType: {
      OutValue v;
      v.kind = OutValue::Kind::kType;
      v.type = c.type();
      out.push_back(std::move(v));
      break;
    }
    case ContentRef::kDoc: {
      OutValue v;
      v.kind = OutValue::Kind::kDoc;
      v.guid = c.get<DocContent>()->guid;
      out.push_back(std::move(v));
      break;
    }
    default: break;
  }
}

OutValue LastContentValue(const Content& c) {
  switch (c.ref()) {
    case ContentRef::kAny: {
      OutValue v;
      v.any = c.get<AnyContent>()->values.back();
      return v;
    }
    case ContentRef::kJson: {
      OutValue v;
      v.any = c.get<JsonContent>()->values.back();
      return v;
    }
    default: {
      std::vector<OutValue> values;
      AppendContentValues(c, values);
      if (values.empty()) return {};
      return std::move(values.back());
    }
  }
}

}  // namespace tandem::crdt

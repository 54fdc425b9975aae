#include "crdt/types/replace_content.h"

#include <string>
#include <vector>

#include "crdt/read_api.h"
#include "crdt/transaction.h"
#include "crdt/types/shared_types.h"
#include "crdt/types/text.h"

namespace tandem::crdt {

namespace {

// A value of `source` as a prelim for `target`: nested types become new types holding copies of
// their content; text inside them is filled afterwards (FillText), with its formatting.
Value Copy(Doc& source, const OutValue& v);

std::vector<std::pair<std::string, Value>> CopyEntries(
    Doc& source, const std::vector<std::pair<std::string, OutValue>>& entries) {
  std::vector<std::pair<std::string, Value>> out;
  out.reserve(entries.size());
  for (const auto& [k, v] : entries) out.emplace_back(k, Copy(source, v));
  return out;
}

std::vector<Value> CopyList(Doc& source, const std::vector<OutValue>& values) {
  std::vector<Value> out;
  out.reserve(values.size());
  for (const OutValue& v : values) out.push_back(Copy(source, v));
  return out;
}

Value Copy(Doc& source, const OutValue& v) {
  switch (v.kind) {
    case OutValue::Kind::kAny:
      if (v.any.kind() == lib0::Any::Kind::kBinary) return Value::Binary(v.any.as_binary());
      return Value(v.any);
    case OutValue::Kind::kDoc: return Value::SubDoc(v.guid);
    case OutValue::Kind::kType: break;
  }
  const SharedType t(&source, v.type);
  switch (InferTypeRef(*v.type)) {
    case TypeRef::kArray: return Value::Array(CopyList(source, ArrayRef(t).ToArray()));
    case TypeRef::kMap: return Value::Map(CopyEntries(source, MapRef(t).Entries()));
    case TypeRef::kText: return Value::Text();
    case TypeRef::kXmlText: return Value::XmlText();
    case TypeRef::kXmlElement: {
      XmlElementRef e(t);
      return Value::XmlElement(e.node_name(), CopyEntries(source, e.GetAttributes()),
                               CopyList(source, e.ToArray()));
    }
    case TypeRef::kXmlFragment:
      return Value::XmlFragment(CopyList(source, XmlFragmentRef(t).ToArray()));
    case TypeRef::kXmlHook: {
      XmlHookRef h(t);
      return Value::XmlHook(h.hook_name(), CopyEntries(source, h.Entries()));
    }
    case TypeRef::kUndefined: break;
  }
  return Value::Map();
}

// Copies the text of `from` (a Text or XmlText of the source) into the empty `to`.
Status FillText(Doc& source, const TextRef& from, const TextRef& to) {
  std::vector<DeltaInput> delta;
  for (const DeltaOp& op : from.ToDelta()) {
    if (op.kind != DeltaOp::Kind::kInsert || op.insert.empty()) continue;
    DeltaInput in;
    in.kind = DeltaInput::Kind::kInsert;
    in.insert = Copy(source, op.insert.front());
    if (op.has_attributes) in.attributes = op.attributes;
    delta.push_back(std::move(in));
  }
  TANDEM_RETURN_IF_ERROR(to.ApplyDelta(delta, /*sanitize=*/false));
  for (const auto& [name, value] : from.GetAttributes()) {
    TANDEM_RETURN_IF_ERROR(to.SetAttribute(name, Copy(source, value)));
  }
  return Status::Ok();
}

// After a copy was inserted: the text it holds, which prelims leave empty, comes now.
Status FillTexts(Doc& source, const SharedType& from, const SharedType& to);

Status FillValues(Doc& source, const std::vector<OutValue>& from, const std::vector<OutValue>& to,
                  Doc& target) {
  for (size_t i = 0; i < from.size() && i < to.size(); ++i) {
    if (from[i].kind != OutValue::Kind::kType || to[i].kind != OutValue::Kind::kType) continue;
    TANDEM_RETURN_IF_ERROR(
        FillTexts(source, SharedType(&source, from[i].type), SharedType(&target, to[i].type)));
  }
  return Status::Ok();
}

Status FillEntries(Doc& source, const std::vector<std::pair<std::string, OutValue>>& from,
                   const SharedType& to_map, Doc& target) {
  const MapRef to(to_map);
  for (const auto& [key, value] : from) {
    if (value.kind != OutValue::Kind::kType) continue;
    auto copied = to.Get(key);
    if (!copied || copied->kind != OutValue::Kind::kType) continue;
    TANDEM_RETURN_IF_ERROR(
        FillTexts(source, SharedType(&source, value.type), SharedType(&target, copied->type)));
  }
  return Status::Ok();
}

Status FillTexts(Doc& source, const SharedType& from, const SharedType& to) {
  Doc& target = *to.doc();
  switch (InferTypeRef(*from.type())) {
    case TypeRef::kText:
    case TypeRef::kXmlText: return FillText(source, TextRef(from), TextRef(to));
    case TypeRef::kArray:
      return FillValues(source, ArrayRef(from).ToArray(), ArrayRef(to).ToArray(), target);
    case TypeRef::kMap:
    case TypeRef::kXmlHook: return FillEntries(source, MapRef(from).Entries(), to, target);
    case TypeRef::kXmlElement:
      TANDEM_RETURN_IF_ERROR(FillEntries(source, XmlElementRef(from).GetAttributes(), to, target));
      [[fallthrough]];
    case TypeRef::kXmlFragment:
      return FillValues(source, XmlFragmentRef(from).ToArray(), XmlFragmentRef(to).ToArray(),
                        target);
    case TypeRef::kUndefined: return Status::Ok();
  }
  return Status::Ok();
}

// Empties a root of `target` whatever its kind.
Status Empty(Doc& target, Type* root) {
  const SharedType t(&target, root);
  if (root->length > 0) {
    switch (InferTypeRef(*root)) {
      case TypeRef::kText:
      case TypeRef::kXmlText: TANDEM_RETURN_IF_ERROR(TextRef(t).Delete(0, root->length)); break;
      default: TANDEM_RETURN_IF_ERROR(ArrayRef(t).Delete(0, root->length)); break;
    }
  }
  for (const std::string& key : MapRef(t).Keys()) TANDEM_RETURN_IF_ERROR(MapRef(t).Delete(key));
  return Status::Ok();
}

}  // namespace

Status ReplaceContent(Doc& target, const Doc& source_const) {
  // Reading goes through handles, which take a mutable document; nothing here changes it.
  Doc& source = const_cast<Doc&>(source_const);
  Status result;
  target.Transact([&](Transaction&) {
    auto fail = [&](Status s) {
      if (result.ok() && !s.ok()) result = std::move(s);
    };
    for (const auto& [name, root] : target.roots()) fail(Empty(target, root));
    for (const auto& [name, from_root] : source.roots()) {
      if (!result.ok()) return;
      const SharedType from(&source, from_root);
      switch (InferTypeRef(*from_root)) {
        case TypeRef::kText: {
          TextRef to = target.GetText(*name);
          fail(FillText(source, TextRef(from), to));
          break;
        }
        case TypeRef::kArray: {
          ArrayRef to = target.GetArray(*name);
          const auto values = CopyList(source, ArrayRef(from).ToArray());
          fail(to.Insert(0, values));
          fail(FillTexts(source, from, to));
          break;
        }
        case TypeRef::kMap: {
          MapRef to = target.GetMap(*name);
          for (auto& [key, value] : CopyEntries(source, MapRef(from).Entries())) {
            fail(to.Set(key, value));
          }
          fail(FillTexts(source, from, to));
          break;
        }
        case TypeRef::kXmlFragment:
        case TypeRef::kXmlElement:
        case TypeRef::kXmlText: {
          XmlFragmentRef to = target.GetXmlFragment(*name);
          const auto children = CopyList(source, XmlFragmentRef(from).ToArray());
          fail(to.Insert(0, children));
          fail(FillTexts(source, from, to));
          break;
        }
        default: break;
      }
    }
  });
  return result;
}

}  // namespace tandem::crdt

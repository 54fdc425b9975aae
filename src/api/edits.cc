#include "api/edits.h"

#include <cmath>
#include <optional>

#include "crdt/read_api.h"
#include "crdt/transaction.h"
#include "crdt/types/shared_types.h"
#include "crdt/types/text.h"
#include "lib0/json.h"
#include "lib0/utf.h"

namespace tandem::api {

namespace {

using crdt::TypeRef;
using lib0::Any;

// Largest integer a JavaScript number holds exactly: indices beyond it are refused.
constexpr double kMaxSafeInteger = 9007199254740991.0;

const char* KindName(TypeRef ref) {
  switch (ref) {
    case TypeRef::kArray: return "Y.Array";
    case TypeRef::kMap: return "Y.Map";
    case TypeRef::kText: return "Y.Text";
    case TypeRef::kXmlElement: return "Y.XmlElement";
    case TypeRef::kXmlFragment: return "Y.XmlFragment";
    case TypeRef::kXmlHook: return "Y.XmlHook";
    case TypeRef::kXmlText: return "Y.XmlText";
    case TypeRef::kUndefined: break;
  }
  return "an untyped root";
}

// What a root holds, judged by its live content (a root decoded from an update does not say):
// kUndefined when it holds nothing, so that any kind may start it.
TypeRef LiveKind(const crdt::Type& type) {
  for (const crdt::KeySlot* slot : type.map_entries()) {
    const crdt::Item* item = slot->item;
    if (item != nullptr && !item->deleted()) return TypeRef::kMap;
  }
  for (const crdt::Item* n = type.start; n != nullptr; n = n->right) {
    if (n->deleted()) continue;
    switch (n->content.ref()) {
      case crdt::ContentRef::kString:
      case crdt::ContentRef::kEmbed:
      case crdt::ContentRef::kFormat: return TypeRef::kText;
      case crdt::ContentRef::kType: {
        const TypeRef r = n->content.type()->ref;
        if (r == TypeRef::kXmlElement || r == TypeRef::kXmlText) return TypeRef::kXmlFragment;
        return TypeRef::kArray;
      }
      default: return TypeRef::kArray;
    }
  }
  return TypeRef::kUndefined;
}

class EditApplier {
 public:
  explicit EditApplier(crdt::Doc& doc) : doc_(doc) {}

  Status Apply(const Any& edit) {
    if (edit.kind() != Any::Kind::kObject) return Invalid("an edit must be a JSON object");
    const Any* op = edit.Find("op");
    if (op == nullptr || op->kind() != Any::Kind::kString) return Invalid("missing \"op\"");
    const std::string& name = op->as_string();
    if (name == "text.insert" || name == "text.delete" || name == "text.format") {
      TANDEM_ASSIGN_OR_RETURN(crdt::SharedType t, Target(edit, TypeRef::kText));
      crdt::TextRef text(t);
      TANDEM_ASSIGN_OR_RETURN(uint64_t index, Index(edit, "index"));
      if (name == "text.insert") {
        const Any* s = edit.Find("text");
        if (s == nullptr || s->kind() != Any::Kind::kString)
          return Invalid("\"text\" must be a string");
        TANDEM_ASSIGN_OR_RETURN(const Any::Object* attrs, Attributes(edit, false));
        return text.Insert(index, s->as_string(), attrs);
      }
      TANDEM_ASSIGN_OR_RETURN(uint64_t length, Index(edit, "length"));
      if (name == "text.delete") return text.Delete(index, length);
      // yjs formats past the end by inserting newlines (Quill's convention): from an HTTP
      // request that would let a few bytes ask for billions of them (found by the fuzzer).
      if (index > text.length() || length > text.length() - index) {
        return Status(StatusCode::kOutOfRange, "index + length (" + std::to_string(index) + " + " +
                                                   std::to_string(length) +
                                                   ") is past the end of the text (length " +
                                                   std::to_string(text.length()) + ")");
      }
      TANDEM_ASSIGN_OR_RETURN(const Any::Object* attrs, Attributes(edit, true));
      return text.Format(index, length, *attrs);
    }
    if (name == "map.set" || name == "map.delete") {
      TANDEM_ASSIGN_OR_RETURN(crdt::SharedType t, Target(edit, TypeRef::kMap));
      crdt::MapRef map(t);
      const Any* key = edit.Find("key");
      if (key == nullptr || key->kind() != Any::Kind::kString)
        return Invalid("\"key\" must be a string");
      if (name == "map.delete") return map.Delete(key->as_string());
      const Any* value = edit.Find("value");
      if (value == nullptr) return Invalid("missing \"value\"");
      TANDEM_ASSIGN_OR_RETURN(crdt::Value v, ToValue(*value, 0));
      return map.Set(key->as_string(), v);
    }
    if (name == "array.insert" || name == "array.delete" || name == "array.move") {
      TANDEM_ASSIGN_OR_RETURN(crdt::SharedType t, Target(edit, TypeRef::kArray));
      crdt::ArrayRef array(t);
      if (name == "array.move") return Move(edit, array);
      TANDEM_ASSIGN_OR_RETURN(uint64_t index, Index(edit, "index"));
      if (name == "array.delete") {
        TANDEM_ASSIGN_OR_RETURN(uint64_t length, Index(edit, "length"));
        return array.Delete(index, length);
      }
      const Any* values = edit.Find("values");
      if (values == nullptr || values->kind() != Any::Kind::kArray)
        return Invalid("\"values\" must be an array");
      std::vector<crdt::Value> items;
      items.reserve(values->as_array().size());
      for (const Any& v : values->as_array()) {
        TANDEM_ASSIGN_OR_RETURN(crdt::Value item, ToValue(v, 0));
        items.push_back(std::move(item));
      }
      return array.Insert(index, items);
    }
    return Invalid("unknown op \"" + name +
                   "\" (text.insert, text.delete, text.format, map.set, map.delete, "
                   "array.insert, array.delete, array.move)");
  }

 private:
  static Status Invalid(std::string message) {
    return Status(StatusCode::kInvalidArgument, std::move(message));
  }

  static Result<uint64_t> Index(const Any& edit, const char* field) {
    const Any* v = edit.Find(field);
    if (v == nullptr || v->kind() != Any::Kind::kNumber || v->as_number() < 0 ||
        v->as_number() > kMaxSafeInteger || std::floor(v->as_number()) != v->as_number()) {
      return Invalid(std::string("\"") + field + "\" must be a non-negative integer");
    }
    return static_cast<uint64_t>(v->as_number());
  }

  static Result<const Any::Object*> Attributes(const Any& edit, bool required) {
    const Any* a = edit.Find("attributes");
    if (a == nullptr || a->is_undefined()) {
      if (required) return Invalid("\"attributes\" must be an object");
      return static_cast<const Any::Object*>(nullptr);
    }
    if (a->kind() != Any::Kind::kObject) return Invalid("\"attributes\" must be an object");
    return &a->as_object();
  }

  // The type an edit addresses: the root named by "type" (its kind implied by the op, or by the
  // first path element), then each path element in turn.
  Result<crdt::SharedType> Target(const Any& edit, TypeRef want) {
    const Any* root = edit.Find("type");
    if (root == nullptr || root->kind() != Any::Kind::kString || root->as_string().empty())
      return Invalid("\"type\" must name a root type");
    static const Any kNoPath = Any::Array{};
    const Any* path = edit.Find("path");
    if (path == nullptr) path = &kNoPath;
    if (path->kind() != Any::Kind::kArray) return Invalid("\"path\" must be an array");
    const Any::Array& steps = path->as_array();
    auto kind_for = [&](size_t i) -> Result<TypeRef> {
      if (i == steps.size()) return want;
      if (steps[i].kind() == Any::Kind::kString) return TypeRef::kMap;
      if (steps[i].kind() == Any::Kind::kNumber) return TypeRef::kArray;
      return Invalid("path[" + std::to_string(i) + "] must be a key (string) or an index");
    };
    TANDEM_ASSIGN_OR_RETURN(TypeRef root_kind, kind_for(0));
    const std::string& name = root->as_string();
    if (const crdt::Type* existing = doc_.FindRoot(name)) {
      const TypeRef have =
          existing->ref != TypeRef::kUndefined ? existing->ref : LiveKind(*existing);
      if (have != TypeRef::kUndefined && have != root_kind) {
        return Invalid("root type \"" + name + "\" is " + KindName(have) + ", not " +
                       KindName(root_kind));
      }
    }
    crdt::SharedType cur = root_kind == TypeRef::kText  ? crdt::SharedType(doc_.GetText(name))
                           : root_kind == TypeRef::kMap ? crdt::SharedType(doc_.GetMap(name))
                                                        : crdt::SharedType(doc_.GetArray(name));
    for (size_t i = 0; i < steps.size(); ++i) {
      const std::string at = "path[" + std::to_string(i) + "]";
      std::optional<crdt::OutValue> got;
      if (steps[i].kind() == Any::Kind::kString) {
        got = crdt::MapRef(cur).Get(steps[i].as_string());
      } else {
        TANDEM_ASSIGN_OR_RETURN(uint64_t index, IndexOf(steps[i], at));
        got = crdt::ArrayRef(cur).Get(index);
      }
      if (!got.has_value()) return Invalid(at + ": nothing there");
      if (got->kind != crdt::OutValue::Kind::kType)
        return Invalid(at + ": not a shared type (a plain value)");
      TANDEM_ASSIGN_OR_RETURN(TypeRef next_kind, kind_for(i + 1));
      if (got->type->ref != next_kind) {
        return Invalid(at + ": is " + KindName(got->type->ref) + ", not " + KindName(next_kind));
      }
      cur = cur.Nested(*got);
    }
    return cur;
  }

  static Result<uint64_t> IndexOf(const Any& v, const std::string& at) {
    if (v.as_number() < 0 || v.as_number() > kMaxSafeInteger ||
        std::floor(v.as_number()) != v.as_number()) {
      return Invalid(at + ": an index must be a non-negative integer");
    }
    return static_cast<uint64_t>(v.as_number());
  }

  // A JSON value as it goes into a type: {"$type": "map"|"array"|"text"|"binary", "value": ...}
  // makes a nested type (or bytes); anything else is stored as JSON.
  static Result<crdt::Value> ToValue(const Any& v, int depth) {
    const Any* tag = v.kind() == Any::Kind::kObject ? v.Find("$type") : nullptr;
    if (tag == nullptr) {
      if (v.is_undefined()) return Invalid("a value cannot be undefined");
      return crdt::Value(v);
    }
    if (depth >= kMaxValueDepth)
      return Invalid("values nest more than " + std::to_string(kMaxValueDepth) + " types deep");
    const Any* inner = v.Find("value");
    const std::string type = tag->kind() == Any::Kind::kString ? tag->as_string() : "";
    if (type == "map") {
      if (inner == nullptr || inner->kind() != Any::Kind::kObject)
        return Invalid("{\"$type\": \"map\"} needs \"value\": an object");
      std::vector<std::pair<std::string, crdt::Value>> entries;
      for (const auto& [key, value] : inner->as_object()) {
        TANDEM_ASSIGN_OR_RETURN(crdt::Value e, ToValue(value, depth + 1));
        entries.emplace_back(key, std::move(e));
      }
      return crdt::Value::Map(std::move(entries));
    }
    if (type == "array") {
      if (inner == nullptr || inner->kind() != Any::Kind::kArray)
        return Invalid("{\"$type\": \"array\"} needs \"value\": an array");
      std::vector<crdt::Value> items;
      for (const Any& item : inner->as_array()) {
        TANDEM_ASSIGN_OR_RETURN(crdt::Value e, ToValue(item, depth + 1));
        items.push_back(std::move(e));
      }
      return crdt::Value::Array(std::move(items));
    }
    if (type == "text") {
      if (inner == nullptr || inner->kind() != Any::Kind::kString)
        return Invalid("{\"$type\": \"text\"} needs \"value\": a string");
      return crdt::Value::Text(inner->as_string());
    }
    if (type == "binary") {
      if (inner == nullptr || inner->kind() != Any::Kind::kArray)
        return Invalid("{\"$type\": \"binary\"} needs \"value\": an array of bytes");
      std::vector<uint8_t> bytes;
      for (const Any& b : inner->as_array()) {
        if (b.kind() != Any::Kind::kNumber || b.as_number() < 0 || b.as_number() > 255 ||
            std::floor(b.as_number()) != b.as_number())
          return Invalid("{\"$type\": \"binary\"}: bytes are integers 0..255");
        bytes.push_back(static_cast<uint8_t>(b.as_number()));
      }
      return crdt::Value::Binary(std::move(bytes));
    }
    return Invalid("unknown \"$type\" (map, array, text, binary)");
  }

  // What yjs's clone() makes of a value read from a list: nested maps and arrays copied deeply,
  // text through its delta (formatting and embeds included).
  static Result<crdt::Value> CloneValue(const crdt::SharedType& owner, const crdt::OutValue& v,
                                        int depth) {
    if (v.kind == crdt::OutValue::Kind::kAny) return crdt::Value(v.any);
    if (v.kind == crdt::OutValue::Kind::kDoc)
      return Invalid("array.move: a sub-document cannot be moved");
    if (depth >= kMaxValueDepth) return Invalid("array.move: the value nests too deep to copy");
    const crdt::SharedType t = owner.Nested(v);
    switch (t.kind()) {
      case TypeRef::kMap: {
        std::vector<std::pair<std::string, crdt::Value>> entries;
        for (const auto& [key, value] : crdt::MapRef(t).Entries()) {
          TANDEM_ASSIGN_OR_RETURN(crdt::Value e, CloneValue(t, value, depth + 1));
          entries.emplace_back(key, std::move(e));
        }
        return crdt::Value::Map(std::move(entries));
      }
      case TypeRef::kArray: {
        std::vector<crdt::Value> items;
        for (const crdt::OutValue& item : crdt::ArrayRef(t).ToArray()) {
          TANDEM_ASSIGN_OR_RETURN(crdt::Value e, CloneValue(t, item, depth + 1));
          items.push_back(std::move(e));
        }
        return crdt::Value::Array(std::move(items));
      }
      case TypeRef::kText: {
        std::vector<crdt::DeltaInput> delta;
        for (const crdt::DeltaOp& op : crdt::TextRef(t).ToDelta()) {
          for (const crdt::OutValue& insert : op.insert) {
            crdt::DeltaInput in;
            if (insert.kind != crdt::OutValue::Kind::kAny) {
              // A nested type embedded in text: yjs's clone() would share it, not copy it.
              return Invalid("array.move: text embedding a shared type cannot be moved");
            }
            in.insert = crdt::Value(insert.any);
            if (op.has_attributes) in.attributes = op.attributes;
            delta.push_back(std::move(in));
          }
        }
        return crdt::Value::TextFromDelta(std::move(delta));
      }
      default:
        return Invalid(std::string("array.move: ") + KindName(t.kind()) + " cannot be moved");
    }
  }

  // yjs 13 has no move: the element is copied (clone() for a type), deleted, and inserted at
  // `to` (an index of the array without it).
  static Status Move(const Any& edit, const crdt::ArrayRef& array) {
    TANDEM_ASSIGN_OR_RETURN(uint64_t from, Index(edit, "from"));
    TANDEM_ASSIGN_OR_RETURN(uint64_t to, Index(edit, "to"));
    const uint64_t length = array.length();
    if (from >= length) {
      return Status(StatusCode::kOutOfRange, "\"from\" " + std::to_string(from) +
                                                 " is past the end (length " +
                                                 std::to_string(length) + ")");
    }
    if (to >= length) {
      return Status(StatusCode::kOutOfRange, "\"to\" " + std::to_string(to) +
                                                 " is past the end of the array without the "
                                                 "moved element (length " +
                                                 std::to_string(length - 1) + ")");
    }
    std::optional<crdt::OutValue> value = array.Get(from);
    TANDEM_ASSIGN_OR_RETURN(crdt::Value copy, CloneValue(array, *value, 0));
    TANDEM_RETURN_IF_ERROR(array.Delete(from, 1));
    return array.Insert(to, {copy});
  }

  crdt::Doc& doc_;
};

std::string OpName(const Any& edit) {
  const Any* op = edit.kind() == Any::Kind::kObject ? edit.Find("op") : nullptr;
  return op != nullptr && op->kind() == Any::Kind::kString ? op->as_string().substr(0, 40) : "?";
}

}  // namespace

Result<std::vector<Any>> ParseEditList(std::string_view body) {
  // Strings go into the document as they are; the engine refuses invalid UTF-8 in updates.
  if (!lib0::IsValidUtf8(body)) return MalformedError("the body is not valid UTF-8");
  auto parsed = lib0::ParseJson(body);
  if (!parsed.ok()) return MalformedError("the body is not JSON: " + parsed.status().message());
  Any list = std::move(parsed).value();
  if (list.kind() == Any::Kind::kObject) {
    const Any* edits = list.Find("edits");
    if (edits == nullptr) {
      return Status(StatusCode::kInvalidArgument,
                    "the body must be a JSON array of edits or {\"edits\": [...]}");
    }
    Any inner = *edits;
    list = std::move(inner);
  }
  if (list.kind() != Any::Kind::kArray) {
    return Status(StatusCode::kInvalidArgument,
                  "the body must be a JSON array of edits or {\"edits\": [...]}");
  }
  if (list.as_array().size() > kMaxEdits) {
    return Status(StatusCode::kInvalidArgument,
                  "more than " + std::to_string(kMaxEdits) + " edits in one request");
  }
  return std::move(list.as_array());
}

EditResult ApplyEdits(crdt::Doc& doc, const std::vector<Any>& edits) {
  EditResult result;
  doc.OnUpdate([&](const std::vector<uint8_t>& update, const crdt::Transaction&) {
    result.update = update;
  });
  EditApplier applier(doc);
  doc.Transact([&](crdt::Transaction&) {
    for (size_t i = 0; i < edits.size(); ++i) {
      Status s = applier.Apply(edits[i]);
      if (!s.ok()) {
        result.status = Status(
            s.code(), "edit " + std::to_string(i) + " (" + OpName(edits[i]) + "): " + s.message());
        result.failed_index = i;
        return;
      }
    }
  });
  doc.OnUpdate(nullptr);
  return result;
}

EditResult EditCopy(const crdt::Doc& doc, const std::vector<Any>& edits) {
  // Edited as yjs's own local edits are: formatting cleaned up after the transaction.
  crdt::Doc copy(crdt::DocOptions{.gc = true, .client_id = doc.client_id()});
  if (Status s = copy.ApplyUpdate(doc.EncodeStateAsUpdate()); !s.ok()) {
    return EditResult{s.WithContext("copying the document"), 0, {}};
  }
  // Applying the copy's own structs may have made it pick a new client id (as yjs does when a
  // remote update carries its id): edit as the room's id.
  copy.set_client_id(doc.client_id());
  EditResult result = ApplyEdits(copy, edits);
  if (!result.status.ok()) result.update.clear();
  return result;
}

}  // namespace tandem::api

// C++ side of the editing API differential test (editing.test.mjs; protocol in
// editing_protocol.md): runs scripts of local edits, syncs and queries on Tandem documents and
// writes what they emit (updates v1/v2, deep-observer events) and answer, for comparison with
// what real yjs did on the same scripts.
//   editing_interop_tool run CASES.json OUT.json

#include <cmath>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "crdt/doc.h"
#include "crdt/read_api.h"
#include "crdt/relative_position.h"
#include "crdt/snapshot.h"
#include "crdt/transaction.h"
#include "crdt/types/list.h"
#include "crdt/types/shared_types.h"
#include "lib0/json.h"

using namespace tandem;
using namespace tandem::crdt;
using lib0::Any;

namespace {

// ---------------------------------------------------------------------------------------------
// Small helpers

[[noreturn]] void Fail(const std::string& what) {
  throw std::runtime_error(what);
}

void Check(const Status& s) {
  if (!s.ok()) Fail(s.ToString());
}

std::string Hex(const std::vector<uint8_t>& bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (uint8_t b : bytes) {
    out += digits[b >> 4];
    out += digits[b & 15];
  }
  return out;
}

std::vector<uint8_t> FromHex(const std::string& s) {
  std::vector<uint8_t> out;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    Fail("bad hex");
  };
  for (size_t i = 0; i + 1 < s.size(); i += 2) {
    out.push_back(static_cast<uint8_t>(nibble(s[i]) * 16 + nibble(s[i + 1])));
  }
  return out;
}

const char* kBase64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string Base64(const std::vector<uint8_t>& in) {
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const uint32_t v = (in[i] << 16) | (in[i + 1] << 8) | in[i + 2];
    for (int s = 18; s >= 0; s -= 6) out += kBase64[(v >> s) & 63];
  }
  if (i + 1 == in.size()) {
    const uint32_t v = in[i] << 16;
    out += kBase64[(v >> 18) & 63];
    out += kBase64[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    const uint32_t v = (in[i] << 16) | (in[i + 1] << 8);
    out += kBase64[(v >> 18) & 63];
    out += kBase64[(v >> 12) & 63];
    out += kBase64[(v >> 6) & 63];
    out += "=";
  }
  return out;
}

std::vector<uint8_t> FromBase64(const std::string& s) {
  std::vector<uint8_t> out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : s) {
    if (c == '=') break;
    const char* p = std::strchr(kBase64, c);
    if (p == nullptr || c == 0) Fail("bad base64");
    acc = (acc << 6) | static_cast<uint32_t>(p - kBase64);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<uint8_t>((acc >> bits) & 0xff));
    }
  }
  return out;
}

const Any& Member(const Any& obj, std::string_view key) {
  const Any* v = obj.Find(key);
  if (v == nullptr) Fail("missing member " + std::string(key));
  return *v;
}

bool Has(const Any& obj, std::string_view key) {
  return obj.Find(key) != nullptr;
}

uint64_t Uint(const Any& v) {
  if (v.kind() != Any::Kind::kNumber || v.as_number() < 0) Fail("expected a non-negative number");
  return static_cast<uint64_t>(v.as_number());
}

Any Obj(std::initializer_list<std::pair<std::string, Any>> members) {
  Any::Object o;
  for (const auto& [k, v] : members) lib0::JsObjectSet(o, k, v);
  return Any(std::move(o));
}

// ---------------------------------------------------------------------------------------------
// Values: protocol <-> engine

const char* KindName(TypeRef ref) {
  switch (ref) {
    case TypeRef::kArray: return "Array";
    case TypeRef::kMap: return "Map";
    case TypeRef::kText: return "Text";
    case TypeRef::kXmlElement: return "XmlElement";
    case TypeRef::kXmlFragment: return "XmlFragment";
    case TypeRef::kXmlHook: return "XmlHook";
    case TypeRef::kXmlText: return "XmlText";
    default: return "AbstractType";
  }
}

Any Ser(const Any& v);
Any SerOut(const OutValue& v);
Any TypeJson(const Type& type);

// A value inside toJSON(): nested types as their own toJSON().
Any JsonValue(const OutValue& v) {
  return v.kind == OutValue::Kind::kType ? TypeJson(*v.type) : SerOut(v);
}

// toJSON of a type with nested values serialized (sub-documents, byte arrays).
Any TypeJson(const Type& type) {
  switch (InferTypeRef(type)) {
    case TypeRef::kMap:
    case TypeRef::kXmlHook: {
      Any::Object o;
      for (const KeySlot* entry : type.map_entries()) {
        if (entry->item->deleted()) continue;
        lib0::JsObjectSet(o, *entry->key, JsonValue(LastContentValue(entry->item->content)));
      }
      return Any(std::move(o));
    }
    case TypeRef::kArray: {
      Any::Array a;
      for (const OutValue& v : ListToArray(&type)) a.push_back(JsonValue(v));
      return Any(std::move(a));
    }
    default: return Ser(TypeToJson(type));
  }
}

Any Ser(const Any& v) {
  switch (v.kind()) {
    case Any::Kind::kUndefined: return Obj({{"$undefined", Any(true)}});
    case Any::Kind::kBinary: return Obj({{"$bin", Any(Base64(v.as_binary()))}});
    case Any::Kind::kArray: {
      Any::Array a;
      for (const Any& e : v.as_array()) a.push_back(Ser(e));
      return Any(std::move(a));
    }
    case Any::Kind::kObject: {
      Any::Object o;
      for (const auto& [k, e] : v.as_object()) o.emplace_back(k, Ser(e));
      return Any(std::move(o));
    }
    default: return v;
  }
}

Any SerOut(const OutValue& v) {
  switch (v.kind) {
    case OutValue::Kind::kAny: return Ser(v.any);
    case OutValue::Kind::kType:
      return Obj({{"$type", Any(KindName(v.type->ref))}, {"json", TypeJson(*v.type)}});
    case OutValue::Kind::kDoc: return Obj({{"$doc", Any(v.guid)}});
  }
  return {};
}

Value DecodeValue(const Any& v);

std::vector<Value> DecodeValues(const Any& arr) {
  std::vector<Value> out;
  for (const Any& v : arr.as_array()) out.push_back(DecodeValue(v));
  return out;
}

std::vector<std::pair<std::string, Value>> DecodeEntries(const Any& arr) {
  std::vector<std::pair<std::string, Value>> out;
  for (const Any& e : arr.as_array()) {
    out.emplace_back(e.as_array().at(0).as_string(), DecodeValue(e.as_array().at(1)));
  }
  return out;
}

Value DecodeValue(const Any& v) {
  if (v.kind() != Any::Kind::kObject) return Value(v);
  if (Has(v, "$bin")) return Value::Binary(FromBase64(Member(v, "$bin").as_string()));
  if (Has(v, "$undefined")) return Value(Any());
  if (Has(v, "$doc")) return Value::SubDoc(Member(v, "$doc").as_string());
  if (!Has(v, "$type")) return Value(v);
  const std::string& kind = Member(v, "$type").as_string();
  if (kind == "Map") return Value::Map(DecodeEntries(Member(v, "entries")));
  if (kind == "Array") return Value::Array(DecodeValues(Member(v, "items")));
  if (kind == "Text") return Value::Text(Member(v, "text").as_string());
  if (kind == "XmlText") return Value::XmlText(Member(v, "text").as_string());
  if (kind == "XmlElement") {
    std::vector<std::pair<std::string, Value>> attrs;
    for (const auto& [k, a] : Member(v, "attrs").as_object()) attrs.emplace_back(k, DecodeValue(a));
    return Value::XmlElement(Member(v, "name").as_string(), std::move(attrs),
                             DecodeValues(Member(v, "children")));
  }
  if (kind == "XmlHook") {
    return Value::XmlHook(Member(v, "name").as_string(), DecodeEntries(Member(v, "entries")));
  }
  Fail("unknown $type " + kind);
}

Any PathAny(const std::vector<PathElement>& path) {
  Any::Array a;
  for (const PathElement& p : path) {
    if (const auto* s = std::get_if<std::string>(&p)) {
      a.push_back(Any(*s));
    } else {
      a.push_back(Any(static_cast<double>(std::get<uint64_t>(p))));
    }
  }
  return Any(std::move(a));
}

// ---------------------------------------------------------------------------------------------
// Sessions

const char* const kRoots[] = {"t", "a", "m", "x"};

SharedType Root(Doc& doc, const std::string& name) {
  if (name == "t") return doc.GetText("t");
  if (name == "a") return doc.GetArray("a");
  if (name == "m") return doc.GetMap("m");
  if (name == "x") return doc.GetXmlFragment("x");
  Fail("unknown root " + name);
}

bool IsText(TypeRef r) {
  return r == TypeRef::kText || r == TypeRef::kXmlText;
}
bool IsList(TypeRef r) {
  return r == TypeRef::kArray || r == TypeRef::kXmlFragment || r == TypeRef::kXmlElement;
}
bool IsMap(TypeRef r) {
  return r == TypeRef::kMap || r == TypeRef::kXmlHook;
}

SharedType Resolve(Doc& doc, const Any& path) {
  const auto& p = path.as_array();
  if (p.empty()) Fail("empty path");
  SharedType t = Root(doc, p[0].as_string());
  for (size_t i = 1; i < p.size(); ++i) {
    std::optional<OutValue> next;
    if (p[i].kind() == Any::Kind::kString) {
      if (!IsMap(t.kind())) Fail("path: key into a " + std::string(KindName(t.kind())));
      next = MapRef(t).Get(p[i].as_string());
    } else {
      if (!IsList(t.kind())) Fail("path: index into a " + std::string(KindName(t.kind())));
      const uint64_t index = Uint(p[i]);
      if (index < t.type()->length) next = ListGet(t.type(), index);
    }
    if (!next || next->kind != OutValue::Kind::kType) Fail("path element is not a shared type");
    t = t.Nested(*next);
  }
  return t;
}

lib0::Any::Object AttrsOf(const Any& op) {
  const Any& a = Member(op, "attrs");
  return a.as_object();
}

void ApplyOp(Doc& doc, const Any& op) {
  const SharedType t = Resolve(doc, Member(op, "path"));
  const std::string& name = Member(op, "op").as_string();
  const TypeRef kind = t.kind();
  if (IsText(kind)) {
    const TextRef text(t);
    if (name == "insert") {
      if (Has(op, "attrs")) {
        const auto attrs = AttrsOf(op);
        return Check(
            text.Insert(Uint(Member(op, "index")), Member(op, "text").as_string(), &attrs));
      }
      return Check(text.Insert(Uint(Member(op, "index")), Member(op, "text").as_string()));
    }
    if (name == "insertEmbed") {
      const Value embed = DecodeValue(Member(op, "embed"));
      if (Has(op, "attrs")) {
        const auto attrs = AttrsOf(op);
        return Check(text.InsertEmbed(Uint(Member(op, "index")), embed, &attrs));
      }
      return Check(text.InsertEmbed(Uint(Member(op, "index")), embed));
    }
    if (name == "delete")
      return Check(text.Delete(Uint(Member(op, "index")), Uint(Member(op, "len"))));
    if (name == "format") {
      return Check(text.Format(Uint(Member(op, "index")), Uint(Member(op, "len")), AttrsOf(op)));
    }
    if (name == "applyDelta") {
      std::vector<DeltaInput> delta;
      for (const Any& d : Member(op, "delta").as_array()) {
        DeltaInput in;
        if (Has(d, "insert")) {
          in.kind = DeltaInput::Kind::kInsert;
          const Any& ins = Member(d, "insert");
          in.insert = ins.kind() == Any::Kind::kString ? Value(ins) : DecodeValue(ins);
        } else if (Has(d, "retain")) {
          in.kind = DeltaInput::Kind::kRetain;
          in.len = Uint(Member(d, "retain"));
        } else {
          in.kind = DeltaInput::Kind::kDelete;
          in.len = Uint(Member(d, "delete"));
        }
        if (Has(d, "attributes")) in.attributes = Member(d, "attributes").as_object();
        delta.push_back(std::move(in));
      }
      return Check(text.ApplyDelta(delta));
    }
    if (name == "setAttribute") {
      return Check(
          text.SetAttribute(Member(op, "key").as_string(), DecodeValue(Member(op, "value"))));
    }
    if (name == "removeAttribute")
      return Check(text.RemoveAttribute(Member(op, "key").as_string()));
  } else if (IsList(kind)) {
    const std::vector<Value> values =
        Has(op, "values") ? DecodeValues(Member(op, "values")) : std::vector<Value>{};
    if (kind == TypeRef::kArray) {
      const ArrayRef arr(t);
      if (name == "insert") return Check(arr.Insert(Uint(Member(op, "index")), values));
      if (name == "push") return Check(arr.Push(values));
      if (name == "unshift") return Check(arr.Unshift(values));
      if (name == "delete")
        return Check(arr.Delete(Uint(Member(op, "index")), Uint(Member(op, "len"))));
    } else {
      const XmlElementRef xml(t);
      if (name == "insert") return Check(xml.Insert(Uint(Member(op, "index")), values));
      if (name == "push") return Check(xml.Push(values));
      if (name == "unshift") return Check(xml.Unshift(values));
      if (name == "delete")
        return Check(xml.Delete(Uint(Member(op, "index")), Uint(Member(op, "len"))));
      if (name == "insertAfter") {
        const Any& ref = Member(op, "ref");
        SharedType reference;
        if (!ref.is_null()) {
          const auto child = xml.Get(Uint(ref));
          if (!child || child->kind != OutValue::Kind::kType) Fail("insertAfter: no child there");
          reference = t.Nested(*child);
        }
        return Check(xml.InsertAfter(reference, values));
      }
      if (kind == TypeRef::kXmlElement && name == "setAttribute") {
        return Check(
            xml.SetAttribute(Member(op, "key").as_string(), DecodeValue(Member(op, "value"))));
      }
      if (kind == TypeRef::kXmlElement && name == "removeAttribute") {
        return Check(xml.RemoveAttribute(Member(op, "key").as_string()));
      }
    }
  } else if (IsMap(kind)) {
    const MapRef map(t);
    if (name == "set")
      return Check(map.Set(Member(op, "key").as_string(), DecodeValue(Member(op, "value"))));
    if (name == "delete") return Check(map.Delete(Member(op, "key").as_string()));
    if (name == "clear") return Check(map.Clear());
  }
  Fail("op " + name + " does not apply to a " + KindName(kind));
}

Any RootsJson(Doc& doc) {
  Any::Object o;
  for (const char* r : kRoots) lib0::JsObjectSet(o, r, TypeJson(*Root(doc, r).type()));
  return Any(std::move(o));
}

Any SerDelta(const std::vector<DeltaOp>& delta, bool text) {
  return DeltaToAny(delta, text, SerOut);
}

struct Record {
  Any::Array updates;
  Any::Array events;
  Any::Array out;
};

class Session {
 public:
  Session(bool gc, const Any::Array& clients) {
    for (const Any& id : clients) {
      auto doc = std::make_unique<Doc>(DocOptions{.gc = gc, .client_id = 0});
      Doc* d = doc.get();
      d->set_client_id(Uint(id));  // 0 is a valid id here; DocOptions takes 0 as "random"
      for (const char* r : kRoots) Root(*d, r);
      for (const char* r : kRoots) {
        Root(*d, r).ObserveDeep([this, name = std::string(r)](std::vector<Event*>& events,
                                                              Transaction&) {
          Any::Array out;
          for (Event* e : events) {
            Any path = PathAny(e->path());
            const bool text = IsText(e->target()->ref);
            Any delta = SerDelta(e->delta(), text);
            Any::Object keys;
            for (const KeyChange& k : e->keys()) {
              const char* action = k.action == KeyChange::Action::kAdd      ? "add"
                                   : k.action == KeyChange::Action::kUpdate ? "update"
                                                                            : "delete";
              lib0::JsObjectSet(
                  keys, k.key,
                  Obj({{"action", Any(action)},
                       {"oldValue", k.old_value ? SerOut(*k.old_value) : Ser(Any())}}));
            }
            out.push_back(Obj({{"path", path}, {"delta", delta}, {"keys", Any(std::move(keys))}}));
          }
          Current().events.push_back(Obj({{"root", Any(name)}, {"events", Any(std::move(out))}}));
        });
      }
      d->OnUpdate(
          [this](const std::vector<uint8_t>& u, const Transaction&) {
            Current().updates.push_back(Obj({{"v1", Any(Hex(u))}, {"v2", Any(nullptr)}}));
          },
          UpdateFormat::kV1);
      d->OnUpdate(
          [this](const std::vector<uint8_t>& u, const Transaction&) {
            if (Current().updates.empty()) Fail("updateV2 without a preceding update");
            auto& last = Current().updates.back();
            Any::Object o = last.as_object();
            lib0::JsObjectSet(o, "v2", Any(Hex(u)));
            last = Any(std::move(o));
          },
          UpdateFormat::kV2);
      docs_.push_back(std::move(doc));
    }
  }

  Any RunStep(const Any& step) {
    record_.emplace();
    Doc& doc = DocAt(Uint(Member(step, "c")));
    if (Has(step, "txn")) {
      std::string error;
      doc.Transact([&](Transaction&) {
        try {
          for (const Any& op : Member(step, "txn").as_array()) ApplyOp(doc, op);
        } catch (const std::exception& e) {
          error = e.what();  // the transaction still ends, as in yjs
        }
      });
      if (!error.empty()) Fail(error);
    } else if (Has(step, "sync")) {
      Doc& from = DocAt(Uint(Member(step, "sync")));
      const bool v2 = Has(step, "v2") && Member(step, "v2").kind() == Any::Kind::kBool &&
                      Member(step, "v2").as_bool();
      const UpdateFormat f = v2 ? UpdateFormat::kV2 : UpdateFormat::kV1;
      const std::vector<uint8_t> msg = from.EncodeStateAsUpdate(doc.GetStateVector(), f);
      Check(doc.ApplyUpdate(msg, f));
      record_->out.push_back(Any(Hex(msg)));
    } else if (Has(step, "query")) {
      for (const Any& q : Member(step, "query").as_array()) record_->out.push_back(Query(doc, q));
    } else {
      Fail("unknown step");
    }
    Record r = std::move(*record_);
    record_.reset();
    for (const Any& u : r.updates) {
      if (Member(u, "v2").is_null()) Fail("update without updateV2");
    }
    return Obj({{"updates", Any(std::move(r.updates))},
                {"events", Any(std::move(r.events))},
                {"out", Any(std::move(r.out))}});
  }

 private:
  Record& Current() {
    if (!record_) Fail("a doc emitted outside of a step");
    return *record_;
  }

  Doc& DocAt(uint64_t k) {
    if (k >= docs_.size()) Fail("no client " + std::to_string(k));
    return *docs_[k];
  }

  Any Query(Doc& doc, const Any& q) {
    const std::string& name = Member(q, "q").as_string();
    if (name == "json") return RootsJson(doc);
    if (name == "delta") {
      const SharedType t = Resolve(doc, Member(q, "path"));
      if (!IsText(t.kind())) Fail("delta of a non-text");
      return SerDelta(TextRef(t).ToDelta(), true);
    }
    if (name == "get") {
      const SharedType t = Resolve(doc, Member(q, "path"));
      const double length =
          static_cast<double>(IsMap(t.kind()) ? MapRef(t).size() : t.type()->length);
      return Obj({{"json", TypeJson(*t.type())}, {"length", Any(length)}});
    }
    if (name == "slice") {
      const SharedType t = Resolve(doc, Member(q, "path"));
      Any::Array a;
      for (const OutValue& v :
           ListSlice(t.type(), static_cast<int64_t>(Member(q, "start").as_number()),
                     static_cast<int64_t>(Member(q, "end").as_number()))) {
        a.push_back(SerOut(v));
      }
      return Any(std::move(a));
    }
    if (name == "attrs") {
      const SharedType t = Resolve(doc, Member(q, "path"));
      Any::Object o;
      for (const auto& [k, v] : MapEntries(t.type())) lib0::JsObjectSet(o, k, SerOut(v));
      return Any(std::move(o));
    }
    if (name == "relpos") {
      const SharedType t = Resolve(doc, Member(q, "path"));
      const auto assoc = static_cast<int64_t>(Member(q, "assoc").as_number());
      return Any(Hex(EncodeRelativePosition(
          CreateRelativePositionFromTypeIndex(t.type(), Uint(Member(q, "index")), assoc))));
    }
    if (name == "resolve") {
      auto rpos = DecodeRelativePosition(FromHex(Member(q, "rel").as_string()));
      if (!rpos.ok()) Fail(rpos.status().ToString());
      auto abs = CreateAbsolutePositionFromRelativePosition(*rpos, doc);
      if (!abs) return Any(nullptr);
      OutValue type;
      type.kind = OutValue::Kind::kType;
      type.type = abs->type;
      return Obj({{"type", SerOut(type)},
                  {"index", Any(static_cast<double>(abs->index))},
                  {"assoc", Any(static_cast<double>(abs->assoc))}});
    }
    if (name == "snapshot") {
      const Snapshot s = TakeSnapshot(doc);
      return Obj({{"v1", Any(Hex(EncodeSnapshot(s, UpdateFormat::kV1)))},
                  {"v2", Any(Hex(EncodeSnapshot(s, UpdateFormat::kV2)))}});
    }
    if (name == "fromSnapshot") {
      auto snap = DecodeSnapshot(FromHex(Member(q, "snap").as_string()));
      if (!snap.ok()) Fail(snap.status().ToString());
      auto update = EncodeStateFromSnapshot(doc, *snap);
      if (!update.ok()) Fail(update.status().ToString());
      Doc restored(DocOptions{.gc = true, .client_id = 0});
      Check(restored.ApplyUpdateV2(*update));
      return Obj({{"update", Any(Hex(*update))}, {"json", RootsJson(restored)}});
    }
    if (name == "state") {
      return Obj({{"v1", Any(Hex(doc.EncodeStateAsUpdate({}, UpdateFormat::kV1)))},
                  {"v2", Any(Hex(doc.EncodeStateAsUpdate({}, UpdateFormat::kV2)))},
                  {"sv", Any(Hex(doc.EncodeStateVector()))}});
    }
    Fail("unknown query " + name);
  }

  std::vector<std::unique_ptr<Doc>> docs_;
  std::optional<Record> record_;
};

Any RunCase(const Any& c) {
  Any::Array steps;
  std::string error;
  try {
    const Any& gc = Member(c, "gc");
    Session session(gc.kind() == Any::Kind::kBool && gc.as_bool(), Member(c, "clients").as_array());
    for (const Any& step : Member(c, "steps").as_array()) steps.push_back(session.RunStep(step));
  } catch (const std::exception& e) {
    error = "step " + std::to_string(steps.size()) + ": " + e.what();
  }
  return Obj(
      {{"name", Member(c, "name")}, {"error", Any(error)}, {"steps", Any(std::move(steps))}});
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4 || std::string(argv[1]) != "run") {
    std::cerr << "usage: editing_interop_tool run CASES.json OUT.json\n";
    return 2;
  }
  std::ifstream in(argv[2], std::ios::binary);
  const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  auto parsed = lib0::ParseJson(text);
  if (!parsed.ok()) {
    std::cerr << "editing_interop_tool: bad cases file: " << parsed.status().ToString() << "\n";
    return 2;
  }
  Any::Array results;
  for (const Any& c : Member(*parsed, "cases").as_array()) results.push_back(RunCase(c));
  std::ofstream(argv[3], std::ios::binary)
      << lib0::ToJson(Obj({{"results", Any(std::move(results))}}));
  return 0;
}

// Fuzzes the editing API: the input drives a script of edits on two documents (text with
// formats and emoji, arrays, maps with nested types, XML), syncs between them, transactions,
// relative positions and snapshots, and feeds slices of itself to the position, snapshot and
// update decoders. Whatever the script: no crash, no leak, lengths agree with the content, and
// after a final exchange both documents hold the same content.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
#include <vector>

#include "crdt/read_api.h"
#include "crdt/relative_position.h"
#include "crdt/snapshot.h"
#include "crdt/transaction.h"
#include "crdt/types/shared_types.h"
#include "lib0/json.h"
#include "lib0/utf.h"

using namespace tandem;
using namespace tandem::crdt;

namespace {

class Input {
 public:
  Input(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  bool done() const { return pos_ >= size_; }
  uint8_t Byte() { return pos_ < size_ ? data_[pos_++] : 0; }
  uint64_t Below(uint64_t n) { return n == 0 ? 0 : (uint64_t{Byte()} << 8 | Byte()) % n; }
  std::span<const uint8_t> Slice() {
    const size_t n = std::min<size_t>(Byte(), size_ - std::min(pos_, size_));
    std::span<const uint8_t> s(data_ + pos_, n);
    pos_ += n;
    return s;
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

// No astral characters: cutting a surrogate pair in half turns both halves into U+FFFD in the
// document that cuts it (as in yjs), and a cut that sends no update (a format that changes
// nothing) would make the final comparison fail for that reason alone. interop.editing checks
// pair splitting against yjs itself.
const char* const kPieces[] = {"a",  "b",  "Hello", "\xC3\xA9", "\xE4\xB8\xAD", "\xE2\x82\xAC",
                               "\n", "xyz"};

std::string Text(Input& in) {
  std::string s;
  for (int n = 1 + in.Byte() % 3; n > 0; --n) s += kPieces[in.Byte() % 8];
  return s;
}

lib0::Any::Object Attrs(Input& in) {
  lib0::Any::Object o;
  switch (in.Byte() % 4) {
    case 0: o.emplace_back("bold", lib0::Any(true)); break;
    case 1: o.emplace_back("bold", lib0::Any(nullptr)); break;
    case 2: o.emplace_back("link", lib0::Any(lib0::Any::Object{{"href", lib0::Any("x")}})); break;
    default: o.emplace_back("size", lib0::Any(12)); break;
  }
  return o;
}

Value Nested(Input& in) {
  switch (in.Byte() % 5) {
    case 0: return Value::Map({{"k", Value(1)}});
    case 1: return Value::Array({Value("x"), Value(2)});
    case 2: return Value::Text(Text(in));
    case 3: return Value::Binary({1, 2, 3});
    default: return Value(static_cast<int>(in.Byte()));
  }
}

void Edit(Doc& doc, Input& in, std::vector<RelativePosition>& positions) {
  TextRef text = doc.GetText("t");
  ArrayRef array = doc.GetArray("a");
  MapRef map = doc.GetMap("m");
  XmlFragmentRef xml = doc.GetXmlFragment("x");
  switch (in.Byte() % 12) {
    case 0: (void)text.Insert(in.Below(text.length() + 1), Text(in)); break;
    case 1: {
      const auto attrs = Attrs(in);
      (void)text.Insert(in.Below(text.length() + 1), Text(in), &attrs);
      break;
    }
    case 2: (void)text.Delete(in.Below(text.length() + 1), in.Byte() % 8); break;
    case 3: (void)text.Format(in.Below(text.length() + 1), in.Byte() % 8, Attrs(in)); break;
    case 4: (void)array.Insert(in.Below(array.length() + 1), {Nested(in), Value(in.Byte())}); break;
    case 5:
      if (array.length() > 0) (void)array.Delete(in.Below(array.length()), 1 + in.Byte() % 2);
      break;
    case 6:
      (void)map.Set(std::string(1, static_cast<char>('a' + in.Byte() % 4)), Nested(in));
      break;
    case 7: {
      const auto v = map.Get(std::string(1, static_cast<char>('a' + in.Byte() % 4)));
      if (v && v->kind == OutValue::Kind::kType) {
        const SharedType nested = map.Nested(*v);
        if (nested.kind() == TypeRef::kArray) (void)ArrayRef(nested).Push({Value(7)});
        if (nested.kind() == TypeRef::kText) (void)TextRef(nested).Insert(0, "n");
        if (nested.kind() == TypeRef::kMap) (void)MapRef(nested).Delete("k");
      }
      break;
    }
    case 8: {
      std::vector<Value> children{
          Value::XmlElement("p", {{"id", Value("1")}}, {Value::XmlText("t")})};
      (void)xml.Insert(in.Below(xml.length() + 1), children);
      break;
    }
    case 9: {
      positions.push_back(CreateRelativePositionFromTypeIndex(
          text.type(), in.Below(text.length() + 1), in.Byte() % 2 == 0 ? 0 : -1));
      break;
    }
    case 10: {
      const uint64_t retain = in.Byte() % 4;
      (void)text.ApplyDelta({DeltaInput{DeltaInput::Kind::kRetain, Value(), retain, Attrs(in)},
                             DeltaInput{DeltaInput::Kind::kInsert, Value(Text(in)), 0, {}}});
      break;
    }
    default: (void)text.InsertEmbed(in.Below(text.length() + 1), Nested(in)); break;
  }
}

// Map keys come in the order each replica first saw them (as in yjs): compare sorted.
lib0::Any Sorted(lib0::Any v) {
  if (v.kind() == lib0::Any::Kind::kObject) {
    lib0::Any::Object o = v.as_object();
    for (auto& [k, e] : o) e = Sorted(e);
    std::sort(o.begin(), o.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
    return lib0::Any(std::move(o));
  }
  if (v.kind() == lib0::Any::Kind::kArray) {
    lib0::Any::Array a = v.as_array();
    for (auto& e : a) e = Sorted(e);
    return lib0::Any(std::move(a));
  }
  return v;
}

void CheckLengths(Doc& doc) {
  // The text's length counts its strings in UTF-16 units and one per embed.
  TextRef text = doc.GetText("t");
  uint64_t length = 0;
  for (const DeltaOp& op : text.ToDelta()) {
    const OutValue& v = op.insert.at(0);
    length += v.kind == OutValue::Kind::kAny && v.any.kind() == lib0::Any::Kind::kString
                  ? lib0::Utf16Length(v.any.as_string())
                  : 1;
  }
  if (length != text.length()) std::abort();
  if (doc.GetArray("a").ToArray().size() != doc.GetArray("a").length()) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Input in(data, size);
  const bool gc = (in.Byte() & 1) == 0;
  // a and b are compared at the end, so they do not clean up formatting on their own (that
  // would make them differ by their last cleanups); c does, and receives everything.
  Doc a(DocOptions{.gc = gc, .client_id = 1, .clean_up_formatting = false});
  Doc b(DocOptions{.gc = gc, .client_id = 2, .clean_up_formatting = false});
  Doc c(DocOptions{.gc = gc, .client_id = 3});
  Doc* docs[] = {&a, &b};
  std::vector<RelativePosition> positions;
  std::vector<Snapshot> snapshots;
  for (int steps = 0; !in.done() && steps < 200; ++steps) {
    Doc& doc = *docs[in.Byte() % 2];
    switch (in.Byte() % 8) {
      case 0: {  // sync one way
        Doc& other = &doc == &a ? b : a;
        (void)other.ApplyUpdate(doc.EncodeStateAsUpdate(other.GetStateVector()));
        (void)c.ApplyUpdate(doc.EncodeStateAsUpdate(c.GetStateVector()));
        if (c.GetText("t").length() > 0) Edit(c, in, positions);
        break;
      }
      case 1:
        doc.Transact([&](Transaction&) {
          for (int n = in.Byte() % 5; n > 0; --n) Edit(doc, in, positions);
        });
        break;
      case 2:
        for (const RelativePosition& p : positions) {
          auto decoded = DecodeRelativePosition(EncodeRelativePosition(p));
          if (!decoded.ok()) std::abort();
          (void)CreateAbsolutePositionFromRelativePosition(*decoded, doc);
        }
        break;
      case 3: {
        snapshots.push_back(TakeSnapshot(doc));
        const auto v2 = EncodeSnapshot(snapshots.back(), UpdateFormat::kV2);
        auto back = DecodeSnapshot(v2, UpdateFormat::kV2);
        if (!back.ok() || !EqualSnapshots(*back, snapshots.back())) std::abort();
        if (!gc) {
          Doc restored;
          (void)CreateDocFromSnapshot(doc, snapshots.back(), restored);
          (void)doc.GetText("t").ToDelta(&snapshots.back(), nullptr);
        }
        break;
      }
      case 4: {  // the decoders on raw bytes
        const auto bytes = in.Slice();
        if (auto rpos = DecodeRelativePosition(bytes); rpos.ok()) {
          (void)CreateAbsolutePositionFromRelativePosition(*rpos, doc);
        }
        (void)DecodeSnapshot(bytes, UpdateFormat::kV1);
        (void)DecodeSnapshot(bytes, UpdateFormat::kV2);
        (void)doc.ApplyUpdate(bytes, in.Byte() % 2 == 0 ? UpdateFormat::kV1 : UpdateFormat::kV2);
        break;
      }
      default: Edit(doc, in, positions); break;
    }
    CheckLengths(doc);
  }
  // Exchange everything both ways: the documents must agree.
  (void)b.ApplyUpdate(a.EncodeStateAsUpdate(b.GetStateVector()));
  (void)a.ApplyUpdate(b.EncodeStateAsUpdate(a.GetStateVector()));
  if (a.has_pending() || b.has_pending()) return 0;  // raw bytes may leave gaps
  for (Doc* d : docs) {                              // the same typed roots on both sides
    d->GetText("t");
    d->GetArray("a");
    d->GetMap("m");
    d->GetXmlFragment("x");
  }
  for (const char* root : {"t", "a", "m", "x"}) {
    const Type* ta = a.FindRoot(root);
    const Type* tb = b.FindRoot(root);
    const std::string ja = ta == nullptr ? "" : lib0::ToJson(Sorted(TypeToJson(*ta)));
    const std::string jb = tb == nullptr ? "" : lib0::ToJson(Sorted(TypeToJson(*tb)));
    if (ja != jb) {
      std::fprintf(stderr, "root %s differs:\n  a: %s\n  b: %s\n", root, ja.c_str(), jb.c_str());
      std::abort();
    }
  }
  return 0;
}

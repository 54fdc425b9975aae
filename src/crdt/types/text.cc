#include "crdt/types/text.h"

#include <algorithm>
#include <unordered_set>

#include "crdt/doc_internal.h"
#include "crdt/snapshot.h"
#include "crdt/transaction.h"
#include "crdt/types/list.h"
#include "lib0/utf.h"

namespace tandem::crdt {

namespace {

// ---------------------------------------------------------------------------------------------
// JavaScript value semantics for attribute values. A null SharedAny is `undefined`.

const SharedAny& JsNull() {
  static const SharedAny null_value = std::make_shared<const lib0::Any>(nullptr);
  return null_value;
}

bool IsUndefined(const SharedAny& v) {
  return !v || v->is_undefined();
}

bool IsNull(const SharedAny& v) {
  return v && v->is_null();
}

// typeof v === 'object' && v !== null
bool IsObject(const lib0::Any& v) {
  const auto k = v.kind();
  return k == lib0::Any::Kind::kObject || k == lib0::Any::Kind::kArray ||
         k == lib0::Any::Kind::kBinary;
}

// `===` between two values that are not the same instance.
bool PrimitiveStrictEquals(const lib0::Any& a, const lib0::Any& b) {
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case lib0::Any::Kind::kUndefined:
    case lib0::Any::Kind::kNull: return true;
    case lib0::Any::Kind::kBool: return a.as_bool() == b.as_bool();
    case lib0::Any::Kind::kNumber: return a.as_number() == b.as_number();
    case lib0::Any::Kind::kBigInt: return a.as_bigint() == b.as_bigint();
    case lib0::Any::Kind::kString: return a.as_string() == b.as_string();
    default: return false;  // distinct objects
  }
}

bool StrictEquals(const SharedAny& a, const SharedAny& b) {
  if (IsUndefined(a) || IsUndefined(b)) return IsUndefined(a) && IsUndefined(b);
  return a == b || PrimitiveStrictEquals(*a, *b);
}

// Own enumerable properties of an object-like value, as Object.keys/values give them.
std::vector<std::pair<std::string, lib0::Any>> Properties(const lib0::Any& v) {
  std::vector<std::pair<std::string, lib0::Any>> out;
  switch (v.kind()) {
    case lib0::Any::Kind::kObject:
      for (const auto& [k, val] : v.as_object()) out.emplace_back(k, val);
      break;
    case lib0::Any::Kind::kArray:
      for (size_t i = 0; i < v.as_array().size(); ++i)
        out.emplace_back(std::to_string(i), v.as_array()[i]);
      break;
    case lib0::Any::Kind::kBinary:
      for (size_t i = 0; i < v.as_binary().size(); ++i)
        out.emplace_back(std::to_string(i), lib0::Any(static_cast<double>(v.as_binary()[i])));
      break;
    default: break;
  }
  return out;
}

// lib0 object.equalFlat
bool EqualFlat(const lib0::Any& a, const lib0::Any& b) {
  const auto pa = Properties(a);
  const auto pb = Properties(b);
  if (pa.size() != pb.size()) return false;
  for (const auto& entry : pa) {
    const std::string& key = entry.first;
    auto it = std::find_if(pb.begin(), pb.end(), [&](const auto& p) { return p.first == key; });
    if (it == pb.end()) return false;  // b[key] is undefined and b lacks the key
    if (!PrimitiveStrictEquals(it->second, entry.second)) return false;
  }
  return true;
}

// equalAttrs
bool EqualAttrs(const SharedAny& a, const SharedAny& b) {
  if (StrictEquals(a, b)) return true;
  return !IsUndefined(a) && !IsUndefined(b) && IsObject(*a) && IsObject(*b) && EqualFlat(*a, *b);
}

// A JS Map<string, value>: insertion order, a key keeps its place when set again.
class JsMap {
 public:
  using Entries = std::vector<std::pair<std::string, SharedAny>>;
  const SharedAny* Get(std::string_view key) const {
    for (const auto& [k, v] : entries_) {
      if (k == key) return &v;
    }
    return nullptr;
  }
  // map.get(key) ?? null
  SharedAny GetOrNull(std::string_view key) const {
    const SharedAny* v = Get(key);
    return v == nullptr || IsUndefined(*v) || IsNull(*v) ? JsNull() : *v;
  }
  void Set(std::string_view key, SharedAny value) {
    for (auto& [k, v] : entries_) {
      if (k == key) {
        v = std::move(value);
        return;
      }
    }
    entries_.emplace_back(std::string(key), std::move(value));
  }
  void Delete(std::string_view key) {
    std::erase_if(entries_, [&](const auto& e) { return e.first == key; });
  }
  bool Has(std::string_view key) const { return Get(key) != nullptr; }
  size_t size() const { return entries_.size(); }
  const Entries& entries() const { return entries_; }

 private:
  Entries entries_;
};

// A JS object used as a dictionary: array-index keys first, ascending, then insertion order.
class JsObject {
 public:
  using Entries = std::vector<std::pair<std::string, SharedAny>>;
  const SharedAny* Get(std::string_view key) const {
    for (const auto& [k, v] : entries_) {
      if (k == key) return &v;
    }
    return nullptr;
  }
  // obj[key] (undefined when absent)
  SharedAny Value(std::string_view key) const {
    const SharedAny* v = Get(key);
    return v == nullptr ? SharedAny() : *v;
  }
  void Set(std::string_view key, SharedAny value) {
    for (auto& [k, v] : entries_) {
      if (k == key) {
        v = std::move(value);
        return;
      }
    }
    auto it = entries_.end();
    if (lib0::IsArrayIndexKey(key)) {
      const uint64_t index = std::stoull(std::string(key));
      it = entries_.begin();
      while (it != entries_.end() && lib0::IsArrayIndexKey(it->first) &&
             std::stoull(it->first) < index)
        ++it;
    }
    entries_.emplace(it, std::string(key), std::move(value));
  }
  void Delete(std::string_view key) {
    std::erase_if(entries_, [&](const auto& e) { return e.first == key; });
  }
  bool empty() const { return entries_.empty(); }
  const Entries& entries() const { return entries_; }

  lib0::Any ToAny(bool skip_null = false) const {
    lib0::Any::Object o;
    for (const auto& [k, v] : entries_) {
      if (skip_null && IsNull(v)) continue;
      o.emplace_back(k, IsUndefined(v) ? lib0::Any() : *v);
    }
    return lib0::Any(std::move(o));
  }

 private:
  Entries entries_;
};

JsObject ObjectFromAny(const lib0::Any::Object& attributes) {
  JsObject o;
  for (const auto& [k, v] : attributes) o.Set(k, std::make_shared<const lib0::Any>(v));
  return o;
}

const FormatContent* FormatOf(const Item* item) {
  return item->content.get<FormatContent>();
}

bool IsContentOrEmbedOrType(const Item* item) {
  const ContentRef r = item->content.ref();
  return r == ContentRef::kString || r == ContentRef::kEmbed || r == ContentRef::kType;
}

// updateCurrentAttributes
void UpdateCurrentAttributes(JsMap& current, const FormatContent& format) {
  if (format.value->is_null()) {
    current.Delete(format.key);
  } else {
    current.Set(format.key, format.value);
  }
}

// ---------------------------------------------------------------------------------------------
// ItemTextListPosition and the editing algorithms

struct TextPosition {
  Item* left = nullptr;
  Item* right = nullptr;
  uint64_t index = 0;
  JsMap current_attributes;

  // REQUIRES: right != nullptr
  void Forward() {
    if (const FormatContent* f = FormatOf(right)) {
      if (!right->deleted()) UpdateCurrentAttributes(current_attributes, *f);
    } else if (!right->deleted()) {
      index += right->length();
    }
    left = right;
    right = right->right;
  }
};

void FindNextPosition(Transaction& t, TextPosition& pos, uint64_t count) {
  while (pos.right != nullptr && count > 0) {
    if (const FormatContent* f = FormatOf(pos.right)) {
      if (!pos.right->deleted()) UpdateCurrentAttributes(pos.current_attributes, *f);
    } else if (!pos.right->deleted()) {
      if (count < pos.right->length()) {
        GetItemCleanStart(t, ID{pos.right->client(), pos.right->clock() + count});
      }
      pos.index += pos.right->length();
      count -= pos.right->length();
    }
    pos.left = pos.right;
    pos.right = pos.right->right;
  }
}

TextPosition FindPosition(Transaction& t, Type* parent, uint64_t index, bool use_search_marker) {
  TextPosition pos;
  const MarkerHit marker = use_search_marker ? FindMarker(parent, index) : MarkerHit{};
  if (marker.p != nullptr) {
    pos.left = marker.p->left;
    pos.right = marker.p;
    pos.index = marker.index;
    FindNextPosition(t, pos, index - marker.index);
  } else {
    pos.right = parent->start;
    FindNextPosition(t, pos, index);
  }
  return pos;
}

Item* InsertFormat(Transaction& t, Type* parent, TextPosition& pos, const std::string& key,
                   const SharedAny& value) {
  return InsertLocalItem(t, pos.left, pos.right, parent, nullptr,
                         Content(FormatContent{key, IsUndefined(value) ? JsNull() : value}));
}

void InsertNegatedAttributes(Transaction& t, Type* parent, TextPosition& pos, JsMap& negated) {
  while (pos.right != nullptr) {
    const FormatContent* f = FormatOf(pos.right);
    if (!pos.right->deleted()) {
      if (f == nullptr) break;
      const SharedAny* neg = negated.Get(f->key);
      if (!EqualAttrs(neg == nullptr ? SharedAny() : *neg, f->value)) break;
      negated.Delete(f->key);
    }
    pos.Forward();
  }
  for (const auto& [key, value] : negated.entries()) {
    pos.right = InsertFormat(t, parent, pos, key, value);
    pos.Forward();
  }
}

void MinimizeAttributeChanges(TextPosition& pos, const JsObject& attributes) {
  while (pos.right != nullptr) {
    if (!pos.right->deleted()) {
      const FormatContent* f = FormatOf(pos.right);
      if (f == nullptr) break;
      SharedAny attr = attributes.Value(f->key);
      if (IsUndefined(attr) || IsNull(attr)) attr = JsNull();
      if (!EqualAttrs(attr, f->value)) break;
    }
    pos.Forward();
  }
}

JsMap InsertAttributes(Transaction& t, Type* parent, TextPosition& pos,
                       const JsObject& attributes) {
  JsMap negated;
  for (const auto& [key, value] : attributes.entries()) {
    const SharedAny current = pos.current_attributes.GetOrNull(key);
    if (!EqualAttrs(current, value)) {
      negated.Set(key, current);
      pos.right = InsertFormat(t, parent, pos, key, value);
      pos.Forward();
    }
  }
  return negated;
}

Content ContentForText(const Value& value) {
  switch (value.kind()) {
    case Value::Kind::kAny:
      if (value.any().kind() == lib0::Any::Kind::kString) {
        return Content::String(value.any().as_string());
      }
      return Content(EmbedContent{value.any()});
    case Value::Kind::kType: return ContentOfValue(value);
    case Value::Kind::kDoc: return Content(EmbedContent{value.any()});
  }
  return Content::Deleted(0);
}

void InsertTextAt(Transaction& t, Type* parent, TextPosition& pos, const Value& text,
                  JsObject& attributes) {
  for (const auto& [key, value] : pos.current_attributes.entries()) {
    if (IsUndefined(attributes.Value(key))) attributes.Set(key, JsNull());
  }
  MinimizeAttributeChanges(pos, attributes);
  JsMap negated = InsertAttributes(t, parent, pos, attributes);
  Content content = ContentForText(text);
  if (parent->markers_enabled) {
    UpdateMarkerChanges(parent, pos.index, static_cast<int64_t>(content.length()));
  }
  const uint64_t index = pos.index;
  pos.right = InsertLocalItem(t, pos.left, pos.right, parent, nullptr, std::move(content));
  pos.index = index;
  pos.Forward();
  InsertNegatedAttributes(t, parent, pos, negated);
}

void FormatTextAt(Transaction& t, Type* parent, TextPosition& pos, uint64_t length,
                  const JsObject& attributes) {
  MinimizeAttributeChanges(pos, attributes);
  JsMap negated = InsertAttributes(t, parent, pos, attributes);
  while (pos.right != nullptr &&
         (length > 0 ||
          (negated.size() > 0 && (pos.right->deleted() || FormatOf(pos.right) != nullptr)))) {
    if (!pos.right->deleted()) {
      if (const FormatContent* f = FormatOf(pos.right)) {
        const SharedAny attr = attributes.Value(f->key);
        if (!IsUndefined(attr)) {
          if (EqualAttrs(attr, f->value)) {
            negated.Delete(f->key);
          } else {
            if (length == 0) break;  // no need to extend the negated attributes further
            negated.Set(f->key, f->value);
          }
          DeleteStruct(t, pos.right);
        } else {
          pos.current_attributes.Set(f->key, f->value);
        }
      } else {
        if (length < pos.right->length()) {
          GetItemCleanStart(t, ID{pos.right->client(), pos.right->clock() + length});
        }
        length -= std::min(length, pos.right->length());
      }
    }
    pos.Forward();
  }
  // Quill assumes text ends with a newline: formatting past the end inserts newlines.
  if (length > 0) {
    pos.right = InsertLocalItem(t, pos.left, pos.right, parent, nullptr,
                                Content::String(std::string(length, '\n')));
    pos.Forward();
  }
  InsertNegatedAttributes(t, parent, pos, negated);
}

// cleanupFormattingGap
uint64_t CleanupFormattingGap(Transaction& t, Item* start, Item* curr,
                              const JsMap& start_attributes, JsMap& curr_attributes) {
  Item* end = start;
  std::vector<std::pair<std::string, const FormatContent*>> end_formats;
  while (end != nullptr && (!end->countable() || end->deleted())) {
    if (!end->deleted()) {
      if (const FormatContent* f = FormatOf(end)) {
        auto it = std::find_if(end_formats.begin(), end_formats.end(),
                               [&](const auto& e) { return e.first == f->key; });
        if (it != end_formats.end()) {
          it->second = f;
        } else {
          end_formats.emplace_back(f->key, f);
        }
      }
    }
    end = end->right;
  }
  uint64_t cleanups = 0;
  bool reached_curr = false;
  while (start != end) {
    if (curr == start) reached_curr = true;
    if (!start->deleted()) {
      if (const FormatContent* f = FormatOf(start)) {
        const SharedAny start_value = start_attributes.GetOrNull(f->key);
        auto it = std::find_if(end_formats.begin(), end_formats.end(),
                               [&](const auto& e) { return e.first == f->key; });
        const FormatContent* end_format = it == end_formats.end() ? nullptr : it->second;
        if (end_format != f || StrictEquals(start_value, f->value)) {
          // Either overwritten later in the gap or redundant with what was already in effect.
          DeleteStruct(t, start);
          ++cleanups;
          if (!reached_curr && StrictEquals(curr_attributes.GetOrNull(f->key), f->value) &&
              !StrictEquals(start_value, f->value)) {
            if (IsNull(start_value)) {
              curr_attributes.Delete(f->key);
            } else {
              curr_attributes.Set(f->key, start_value);
            }
          }
        }
        if (!reached_curr && !start->deleted()) UpdateCurrentAttributes(curr_attributes, *f);
      }
    }
    start = start->right;
  }
  return cleanups;
}

void CleanupContextlessFormattingGap(Transaction& t, Item* item) {
  while (item != nullptr && item->right != nullptr &&
         (item->right->deleted() || !item->right->countable())) {
    item = item->right;
  }
  std::vector<std::string> seen;
  while (item != nullptr && (item->deleted() || !item->countable())) {
    if (!item->deleted()) {
      if (const FormatContent* f = FormatOf(item)) {
        if (std::find(seen.begin(), seen.end(), f->key) != seen.end()) {
          DeleteStruct(t, item);
        } else {
          seen.push_back(f->key);
        }
      }
    }
    item = item->left;
  }
}

void DeleteTextAt(Transaction& t, TextPosition& pos, uint64_t length) {
  const uint64_t start_length = length;
  const JsMap start_attributes = pos.current_attributes;
  Item* start = pos.right;
  while (length > 0 && pos.right != nullptr) {
    if (!pos.right->deleted() && IsContentOrEmbedOrType(pos.right)) {
      if (length < pos.right->length()) {
        GetItemCleanStart(t, ID{pos.right->client(), pos.right->clock() + length});
      }
      length -= std::min(length, pos.right->length());
      DeleteStruct(t, pos.right);
    }
    pos.Forward();
  }
  // Only format items are cleaned up: a text that never had any has nothing to do.
  if (start != nullptr && start->parent()->has_format_items) {
    CleanupFormattingGap(t, start, pos.right, start_attributes, pos.current_attributes);
  }
  Item* any = pos.left != nullptr ? pos.left : pos.right;
  if (any == nullptr) return;
  Type* parent = any->parent();
  if (parent->markers_enabled) {
    UpdateMarkerChanges(parent, pos.index,
                        -static_cast<int64_t>(start_length) + static_cast<int64_t>(length));
  }
}

}  // namespace

void TextInsert(Transaction& t, Type* text, uint64_t index, const Value& content,
                const lib0::Any::Object* attributes, bool as_embed) {
  const bool is_string =
      content.kind() == Value::Kind::kAny && content.any().kind() == lib0::Any::Kind::kString;
  if (!as_embed && is_string && content.any().as_string().empty()) return;
  TextPosition pos = FindPosition(t, text, index, attributes == nullptr);
  JsObject attrs;
  if (attributes != nullptr) {
    attrs = ObjectFromAny(*attributes);
  } else if (!as_embed) {
    // YText.insert without attributes takes the attributes in effect; insertEmbed does not.
    for (const auto& [k, v] : pos.current_attributes.entries()) attrs.Set(k, v);
  }
  InsertTextAt(t, text, pos, content, attrs);
}

void TextDelete(Transaction& t, Type* text, uint64_t index, uint64_t length) {
  if (length == 0) return;
  TextPosition pos = FindPosition(t, text, index, true);
  DeleteTextAt(t, pos, length);
}

void TextFormat(Transaction& t, Type* text, uint64_t index, uint64_t length,
                const lib0::Any::Object& attributes) {
  if (length == 0) return;
  TextPosition pos = FindPosition(t, text, index, false);
  if (pos.right == nullptr) return;
  FormatTextAt(t, text, pos, length, ObjectFromAny(attributes));
}

void TextApplyDelta(Transaction& t, Type* text, const std::vector<DeltaInput>& delta,
                    bool sanitize) {
  TextPosition pos;
  pos.right = text->start;
  for (size_t i = 0; i < delta.size(); ++i) {
    const DeltaInput& op = delta[i];
    JsObject attrs;
    if (op.attributes) attrs = ObjectFromAny(*op.attributes);
    switch (op.kind) {
      case DeltaInput::Kind::kInsert: {
        const bool is_string = op.insert.kind() == Value::Kind::kAny &&
                               op.insert.any().kind() == lib0::Any::Kind::kString;
        if (is_string) {
          std::string s = op.insert.any().as_string();
          // Quill's trailing newline is dropped when not sanitizing (yjs keeps this quirk).
          if (!sanitize && i + 1 == delta.size() && pos.right == nullptr && !s.empty() &&
              s.back() == '\n') {
            s.pop_back();
          }
          if (!s.empty()) InsertTextAt(t, text, pos, Value(std::move(s)), attrs);
        } else {
          InsertTextAt(t, text, pos, op.insert, attrs);
        }
        break;
      }
      case DeltaInput::Kind::kRetain: FormatTextAt(t, text, pos, op.len, attrs); break;
      case DeltaInput::Kind::kDelete: DeleteTextAt(t, pos, op.len); break;
    }
  }
}

uint64_t CleanupTextFormatting(Doc& doc, Type* text) {
  uint64_t cleaned = 0;
  Transact(doc, [&](Transaction& t) {
    Item* start = text->start;
    JsMap start_attributes;
    JsMap current = start_attributes;
    for (Item* end = text->start; end != nullptr; end = end->right) {
      if (end->deleted()) continue;
      if (const FormatContent* f = FormatOf(end)) {
        UpdateCurrentAttributes(current, *f);
      } else {
        cleaned += CleanupFormattingGap(t, start, end, start_attributes, current);
        start_attributes = current;
        start = end;
      }
    }
  });
  return cleaned;
}

void CleanupTextAfterTransaction(Transaction& transaction) {
  Doc& doc = transaction.doc();
  std::vector<Type*> need_full_cleanup;
  auto add_full = [&](Type* type) {
    if (std::find(need_full_cleanup.begin(), need_full_cleanup.end(), type) ==
        need_full_cleanup.end())
      need_full_cleanup.push_back(type);
  };
  // A format item inserted anywhere: clean its whole text.
  for (const Transaction::ClientChange& c : transaction.changed_clients) {
    const Clock before = c.before;
    if (c.after == before) continue;
    StructStore::Structs& structs = *DocInternals::store(doc).Get(c.client);
    for (size_t i = StructStore::FindIndex(structs, before); i < structs.size(); ++i) {
      Item* item = structs[i];
      if (!item->is_gc() && !item->deleted() && FormatOf(item) != nullptr) add_full(item->parent());
    }
  }
  Transact(doc, [&](Transaction& t) {
    IterateDeletedStructs(transaction, transaction.delete_set, [&](Item* item) {
      if (item->is_gc() || item->parent() == nullptr || !item->parent()->has_formatting) return;
      Type* parent = item->parent();
      if (std::find(need_full_cleanup.begin(), need_full_cleanup.end(), parent) !=
          need_full_cleanup.end())
        return;
      if (FormatOf(item) != nullptr) {
        add_full(parent);
      } else {
        // Without format changes, a contextless cleanup of the gap is enough.
        CleanupContextlessFormattingGap(t, item);
      }
    });
    for (Type* text : need_full_cleanup) CleanupTextFormatting(doc, text);
  });
}

std::vector<DeltaOp> TextToDelta(Doc& doc, Type* text, const Snapshot* snapshot,
                                 const Snapshot* prev_snapshot) {
  std::vector<DeltaOp> ops;
  JsMap current;
  std::string str;
  auto attributes_object = [&]() {
    JsObject o;
    for (const auto& [k, v] : current.entries()) o.Set(k, v);
    return o;
  };
  auto pack = [&] {
    if (str.empty()) return;
    DeltaOp op;
    op.kind = DeltaOp::Kind::kInsert;
    OutValue v;
    v.any = lib0::Any(std::move(str));
    op.insert.push_back(std::move(v));
    if (current.size() > 0) {
      op.has_attributes = true;
      op.attributes = attributes_object().ToAny().as_object();
    }
    ops.push_back(std::move(op));
    str.clear();
  };
  auto compute = [&] {
    for (const Item* n = text->start; n != nullptr; n = n->right) {
      const bool visible = IsVisible(n, snapshot);
      if (!visible && !(prev_snapshot != nullptr && IsVisible(n, prev_snapshot))) continue;
      switch (n->content.ref()) {
        case ContentRef::kString: {
          // The default computeYChange makes objects without `user`, so each item starts anew.
          if (snapshot != nullptr && !visible) {
            pack();
            current.Set("ychange", std::make_shared<const lib0::Any>(
                                       lib0::Any::Object{{"type", lib0::Any("removed")}}));
          } else if (prev_snapshot != nullptr && !IsVisible(n, prev_snapshot)) {
            pack();
            current.Set("ychange", std::make_shared<const lib0::Any>(
                                       lib0::Any::Object{{"type", lib0::Any("added")}}));
          } else if (current.Has("ychange")) {
            pack();
            current.Delete("ychange");
          }
          str += n->content.string();
          break;
        }
        case ContentRef::kType:
        case ContentRef::kEmbed: {
          pack();
          DeltaOp op;
          op.kind = DeltaOp::Kind::kInsert;
          AppendContentValues(n->content, op.insert);
          if (current.size() > 0) {
            op.has_attributes = true;
            op.attributes = attributes_object().ToAny().as_object();
          }
          ops.push_back(std::move(op));
          break;
        }
        case ContentRef::kFormat:
          if (visible) {
            pack();
            UpdateCurrentAttributes(current, *FormatOf(n));
          }
          break;
        default: break;
      }
    }
    pack();
  };
  if (snapshot != nullptr || prev_snapshot != nullptr) {
    // Snapshot boundaries split items; the transaction merges them back afterwards.
    Transact(doc, [&](Transaction& t) {
      if (snapshot != nullptr) SplitSnapshotAffectedStructs(t, *snapshot);
      if (prev_snapshot != nullptr) SplitSnapshotAffectedStructs(t, *prev_snapshot);
      compute();
    });
  } else {
    compute();
  }
  return ops;
}

std::vector<DeltaOp> ComputeTextEventDelta(Event& event) {
  std::vector<DeltaOp> delta;
  Type* target = event.target();
  Transact(event.transaction().doc(), [&](Transaction& t) {
    JsMap current;
    JsMap old_attributes;
    enum class Action { kNone, kInsert, kRetain, kDelete } action = Action::kNone;
    JsObject attributes;                   // attributes added or removed by a retain
    std::optional<OutValue> insert_value;  // an embed or type being inserted
    std::string insert;
    uint64_t retain = 0;
    uint64_t delete_len = 0;
    auto add_op = [&] {
      if (action == Action::kNone) return;
      std::optional<DeltaOp> op;
      switch (action) {
        case Action::kDelete:
          if (delete_len > 0) {
            op.emplace();
            op->kind = DeltaOp::Kind::kDelete;
            op->len = delete_len;
          }
          delete_len = 0;
          break;
        case Action::kInsert: {
          bool emit = false;
          OutValue v;
          if (insert_value) {
            // typeof insert === 'object' || insert.length > 0
            const OutValue& iv = *insert_value;
            emit = iv.kind != OutValue::Kind::kAny || IsObject(iv.any) || iv.any.is_null() ||
                   (iv.any.kind() == lib0::Any::Kind::kString && !iv.any.as_string().empty());
            v = iv;
          } else {
            emit = !insert.empty();
            v.any = lib0::Any(insert);
          }
          if (emit) {
            op.emplace();
            op->kind = DeltaOp::Kind::kInsert;
            op->insert.push_back(std::move(v));
            if (current.size() > 0) {
              op->has_attributes = true;
              for (const auto& [k, val] : current.entries()) {
                if (!IsNull(val)) lib0::JsObjectSet(op->attributes, k, *val);
              }
            }
          }
          insert.clear();
          insert_value.reset();
          break;
        }
        case Action::kRetain:
          if (retain > 0) {
            op.emplace();
            op->kind = DeltaOp::Kind::kRetain;
            op->len = retain;
            if (!attributes.empty()) {
              op->has_attributes = true;
              op->attributes = attributes.ToAny().as_object();
            }
          }
          retain = 0;
          break;
        case Action::kNone: break;
      }
      if (op) delta.push_back(std::move(*op));
      action = Action::kNone;
    };
    for (Item* item = target->start; item != nullptr; item = item->right) {
      switch (item->content.ref()) {
        case ContentRef::kType:
        case ContentRef::kEmbed:
          if (event.Adds(item)) {
            if (!event.Deletes(item)) {
              add_op();
              action = Action::kInsert;
              std::vector<OutValue> values;
              AppendContentValues(item->content, values);
              insert_value = values.empty() ? OutValue{} : std::move(values[0]);
              add_op();
            }
          } else if (event.Deletes(item)) {
            if (action != Action::kDelete) {
              add_op();
              action = Action::kDelete;
            }
            delete_len += 1;
          } else if (!item->deleted()) {
            if (action != Action::kRetain) {
              add_op();
              action = Action::kRetain;
            }
            retain += 1;
          }
          break;
        case ContentRef::kString:
          if (event.Adds(item)) {
            if (!event.Deletes(item)) {
              if (action != Action::kInsert) {
                add_op();
                action = Action::kInsert;
              }
              insert += item->content.string();
            }
          } else if (event.Deletes(item)) {
            if (action != Action::kDelete) {
              add_op();
              action = Action::kDelete;
            }
            delete_len += item->length();
          } else if (!item->deleted()) {
            if (action != Action::kRetain) {
              add_op();
              action = Action::kRetain;
            }
            retain += item->length();
          }
          break;
        case ContentRef::kFormat: {
          const FormatContent& f = *FormatOf(item);
          if (event.Adds(item)) {
            if (!event.Deletes(item)) {
              const SharedAny cur = current.GetOrNull(f.key);
              if (!EqualAttrs(cur, f.value)) {
                if (action == Action::kRetain) add_op();
                if (EqualAttrs(f.value, old_attributes.GetOrNull(f.key))) {
                  attributes.Delete(f.key);
                } else {
                  attributes.Set(f.key, f.value);
                }
              } else if (!f.value->is_null()) {
                DeleteStruct(t, item);
              }
            }
          } else if (event.Deletes(item)) {
            old_attributes.Set(f.key, f.value);
            const SharedAny cur = current.GetOrNull(f.key);
            if (!EqualAttrs(cur, f.value)) {
              if (action == Action::kRetain) add_op();
              attributes.Set(f.key, cur);
            }
          } else if (!item->deleted()) {
            old_attributes.Set(f.key, f.value);
            const SharedAny attr = attributes.Value(f.key);
            if (!IsUndefined(attr)) {
              if (!EqualAttrs(attr, f.value)) {
                if (action == Action::kRetain) add_op();
                if (f.value->is_null()) {
                  attributes.Delete(f.key);
                } else {
                  attributes.Set(f.key, f.value);
                }
              } else if (!IsNull(attr)) {
                DeleteStruct(t, item);  // redundant: the contextless cleanup would drop it too
              }
            }
          }
          if (!item->deleted()) {
            if (action == Action::kInsert) add_op();
            UpdateCurrentAttributes(current, f);
          }
          break;
        }
        default: break;
      }
    }
    add_op();
    while (!delta.empty() && delta.back().kind == DeltaOp::Kind::kRetain &&
           !delta.back().has_attributes) {
      delta.pop_back();
    }
  });
  return delta;
}

}  // namespace tandem::crdt

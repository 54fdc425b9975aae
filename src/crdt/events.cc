#include "crdt/events.h"

#include <algorithm>

#include "crdt/doc_internal.h"
#include "crdt/transaction.h"
#include "crdt/types/text.h"
#include "lib0/json.h"

namespace tandem::crdt {

Event::Event(Type* target, Transaction& transaction, const std::vector<const std::string*>& subs)
    : target_(target), current_target_(target), transaction_(transaction), subs_(subs) {
  for (const std::string* sub : subs) {
    if (sub == nullptr) {
      child_list_changed_ = true;
    } else {
      keys_changed_.push_back(*sub);
    }
  }
}

void Event::set_current_target(Type* type) {
  current_target_ = type;
  path_.reset();
}

const std::vector<PathElement>& Event::path() {
  if (!path_) path_ = PathTo(current_target_, target_);
  return *path_;
}

bool Event::Adds(const Item* item) const {
  return item->clock() >= transaction_.BeforeState(item->client());
}

bool Event::Deletes(const Item* item) const {
  return transaction_.delete_set.IsDeleted(item->id());
}

namespace {
std::optional<OutValue> LastValueOrUndefined(const Content& content) {
  OutValue v = LastContentValue(content);
  if (v.kind == OutValue::Kind::kAny && v.any.is_undefined()) return std::nullopt;
  return v;
}
}  // namespace

// YEvent.keys
const std::vector<KeyChange>& Event::keys() {
  if (keys_) return *keys_;
  keys_.emplace();
  for (const std::string* key : subs_) {
    if (key == nullptr) continue;
    const Item* item = target_->MapGet(key);
    if (item == nullptr) continue;
    KeyChange change;
    change.key = *key;
    if (Adds(item)) {
      const Item* prev = item->left;
      while (prev != nullptr && Adds(prev)) prev = prev->left;
      if (Deletes(item)) {
        if (prev == nullptr || !Deletes(prev)) continue;
        change.action = KeyChange::Action::kDelete;
        change.old_value = LastValueOrUndefined(prev->content);
      } else if (prev != nullptr && Deletes(prev)) {
        change.action = KeyChange::Action::kUpdate;
        change.old_value = LastValueOrUndefined(prev->content);
      } else {
        change.action = KeyChange::Action::kAdd;
      }
    } else {
      if (!Deletes(item)) continue;
      change.action = KeyChange::Action::kDelete;
      change.old_value = LastValueOrUndefined(item->content);
    }
    keys_->push_back(std::move(change));
  }
  return *keys_;
}

const std::vector<DeltaOp>& Event::delta() {
  if (delta_) return *delta_;
  if (target_->ref == TypeRef::kText || target_->ref == TypeRef::kXmlText) {
    delta_ = ComputeTextEventDelta(*this);
  } else {
    ComputeListDelta();
  }
  return *delta_;
}

// YEvent.changes.delta
void Event::ComputeListDelta() {
  delta_.emplace();
  if (!child_list_changed_) return;
  std::vector<DeltaOp>& delta = *delta_;
  std::optional<DeltaOp> last;
  auto pack = [&] {
    if (last) delta.push_back(std::move(*last));
    last.reset();
  };
  for (const Item* item = target_->start; item != nullptr; item = item->right) {
    if (item->deleted()) {
      if (Deletes(item) && !Adds(item)) {
        if (!last || last->kind != DeltaOp::Kind::kDelete) {
          pack();
          last.emplace();
          last->kind = DeltaOp::Kind::kDelete;
        }
        last->len += item->length();
      }
    } else if (Adds(item)) {
      if (!last || last->kind != DeltaOp::Kind::kInsert) {
        pack();
        last.emplace();
        last->kind = DeltaOp::Kind::kInsert;
      }
      AppendContentValues(item->content, last->insert);
    } else {
      if (!last || last->kind != DeltaOp::Kind::kRetain) {
        pack();
        last.emplace();
        last->kind = DeltaOp::Kind::kRetain;
      }
      last->len += item->length();
    }
  }
  if (last && last->kind != DeltaOp::Kind::kRetain) pack();
}

std::vector<PathElement> PathTo(const Type* parent, const Type* child) {
  std::vector<PathElement> path;
  while (child->item != nullptr && child != parent) {
    const Item* item = child->item;
    if (item->parent_sub() != nullptr) {
      path.emplace_back(*item->parent_sub());
    } else {
      uint64_t i = 0;
      for (const Item* c = item->parent()->start; c != item && c != nullptr; c = c->right) {
        if (!c->deleted() && c->countable()) i += c->length();
      }
      path.emplace_back(i);
    }
    child = item->parent();
  }
  std::reverse(path.begin(), path.end());
  return path;
}

uint64_t Observe(Doc& doc, Type* type, EventHandler handler) {
  if (!type->observers) type->observers = std::make_unique<TypeObservers>();
  const uint64_t id = DocInternals::NextObserverId(doc);
  type->observers->shallow.emplace_back(id, std::move(handler));
  return id;
}

uint64_t ObserveDeep(Doc& doc, Type* type, DeepEventHandler handler) {
  if (!type->observers) type->observers = std::make_unique<TypeObservers>();
  DocInternals::set_has_deep_observers(doc);
  const uint64_t id = DocInternals::NextObserverId(doc);
  type->observers->deep.emplace_back(id, std::move(handler));
  return id;
}

bool Unobserve(Type* type, uint64_t id) {
  if (!type->observers) return false;
  auto& s = type->observers->shallow;
  auto& d = type->observers->deep;
  const size_t before = s.size() + d.size();
  std::erase_if(s, [id](const auto& h) { return h.first == id; });
  std::erase_if(d, [id](const auto& h) { return h.first == id; });
  return s.size() + d.size() != before;
}

namespace {

bool HasDeepObserverUpTo(const Doc& doc, const Type* type) {
  // Without a deep observer anywhere, the walk to the root (once per changed type: quadratic in
  // the nesting of a hostile update) can only answer no.
  if (!DocInternals::has_deep_observers(doc)) return false;
  for (;;) {
    if (type->observers && !type->observers->deep.empty()) return true;
    if (type->item == nullptr || type->item->parent() == nullptr) return false;
    type = type->item->parent();
  }
}

bool Alive(const Type* type) {
  return type->item == nullptr || !type->item->deleted();
}

void AddParentEvent(Transaction& t, Type* type, Event* event) {
  for (auto& [p, events] : t.changed_parent_types) {
    if (p == type) {
      events.push_back(event);
      return;
    }
  }
  t.changed_parent_types.emplace_back(type, std::vector<Event*>{event});
}

// AbstractType._callObserver and its overrides.
void CallTypeObserver(Transaction& t, Type* type, const std::vector<const std::string*>& subs) {
  const TypeRef ref = type->ref;
  const bool text = ref == TypeRef::kText || ref == TypeRef::kXmlText;
  if ((text || ref == TypeRef::kArray) && !t.local && type->markers_enabled) {
    type->markers.clear();
  }
  if (ref == TypeRef::kUndefined) return;  // a plain AbstractType makes no event
  const bool shallow = type->observers && !type->observers->shallow.empty();
  if (shallow || HasDeepObserverUpTo(t.doc(), type)) {
    t.events.push_back(std::make_unique<Event>(type, t, subs));
    Event* event = t.events.back().get();
    for (Type* p = type;;) {
      AddParentEvent(t, p, event);
      if (p->item == nullptr || p->item->parent() == nullptr) break;
      p = p->item->parent();
    }
    if (shallow) {
      const auto handlers = type->observers->shallow;  // observers may unsubscribe
      for (const auto& [id, handler] : handlers) handler(*event, t);
    }
  }
  if (text && !t.local && type->has_formatting) t.need_formatting_cleanup = true;
}

}  // namespace

void CallObservers(Transaction& t) {
  if (t.changed.empty()) return;
  // Observers cannot change this transaction (their edits start new ones), so `changed` holds.
  const ChangedTypes& changed = t.changed;
  for (size_t i = 0; i < changed.size(); ++i) {
    if (changed.type(i) != nullptr && Alive(changed.type(i)))
      CallTypeObserver(t, changed.type(i), changed.subs(i));
  }
  for (size_t i = 0; i < t.changed_parent_types.size(); ++i) {
    Type* type = t.changed_parent_types[i].first;
    if (!type->observers || type->observers->deep.empty() || !Alive(type)) continue;
    std::vector<Event*> events;
    for (Event* e : t.changed_parent_types[i].second) {
      if (Alive(e->target())) events.push_back(e);
    }
    for (Event* e : events) e->set_current_target(type);
    std::stable_sort(events.begin(), events.end(),
                     [](Event* a, Event* b) { return a->path().size() < b->path().size(); });
    const auto handlers = type->observers->deep;
    for (const auto& [id, handler] : handlers) handler(events, t);
  }
}

lib0::Any DeltaToAny(const std::vector<DeltaOp>& delta, bool text, const ValueConverter& convert) {
  auto conv = [&convert](const OutValue& v) { return convert ? convert(v) : v.ToAny(); };
  lib0::Any::Array out;
  for (const DeltaOp& op : delta) {
    lib0::Any::Object o;
    switch (op.kind) {
      case DeltaOp::Kind::kInsert:
        if (text) {
          lib0::JsObjectSet(o, "insert", op.insert.empty() ? lib0::Any() : conv(op.insert[0]));
        } else {
          lib0::Any::Array values;
          for (const OutValue& v : op.insert) values.push_back(conv(v));
          lib0::JsObjectSet(o, "insert", lib0::Any(std::move(values)));
        }
        break;
      case DeltaOp::Kind::kDelete:
        lib0::JsObjectSet(o, "delete", lib0::Any(static_cast<double>(op.len)));
        break;
      case DeltaOp::Kind::kRetain:
        lib0::JsObjectSet(o, "retain", lib0::Any(static_cast<double>(op.len)));
        break;
    }
    if (op.has_attributes) lib0::JsObjectSet(o, "attributes", lib0::Any(op.attributes));
    out.push_back(lib0::Any(std::move(o)));
  }
  return lib0::Any(std::move(out));
}

lib0::Any KeysToAny(const std::vector<KeyChange>& keys, const ValueConverter& convert) {
  lib0::Any::Object out;
  for (const KeyChange& k : keys) {
    lib0::Any::Object o;
    const char* action = k.action == KeyChange::Action::kAdd      ? "add"
                         : k.action == KeyChange::Action::kUpdate ? "update"
                                                                  : "delete";
    lib0::JsObjectSet(o, "action", lib0::Any(action));
    lib0::JsObjectSet(
        o, "oldValue",
        !k.old_value ? lib0::Any() : (convert ? convert(*k.old_value) : k.old_value->ToAny()));
    lib0::JsObjectSet(out, k.key, lib0::Any(std::move(o)));
  }
  return lib0::Any(std::move(out));
}

}  // namespace tandem::crdt

#pragma once
// Change events of shared types (yjs `src/utils/YEvent.js`, YTextEvent, YMapEvent, YXmlEvent)
// and the observer calls a transaction makes when it ends (`cleanupTransactions`).
//
// An event is handed to observers while its transaction is being cleaned up, before deleted
// content is collected; its delta, keys and path are computed on first access, as in yjs, and
// must not be asked for after the observer returns. Computing a text delta can delete redundant
// format items, in a new transaction that ends after the current one (YTextEvent.delta).

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "crdt/item.h"
#include "crdt/value.h"
#include "lib0/any.h"

namespace tandem::crdt {

class Doc;
class Transaction;
class Event;

// One operation of a change delta. For lists, an insert carries the inserted values; for text,
// one value: a string (as an Any), an embed, or a nested type.
struct DeltaOp {
  enum class Kind : uint8_t { kInsert, kDelete, kRetain };
  Kind kind = Kind::kRetain;
  uint64_t len = 0;  // delete / retain length
  std::vector<OutValue> insert;
  bool has_attributes = false;  // text only: attributes present (possibly empty)
  lib0::Any::Object attributes;
};

struct KeyChange {
  enum class Action : uint8_t { kAdd, kUpdate, kDelete };
  std::string key;
  Action action = Action::kAdd;
  std::optional<OutValue> old_value;  // nullopt: undefined
};

// A path element: a map key or a list index.
using PathElement = std::variant<std::string, uint64_t>;

class Event {
 public:
  Event(Type* target, Transaction& transaction, const std::vector<const std::string*>& subs);

  Type* target() const { return target_; }
  // The type whose observer is being called (the target, or an ancestor for deep observers).
  Type* current_target() const { return current_target_; }
  Transaction& transaction() const { return transaction_; }
  bool child_list_changed() const { return child_list_changed_; }
  // Keys (map entries, XML attributes, text attributes) the transaction touched.
  const std::vector<std::string>& keys_changed() const { return keys_changed_; }

  // Path from the current target down to the target.
  const std::vector<PathElement>& path();
  // The change as a delta: text deltas with attributes for Text and XmlText, list deltas for
  // Array, XmlFragment and XmlElement children.
  const std::vector<DeltaOp>& delta();
  // Map key changes with their previous values.
  const std::vector<KeyChange>& keys();

  // The struct was added / deleted by this event's transaction.
  bool Adds(const Item* item) const;
  bool Deletes(const Item* item) const;

  // For the cleanup: deep observers see the event with their own type as current target.
  void set_current_target(Type* type);

 private:
  void ComputeListDelta();

  Type* target_;
  Type* current_target_;
  Transaction& transaction_;
  bool child_list_changed_ = false;
  std::vector<std::string> keys_changed_;
  std::vector<const std::string*> subs_;
  std::optional<std::vector<PathElement>> path_;
  std::optional<std::vector<DeltaOp>> delta_;
  std::optional<std::vector<KeyChange>> keys_;
};

using EventHandler = std::function<void(Event& event, Transaction& transaction)>;
using DeepEventHandler = std::function<void(std::vector<Event*>& events, Transaction& transaction)>;

// The observers of one type (its `_eH` and `_dEH`).
struct TypeObservers {
  std::vector<std::pair<uint64_t, EventHandler>> shallow;
  std::vector<std::pair<uint64_t, DeepEventHandler>> deep;
};

// type.observe(f) / observeDeep(f); the id unsubscribes.
uint64_t Observe(Doc& doc, Type* type, EventHandler handler);
uint64_t ObserveDeep(Doc& doc, Type* type, DeepEventHandler handler);
// Removes an observer by id; false if there was none.
bool Unobserve(Type* type, uint64_t id);

// The observer phase of a transaction's cleanup: each changed type's event, then the deep
// observers with the events of their subtree, top-level first.
void CallObservers(Transaction& t);

// getPathTo(parent, child)
std::vector<PathElement> PathTo(const Type* parent, const Type* child);

// The delta and keys as yjs prints them (event.delta, event.keys as an object): text inserts
// are strings or embeds, list inserts arrays; values through `convert` (default: ToAny).
using ValueConverter = std::function<lib0::Any(const OutValue&)>;
lib0::Any DeltaToAny(const std::vector<DeltaOp>& delta, bool text,
                     const ValueConverter& convert = {});
lib0::Any KeysToAny(const std::vector<KeyChange>& keys, const ValueConverter& convert = {});

}  // namespace tandem::crdt

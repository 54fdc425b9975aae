#pragma once
// The engine's access to a Doc's internals (the struct store, pending structs, transactions,
// key slots). Only files of src/crdt include this: everything else uses crdt/doc.h, the
// document's contract. Each function forwards to the private member of the same name.

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crdt/doc.h"
#include "crdt/transaction.h"

namespace tandem::crdt {

class DocInternals {
 public:
  static StructStore& store(Doc& d) { return d.store(); }
  static const StructStore& store(const Doc& d) { return d.store(); }
  static const std::string* InternKey(Doc& d, std::string_view key) { return d.InternKey(key); }
  static const std::string* FindKey(const Doc& d, std::string_view key) { return d.FindKey(key); }
  static KeySlot* KeySlotFor(Doc& d, Type* type, const std::string* key) {
    return d.KeySlotFor(type, key);
  }
  static KeySlot* NewProvisionalKeySlot(Doc& d, const std::string* key) {
    return d.NewProvisionalKeySlot(key);
  }
  static size_t provisional_key_slots(const Doc& d) { return d.provisional_key_slots(); }
  static void DropProvisionalKeySlots(Doc& d, size_t keep) { d.DropProvisionalKeySlots(keep); }
  static std::optional<Doc::PendingStructs>& pending_structs(Doc& d) { return d.pending_structs(); }
  static std::optional<std::vector<uint8_t>>& pending_ds(Doc& d) { return d.pending_ds(); }
  static Transaction* current_transaction(Doc& d) { return d.current_transaction(); }
  static void set_current_transaction(Doc& d, Transaction* t) { d.set_current_transaction(t); }
  static std::vector<std::unique_ptr<Transaction>>& transaction_cleanups(Doc& d) {
    return d.transaction_cleanups();
  }
  static std::unique_ptr<Transaction> AcquireTransaction(Doc& d) { return d.AcquireTransaction(); }
  static void ReleaseTransaction(Doc& d, std::unique_ptr<Transaction> t) {
    d.ReleaseTransaction(std::move(t));
  }
  static void RegenerateClientId(Doc& d) { d.RegenerateClientId(); }
  static void EmitUpdate(Doc& d, Transaction& t) { d.EmitUpdate(t); }
  static void RetireType(Doc& d, std::unique_ptr<Type> type) { d.RetireType(std::move(type)); }
  static uint64_t NextObserverId(Doc& d) { return d.NextObserverId(); }
  static bool has_deep_observers(const Doc& d) { return d.has_deep_observers(); }
  static void set_has_deep_observers(Doc& d) { d.set_has_deep_observers(); }
  static void CountPendingAddition(Doc& d) { d.CountPendingAddition(); }
};

}  // namespace tandem::crdt

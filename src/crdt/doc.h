#pragma once
// A Yjs document: the struct store, root types, pending structs and deletes, and the update
// functions of yjs `src/utils/encoding.js` (applyUpdate, encodeStateAsUpdate, ...).
//
// This header is the document's contract; what the engine itself needs (the struct store,
// pending structs, transactions) is private and reached through crdt/doc_internal.h.
//
// Thread-safety: none; a Doc belongs to one room strand. Applying an update is all-or-nothing:
// the update is fully decoded and validated before the document is touched, so a rejected update
// leaves the document as it was.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "base/function_ref.h"
#include "base/result.h"
#include "crdt/delete_set.h"
#include "crdt/item.h"
#include "crdt/state_vector.h"
#include "crdt/struct_store.h"
#include "crdt/update_codec.h"

namespace tandem::crdt {

struct DocOptions {
  bool gc = true;
  // 0 picks a random 32-bit id, as yjs does.
  ClientId client_id = 0;
  // After a remote transaction that touched formatted text, delete redundant format items in a
  // new local transaction (yjs cleanupYTextAfterTransaction). A replica that only relays and
  // stores updates (the server's rooms, the store, `tandem doc`) turns this off so that it never
  // authors changes of its own.
  bool clean_up_formatting = true;
};

// Limits on updates from untrusted peers (0: none). A refused update changes nothing; its
// Status has code kResourceExhausted and a message starting with "limit:". The server applies
// clients' updates with these (docs/PROTOCOL.md, "Limits"); trusted loads use none.
struct UpdateLimits {
  // Nested shared types: a type inside a root is at level 1, a type inside that at level 2.
  size_t max_nesting_depth = 0;
  // Client groups in one update.
  size_t max_clients = 0;
  // Bytes of structs and deletes waiting for missing structs (pending), after this update.
  size_t max_pending_bytes = 0;
};

class Transaction;
class TextRef;
class ArrayRef;
class MapRef;
class XmlFragmentRef;
class XmlElementRef;

class Doc {
 public:
  explicit Doc(DocOptions options = {});
  Doc(const Doc&) = delete;
  Doc& operator=(const Doc&) = delete;
  ~Doc();

  ClientId client_id() const { return client_id_; }
  // Sets the id local edits are made with (yjs `doc.clientID = ...`).
  void set_client_id(ClientId id) { client_id_ = id; }
  bool gc() const { return gc_; }
  bool clean_up_formatting() const { return clean_up_formatting_; }

  // doc.transact(fn, origin): every edit `fn` makes through the shared type handles is one
  // transaction, one update event and one round of observer calls. Nested calls join the
  // outer transaction. `origin` is passed through to observers (Transaction::origin).
  void Transact(FunctionRef<void(Transaction&)> fn, const void* origin = nullptr);

  // Root types (doc.getText(name), ...). Include "crdt/types/shared_types.h" to use them. A
  // root's kind is fixed by its first typed access; a later access as another kind still
  // returns a handle on the same type, as yjs does for a root first seen as a plain type.
  TextRef GetText(std::string_view name);
  ArrayRef GetArray(std::string_view name);
  MapRef GetMap(std::string_view name);
  XmlFragmentRef GetXmlFragment(std::string_view name);
  XmlElementRef GetXmlElement(std::string_view name);

  // applyUpdate / applyUpdateV2. Structs whose dependencies are missing are kept pending and
  // integrated once they arrive.
  Status ApplyUpdate(std::span<const uint8_t> update, UpdateFormat format = UpdateFormat::kV1);
  // The same, refusing an update that passes `limits` (nothing of it is applied then).
  Status ApplyUpdate(std::span<const uint8_t> update, UpdateFormat format,
                     const UpdateLimits& limits);
  Status ApplyUpdateV2(std::span<const uint8_t> update) {
    return ApplyUpdate(update, UpdateFormat::kV2);
  }

  // encodeStateAsUpdate(doc, targetStateVector): everything a peer with `target` lacks, pending
  // structs and deletes included.
  std::vector<uint8_t> EncodeStateAsUpdate(const StateVector& target = {},
                                           UpdateFormat format = UpdateFormat::kV1) const;
  std::vector<uint8_t> EncodeStateAsUpdateV2(const StateVector& target = {}) const {
    return EncodeStateAsUpdate(target, UpdateFormat::kV2);
  }
  StateVector GetStateVector() const { return store_.GetStateVector(); }
  std::vector<uint8_t> EncodeStateVector() const {
    return crdt::EncodeStateVector(GetStateVector());
  }

  // Root types in the order they were first seen. A root's kind is whatever the first typed
  // access said (GetOrCreateRoot with a ref) or kUndefined.
  const std::vector<std::pair<const std::string*, Type*>>& roots() const { return root_order_; }
  Type* FindRoot(std::string_view name) const;
  Type* GetOrCreateRoot(std::string_view name, TypeRef ref = TypeRef::kUndefined);

  // Called after every transaction that changed the document with the update it produced
  // (doc.on('update') / doc.on('updateV2')). One observer per format; empty function removes.
  using UpdateObserver =
      std::function<void(const std::vector<uint8_t>& update, const Transaction&)>;
  void OnUpdate(UpdateObserver observer, UpdateFormat format = UpdateFormat::kV1);

  bool has_pending() const { return pending_structs_.has_value() || pending_ds_.has_value(); }
  // Bytes held as pending structs and deletes.
  size_t pending_bytes() const {
    return (pending_structs_ ? pending_structs_->bytes : 0) +
           (pending_ds_ ? pending_ds_->size() : 0);
  }
  // Grows whenever an update adds structs or deletes to the pending set, so a caller can tell
  // whether the update it just applied left something waiting.
  uint64_t pending_additions() const { return pending_additions_; }
  // The state vector of what pending structs wait for (client -> first missing clock).
  StateVector PendingMissing() const {
    return pending_structs_ ? pending_structs_->missing : StateVector{};
  }

  // Structs waiting for missing ones (yjs store.pendingStructs), engine state. yjs merges each
  // addition into one update at once; here the v2 updates are kept as they arrived and merged
  // when read, so an update that adds to a large pending set costs its own size, not the set's.
  struct PendingStructs {
    StateVector missing;
    std::vector<std::vector<uint8_t>> parts;  // v2 updates
    size_t bytes = 0;
    // The parts merged into one v2 update (they are replaced by it).
    const std::vector<uint8_t>& Merged();
  };

 private:
  // The engine's access (crdt/doc_internal.h): transaction.cc, item.cc, the types and events.
  friend class DocInternals;

  // Interns a map key; the pointer is stable for the document's lifetime.
  const std::string* InternKey(std::string_view key);
  // The interned key, or null if no map in this document ever used it.
  const std::string* FindKey(std::string_view key) const;

  // The slot of `key` in map `type`, added to the map's keys if new (see KeySlot). Slots live
  // as long as the document.
  KeySlot* KeySlotFor(Type* type, const std::string* key);
  // A slot for a decoded map entry whose map is not known yet. It lasts until the apply that
  // decoded the entry ends: by then the entry has integrated (and taken its map's slot) or has
  // gone back to bytes as pending.
  KeySlot* NewProvisionalKeySlot(const std::string* key);
  size_t provisional_key_slots() const { return provisional_key_slots_.size(); }
  void DropProvisionalKeySlots(size_t keep) { provisional_key_slots_.resize(keep); }
  StructStore& store() { return store_; }
  const StructStore& store() const { return store_; }

  std::optional<PendingStructs>& pending_structs() { return pending_structs_; }
  std::optional<std::vector<uint8_t>>& pending_ds() { return pending_ds_; }
  Transaction* current_transaction() { return transaction_; }
  void set_current_transaction(Transaction* t) { transaction_ = t; }
  // Transactions waiting for (or in) cleanup: the outermost one and those observers start.
  std::vector<std::unique_ptr<Transaction>>& transaction_cleanups() { return cleanups_; }
  // Transaction objects are reused: their buffers keep their capacity between transactions.
  std::unique_ptr<Transaction> AcquireTransaction();
  void ReleaseTransaction(std::unique_ptr<Transaction> t);
  void RegenerateClientId();
  void EmitUpdate(Transaction& t);
  // Keeps a collected nested type alive (empty and detached) so handles to it stay valid.
  void RetireType(std::unique_ptr<Type> type) { retired_types_.push_back(std::move(type)); }
  uint64_t NextObserverId() { return ++last_observer_id_; }
  // Whether any type of this document was ever observed deeply: without one, a transaction
  // need not walk from each changed type up to its root looking for deep observers.
  bool has_deep_observers() const { return has_deep_observers_; }
  void set_has_deep_observers() { has_deep_observers_ = true; }
  void CountPendingAddition() { ++pending_additions_; }

  StructStore store_;
  ClientId client_id_;
  bool gc_;
  bool clean_up_formatting_;
  std::unordered_set<std::string> keys_;
  std::vector<std::unique_ptr<KeySlot>> key_slots_;
  std::vector<std::unique_ptr<KeySlot>> provisional_key_slots_;
  std::vector<std::pair<const std::string*, Type*>> root_order_;
  std::vector<std::unique_ptr<Type>> root_types_;
  mutable std::optional<PendingStructs> pending_structs_;  // merged lazily, also by encoders
  std::optional<std::vector<uint8_t>> pending_ds_;
  // Size of the last full-state v1 encoding: room to reserve for the next (a hint, not state).
  mutable size_t last_full_encode_bytes_ = 0;
  Transaction* transaction_ = nullptr;
  std::vector<std::unique_ptr<Transaction>> cleanups_;
  std::vector<std::unique_ptr<Type>> retired_types_;
  uint64_t last_observer_id_ = 0;
  uint64_t pending_additions_ = 0;
  bool has_deep_observers_ = false;
  std::unique_ptr<UpdateEncoderV1> update_encoder_v1_;  // reused by every update event
  std::unique_ptr<UpdateEncoderV2> update_encoder_v2_;
  UpdateObserver on_update_v1_;
  UpdateObserver on_update_v2_;
};

// writeStructsFromTransaction + the transaction's delete set (writeUpdateMessageFromTransaction).
// Returns false when the transaction changed nothing.
bool WriteUpdateFromTransaction(const Transaction& t, UpdateEncoder& encoder);
// Item.write / GC.write / Skip.write: one struct, skipping its first `offset` clock units.
void WriteStruct(UpdateEncoder& encoder, const Item& item, uint64_t offset);
// createDeleteSetFromStructStore(store) written as writeDeleteSet does.
void WriteDeleteSetOfStore(UpdateEncoder& encoder, const StructStore& store);
// writeClientsStructs: the structs of `store` a peer with `sv` lacks.
void WriteClientsStructs(UpdateEncoder& encoder, const StructStore& store, const StateVector& sv);

}  // namespace tandem::crdt

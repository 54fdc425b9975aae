#pragma once
// Transactions and the integration machinery of yjs (`src/utils/Transaction.js`,
// `src/structs/Item.js`, `src/utils/StructStore.js`): splitting, YATA integration, deletion,
// garbage collection and the merge of adjacent structs after each transaction.
// Internal to the engine; users go through Doc and the shared type handles.

#include <functional>
#include <memory>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "crdt/delete_set.h"
#include "crdt/doc.h"
#include "crdt/item.h"
#include "crdt/state_vector.h"
#include "crdt/struct_store.h"

namespace tandem::crdt {

class Event;

// Types changed in a transaction with the map keys changed (nullptr: the list part), in the
// order they were first changed (yjs `transaction.changed`, a Map of Sets).
class ChangedTypes {
 public:
  void Add(Type* type, const std::string* sub);
  void Erase(Type* type);
  bool empty() const { return entries_.empty(); }
  const std::vector<std::pair<Type*, std::vector<const std::string*>>>& entries() const {
    return entries_;
  }
  const std::vector<const std::string*>* Find(const Type* type) const;

 private:
  std::vector<std::pair<Type*, std::vector<const std::string*>>> entries_;
};

class Transaction {
 public:
  Transaction(Doc& doc, bool local, const void* origin = nullptr);
  ~Transaction();

  Doc& doc;
  StateVector before_state;
  StateVector after_state;
  DeleteSet delete_set;
  std::vector<ID> merge_structs;  // IDs, not pointers: the structs may be merged away meanwhile
  bool local;
  const void* origin;
  ChangedTypes changed;
  // Events by every type they bubble up to, for deep observers (changedParentTypes).
  std::vector<std::pair<Type*, std::vector<Event*>>> changed_parent_types;
  std::vector<std::unique_ptr<Event>> events;  // owned for the observer calls
  bool need_formatting_cleanup = false;
  // Snapshots whose boundaries were split in this transaction (splitSnapshotAffectedStructs).
  std::vector<const void*> split_snapshots;

  Clock BeforeState(ClientId client) const { return StateOf(before_state, client); }
};

// Runs `fn` in a transaction on `doc` (reusing the current one if nested) and cleans up after
// the outermost one: observers, GC, merging, update callbacks. Transactions started by
// observers are cleaned up after the current one, in order, as yjs does.
void Transact(Doc& doc, const std::function<void(Transaction&)>& fn, bool local = true,
              const void* origin = nullptr);

// splitItem: `left` keeps [0, diff); returns the new right part (not yet in the store's array).
Item* SplitItem(Transaction& t, Item* left, uint64_t diff);
// getItemCleanStart / getItemCleanEnd. Return nullptr if no struct holds `id`.
Item* GetItemCleanStart(Transaction& t, ID id);
Item* GetItemCleanEnd(Transaction& t, ID id);

// Item.getMissing: the client whose structs `item` waits for, or nullopt when all are present
// (and then resolves left/right/parent as yjs does).
std::optional<ClientId> GetMissing(Transaction& t, Item* item);
// Item.integrate / GC.integrate with a clock offset.
void Integrate(Transaction& t, Item* item, uint64_t offset);
// Item.delete
void DeleteStruct(Transaction& t, Item* item);
// Adds the struct to the store array; used for GC structs and items alike.
void AddStruct(Transaction& t, Item* item);

// A new local item with the next clock of the document's client, integrated between `left` and
// `right` (either may be null) in `parent` (new Item(...).integrate(transaction, 0)).
Item* InsertLocalItem(Transaction& t, Item* left, Item* right, Type* parent,
                      const std::string* parent_sub, Content content);

// Inserts a locally created type's initial content (AbstractType._integrate); defined with the
// shared types.
void IntegratePrelim(Transaction& t, Type* type);

// findIndexCleanStart: the index of the struct starting at `clock`, splitting one that spans it.
// REQUIRES: a struct holds `clock`.
size_t FindIndexCleanStart(Transaction& t, StructStore::Structs& structs, Clock clock);
// iterateStructs: calls f on every struct of [clock_start, clock_start + len), split to fit.
void IterateStructs(Transaction& t, StructStore::Structs& structs, Clock clock_start, uint64_t len,
                    const std::function<void(Item*)>& f);
// iterateDeletedStructs: IterateStructs over every range of `ds` the store holds.
void IterateDeletedStructs(Transaction& t, const DeleteSet& ds, const std::function<void(Item*)>& f);

// addChangedTypeToTransaction
void AddChangedType(Transaction& t, Type* type, const std::string* parent_sub);

}  // namespace tandem::crdt

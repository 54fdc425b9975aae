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

#include "base/function_ref.h"
#include "crdt/delete_set.h"
#include "crdt/doc.h"
#include "crdt/item.h"
#include "crdt/state_vector.h"
#include "crdt/struct_store.h"

namespace tandem::crdt {

class Event;

// Types changed in a transaction with the map keys changed (nullptr: the list part), in the
// order they were first changed (yjs `transaction.changed`, a Map of Sets). An erased type
// leaves a hole (type(i) is null) so that erasing stays O(1) when a deep delete erases
// thousands of types; callers skip holes.
class ChangedTypes {
 public:
  void Add(Type* type, const std::string* sub);
  void Erase(Type* type);
  void Clear();
  bool empty() const { return live_ == 0; }
  // Entries including holes.
  size_t size() const { return count_; }
  Type* type(size_t i) const { return entries_[i].first; }
  const std::vector<const std::string*>& subs(size_t i) const { return entries_[i].second; }
  const std::vector<const std::string*>* Find(const Type* type) const;

 private:
  size_t IndexOf(const Type* type) const;  // count_ when absent
  // Entries past count_ are spares whose vectors keep their capacity for the next transaction.
  std::vector<std::pair<Type*, std::vector<const std::string*>>> entries_;
  size_t count_ = 0;
  size_t live_ = 0;
  // Built once a transaction changed many types; below that a scan is as fast.
  std::unordered_map<const Type*, size_t> index_;
  // (type, key) pairs, built once one type has many changed keys (a map given thousands of
  // keys in one transaction made the scan of its keys quadratic).
  struct PairHash {
    size_t operator()(const std::pair<const Type*, const std::string*>& p) const {
      return std::hash<const void*>()(p.first) * 31 + std::hash<const void*>()(p.second);
    }
  };
  std::unordered_set<std::pair<const Type*, const std::string*>, PairHash> subs_index_;
};

class Transaction {
 public:
  explicit Transaction(Doc& doc);
  ~Transaction();
  // Prepares a finished transaction object for reuse (each thread keeps a few).
  void Reset(bool local, const void* origin);

  // A client whose structs grew in this transaction: its clock before (beforeState) and, from
  // the start of the cleanup, after (afterState). Clients not listed did not change.
  struct ClientChange {
    ClientId client;
    Clock before;
    Clock after;
  };

  Doc& doc() const { return *doc_; }
  // Moves a finished transaction to another document (spare ones are shared per thread).
  void Rebind(Doc& d) { doc_ = &d; }

  std::vector<ClientChange> changed_clients;  // in the order the clients first grew
  DeleteSet delete_set;
  std::vector<ID> merge_structs;  // IDs, not pointers: the structs may be merged away meanwhile
  bool local = true;
  const void* origin = nullptr;
  ChangedTypes changed;
  // Events by every type they bubble up to, for deep observers (changedParentTypes).
  std::vector<std::pair<Type*, std::vector<Event*>>> changed_parent_types;
  std::vector<std::unique_ptr<Event>> events;  // owned for the observer calls
  bool need_formatting_cleanup = false;
  // Set while an update is applied: the search markers of every list it touches are dropped at
  // once (a remote change moves positions the markers' indices do not know about).
  bool applying_update = false;
  // Snapshots whose boundaries were split in this transaction (splitSnapshotAffectedStructs).
  std::vector<const void*> split_snapshots;

  // beforeState.get(client) || 0
  Clock BeforeState(ClientId client) const;
  // Called before `client`'s structs grow from `before`.
  void RecordGrowth(ClientId client, Clock before);

 private:
  Doc* doc_;
  std::unordered_map<ClientId, size_t> changed_index_;  // used once many clients changed
};

// Runs `fn` in a transaction on `doc` (reusing the current one if nested) and cleans up after
// the outermost one: observers, GC, merging, update callbacks. Transactions started by
// observers are cleaned up after the current one, in order, as yjs does.
void Transact(Doc& doc, FunctionRef<void(Transaction&)> fn, bool local = true,
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
                    FunctionRef<void(Item*)> f);
// iterateDeletedStructs: IterateStructs over every range of `ds` the store holds.
void IterateDeletedStructs(Transaction& t, const DeleteSet& ds, FunctionRef<void(Item*)> f);

// addChangedTypeToTransaction
void AddChangedType(Transaction& t, Type* type, const std::string* parent_sub);

// Names of the root types whose content, at any depth, the transaction changed, in the order
// first changed. Linear in the types changed (each ancestor is walked once).
std::vector<std::string> ChangedRootNames(const Transaction& t);

}  // namespace tandem::crdt

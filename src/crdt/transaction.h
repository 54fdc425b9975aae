#pragma once
// Transactions and the integration machinery of yjs (`src/utils/Transaction.js`,
// `src/structs/Item.js`, `src/utils/StructStore.js`): splitting, YATA integration, deletion,
// garbage collection and the merge of adjacent structs after each transaction.
// Internal to the engine; users go through Doc.

#include <functional>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "crdt/delete_set.h"
#include "crdt/doc.h"
#include "crdt/item.h"
#include "crdt/state_vector.h"

namespace tandem::crdt {

class Transaction {
 public:
  Transaction(Doc& doc, bool local);

  Doc& doc;
  StateVector before_state;
  StateVector after_state;
  DeleteSet delete_set;
  std::vector<ID> merge_structs;  // IDs, not pointers: the structs may be merged away meanwhile
  bool local;
  // Types changed in this transaction, with the map keys changed (nullptr: list part).
  std::unordered_map<Type*, std::unordered_set<const std::string*>> changed;

  Clock BeforeState(ClientId client) const { return StateOf(before_state, client); }
};

// Runs `fn` in a transaction on `doc` (reusing the current one if nested) and cleans up after
// the outermost one: GC, merging, update callback.
void Transact(Doc& doc, const std::function<void(Transaction&)>& fn, bool local = true);

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

}  // namespace tandem::crdt

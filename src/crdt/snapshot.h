#pragma once
// Snapshots of a document's state (yjs `src/utils/Snapshot.js`): the state vector plus the
// delete set at one moment. With gc off, a snapshot restores the document as it was then
// (history views) and marks what changed between two snapshots.

#include <cstdint>
#include <span>
#include <vector>

#include "base/result.h"
#include "crdt/delete_set.h"
#include "crdt/state_vector.h"
#include "crdt/update_codec.h"

namespace tandem::crdt {

class Doc;
class Transaction;
struct Item;

struct Snapshot {
  DeleteSet ds;
  StateVector sv;
};

// snapshot(doc)
Snapshot TakeSnapshot(const Doc& doc);
// encodeSnapshot (v1) / encodeSnapshotV2
std::vector<uint8_t> EncodeSnapshot(const Snapshot& snapshot,
                                    UpdateFormat format = UpdateFormat::kV1);
// decodeSnapshot / decodeSnapshotV2
Result<Snapshot> DecodeSnapshot(std::span<const uint8_t> bytes,
                                UpdateFormat format = UpdateFormat::kV1);
bool EqualSnapshots(const Snapshot& a, const Snapshot& b);
// isVisible: undeleted now (no snapshot), or created before and not deleted in `snapshot`.
bool IsVisible(const Item* item, const Snapshot* snapshot);
// splitSnapshotAffectedStructs: splits structs at the snapshot's boundaries (once per
// transaction) so that visibility is decided per item.
void SplitSnapshotAffectedStructs(Transaction& t, const Snapshot& snapshot);
// The update createDocFromSnapshot applies (v2 as yjs builds it, or v1): every struct below the
// snapshot's state vector and the snapshot's delete set. Fails if `doc` collects garbage.
Result<std::vector<uint8_t>> EncodeStateFromSnapshot(Doc& doc, const Snapshot& snapshot,
                                                     UpdateFormat format = UpdateFormat::kV2);
// createDocFromSnapshot: `out` receives the document as it was at `snapshot`.
Status CreateDocFromSnapshot(Doc& origin, const Snapshot& snapshot, Doc& out);
// snapshotContainsUpdate
Result<bool> SnapshotContainsUpdate(const Snapshot& snapshot, std::span<const uint8_t> update,
                                    UpdateFormat format = UpdateFormat::kV1);

}  // namespace tandem::crdt

#include "crdt/snapshot.h"

#include <algorithm>

#include "crdt/doc.h"
#include "crdt/doc_internal.h"
#include "crdt/transaction.h"
#include "crdt/updates.h"

namespace tandem::crdt {

Snapshot TakeSnapshot(const Doc& doc) {
  return Snapshot{DeleteSet::FromStore(DocInternals::store(doc)), doc.GetStateVector()};
}

std::vector<uint8_t> EncodeSnapshot(const Snapshot& snapshot, UpdateFormat format) {
  // The DS encoders of yjs write everything to their rest encoder.
  auto encoder = MakeUpdateEncoder(format);
  snapshot.ds.Write(*encoder);
  WriteStateVector(encoder->rest(), snapshot.sv);
  return encoder->rest().Take();
}

Result<Snapshot> DecodeSnapshot(std::span<const uint8_t> bytes, UpdateFormat format) {
  lib0::Decoder d(bytes);
  Snapshot s;
  const bool v2 = format == UpdateFormat::kV2;
  const uint64_t clients = d.ReadCount(2);
  for (uint64_t c = 0; c < clients && d.ok(); ++c) {
    const ClientId client = d.ReadVarUint();
    const uint64_t n = d.ReadCount(2);
    Clock cur = 0;
    DeleteSet::Ranges ranges;
    for (uint64_t k = 0; k < n && d.ok(); ++k) {
      Clock clock = d.ReadVarUint();
      uint64_t len = d.ReadVarUint();
      if (v2) {
        clock += cur;
        len += 1;
        cur = clock + len;
      }
      ranges.push_back({clock, len});
    }
    if (!ranges.empty()) {
      auto& out = s.ds.clients()[client];
      out.insert(out.end(), ranges.begin(), ranges.end());
    }
  }
  s.sv = ReadStateVector(d);
  if (!d.ok()) return d.status().WithContext("snapshot rejected");
  return s;
}

bool EqualSnapshots(const Snapshot& a, const Snapshot& b) {
  if (a.sv.size() != b.sv.size() || a.ds.clients().size() != b.ds.clients().size()) return false;
  for (const auto& [client, clock] : a.sv) {
    auto it = b.sv.find(client);
    if (it == b.sv.end() || it->second != clock) return false;
  }
  for (const auto& [client, items] : a.ds.clients()) {
    auto it = b.ds.clients().find(client);
    const DeleteSet::Ranges empty;
    const DeleteSet::Ranges& other = it == b.ds.clients().end() ? empty : it->second;
    if (items != other) return false;
  }
  return true;
}

bool IsVisible(const Item* item, const Snapshot* snapshot) {
  if (snapshot == nullptr) return !item->deleted();
  auto it = snapshot->sv.find(item->client());
  return it != snapshot->sv.end() && it->second > item->clock() &&
         !snapshot->ds.IsDeleted(item->id());
}

void SplitSnapshotAffectedStructs(Transaction& t, const Snapshot& snapshot) {
  auto& done = t.split_snapshots;
  if (std::find(done.begin(), done.end(), &snapshot) != done.end()) return;
  StructStore& store = DocInternals::store(t.doc());
  for (const auto& [client, clock] : snapshot.sv) {
    if (clock < store.GetState(client)) GetItemCleanStart(t, ID{client, clock});
  }
  IterateDeletedStructs(t, snapshot.ds, [](Item*) {});
  done.push_back(&snapshot);
}

Result<std::vector<uint8_t>> EncodeStateFromSnapshot(Doc& doc, const Snapshot& snapshot,
                                                     UpdateFormat format) {
  if (doc.gc()) {
    return Status(StatusCode::kFailedPrecondition,
                  "a snapshot can only be restored from a document with gc disabled");
  }
  // Clients descending: the order of a decoded snapshot's state vector.
  std::vector<std::pair<ClientId, Clock>> sv(snapshot.sv.begin(), snapshot.sv.end());
  std::sort(sv.begin(), sv.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  for (const auto& [client, clock] : sv) {
    if (clock > 0 && DocInternals::store(doc).GetState(client) == 0) {
      return NotFoundError("the snapshot refers to client " + std::to_string(client) +
                           ", which this document does not know");
    }
  }
  auto encoder = MakeUpdateEncoder(format);
  Transact(doc, [&](Transaction& t) {
    uint64_t size = 0;
    for (const auto& [client, clock] : sv) size += clock > 0 ? 1 : 0;
    encoder->rest().WriteVarUint(size);
    for (const auto& [client, clock] : sv) {
      if (clock == 0) continue;
      if (clock < DocInternals::store(doc).GetState(client))
        GetItemCleanStart(t, ID{client, clock});
      const StructStore::Structs& structs = *DocInternals::store(doc).Get(client);
      const size_t last = StructStore::FindIndex(structs, clock - 1);
      const size_t count = last == StructStore::kNotFound ? structs.size() : last + 1;
      encoder->rest().WriteVarUint(count);
      encoder->WriteClient(client);
      encoder->rest().WriteVarUint(0);
      for (size_t i = 0; i < count; ++i) WriteStruct(*encoder, *structs[i], 0);
    }
    snapshot.ds.Write(*encoder);
  });
  return encoder->Finish();
}

Status CreateDocFromSnapshot(Doc& origin, const Snapshot& snapshot, Doc& out) {
  TANDEM_ASSIGN_OR_RETURN(std::vector<uint8_t> update,
                          EncodeStateFromSnapshot(origin, snapshot, UpdateFormat::kV2));
  return out.ApplyUpdateV2(update);
}

Result<bool> SnapshotContainsUpdate(const Snapshot& snapshot, std::span<const uint8_t> update,
                                    UpdateFormat format) {
  auto decoder = MakeUpdateDecoder(format, update);
  LazyStructReader reader(*decoder, /*filter_skips=*/false);
  for (LazyStruct* s = reader.current(); s != nullptr; s = reader.Next()) {
    if (StateOf(snapshot.sv, s->id.client) < s->id.clock + s->length) return false;
  }
  if (!decoder->ok()) return decoder->status();
  const DeleteSet ds = DeleteSet::Read(*decoder);
  if (!decoder->ok()) return decoder->status();
  const DeleteSet merged = DeleteSet::Merge({snapshot.ds, ds});
  if (merged.clients().size() != snapshot.ds.clients().size()) return false;
  for (const auto& [client, items] : snapshot.ds.clients()) {
    auto it = merged.clients().find(client);
    if (it == merged.clients().end() || it->second != items) return false;
  }
  return true;
}

}  // namespace tandem::crdt

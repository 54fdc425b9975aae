#include "store/snapshot_store.h"

#include <openssl/evp.h>

#include <algorithm>
#include <chrono>
#include <map>

#include "crdt/delete_set.h"
#include "crdt/doc.h"
#include "crdt/update_codec.h"
#include "crdt/updates.h"
#include "lib0/utf.h"

namespace tandem::store {

namespace {

using Range = std::pair<uint64_t, uint64_t>;  // [begin, end)
using Ranges = std::vector<Range>;

// The clock ranges an update holds (structs, Skips excluded) and deletes, per client, sorted
// and merged.
struct UpdateSummary {
  std::map<crdt::ClientId, Ranges> structs;
  std::map<crdt::ClientId, Ranges> deletes;
};

void Normalize(Ranges& ranges) {
  std::sort(ranges.begin(), ranges.end());
  Ranges out;
  for (const Range& r : ranges) {
    if (r.first == r.second) continue;
    if (!out.empty() && r.first <= out.back().second) {
      out.back().second = std::max(out.back().second, r.second);
    } else {
      out.push_back(r);
    }
  }
  ranges = std::move(out);
}

// The parts of `range` that lie inside the normalized `within`.
void AppendIntersection(const Range& range, const Ranges& within, Ranges& out) {
  for (const Range& w : within) {
    const uint64_t begin = std::max(range.first, w.first);
    const uint64_t end = std::min(range.second, w.second);
    if (begin < end) out.push_back({begin, end});
  }
}

Result<UpdateSummary> Summarize(std::span<const uint8_t> update) {
  auto decoder = crdt::MakeUpdateDecoder(crdt::UpdateFormat::kV1, update);
  UpdateSummary out;
  std::map<crdt::ClientId, Ranges> gcs;
  {
    crdt::LazyStructReader reader(*decoder, /*filter_skips=*/false);
    for (crdt::LazyStruct* s = reader.current(); s != nullptr; s = reader.Next()) {
      if (s->kind == crdt::LazyStruct::Kind::kSkip) continue;
      auto& into = s->kind == crdt::LazyStruct::Kind::kGC ? gcs : out.structs;
      into[s->id.client].push_back({s->id.clock, s->id.clock + s->length});
    }
  }
  if (!decoder->ok()) return decoder->status().WithContext("not a Yjs update");
  crdt::DeleteSet ds = crdt::DeleteSet::Read(*decoder);
  if (!decoder->ok()) return decoder->status().WithContext("not a Yjs update (delete set)");
  for (const auto& [client, items] : ds.clients()) {
    for (const auto& d : items) out.deletes[client].push_back({d.clock, d.clock + d.len});
  }
  for (auto& [client, ranges] : out.deletes) Normalize(ranges);
  // A GC struct stands for content that was deleted and collected: a full state made by yjs
  // lists it in its delete set too. Where it does not, the struct says nothing about the
  // content it claims to replace, so it covers nothing (otherwise a bare GC struct would count
  // as covering stored, undeleted text, and the save would drop it).
  for (const auto& [client, ranges] : gcs) {
    auto deleted = out.deletes.find(client);
    if (deleted == out.deletes.end()) continue;
    for (const Range& r : ranges) AppendIntersection(r, deleted->second, out.structs[client]);
  }
  for (auto& [client, ranges] : out.structs) Normalize(ranges);
  return out;
}

// Every range of `inner` lies inside one range of `outer` (both normalized).
bool Contains(const std::map<crdt::ClientId, Ranges>& outer,
              const std::map<crdt::ClientId, Ranges>& inner) {
  for (const auto& [client, ranges] : inner) {
    auto it = outer.find(client);
    if (it == outer.end()) return false;
    const Ranges& o = it->second;
    for (const Range& r : ranges) {
      // The last outer range starting at or before r.first.
      auto pos = std::upper_bound(o.begin(), o.end(), Range{r.first, UINT64_MAX});
      if (pos == o.begin()) return false;
      --pos;
      if (pos->second < r.second) return false;
    }
  }
  return true;
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

std::string Sha256Hex(std::span<const uint8_t> data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), digest, &len, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 15]);
  }
  return out;
}

namespace {
struct Coverage {
  bool incoming_covers_stored = false;
  bool stored_covers_incoming = false;
};
Result<Coverage> Compare(std::span<const uint8_t> incoming, std::span<const uint8_t> stored) {
  TANDEM_ASSIGN_OR_RETURN(UpdateSummary in, Summarize(incoming));
  TANDEM_ASSIGN_OR_RETURN(UpdateSummary old, Summarize(stored));
  return Coverage{.incoming_covers_stored =
                      Contains(in.structs, old.structs) && Contains(in.deletes, old.deletes),
                  .stored_covers_incoming =
                      Contains(old.structs, in.structs) && Contains(old.deletes, in.deletes)};
}
}  // namespace

Result<bool> UpdateCovers(std::span<const uint8_t> incoming, std::span<const uint8_t> stored) {
  TANDEM_ASSIGN_OR_RETURN(Coverage c, Compare(incoming, stored));
  return c.incoming_covers_stored;
}

Result<Bytes> MergeSnapshots(std::span<const uint8_t> a, std::span<const uint8_t> b) {
  // gc off: content the inputs still carry (even deleted) is carried into the merge.
  crdt::Doc doc(crdt::DocOptions{.gc = false, .client_id = 0, .clean_up_formatting = false});
  TANDEM_RETURN_IF_ERROR(doc.ApplyUpdate(a).WithContext("merge"));
  TANDEM_RETURN_IF_ERROR(doc.ApplyUpdate(b).WithContext("merge"));
  return doc.EncodeStateAsUpdate();
}

SnapshotStore::SnapshotStore(std::unique_ptr<Backend> backend, StoreOptions options)
    : backend_(std::move(backend)), options_(options) {}

Result<SaveOutcome> SnapshotStore::Save(const std::string& room, std::span<const uint8_t> data,
                                        uint64_t epoch) {
  const auto start = std::chrono::steady_clock::now();
  if (Status s = ValidateRoomId(room); !s.ok()) {
    ++metrics_.rejected_invalid;
    return s;
  }
  if (data.size() > options_.max_snapshot_bytes) {
    ++metrics_.rejected_too_large;
    return ResourceExhaustedError("snapshot of " + std::to_string(data.size()) +
                                  " bytes exceeds --max-snapshot-bytes " +
                                  std::to_string(options_.max_snapshot_bytes));
  }
  if (Status s = crdt::ValidateUpdate(data, crdt::UpdateFormat::kV1, /*allow_trailing=*/false);
      !s.ok()) {
    ++metrics_.rejected_invalid;
    return MalformedError("not a Yjs update: " + s.message());
  }
  if (epoch > 0) {
    auto fenced = backend_->Fence(room, epoch);
    if (!fenced.ok()) {
      ++metrics_.errors;
      return fenced.status();
    }
    if (!*fenced) {
      ++metrics_.rejected_stale_epoch;
      return Status(StatusCode::kAborted, "epoch " + std::to_string(epoch) +
                                              " is older than a save of this room already made "
                                              "(another node owns it now)");
    }
  }
  const std::string checksum = Sha256Hex(data);
  SaveOutcome outcome;
  PrepareFn prepare = [&](const std::optional<Version>& latest) -> Result<std::optional<Prepared>> {
    outcome = SaveOutcome();
    Prepared p;
    p.info.time_ms = NowMs();
    if (latest.has_value() && latest->info.checksum == checksum) {
      outcome.unchanged = true;
      return std::optional<Prepared>();
    }
    bool covers = true;
    if (latest.has_value()) {
      auto c = Compare(data, latest->data);
      // A stored version that no longer decodes cannot be merged; the valid incoming one wins.
      covers = !c.ok() || c->incoming_covers_stored;
      if (!covers && c->stored_covers_incoming) {
        // Stale and adding nothing: the latest version already is the union.
        outcome.merged = true;
        outcome.unchanged = true;
        return std::optional<Prepared>();
      }
    }
    if (covers) {
      p.data.assign(data.begin(), data.end());
      p.info.checksum = checksum;
    } else {
      TANDEM_ASSIGN_OR_RETURN(p.data, MergeSnapshots(latest->data, data));
      p.info.checksum = Sha256Hex(p.data);
      p.info.merged = true;
      outcome.merged = true;
    }
    p.info.size = p.data.size();
    return std::optional<Prepared>(std::move(p));
  };
  auto saved = backend_->Save(room, prepare, std::max(options_.keep_versions, 1));
  if (!saved.ok()) {
    ++metrics_.errors;
    return saved.status();
  }
  outcome.info = std::move(saved).value();
  if (outcome.unchanged) {
    ++metrics_.saves_unchanged;
  } else {
    ++metrics_.saves;
    metrics_.bytes_saved += outcome.info.size;
  }
  if (outcome.merged) ++metrics_.merges;
  metrics_.save_micros +=
      static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                std::chrono::steady_clock::now() - start)
                                .count());
  return outcome;
}

Result<std::optional<Version>> SnapshotStore::Get(const std::string& room,
                                                  std::optional<int64_t> version) {
  TANDEM_RETURN_IF_ERROR(ValidateRoomId(room));
  auto got = backend_->Get(room, version);
  if (!got.ok()) {
    ++metrics_.errors;
    return got.status();
  }
  ++(got->has_value() ? metrics_.loads_hit : metrics_.loads_miss);
  return got;
}

Result<SaveOutcome> SnapshotStore::Rollback(const std::string& room, int64_t version) {
  TANDEM_RETURN_IF_ERROR(ValidateRoomId(room));
  auto old = backend_->Get(room, version);
  if (!old.ok()) {
    ++metrics_.errors;
    return old.status();
  }
  if (!old->has_value())
    return NotFoundError("no version " + std::to_string(version) + " of this room");
  const Version& target = **old;
  SaveOutcome outcome;
  PrepareFn prepare = [&](const std::optional<Version>& latest) -> Result<std::optional<Prepared>> {
    if (latest.has_value() && latest->info.checksum == target.info.checksum) {
      outcome.unchanged = true;
      return std::optional<Prepared>();
    }
    Prepared p;
    p.data = target.data;
    p.info = target.info;
    p.info.time_ms = NowMs();
    p.info.merged = false;
    return std::optional<Prepared>(std::move(p));
  };
  auto saved = backend_->Save(room, prepare, std::max(options_.keep_versions, 1));
  if (!saved.ok()) {
    ++metrics_.errors;
    return saved.status();
  }
  outcome.info = std::move(saved).value();
  ++metrics_.rollbacks;
  return outcome;
}

Result<std::vector<VersionInfo>> SnapshotStore::ListVersions(const std::string& room) {
  TANDEM_RETURN_IF_ERROR(ValidateRoomId(room));
  auto list = backend_->List(room);
  if (!list.ok()) ++metrics_.errors;
  return list;
}

Result<int64_t> SnapshotStore::Delete(const std::string& room) {
  TANDEM_RETURN_IF_ERROR(ValidateRoomId(room));
  auto deleted = backend_->Delete(room);
  if (!deleted.ok()) {
    ++metrics_.errors;
    return deleted.status();
  }
  ++metrics_.deletes;
  return deleted;
}

}  // namespace tandem::store

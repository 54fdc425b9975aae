#pragma once
// Functions on encoded updates that need no document (yjs `src/utils/updates.js`): they walk
// the structs of the bytes one by one, so structs that could not be integrated yet (gaps,
// missing dependencies) are carried along instead of being dropped.

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "base/result.h"
#include "crdt/content.h"
#include "crdt/delete_set.h"
#include "crdt/id.h"
#include "crdt/item.h"
#include "crdt/state_vector.h"
#include "crdt/update_codec.h"

namespace tandem::crdt {

using Bytes = std::vector<uint8_t>;

// A decoded struct that is not part of any document: GC, Skip or Item, with the item's parent
// still as the root name or parent ID the bytes carry.
struct LazyStruct {
  enum class Kind : uint8_t { kGC, kSkip, kItem };
  enum class ParentKind : uint8_t { kNone, kRootKey, kId };

  Kind kind = Kind::kGC;
  ID id;
  uint64_t length = 0;
  OptionalId origin;
  OptionalId right_origin;
  ParentKind parent_kind = ParentKind::kNone;
  std::string parent_key;
  ID parent_id;
  bool has_parent_sub = false;
  std::string parent_sub;
  Content content;

  // Item.write / GC.write / Skip.write
  void Write(UpdateEncoder& encoder, uint64_t offset) const;
};

// Reads the struct section of an update lazily (LazyStructReader), then the delete set.
class LazyStructReader {
 public:
  LazyStructReader(UpdateDecoder& decoder, bool filter_skips);
  // nullptr when done or on error (check decoder.ok()).
  LazyStruct* current() { return has_current_ ? &current_ : nullptr; }
  LazyStruct* Next();

 private:
  bool ReadOne();
  UpdateDecoder& decoder_;
  bool filter_skips_;
  uint64_t clients_left_ = 0;
  uint64_t structs_left_ = 0;
  ClientId client_ = 0;
  Clock clock_ = 0;
  LazyStruct current_;
  bool has_current_ = false;
};

// Writes structs lazily, buffering each client's group until its struct count is known.
class LazyStructWriter {
 public:
  explicit LazyStructWriter(UpdateEncoder& encoder) : encoder_(encoder) {}
  void Write(const LazyStruct& s, uint64_t offset);
  // Writes the struct section; the caller writes the delete set afterwards.
  void Finish();

 private:
  void Flush();
  UpdateEncoder& encoder_;
  ClientId current_client_ = 0;
  uint64_t written_ = 0;
  struct Group {
    uint64_t written;
    Bytes rest;
  };
  std::vector<Group> groups_;
};

// mergeUpdates / mergeUpdatesV2: one update holding everything the inputs hold.
Result<Bytes> MergeUpdates(const std::vector<std::span<const uint8_t>>& updates,
                           UpdateFormat format = UpdateFormat::kV1);
// diffUpdate / diffUpdateV2: the part of `update` a peer with state vector `sv` lacks (the
// delete set is copied whole, as yjs does).
Result<Bytes> DiffUpdate(std::span<const uint8_t> update, const StateVector& sv,
                         UpdateFormat format = UpdateFormat::kV1);
// encodeStateVectorFromUpdate: per client, the contiguous range from clock 0 only.
Result<Bytes> EncodeStateVectorFromUpdate(std::span<const uint8_t> update,
                                          UpdateFormat format = UpdateFormat::kV1);
// convertUpdateFormatV1ToV2 / V2ToV1 (and identity re-encodings).
Result<Bytes> ConvertUpdateFormat(std::span<const uint8_t> update, UpdateFormat from,
                                  UpdateFormat to);

// Checks that `update` decodes completely (structs and delete set) without applying it. yjs
// ignores bytes after the delete set; with allow_trailing false they are an error (a v2 body
// read as v1, or garbage appended, is not what the caller meant to store).
Status ValidateUpdate(std::span<const uint8_t> update, UpdateFormat format = UpdateFormat::kV1,
                      bool allow_trailing = true);

}  // namespace tandem::crdt

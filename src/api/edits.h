#pragma once
// The edit lists of the document API (`POST /api/v1/rooms/{room}/edit`, docs/API.md "Edits"):
// JSON edits addressed by root type name and a path of map keys and array indices, applied
// through the editing API (crdt/types) in one transaction, all or nothing.
//
//   [{"op": "text.insert", "type": "content", "index": 0, "text": "Hi", "attributes": {...}},
//    {"op": "map.set", "type": "tasks", "path": [0], "key": "done", "value": true}, ...]

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "crdt/doc.h"
#include "lib0/any.h"

namespace tandem::api {

// Nested types a value may create ({"$type": ...} inside {"$type": ...}).
inline constexpr int kMaxValueDepth = 64;
inline constexpr size_t kMaxEdits = 10'000;

// The edits of a request body: a JSON array, or an object with an "edits" array. kMalformed:
// not JSON; kInvalidArgument: not a list of objects (or more than kMaxEdits).
Result<std::vector<lib0::Any>> ParseEditList(std::string_view body);

struct EditResult {
  Status status;                // kInvalidArgument (or the engine's refusal) names the edit
  size_t failed_index = 0;      // the failing edit, when !status.ok()
  std::vector<uint8_t> update;  // v1 update of the transaction; empty when nothing changed
};

// Applies `edits` to `doc` in one local transaction by doc.client_id(). The first edit that is
// invalid or refused stops the list; the caller must then drop `doc` (apply the edits to a copy
// of the document to keep the original unchanged: EditCopy).
EditResult ApplyEdits(crdt::Doc& doc, const std::vector<lib0::Any>& edits);

// Applies `edits` to a copy of `doc` made for the purpose (same state, same client id) and
// returns the update they made, leaving `doc` untouched: the document API then applies that
// update to the room, so that an invalid list changes nothing.
EditResult EditCopy(const crdt::Doc& doc, const std::vector<lib0::Any>& edits);

}  // namespace tandem::api

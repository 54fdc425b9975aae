#pragma once
// Relative positions (yjs `src/utils/RelativePosition.js`): a position in a shared type that
// survives concurrent edits, anchored to an item ID (or to the end of a type). Clients use them
// for cursors and selections.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "base/result.h"
#include "crdt/id.h"
#include "crdt/item.h"
#include "lib0/any.h"

namespace tandem::crdt {

class Doc;

struct RelativePosition {
  std::optional<ID> type;            // the nested type's item, when anchored at its end
  std::optional<std::string> tname;  // the root type's name, when anchored at its end
  std::optional<ID> item;            // the item right of the position
  int64_t assoc = 0;                 // >= 0: sticks to the right item; < 0: to the left one
  friend bool operator==(const RelativePosition&, const RelativePosition&) = default;
};

struct AbsolutePosition {
  Type* type = nullptr;
  uint64_t index = 0;
  int64_t assoc = 0;
};

// createRelativePositionFromTypeIndex
RelativePosition CreateRelativePositionFromTypeIndex(const Type* type, uint64_t index,
                                                     int64_t assoc = 0);
// encodeRelativePosition / decodeRelativePosition
std::vector<uint8_t> EncodeRelativePosition(const RelativePosition& rpos);
Result<RelativePosition> DecodeRelativePosition(std::span<const uint8_t> bytes);
// relativePositionToJSON / createRelativePositionFromJSON
lib0::Any RelativePositionToJson(const RelativePosition& rpos);
Result<RelativePosition> RelativePositionFromJson(const lib0::Any& json);
// createAbsolutePositionFromRelativePosition; nullopt when the anchor is not in `doc` (yet) or
// was collected. A root named by `tname` is created if missing, as yjs's doc.get does.
std::optional<AbsolutePosition> CreateAbsolutePositionFromRelativePosition(
    const RelativePosition& rpos, Doc& doc);

}  // namespace tandem::crdt

#pragma once
// Rich text (yjs `src/types/YText.js`): insertion with formatting attributes, format ranges,
// deletion with formatting cleanup, deltas, and the cleanup of redundant format items after
// remote transactions. Indices and lengths count UTF-16 units.
//
// Attribute values follow JavaScript's `===`: two objects are equal only if they are the same
// value (a format item's own value), which decides when yjs keeps or drops format items.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "crdt/content.h"
#include "crdt/events.h"
#include "crdt/item.h"
#include "crdt/value.h"
#include "lib0/any.h"

namespace tandem::crdt {

class Transaction;
struct Snapshot;

// One operation of a delta to apply (Quill delta): insert a string or embed with attributes,
// retain (and format) a length, or delete a length.
struct DeltaInput {
  enum class Kind : uint8_t { kInsert, kRetain, kDelete };
  Kind kind = Kind::kInsert;
  Value insert;  // a string, an embed (JSON object) or a prelim type
  uint64_t len = 0;
  std::optional<lib0::Any::Object> attributes;
};

// YText.insert (as_embed false) / insertEmbed: `content` is a string (ContentString), a prelim
// type (ContentType) or any other value (ContentEmbed). Without `attributes`, insert continues
// the attributes in effect at `index` and insertEmbed takes none.
// REQUIRES: index <= text->length.
void TextInsert(Transaction& t, Type* text, uint64_t index, const Value& content,
                const lib0::Any::Object* attributes, bool as_embed = false);
// YText.delete. REQUIRES: index + length <= text->length.
void TextDelete(Transaction& t, Type* text, uint64_t index, uint64_t length);
// YText.format. REQUIRES: index <= text->length.
void TextFormat(Transaction& t, Type* text, uint64_t index, uint64_t length,
                const lib0::Any::Object& attributes);
// YText.applyDelta
void TextApplyDelta(Transaction& t, Type* text, const std::vector<DeltaInput>& delta,
                    bool sanitize = true);

// YText.toDelta(snapshot, prevSnapshot): with snapshots, the text as of `snapshot`, insertions
// since `prev_snapshot` marked with attribute ychange {type: 'added'} and removals with
// {type: 'removed'}.
std::vector<DeltaOp> TextToDelta(Doc& doc, Type* text, const Snapshot* snapshot = nullptr,
                                 const Snapshot* prev_snapshot = nullptr);

// YTextEvent.delta
std::vector<DeltaOp> ComputeTextEventDelta(Event& event);
// cleanupYTextAfterTransaction
void CleanupTextAfterTransaction(Transaction& t);
// cleanupYTextFormatting: removes redundant format items; returns how many.
uint64_t CleanupTextFormatting(Doc& doc, Type* text);

}  // namespace tandem::crdt

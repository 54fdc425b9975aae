#pragma once
// Restoring a document to an earlier state while people edit it: a CRDT cannot go back (merging
// an old state into a newer one changes nothing), so the document is made to hold what the old
// state held by edits: every root emptied, then filled with a copy of the old content (nested
// types, text with its formatting and embeds, XML with attributes). The edits are one
// transaction of `target`, so its update event carries them to every client. yjs's own answer
// to "restore a version" (an UndoManager or a snapshot diff) builds the same kind of edits.

#include "base/status.h"
#include "crdt/doc.h"

namespace tandem::crdt {

// Makes every root of `target` hold what the root of the same name holds in `source`; roots
// only `target` has are emptied. REQUIRES: `source` is not `target`.
Status ReplaceContent(Doc& target, const Doc& source);

}  // namespace tandem::crdt

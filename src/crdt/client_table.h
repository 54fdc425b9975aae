#pragma once
// Client IDs are 64-bit on the wire but few per document; items name them by a 32-bit ClientRef
// instead, which saves 12 bytes per item (its own client and those of its two origins).
//
// The table is process-wide so that an item can turn its ref back into a ClientId without
// knowing its document. Documents hold a reference on every ref they use (StructStore does it)
// and release them when they go; a ref is reused only after no document holds it.
//
// Thread-safety: Acquire and Release lock; Get does not (a held ref's entry never changes).

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "crdt/id.h"

namespace tandem::crdt {

using ClientRef = uint32_t;
inline constexpr ClientRef kNoClientRef = ~ClientRef{0};

class ClientTable {
 public:
  static constexpr uint32_t kChunkBits = 12;
  static constexpr uint32_t kChunkSize = uint32_t{1} << kChunkBits;
  static constexpr uint32_t kMaxChunks = uint32_t{1} << 16;  // 268 M refs at once

  // The ref for `client`, taking one reference on it. Throws std::length_error when every ref
  // is in use.
  static ClientRef Acquire(ClientId client);
  // Drops one reference taken by Acquire.
  static void Release(ClientRef ref);
  // The client of a ref the caller holds (directly or through its document).
  static ClientId Get(ClientRef ref) {
    return chunks_[ref >> kChunkBits].load(std::memory_order_acquire)[ref & (kChunkSize - 1)];
  }
  // How many refs are held now (for tests and diagnostics).
  static size_t live();

 private:
  static std::atomic<ClientId*> chunks_[kMaxChunks];
};

}  // namespace tandem::crdt

#pragma once
// Items of every document live in one reserved address range, so an item names another (its
// left and right neighbours, the struct index's entries) by a 32-bit handle, not a 64-bit
// pointer: 8 bytes saved per item and 4 per index entry. This is V8's pointer compression, for
// items and what they point at.
//
// A handle is the item's offset from the range's base in 4-byte units; 0 is null. 2^32 units
// address 16 GiB, about 400 million items, far more than one process holds.
//
// The range is reserved once (16 GiB of address space, committed page by page as it is used;
// smaller if the system refuses). Documents take chunks of power-of-two sizes from it
// (ItemPool), and freed chunks are reused for the same size. Free chunks keep their pages up to
// 64 MiB in all; the pages of large free chunks past that go back to the system. Memory in chunks
// is not malloc's, so figures of a document's memory add bytes_in_use() to malloc's count.
//
// Thread-safety: AllocateChunk and FreeChunk lock; handles convert without locking (the base
// never changes after the first chunk, which every item comes from).

#include <cassert>
#include <cstddef>
#include <cstdint>

namespace tandem::crdt {

class ItemHeap {
 public:
  static constexpr size_t kUnit = 4;
  static constexpr size_t kMinChunk = 256;
  static constexpr size_t kMaxChunk = 16 * 1024;

  // A chunk of `bytes` (a power of two in [kMinChunk, kMaxChunk]), aligned to 8. Throws
  // std::bad_alloc when the range is full.
  static void* AllocateChunk(size_t bytes);
  static void FreeChunk(void* chunk, size_t bytes);
  // A block of up to kMaxBlock bytes, aligned to 16, for the objects items point at by handle
  // (types and map key slots: their handles are even, which leaves the low bit for a tag).
  // Blocks are carved from chunks and reused by size; they are counted in bytes_in_use().
  static constexpr size_t kBlockAlign = 16;
  static constexpr size_t kMaxBlock = 512;
  static void* AllocateBlock(size_t bytes);
  static void FreeBlock(void* block, size_t bytes);
  // A block of up to kMaxBytes bytes in steps of 8, aligned to 8, for text: a string's block
  // holds exactly its bytes (rounded up to 8), with no allocator header beside it.
  static constexpr size_t kBytesStep = 8;
  static constexpr size_t kMaxBytes = 256;
  static void* AllocateBytes(size_t bytes);
  static void FreeBytes(void* block, size_t bytes);
  // Bytes in chunks handed out and not freed (all documents of the process).
  static size_t bytes_in_use();
  // Size of the reserved range (for diagnostics).
  static size_t reserved();

  static uint32_t Compress(const void* p) {
    // Everything named by a handle must come from this heap (debug builds check it).
    assert(p == nullptr || (p >= base_ && p < limit_));
    return p == nullptr
               ? 0
               : static_cast<uint32_t>((static_cast<const unsigned char*>(p) - base_) / kUnit);
  }
  static void* Decompress(uint32_t handle) {
    return handle == 0 ? nullptr : base_ + size_t{handle} * kUnit;
  }
  // Whether p is inside the range (for checks in tests).
  static bool Contains(const void* p);

 private:
  static inline unsigned char* base_ = nullptr;
  static inline unsigned char* limit_ = nullptr;
};

// A pointer to T stored as an ItemHeap handle. Reads and writes like a T*.
template <typename T>
class HeapPtr {
 public:
  HeapPtr() = default;
  HeapPtr(T* p) : handle_(ItemHeap::Compress(p)) {}  // NOLINT: converts like a pointer
  HeapPtr& operator=(T* p) {
    handle_ = ItemHeap::Compress(p);
    return *this;
  }
  operator T*() const { return static_cast<T*>(ItemHeap::Decompress(handle_)); }  // NOLINT
  T* get() const { return *this; }
  T* operator->() const { return get(); }
  T& operator*() const { return *get(); }
  uint32_t handle() const { return handle_; }

 private:
  uint32_t handle_ = 0;
};

}  // namespace tandem::crdt

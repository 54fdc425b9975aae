#include "crdt/item_heap.h"

#include <sys/mman.h>

#include <atomic>
#include <bit>
#include <mutex>
#include <new>
#include <vector>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TANDEM_ITEM_HEAP_LSAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define TANDEM_ITEM_HEAP_LSAN 1
#endif
#ifdef TANDEM_ITEM_HEAP_LSAN
#include <sanitizer/lsan_interface.h>
#endif

namespace tandem::crdt {
namespace {

constexpr size_t kMaxReserve = size_t{1} << 34;  // 2^32 handles of 4 bytes
constexpr size_t kMinReserve = size_t{1} << 28;
constexpr size_t kPage = 4096;
// Leak checkers do not look inside the range unless told; items hold the only pointers to
// their contents. Each extent the bump pointer enters is registered (sanitizer builds only).
constexpr size_t kExtent = size_t{1} << 20;
// Freed large chunks keep their pages up to this many bytes in all (a document loaded again soon
// would fault them all back in); past it, their pages go back to the system.
constexpr size_t kRetainBytes = size_t{64} << 20;
constexpr size_t kReleasableChunk = 4 * kPage;
constexpr int kClasses =
    std::countr_zero(ItemHeap::kMaxChunk) - std::countr_zero(ItemHeap::kMinChunk) + 1;

struct State {
  std::mutex mu;
  unsigned char* base = nullptr;
  size_t reserved = 0;
  size_t bump = 0;  // offset of the first byte never handed out
  struct Spare {
    void* chunk;
    bool released;  // its pages went back to the system
  };
  std::vector<Spare> free[kClasses];
  size_t retained = 0;  // bytes of free chunks that kept their pages
  std::vector<void*> free_blocks[ItemHeap::kMaxBlock / ItemHeap::kBlockAlign];
  std::vector<void*> free_bytes[ItemHeap::kMaxBytes / ItemHeap::kBytesStep];
  std::atomic<size_t> in_use{0};
};

State& GetState() {
  static State* state = new State;  // never destroyed: documents may outlive static destructors
  return *state;
}

int ClassOf(size_t bytes) {
  return std::countr_zero(bytes) - std::countr_zero(ItemHeap::kMinChunk);
}

bool ValidSize(size_t bytes) {
  return std::has_single_bit(bytes) && bytes >= ItemHeap::kMinChunk && bytes <= ItemHeap::kMaxChunk;
}

void Reserve(State& s) {
  // Address space only: pages are committed when first touched.
  for (size_t size = kMaxReserve; size >= kMinReserve; size /= 2) {
    void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p != MAP_FAILED) {
      s.base = static_cast<unsigned char*>(p);
      s.reserved = size;
      // Offset 0 would be handle 0, which means null: start one page in.
      s.bump = kPage;
      return;
    }
  }
  throw std::bad_alloc();
}

}  // namespace

void* ItemHeap::AllocateChunk(size_t bytes) {
  if (!ValidSize(bytes)) throw std::bad_alloc();
  State& s = GetState();
  std::lock_guard lock(s.mu);
  if (s.base == nullptr) {
    Reserve(s);
    base_ = s.base;
    limit_ = s.base + s.reserved;
  }
  auto& free = s.free[ClassOf(bytes)];
  void* chunk;
  if (!free.empty()) {
    chunk = free.back().chunk;
    if (!free.back().released) s.retained -= bytes;
    free.pop_back();
  } else {
    // Large chunks start on a page so that their pages can be given back when freed.
    const size_t align = bytes < kPage ? bytes : kPage;
    const size_t at = (s.bump + align - 1) & ~(align - 1);
    if (at + bytes > s.reserved) throw std::bad_alloc();
#ifdef TANDEM_ITEM_HEAP_LSAN
    for (size_t e = (s.bump + kExtent - 1) / kExtent; e * kExtent < at + bytes; ++e) {
      __lsan_register_root_region(s.base + e * kExtent, kExtent);
    }
    if (s.bump == kPage) __lsan_register_root_region(s.base, kExtent);
#endif
    s.bump = at + bytes;
    chunk = s.base + at;
  }
  s.in_use.fetch_add(bytes, std::memory_order_relaxed);
  return chunk;
}

void ItemHeap::FreeChunk(void* chunk, size_t bytes) {
  if (chunk == nullptr) return;
  State& s = GetState();
  std::lock_guard lock(s.mu);
  bool released = false;
  if (bytes >= kReleasableChunk && s.retained + bytes > kRetainBytes) {
    released = madvise(chunk, bytes, MADV_DONTNEED) == 0;
  }
  if (!released) s.retained += bytes;
  s.free[ClassOf(bytes)].push_back({chunk, released});
  s.in_use.fetch_sub(bytes, std::memory_order_relaxed);
}

namespace {
constexpr size_t kBlockChunk = 4096;

// Blocks of one size class (`step` * (c + 1) bytes) carved from 4 KiB chunks, kept in `free`.
size_t SmallClass(size_t bytes, size_t step, size_t max) {
  if (bytes == 0 || bytes > max) throw std::bad_alloc();
  return (bytes - 1) / step;
}

void* AllocateSmall(std::vector<void*>* free, size_t c, size_t size) {
  State& s = GetState();
  {
    std::lock_guard lock(s.mu);
    if (!free[c].empty()) {
      void* block = free[c].back();
      free[c].pop_back();
      s.in_use.fetch_add(size, std::memory_order_relaxed);
      return block;
    }
  }
  // Carve a new chunk into blocks of this size (chunks are page-aligned, so blocks are aligned
  // to their step).
  auto* chunk = static_cast<unsigned char*>(ItemHeap::AllocateChunk(kBlockChunk));
  std::lock_guard lock(s.mu);
  s.in_use.fetch_sub(kBlockChunk, std::memory_order_relaxed);
  for (size_t off = kBlockChunk / size * size; off >= 2 * size; off -= size) {
    free[c].push_back(chunk + off - size);
  }
  s.in_use.fetch_add(size, std::memory_order_relaxed);
  return chunk;
}

void FreeSmall(std::vector<void*>* free, size_t c, size_t size, void* block) {
  State& s = GetState();
  std::lock_guard lock(s.mu);
  free[c].push_back(block);
  s.in_use.fetch_sub(size, std::memory_order_relaxed);
}
}  // namespace

void* ItemHeap::AllocateBlock(size_t bytes) {
  const size_t c = SmallClass(bytes, kBlockAlign, kMaxBlock);
  return AllocateSmall(GetState().free_blocks, c, (c + 1) * kBlockAlign);
}

void ItemHeap::FreeBlock(void* block, size_t bytes) {
  if (block == nullptr) return;
  const size_t c = SmallClass(bytes, kBlockAlign, kMaxBlock);
  FreeSmall(GetState().free_blocks, c, (c + 1) * kBlockAlign, block);
}

void* ItemHeap::AllocateBytes(size_t bytes) {
  const size_t c = SmallClass(bytes, kBytesStep, kMaxBytes);
  return AllocateSmall(GetState().free_bytes, c, (c + 1) * kBytesStep);
}

void ItemHeap::FreeBytes(void* block, size_t bytes) {
  if (block == nullptr) return;
  const size_t c = SmallClass(bytes, kBytesStep, kMaxBytes);
  FreeSmall(GetState().free_bytes, c, (c + 1) * kBytesStep, block);
}

size_t ItemHeap::bytes_in_use() {
  return GetState().in_use.load(std::memory_order_relaxed);
}

size_t ItemHeap::reserved() {
  State& s = GetState();
  std::lock_guard lock(s.mu);
  return s.reserved;
}

bool ItemHeap::Contains(const void* p) {
  State& s = GetState();
  std::lock_guard lock(s.mu);
  const auto* c = static_cast<const unsigned char*>(p);
  return s.base != nullptr && c >= s.base && c < s.base + s.reserved;
}

}  // namespace tandem::crdt

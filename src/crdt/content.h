#pragma once
// Item contents (yjs `src/structs/Content*.js`). A content knows its length in clock units,
// whether it counts towards its parent's length, how to split and merge, and how to encode.

#include <cstdint>
#include <memory>
#include <new>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "crdt/item_heap.h"
#include "lib0/any.h"

namespace tandem::crdt {

class UpdateEncoder;
class UpdateDecoder;
struct Type;

// Content refs as written in the low 5 bits of an item's info byte.
enum class ContentRef : uint8_t {
  kGC = 0,
  kDeleted = 1,
  kJson = 2,
  kBinary = 3,
  kString = 4,
  kEmbed = 5,
  kFormat = 6,
  kType = 7,
  kAny = 8,
  kDoc = 9,
  kSkip = 10,
};

struct DeletedContent {
  uint64_t len = 0;
};
struct JsonContent {  // legacy: values stored as JSON text in v1
  std::vector<lib0::Any> values;
};
struct BinaryContent {
  std::vector<uint8_t> bytes;
};
struct EmbedContent {
  lib0::Any value;
};
// A format's value is shared, not copied: yjs compares attribute values with `===`, so objects
// are equal only to themselves (the same ContentFormat's value), which a pointer models.
using SharedAny = std::shared_ptr<const lib0::Any>;
struct FormatContent {
  std::string key;
  SharedAny value;
};
struct TypeContent {
  std::unique_ptr<Type> type;
};
struct AnyContent {
  std::vector<lib0::Any> values;
};
struct DocContent {
  std::string guid;
  lib0::Any opts;
};

// The content of one item, in 8 bytes: every item holds one, and most hold a short string or
// nothing (deleted), so the common kinds live inline and the rest behind one 32-bit handle into
// the ItemHeap.
//   - Deleted: the length.
//   - String: UTF-8 of up to 4 bytes inline, longer in a block of its own (in the ItemHeap up
//     to 256 bytes, else from malloc); the UTF-16 length (the clock length) is kept beside it.
//   - Type and every other kind: the handle of the owned object, which lives in the ItemHeap.
// Only 7 of the 8 bytes are used: an Item declares its content [[no_unique_address]] and puts
// its flag byte in the last one.
class Content {
 public:
  Content() = default;
  explicit Content(DeletedContent c) : kind_(static_cast<uint8_t>(ContentRef::kDeleted)) {
    set_deleted_len(c.len);
  }
  explicit Content(TypeContent c);
  explicit Content(JsonContent c)
      : slot_(Box(std::move(c))), kind_(static_cast<uint8_t>(ContentRef::kJson)) {}
  explicit Content(BinaryContent c)
      : slot_(Box(std::move(c))), kind_(static_cast<uint8_t>(ContentRef::kBinary)) {}
  explicit Content(EmbedContent c)
      : slot_(Box(std::move(c))), kind_(static_cast<uint8_t>(ContentRef::kEmbed)) {}
  explicit Content(FormatContent c)
      : slot_(Box(std::move(c))), kind_(static_cast<uint8_t>(ContentRef::kFormat)) {}
  explicit Content(AnyContent c)
      : slot_(Box(std::move(c))), kind_(static_cast<uint8_t>(ContentRef::kAny)) {}
  explicit Content(DocContent c)
      : slot_(Box(std::move(c))), kind_(static_cast<uint8_t>(ContentRef::kDoc)) {}
  Content(Content&& other) noexcept;
  Content& operator=(Content&& other) noexcept;
  ~Content() {
    if (Owns()) Release();
  }

  // REQUIRES: valid UTF-8. Throws std::length_error at 4 GiB or more.
  static Content String(std::string_view utf8);
  static Content Deleted(uint64_t len) { return Content(DeletedContent{len}); }

  ContentRef ref() const { return static_cast<ContentRef>(kind_ & 0x0f); }
  uint64_t length() const {
    if (ref() == ContentRef::kString) return utf16_len();
    if (ref() == ContentRef::kDeleted) return deleted_len();
    return LengthOfOtherKind();
  }
  bool countable() const { return ref() != ContentRef::kDeleted && ref() != ContentRef::kFormat; }

  // The text of a String content (REQUIRES: ref() == kString).
  std::string_view string() const {
    const uint8_t kind = inline_bytes();
    if (kind <= kInlineMax) return std::string_view(inline_chars(), kind);
    const char* block = heap();
    if (kind == kPooledAscii) return std::string_view(block, utf16_small_);
    return std::string_view(block + kHeapHeader, HeapBytes(block));
  }
  // The Type of a Type content, or null for other kinds.
  Type* type() const { return ref() == ContentRef::kType ? Unbox<Type>() : nullptr; }
  // Hands over the Type of a Type content and leaves an empty Deleted content.
  std::unique_ptr<Type> TakeType() {
    std::unique_ptr<Type> t(type());
    if (t != nullptr) {
      set_ref(ContentRef::kDeleted);
      set_deleted_len(0);
    }
    return t;
  }

  // Splits at `offset` (clock units): this keeps [0, offset), the result holds the rest.
  // REQUIRES: splittable kind (Deleted, JSON, String, Any) and 0 < offset < length().
  Content Splice(uint64_t offset);
  // Appends `right` if both are of a mergeable kind; returns false (and changes nothing) if not.
  bool MergeWith(Content& right);
  // Writes the content, skipping its first `offset` units.
  void Write(UpdateEncoder& encoder, uint64_t offset) const;
  // The same for an encoder of a known format (no virtual call per field). Instantiated for
  // UpdateEncoderV1 and UpdateEncoderV2.
  template <typename Encoder>
  void WriteTo(Encoder& encoder, uint64_t offset) const;
  // A deep copy (types are copied empty, as yjs `_copy`).
  Content Copy() const;

  // The boxed kinds (JSON, Binary, Embed, Format, Any, Doc), or null for another kind.
  template <typename T>
  T* get() {
    if constexpr (std::is_same_v<T, JsonContent>)
      return Is(ContentRef::kJson) ? Unbox<T>() : nullptr;
    if constexpr (std::is_same_v<T, BinaryContent>) {
      return Is(ContentRef::kBinary) ? Unbox<T>() : nullptr;
    }
    if constexpr (std::is_same_v<T, EmbedContent>) {
      return Is(ContentRef::kEmbed) ? Unbox<T>() : nullptr;
    }
    if constexpr (std::is_same_v<T, FormatContent>) {
      return Is(ContentRef::kFormat) ? Unbox<T>() : nullptr;
    }
    if constexpr (std::is_same_v<T, AnyContent>) return Is(ContentRef::kAny) ? Unbox<T>() : nullptr;
    if constexpr (std::is_same_v<T, DocContent>) return Is(ContentRef::kDoc) ? Unbox<T>() : nullptr;
  }
  template <typename T>
  const T* get() const {
    return const_cast<Content*>(this)->get<T>();
  }

 private:
  // A heap string block: the UTF-8 byte count (uint32_t), then the bytes.
  static constexpr size_t kHeapHeader = sizeof(uint32_t);
  // inline_bytes() of a string in a block of its own. Up to ItemHeap::kMaxBytes, blocks come
  // from the ItemHeap (no allocator header, 8-byte steps): ASCII text alone (its byte count is
  // its UTF-16 length), other text after a byte count (uint32_t). Longer text is in a malloc
  // block, after its byte count.
  static constexpr uint8_t kPooledAscii = 0x0d;
  static constexpr uint8_t kPooledString = 0x0e;
  static constexpr uint8_t kHeapString = 0x0f;
  static constexpr uint16_t kLongString = 0xffff;
  static constexpr size_t kInlineMax = 4;
  // Deleted lengths keep 48 bits: the slot and utf16_small_. Longer ones (only a malformed
  // update has them) saturate, which keeps them out of range for every clock check.
  static constexpr uint64_t kMaxDeletedLen = (uint64_t{1} << 48) - 1;

  uint64_t deleted_len() const { return slot_ | (uint64_t{utf16_small_} << 32); }
  void set_deleted_len(uint64_t n) {
    n = n < kMaxDeletedLen ? n : kMaxDeletedLen;
    slot_ = static_cast<uint32_t>(n);
    utf16_small_ = static_cast<uint16_t>(n >> 32);
  }
  const char* inline_chars() const { return reinterpret_cast<const char*>(&slot_); }
  char* inline_chars() { return reinterpret_cast<char*>(&slot_); }
  // The block of a pooled or heap string (a heap string's slot names a cell in the ItemHeap that
  // holds the malloc pointer).
  char* heap() const {
    void* p = ItemHeap::Decompress(slot_);
    return inline_bytes() != kHeapString ? static_cast<char*>(p) : *static_cast<char**>(p);
  }
  template <typename T>
  T* Unbox() const {
    return static_cast<T*>(ItemHeap::Decompress(slot_));
  }

  uint8_t inline_bytes() const { return kind_ >> 4; }
  void set_ref(ContentRef r) {
    kind_ = static_cast<uint8_t>((kind_ & 0xf0) | static_cast<uint8_t>(r));
  }
  void set_inline_bytes(uint8_t n) { kind_ = static_cast<uint8_t>((kind_ & 0x0f) | (n << 4)); }
  uint64_t utf16_len() const { return utf16_small_ != kLongString ? utf16_small_ : LongUtf16Len(); }
  uint32_t LongUtf16Len() const;
  // REQUIRES: for n >= kLongString, a heap string with 4 bytes of room after its bytes.
  void set_utf16_len(uint64_t n);
  // Bytes of a heap block for `bytes` of text of `utf16_len` units.
  static size_t HeapBlockSize(uint64_t bytes, uint64_t utf16_len) {
    return kHeapHeader + bytes + (utf16_len >= kLongString ? sizeof(uint32_t) : 0);
  }

  // A boxed kind lives in an ItemHeap block, so that the slot names it by a 32-bit handle.
  template <typename T>
  static uint32_t Box(T&& c) {
    using Boxed = std::remove_cvref_t<T>;
    static_assert(sizeof(Boxed) <= ItemHeap::kMaxBlock);
    void* block = ItemHeap::AllocateBlock(sizeof(Boxed));
    return ItemHeap::Compress(new (block) Boxed(std::forward<T>(c)));
  }
  template <typename T>
  void DeleteBox() {
    T* box = Unbox<T>();
    box->~T();
    ItemHeap::FreeBlock(box, sizeof(T));
  }
  static uint32_t HeapBytes(const char* heap);
  // The block kind for a string of `bytes` UTF-8 bytes and `units` UTF-16 units, and the bytes
  // its block takes.
  static uint8_t BlockKind(uint64_t bytes, uint64_t units);
  static size_t BlockBytes(uint8_t kind, uint64_t bytes, uint64_t units);
  // A block for such a string (a malloc block of at least `malloc_bytes`): sets the kind, the
  // slot (so an inline text is gone) and the byte count; returns where the text goes.
  char* NewBlock(uint64_t bytes, uint64_t units, size_t malloc_bytes);
  // Frees the block of a string of `bytes` UTF-8 bytes and `units` UTF-16 units held in one.
  void FreeBlock(uint64_t bytes, uint64_t units);
  // The same for a block of `kind` named by `slot` (a string's former block, once the slot moved
  // on), of `block_bytes` if pooled.
  static void FreeStringBlock(uint8_t kind, uint32_t slot, size_t block_bytes);
  uint64_t LengthOfOtherKind() const;
  bool Is(ContentRef r) const { return ref() == r; }
  // Whether the slot owns memory (deleted contents and inline strings own none).
  bool Owns() const {
    return ref() != ContentRef::kDeleted &&
           (ref() != ContentRef::kString || inline_bytes() > kInlineMax);
  }
  // Frees what the slot owns and leaves an empty Deleted content.
  void Release();
  // Takes over what `other` holds (this owns nothing yet) and leaves it an empty Deleted content.
  void StealFrom(Content& other) noexcept;
  // Replaces the text of a String content.
  void SetString(std::string_view utf8, uint64_t utf16_len);

  // Deleted: the low 32 bits of the length. String: up to 4 bytes inline, or the handle of its
  // block. Type and the boxed kinds: the handle of their ItemHeap block.
  uint32_t slot_ = 0;
  // String: the clock length (UTF-16 units), or kLongString: then a uint32_t after the bytes
  // holds it (only a heap string can be that long). Deleted: bits 32..47 of the length.
  uint16_t utf16_small_ = 0;
  // The ContentRef (low 4 bits) and, for a String, the inline byte count or kPooledString or
  // kHeapString (high 4).
  uint8_t kind_ = static_cast<uint8_t>(ContentRef::kDeleted);
};

// Reads a content of the given ref (1..9). Errors are left in the decoder.
Content ReadContent(UpdateDecoder& decoder, ContentRef ref);

}  // namespace tandem::crdt

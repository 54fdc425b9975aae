#pragma once
// Item contents (yjs `src/structs/Content*.js`). A content knows its length in clock units,
// whether it counts towards its parent's length, how to split and merge, and how to encode.

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

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

// The content of one item, in 16 bytes: every item holds one, and most hold a short string or
// nothing (deleted), so the common kinds live inline and the rest behind one pointer.
//   - Deleted: the length.
//   - String: UTF-8 of up to 8 bytes inline, longer in a heap block of its own; the UTF-16
//     length (the clock length) is kept beside it.
//   - Type: the owned Type; every other kind: an owned box.
// Only 14 of the 16 bytes are used: an Item declares its content [[no_unique_address]] and puts
// its flag bytes in the last two.
class Content {
 public:
  Content() = default;
  explicit Content(DeletedContent c) : kind_(static_cast<uint8_t>(ContentRef::kDeleted)) {
    slot_.len = c.len;
  }
  explicit Content(TypeContent c) : kind_(static_cast<uint8_t>(ContentRef::kType)) {
    slot_.type = c.type.release();
  }
  explicit Content(JsonContent c) : kind_(static_cast<uint8_t>(ContentRef::kJson)) {
    slot_.json = Box(std::move(c));
  }
  explicit Content(BinaryContent c) : kind_(static_cast<uint8_t>(ContentRef::kBinary)) {
    slot_.binary = Box(std::move(c));
  }
  explicit Content(EmbedContent c) : kind_(static_cast<uint8_t>(ContentRef::kEmbed)) {
    slot_.embed = Box(std::move(c));
  }
  explicit Content(FormatContent c) : kind_(static_cast<uint8_t>(ContentRef::kFormat)) {
    slot_.format = Box(std::move(c));
  }
  explicit Content(AnyContent c) : kind_(static_cast<uint8_t>(ContentRef::kAny)) {
    slot_.any = Box(std::move(c));
  }
  explicit Content(DocContent c) : kind_(static_cast<uint8_t>(ContentRef::kDoc)) {
    slot_.doc = Box(std::move(c));
  }
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
    if (ref() == ContentRef::kDeleted) return slot_.len;
    return LengthOfOtherKind();
  }
  bool countable() const { return ref() != ContentRef::kDeleted && ref() != ContentRef::kFormat; }

  // The text of a String content (REQUIRES: ref() == kString).
  std::string_view string() const {
    return inline_bytes() != kHeapString
               ? std::string_view(slot_.chars, inline_bytes())
               : std::string_view(slot_.heap + kHeapHeader, HeapBytes(slot_.heap));
  }
  // The Type of a Type content, or null for other kinds.
  Type* type() const { return ref() == ContentRef::kType ? slot_.type : nullptr; }
  // Hands over the Type of a Type content and leaves an empty Deleted content.
  std::unique_ptr<Type> TakeType() {
    std::unique_ptr<Type> t(type());
    if (t != nullptr) {
      set_ref(ContentRef::kDeleted);
      slot_.len = 0;
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
      return Is(ContentRef::kJson) ? slot_.json : nullptr;
    if constexpr (std::is_same_v<T, BinaryContent>) {
      return Is(ContentRef::kBinary) ? slot_.binary : nullptr;
    }
    if constexpr (std::is_same_v<T, EmbedContent>) {
      return Is(ContentRef::kEmbed) ? slot_.embed : nullptr;
    }
    if constexpr (std::is_same_v<T, FormatContent>) {
      return Is(ContentRef::kFormat) ? slot_.format : nullptr;
    }
    if constexpr (std::is_same_v<T, AnyContent>) return Is(ContentRef::kAny) ? slot_.any : nullptr;
    if constexpr (std::is_same_v<T, DocContent>) return Is(ContentRef::kDoc) ? slot_.doc : nullptr;
  }
  template <typename T>
  const T* get() const {
    return const_cast<Content*>(this)->get<T>();
  }

 private:
  // A heap string block: the UTF-8 byte count (uint32_t), then the bytes.
  static constexpr size_t kHeapHeader = sizeof(uint32_t);
  static constexpr uint8_t kHeapString = 0x0f;  // inline_bytes() of a heap string
  static constexpr uint16_t kLongString = 0xffff;
  static constexpr size_t kInlineMax = 8;

  union Slot {
    uint64_t len;  // Deleted
    char chars[kInlineMax];
    char* heap;
    Type* type;
    JsonContent* json;
    BinaryContent* binary;
    EmbedContent* embed;
    FormatContent* format;
    AnyContent* any;
    DocContent* doc;
  };

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

  template <typename T>
  static T* Box(T&& c) {
    return new T(std::move(c));
  }
  static uint32_t HeapBytes(const char* heap);
  uint64_t LengthOfOtherKind() const;
  bool Is(ContentRef r) const { return ref() == r; }
  // Whether the slot owns memory (deleted contents and inline strings own none).
  bool Owns() const {
    return ref() != ContentRef::kDeleted &&
           (ref() != ContentRef::kString || inline_bytes() == kHeapString);
  }
  // Frees what the slot owns and leaves an empty Deleted content.
  void Release();
  // Takes over what `other` holds (this owns nothing yet) and leaves it an empty Deleted content.
  void StealFrom(Content& other) noexcept;
  // Replaces the text of a String content.
  void SetString(std::string_view utf8, uint64_t utf16_len);

  Slot slot_{.len = 0};
  // String: the clock length (UTF-16 units), or kLongString: then a uint32_t after the bytes
  // holds it (only a heap string can be that long). Two bytes here keep an Item at 48.
  uint16_t utf16_small_ = 0;
  // The ContentRef (low 4 bits) and, for a String, the inline byte count or kHeapString (high 4).
  uint8_t kind_ = static_cast<uint8_t>(ContentRef::kDeleted);
};

// Reads a content of the given ref (1..9). Errors are left in the decoder.
Content ReadContent(UpdateDecoder& decoder, ContentRef ref);

}  // namespace tandem::crdt

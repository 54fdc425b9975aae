#pragma once
// Item contents (yjs `src/structs/Content*.js`). A content knows its length in clock units,
// whether it counts towards its parent's length, how to split and merge, and how to encode.

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <type_traits>
#include <variant>
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
struct StringContent {
  std::string utf8;
  uint64_t utf16_len = 0;  // the clock length
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

// A content kind kept behind a pointer: rare kinds with large payloads would otherwise make
// every item (most hold strings or nothing) as large as the largest kind.
template <typename T>
struct Boxed {
  std::unique_ptr<T> value;
};
template <typename T>
inline constexpr bool kBoxedContent =
    std::is_same_v<T, EmbedContent> || std::is_same_v<T, FormatContent> ||
    std::is_same_v<T, DocContent>;

class Content {
 public:
  // The order gives ContentRef (index + 1).
  using Variant =
      std::variant<DeletedContent, JsonContent, BinaryContent, StringContent, Boxed<EmbedContent>,
                   Boxed<FormatContent>, TypeContent, AnyContent, Boxed<DocContent>>;

  Content() : v_(DeletedContent{0}) {}
  template <typename T>
  explicit Content(T&& c) : v_(Wrap(std::forward<T>(c))) {}
  Content(Content&&) noexcept;
  Content& operator=(Content&&) noexcept;
  ~Content();

  static Content String(std::string utf8);
  static Content Deleted(uint64_t len) { return Content(DeletedContent{len}); }

  ContentRef ref() const { return static_cast<ContentRef>(v_.index() + 1); }
  uint64_t length() const;
  bool countable() const { return ref() != ContentRef::kDeleted && ref() != ContentRef::kFormat; }

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

  template <typename T>
  T* get() {
    if constexpr (kBoxedContent<T>) {
      auto* boxed = std::get_if<Boxed<T>>(&v_);
      return boxed == nullptr ? nullptr : boxed->value.get();
    } else {
      return std::get_if<T>(&v_);
    }
  }
  template <typename T>
  const T* get() const {
    return const_cast<Content*>(this)->get<T>();
  }

 private:
  template <typename T>
  static auto Wrap(T&& c) {
    using U = std::remove_cvref_t<T>;
    if constexpr (kBoxedContent<U>) {
      return Boxed<U>{std::make_unique<U>(std::forward<T>(c))};
    } else {
      return U(std::forward<T>(c));
    }
  }

  Variant v_;
};

// Reads a content of the given ref (1..9). Errors are left in the decoder.
Content ReadContent(UpdateDecoder& decoder, ContentRef ref);

}  // namespace tandem::crdt

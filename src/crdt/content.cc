#include "crdt/content.h"

#include <malloc.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>
#include <stdexcept>

#include "crdt/item.h"
#include "crdt/item_heap.h"
#include "crdt/update_codec.h"
#include "lib0/json.h"
#include "lib0/utf.h"

namespace tandem::crdt {

static_assert(sizeof(Content) == 8);

Content::Content(TypeContent c)
    : slot_(ItemHeap::Compress(c.type.release())), kind_(static_cast<uint8_t>(ContentRef::kType)) {}

void Content::StealFrom(Content& other) noexcept {
  // Every kind is a plain value or an owning handle: moving copies the slot and leaves the
  // source owning nothing.
  slot_ = other.slot_;
  utf16_small_ = other.utf16_small_;
  kind_ = other.kind_;
  other.kind_ = static_cast<uint8_t>(ContentRef::kDeleted);
  other.slot_ = 0;
  other.utf16_small_ = 0;
}

Content::Content(Content&& other) noexcept {
  StealFrom(other);
}

Content& Content::operator=(Content&& other) noexcept {
  if (this != &other) {
    if (Owns()) Release();
    StealFrom(other);
  }
  return *this;
}

void Content::Release() {
  switch (ref()) {
    case ContentRef::kString:
      if (inline_bytes() > kInlineMax) FreeBlock(string().size(), utf16_len());
      break;
    case ContentRef::kJson: DeleteBox<JsonContent>(); break;
    case ContentRef::kBinary: DeleteBox<BinaryContent>(); break;
    case ContentRef::kEmbed: DeleteBox<EmbedContent>(); break;
    case ContentRef::kFormat: DeleteBox<FormatContent>(); break;
    case ContentRef::kType: delete Unbox<Type>(); break;
    case ContentRef::kAny: DeleteBox<AnyContent>(); break;
    case ContentRef::kDoc: DeleteBox<DocContent>(); break;
    default: break;
  }
  kind_ = static_cast<uint8_t>(ContentRef::kDeleted);
  slot_ = 0;
  utf16_small_ = 0;
}

namespace {
// The size of the ItemHeap block that holds `n` bytes.
size_t RoundUpToStep(size_t n) {
  return (n + ItemHeap::kBytesStep - 1) & ~(ItemHeap::kBytesStep - 1);
}
}  // namespace

uint8_t Content::BlockKind(uint64_t bytes, uint64_t units) {
  if (bytes == units && bytes <= ItemHeap::kMaxBytes) return kPooledAscii;
  return HeapBlockSize(bytes, units) <= ItemHeap::kMaxBytes ? kPooledString : kHeapString;
}

size_t Content::BlockBytes(uint8_t kind, uint64_t bytes, uint64_t units) {
  return kind == kPooledAscii ? bytes : HeapBlockSize(bytes, units);
}

char* Content::NewBlock(uint64_t bytes, uint64_t units, size_t malloc_bytes) {
  const uint8_t kind = BlockKind(bytes, units);
  const size_t size = BlockBytes(kind, bytes, units);
  char* block;
  if (kind != kHeapString) {
    block = static_cast<char*>(ItemHeap::AllocateBytes(size));
    slot_ = ItemHeap::Compress(block);
  } else {
    block = static_cast<char*>(std::malloc(std::max(size, malloc_bytes)));
    if (block == nullptr) throw std::bad_alloc();
    void* cell;
    try {
      cell = ItemHeap::AllocateBlock(sizeof(char*));
    } catch (...) {
      std::free(block);
      throw;
    }
    *static_cast<char**>(cell) = block;
    slot_ = ItemHeap::Compress(cell);
  }
  set_inline_bytes(kind);
  if (kind == kPooledAscii) return block;
  const auto n = static_cast<uint32_t>(bytes);
  std::memcpy(block, &n, sizeof n);
  return block + kHeapHeader;
}

void Content::FreeBlock(uint64_t bytes, uint64_t units) {
  FreeStringBlock(inline_bytes(), slot_, BlockBytes(inline_bytes(), bytes, units));
}

void Content::FreeStringBlock(uint8_t kind, uint32_t slot, size_t block_bytes) {
  void* p = ItemHeap::Decompress(slot);
  if (kind == kHeapString) {
    std::free(*static_cast<char**>(p));
    ItemHeap::FreeBlock(p, sizeof(char*));
  } else {
    ItemHeap::FreeBytes(p, block_bytes);
  }
}

uint32_t Content::HeapBytes(const char* heap) {
  uint32_t n;
  std::memcpy(&n, heap, sizeof n);
  return n;
}

void Content::SetString(std::string_view utf8, uint64_t utf16_len) {
  if (Owns()) Release();
  kind_ = static_cast<uint8_t>(ContentRef::kString);
  if (utf8.size() <= kInlineMax) {
    set_inline_bytes(static_cast<uint8_t>(utf8.size()));
    slot_ = 0;
    if (!utf8.empty()) std::memcpy(inline_chars(), utf8.data(), utf8.size());
    set_utf16_len(utf16_len);
    return;
  }
  char* text = NewBlock(utf8.size(), utf16_len, 0);
  std::memcpy(text, utf8.data(), utf8.size());
  set_utf16_len(utf16_len);
}

uint32_t Content::LongUtf16Len() const {
  uint32_t n;
  const char* block = heap();
  std::memcpy(&n, block + kHeapHeader + HeapBytes(block), sizeof n);
  return n;
}

void Content::set_utf16_len(uint64_t n) {
  if (n < kLongString) {
    utf16_small_ = static_cast<uint16_t>(n);
    return;
  }
  utf16_small_ = kLongString;
  const auto units = static_cast<uint32_t>(n);
  char* block = heap();
  std::memcpy(block + kHeapHeader + HeapBytes(block), &units, sizeof units);
}

Content Content::String(std::string_view utf8) {
  // Decoders reject such strings first; this guards the editing API.
  if (utf8.size() > UINT32_MAX) throw std::length_error("a string content of 4 GiB or more");
  Content c;
  c.SetString(utf8, lib0::Utf16Length(utf8));
  return c;
}

uint64_t Content::LengthOfOtherKind() const {
  switch (ref()) {
    case ContentRef::kJson: return Unbox<JsonContent>()->values.size();
    case ContentRef::kAny: return Unbox<AnyContent>()->values.size();
    default: return 1;
  }
}

namespace {
// JS str.slice(begin, end) on UTF-8 text of `utf16_len` UTF-16 units.
std::string SliceString(std::string_view s, uint64_t utf16_len, uint64_t begin, uint64_t end) {
  if (utf16_len == s.size()) return std::string(s.substr(begin, end - begin));  // ASCII-only
  return lib0::Utf16Slice(s, begin, end);
}
}  // namespace

Content Content::Splice(uint64_t offset) {
  switch (ref()) {
    case ContentRef::kDeleted: {
      Content right = Content::Deleted(deleted_len() - offset);
      set_deleted_len(offset);
      return right;
    }
    case ContentRef::kJson:
    case ContentRef::kAny: {
      auto& v =
          ref() == ContentRef::kJson ? Unbox<JsonContent>()->values : Unbox<AnyContent>()->values;
      std::vector<lib0::Any> tail(
          std::make_move_iterator(v.begin() + static_cast<ptrdiff_t>(offset)),
          std::make_move_iterator(v.end()));
      v.resize(offset);
      return ref() == ContentRef::kJson ? Content(JsonContent{std::move(tail)})
                                        : Content(AnyContent{std::move(tail)});
    }
    case ContentRef::kString: {
      // yjs ContentString.splice: a surrogate pair cut in half becomes U+FFFD on both sides
      // (one UTF-16 unit each, so the lengths stay).
      const std::string_view s = string();
      Content right;
      const uint64_t len = utf16_len();
      if (len == s.size()) {  // ASCII: UTF-16 offsets are byte offsets
        right.SetString(s.substr(offset), len - offset);
        const uint8_t kind = inline_bytes();
        if (kind > kInlineMax && offset <= kInlineMax) {
          SetString(std::string(s.substr(0, offset)), offset);
        } else if (kind == kPooledAscii || kind == kPooledString) {
          // A pooled block is exactly of its string's size class and kind: move if they change.
          const size_t old_block = BlockBytes(kind, s.size(), len);
          if (BlockKind(offset, offset) != kind ||
              RoundUpToStep(BlockBytes(kind, offset, offset)) != RoundUpToStep(old_block)) {
            const uint32_t old_slot = slot_;
            std::memcpy(NewBlock(offset, offset, 0), s.data(), offset);
            FreeStringBlock(kind, old_slot, old_block);
          } else if (kind == kPooledString) {
            const auto n = static_cast<uint32_t>(offset);
            std::memcpy(heap(), &n, sizeof n);
          }
          set_utf16_len(offset);
        } else if (kind == kHeapString) {
          // Shrinking a malloc block in place gives its tail back without copying.
          char* shrunk = static_cast<char*>(std::realloc(heap(), HeapBlockSize(offset, offset)));
          if (shrunk != nullptr) *static_cast<char**>(ItemHeap::Decompress(slot_)) = shrunk;
          const auto n = static_cast<uint32_t>(offset);
          std::memcpy(heap(), &n, sizeof n);
          set_utf16_len(offset);
        } else {
          set_inline_bytes(static_cast<uint8_t>(offset));
          set_utf16_len(offset);
        }
      } else {
        right.SetString(SliceString(s, len, offset, len), len - offset);
        SetString(SliceString(s, len, 0, offset), offset);
      }
      return right;
    }
    default: return Content::Deleted(0);  // unreachable for well-formed callers
  }
}

bool Content::MergeWith(Content& right) {
  if (ref() != right.ref()) return false;
  switch (ref()) {
    case ContentRef::kDeleted: set_deleted_len(deleted_len() + right.deleted_len()); return true;
    case ContentRef::kJson:
    case ContentRef::kAny: {
      auto& l =
          ref() == ContentRef::kJson ? Unbox<JsonContent>()->values : Unbox<AnyContent>()->values;
      auto& r = ref() == ContentRef::kJson ? right.Unbox<JsonContent>()->values
                                           : right.Unbox<AnyContent>()->values;
      l.insert(l.end(), std::make_move_iterator(r.begin()), std::make_move_iterator(r.end()));
      return true;
    }
    case ContentRef::kString: {
      const std::string_view l = string();
      const std::string_view r = right.string();
      const uint64_t bytes = uint64_t{l.size()} + r.size();
      const uint64_t units = utf16_len() + right.utf16_len();
      if (bytes > UINT32_MAX) return false;  // a content keeps at most 4 GiB: stay two items
      if (bytes <= kInlineMax) {
        std::memcpy(inline_chars() + l.size(), r.data(), r.size());
        set_inline_bytes(static_cast<uint8_t>(bytes));
      } else {
        // A pooled block is exactly of its string's size class and kind; a malloc block grows
        // geometrically (typing appends one character at a time), using malloc's slack first.
        const uint8_t kind = inline_bytes();
        const uint8_t new_kind = BlockKind(bytes, units);
        char* block = kind > kInlineMax ? heap() : nullptr;
        const size_t need = BlockBytes(new_kind, bytes, units);
        size_t have = 0;
        if (kind == kHeapString) have = malloc_usable_size(block);
        if (kind == kPooledAscii || kind == kPooledString) {
          have = RoundUpToStep(BlockBytes(kind, l.size(), utf16_len()));
        }
        char* text;
        if (new_kind == kind && need <= have) {
          text = block + (kind == kPooledAscii ? 0 : kHeapHeader);
          if (kind != kPooledAscii) {
            const auto n = static_cast<uint32_t>(bytes);
            std::memcpy(block, &n, sizeof n);
          }
        } else {
          const size_t old_block = kind > kInlineMax ? BlockBytes(kind, l.size(), utf16_len()) : 0;
          const uint32_t old_slot = slot_;
          // NewBlock overwrites the slot, which holds the text of an inline string.
          char inline_text[kInlineMax];
          const char* left_text = l.data();
          if (block == nullptr) {
            left_text = static_cast<const char*>(std::memcpy(inline_text, l.data(), l.size()));
          }
          text = NewBlock(bytes, units, have + have / 2);
          std::memcpy(text, left_text, l.size());
          if (block != nullptr) FreeStringBlock(kind, old_slot, old_block);
        }
        std::memcpy(text + l.size(), r.data(), r.size());
      }
      set_utf16_len(units);
      return true;
    }
    default: return false;
  }
}

void Content::Write(UpdateEncoder& e, uint64_t offset) const {
  WriteTo(e, offset);
}

template <typename Encoder>
void Content::WriteTo(Encoder& e, uint64_t offset) const {
  switch (ref()) {
    case ContentRef::kDeleted: e.WriteLen(deleted_len() - offset); break;
    case ContentRef::kJson: {
      const auto& v = get<JsonContent>()->values;
      e.WriteLen(v.size() - offset);
      for (size_t i = offset; i < v.size(); ++i) e.WriteString(lib0::ToJson(v[i]));
      break;
    }
    case ContentRef::kBinary: e.WriteBuf(get<BinaryContent>()->bytes); break;
    case ContentRef::kString: {
      if (offset == 0) {
        e.WriteString(string());
      } else {
        e.WriteString(SliceString(string(), utf16_len(), offset, utf16_len()));
      }
      break;
    }
    case ContentRef::kEmbed: e.WriteJson(get<EmbedContent>()->value); break;
    case ContentRef::kFormat: {
      const auto* f = get<FormatContent>();
      e.WriteKey(f->key);
      e.WriteJson(*f->value);
      break;
    }
    case ContentRef::kType: {
      const Type& t = *Unbox<Type>();
      e.WriteTypeRef(static_cast<uint64_t>(t.ref));
      if (t.ref == TypeRef::kXmlElement || t.ref == TypeRef::kXmlHook) e.WriteKey(t.name);
      break;
    }
    case ContentRef::kAny: {
      const auto& v = get<AnyContent>()->values;
      e.WriteLen(v.size() - offset);
      for (size_t i = offset; i < v.size(); ++i) e.WriteAny(v[i]);
      break;
    }
    case ContentRef::kDoc: {
      const auto* d = get<DocContent>();
      e.WriteString(d->guid);
      e.WriteAny(d->opts);
      break;
    }
    default: break;
  }
}

template void Content::WriteTo(UpdateEncoder&, uint64_t) const;
template void Content::WriteTo(UpdateEncoderV1&, uint64_t) const;
template void Content::WriteTo(UpdateEncoderV2&, uint64_t) const;

Content Content::Copy() const {
  switch (ref()) {
    case ContentRef::kDeleted: return Content::Deleted(deleted_len());
    case ContentRef::kJson: return Content(JsonContent(*get<JsonContent>()));
    case ContentRef::kBinary: return Content(BinaryContent(*get<BinaryContent>()));
    case ContentRef::kString: {
      Content c;
      c.SetString(string(), utf16_len());
      return c;
    }
    case ContentRef::kEmbed: return Content(EmbedContent(*get<EmbedContent>()));
    case ContentRef::kFormat: return Content(FormatContent(*get<FormatContent>()));
    case ContentRef::kType: {
      auto t = std::make_unique<Type>();
      t->ref = Unbox<Type>()->ref;
      t->name = Unbox<Type>()->name;
      return Content(TypeContent{std::move(t)});
    }
    case ContentRef::kAny: return Content(AnyContent(*get<AnyContent>()));
    case ContentRef::kDoc: return Content(DocContent(*get<DocContent>()));
    default: return Content::Deleted(0);
  }
}

Content ReadContent(UpdateDecoder& d, ContentRef ref) {
  lib0::Decoder& rest = d.rest();
  switch (ref) {
    case ContentRef::kDeleted: return Content::Deleted(d.ReadLen());
    case ContentRef::kJson: {
      const uint64_t n = d.ReadLen();
      JsonContent c;
      for (uint64_t i = 0; i < n && d.ok(); ++i) {
        const std::string_view text = d.ReadString();
        if (text == "undefined") {
          c.values.emplace_back();
          continue;
        }
        auto parsed = lib0::ParseJson(text);
        if (!parsed.ok()) {
          d.Fail("invalid JSON content");
          break;
        }
        c.values.push_back(std::move(parsed).value());
      }
      return Content(std::move(c));
    }
    case ContentRef::kBinary: {
      auto b = d.ReadBuf();
      return Content(BinaryContent{std::vector<uint8_t>(b.begin(), b.end())});
    }
    case ContentRef::kString: {
      const std::string_view text = d.ReadString();
      if (text.size() > UINT32_MAX) {
        d.Fail("string content of 4 GiB or more");
        return Content::Deleted(0);
      }
      return Content::String(text);
    }
    case ContentRef::kEmbed: return Content(EmbedContent{d.ReadJson()});
    case ContentRef::kFormat: {
      FormatContent f;
      f.key = d.ReadKey();
      f.value = std::make_shared<const lib0::Any>(d.ReadJson());
      return Content(std::move(f));
    }
    case ContentRef::kType: {
      auto t = std::make_unique<Type>();
      const uint64_t type_ref = d.ReadTypeRef();
      if (type_ref > static_cast<uint64_t>(TypeRef::kXmlText)) {
        d.Fail("unknown type ref " + std::to_string(type_ref));
        return Content::Deleted(0);
      }
      t->ref = static_cast<TypeRef>(type_ref);
      if (t->ref == TypeRef::kXmlElement || t->ref == TypeRef::kXmlHook) t->name = d.ReadKey();
      return Content(TypeContent{std::move(t)});
    }
    case ContentRef::kAny: {
      const uint64_t n = d.ReadLen();
      AnyContent c;
      // Each value takes at least one byte of the rest: bound the count before reserving.
      if (n > rest.remaining()) {
        d.Fail("any content count larger than the input");
        return Content(std::move(c));
      }
      c.values.reserve(n);
      for (uint64_t i = 0; i < n && d.ok(); ++i) c.values.push_back(d.ReadAny());
      return Content(std::move(c));
    }
    case ContentRef::kDoc: {
      DocContent c;
      c.guid = std::string(d.ReadString());
      c.opts = d.ReadAny();
      return Content(std::move(c));
    }
    default:
      d.Fail("unknown content ref " + std::to_string(static_cast<int>(ref)));
      return Content::Deleted(0);
  }
}

}  // namespace tandem::crdt

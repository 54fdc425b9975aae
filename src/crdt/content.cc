#include "crdt/content.h"

#include <malloc.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>
#include <stdexcept>

#include "crdt/item.h"
#include "crdt/update_codec.h"
#include "lib0/json.h"
#include "lib0/utf.h"

namespace tandem::crdt {

static_assert(sizeof(Content) == 16);

void Content::StealFrom(Content& other) noexcept {
  // Every kind is a plain value or an owning raw pointer: moving copies the slot and leaves the
  // source owning nothing.
  slot_ = other.slot_;
  utf16_small_ = other.utf16_small_;
  kind_ = other.kind_;
  other.kind_ = static_cast<uint8_t>(ContentRef::kDeleted);
  other.slot_.len = 0;
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
      if (inline_bytes() == kHeapString) std::free(slot_.heap);
      break;
    case ContentRef::kJson: delete slot_.json; break;
    case ContentRef::kBinary: delete slot_.binary; break;
    case ContentRef::kEmbed: delete slot_.embed; break;
    case ContentRef::kFormat: delete slot_.format; break;
    case ContentRef::kType: delete slot_.type; break;
    case ContentRef::kAny: delete slot_.any; break;
    case ContentRef::kDoc: delete slot_.doc; break;
    default: break;
  }
  kind_ = static_cast<uint8_t>(ContentRef::kDeleted);
  slot_.len = 0;
  utf16_small_ = 0;
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
    slot_.len = 0;
    if (!utf8.empty()) std::memcpy(slot_.chars, utf8.data(), utf8.size());
    set_utf16_len(utf16_len);
    return;
  }
  char* heap = static_cast<char*>(std::malloc(HeapBlockSize(utf8.size(), utf16_len)));
  if (heap == nullptr) throw std::bad_alloc();
  const auto n = static_cast<uint32_t>(utf8.size());
  std::memcpy(heap, &n, sizeof n);
  std::memcpy(heap + kHeapHeader, utf8.data(), utf8.size());
  set_inline_bytes(kHeapString);
  slot_.heap = heap;
  set_utf16_len(utf16_len);
}

uint32_t Content::LongUtf16Len() const {
  uint32_t n;
  std::memcpy(&n, slot_.heap + kHeapHeader + HeapBytes(slot_.heap), sizeof n);
  return n;
}

void Content::set_utf16_len(uint64_t n) {
  if (n < kLongString) {
    utf16_small_ = static_cast<uint16_t>(n);
    return;
  }
  utf16_small_ = kLongString;
  const auto units = static_cast<uint32_t>(n);
  std::memcpy(slot_.heap + kHeapHeader + HeapBytes(slot_.heap), &units, sizeof units);
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
    case ContentRef::kJson: return slot_.json->values.size();
    case ContentRef::kAny: return slot_.any->values.size();
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
      Content right = Content::Deleted(slot_.len - offset);
      slot_.len = offset;
      return right;
    }
    case ContentRef::kJson:
    case ContentRef::kAny: {
      auto& v = ref() == ContentRef::kJson ? slot_.json->values : slot_.any->values;
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
        if (inline_bytes() == kHeapString && offset <= kInlineMax) {
          SetString(std::string(s.substr(0, offset)), offset);
        } else if (inline_bytes() == kHeapString) {
          // Shrinking a malloc block in place gives its tail back without copying.
          char* shrunk =
              static_cast<char*>(std::realloc(slot_.heap, HeapBlockSize(offset, offset)));
          if (shrunk != nullptr) slot_.heap = shrunk;
          const auto n = static_cast<uint32_t>(offset);
          std::memcpy(slot_.heap, &n, sizeof n);
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
    case ContentRef::kDeleted: slot_.len += right.slot_.len; return true;
    case ContentRef::kJson:
    case ContentRef::kAny: {
      auto& l = ref() == ContentRef::kJson ? slot_.json->values : slot_.any->values;
      auto& r = ref() == ContentRef::kJson ? right.slot_.json->values : right.slot_.any->values;
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
        std::memcpy(slot_.chars + l.size(), r.data(), r.size());
        set_inline_bytes(static_cast<uint8_t>(bytes));
      } else {
        // Grow the block geometrically (typing appends one character at a time), using the
        // slack malloc already gave it first.
        char* heap = inline_bytes() == kHeapString ? slot_.heap : nullptr;
        const size_t need = HeapBlockSize(bytes, units);
        if (heap == nullptr || malloc_usable_size(heap) < need) {
          const size_t have = heap == nullptr ? 0 : malloc_usable_size(heap);
          char* grown = static_cast<char*>(std::malloc(std::max(need, have + have / 2)));
          if (grown == nullptr) throw std::bad_alloc();
          std::memcpy(grown + kHeapHeader, l.data(), l.size());
          std::free(heap);
          heap = grown;
        }
        std::memcpy(heap + kHeapHeader + l.size(), r.data(), r.size());
        const auto n = static_cast<uint32_t>(bytes);
        std::memcpy(heap, &n, sizeof n);
        slot_.heap = heap;
        set_inline_bytes(kHeapString);
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
    case ContentRef::kDeleted: e.WriteLen(slot_.len - offset); break;
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
      const Type& t = *slot_.type;
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
    case ContentRef::kDeleted: return Content::Deleted(slot_.len);
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
      t->ref = slot_.type->ref;
      t->name = slot_.type->name;
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

#include "crdt/content.h"

#include "crdt/item.h"
#include "crdt/update_codec.h"
#include "lib0/json.h"
#include "lib0/utf.h"

namespace tandem::crdt {

Content::Content(Content&&) noexcept = default;
Content& Content::operator=(Content&&) noexcept = default;
Content::~Content() = default;

Content Content::String(std::string utf8) {
  StringContent s;
  s.utf16_len = lib0::Utf16Length(utf8);
  s.utf8 = std::move(utf8);
  return Content(std::move(s));
}

uint64_t Content::length() const {
  switch (ref()) {
    case ContentRef::kDeleted: return get<DeletedContent>()->len;
    case ContentRef::kJson: return get<JsonContent>()->values.size();
    case ContentRef::kString: return get<StringContent>()->utf16_len;
    case ContentRef::kAny: return get<AnyContent>()->values.size();
    default: return 1;
  }
}

namespace {
// JS str.slice(begin, end) on a StringContent, UTF-16 indices.
std::string SliceString(const StringContent& s, uint64_t begin, uint64_t end) {
  if (s.utf16_len == s.utf8.size()) return s.utf8.substr(begin, end - begin);  // ASCII-only
  return lib0::Utf16Slice(s.utf8, begin, end);
}
}  // namespace

Content Content::Splice(uint64_t offset) {
  switch (ref()) {
    case ContentRef::kDeleted: {
      auto* d = get<DeletedContent>();
      Content right = Content::Deleted(d->len - offset);
      d->len = offset;
      return right;
    }
    case ContentRef::kJson: {
      auto& v = get<JsonContent>()->values;
      JsonContent right{std::vector<lib0::Any>(
          std::make_move_iterator(v.begin() + static_cast<ptrdiff_t>(offset)),
          std::make_move_iterator(v.end()))};
      v.resize(offset);
      return Content(std::move(right));
    }
    case ContentRef::kAny: {
      auto& v = get<AnyContent>()->values;
      AnyContent right{std::vector<lib0::Any>(
          std::make_move_iterator(v.begin() + static_cast<ptrdiff_t>(offset)),
          std::make_move_iterator(v.end()))};
      v.resize(offset);
      return Content(std::move(right));
    }
    case ContentRef::kString: {
      // yjs ContentString.splice: a surrogate pair cut in half becomes U+FFFD on both sides.
      auto* s = get<StringContent>();
      StringContent right;
      right.utf8 = SliceString(*s, offset, s->utf16_len);
      right.utf16_len = s->utf16_len - offset;
      s->utf8 = SliceString(*s, 0, offset);
      s->utf16_len = offset;
      return Content(std::move(right));
    }
    default: return Content::Deleted(0);  // unreachable for well-formed callers
  }
}

bool Content::MergeWith(Content& right) {
  if (ref() != right.ref()) return false;
  switch (ref()) {
    case ContentRef::kDeleted:
      get<DeletedContent>()->len += right.get<DeletedContent>()->len;
      return true;
    case ContentRef::kJson: {
      auto& l = get<JsonContent>()->values;
      auto& r = right.get<JsonContent>()->values;
      l.insert(l.end(), std::make_move_iterator(r.begin()), std::make_move_iterator(r.end()));
      return true;
    }
    case ContentRef::kAny: {
      auto& l = get<AnyContent>()->values;
      auto& r = right.get<AnyContent>()->values;
      l.insert(l.end(), std::make_move_iterator(r.begin()), std::make_move_iterator(r.end()));
      return true;
    }
    case ContentRef::kString: {
      auto* l = get<StringContent>();
      auto* r = right.get<StringContent>();
      l->utf8 += r->utf8;
      l->utf16_len += r->utf16_len;
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
    case ContentRef::kDeleted: e.WriteLen(get<DeletedContent>()->len - offset); break;
    case ContentRef::kJson: {
      const auto& v = get<JsonContent>()->values;
      e.WriteLen(v.size() - offset);
      for (size_t i = offset; i < v.size(); ++i) e.WriteString(lib0::ToJson(v[i]));
      break;
    }
    case ContentRef::kBinary: e.WriteBuf(get<BinaryContent>()->bytes); break;
    case ContentRef::kString: {
      const auto* s = get<StringContent>();
      if (offset == 0) {
        e.WriteString(s->utf8);
      } else {
        e.WriteString(SliceString(*s, offset, s->utf16_len));
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
      const Type& t = *get<TypeContent>()->type;
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
    case ContentRef::kDeleted: return Content(*get<DeletedContent>());
    case ContentRef::kJson: return Content(JsonContent(*get<JsonContent>()));
    case ContentRef::kBinary: return Content(BinaryContent(*get<BinaryContent>()));
    case ContentRef::kString: return Content(StringContent(*get<StringContent>()));
    case ContentRef::kEmbed: return Content(EmbedContent(*get<EmbedContent>()));
    case ContentRef::kFormat: return Content(FormatContent(*get<FormatContent>()));
    case ContentRef::kType: {
      auto t = std::make_unique<Type>();
      t->ref = get<TypeContent>()->type->ref;
      t->name = get<TypeContent>()->type->name;
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
        std::string text = d.ReadString();
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
    case ContentRef::kString: return Content::String(d.ReadString());
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
      c.guid = d.ReadString();
      c.opts = d.ReadAny();
      return Content(std::move(c));
    }
    default:
      d.Fail("unknown content ref " + std::to_string(static_cast<int>(ref)));
      return Content::Deleted(0);
  }
}

}  // namespace tandem::crdt

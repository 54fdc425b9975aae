#include "crdt/updates.h"

#include <algorithm>
#include <memory>
#include <optional>

#include "lib0/encoder.h"

namespace tandem::crdt {

namespace {
constexpr Clock kMaxClock = (Clock{1} << 53) - 1;
}  // namespace

void LazyStruct::Write(UpdateEncoder& e, uint64_t offset) const {
  switch (kind) {
    case Kind::kGC:
      e.WriteInfo(0);
      e.WriteLen(length - offset);
      return;
    case Kind::kSkip:
      e.WriteInfo(10);
      // Skip lengths go to the rest encoder even in v2 (not length-predictable).
      e.rest().WriteVarUint(length - offset);
      return;
    case Kind::kItem: break;
  }
  const OptionalId o = offset > 0 ? OptionalId(ID{id.client, id.clock + offset - 1}) : origin;
  const uint8_t info =
      static_cast<uint8_t>((static_cast<uint8_t>(content.ref()) & 0x1f) | (o ? 0x80 : 0) |
                           (right_origin ? 0x40 : 0) | (has_parent_sub ? 0x20 : 0));
  e.WriteInfo(info);
  if (o) e.WriteLeftId(o.id);
  if (right_origin) e.WriteRightId(right_origin.id);
  if (!o && !right_origin) {
    if (parent_kind == ParentKind::kRootKey) {
      e.WriteParentInfo(true);
      e.WriteString(parent_key);
    } else {
      // yjs throws on a parentless item here; kId is the only other shape the reader makes.
      e.WriteParentInfo(false);
      e.WriteLeftId(parent_id);
    }
    if (has_parent_sub) e.WriteString(parent_sub);
  }
  content.Write(e, offset);
}

LazyStructReader::LazyStructReader(UpdateDecoder& decoder, bool filter_skips)
    : decoder_(decoder), filter_skips_(filter_skips) {
  clients_left_ = decoder_.rest().ReadCount(1);
  Next();
}

bool LazyStructReader::ReadOne() {
  while (structs_left_ == 0) {
    if (clients_left_ == 0 || !decoder_.ok()) return false;
    --clients_left_;
    structs_left_ = decoder_.rest().ReadVarUint();
    client_ = decoder_.ReadClient();
    clock_ = decoder_.rest().ReadVarUint();
    if (!decoder_.ok()) return false;
  }
  --structs_left_;
  LazyStruct& s = current_;
  s = LazyStruct();
  s.id = ID{client_, clock_};
  const uint8_t info = decoder_.ReadInfo();
  if (info == 10) {
    s.kind = LazyStruct::Kind::kSkip;
    s.length = decoder_.rest().ReadVarUint();
  } else if ((info & 0x1f) != 0) {
    s.kind = LazyStruct::Kind::kItem;
    if (info & 0x80) s.origin = decoder_.ReadLeftId();
    if (info & 0x40) s.right_origin = decoder_.ReadRightId();
    const bool cant_copy_parent_info = (info & 0xc0) == 0;
    if (cant_copy_parent_info) {
      if (decoder_.ReadParentInfo()) {
        s.parent_kind = LazyStruct::ParentKind::kRootKey;
        s.parent_key = decoder_.ReadString();
      } else {
        s.parent_kind = LazyStruct::ParentKind::kId;
        s.parent_id = decoder_.ReadLeftId();
      }
      if (info & 0x20) {
        s.has_parent_sub = true;
        s.parent_sub = decoder_.ReadString();
      }
    }
    const auto ref = static_cast<ContentRef>(info & 0x1f);
    if (ref == ContentRef::kSkip || static_cast<uint8_t>(ref) > 10) {
      decoder_.Fail("unknown content ref " + std::to_string(info & 0x1f));
      return false;
    }
    s.content = ReadContent(decoder_, ref);
    s.length = s.content.length();
  } else {
    s.kind = LazyStruct::Kind::kGC;
    s.length = decoder_.ReadLen();
  }
  if (!decoder_.ok()) return false;
  if (s.length == 0 && s.kind != LazyStruct::Kind::kItem) {
    decoder_.Fail("zero-length struct");
    return false;
  }
  if (s.length > kMaxClock - clock_) {
    decoder_.Fail("clock out of range");
    return false;
  }
  clock_ += s.length;
  return true;
}

LazyStruct* LazyStructReader::Next() {
  do {
    has_current_ = ReadOne();
  } while (has_current_ && filter_skips_ && current_.kind == LazyStruct::Kind::kSkip);
  return current();
}

void LazyStructWriter::Flush() {
  if (written_ == 0) return;
  groups_.push_back({written_, encoder_.rest().Take()});
  written_ = 0;
}

void LazyStructWriter::Write(const LazyStruct& s, uint64_t offset) {
  if (written_ > 0 && current_client_ != s.id.client) Flush();
  if (written_ == 0) {
    current_client_ = s.id.client;
    encoder_.WriteClient(s.id.client);
    encoder_.rest().WriteVarUint(s.id.clock + offset);
  }
  s.Write(encoder_, offset);
  ++written_;
}

void LazyStructWriter::Finish() {
  Flush();
  lib0::Encoder& rest = encoder_.rest();
  rest.WriteVarUint(groups_.size());
  for (const Group& g : groups_) {
    rest.WriteVarUint(g.written);
    rest.WriteBytes(g.rest);
  }
  groups_.clear();
}

namespace {

// sliceStruct: the part of `left` from `diff` on.
LazyStruct SliceStruct(LazyStruct& left, uint64_t diff) {
  LazyStruct out;
  out.kind = left.kind;
  out.id = ID{left.id.client, left.id.clock + diff};
  out.length = left.length - diff;
  if (left.kind == LazyStruct::Kind::kItem) {
    out.origin = ID{left.id.client, left.id.clock + diff - 1};
    out.right_origin = left.right_origin;
    out.parent_kind = left.parent_kind;
    out.parent_key = left.parent_key;
    out.parent_id = left.parent_id;
    out.has_parent_sub = left.has_parent_sub;
    out.parent_sub = left.parent_sub;
    out.content = left.content.Splice(diff);
    left.length = diff;
    out.length = out.content.length();
  }
  return out;
}

// Item.mergeWith never succeeds on lazy items (their `right` is null, not the next struct);
// GC and Skip merge with their own kind.
bool LazyMergeWith(LazyStruct& left, const LazyStruct& right) {
  if (left.kind == LazyStruct::Kind::kItem || left.kind != right.kind) return false;
  left.length += right.length;
  return true;
}

Status DecoderStatus(const UpdateDecoder& d, const char* what) {
  return d.ok() ? Status::Ok() : d.status().WithContext(what);
}

}  // namespace

Result<Bytes> MergeUpdates(const std::vector<std::span<const uint8_t>>& updates,
                           UpdateFormat format) {
  if (updates.size() == 1) {
    TANDEM_RETURN_IF_ERROR(ValidateUpdate(updates[0], format));
    return Bytes(updates[0].begin(), updates[0].end());
  }
  std::vector<std::unique_ptr<UpdateDecoder>> decoders;
  std::vector<std::unique_ptr<LazyStructReader>> readers;
  for (auto u : updates) {
    decoders.push_back(MakeUpdateDecoder(format, u));
    readers.push_back(std::make_unique<LazyStructReader>(*decoders.back(), true));
  }
  auto encoder = MakeUpdateEncoder(format);
  LazyStructWriter writer(*encoder);
  std::optional<LazyStruct> curr_write;
  uint64_t curr_write_offset = 0;
  std::vector<LazyStructReader*> active;
  for (auto& r : readers) active.push_back(r.get());

  for (;;) {
    for (auto& d : decoders) {
      if (!d->ok()) return d->status().WithContext("merge");
    }
    // Higher clients first, then lower clocks; Skips after other structs at the same clock.
    active.erase(std::remove_if(active.begin(), active.end(),
                                [](LazyStructReader* r) { return r->current() == nullptr; }),
                 active.end());
    std::stable_sort(active.begin(), active.end(), [](LazyStructReader* a, LazyStructReader* b) {
      const LazyStruct& x = *a->current();
      const LazyStruct& y = *b->current();
      if (x.id.client == y.id.client) {
        if (x.id.clock == y.id.clock) {
          const bool xs = x.kind == LazyStruct::Kind::kSkip;
          const bool ys = y.kind == LazyStruct::Kind::kSkip;
          return !xs && ys;
        }
        return x.id.clock < y.id.clock;
      }
      return x.id.client > y.id.client;
    });
    if (active.empty()) break;
    LazyStructReader* curr_decoder = active[0];
    const ClientId first_client = curr_decoder->current()->id.client;
    if (curr_write) {
      LazyStruct* curr = curr_decoder->current();
      bool iterated = false;
      while (curr != nullptr &&
             curr->id.clock + curr->length <= curr_write->id.clock + curr_write->length &&
             curr->id.client >= curr_write->id.client) {
        curr = curr_decoder->Next();
        iterated = true;
      }
      if (curr == nullptr || curr->id.client != first_client ||
          (iterated && curr->id.clock > curr_write->id.clock + curr_write->length)) {
        continue;
      }
      if (first_client != curr_write->id.client) {
        writer.Write(*curr_write, curr_write_offset);
        curr_write = std::move(*curr);
        curr_write_offset = 0;
        curr_decoder->Next();
      } else if (curr_write->id.clock + curr_write->length < curr->id.clock) {
        if (curr_write->kind == LazyStruct::Kind::kSkip) {
          curr_write->length = curr->id.clock + curr->length - curr_write->id.clock;
        } else {
          writer.Write(*curr_write, curr_write_offset);
          LazyStruct skip;
          skip.kind = LazyStruct::Kind::kSkip;
          skip.id = ID{first_client, curr_write->id.clock + curr_write->length};
          skip.length = curr->id.clock - curr_write->id.clock - curr_write->length;
          curr_write = std::move(skip);
          curr_write_offset = 0;
        }
      } else {
        const uint64_t diff = curr_write->id.clock + curr_write->length - curr->id.clock;
        LazyStruct sliced;
        LazyStruct* next = curr;
        if (diff > 0) {
          if (curr_write->kind == LazyStruct::Kind::kSkip) {
            curr_write->length -= diff;
          } else {
            sliced = SliceStruct(*curr, diff);
            next = &sliced;
          }
        }
        if (!LazyMergeWith(*curr_write, *next)) {
          writer.Write(*curr_write, curr_write_offset);
          curr_write = std::move(*next);
          curr_write_offset = 0;
          curr_decoder->Next();
        }
      }
    } else {
      curr_write = std::move(*curr_decoder->current());
      curr_write_offset = 0;
      curr_decoder->Next();
    }
    for (LazyStruct* next = curr_decoder->current();
         next != nullptr && next->id.client == first_client &&
         next->id.clock == curr_write->id.clock + curr_write->length &&
         next->kind != LazyStruct::Kind::kSkip;
         next = curr_decoder->Next()) {
      writer.Write(*curr_write, curr_write_offset);
      curr_write = std::move(*next);
      curr_write_offset = 0;
    }
  }
  if (curr_write) writer.Write(*curr_write, curr_write_offset);
  writer.Finish();
  std::vector<DeleteSet> sets;
  for (auto& d : decoders) {
    sets.push_back(DeleteSet::Read(*d));
    TANDEM_RETURN_IF_ERROR(DecoderStatus(*d, "merge: delete set"));
  }
  DeleteSet::Merge(sets).Write(*encoder);
  return encoder->Finish();
}

Result<Bytes> DiffUpdate(std::span<const uint8_t> update, const StateVector& sv,
                         UpdateFormat format) {
  auto encoder = MakeUpdateEncoder(format);
  LazyStructWriter writer(*encoder);
  auto decoder = MakeUpdateDecoder(format, update);
  LazyStructReader reader(*decoder, false);
  while (reader.current() != nullptr) {
    LazyStruct* curr = reader.current();
    const ClientId client = curr->id.client;
    const Clock sv_clock = StateOf(sv, client);
    if (curr->kind == LazyStruct::Kind::kSkip) {
      reader.Next();  // the first written struct must not be a Skip
      continue;
    }
    if (curr->id.clock + curr->length > sv_clock) {
      writer.Write(*curr, sv_clock > curr->id.clock ? sv_clock - curr->id.clock : 0);
      reader.Next();
      while (reader.current() != nullptr && reader.current()->id.client == client) {
        writer.Write(*reader.current(), 0);
        reader.Next();
      }
    } else {
      while (reader.current() != nullptr && reader.current()->id.client == client &&
             reader.current()->id.clock + reader.current()->length <= sv_clock) {
        reader.Next();
      }
    }
  }
  TANDEM_RETURN_IF_ERROR(DecoderStatus(*decoder, "diff"));
  writer.Finish();
  DeleteSet ds = DeleteSet::Read(*decoder);
  TANDEM_RETURN_IF_ERROR(DecoderStatus(*decoder, "diff: delete set"));
  ds.Write(*encoder);
  return encoder->Finish();
}

Result<Bytes> EncodeStateVectorFromUpdate(std::span<const uint8_t> update, UpdateFormat format) {
  auto decoder = MakeUpdateDecoder(format, update);
  LazyStructReader reader(*decoder, false);
  lib0::Encoder body;
  uint64_t size = 0;
  LazyStruct* curr = reader.current();
  if (curr != nullptr) {
    ClientId curr_client = curr->id.client;
    bool stop_counting = curr->id.clock != 0;
    Clock curr_clock = stop_counting ? 0 : curr->id.clock + curr->length;
    for (; curr != nullptr; curr = reader.Next()) {
      if (curr_client != curr->id.client) {
        if (curr_clock != 0) {
          ++size;
          body.WriteVarUint(curr_client);
          body.WriteVarUint(curr_clock);
        }
        curr_client = curr->id.client;
        curr_clock = 0;
        stop_counting = curr->id.clock != 0;
      }
      if (curr->kind == LazyStruct::Kind::kSkip) stop_counting = true;
      if (!stop_counting) curr_clock = curr->id.clock + curr->length;
    }
    if (curr_clock != 0) {
      ++size;
      body.WriteVarUint(curr_client);
      body.WriteVarUint(curr_clock);
    }
  }
  TANDEM_RETURN_IF_ERROR(DecoderStatus(*decoder, "state vector from update"));
  lib0::Encoder out;
  out.WriteVarUint(size);
  out.WriteBytes(body.data());
  return out.Take();
}

Result<Bytes> ConvertUpdateFormat(std::span<const uint8_t> update, UpdateFormat from,
                                  UpdateFormat to) {
  auto decoder = MakeUpdateDecoder(from, update);
  LazyStructReader reader(*decoder, false);
  auto encoder = MakeUpdateEncoder(to);
  LazyStructWriter writer(*encoder);
  for (LazyStruct* curr = reader.current(); curr != nullptr; curr = reader.Next())
    writer.Write(*curr, 0);
  TANDEM_RETURN_IF_ERROR(DecoderStatus(*decoder, "convert"));
  writer.Finish();
  DeleteSet ds = DeleteSet::Read(*decoder);
  TANDEM_RETURN_IF_ERROR(DecoderStatus(*decoder, "convert: delete set"));
  ds.Write(*encoder);
  return encoder->Finish();
}

Status ValidateUpdate(std::span<const uint8_t> update, UpdateFormat format, bool allow_trailing) {
  auto decoder = MakeUpdateDecoder(format, update);
  LazyStructReader reader(*decoder, false);
  while (reader.current() != nullptr) reader.Next();
  TANDEM_RETURN_IF_ERROR(DecoderStatus(*decoder, "update"));
  (void)DeleteSet::Read(*decoder);
  TANDEM_RETURN_IF_ERROR(DecoderStatus(*decoder, "update: delete set"));
  if (!allow_trailing && decoder->rest().HasContent()) {
    const size_t left = decoder->rest().remaining();
    return MalformedError("update: " + std::to_string(left) +
                          " bytes after the delete set (a v2 update, or bytes appended to a v1 "
                          "update?)");
  }
  return Status::Ok();
}

}  // namespace tandem::crdt

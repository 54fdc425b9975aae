#include "crdt/relative_position.h"

#include "crdt/doc.h"
#include "crdt/doc_internal.h"
#include "lib0/decoder.h"
#include "lib0/encoder.h"
#include "lib0/json.h"

namespace tandem::crdt {

namespace {

RelativePosition CreateRelativePosition(const Type* type, std::optional<ID> item, int64_t assoc) {
  RelativePosition rpos;
  if (type->item == nullptr) {
    rpos.tname = type->root_name != nullptr ? *type->root_name : std::string();
  } else {
    rpos.type = type->item->id();
  }
  rpos.item = item;
  rpos.assoc = assoc;
  return rpos;
}

lib0::Any IdToJson(ID id) {
  lib0::Any::Object o;
  lib0::JsObjectSet(o, "client", lib0::Any(static_cast<double>(id.client)));
  lib0::JsObjectSet(o, "clock", lib0::Any(static_cast<double>(id.clock)));
  return lib0::Any(std::move(o));
}

std::optional<ID> IdFromJson(const lib0::Any* v) {
  if (v == nullptr || v->is_null() || v->is_undefined()) return std::nullopt;
  const lib0::Any* client = v->Find("client");
  const lib0::Any* clock = v->Find("clock");
  if (client == nullptr || clock == nullptr || client->kind() != lib0::Any::Kind::kNumber ||
      clock->kind() != lib0::Any::Kind::kNumber) {
    return ID{~ClientId{0}, 0};  // marks a malformed id; the caller reports it
  }
  return ID{static_cast<ClientId>(client->as_number()), static_cast<Clock>(clock->as_number())};
}

}  // namespace

RelativePosition CreateRelativePositionFromTypeIndex(const Type* type, uint64_t index,
                                                     int64_t assoc) {
  if (assoc < 0) {
    // Associated with the character on the left, or with the start of the type.
    if (index == 0) return CreateRelativePosition(type, std::nullopt, assoc);
    --index;
  }
  for (const Item* t = type->start; t != nullptr; t = t->right) {
    if (!t->deleted() && t->countable()) {
      if (t->length() > index) {
        return CreateRelativePosition(type, ID{t->client(), t->clock() + index}, assoc);
      }
      index -= t->length();
    }
    if (t->right == nullptr && assoc < 0) {
      return CreateRelativePosition(type, t->last_id(), assoc);  // the last available id
    }
  }
  return CreateRelativePosition(type, std::nullopt, assoc);
}

std::vector<uint8_t> EncodeRelativePosition(const RelativePosition& rpos) {
  lib0::Encoder e;
  if (rpos.item) {
    e.WriteVarUint(0);
    e.WriteVarUint(rpos.item->client);
    e.WriteVarUint(rpos.item->clock);
  } else if (rpos.tname) {
    e.WriteUint8(1);
    e.WriteVarString(*rpos.tname);
  } else if (rpos.type) {
    e.WriteUint8(2);
    e.WriteVarUint(rpos.type->client);
    e.WriteVarUint(rpos.type->clock);
  }
  e.WriteVarInt(rpos.assoc);
  return e.Take();
}

Result<RelativePosition> DecodeRelativePosition(std::span<const uint8_t> bytes) {
  lib0::Decoder d(bytes);
  RelativePosition rpos;
  switch (d.ReadVarUint()) {
    case 0: {
      const ClientId client = d.ReadVarUint();
      rpos.item = ID{client, d.ReadVarUint()};
      break;
    }
    case 1: rpos.tname = std::string(d.ReadVarString()); break;
    case 2: {
      const ClientId client = d.ReadVarUint();
      rpos.type = ID{client, d.ReadVarUint()};
      break;
    }
    default:
      if (d.ok()) return MalformedError("unknown relative position kind");
  }
  if (d.ok() && d.remaining() > 0) rpos.assoc = d.ReadVarInt();
  if (!d.ok()) return d.status().WithContext("relative position rejected");
  return rpos;
}

lib0::Any RelativePositionToJson(const RelativePosition& rpos) {
  lib0::Any::Object o;
  if (rpos.type) lib0::JsObjectSet(o, "type", IdToJson(*rpos.type));
  if (rpos.tname && !rpos.tname->empty()) lib0::JsObjectSet(o, "tname", lib0::Any(*rpos.tname));
  if (rpos.item) lib0::JsObjectSet(o, "item", IdToJson(*rpos.item));
  lib0::JsObjectSet(o, "assoc", lib0::Any(static_cast<double>(rpos.assoc)));
  return lib0::Any(std::move(o));
}

Result<RelativePosition> RelativePositionFromJson(const lib0::Any& json) {
  if (json.kind() != lib0::Any::Kind::kObject) {
    return InvalidArgumentError("a relative position must be an object");
  }
  RelativePosition rpos;
  rpos.type = IdFromJson(json.Find("type"));
  rpos.item = IdFromJson(json.Find("item"));
  const ClientId bad = ~ClientId{0};
  if ((rpos.type && rpos.type->client == bad) || (rpos.item && rpos.item->client == bad)) {
    return InvalidArgumentError("a relative position id needs numeric client and clock");
  }
  if (const lib0::Any* tname = json.Find("tname");
      tname != nullptr && tname->kind() == lib0::Any::Kind::kString) {
    rpos.tname = tname->as_string();
  }
  if (const lib0::Any* assoc = json.Find("assoc");
      assoc != nullptr && assoc->kind() == lib0::Any::Kind::kNumber) {
    rpos.assoc = static_cast<int64_t>(assoc->as_number());
  }
  return rpos;
}

std::optional<AbsolutePosition> CreateAbsolutePositionFromRelativePosition(
    const RelativePosition& rpos, Doc& doc) {
  const StructStore& store = DocInternals::store(doc);
  AbsolutePosition abs;
  abs.assoc = rpos.assoc;
  if (rpos.item) {
    const ID id = *rpos.item;
    if (store.GetState(id.client) <= id.clock) return std::nullopt;
    const Item* right = store.Find(id);
    if (right == nullptr || right->is_gc() || right->parent() == nullptr) return std::nullopt;
    abs.type = right->parent();
    if (abs.type->item == nullptr || !abs.type->item->deleted()) {
      const uint64_t diff = id.clock - right->clock();
      abs.index = (right->deleted() || !right->countable()) ? 0 : diff + (rpos.assoc >= 0 ? 0 : 1);
      for (const Item* n = right->left; n != nullptr; n = n->left) {
        if (!n->deleted() && n->countable()) abs.index += n->length();
      }
    }
    return abs;
  }
  if (rpos.tname) {
    abs.type = doc.GetOrCreateRoot(*rpos.tname);
  } else if (rpos.type) {
    const ID id = *rpos.type;
    if (store.GetState(id.client) <= id.clock) return std::nullopt;  // not there yet
    const Item* item = store.Find(id);
    Type* type = item == nullptr || item->is_gc() ? nullptr : item->content.type();
    if (type == nullptr) return std::nullopt;  // collected
    abs.type = type;
  } else {
    return std::nullopt;
  }
  abs.index = rpos.assoc >= 0 ? abs.type->length : 0;
  return abs;
}

}  // namespace tandem::crdt

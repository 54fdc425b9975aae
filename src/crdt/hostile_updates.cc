#include "crdt/hostile_updates.h"

#include <string>

#include "crdt/item.h"
#include "crdt/update_codec.h"

namespace tandem::crdt {

namespace {
constexpr uint8_t kTypeInfo = static_cast<uint8_t>(ContentRef::kType);
constexpr uint8_t kStringInfo = static_cast<uint8_t>(ContentRef::kString);
constexpr uint8_t kHasOrigin = 0x80;
constexpr uint64_t kYArray = 0;
}  // namespace

Bytes NestedArraysUpdate(ClientId client, size_t levels) {
  UpdateEncoderV1 e;
  e.rest().WriteVarUint(levels == 0 ? 0 : 1);
  if (levels > 0) {
    e.rest().WriteVarUint(levels);
    e.WriteClient(client);
    e.rest().WriteVarUint(0);
    for (size_t i = 0; i < levels; ++i) {
      e.WriteInfo(kTypeInfo);
      if (i == 0) {
        e.WriteParentInfo(true);
        e.WriteString("a");
      } else {
        e.WriteParentInfo(false);
        e.WriteLeftId(ID{client, i - 1});
      }
      e.WriteTypeRef(kYArray);
    }
  }
  e.rest().WriteVarUint(0);  // no deletes
  return e.Finish();
}

Bytes DeleteRangeUpdate(ClientId client, Clock clock, uint64_t len) {
  UpdateEncoderV1 e;
  e.rest().WriteVarUint(0);  // no structs
  e.rest().WriteVarUint(1);
  e.rest().WriteVarUint(client);
  e.rest().WriteVarUint(1);
  e.WriteDsClock(clock);
  e.WriteDsLen(len);
  return e.Finish();
}

Bytes ManyClientsUpdate(size_t clients, ClientId first_client) {
  UpdateEncoderV1 e;
  e.rest().WriteVarUint(clients);
  // Clients descending, as yjs writes them.
  for (size_t i = clients; i-- > 0;) {
    e.rest().WriteVarUint(1);
    e.WriteClient(first_client + i);
    e.rest().WriteVarUint(0);
    e.WriteInfo(kStringInfo);
    e.WriteParentInfo(true);
    e.WriteString("t");
    e.WriteString("x");
  }
  e.rest().WriteVarUint(0);
  return e.Finish();
}

Bytes GappedTextUpdate(ClientId client, Clock first_clock, size_t count, size_t bytes_each) {
  UpdateEncoderV1 e;
  e.rest().WriteVarUint(1);
  e.rest().WriteVarUint(count);
  e.WriteClient(client);
  e.rest().WriteVarUint(first_clock);
  const std::string text(bytes_each, 'p');
  for (size_t i = 0; i < count; ++i) {
    const Clock clock = first_clock + i * bytes_each;
    if (clock == 0) {  // the client's first struct: at the start of root text "t"
      e.WriteInfo(kStringInfo);
      e.WriteParentInfo(true);
      e.WriteString("t");
    } else {
      // Each string follows the previous one, so none integrates before clock first_clock - 1.
      e.WriteInfo(kStringInfo | kHasOrigin);
      e.WriteLeftId(ID{client, clock - 1});
    }
    e.WriteString(text);
  }
  e.rest().WriteVarUint(0);
  return e.Finish();
}

}  // namespace tandem::crdt

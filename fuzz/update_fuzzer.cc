// Fuzzes update decoding and application (v1 and v2) and the update-level functions.
// Whatever the bytes: no crash, no hang, bounded allocation; a rejected update leaves the
// document byte-for-byte as it was; an accepted one re-encodes to a state that loads again.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "crdt/doc.h"
#include "crdt/updates.h"

using namespace tandem::crdt;

namespace {
// A small document to apply fuzz input on top of (yjs: text 't' = "ab", map 'm' = {k: 1}).
const std::vector<uint8_t> kBase = {0x01, 0x02, 0x01, 0x00, 0x04, 0x01, 0x01,
                                    0x74, 0x02, 0x61, 0x62, 0x28, 0x01, 0x01,
                                    0x6d, 0x01, 0x6b, 0x01, 0x7d, 0x01, 0x00};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const uint8_t selector = data[0];
  const UpdateFormat format = (selector & 1) != 0 ? UpdateFormat::kV2 : UpdateFormat::kV1;
  std::span<const uint8_t> input(data + 1, size - 1);

  Doc doc(DocOptions{.gc = (selector & 2) == 0, .client_id = 7});
  if ((selector & 4) != 0 && !doc.ApplyUpdate(kBase).ok()) std::abort();
  const std::vector<uint8_t> before = doc.EncodeStateAsUpdate({}, format);
  if (doc.ApplyUpdate(input, format).ok()) {
    // Accepted: the state must load into a fresh document and encode to the same bytes.
    const std::vector<uint8_t> state = doc.EncodeStateAsUpdate({}, format);
    Doc again(DocOptions{.gc = (selector & 2) == 0, .client_id = 8});
    if (!again.ApplyUpdate(state, format).ok()) std::abort();
  } else if (doc.EncodeStateAsUpdate({}, format) != before) {
    std::abort();  // a rejected update changed the document
  }
  switch ((selector >> 3) & 3) {
    case 0: (void)MergeUpdates({input, kBase}, format); break;
    case 1: (void)DiffUpdate(input, StateVector{{1, 1}}, format); break;
    case 2: (void)EncodeStateVectorFromUpdate(input, format); break;
    default:
      (void)ConvertUpdateFormat(
          input, format, format == UpdateFormat::kV1 ? UpdateFormat::kV2 : UpdateFormat::kV1);
  }
  return 0;
}

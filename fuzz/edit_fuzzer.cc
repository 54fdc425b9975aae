// Fuzzes the document API's edit lists (api/edits.h): any body is parsed, and a valid list is
// applied to a copy of a document holding every kind the edits address. Whatever the input: no
// crash or leak, the document given is never changed, a refused list yields no update, and an
// accepted list's update brings another replica to the same content.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "api/edits.h"
#include "crdt/read_api.h"
#include "lib0/json.h"

using namespace tandem;

namespace {

const crdt::Doc& Base() {
  static crdt::Doc* doc = [] {
    auto* d = new crdt::Doc(crdt::DocOptions{.gc = true, .client_id = 99});
    auto edits = api::ParseEditList(R"([
      {"op":"text.insert","type":"t","index":0,"text":"Hello 🌍 world"},
      {"op":"text.format","type":"t","index":0,"length":5,"attributes":{"bold":true}},
      {"op":"map.set","type":"m","key":"title","value":"x"},
      {"op":"map.set","type":"m","key":"inner","value":{"$type":"map","value":{"a":1}}},
      {"op":"array.insert","type":"a","index":0,"values":[1,
        {"$type":"map","value":{"done":false,"notes":{"$type":"text","value":"n"}}},
        {"$type":"array","value":[1,2,3]}, {"$type":"text","value":"plain"}]}])");
    api::EditResult r = api::EditCopy(*d, *edits);
    if (!r.status.ok() || !d->ApplyUpdate(r.update).ok()) std::abort();
    return d;
  }();
  return *doc;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const crdt::Doc& base = Base();
  static const std::vector<uint8_t> base_state = base.EncodeStateAsUpdate();
  auto edits = api::ParseEditList(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!edits.ok()) return 0;
  api::EditResult r = api::EditCopy(base, *edits);
  if (!r.status.ok() && !r.update.empty()) std::abort();  // refused lists change nothing
  if (r.failed_index >= std::max<size_t>(edits->size(), 1)) std::abort();
  if (r.status.ok() && !r.update.empty()) {
    // A replica given the update, and one given that replica's re-encoded state, hold the same
    // state (their JSON may order map keys differently: keys come in integration order).
    crdt::Doc a(crdt::DocOptions{.gc = true, .client_id = 1});
    crdt::Doc b(crdt::DocOptions{.gc = true, .client_id = 2});
    if (!a.ApplyUpdate(base_state).ok() || !a.ApplyUpdate(r.update).ok()) std::abort();
    if (a.has_pending()) std::abort();  // the update needs nothing the base lacks
    if (!b.ApplyUpdate(a.EncodeStateAsUpdate()).ok()) std::abort();
    if (a.EncodeStateAsUpdate() != b.EncodeStateAsUpdate()) std::abort();
    (void)crdt::DocToJsonChecked(b);
  }
  if (base.EncodeStateAsUpdate() != base_state) std::abort();  // the original is untouched
  return 0;
}

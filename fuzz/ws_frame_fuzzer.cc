// The WebSocket frame parser on arbitrary bytes, fed in two pieces at a split the input picks:
// no crash, no read out of bounds, messages never larger than the limit, and nothing after an
// error.

#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "server/ws_frame.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  constexpr size_t kLimit = 4096;
  const size_t split = data[0] % size;
  tandem::server::WsFrameParser parser(kLimit);
  bool errored = false;
  auto sink = [&](tandem::server::WsEvent&& e) {
    if (errored) std::abort();  // an event after the error
    if (e.kind == tandem::server::WsEvent::Kind::kError) errored = true;
    if (e.payload.size() > kLimit) std::abort();
  };
  const bool first = parser.Feed({data + 1, split}, sink);
  const bool second = parser.Feed({data + 1 + split, size - 1 - split}, sink);
  if ((!first || !second) != errored) std::abort();
  return 0;
}

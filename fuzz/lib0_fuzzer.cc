// Fuzzes every lib0 decoder: whatever the bytes, decoding returns values or a sticky error,
// never reads out of bounds, never allocates beyond the input, and what decodes re-encodes to
// something that decodes to the same value.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "lib0/any.h"
#include "lib0/decoder.h"
#include "lib0/json.h"
#include "lib0/rle.h"

using namespace tandem::lib0;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t selector = data[0];
  std::span<const uint8_t> input(data + 1, size - 1);
  switch (selector % 6) {
    case 0: {
      Decoder d(input);
      Any v = ReadAny(d);
      if (d.ok()) {
        Encoder e;
        WriteAny(e, v);
        Decoder again(e.data());
        if (!(ReadAny(again) == v) || !again.ok()) std::abort();
      }
      break;
    }
    case 1: {
      RleDecoder d(input);
      for (int i = 0; i < 1000 && d.decoder().ok(); ++i) d.Read();
      break;
    }
    case 2: {
      UintOptRleDecoder d(input);
      for (int i = 0; i < 1000 && d.decoder().ok(); ++i) d.Read();
      break;
    }
    case 3: {
      IntDiffOptRleDecoder d(input);
      for (int i = 0; i < 1000 && d.decoder().ok(); ++i) d.Read();
      break;
    }
    case 4: {
      StringDecoder d(input);
      for (int i = 0; i < 1000 && d.ok(); ++i) d.Read();
      break;
    }
    default: {
      std::string_view text(reinterpret_cast<const char*>(input.data()), input.size());
      auto parsed = ParseJson(text);
      if (parsed.ok()) (void)ToJson(*parsed);
      Decoder d(input);
      while (d.ok() && d.HasContent()) {
        d.ReadVarUint();
        d.ReadVarIntSigned();
        d.ReadVarString();
      }
    }
  }
  return 0;
}

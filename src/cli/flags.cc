#include "cli/flags.h"

#include <charconv>

namespace tandem::cli {

namespace {
Result<uint64_t> ParseNumberPrefix(std::string_view text, size_t& used) {
  uint64_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr == text.data())
    return InvalidArgumentError("not a number: '" + std::string(text) + "'");
  used = static_cast<size_t>(ptr - text.data());
  return value;
}
}  // namespace

Result<std::chrono::milliseconds> ParseDuration(std::string_view text) {
  size_t used = 0;
  auto n = ParseNumberPrefix(text, used);
  if (!n.ok())
    return InvalidArgumentError("bad duration '" + std::string(text) +
                                "' (use e.g. 300ms, 30s, 5m)");
  const std::string_view unit = text.substr(used);
  if (unit == "ms") return std::chrono::milliseconds(*n);
  if (unit == "s" || unit.empty()) return std::chrono::milliseconds(*n * 1000);
  if (unit == "m") return std::chrono::milliseconds(*n * 60'000);
  if (unit == "h") return std::chrono::milliseconds(*n * 3'600'000);
  return InvalidArgumentError("bad duration unit in '" + std::string(text) +
                              "' (use ms, s, m or h)");
}

Result<size_t> ParseByteSize(std::string_view text) {
  size_t used = 0;
  auto n = ParseNumberPrefix(text, used);
  if (!n.ok())
    return InvalidArgumentError("bad size '" + std::string(text) +
                                "' (use e.g. 65536, 64KiB, 16MiB)");
  const std::string_view unit = text.substr(used);
  if (unit.empty() || unit == "B") return static_cast<size_t>(*n);
  if (unit == "KiB" || unit == "KB" || unit == "k") return static_cast<size_t>(*n) << 10;
  if (unit == "MiB" || unit == "MB" || unit == "M") return static_cast<size_t>(*n) << 20;
  if (unit == "GiB" || unit == "GB" || unit == "G") return static_cast<size_t>(*n) << 30;
  return InvalidArgumentError("bad size unit in '" + std::string(text) +
                              "' (use B, KiB, MiB or GiB)");
}

}  // namespace tandem::cli

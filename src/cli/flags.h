#pragma once
// Values of command-line flags as people write them: durations ("300ms", "30s", "5m", "2h"; a
// bare number is seconds) and sizes ("65536", "64KiB", "16MiB", "1GiB"), from flags, the
// environment and config files alike.

#include <chrono>
#include <cstddef>
#include <string_view>

#include "base/result.h"

namespace tandem::cli {

Result<std::chrono::milliseconds> ParseDuration(std::string_view text);
Result<size_t> ParseByteSize(std::string_view text);

}  // namespace tandem::cli

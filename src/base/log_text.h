#pragma once
// Text from clients (room ids, user ids, reasons) in log lines. Log lines are `key=value` pairs;
// a value that contains a space, `=` or `"` would forge fields of its own (a room id
// `x event=rolled_back`), so untrusted values go through Quoted(): always in double quotes, with
// `"` and `\` escaped and control bytes, bytes of invalid UTF-8 and anything past `max_bytes`
// written as \xNN or cut with "...".

#include <cstddef>
#include <string>
#include <string_view>

namespace tandem {

std::string Quoted(std::string_view text, size_t max_bytes = 128);

}  // namespace tandem

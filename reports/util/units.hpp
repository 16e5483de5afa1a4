// Quantities with units, as people read and write them, in one place: sizes
// in bytes (formatted in binary units, parsed from "512MiB" or "1.5GB"),
// durations in seconds, and single numbers. Parsing knows no option names and
// throws nothing: the caller says which option was wrong.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace batchtune {

// printf-style formatting of one number; "-" for none or non-finite.
std::string format_number(std::optional<double> value, const char* format);

// An interval for a person: "a to b", "at least a", "at most b", or "no
// interval" where neither end was measured (never "a to -").
std::string format_interval(std::optional<double> low, std::optional<double> high, const char* format);

// "0.64 s", "12.3 s", "4.2 min", "2.5 h" (minutes up to 100); "-" for none.
std::string format_seconds(std::optional<double> seconds);

// "1023 B", "1.5 KiB", "512.0 MiB": one decimal in the largest binary unit
// (up to TiB) the size reaches.
std::string format_bytes(std::uint64_t bytes);

// The unit a scale of sizes reads best in: the largest binary unit (B, KiB,
// MiB, GiB) of which `largest_bytes` is at least two, so the top of an axis
// reads "3.5", not "0.0034".
struct ByteUnit {
  double bytes = 1;
  const char* name = "B";
};
ByteUnit byte_unit_for(double largest_bytes);

// A size from text: a number and an optional unit, binary (KiB, MiB, GiB,
// TiB, or Ki, Mi, ...) or decimal (kB, MB, GB, TB, or k, M, ...), in any
// case, a space before the unit allowed: "512MiB", "2 GiB", "1.5GB",
// "1000000". Between 1 byte and 1 EB. `error` says what is wrong when
// `bytes` is none, as a phrase to follow "OPTION TEXT: ".
struct ParsedBytes {
  std::optional<std::uint64_t> bytes;
  std::string error;
};
ParsedBytes parse_bytes(std::string_view text);

}  // namespace batchtune

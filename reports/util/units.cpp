#include "reports/util/units.hpp"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <stdexcept>

namespace batchtune {

std::string format_number(std::optional<double> value, const char* format) {
  if (!value || !std::isfinite(*value)) return "-";
  char buf[64];
  std::snprintf(buf, sizeof buf, format, *value);
  return buf;
}

std::string format_seconds(std::optional<double> seconds) {
  if (!seconds || !std::isfinite(*seconds)) return "-";
  const double s = *seconds;
  if (s < 100) return format_number(s, s < 10 ? "%.2f s" : "%.1f s");
  if (s < 6000) return format_number(s / 60, "%.1f min");
  return format_number(s / 3600, "%.1f h");
}

std::string format_bytes(std::uint64_t bytes) {
  static const char* const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1024.0 && unit < 4) {
    value /= 1024.0;
    ++unit;
  }
  char buf[32];
  if (unit == 0) {
    std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(bytes));
  } else {
    std::snprintf(buf, sizeof buf, "%.1f %s", value, units[unit]);
  }
  return buf;
}

ByteUnit byte_unit_for(double largest_bytes) {
  if (largest_bytes >= 2.0 * (1ull << 30)) return {static_cast<double>(1ull << 30), "GiB"};
  if (largest_bytes >= 2.0 * (1ull << 20)) return {static_cast<double>(1ull << 20), "MiB"};
  if (largest_bytes >= 2.0 * (1ull << 10)) return {static_cast<double>(1ull << 10), "KiB"};
  return {};
}

ParsedBytes parse_bytes(std::string_view text) {
  const ParsedBytes not_a_size{std::nullopt, "not a size; use bytes or a unit, such as 512MiB, 2GiB or 1.5GB"};
  std::size_t pos = 0;
  while (pos < text.size() && (std::isdigit(static_cast<unsigned char>(text[pos])) || text[pos] == '.')) ++pos;
  if (pos == 0) return not_a_size;
  double value = 0;
  try {
    value = std::stod(std::string(text.substr(0, pos)));
  } catch (const std::exception&) {  // "." alone, or too many digits for a double
    return not_a_size;
  }
  std::string unit(text.substr(pos));
  while (!unit.empty() && unit.front() == ' ') unit.erase(0, 1);
  for (auto& c : unit) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  double scale = 0;
  if (unit.empty() || unit == "b") scale = 1;
  else if (unit == "kib" || unit == "ki") scale = 1024.0;
  else if (unit == "mib" || unit == "mi") scale = 1024.0 * 1024;
  else if (unit == "gib" || unit == "gi") scale = 1024.0 * 1024 * 1024;
  else if (unit == "tib" || unit == "ti") scale = 1024.0 * 1024 * 1024 * 1024;
  else if (unit == "kb" || unit == "k") scale = 1e3;
  else if (unit == "mb" || unit == "m") scale = 1e6;
  else if (unit == "gb" || unit == "g") scale = 1e9;
  else if (unit == "tb" || unit == "t") scale = 1e12;
  else return not_a_size;
  const double bytes = value * scale;
  if (!(bytes >= 1) || bytes > 1e18) return {std::nullopt, "must be between 1 byte and 1 EB"};
  return {static_cast<std::uint64_t>(std::llround(bytes)), ""};
}

std::string format_interval(std::optional<double> low, std::optional<double> high, const char* format) {
  if (low && high) return format_number(low, format) + " to " + format_number(high, format);
  if (low) return "at least " + format_number(low, format);
  if (high) return "at most " + format_number(high, format);
  return "no interval";
}

}  // namespace batchtune

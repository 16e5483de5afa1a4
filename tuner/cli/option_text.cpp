#include "tuner/cli/option_text.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <optional>
#include <stdexcept>

#include "reports/util/error.hpp"
#include "reports/util/units.hpp"

namespace batchtune {

std::pair<BudgetKind, double> parse_budget(const std::string& text) {
  const auto eq = text.find('=');
  const std::string hint = "--budget " + text + ": expected samples=N, steps=N or seconds=T";
  if (eq == std::string::npos) throw UsageError(hint);
  const std::optional<BudgetKind> kind = parse_budget_kind(text.substr(0, eq));
  if (!kind) throw UsageError(hint);
  double value = 0;
  try {
    std::size_t used = 0;
    value = std::stod(text.substr(eq + 1), &used);
    if (used != text.size() - eq - 1) throw std::invalid_argument("trailing");
  } catch (const std::exception&) {
    throw UsageError(hint);
  }
  if (!(value > 0) || !std::isfinite(value)) throw UsageError("--budget " + text + ": must be positive");
  if (*kind != BudgetKind::seconds && value != std::floor(value)) {
    throw UsageError("--budget " + text + ": must be a whole number");
  }
  return {*kind, value};
}

std::pair<int, int> parse_shard(const std::string& text) {
  const std::string hint = "--shard " + text + ": expected I/N with 1 <= I <= N (this machine's part of N), such as 2/4";
  const auto slash = text.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 >= text.size() || slash > 6 || text.size() - slash > 7) {
    throw UsageError(hint);
  }
  const std::string a = text.substr(0, slash), b = text.substr(slash + 1);
  auto digits = [](const std::string& t) {
    return std::all_of(t.begin(), t.end(), [](unsigned char c) { return std::isdigit(c); });
  };
  if (!digits(a) || !digits(b)) throw UsageError(hint);
  const int index = std::stoi(a), count = std::stoi(b);
  if (index < 1 || count < 1 || index > count) throw UsageError(hint);
  return {index, count};
}

std::vector<std::int64_t> parse_batch_sizes(const std::string& text) {
  std::vector<std::int64_t> sizes;
  std::size_t pos = 0;
  const std::string hint = "--batch-sizes " + text + ": expected positive whole numbers separated by commas, "
                           "such as 16,64,256, or auto";
  while (pos <= text.size()) {
    const std::size_t end = std::min(text.find(',', pos), text.size());
    const std::string part = text.substr(pos, end - pos);
    if (part.empty() || part.size() > 12 ||
        !std::all_of(part.begin(), part.end(), [](unsigned char c) { return std::isdigit(c); }) ||
        std::stoll(part) == 0) {
      throw UsageError(hint);
    }
    sizes.push_back(std::stoll(part));
    pos = end + 1;
  }
  std::sort(sizes.begin(), sizes.end());
  sizes.erase(std::unique(sizes.begin(), sizes.end()), sizes.end());
  return sizes;
}

std::uint64_t parse_size(const std::string& text, const std::string& option) {
  const ParsedBytes parsed = parse_bytes(text);
  if (!parsed.bytes) throw UsageError(option + " " + text + ": " + parsed.error);
  return *parsed.bytes;
}

double parse_percent(const std::string& text, const std::string& option) {
  std::string digits = text;
  if (!digits.empty() && digits.back() == '%') digits.pop_back();
  std::size_t used = 0;
  double value = -1;
  try {
    value = std::stod(digits, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (digits.empty() || used != digits.size() || !std::isfinite(value) || value < 0 || value >= 100) {
    throw UsageError(option + " " + text + ": expected a percentage from 0 to 100, such as 10%");
  }
  return value / 100.0;
}

}  // namespace batchtune

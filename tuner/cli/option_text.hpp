// The text of command-line options made into the typed values the stages
// take: a budget, a shard, a list of batch sizes, a size in bytes, a
// percentage. Each throws UsageError naming the option and the form it
// expects. The layers below the command line take only the typed values.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "reports/model/sweep_report.hpp"

namespace batchtune {

// "samples=30000", "steps=200", "seconds=5" -> kind and value.
std::pair<BudgetKind, double> parse_budget(const std::string& text);

// "2/4" -> {2, 4}: the second of four parts; 1 <= I <= N.
std::pair<int, int> parse_shard(const std::string& text);

// "16,64,256" -> the sizes, sorted, each once; not an empty or non-numeric list.
std::vector<std::int64_t> parse_batch_sizes(const std::string& text);

// "512MiB", "2GiB", "1.5GB", "1000000" -> bytes.
std::uint64_t parse_size(const std::string& text, const std::string& option);

// "10%", "10" (percent) or "0.5%": the fraction 0.10, 0.10, 0.005.
double parse_percent(const std::string& text, const std::string& option);

}  // namespace batchtune

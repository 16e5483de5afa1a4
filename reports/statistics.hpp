// Small, dependency-free statistics for comparing raw measurements: the
// Mann-Whitney U test (as google/benchmark's compare.py uses on repetitions)
// and order statistics.
#pragma once

#include <optional>
#include <vector>

namespace batchtune {

struct MannWhitney {
  double u = 0;         // U of the first sample
  double z = 0;         // normal approximation, tie-corrected, continuity-corrected
  double p_value = 1;   // two-sided
  int n1 = 0;
  int n2 = 0;
};

// Two-sided Mann-Whitney U test of "the two samples come from the same
// distribution". None when either sample has fewer than 3 values: too few
// for the normal approximation to mean anything.
std::optional<MannWhitney> mann_whitney_u(const std::vector<double>& a, const std::vector<double>& b);

// The median of the finite values; none when there are none.
std::optional<double> median_of(std::vector<double> values);

}  // namespace batchtune

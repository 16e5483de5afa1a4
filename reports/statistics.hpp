// Small, dependency-free statistics for comparing raw measurements: the
// Mann-Whitney U test (as google/benchmark's compare.py uses on repetitions),
// order statistics, and the block medians that turn one arm's correlated
// step times into repetitions the test can use.
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

// Repetitions for the U test from one arm's step times, in the order run.
// Consecutive steps are correlated (a slow spell of the machine, the
// allocator or a background job spans several steps), so treating every step
// as an independent sample makes the U test far too sure of itself: 40 steps
// are not 40 repetitions. Per-arm medians would be independent but leave one
// to three repetitions (the seeds), too few to test anything. The middle way
// is the method of batch means from simulation output analysis: cut the
// series into contiguous blocks long enough for the correlation to fade and
// take each block's median (robust to a stray slow step). Blocks are
// kStepsPerBlock steps (the remainder spread over them); an arm with fewer
// steps gives one block, its median. Non-finite values are dropped.
inline constexpr int kStepsPerBlock = 8;
std::vector<double> block_medians(const std::vector<double>& steps_in_order, int steps_per_block = kStepsPerBlock);

// Below this many repetitions per side the U test is unreliable (as
// google/benchmark's compare.py warns below 9 repetitions).
inline constexpr int kReliableRepetitions = 9;

}  // namespace batchtune

// Small, dependency-free statistics, in one place (as google/benchmark's
// statistics.h): mean, spread and order statistics of raw measurements, the
// Mann-Whitney U test (as its compare.py uses on repetitions), and the block
// medians that turn one arm's correlated step times into repetitions the
// test can use. Line fits and interpolation are in reports/util/fit.hpp.
#pragma once

#include <optional>
#include <vector>

namespace batchtune {

// Mean and spread of a few values (an arm per seed, one batch size): what the
// report's summaries carry.
struct Spread {
  double mean = 0;
  double min = 0;
  double max = 0;
  double stddev = 0;  // the sample standard deviation (n - 1); 0 for one value
  int n = 0;
};

// All values count: a non-finite one makes the mean non-finite, for the
// caller to see. Every field 0 when there are none.
Spread spread_of(const std::vector<double>& values);

// The arithmetic mean, as spread_of has it; none when there are no values.
std::optional<double> mean_of(const std::vector<double>& values);
// The mean of a spread that may be missing.
std::optional<double> mean_of(const std::optional<Spread>& spread);

// Standard deviation over mean: 0 with fewer than two values or a mean that
// is not positive (no spread to speak of).
double relative_spread_of(const std::vector<double>& values);

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

// The median of the finite values, the middle two averaged when their
// number is even; none when there are none.
std::optional<double> median_of(std::vector<double> values);

// The upper median of the finite values: the middle one, the larger of the
// middle two when their number is even, so at least half the values are at
// or below it. None when there are none.
std::optional<double> upper_median_of(std::vector<double> values);

// The q-quantile (0 <= q <= 1) of the finite values, interpolated linearly
// between the order statistics around position q (n - 1): Hyndman and Fan's
// type 7, numpy's default. None when there are none. (Not median_of at
// q = 0.5: that averages the middle two, this interpolates; the two can
// differ in the last bit.)
std::optional<double> quantile_of(std::vector<double> values, double q);

// Repetitions for the U test from one arm's step times, in the order run.
// Consecutive steps are correlated (a slow spell of the machine, the
// allocator or a background job spans several steps), so treating every step
// as an independent sample makes the U test far too sure of itself: 40 steps
// are not 40 repetitions. Per-arm means would be independent but leave one
// to three repetitions (the seeds), too few to test anything. The middle way
// is the method of batch means from simulation output analysis: cut the
// series into contiguous blocks long enough for the correlation to fade and
// take each block's mean (the step clock's own summary, below, so a stall
// counts as the run pays it). Blocks are kStepsPerBlock steps (the remainder
// spread over them); an arm with fewer steps gives one block, its mean.
// Non-finite values are dropped.
inline constexpr int kStepsPerBlock = 8;
std::vector<double> block_means(const std::vector<double>& steps_in_order, int steps_per_block = kStepsPerBlock);

// The step clock: the one step time every figure of a report is made of
// (samples/s, predicted run times, the tables, compare and check). It is the
// mean of the timed steps (data + compute, the warm-up excluded), because a
// run's wall time is its steps' sum: a median hides the stalls a run pays
// (a thread pool on shared cores, a build beside the tune), and on a
// 2-thread sweep of a loaded 2-core machine the mean step was 5x the median,
// so median-based figures promised a run 6x faster than the arm's own. The
// median and the 10th/90th percentiles stay beside it in the report.
struct StepTimes {
  double mean_s = 0;    // the clock
  double median_s = 0;
  double p10_s = 0;
  double p90_s = 0;
  int steps = 0;        // finite steps
};
// None when no step time is finite.
std::optional<StepTimes> step_times_of(const std::vector<double>& steps);

// A step-time tail is heavy from here: the mean step 25% over the median
// means a run's wall time is set by stalls, not by the typical step.
inline constexpr double kHeavyTailRatio = 1.25;

// Below this many repetitions per side the U test is unreliable (as
// google/benchmark's compare.py warns below 9 repetitions).
inline constexpr int kReliableRepetitions = 9;

}  // namespace batchtune

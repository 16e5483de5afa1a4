// Stage 2b: a size's learning rate measured against the rule's, from the
// finalists' arms at other rates.
#include "reports/run_analysis/stages.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>

#include "reports/util/fit.hpp"
#include "reports/analysis/recommend.hpp"
#include "reports/util/statistics.hpp"

namespace batchtune::analysis {

std::optional<MeasuredRate> measured_rate(const WholeRun& w, std::int64_t b) {
  const BranchPoint* at = nullptr;
  for (const auto& p : w.branch_points) {
    const BranchArm* rule = nullptr;
    bool other = false;
    for (const auto& a : p.arms) {
      if (a.batch_size != b || !a.samples_ratio) continue;
      if (std::abs(a.lr_factor - 1.0) < 1e-9) rule = &a;
      else other = true;
    }
    if (rule && other && (!at || p.trunk_samples > at->trunk_samples)) at = &p;
  }
  if (!at) return std::nullopt;
  const BranchArm* rule = nullptr;
  const BranchArm* best = nullptr;
  for (const auto& a : at->arms) {
    if (a.batch_size != b || !a.samples_ratio) continue;
    if (std::abs(a.lr_factor - 1.0) < 1e-9) rule = &a;
    if (!best || *a.samples_ratio < *best->samples_ratio) best = &a;
  }
  MeasuredRate m;
  m.point_loss = point_loss(*at);
  m.noise = w.loss_extension ? w.loss_extension->rms_error : 0.0;
  const bool averaged = rule->averaged_loss && best->averaged_loss;
  m.rule_loss = averaged ? *rule->averaged_loss : rule->end_loss.value_or(0.0);
  m.loss = averaged ? *best->averaged_loss : best->end_loss.value_or(0.0);
  if (best == rule || !(*rule->samples_ratio > 0)) return m;
  m.factor = best->lr_factor;
  m.gain = *best->samples_ratio / *rule->samples_ratio;
  if (m.gain < kRateGainFloor) {
    m.gain = kRateGainFloor;
    m.floored = true;
  }
  m.beyond_noise = m.noise > 0 && m.rule_loss - m.loss > kRateNoiseSigmas * m.noise;
  if (!m.beyond_noise) {
    m.factor = 1;
    m.gain = 1;
  }
  return m;
}

}  // namespace batchtune::analysis

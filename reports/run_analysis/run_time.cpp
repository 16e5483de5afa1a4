// Stage 5: the run's time at every size. The run cut into phases, each
// phase's steps at B from B_crit at its loss, times the step time t(B); the
// learning rate per size; the pick.
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

namespace {
// A phase's steps at batch b, given its steps at the base batch b0 and its
// critical batch bc: S(b) = S_min (1 + bc / b), with S_min from S(b0)
// (McCandlish et al. 2018).
double steps_at(double base_steps, double bc, double b0, double b) {
  return base_steps / (1.0 + bc / b0) * (1.0 + bc / b);
}
}  // namespace

void predict_run_times(WholeRun& w, const TrunkCurve& tc, const CriticalBand& critical,
                       const std::vector<std::int64_t>& candidate_sizes) {
  const auto& curve = tc.curve;
  const double b0 = double(w.base_batch);
  const CriticalModel& model = critical.model;
  auto band = [&](double loss) { return critical.band(loss); };
  // The run's phases, equal in base-batch samples, and each size's time.
  const double total = *w.base_samples_to_target;
  std::vector<Phase> phases;
  for (int k = 0; k < kPhases; ++k) {
    const double s0 = total * k / kPhases, s1 = total * (k + 1) / kPhases;
    Phase ph;
    ph.base_steps = (s1 - s0) / b0;
    ph.loss = loss_at(curve, w.loss_extension, 0.5 * (s0 + s1));
    ph.start_loss = loss_at(curve, w.loss_extension, s0);
    phases.push_back(ph);
  }
  std::vector<std::pair<double, double>> knots;
  for (const auto& [b, t] : w.step_seconds) {
    if (b > 0 && t > 0 && std::isfinite(t)) knots.emplace_back(double(b), t);
  }
  std::sort(knots.begin(), knots.end());
  if (knots.empty()) {
    w.notes.push_back("no step time was measured: no time can be predicted");
    return;
  }
  auto step_time = [&](double b) { return interpolate_log_log(knots, b); };
  // Steps at B over the phases with B_crit shifted by `shift` (in ln, times the band).
  auto phase_steps = [&](const Phase& ph, double b, double shift) {
    return steps_at(ph.base_steps, model.at(ph.loss, shift * band(ph.loss)), b0, b);
  };
  auto run_steps = [&](double b, double shift) {
    double s = 0;
    for (const auto& ph : phases) s += phase_steps(ph, b, shift);
    return s;
  };
  // The learning rate per size, as a factor on the rule's: the rule's, which
  // the B_crit fit's arms ran at; another rate where its arm won beyond the
  // noise (measured_rate: its steps then scale by the measured gain); the
  // grid's best where the rule's arm failed everywhere.
  auto rate_for = [&](std::int64_t b) -> std::pair<double, double> {  // (factor, gain on the steps)
    if (const auto m = measured_rate(w, b); m && m->beyond_noise) return {m->factor, m->gain};
    double factor = 1;
    for (const auto& p : w.branch_points) {
      const BranchArm* a = standing_arm(p, b);
      if (a && std::abs(a->lr_factor - 1.0) < 1e-9) return {1.0, 1.0};
      if (a) factor = a->lr_factor;
    }
    return {factor, 1.0};
  };
  std::vector<std::int64_t> sizes = candidate_sizes;
  if (sizes.empty()) {
    for (const auto& k : knots) sizes.push_back(static_cast<std::int64_t>(k.first));
  }
  // Not past the largest size an arm measured: S(B) is a model of the
  // measurements, and past them nothing says where the curvature stops the
  // rule's rate.
  {
    const std::int64_t largest = largest_arm(w);
    const auto cut = std::remove_if(sizes.begin(), sizes.end(), [&](std::int64_t b) { return b > largest; });
    if (cut != sizes.end()) {
      w.notes.push_back("sizes above " + std::to_string(largest) +
                        ", the largest an arm measured, are not predicted (more of --tune-share, or a longer "
                        "run, lets arms reach them)");
      sizes.erase(cut, sizes.end());
    }
  }
  // A size whose arms, at the latest point that ran it, all failed or made
  // no progress does not train at these rates: it and every larger size
  // are left out rather than predicted from a curve they do not follow.
  if (const auto unstable = first_unstable_size(w)) {
    const auto cut = std::remove_if(sizes.begin(), sizes.end(), [&](std::int64_t b) { return b >= *unstable; });
    if (cut != sizes.end()) {
      w.notes.push_back("batch " + std::to_string(*unstable) +
                        " did not train from the branch point nearest the target (it failed, diverged or ended "
                        "half as high again as its start): it and larger sizes are not predicted");
      sizes.erase(cut, sizes.end());
    }
  }
  for (std::int64_t b : sizes) {
    RunPrediction p;
    p.batch_size = b;
    const auto [factor, gain] = rate_for(b);
    p.lr_factor = factor;
    if (gain < 1.0) p.rate_gain = gain;
    p.learning_rate = scaled_learning_rate(w.lr_scaling, w.base_learning_rate, w.base_batch, b) * factor;
    p.steps = run_steps(double(b), 0) * gain;
    p.samples = p.steps * double(b);
    p.step_s = step_time(double(b));
    p.seconds = p.steps * p.step_s;
    // A larger B_crit means more steps at small sizes, fewer at none: the
    // band's two ends bracket every size's time.
    const double t_lo = run_steps(double(b), -1) * gain * p.step_s, t_hi = run_steps(double(b), +1) * gain * p.step_s;
    p.seconds_low = std::min(t_lo, t_hi);
    p.seconds_high = std::max(t_lo, t_hi);
    p.step_time_measured =
        std::any_of(knots.begin(), knots.end(), [&](const auto& k) { return std::llround(k.first) == b; });
    w.predictions.push_back(p);
  }
  if (w.predictions.empty()) return;
  // The fastest prediction, or the largest size predicted within kNearTie
  // of it: S(B) t(B) is flat near its minimum (between B_sat and B_crit),
  // the fit does not separate sizes that close, and the error it makes
  // most often (B_crit low) favours the smaller (tie_pick).
  const auto best = tie_pick(w.predictions);
  w.best_batch = best->batch_size;
  // What a from-init estimate would pick: B_crit held at the first point's.
  if (w.early_critical_batch) {
    double best_t = std::numeric_limits<double>::infinity();
    for (std::int64_t b : sizes) {
      double s = 0;
      for (const auto& ph : phases) s += steps_at(ph.base_steps, *w.early_critical_batch, b0, double(b));
      const double t = s * step_time(double(b));
      if (t < best_t) {
        best_t = t;
        w.early_best_batch = b;
      }
    }
  }

  // A schedule where B_crit grows four-fold or more along the run.
  if (w.critical_fit && w.critical_batch_at_target && w.early_critical_batch &&
      *w.critical_batch_at_target >= 4.0 * *w.early_critical_batch) {
    // Against the fastest fixed size (the schedule runs at the rule's rates).
    w.schedule = propose_schedule(
        phases, sizes,
        [&](const Phase& ph, std::int64_t b) { return phase_steps(ph, double(b), 0) * step_time(double(b)); },
        rule_rate_seconds(*fastest_prediction(w.predictions)));
  }
}

}  // namespace batchtune::analysis

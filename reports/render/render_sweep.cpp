// The sweep's table in the console form: the plan, the throughput scan, one
// row per size, the step clock, timing quality, generalisation, failures.
#include "reports/render/render_sweep.hpp"

#include <cstdio>
#include <ostream>
#include <string>
#include <vector>

#include "reports/util/statistics.hpp"
#include "reports/analysis/timing_quality.hpp"
#include "reports/util/units.hpp"

namespace batchtune {

void render_sweep_text(std::ostream& out, const SweepResult& s) {
  char line[256];
  const bool timing_only = is_throughput_only(s);
  if (timing_only) {
    out << "sweep: throughput only (timed steps at each size, no training runs; " << s.precision << ")\n";
  } else {
    out << "sweep (" << to_string(s.budget_kind) << " budget " << s.budget_value << " per arm, lr scaling "
        << to_string(s.lr_scaling) << " from batch " << s.base_batch << " at " << s.base_learning_rate << ", "
        << s.seeds << " seed" << (s.seeds > 1 ? "s" : "") << ", " << s.precision << ")\n";
  }
  if (s.data_parallel) {
    const DataParallelInfo& d = *s.data_parallel;
    std::string ranks, shares;
    for (const auto& r : d.ranks) ranks += (ranks.empty() ? "" : ", ") + r.host + " " + r.device;
    for (const auto& a : s.arms) {
      if (!a.compute_share) continue;
      shares += (shares.empty() ? "" : ", ") + std::to_string(a.batch_size) + ": " +
                (a.scaling_efficiency ? format_number(*a.scaling_efficiency, "%.2f") : std::string("-")) + " (" +
                format_number(*a.compute_share, "%.2f") + ")";
    }
    out << "  data-parallel         " << d.world_size << " ranks over " << d.backend << " (" << d.launcher
        << "): " << ranks << "; batch sizes are global\n";
    if (!shares.empty()) {
      out << "  scaling efficiency against one rank at the same global batch (compute share of a step): " << shares
          << '\n';
    }
  }
  if (s.shard) {
    out << "  part " << s.shard->index << " of " << s.shard->count << " (--shard): " << s.arms.size() << " of the sweep's "
        << s.shard->arms_planned << " arms; `batchtune merge` joins the parts\n";
  }
  if (!s.throughput_scan.empty() && timing_only) {
    if (!s.throughput_knee.empty()) out << "  throughput scan       " << s.throughput_knee << '\n';
  } else if (!s.throughput_scan.empty()) {
    std::string scan;
    for (const auto& p : s.throughput_scan) {
      scan += (scan.empty() ? "" : ", ") + std::to_string(p.batch_size) + " at " + format_number(p.samples_per_s, "%.0f");
    }
    out << "  throughput scan       " << scan << " samples/s" << (s.throughput_knee.empty() ? "" : "; " + s.throughput_knee)
        << '\n';
  } else if (!s.throughput_knee.empty()) {
    out << "  throughput scan       " << s.throughput_knee << '\n';
  }
  if (s.target_loss) {
    std::snprintf(line, sizeof line, "  target validation loss %.4f (%s)\n", *s.target_loss, s.target_source.c_str());
    out << line;
    out << "  time to target: where the validation loss crossed it, interpolated between evaluations\n";
  }
  if (timing_only) {
    for (const auto& p : s.throughput_scan) {
      std::snprintf(line, sizeof line, "  %8lld  %10.0f samples/s  %9.3f ms a step  %10s  (%d steps timed)\n",
                    static_cast<long long>(p.batch_size), p.samples_per_s, 1000.0 * p.mean_step_seconds,
                    format_bytes(p.peak_bytes).c_str(), p.timed_steps);
      out << line;
    }
  }
  if (!timing_only) {
    out << "     batch        lr  done  samples/s   val_loss  val_acc  to_target_s  to_target_samples       peak\n";
  }
  auto fmt = [](const std::optional<Spread>& v, const char* f) {
    char b[32];
    if (!v) return std::string("-");
    std::snprintf(b, sizeof b, f, v->mean);
    return std::string(b);
  };
  for (const auto& b : s.summaries) {
    std::snprintf(line, sizeof line, "  %8lld %9.4g %2d/%-2d %10s %10s %8s %12s %18s %10s\n",
                  static_cast<long long>(b.batch_size), b.learning_rate, b.completed, b.arms,
                  fmt(b.samples_per_s, "%.1f").c_str(), fmt(b.final_validation_loss, "%.4f").c_str(),
                  fmt(b.final_validation_accuracy, "%.4f").c_str(), fmt(b.seconds_to_target, "%.2f").c_str(),
                  fmt(b.samples_to_target, "%.0f").c_str(), format_bytes(b.peak_bytes).c_str());
    out << line;
  }
  // The step clock beside the median, so a tail shows (statistics.hpp).
  std::string clock;
  for (const auto& b : s.summaries) {
    std::vector<double> clocks, steps;
    for (const auto& a : s.arms) {
      if (a.batch_size != b.batch_size) continue;
      if (const auto c = step_clock_seconds(a)) clocks.push_back(*c);
      const auto t = step_total_seconds(a);
      steps.insert(steps.end(), t.begin(), t.end());
    }
    const auto mean = mean_of(clocks);
    const auto median = median_of(steps);
    if (!mean || !median) continue;
    clock += (clock.empty() ? "" : ", ") + std::to_string(b.batch_size) + " " +
             format_number(1000.0 * *mean, "%.3g") + " ms (" + format_number(1000.0 * *median, "%.3g") + ")";
  }
  if (!clock.empty()) out << "  step time             mean (every figure's clock; median in brackets): " << clock << '\n';
  if (const std::string timing = describe(timing_quality(s)); !timing.empty()) out << "  " << timing << '\n';
  std::string gen;
  for (const auto& b : s.summaries) {
    if (!b.final_training_loss || !b.generalization_gap) continue;
    char g[96];
    std::snprintf(g, sizeof g, "%s%lld %.4f (%+.4f)%s", gen.empty() ? "" : ", ", static_cast<long long>(b.batch_size),
                  b.final_training_loss->mean, b.generalization_gap->mean,
                  b.validation_worse_than_best.value_or(false) ? " worse" : "");
    gen += g;
  }
  if (!gen.empty()) {
    out << "  generalisation        training loss at each arm's end (gap: val - train; worse: val loss "
           "above the best by more than the seed spread): "
        << gen << '\n';
  }
  for (const auto& a : s.arms) {
    if (a.status == ArmStatus::completed) continue;
    out << "  batch " << a.batch_size << " seed " << a.seed << ": " << to_string(a.status)
        << (a.failed_at_step ? " at step " + std::to_string(*a.failed_at_step) : "")
        << (a.message.empty() ? "" : " (" + a.message + ")") << '\n';
  }
  if (s.incomplete) out << "  INCOMPLETE: " << s.incomplete_reason << '\n';
  const PhaseSeconds& t = s.phase_seconds;
  if (t.total > 0) {
    out << "  time                  probe " << format_seconds(t.probe) << ", scan " << format_seconds(t.throughput_scan)
        << ", training " << format_seconds(t.training) << ", evaluation " << format_seconds(t.evaluation)
        << ", noise " << format_seconds(t.noise_scale) << ", total " << format_seconds(t.total) << '\n';
  }
}

}  // namespace batchtune

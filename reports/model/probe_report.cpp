#include "reports/model/probe_report.hpp"

#include <cstdio>
#include <ostream>
#include <set>

#include "reports/util/json_util.hpp"
#include "reports/util/text_util.hpp"
#include "reports/util/units.hpp"

namespace batchtune {

void to_json(nlohmann::json& j, const ProbeResult& p) {
  j = {{"strategy", p.strategy},
       {"meter", p.meter},
       {"device", p.device},
       {"capacity_bytes", p.capacity_bytes},
       {"capacity_source", p.capacity_source},
       {"multiple_of", p.multiple_of},
       {"max_batch", p.max_batch},
       {"margin", p.margin},
       {"largest_fitting_batch", p.largest_fitting_batch},
       {"first_failing_batch", p.first_failing_batch},
       {"safe_max_batch", p.safe_max_batch},
       {"capped", p.capped},
       {"memory_model", p.memory_model},
       {"predicted_edge", p.predicted_edge},
       {"trial_count", p.trials.size()},
       {"total_seconds", p.total_seconds},
       {"isolated", p.isolated},
       {"cap_source", p.cap_source},
       {"min_batch", p.min_batch},
       {"min_batch_reason", p.min_batch_reason},
       {"trials", p.trials}};
  if (!p.worst_case.empty()) j["worst_case"] = p.worst_case;  // variable-length data only
  if (p.ranks > 1) j["ranks"] = p.ranks;                        // data-parallel only
}
void from_json(const nlohmann::json& j, ProbeResult& p) {
  j.at("strategy").get_to(p.strategy);
  j.at("meter").get_to(p.meter);
  j.at("device").get_to(p.device);
  j.at("capacity_bytes").get_to(p.capacity_bytes);
  j.at("capacity_source").get_to(p.capacity_source);
  j.at("multiple_of").get_to(p.multiple_of);
  j.at("max_batch").get_to(p.max_batch);
  j.at("margin").get_to(p.margin);
  j.at("largest_fitting_batch").get_to(p.largest_fitting_batch);
  j.at("first_failing_batch").get_to(p.first_failing_batch);
  j.at("safe_max_batch").get_to(p.safe_max_batch);
  j.at("capped").get_to(p.capped);
  j.at("memory_model").get_to(p.memory_model);
  j.at("predicted_edge").get_to(p.predicted_edge);
  j.at("total_seconds").get_to(p.total_seconds);
  j.at("isolated").get_to(p.isolated);
  // Added with schema 2; schema 1 reports lack them.
  p.min_batch = j.value("min_batch", std::int64_t{1});
  p.cap_source = j.value("cap_source", std::string());
  p.min_batch_reason = j.value("min_batch_reason", std::string());
  p.worst_case = j.value("worst_case", std::string());
  p.ranks = j.value("ranks", 1);
  j.at("trials").get_to(p.trials);
}

// The normal equations in raw sums, not fit_line (reports/util/fit.hpp) with unit
// weights: that centres the sums first and differs in the last bit about
// one time in three, which would change the model recorded in new reports.
std::optional<MemoryModel> fit_memory_model(const std::vector<ProbeTrial>& trials) {
  double n = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
  std::set<std::int64_t> sizes;
  for (const auto& t : trials) {
    if (t.outcome != TrialOutcome::fits) continue;
    const double x = double(t.batch_size), y = double(t.peak_bytes);
    n += 1; sx += x; sy += y; sxx += x * x; sxy += x * y;
    sizes.insert(t.batch_size);
  }
  if (sizes.size() < 2) return std::nullopt;
  MemoryModel m;
  m.points = int(n);
  m.per_sample_bytes = (n * sxy - sx * sy) / (n * sxx - sx * sx);
  m.fixed_bytes = (sy - m.per_sample_bytes * sx) / n;
  double ss_res = 0, ss_tot = 0;
  const double mean = sy / n;
  for (const auto& t : trials) {
    if (t.outcome != TrialOutcome::fits) continue;
    const double y = double(t.peak_bytes);
    const double pred = m.fixed_bytes + m.per_sample_bytes * double(t.batch_size);
    ss_res += (y - pred) * (y - pred);
    ss_tot += (y - mean) * (y - mean);
  }
  m.r_squared = ss_tot > 0 ? 1.0 - ss_res / ss_tot : 1.0;
  return m;
}

void render_probe_text(std::ostream& out, const ProbeResult& p) {
  char line[256];
  out << "probe (" << to_string(p.strategy) << ", " << p.meter << " on " << p.device << ")\n";
  out << "  capacity              " << format_bytes(p.capacity_bytes) << " (" << p.capacity_source << ")\n";
  if (!p.worst_case.empty()) out << "  worst case            " << p.worst_case << '\n';
  if (p.ranks > 1) {
    out << "  data-parallel         " << p.ranks << " ranks: the trials below are rank 0's micro-batches; the largest "
        << "fitting and safe sizes are global (the smallest rank's x " << p.ranks << ")\n";
  }
  out << "     batch  outcome          peak        seconds\n";
  for (const auto& t : p.trials) {
    const char* outcome = t.outcome == TrialOutcome::fits ? "fits"
                          : t.outcome == TrialOutcome::out_of_memory ? "out of memory"
                          : t.outcome == TrialOutcome::error ? "error" : "crashed";
    std::snprintf(line, sizeof line, "  %8lld  %-14s %12s  %9.2f\n", static_cast<long long>(t.batch_size), outcome,
                  format_bytes(t.peak_bytes).c_str(), t.seconds);
    out << line;
  }
  if (p.memory_model) {
    std::snprintf(line, sizeof line, "  memory model          peak = %s + %s x B (R^2 %.5f, %d points)\n",
                  format_bytes(std::uint64_t(std::max(0.0, p.memory_model->fixed_bytes))).c_str(),
                  format_bytes(std::uint64_t(std::max(0.0, p.memory_model->per_sample_bytes))).c_str(),
                  p.memory_model->r_squared, p.memory_model->points);
    out << line;
  }
  if (p.predicted_edge) {
    out << "  predicted edge        " << *p.predicted_edge
        << (p.capped ? " (the memory line's, not verified: the search stopped at its cap)" : "") << '\n';
  }
  out << "  largest fitting batch " << p.largest_fitting_batch << (p.capped ? " (capped by " + (p.cap_source.empty() ? std::string("--max-batch") : p.cap_source) + ")" : "") << '\n';
  out << "  first failing batch   " << (p.first_failing_batch ? std::to_string(*p.first_failing_batch) : "none") << '\n';
  if (p.min_batch > 1) {
    out << "  smallest batch        " << p.min_batch << " (smaller ones cannot train"
        << (p.min_batch_reason.empty() ? "" : ": " + first_line(p.min_batch_reason)) << ")\n";
  }
  std::snprintf(line, sizeof line, "  safe maximum          %lld (%.0f%% of memory held back)\n",
                static_cast<long long>(p.safe_max_batch), p.margin * 100);
  out << line;
  std::snprintf(line, sizeof line, "  trials                %zu in %.1f s%s\n", p.trials.size(), p.total_seconds,
                p.isolated ? ", each in its own process" : "");
  out << line;
}

}  // namespace batchtune

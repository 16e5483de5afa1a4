// Reports built in memory for the reports/ tests: two runs of one workload
// whose step times come from known distributions, so compare and check have
// answers to get right.
#pragma once

#include <random>

#include "reports/analysis/recommend.hpp"
#include "reports/model/report_reader.hpp"

namespace batchtune::testing {

// A report with one arm per batch size whose `steps` step times (compute;
// data time is 0) are drawn around batch * seconds_per_sample (a 2% spread),
// and its recommendation.
inline Report synthetic_report(const std::string& path, double seconds_per_sample, std::int64_t largest_fitting,
                               unsigned seed = 1, int steps = 40) {
  Report r;
  r.path = path;
  r.schema_version = kReportSchemaVersion;
  r.workload.model = "mlp";
  r.workload.data = "fashion-mnist";
  r.workload.parameter_count = 1000;
  r.workload.optimizer = "sgd";
  r.workload.device = "cpu";
  ProbeResult p;
  p.largest_fitting_batch = largest_fitting;
  p.safe_max_batch = largest_fitting * 9 / 10;
  p.capacity_bytes = 32u << 20;
  r.probe = p;
  SweepResult s;
  s.budget_kind = BudgetKind::samples;
  s.budget_value = 4096;
  s.target_loss = 0.5;
  std::mt19937 rng(seed);
  std::normal_distribution<double> noise(1.0, 0.02);
  for (std::int64_t batch : {16, 64, 256}) {
    SweepArm a;
    a.batch_size = batch;
    for (int i = 0; i < steps; ++i) {
      a.compute_seconds.push_back(double(batch) * seconds_per_sample * noise(rng));
      a.data_seconds.push_back(0.0);
    }
    double total = 0;
    for (double t : a.compute_seconds) total += t;
    a.samples_per_s = double(batch) * steps / total;
    a.evaluations.push_back(EvalPoint{steps, batch * steps, total, 0.4, std::nullopt});
    s.arms.push_back(a);
  }
  summarise_sweep(s);
  r.sweep = s;
  NoiseScale not_measured;
  not_measured.status = NoiseScaleStatus::not_measured;
  r.recommendation = recommend(s, &p, r.workload, not_measured, {});
  return r;
}

}  // namespace batchtune::testing

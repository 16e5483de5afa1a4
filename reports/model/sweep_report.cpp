#include "reports/model/sweep_report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <ostream>

#include "reports/util/fit.hpp"
#include "reports/util/json_util.hpp"
#include "reports/util/statistics.hpp"
#include "reports/util/units.hpp"

namespace batchtune {

using json_util::number;
using json_util::read_number;

std::vector<double> step_total_seconds(const SweepArm& arm) {
  std::vector<double> total;
  total.reserve(arm.compute_seconds.size());
  for (std::size_t i = 0; i < arm.compute_seconds.size(); ++i) {
    // Data-parallel: the allreduce is part of every step's time.
    total.push_back(arm.compute_seconds[i] + (i < arm.data_seconds.size() ? arm.data_seconds[i] : 0.0) +
                    (i < arm.communication_seconds.size() ? arm.communication_seconds[i] : 0.0));
  }
  return total;
}

std::optional<double> step_clock_seconds(const SweepArm& arm) {
  if (arm.mean_step_seconds) return arm.mean_step_seconds;
  if (const auto t = step_times_of(step_total_seconds(arm))) return t->mean_s;
  return std::nullopt;
}

std::optional<TimeToTarget> time_to_target(const SweepArm& arm, double target_loss) {
  if (!std::isfinite(target_loss)) return std::nullopt;
  bool have_previous = false;
  double prev_loss = 0;
  TimeToTarget prev;
  for (const auto& e : arm.evaluations) {
    if (!std::isfinite(e.loss)) return std::nullopt;
    const TimeToTarget here{double(e.step), double(e.samples), e.seconds};
    if (e.loss <= target_loss) {
      // No evaluation above the target before it, or a loss that rose into
      // this one: nothing to interpolate from.
      if (!have_previous || prev_loss <= e.loss) return here;
      const double f = (prev_loss - target_loss) / (prev_loss - e.loss);
      return TimeToTarget{lerp(prev.steps, here.steps, f), lerp(prev.samples, here.samples, f),
                          lerp(prev.seconds, here.seconds, f)};
    }
    have_previous = true;
    prev_loss = e.loss;
    prev = here;
  }
  return std::nullopt;
}

std::optional<EvaluationAtTarget> first_evaluation_at_target(const SweepArm& arm, double target_loss) {
  if (!time_to_target(arm, target_loss)) return std::nullopt;  // the same arms, by the same rules
  for (const auto& e : arm.evaluations) {
    if (e.loss <= target_loss) return EvaluationAtTarget{e.step, e.samples, e.seconds};
  }
  return std::nullopt;
}

TargetOrigin target_origin_of(const std::optional<double>& loss, const std::string& words) {
  if (!loss) return TargetOrigin::none;
  return words == kGivenTargetWords ? TargetOrigin::given : TargetOrigin::chosen;
}

void give_target(SweepResult& sweep, double loss) {
  sweep.target_loss = loss;
  sweep.target_origin = TargetOrigin::given;
  sweep.target_source = kGivenTargetWords;
}

void summarise_sweep(SweepResult& sweep) {
  if (!sweep.target_loss) {
    // The loss at least half the completed arms reach: the median of their
    // best validation losses. (The loss *every* arm reaches is set by the
    // worst arm, and a diverging large batch would make it meaningless.)
    std::vector<double> bests;
    for (const auto& a : sweep.arms) {
      if (a.status != ArmStatus::completed || a.evaluations.empty()) continue;
      double best = a.evaluations.front().loss;
      for (const auto& e : a.evaluations) best = std::min(best, e.loss);
      if (std::isfinite(best)) bests.push_back(best);
    }
    // The upper median, so that at least half the arms reach it.
    if (auto upper_median = upper_median_of(bests)) sweep.target_loss = *upper_median;
    sweep.target_origin = sweep.target_loss ? TargetOrigin::chosen : TargetOrigin::none;
    sweep.target_source = "the median of the completed arms' best validation losses: at least half reach it";
  }
  summarise_targets(sweep);
}

void summarise_targets(SweepResult& sweep) {
  for (auto& a : sweep.arms) {
    a.target.reset();
    a.first_evaluation_at_target.reset();
    if (!sweep.target_loss) continue;
    a.target = time_to_target(a, *sweep.target_loss);
    a.first_evaluation_at_target = first_evaluation_at_target(a, *sweep.target_loss);
  }
  std::map<std::int64_t, std::vector<const SweepArm*>> by_batch;
  for (const auto& a : sweep.arms) by_batch[a.batch_size].push_back(&a);
  sweep.summaries.clear();
  for (const auto& [batch, arms] : by_batch) {
    BatchSummary s;
    s.batch_size = batch;
    s.learning_rate = arms.front()->learning_rate;
    s.arms = static_cast<int>(arms.size());
    std::vector<double> rate, loss, acc, t_sec, t_samples, t_steps, padding;
    for (const SweepArm* a : arms) {
      s.peak_bytes = std::max(s.peak_bytes, a->peak_bytes);
      if (a->padding_share) padding.push_back(*a->padding_share);
      if (a->status == ArmStatus::completed) ++s.completed;
      if (a->samples_per_s) rate.push_back(*a->samples_per_s);
      if (a->status == ArmStatus::completed && a->final_validation_loss) loss.push_back(*a->final_validation_loss);
      if (a->status == ArmStatus::completed && a->final_validation_accuracy) acc.push_back(*a->final_validation_accuracy);
      if (a->target) {
        t_sec.push_back(a->target->seconds);
        t_samples.push_back(a->target->samples);
        t_steps.push_back(a->target->steps);
      }
    }
    auto opt = [](const std::vector<double>& v) { return v.empty() ? std::nullopt : std::optional<Spread>(spread_of(v)); };
    s.samples_per_s = opt(rate);
    s.padding_share = mean_of(padding);
    s.final_validation_loss = opt(loss);
    s.final_validation_accuracy = opt(acc);
    // Time to target only when every arm of this size reached it: a mean over
    // the lucky seeds would flatter the size (recommend reads the same rule).
    if (int(t_sec.size()) == s.arms) {
      s.seconds_to_target = opt(t_sec);
      s.samples_to_target = opt(t_samples);
      s.steps_to_target = opt(t_steps);
    }
    std::vector<double> train, gap;
    for (const SweepArm* a : arms) {
      if (a->status != ArmStatus::completed || !a->final_validation_loss) continue;
      if (const auto t = training_loss_at_end(*a)) {
        train.push_back(*t);
        gap.push_back(*a->final_validation_loss - *t);
      }
    }
    s.final_training_loss = opt(train);
    s.generalization_gap = opt(gap);
    sweep.summaries.push_back(s);
  }
  const BatchSummary* best = nullptr;
  for (const auto& s : sweep.summaries) {
    if (s.final_validation_loss && (!best || s.final_validation_loss->mean < best->final_validation_loss->mean)) best = &s;
  }
  for (auto& s : sweep.summaries) {
    if (!best || !s.final_validation_loss || s.final_validation_loss->n < 2 || best->final_validation_loss->n < 2) continue;
    const double spread = std::max(s.final_validation_loss->stddev, best->final_validation_loss->stddev);
    s.validation_worse_than_best = s.final_validation_loss->mean - best->final_validation_loss->mean > spread;
  }
}

std::optional<double> training_loss_at_end(const SweepArm& arm) {
  if (arm.final_training_loss && std::isfinite(*arm.final_training_loss)) return arm.final_training_loss;
  if (arm.train_loss.empty()) return std::nullopt;
  const std::size_t n = arm.train_loss.size();
  const std::size_t tail = std::max<std::size_t>(1, n / 5);
  double sum = 0;
  int count = 0;
  for (std::size_t i = n - tail; i < n; ++i) {
    if (std::isfinite(arm.train_loss[i].loss)) {
      sum += arm.train_loss[i].loss;
      ++count;
    }
  }
  if (count == 0) return std::nullopt;
  return sum / count;
}

void to_json(nlohmann::json& j, const LossPoint& p) {
  j = {{"step", p.step}, {"samples", p.samples}, {"seconds", number(p.seconds)}, {"loss", number(p.loss)}};
}
void from_json(const nlohmann::json& j, LossPoint& p) {
  j.at("step").get_to(p.step);
  j.at("samples").get_to(p.samples);
  p.seconds = read_number(j.at("seconds"));
  p.loss = read_number(j.at("loss"));
}
void to_json(nlohmann::json& j, const EvalPoint& p) {
  j = {{"step", p.step}, {"samples", p.samples}, {"seconds", number(p.seconds)},
       {"loss", number(p.loss)}, {"accuracy", p.accuracy}};
}
void from_json(const nlohmann::json& j, EvalPoint& p) {
  j.at("step").get_to(p.step);
  j.at("samples").get_to(p.samples);
  p.seconds = read_number(j.at("seconds"));
  p.loss = read_number(j.at("loss"));
  j.at("accuracy").get_to(p.accuracy);
}
void to_json(nlohmann::json& j, const TimeToTarget& t) {
  j = {{"steps", number(t.steps)}, {"samples", number(t.samples)}, {"seconds", number(t.seconds)}};
}
void from_json(const nlohmann::json& j, TimeToTarget& t) {
  t.steps = read_number(j.at("steps"));
  t.samples = read_number(j.at("samples"));
  t.seconds = read_number(j.at("seconds"));
}
void to_json(nlohmann::json& j, const EvaluationAtTarget& t) {
  j = {{"step", t.step}, {"samples", t.samples}, {"seconds", number(t.seconds)}};
}
void from_json(const nlohmann::json& j, EvaluationAtTarget& t) {
  j.at("step").get_to(t.step);
  j.at("samples").get_to(t.samples);
  t.seconds = read_number(j.at("seconds"));
}
void to_json(nlohmann::json& j, const SweepArm& a) {
  j = {{"batch_size", a.batch_size},
       {"seed", a.seed},
       {"learning_rate", number(a.learning_rate)},
       {"status", a.status},
       {"message", a.message},
       {"failed_at_step", a.failed_at_step},
       {"steps", a.steps},
       {"samples", a.samples},
       {"train_seconds", number(a.train_seconds)},
       {"warmup_steps_excluded", a.warmup_steps_excluded},
       {"timing_only_steps", a.timing_only_steps},
       {"median_step_seconds", a.median_step_seconds},
       {"p10_step_seconds", a.p10_step_seconds},
       {"p90_step_seconds", a.p90_step_seconds},
       {"samples_per_s", a.samples_per_s},
       {"steps_per_s", a.steps_per_s},
       {"data_share", a.data_share},
       {"peak_bytes", a.peak_bytes},
       {"initial_weights_sum", number(a.initial_weights_sum)},
       {"final_validation_loss", a.final_validation_loss},
       {"final_validation_accuracy", a.final_validation_accuracy},
       {"final_training_loss", a.final_training_loss},
       {"target", a.target},
       {"first_evaluation_at_target", a.first_evaluation_at_target},
       {"evaluations", a.evaluations},
       {"compute_seconds", a.compute_seconds},
       {"data_seconds", a.data_seconds},
       {"train_loss", a.train_loss}};
  // Data-parallel arms only: a single-process report keeps its shape.
  if (!a.communication_seconds.empty()) j["communication_seconds"] = a.communication_seconds;
  if (a.compute_share) j["compute_share"] = number(*a.compute_share);
  if (!a.communication_seconds.empty()) {
    j["single_rank_step_seconds"] = a.single_rank_step_seconds;
    j["scaling_efficiency"] = a.scaling_efficiency;
  }
  if (!a.final_weights_sum_per_rank.empty()) j["final_weights_sum_per_rank"] = a.final_weights_sum_per_rank;
  if (a.padding_share) j["padding_share"] = number(*a.padding_share);  // variable-size data only
  // Added within schema 2: written where known, so an older report read back stays the same.
  if (a.mean_step_seconds) j["mean_step_seconds"] = number(*a.mean_step_seconds);
  if (a.other_cpu_cores) j["other_cpu_cores"] = number(*a.other_cpu_cores);
}
void from_json(const nlohmann::json& j, SweepArm& a) {
  if (j.contains("communication_seconds")) j.at("communication_seconds").get_to(a.communication_seconds);
  if (j.contains("final_training_loss")) j.at("final_training_loss").get_to(a.final_training_loss);
  if (j.contains("compute_share")) j.at("compute_share").get_to(a.compute_share);
  if (j.contains("single_rank_step_seconds")) j.at("single_rank_step_seconds").get_to(a.single_rank_step_seconds);
  if (j.contains("scaling_efficiency")) j.at("scaling_efficiency").get_to(a.scaling_efficiency);
  if (j.contains("final_weights_sum_per_rank")) j.at("final_weights_sum_per_rank").get_to(a.final_weights_sum_per_rank);
  a.padding_share.reset();
  if (j.contains("padding_share")) a.padding_share = read_number(j.at("padding_share"));
  j.at("batch_size").get_to(a.batch_size);
  j.at("seed").get_to(a.seed);
  a.learning_rate = read_number(j.at("learning_rate"));
  j.at("status").get_to(a.status);
  j.at("message").get_to(a.message);
  j.at("failed_at_step").get_to(a.failed_at_step);
  j.at("steps").get_to(a.steps);
  j.at("samples").get_to(a.samples);
  a.train_seconds = read_number(j.at("train_seconds"));
  j.at("warmup_steps_excluded").get_to(a.warmup_steps_excluded);
  // Added after schema 1 was first written: older reports lack it.
  a.timing_only_steps = j.value("timing_only_steps", std::int64_t{0});
  // Added within schema 2: older reports' arms are read by their raw steps
  // (step_clock_seconds); their samples_per_s were of the median.
  a.mean_step_seconds.reset();
  if (j.contains("mean_step_seconds")) j.at("mean_step_seconds").get_to(a.mean_step_seconds);
  j.at("median_step_seconds").get_to(a.median_step_seconds);
  j.at("p10_step_seconds").get_to(a.p10_step_seconds);
  j.at("p90_step_seconds").get_to(a.p90_step_seconds);
  j.at("samples_per_s").get_to(a.samples_per_s);
  j.at("steps_per_s").get_to(a.steps_per_s);
  j.at("data_share").get_to(a.data_share);
  j.at("peak_bytes").get_to(a.peak_bytes);
  a.other_cpu_cores.reset();  // added within schema 2
  if (j.contains("other_cpu_cores")) j.at("other_cpu_cores").get_to(a.other_cpu_cores);
  a.initial_weights_sum = read_number(j.at("initial_weights_sum"));
  j.at("final_validation_loss").get_to(a.final_validation_loss);
  j.at("final_validation_accuracy").get_to(a.final_validation_accuracy);
  j.at("target").get_to(a.target);
  // Added in schema 2 (report_reader recomputes it for older reports).
  if (j.contains("first_evaluation_at_target")) {
    j.at("first_evaluation_at_target").get_to(a.first_evaluation_at_target);
  }
  j.at("evaluations").get_to(a.evaluations);
  j.at("compute_seconds").get_to(a.compute_seconds);  // schema 1's step_seconds: report_reader renames it
  j.at("data_seconds").get_to(a.data_seconds);
  j.at("train_loss").get_to(a.train_loss);
}
void to_json(nlohmann::json& j, const ScanPoint& p) {
  j = {{"batch_size", p.batch_size}, {"mean_step_seconds", number(p.mean_step_seconds)},
       {"median_step_seconds", number(p.median_step_seconds)},
       {"samples_per_s", number(p.samples_per_s)}, {"peak_bytes", p.peak_bytes}, {"timed_steps", p.timed_steps}};
}
void from_json(const nlohmann::json& j, ScanPoint& p) {
  j.at("batch_size").get_to(p.batch_size);
  p.median_step_seconds = read_number(j.at("median_step_seconds"));
  // Added within schema 2; an older scan's samples/s were of the median.
  p.mean_step_seconds = j.contains("mean_step_seconds") ? read_number(j.at("mean_step_seconds")) : p.median_step_seconds;
  p.samples_per_s = read_number(j.at("samples_per_s"));
  j.at("peak_bytes").get_to(p.peak_bytes);
  j.at("timed_steps").get_to(p.timed_steps);
}
void to_json(nlohmann::json& j, const PhaseSeconds& p) {
  j = {{"probe", number(p.probe)}, {"throughput_scan", number(p.throughput_scan)},
       {"training", number(p.training)}, {"evaluation", number(p.evaluation)},
       {"noise_scale", number(p.noise_scale)}, {"total", number(p.total)}};
}
void from_json(const nlohmann::json& j, PhaseSeconds& p) {
  p.probe = read_number(j.at("probe"));
  p.throughput_scan = read_number(j.at("throughput_scan"));
  p.training = read_number(j.at("training"));
  p.evaluation = read_number(j.at("evaluation"));
  p.noise_scale = read_number(j.at("noise_scale"));
  p.total = read_number(j.at("total"));
}
void to_json(nlohmann::json& j, const Spread& s) {
  j = {{"mean", number(s.mean)}, {"min", number(s.min)}, {"max", number(s.max)},
       {"stddev", number(s.stddev)}, {"n", s.n}};
}
void from_json(const nlohmann::json& j, Spread& s) {
  s.mean = read_number(j.at("mean"));
  s.min = read_number(j.at("min"));
  s.max = read_number(j.at("max"));
  s.stddev = read_number(j.at("stddev"));
  j.at("n").get_to(s.n);
}
void to_json(nlohmann::json& j, const BatchSummary& s) {
  j = {{"batch_size", s.batch_size},
       {"learning_rate", number(s.learning_rate)},
       {"arms", s.arms},
       {"completed", s.completed},
       {"samples_per_s", s.samples_per_s},
       {"final_validation_loss", s.final_validation_loss},
       {"final_validation_accuracy", s.final_validation_accuracy},
       {"seconds_to_target", s.seconds_to_target},
       {"samples_to_target", s.samples_to_target},
       {"steps_to_target", s.steps_to_target},
       {"peak_bytes", s.peak_bytes},
       {"final_training_loss", s.final_training_loss},
       {"generalization_gap", s.generalization_gap},
       {"validation_worse_than_best", s.validation_worse_than_best}};
  if (s.padding_share) j["padding_share"] = number(*s.padding_share);
}
void from_json(const nlohmann::json& j, BatchSummary& s) {
  j.at("batch_size").get_to(s.batch_size);
  s.learning_rate = read_number(j.at("learning_rate"));
  j.at("arms").get_to(s.arms);
  j.at("completed").get_to(s.completed);
  j.at("samples_per_s").get_to(s.samples_per_s);
  j.at("final_validation_loss").get_to(s.final_validation_loss);
  j.at("final_validation_accuracy").get_to(s.final_validation_accuracy);
  j.at("seconds_to_target").get_to(s.seconds_to_target);
  j.at("samples_to_target").get_to(s.samples_to_target);
  j.at("steps_to_target").get_to(s.steps_to_target);
  j.at("peak_bytes").get_to(s.peak_bytes);
  // Added after schema 2 was first written; recomputed from the arms when read.
  if (j.contains("final_training_loss")) j.at("final_training_loss").get_to(s.final_training_loss);
  if (j.contains("generalization_gap")) j.at("generalization_gap").get_to(s.generalization_gap);
  if (j.contains("validation_worse_than_best")) j.at("validation_worse_than_best").get_to(s.validation_worse_than_best);
  s.padding_share.reset();
  if (j.contains("padding_share")) s.padding_share = read_number(j.at("padding_share"));
}
void to_json(nlohmann::json& j, const SweepResult& s) {
  j = {{"budget_kind", s.budget_kind},
       {"budget_value", number(s.budget_value)},
       {"lr_scaling", s.lr_scaling},
       {"base_batch", s.base_batch},
       {"base_learning_rate", number(s.base_learning_rate)},
       {"warmup_share", number(s.warmup_share)},
       {"eval_every_samples", s.eval_every_samples},
       {"eval_samples", s.eval_samples},
       {"target_loss", s.target_loss},
       {"target_source", s.target_source},
       {"seeds", s.seeds},
       {"precision", s.precision},
       {"batch_sizes_source", s.batch_sizes_source},
       {"incomplete", s.incomplete},
       {"incomplete_reason", s.incomplete_reason},
       {"throughput_scan", s.throughput_scan},
       {"throughput_knee", s.throughput_knee},
       {"phase_seconds", s.phase_seconds},
       {"summaries", s.summaries},
       {"arms", s.arms}};
  // Only a sharded or data-parallel sweep has these: other reports keep their shape.
  if (s.shard) j["shard"] = *s.shard;
  if (s.data_parallel) j["data_parallel"] = *s.data_parallel;
  if (!s.batching.empty()) j["batching"] = s.batching;
  if (s.timing_conditions) j["timing_conditions"] = *s.timing_conditions;
}
void to_json(nlohmann::json& j, const ShardInfo& s) {
  j = {{"index", s.index}, {"count", s.count}, {"batch_sizes", s.batch_sizes}, {"arms_planned", s.arms_planned}};
}
void from_json(const nlohmann::json& j, ShardInfo& s) {
  j.at("index").get_to(s.index);
  j.at("count").get_to(s.count);
  j.at("batch_sizes").get_to(s.batch_sizes);
  j.at("arms_planned").get_to(s.arms_planned);
}
void to_json(nlohmann::json& j, const RankInfo& r) {
  j = {{"rank", r.rank}, {"host", r.host}, {"device", r.device}, {"safe_max_micro_batch", r.safe_max_micro_batch}};
}
void from_json(const nlohmann::json& j, RankInfo& r) {
  j.at("rank").get_to(r.rank);
  j.at("host").get_to(r.host);
  j.at("device").get_to(r.device);
  j.at("safe_max_micro_batch").get_to(r.safe_max_micro_batch);
}
void to_json(nlohmann::json& j, const DataParallelInfo& d) {
  j = {{"world_size", d.world_size}, {"backend", d.backend}, {"launcher", d.launcher}, {"ranks", d.ranks}};
}
void from_json(const nlohmann::json& j, DataParallelInfo& d) {
  j.at("world_size").get_to(d.world_size);
  j.at("backend").get_to(d.backend);
  j.at("launcher").get_to(d.launcher);
  j.at("ranks").get_to(d.ranks);
}
void from_json(const nlohmann::json& j, SweepResult& s) {
  j.at("budget_kind").get_to(s.budget_kind);
  s.budget_value = read_number(j.at("budget_value"));
  j.at("lr_scaling").get_to(s.lr_scaling);
  j.at("base_batch").get_to(s.base_batch);
  s.base_learning_rate = read_number(j.at("base_learning_rate"));
  s.warmup_share = read_number(j.at("warmup_share"));
  j.at("eval_every_samples").get_to(s.eval_every_samples);
  j.at("eval_samples").get_to(s.eval_samples);
  j.at("target_loss").get_to(s.target_loss);
  j.at("target_source").get_to(s.target_source);
  s.target_origin = target_origin_of(s.target_loss, s.target_source);
  j.at("seeds").get_to(s.seeds);
  j.at("precision").get_to(s.precision);
  s.batching = j.value("batching", std::string());
  j.at("batch_sizes_source").get_to(s.batch_sizes_source);
  j.at("incomplete").get_to(s.incomplete);
  j.at("incomplete_reason").get_to(s.incomplete_reason);
  // Added with schema 2; schema 1 reports lack them.
  if (j.contains("throughput_scan")) j.at("throughput_scan").get_to(s.throughput_scan);
  s.throughput_knee = j.value("throughput_knee", std::string());
  if (j.contains("phase_seconds")) j.at("phase_seconds").get_to(s.phase_seconds);
  j.at("summaries").get_to(s.summaries);
  j.at("arms").get_to(s.arms);
  if (j.contains("shard") && !j.at("shard").is_null()) s.shard = j.at("shard").get<ShardInfo>();
  if (j.contains("data_parallel") && !j.at("data_parallel").is_null()) {
    s.data_parallel = j.at("data_parallel").get<DataParallelInfo>();
  }
  s.timing_conditions.reset();  // added within schema 2
  if (j.contains("timing_conditions") && !j.at("timing_conditions").is_null()) {
    s.timing_conditions = j.at("timing_conditions").get<TimingConditions>();
  }
}

bool is_throughput_only(const SweepResult& s) {
  return s.budget_value == 0 && s.arms.empty() && (!s.throughput_scan.empty() || !s.throughput_knee.empty());
}

}  // namespace batchtune

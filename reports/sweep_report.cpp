#include "reports/sweep_report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <ostream>

#include "reports/json_util.hpp"
#include "reports/machine_info.hpp"

namespace batchtune {

using json_util::number;
using json_util::optional;
using json_util::read_number;
using json_util::read_optional;

Spread spread_of(const std::vector<double>& values) {
  Spread s;
  s.n = static_cast<int>(values.size());
  if (values.empty()) return s;
  s.min = *std::min_element(values.begin(), values.end());
  s.max = *std::max_element(values.begin(), values.end());
  double sum = 0;
  for (double v : values) sum += v;
  s.mean = sum / double(values.size());
  double ss = 0;
  for (double v : values) ss += (v - s.mean) * (v - s.mean);
  s.stddev = values.size() > 1 ? std::sqrt(ss / double(values.size() - 1)) : 0.0;
  return s;
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
    if (!bests.empty()) {
      std::sort(bests.begin(), bests.end());
      // The upper median, so that at least half the arms reach it.
      sweep.target_loss = bests[bests.size() / 2];
    }
    sweep.target_source = "the median of the completed arms' best validation losses: at least half reach it";
  }
  for (auto& a : sweep.arms) {
    a.target.reset();
    if (!sweep.target_loss) continue;
    for (const auto& e : a.evaluations) {
      if (std::isfinite(e.loss) && e.loss <= *sweep.target_loss) {
        a.target = TargetReached{e.step, e.samples, e.seconds};
        break;
      }
    }
  }
  std::map<std::int64_t, std::vector<const SweepArm*>> by_batch;
  for (const auto& a : sweep.arms) by_batch[a.batch_size].push_back(&a);
  sweep.summaries.clear();
  for (const auto& [batch, arms] : by_batch) {
    BatchSummary s;
    s.batch_size = batch;
    s.learning_rate = arms.front()->learning_rate;
    s.arms = static_cast<int>(arms.size());
    std::vector<double> rate, loss, acc, t_sec, t_samples, t_steps;
    for (const SweepArm* a : arms) {
      s.peak_bytes = std::max(s.peak_bytes, a->peak_bytes);
      if (a->status == ArmStatus::completed) ++s.completed;
      if (a->samples_per_s) rate.push_back(*a->samples_per_s);
      if (a->status == ArmStatus::completed && a->final_validation_loss) loss.push_back(*a->final_validation_loss);
      if (a->status == ArmStatus::completed && a->final_validation_accuracy) acc.push_back(*a->final_validation_accuracy);
      if (a->target) {
        t_sec.push_back(a->target->seconds);
        t_samples.push_back(double(a->target->samples));
        t_steps.push_back(double(a->target->steps));
      }
    }
    auto opt = [](const std::vector<double>& v) { return v.empty() ? std::nullopt : std::optional<Spread>(spread_of(v)); };
    s.samples_per_s = opt(rate);
    s.final_validation_loss = opt(loss);
    s.final_validation_accuracy = opt(acc);
    // Time to target only when every arm of this size reached it: a mean over
    // the lucky seeds would flatter the size.
    if (int(t_sec.size()) == s.arms) {
      s.seconds_to_target = opt(t_sec);
      s.samples_to_target = opt(t_samples);
      s.steps_to_target = opt(t_steps);
    }
    sweep.summaries.push_back(s);
  }
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
       {"loss", number(p.loss)}, {"accuracy", optional(p.accuracy)}};
}
void from_json(const nlohmann::json& j, EvalPoint& p) {
  j.at("step").get_to(p.step);
  j.at("samples").get_to(p.samples);
  p.seconds = read_number(j.at("seconds"));
  p.loss = read_number(j.at("loss"));
  p.accuracy = read_optional<double>(j, "accuracy");
}
void to_json(nlohmann::json& j, const TargetReached& t) {
  j = {{"steps", t.steps}, {"samples", t.samples}, {"seconds", number(t.seconds)}};
}
void from_json(const nlohmann::json& j, TargetReached& t) {
  j.at("steps").get_to(t.steps);
  j.at("samples").get_to(t.samples);
  t.seconds = read_number(j.at("seconds"));
}
void to_json(nlohmann::json& j, const SweepArm& a) {
  j = {{"batch_size", a.batch_size},
       {"seed", a.seed},
       {"learning_rate", number(a.learning_rate)},
       {"status", a.status},
       {"message", a.message},
       {"failed_at_step", optional(a.failed_at_step)},
       {"steps", a.steps},
       {"samples", a.samples},
       {"train_seconds", number(a.train_seconds)},
       {"warmup_steps_excluded", a.warmup_steps_excluded},
       {"timing_only_steps", a.timing_only_steps},
       {"median_step_seconds", optional(a.median_step_seconds)},
       {"p10_step_seconds", optional(a.p10_step_seconds)},
       {"p90_step_seconds", optional(a.p90_step_seconds)},
       {"samples_per_s", optional(a.samples_per_s)},
       {"steps_per_s", optional(a.steps_per_s)},
       {"data_share", optional(a.data_share)},
       {"peak_bytes", a.peak_bytes},
       {"initial_weights_sum", number(a.initial_weights_sum)},
       {"final_validation_loss", optional(a.final_validation_loss)},
       {"final_validation_accuracy", optional(a.final_validation_accuracy)},
       {"target", optional(a.target)},
       {"evaluations", a.evaluations},
       {"step_seconds", a.step_seconds},
       {"data_seconds", a.data_seconds},
       {"train_loss", a.train_loss}};
}
void from_json(const nlohmann::json& j, SweepArm& a) {
  j.at("batch_size").get_to(a.batch_size);
  j.at("seed").get_to(a.seed);
  a.learning_rate = read_number(j.at("learning_rate"));
  j.at("status").get_to(a.status);
  j.at("message").get_to(a.message);
  a.failed_at_step = read_optional<std::int64_t>(j, "failed_at_step");
  j.at("steps").get_to(a.steps);
  j.at("samples").get_to(a.samples);
  a.train_seconds = read_number(j.at("train_seconds"));
  j.at("warmup_steps_excluded").get_to(a.warmup_steps_excluded);
  // Added after schema 1 was first written: older reports lack it.
  a.timing_only_steps = j.value("timing_only_steps", std::int64_t{0});
  a.median_step_seconds = read_optional<double>(j, "median_step_seconds");
  a.p10_step_seconds = read_optional<double>(j, "p10_step_seconds");
  a.p90_step_seconds = read_optional<double>(j, "p90_step_seconds");
  a.samples_per_s = read_optional<double>(j, "samples_per_s");
  a.steps_per_s = read_optional<double>(j, "steps_per_s");
  a.data_share = read_optional<double>(j, "data_share");
  j.at("peak_bytes").get_to(a.peak_bytes);
  a.initial_weights_sum = read_number(j.at("initial_weights_sum"));
  a.final_validation_loss = read_optional<double>(j, "final_validation_loss");
  a.final_validation_accuracy = read_optional<double>(j, "final_validation_accuracy");
  a.target = read_optional<TargetReached>(j, "target");
  j.at("evaluations").get_to(a.evaluations);
  j.at("step_seconds").get_to(a.step_seconds);
  j.at("data_seconds").get_to(a.data_seconds);
  j.at("train_loss").get_to(a.train_loss);
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
       {"samples_per_s", optional(s.samples_per_s)},
       {"final_validation_loss", optional(s.final_validation_loss)},
       {"final_validation_accuracy", optional(s.final_validation_accuracy)},
       {"seconds_to_target", optional(s.seconds_to_target)},
       {"samples_to_target", optional(s.samples_to_target)},
       {"steps_to_target", optional(s.steps_to_target)},
       {"peak_bytes", s.peak_bytes}};
}
void from_json(const nlohmann::json& j, BatchSummary& s) {
  j.at("batch_size").get_to(s.batch_size);
  s.learning_rate = read_number(j.at("learning_rate"));
  j.at("arms").get_to(s.arms);
  j.at("completed").get_to(s.completed);
  s.samples_per_s = read_optional<Spread>(j, "samples_per_s");
  s.final_validation_loss = read_optional<Spread>(j, "final_validation_loss");
  s.final_validation_accuracy = read_optional<Spread>(j, "final_validation_accuracy");
  s.seconds_to_target = read_optional<Spread>(j, "seconds_to_target");
  s.samples_to_target = read_optional<Spread>(j, "samples_to_target");
  s.steps_to_target = read_optional<Spread>(j, "steps_to_target");
  j.at("peak_bytes").get_to(s.peak_bytes);
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
       {"target_loss", optional(s.target_loss)},
       {"target_source", s.target_source},
       {"seeds", s.seeds},
       {"precision", s.precision},
       {"batch_sizes_source", s.batch_sizes_source},
       {"incomplete", s.incomplete},
       {"incomplete_reason", s.incomplete_reason},
       {"summaries", s.summaries},
       {"arms", s.arms}};
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
  s.target_loss = read_optional<double>(j, "target_loss");
  j.at("target_source").get_to(s.target_source);
  j.at("seeds").get_to(s.seeds);
  j.at("precision").get_to(s.precision);
  j.at("batch_sizes_source").get_to(s.batch_sizes_source);
  j.at("incomplete").get_to(s.incomplete);
  j.at("incomplete_reason").get_to(s.incomplete_reason);
  j.at("summaries").get_to(s.summaries);
  j.at("arms").get_to(s.arms);
}

void render_sweep_text(std::ostream& out, const SweepResult& s) {
  char line[256];
  out << "sweep (" << s.budget_kind << " budget " << s.budget_value << " per arm, lr scaling " << s.lr_scaling
      << " from batch " << s.base_batch << " at " << s.base_learning_rate << ", " << s.seeds << " seed"
      << (s.seeds > 1 ? "s" : "") << ", " << s.precision << ")\n";
  if (s.target_loss) {
    std::snprintf(line, sizeof line, "  target validation loss %.4f (%s)\n", *s.target_loss, s.target_source.c_str());
    out << line;
  }
  out << "     batch        lr  done  samples/s   val_loss  val_acc  to_target_s  to_target_samples       peak\n";
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
  for (const auto& a : s.arms) {
    if (a.status == ArmStatus::completed) continue;
    out << "  batch " << a.batch_size << " seed " << a.seed << ": " << nlohmann::json(a.status).get<std::string>()
        << (a.failed_at_step ? " at step " + std::to_string(*a.failed_at_step) : "") << " (" << a.message << ")\n";
  }
  if (s.incomplete) out << "  INCOMPLETE: " << s.incomplete_reason << '\n';
}

}  // namespace batchtune

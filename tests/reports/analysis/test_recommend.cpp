// The recommendation's models against exact synthetic data: S(B) and t(B)
// recovered, T(B) minimised where the formulas put it, each objective's pick.
#include "tests/support/catch.hpp"

#include <cmath>
#include <map>
#include <sstream>

#include "reports/analysis/recommend.hpp"
#include "reports/render/render_html.hpp"
#include "reports/render/render_text.hpp"

using namespace batchtune;

namespace {

constexpr double kMinSteps = 200;
constexpr double kCritical = 300;
constexpr double kFixedS = 0.02;       // t0
constexpr double kPerSampleS = 1e-4;   // c: throughput saturates near t0/c = 200

double exact_steps(double b) { return kMinSteps * (1 + kCritical / b); }
double exact_step_s(double b) { return kFixedS + kPerSampleS * b; }

// A sweep whose arms cross the target exactly at S(B) steps (evaluations every
// step near the crossing) with step times t(B).
SweepResult exact_sweep(const std::vector<std::int64_t>& sizes, double budget_samples) {
  SweepResult s;
  s.budget_kind = BudgetKind::samples;
  s.budget_value = budget_samples;
  s.lr_scaling = LrScaling::linear;
  s.base_batch = 64;
  s.base_learning_rate = 0.1;
  s.seeds = 2;
  s.target_loss = 1.0;
  for (std::int64_t b : sizes) {
    for (std::uint64_t seed : {0, 1}) {
      SweepArm a;
      a.batch_size = b;
      a.seed = seed;
      a.learning_rate = scaled_learning_rate(LrScaling::linear, 0.1, 64, b);
      const double t = exact_step_s(double(b));
      const auto steps = static_cast<std::int64_t>(budget_samples / double(b));
      a.steps = steps;
      a.samples = steps * b;
      for (int i = 0; i < 10; ++i) a.compute_seconds.push_back(t), a.data_seconds.push_back(0);
      a.samples_per_s = double(b) / t;
      const double cross = exact_steps(double(b));
      // loss falls linearly in steps: 2 at step 0, 1 (the target) at S(B)
      for (std::int64_t k = 1; k <= steps; k += std::max<std::int64_t>(1, steps / 8)) {
        const double loss = 2.0 - double(k) / cross;
        a.evaluations.push_back(EvalPoint{k, k * b, double(k) * t, loss, std::nullopt});
      }
      a.final_validation_loss = a.evaluations.back().loss;
      s.arms.push_back(a);
    }
  }
  summarise_sweep(s);
  return s;
}

// The recommendation for `sweep` with a probe whose safe maximum is 1024 and
// no noise scale measured.
Recommendation recommend_at_1024(const SweepResult& sweep, const RecommendSettings& settings = {}) {
  ProbeResult probe;
  probe.safe_max_batch = 1024;
  probe.largest_fitting_batch = 1100;
  WorkloadInfo w;
  w.optimizer = "sgd";
  NoiseScale noise;
  noise.status = NoiseScaleStatus::not_measured;
  return recommend(sweep, &probe, w, noise, settings);
}

}  // namespace

TEST_CASE("the S(B) fit recovers S_min and B_crit from exact data", "[reports][recommend]") {
  std::vector<std::pair<double, double>> pts;
  for (double b : {16.0, 32.0, 64.0, 128.0, 512.0}) pts.emplace_back(b, exact_steps(b));
  const auto fit = fit_steps_to_target(pts);
  REQUIRE(fit.has_value());
  CHECK(fit->min_steps == Approx(kMinSteps).epsilon(1e-9));
  CHECK(fit->critical_batch == Approx(kCritical).epsilon(1e-9));
  CHECK(fit->r_squared == Approx(1.0));
  CHECK(fit->points == 5);

  SECTION("too few sizes, or steps falling faster than 1/B, give no fit") {
    CHECK_FALSE(fit_steps_to_target({{16, 100}}).has_value());
    CHECK_FALSE(fit_steps_to_target({{16, 100}, {32, 20}}).has_value());  // negative intercept
  }
}

TEST_CASE("the step-time fit recovers t0 and c, and the saturation batch", "[reports][recommend]") {
  std::vector<std::pair<double, double>> pts;
  for (double b : {16.0, 64.0, 256.0, 1024.0}) pts.emplace_back(b, exact_step_s(b));
  const auto fit = fit_step_time(pts);
  REQUIRE(fit.has_value());
  CHECK(fit->fixed_s == Approx(kFixedS).epsilon(1e-9));
  CHECK(fit->per_sample_s == Approx(kPerSampleS).epsilon(1e-9));
  REQUIRE(fit->saturation_batch.has_value());
  CHECK(*fit->saturation_batch == Approx(200));
  // Interpolation between measured sizes is exact at them and in between for a power law.
  CHECK(interpolate_step_time(pts, 64) == Approx(exact_step_s(64)));
}

TEST_CASE("a step-time line with a negative fixed cost goes through the origin instead", "[reports][recommend]") {
  // Steps growing faster than the batch over a few sizes (a cache filling
  // up): the free line's intercept would be below zero.
  const std::vector<std::pair<double, double>> pts = {{16, 0.010}, {32, 0.025}, {49, 0.040}};
  const auto fit = fit_step_time(pts);
  REQUIRE(fit.has_value());
  CHECK(fit->fixed_s == 0.0);
  CHECK(fit->per_sample_s > 0.0);
  CHECK(fit->per_sample_s == Approx(0.00075).epsilon(0.1));
  CHECK_FALSE(fit->saturation_batch.has_value());
  CHECK(fit->r_squared <= 1.0);
}

TEST_CASE("time to target is minimised near sqrt(B_crit x B_sat)", "[reports][recommend]") {
  const SweepResult sweep = exact_sweep({16, 32, 64, 128, 256, 512, 1024}, 600000);
  const Recommendation r = recommend_at_1024(sweep);
  REQUIRE(r.steps_fit.has_value());
  CHECK(r.steps_fit->critical_batch == Approx(kCritical).epsilon(0.02));
  // T(B) = S_min (1 + Bc/B)(t0 + c B) is minimal at sqrt(Bc t0 / c) = sqrt(300 x 200) = 245; the
  // pick is the largest grid size within 5% of the minimum (T is flat there): 256 on this grid.
  const double best = std::sqrt(kCritical * kFixedS / kPerSampleS);
  REQUIRE(r.recommends());
  CHECK(best == Approx(245).epsilon(0.01));
  CHECK(*r.batch_size == 256);
  double analytic_best = 1e300;
  for (const auto& p : r.predictions) {
    analytic_best = std::min(analytic_best, exact_steps(double(p.batch_size)) * exact_step_s(double(p.batch_size)));
  }
  REQUIRE(r.predicted_seconds_to_target.has_value());
  CHECK(*r.predicted_seconds_to_target <= analytic_best * 1.05 * 1.01);
  CHECK(*r.predicted_seconds_to_target >= analytic_best * 0.99);
  CHECK(*r.learning_rate == Approx(0.1 * double(*r.batch_size) / 64));
  REQUIRE(r.max_fit_slowdown.has_value());
  const double expected_slowdown = exact_steps(1024) * exact_step_s(1024) / *r.predicted_seconds_to_target;
  CHECK(*r.max_fit_slowdown == Approx(expected_slowdown).epsilon(0.03));
  CHECK(r.accumulation_steps == 1);
  CHECK(r.reasons.size() >= 2);
  CHECK(r.confidence == Confidence::high);
}

TEST_CASE("each objective picks what it names", "[reports][recommend]") {
  const SweepResult sweep = exact_sweep({16, 64, 256, 1024}, 600000);
  RecommendSettings s;
  s.objective = Objective::throughput;
  CHECK(recommend_at_1024(sweep, s).batch_size == 1024);  // B / (t0 + cB) grows with B
  s.objective = Objective::sample_efficiency;
  CHECK(recommend_at_1024(sweep, s).batch_size == 16);    // E(B) = S_min (B + Bc) grows with B
  s.objective = Objective::max_fit;
  CHECK(recommend_at_1024(sweep, s).batch_size == 1024);
  // --objective's words are the enum's; any other is no objective.
  CHECK(recommendation_objectives() ==
        std::vector<std::string>{"time-to-target", "throughput", "sample-efficiency", "max-fit"});
  CHECK_FALSE(parse_objective("fastest").has_value());
  CHECK(parse_objective("max-fit") == Objective::max_fit);
}

TEST_CASE("a sweep where few sizes reach the target still recommends, with low confidence", "[reports][recommend]") {
  // Only 16 crosses within 80000 samples (S(16) = 3950 steps; S(256) = 434 > 312 run):
  // no S(B) fit, the measured best is taken.
  const SweepResult sweep = exact_sweep({16, 256, 1024}, 80000);
  const Recommendation r = recommend_at_1024(sweep);
  CHECK_FALSE(r.steps_fit.has_value());
  CHECK(r.batch_size == 16);
  CHECK(r.confidence == Confidence::low);
  CHECK_THAT(r.reasons.front(), Catch::Contains("soonest in the sweep"));
}

TEST_CASE("an effective batch above the safe maximum becomes micro-batches with accumulation", "[reports][recommend]") {
  const SweepResult sweep = exact_sweep({16, 64, 256, 1024}, 600000);
  RecommendSettings s;
  s.effective_batch = 4096;
  const Recommendation r = recommend_at_1024(sweep, s);
  // Throughput B / (t0 + cB) is highest at the safe maximum: 1024 x 4.
  CHECK(r.micro_batch_size == 1024);
  CHECK(r.accumulation_steps == 4);
  CHECK(r.batch_size == 4096);
  CHECK(*r.learning_rate == Approx(0.1 * 4096 / 64));  // the rule applies to the effective batch
  REQUIRE(r.predicted_seconds_to_target.has_value());
  CHECK(*r.predicted_seconds_to_target == Approx(exact_steps(4096) * 4 * exact_step_s(1024)).epsilon(0.01));
  // Slower than the time-to-target choice, and the reasons say by how much.
  const Recommendation best = recommend_at_1024(sweep);
  CHECK(*r.predicted_seconds_to_target > *best.predicted_seconds_to_target);
  CHECK_THAT(r.reasons.front(), Catch::Contains("1024 x 4 accumulated") && Catch::Contains("the time-to-target choice"));

  SECTION("an effective batch that fits runs directly") {
    s.effective_batch = 100;
    const Recommendation direct = recommend_at_1024(sweep, s);
    CHECK(direct.batch_size == 100);
    CHECK(direct.accumulation_steps == 1);
    REQUIRE(direct.predicted_seconds_to_target.has_value());
    CHECK(*direct.predicted_seconds_to_target == Approx(exact_steps(100) * exact_step_s(100)).epsilon(0.05));
  }
}

namespace {

std::string render_text(const Recommendation& r, const SweepResult& sweep) {
  Report report;
  report.sweep = sweep;
  report.recommendation = r;
  std::ostringstream out;
  render_report_text(out, report);
  return out.str();
}

bool any_contains(const std::vector<std::string>& lines, const std::string& part) {
  for (const auto& l : lines) if (l.find(part) != std::string::npos) return true;
  return false;
}

// Two sizes timed at `rate_16`... : 40 steps each with a +-1% alternating
// jitter, every arm reaching the target.
SweepResult timed_sweep(const std::vector<std::pair<std::int64_t, double>>& batch_rates) {
  SweepResult s;
  s.lr_scaling = LrScaling::none;
  s.base_batch = 64;
  s.base_learning_rate = 0.1;
  s.seeds = 3;
  s.target_loss = 1.0;
  for (const auto& [b, rate] : batch_rates) {
    SweepArm a;
    a.batch_size = b;
    a.learning_rate = 0.1;
    const double t = double(b) / rate;
    for (int i = 0; i < 40; ++i) {
      a.compute_seconds.push_back(t * (i % 2 ? 1.01 : 0.99));
      a.data_seconds.push_back(0);
    }
    a.samples_per_s = rate;
    a.evaluations.push_back(EvalPoint{40, 40 * b, 40 * t, 0.5, 0.9});
    a.final_validation_loss = 0.5;
    a.final_validation_accuracy = 0.9;
    s.arms.push_back(a);
  }
  summarise_sweep(s);
  return s;
}

}  // namespace

TEST_CASE("time to target is the interpolated crossing everywhere: arms, table, recommendation",
          "[reports][recommend]") {
  // Evaluations every eighth of the budget; the loss is linear in steps, so
  // the interpolated crossing is exactly S(B), between two evaluations.
  const SweepResult sweep = exact_sweep({16, 64, 256, 1024}, 600000);
  for (const auto& a : sweep.arms) {
    REQUIRE(a.target.has_value());
    REQUIRE(a.first_evaluation_at_target.has_value());
    CHECK(a.target->steps == Approx(exact_steps(double(a.batch_size))));
    CHECK(a.target->seconds == Approx(exact_steps(double(a.batch_size)) * exact_step_s(double(a.batch_size))));
    CHECK(double(a.first_evaluation_at_target->step) > a.target->steps);  // the coarse one is later
  }
  RecommendSettings at_256;
  at_256.effective_batch = 256;
  const Recommendation r = recommend_at_1024(sweep, at_256);
  REQUIRE(r.batch_size == 256);
  REQUIRE(r.measured_seconds_to_target.has_value());
  const BatchSummary* s256 = nullptr;
  for (const auto& s : sweep.summaries) if (s.batch_size == 256) s256 = &s;
  REQUIRE(s256 != nullptr);
  REQUIRE(s256->seconds_to_target.has_value());
  // The same number, not merely close: one helper computes both.
  CHECK(*r.measured_seconds_to_target == s256->seconds_to_target->mean);
  CHECK(s256->steps_to_target->mean == Approx(exact_steps(256)));
  std::size_t matched = 0;  // every swept size is on the prediction grid, with its measured time
  for (const auto& p : r.predictions) {
    for (const auto& s : sweep.summaries) {
      if (s.batch_size != p.batch_size) continue;
      ++matched;
      CHECK(p.measured_seconds_to_target == s.seconds_to_target->mean);
    }
  }
  CHECK(matched == sweep.summaries.size());
  // And the console prints it the same in the table and the recommendation.
  const std::string text = render_text(r, sweep);
  const std::string seconds = format_number(*r.measured_seconds_to_target, "%.2f");
  CHECK_THAT(text, Catch::Contains(format_seconds(r.measured_seconds_to_target) + " measured"));
  std::istringstream lines(text);
  std::string line, row;
  while (std::getline(lines, line)) if (line.rfind("       256 ", 0) == 0) row = line;
  CHECK_THAT(row, Catch::Contains(" " + seconds + " "));
}

TEST_CASE("no size reaching the target means no recommendation, said plainly", "[reports][recommend]") {
  SweepResult sweep = exact_sweep({16, 256, 1024}, 80000);
  give_target(sweep, 0.0);  // below every evaluation
  summarise_targets(sweep);
  const Recommendation r = recommend_at_1024(sweep);
  CHECK(r.status == RecommendationStatus::none);
  CHECK_FALSE(r.recommends());
  CHECK_FALSE(r.batch_size.has_value());
  CHECK_FALSE(r.learning_rate.has_value());
  CHECK_FALSE(r.measured_seconds_to_target.has_value());
  CHECK(r.confidence == Confidence::none);
  REQUIRE(r.reasons.size() >= 2);
  CHECK_THAT(r.reasons[0], Catch::Contains("No batch size reached the target validation loss 0 in every seed") &&
                               Catch::Contains("0 of 6 arms"));
  CHECK_THAT(r.reasons[1], Catch::Contains("--budget") && Catch::Contains("--target-loss") && Catch::Contains("--lr"));
  const nlohmann::json j = r;
  CHECK(j.at("batch_size").is_null());
  CHECK(j.at("status") == "none");

  // Every rendering says so, and names no batch size.
  const std::string text = render_text(r, sweep);
  CHECK_THAT(text, Catch::Contains("recommendation (time-to-target): none, no batch size has the evidence"));
  CHECK_THAT(text, !Catch::Contains("batch size 16"));
  Report report;
  report.sweep = sweep;
  report.recommendation = r;
  std::ostringstream md, html;
  render_report_markdown(md, report);
  render_report_html(html, report);
  CHECK_THAT(md.str(), Catch::Contains("**No recommendation**") && Catch::Contains("--budget"));
  CHECK_THAT(html.str(), Catch::Contains("<strong>No recommendation</strong>") && Catch::Contains("--budget"));
  CHECK(html.str().find("class=\"recommended\"") == std::string::npos);

  SECTION("objectives that need no target still answer") {
    RecommendSettings s;
    s.objective = Objective::throughput;
    CHECK(recommend_at_1024(sweep, s).recommends());
    s.objective = Objective::max_fit;
    CHECK(recommend_at_1024(sweep, s).batch_size == 1024);
    s.objective = Objective::sample_efficiency;
    CHECK_FALSE(recommend_at_1024(sweep, s).recommends());
  }
}

TEST_CASE("every arm diverging means no recommendation for any objective", "[reports][recommend]") {
  SweepResult sweep = exact_sweep({16, 64, 256}, 80000);
  for (auto& a : sweep.arms) {
    a.status = ArmStatus::diverged;
    a.failed_at_step = 3;
    a.message = "training loss became not a number at step 3 (learning rate 2.5e8)";
    a.final_validation_loss.reset();
  }
  sweep.base_learning_rate = 1e9;
  sweep.target_loss.reset();
  summarise_sweep(sweep);
  for (const auto& objective : recommendation_objectives()) {
    RecommendSettings s;
    s.objective = parse_objective(objective).value();
    const Recommendation r = recommend_at_1024(sweep, s);
    INFO(objective);
    CHECK_FALSE(r.recommends());
    REQUIRE(r.reasons.size() >= 2);
    CHECK_THAT(r.reasons[0], Catch::Contains("No arm of the sweep completed (6 diverged)") &&
                                 Catch::Contains("learning rate 2.5e8"));
    CHECK_THAT(r.reasons[1], Catch::Contains("Lower the learning rate (--lr; the sweep ran 1e+09"));
  }
}

TEST_CASE("weak evidence lowers the confidence and says why", "[reports][recommend]") {
  SECTION("an S(B) fit through two points claims no quality") {
    const Recommendation r = recommend_at_1024(exact_sweep({64, 256}, 600000));
    REQUIRE(r.steps_fit.has_value());
    CHECK(r.steps_fit->points == 2);
    CHECK(any_contains(r.confidence_notes, "fitted through only 2 sizes"));
    CHECK_FALSE(any_contains(r.confidence_notes, "R^2"));
    CHECK(r.confidence != Confidence::high);
  }
  SECTION("the best size at the top of the swept range: try larger") {
    // T(B) is lowest near 245; the sweep stopped at 64, below the safe maximum 1024.
    const Recommendation r = recommend_at_1024(exact_sweep({16, 32, 64}, 600000));
    CHECK(any_contains(r.confidence_notes, "try larger sizes (up to the safe maximum 1024)"));
    CHECK(r.confidence != Confidence::high);
  }
  SECTION("the best size at the bottom of the swept range: try smaller") {
    const Recommendation r = recommend_at_1024(exact_sweep({256, 512, 1024}, 600000));
    CHECK(any_contains(r.confidence_notes, "is the smallest swept, 256") );
    CHECK(any_contains(r.confidence_notes, "try smaller sizes (--batch-sizes from 64)"));
  }
  SECTION("an interior optimum is not flagged") {
    const Recommendation r = recommend_at_1024(exact_sweep({16, 64, 256, 1024}, 600000));
    CHECK_FALSE(any_contains(r.confidence_notes, "try"));
    CHECK(r.confidence == Confidence::high);
  }
  SECTION("an effective batch and learning rate far outside the sweep") {
    RecommendSettings s;
    s.effective_batch = 16384;  // 16x the largest swept; linear scaling puts its rate at 25.6, swept at most 1.6
    const Recommendation r = recommend_at_1024(exact_sweep({16, 64, 256, 1024}, 600000), s);
    CHECK(any_contains(r.confidence_notes, "--effective-batch 16384 is far outside the swept sizes (16 to 1024)"));
    CHECK(any_contains(r.confidence_notes, "the learning rate 25.6 is far outside the rates"));
    CHECK(r.confidence == Confidence::low);
  }
  SECTION("validation accuracy at chance") {
    SweepResult sweep = exact_sweep({16, 64, 256, 1024}, 600000);
    ProbeResult probe;
    probe.safe_max_batch = 1024;
    WorkloadInfo w;
    w.optimizer = "sgd";
    w.task = "classification";
    w.num_classes = 10;
    NoiseScale noise;
    noise.status = NoiseScaleStatus::not_measured;
    for (auto& a : sweep.arms) a.final_validation_accuracy = 0.105;
    const Recommendation chance = recommend(sweep, &probe, w, noise, {});
    CHECK(any_contains(chance.confidence_notes, "validation accuracy 0.105 at the recommended size is at chance (1/10"));
    CHECK(chance.confidence == Confidence::low);
    for (auto& a : sweep.arms) a.final_validation_accuracy = 0.8;
    const Recommendation learned = recommend(sweep, &probe, w, noise, {});
    CHECK_FALSE(any_contains(learned.confidence_notes, "chance"));
    CHECK(learned.confidence == Confidence::high);
  }
}

TEST_CASE("throughput differences within measured noise are a tie, not a pick", "[reports][recommend]") {
  RecommendSettings s;
  s.objective = Objective::throughput;
  SECTION("0.15% apart: the smaller size, and the reason says why") {
    const Recommendation r = recommend_at_1024(timed_sweep({{256, 10000}, {1024, 10015}}), s);
    CHECK(r.batch_size == 256);
    REQUIRE_FALSE(r.reasons.empty());
    CHECK_THAT(r.reasons.front(), Catch::Contains("Batch sizes 256 and 1024 are within measured noise") &&
                                      Catch::Contains("the smallest of them, 256"));
  }
  SECTION("20% apart: the faster size") {
    const Recommendation r = recommend_at_1024(timed_sweep({{256, 10000}, {1024, 12000}}), s);
    CHECK(r.batch_size == 1024);
    CHECK_THAT(r.reasons.front(), Catch::Contains("highest measured throughput") &&
                                      Catch::Contains("beyond the measured noise"));
  }
}

TEST_CASE("the generalisation constraint refuses sizes whose final validation loss is too far above the best",
          "[reports][recommend][generalization]") {
  SweepResult sweep = exact_sweep({16, 64, 256, 1024}, 600000);
  // Final validation losses that worsen with the batch (the seeds 0.002 apart),
  // and training losses below them.
  const std::map<std::int64_t, double> val{{16, 0.400}, {64, 0.410}, {256, 0.450}, {1024, 0.500}};
  for (auto& a : sweep.arms) {
    a.final_validation_loss = val.at(a.batch_size) + (a.seed == 0 ? -0.001 : 0.001);
    a.train_loss = {LossPoint{1, a.batch_size, 0.1, 1.0}, LossPoint{2, 2 * a.batch_size, 0.2, 0.35}};
  }
  summarise_sweep(sweep);
  const Recommendation free = recommend_at_1024(sweep);
  REQUIRE(free.recommends());
  CHECK(*free.batch_size >= 128);  // T(B) alone favours the sizes near sqrt(B_crit x B_sat) ~ 245
  CHECK_FALSE(free.validation_loss_tolerance);

  RecommendSettings s;
  s.max_validation_loss_excess = 0.05;  // 0.42 at most
  const Recommendation held = recommend_at_1024(sweep, s);
  REQUIRE(held.recommends());
  CHECK(*held.batch_size <= 64);
  CHECK(held.refused_batch_sizes == std::vector<std::int64_t>{256, 1024});
  CHECK(held.validation_loss_tolerance == 0.05);
  CHECK(any_contains(held.reasons, "Refused for generalisation (--max-val-loss-excess 5%): batch 256 (0.45), 1024 (0.5)"));
  CHECK(any_contains(held.reasons, "without the constraint the time-to-target choice would be batch " +
                                       std::to_string(*free.batch_size)));
  // The refusal reaches every objective.
  s.objective = Objective::max_fit;
  CHECK(recommend_at_1024(sweep, s).batch_size == 64);
  s.objective = Objective::throughput;
  CHECK(recommend_at_1024(sweep, s).batch_size == 64);
  // A loose tolerance refuses nothing, and says so.
  s.objective = Objective::time_to_target;
  s.max_validation_loss_excess = 0.5;
  const Recommendation loose = recommend_at_1024(sweep, s);
  CHECK(loose.batch_size == free.batch_size);
  CHECK(loose.refused_batch_sizes.empty());
  CHECK(any_contains(loose.reasons, "none was refused"));

  // The per-size figures: training loss, gap, and the flag against the seed spread.
  for (const auto& b : sweep.summaries) {
    REQUIRE(b.final_training_loss);
    CHECK(b.final_training_loss->mean == Approx(0.35));  // the last fifth of two steps: the last one
    CHECK(b.generalization_gap->mean == Approx(val.at(b.batch_size) - 0.35));
    REQUIRE(b.validation_worse_than_best);
    CHECK(*b.validation_worse_than_best == (b.batch_size != 16));  // 0.01 apart is beyond a 0.0014 spread
  }
  const std::string text = render_text(held, sweep);
  CHECK(text.find("generalisation") != std::string::npos);
  std::ostringstream html;
  Report r;
  r.sweep = sweep;
  r.recommendation = held;
  render_report_html(html, r);
  CHECK(html.str().find("gap (val - train)") != std::string::npos);
  CHECK(html.str().find("val worse than the best") != std::string::npos);
}

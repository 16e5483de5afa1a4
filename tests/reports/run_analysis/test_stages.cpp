// reports/run_analysis/: each stage of the whole-run analysis on its own,
// against numbers worked out by hand (stages.hpp lists what each reads and
// writes). test_predict_run.cpp checks the stages together.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "reports/run_analysis/stages.hpp"
#include "reports/model/whole_run.hpp"
#include "tests/support/catch.hpp"

using namespace batchtune;
using namespace batchtune::analysis;

namespace {

// L(s) = 0.2 + 4 / sqrt(s), the trunk evaluated every 1,000 samples from 0.
double loss_of(double s) { return 0.2 + 4.0 / std::sqrt(std::max(s, 1.0)); }

std::vector<TrunkPoint> trunk_until(std::int64_t until, double scatter = 0.0) {
  std::vector<TrunkPoint> t;
  int k = 0;
  for (std::int64_t s = 0; s <= until; s += 1000, ++k) {
    const double l = s == 0 ? 2.5 : loss_of(double(s)) + (k % 2 == 0 ? scatter : -scatter);
    t.push_back(TrunkPoint{s / 64, s, 0.0, l, std::nullopt, std::nullopt});
  }
  return t;
}

// An arm at batch b from a point at `at` samples that needed `ratio` times
// the base batch's samples: its end loss is where the trunk is after span /
// ratio samples.
BranchArm arm_at(std::int64_t at, std::int64_t b, double ratio, double factor = 1.0, double span = 4096) {
  BranchArm a;
  a.batch_size = b;
  a.lr_factor = factor;
  a.learning_rate = 0.01 * double(b) / 64.0 * factor;
  a.samples = static_cast<std::int64_t>(span);
  a.steps = a.samples / b;
  a.end_loss = loss_of(double(at) + span / ratio);
  return a;
}

// A point whose arms scale as B_crit = bc says (the base batch's arm is 1).
BranchPoint point_at(std::int64_t at, double bc, const std::vector<std::int64_t>& sizes = {64, 128, 256, 512, 1024}) {
  BranchPoint p;
  p.trunk_samples = at;
  p.trunk_step = at / 64;
  p.loss = loss_of(double(at));
  for (std::int64_t b : sizes) p.arms.push_back(arm_at(at, b, (bc + double(b)) / (bc + 64.0)));
  return p;
}

WholeRun run_with(const std::vector<BranchPoint>& points) {
  WholeRun w;
  w.run.train_samples = 200000;
  w.run.source = "--train-samples 200000";
  w.base_batch = 64;
  w.base_learning_rate = 0.01;
  w.lr_scaling = LrScaling::linear;
  w.trunk = trunk_until(40000);
  w.branch_points = points;
  for (std::int64_t b : {64, 128, 256, 512, 1024}) w.step_seconds.emplace_back(b, 0.01 + 1e-5 * double(b));
  return w;
}

}  // namespace

TEST_CASE("run_analysis: clear_analysis empties what the analysis wrote and keeps the measurements",
          "[run_analysis]") {
  WholeRun w = run_with({point_at(16000, 400)});
  analyse_measured(w, {64, 128, 256, 512, 1024});
  REQUIRE(w.target_loss.has_value());
  REQUIRE_FALSE(w.predictions.empty());
  const auto trunk = w.trunk.size();
  const auto arms = w.branch_points.front().arms.size();
  const auto steps = w.step_seconds.size();
  clear_analysis(w);
  CHECK(w.notes.empty());
  CHECK(w.predictions.empty());
  CHECK_FALSE(w.best_batch.has_value());
  CHECK_FALSE(w.target_loss.has_value());
  CHECK(w.target_source.empty());
  CHECK_FALSE(w.critical_batch_at_target.has_value());
  CHECK_FALSE(w.loss_curve.has_value());
  CHECK_FALSE(w.loss_extension.has_value());
  CHECK(w.noise_draws == 0);
  CHECK(w.trunk.size() == trunk);
  CHECK(w.branch_points.front().arms.size() == arms);
  CHECK(w.step_seconds.size() == steps);
}

TEST_CASE("run_analysis 1: the trunk's curve is monotone, carried past the trunk, and gives each point its loss",
          "[run_analysis]") {
  WholeRun w = run_with({point_at(8000, 400), point_at(28000, 800)});
  const TrunkCurve tc = fit_trunk_curve(w);
  REQUIRE(tc.curve.size() == w.trunk.size());
  for (std::size_t i = 1; i < tc.curve.size(); ++i) CHECK(tc.curve[i].second <= tc.curve[i - 1].second);
  CHECK(tc.joint == Approx(20000.0));
  REQUIRE(w.loss_extension.has_value());
  // Past the trunk's end the curve still falls (no floor on this data).
  CHECK(loss_at(tc.curve, w.loss_extension, 80000.0) < loss_at(tc.curve, w.loss_extension, 40000.0));
  for (const auto& p : w.branch_points) {
    REQUIRE(p.curve_loss.has_value());
    CHECK(*p.curve_loss == Approx(loss_of(double(p.trunk_samples))).epsilon(0.01));
  }
}

TEST_CASE("run_analysis 2: every completed arm gets a ratio; the rule's arm stands for its size", "[run_analysis]") {
  WholeRun w = run_with({point_at(16000, 400, {64, 256})});
  BranchPoint& p = w.branch_points.front();
  p.arms.push_back(arm_at(16000, 256, 0.5 * (400.0 + 256.0) / 464.0, 0.5));  // half the rate, half the samples
  const TrunkCurve tc = fit_trunk_curve(w);
  fill_arm_ratios(w, tc.curve);
  const BranchArm& base = p.arms[0];
  const BranchArm& rule = p.arms[1];
  const BranchArm& half = p.arms[2];
  REQUIRE(base.samples_ratio.has_value());
  CHECK(*base.samples_ratio == Approx(1.0));
  REQUIRE(rule.samples_ratio.has_value());
  CHECK(*rule.samples_ratio == Approx(656.0 / 464.0).epsilon(0.03));
  REQUIRE(half.samples_ratio.has_value());
  CHECK(*half.samples_ratio == Approx(0.5 * *rule.samples_ratio).epsilon(0.05));
  CHECK(standing_arm(p, 256) == &rule);
  // Where the rule's arm failed, the grid's best stands in.
  p.arms[1].status = ArmStatus::diverged;
  p.arms[1].end_loss.reset();
  fill_arm_ratios(w, tc.curve);
  CHECK(standing_arm(p, 256) == &p.arms[2]);
  CHECK(standing_arm(p, 512) == nullptr);
}

TEST_CASE("run_analysis 2: a point's local B_crit from its ratios, or a lower bound where none shows a knee",
          "[run_analysis]") {
  WholeRun w = run_with({point_at(16000, 400), point_at(24000, 1e7)});
  const TrunkCurve tc = fit_trunk_curve(w);
  fill_arm_ratios(w, tc.curve);
  for (auto& p : w.branch_points) fit_local(p, 64.0);
  const BranchPoint& knee = w.branch_points[0];
  REQUIRE(knee.critical_batch.has_value());
  CHECK_FALSE(knee.lower_bound);
  CHECK(*knee.critical_batch == Approx(400.0).epsilon(0.1));
  REQUIRE(knee.critical_low.has_value());
  CHECK(*knee.critical_low <= *knee.critical_batch);
  CHECK(*knee.critical_high >= *knee.critical_batch);
  CHECK(knee.sizes_fitted == 4);
  const BranchPoint& flat = w.branch_points[1];
  CHECK(flat.lower_bound);
  REQUIRE(flat.critical_batch.has_value());
  CHECK(*flat.critical_batch == Approx(1024.0));
}

TEST_CASE("run_analysis 2: no rate is measured without arms at other rates", "[run_analysis]") {
  WholeRun w = run_with({point_at(16000, 400)});
  const TrunkCurve tc = fit_trunk_curve(w);
  fill_arm_ratios(w, tc.curve);
  CHECK_FALSE(measured_rate(w, 256).has_value());
}

TEST_CASE("run_analysis 3: the target as given, as the trunk's loss at the run's end, or at an accuracy",
          "[run_analysis]") {
  SECTION("--target-loss is taken as it is, and the base batch's samples read off the curve") {
    WholeRun w = run_with({point_at(16000, 400)});
    w.run.target_loss = 0.24;
    const TrunkCurve tc = fit_trunk_curve(w);
    find_target(w, tc);
    REQUIRE(w.target_loss.has_value());
    CHECK(*w.target_loss == Approx(0.24));
    CHECK(w.target_source == "--target-loss");
    REQUIRE(w.base_samples_to_target.has_value());
    CHECK(*w.base_samples_to_target == Approx(10000.0).epsilon(0.02));  // 4 / sqrt(s) = 0.04
  }
  SECTION("by default the base batch's loss after the planned run, carried past the trunk, with an error") {
    WholeRun w = run_with({point_at(16000, 400)});
    const TrunkCurve tc = fit_trunk_curve(w);
    find_target(w, tc);
    REQUIRE(w.target_loss.has_value());
    CHECK(*w.target_loss < loss_of(40000.0));
    CHECK(*w.target_loss > 0.2);
    REQUIRE(w.base_samples_to_target.has_value());
    CHECK(*w.base_samples_to_target == Approx(200000.0));
    CHECK(w.target_loss_error.has_value());
    CHECK_THAT(w.target_source, Catch::Contains("carried past its end"));
  }
  SECTION("--target-accuracy: the trunk's loss where its accuracy crossed it") {
    WholeRun w = run_with({point_at(16000, 400)});
    for (auto& t : w.trunk) t.accuracy = 1.0 - t.loss;  // 0.76 at loss 0.24
    w.run.target_accuracy = 0.76;
    const TrunkCurve tc = fit_trunk_curve(w);
    find_target(w, tc);
    REQUIRE(w.target_loss.has_value());
    CHECK(*w.target_loss <= 0.24 + 1e-9);
    CHECK(*w.target_loss > 0.235);
  }
}

TEST_CASE("run_analysis 4: B_crit against the loss, with a lower bound a floor and never a point of the fit",
          "[run_analysis]") {
  auto analysed = [](std::vector<BranchPoint> points, double target) {
    WholeRun w = run_with(points);
    w.run.target_loss = target;
    const TrunkCurve tc = fit_trunk_curve(w);
    fill_arm_ratios(w, tc.curve);
    for (auto& p : w.branch_points) fit_local(p, 64.0);
    find_target(w, tc);
    const auto band = fit_critical_against_loss(w, 1.0, nullptr);
    return std::make_pair(w, band);
  };
  SECTION("growth that the points pin down is carried to the target") {
    // B_crit = 100 L^-2 at three points (400 at 0.5 and so on).
    std::vector<BranchPoint> points;
    for (std::int64_t at : {4000, 12000, 36000}) points.push_back(point_at(at, 100.0 * std::pow(loss_of(double(at)), -2.0)));
    auto [w, band] = analysed(points, 0.21);
    REQUIRE(band.has_value());
    REQUIRE(w.critical_fit.has_value());
    CHECK(w.critical_fit->exponent == Approx(-2.0).margin(0.3));
    REQUIRE(w.critical_batch_at_target.has_value());
    CHECK(*w.critical_batch_at_target == Approx(100.0 / (0.21 * 0.21)).epsilon(0.3));
    CHECK(band->band(0.21) > band->band(point_loss(w.branch_points[1])));  // wider away from the points
  }
  SECTION("a bound beside a knee is a floor: it holds B_crit up below its loss, and is not fitted") {
    auto [w, band] = analysed({point_at(8000, 60), point_at(24000, 1e7)}, 0.22);
    REQUIRE(band.has_value());
    CHECK_FALSE(w.critical_fit.has_value());   // one knee: held, not carried
    REQUIRE(w.critical_batch_at_target.has_value());
    CHECK(*w.critical_batch_at_target == Approx(1024.0));  // the bound at the largest arm
    CHECK(band->model.at(loss_of(8000.0) + 0.01) < 200.0);  // above the bound's loss, the knee's value
  }
  SECTION("no point with a B_crit: none, and a note says why") {
    WholeRun w = run_with({point_at(16000, 400)});
    for (auto& a : w.branch_points.front().arms) a.status = ArmStatus::diverged;
    const TrunkCurve tc = fit_trunk_curve(w);
    fill_arm_ratios(w, tc.curve);
    for (auto& p : w.branch_points) fit_local(p, 64.0);
    CHECK_FALSE(fit_critical_against_loss(w, 1.0, nullptr).has_value());
    CHECK(std::any_of(w.notes.begin(), w.notes.end(),
                      [](const std::string& n) { return n.find("no branch point measured") != std::string::npos; }));
  }
}

TEST_CASE("run_analysis 5: sizes are ranked at the rule's rate, and a near-tie goes to the larger", "[run_analysis]") {
  auto prediction = [](std::int64_t b, double seconds, std::optional<double> gain = std::nullopt) {
    RunPrediction p;
    p.batch_size = b;
    p.seconds = seconds;
    p.rate_gain = gain;
    return p;
  };
  // 128 is fastest only through a gain measured at it: at the rule's rate 256 is.
  std::vector<RunPrediction> ps{prediction(64, 12.0), prediction(128, 7.0, 0.6), prediction(256, 10.0),
                                prediction(512, 10.4)};
  CHECK(rule_rate_seconds(ps[1]) == Approx(7.0 / 0.6));
  CHECK(fastest_prediction(ps)->batch_size == 256);
  CHECK(tie_pick(ps)->batch_size == 512);  // within 5% of 256
  ps[3].seconds = 10.6;
  CHECK(tie_pick(ps)->batch_size == 256);
}

TEST_CASE("run_analysis 6: a schedule where each phase's fastest size grows, and none where it saves too little",
          "[run_analysis]") {
  std::vector<Phase> phases(8);
  for (std::size_t k = 0; k < phases.size(); ++k) phases[k].start_loss = 1.0 - 0.1 * double(k);
  // Early phases are fastest at 64, late ones at 512.
  auto time = [](const Phase& ph, std::int64_t b) {
    const double late = 1.0 - ph.start_loss;  // 0 .. 0.7
    return b == 64 ? 1.0 + 2.0 * late : b == 512 ? 2.0 - late : 1.5;
  };
  // By hand: 64 for three phases (1.0, 1.2, 1.4), 128 for three (1.5 each),
  // 512 for two (1.4, 1.3): 10.8 against a fixed size's 12.
  const auto sched = propose_schedule(phases, {64, 128, 512}, time, 12.0);
  REQUIRE(sched.has_value());
  REQUIRE(sched->stages.size() == 3);
  CHECK(sched->stages[0].batch_size == 64);
  CHECK_FALSE(sched->stages[0].from_loss.has_value());
  CHECK(sched->stages[1].batch_size == 128);
  REQUIRE(sched->stages[1].from_loss.has_value());
  CHECK(*sched->stages[1].from_loss == Approx(0.7));
  CHECK(sched->stages[2].batch_size == 512);
  CHECK(*sched->stages[2].from_loss == Approx(0.4));
  CHECK(sched->predicted_seconds == Approx(10.8));
  CHECK(sched->saving_share == Approx(0.1));
  // Against a fixed size nearly as fast, nothing is proposed.
  CHECK_FALSE(propose_schedule(phases, {64, 128, 512}, time, sched->predicted_seconds * 1.01).has_value());
}

TEST_CASE("run_analysis wording: step times measured at one size only are named as thin evidence", "[run_analysis]") {
  WholeRun w = run_with({point_at(8000, 400), point_at(24000, 800)});
  w.step_seconds = {{64, 0.012}};
  w.step_times_source = "--step-times other.json";
  analyse_whole_run(w, {64, 128, 256, 512, 1024});
  REQUIRE(w.best_batch.has_value());
  const Recommendation r = recommend_whole_run(w, 1024);
  CHECK(r.confidence == Confidence::low);
  CHECK(std::any_of(r.reasons.begin(), r.reasons.end(), [](const std::string& s) {
    return s.find("thin evidence: only batch 64 has a measured step time (--step-times other.json)") !=
           std::string::npos;
  }));
  // Timed at every size: nothing said.
  WholeRun all = run_with({point_at(8000, 400), point_at(24000, 800)});
  analyse_whole_run(all, {64, 128, 256, 512, 1024});
  const Recommendation plain = recommend_whole_run(all, 1024);
  CHECK(std::none_of(plain.reasons.begin(), plain.reasons.end(),
                     [](const std::string& s) { return s.find("thin evidence") != std::string::npos; }));
}

TEST_CASE("run_analysis wording: a size that needs more samples than the planned run says to train for its steps",
          "[run_analysis]") {
  WholeRun w = run_with({point_at(8000, 400), point_at(24000, 800)});
  analyse_whole_run(w, {64, 128, 256, 512, 1024});
  REQUIRE(w.best_batch.has_value());
  const auto best = std::find_if(w.predictions.begin(), w.predictions.end(),
                                 [&](const RunPrediction& p) { return p.batch_size == *w.best_batch; });
  REQUIRE(best != w.predictions.end());
  const auto said = [](const Recommendation& r, const std::string& text) {
    return std::any_of(r.reasons.begin(), r.reasons.end(),
                       [&](const std::string& s) { return s.find(text) != std::string::npos; });
  };
  // Within the plan: nothing said.
  w.run.train_samples = static_cast<std::int64_t>(best->samples * 1.01) + 1;
  CHECK_FALSE(said(recommend_whole_run(w, 1024), "not the planned length"));
  // Twice the plan's samples, planned as 3 epochs: 6 epochs.
  w.run.train_samples = static_cast<std::int64_t>(best->samples / 2.0);
  w.run.epochs = 3.0;
  const Recommendation r = recommend_whole_run(w, 1024);
  CHECK(said(r, "(6 epochs, 2.00x the planned run's samples: train for these steps, not the planned length)"));
}

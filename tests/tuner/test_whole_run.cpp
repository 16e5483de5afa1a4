// The whole-run tune on a real Workload: the trainer's snapshots put the
// whole state back (weights, optimizer, data order), the command line's
// options are checked before any work, and a small whole-run sweep writes a
// report whose whole_run section reads back and renders.
#include "tests/support/catch.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>

#include <nlohmann/json.hpp>

#include "reports/util/error.hpp"
#include "reports/model/report_reader.hpp"
#include "reports/util/statistics.hpp"
#include "tests/support/cli_run.hpp"
#include "tests/support/temp_dir.hpp"
#include "tuner/run/workload_trainer.hpp"

using namespace batchtune;

namespace {

Workload small_workload(const std::string& optimizer) {
  WorkloadSpec s;
  s.model = "mlp";
  s.data = "synthetic";
  s.synthetic = {1024, 256};
  s.mlp.hidden = {32};
  s.device = "cpu";
  s.learning_rate = 0.05;
  s.optimizer = optimizer;
  return Workload::create(s);
}

test::CliRun cli(const std::vector<std::string>& args) { return test::run_cli(args); }

}  // namespace

TEST_CASE("whole-run trainer: a restored snapshot repeats the same steps exactly", "[tuner][whole_run]") {
  for (const std::string optimizer : {"sgd", "adam"}) {
    INFO(optimizer);
    const Workload w = small_workload(optimizer);
    WorkloadTrainer trainer(w, 256, nullptr);
    trainer.reset(3);
    for (int i = 0; i < 5; ++i) REQUIRE(trainer.step(32, 0.05).status == ArmStatus::completed);
    const int snap = trainer.save();
    std::vector<double> first;
    for (int i = 0; i < 4; ++i) first.push_back(trainer.step(32, 0.05).loss);
    const double first_eval = trainer.evaluate().loss;
    trainer.restore(snap);
    std::vector<double> again;
    for (int i = 0; i < 4; ++i) again.push_back(trainer.step(32, 0.05).loss);
    CHECK(trainer.evaluate().loss == Approx(first_eval).epsilon(1e-6));
    for (std::size_t i = 0; i < first.size(); ++i) CHECK(again[i] == Approx(first[i]).epsilon(1e-6));
    // Another size from the same snapshot trains on: the losses differ.
    trainer.restore(snap);
    CHECK(trainer.step(128, 0.2).loss != Approx(first[0]).epsilon(1e-9));
  }
}

TEST_CASE("whole-run trainer: gradient norms leave the training state alone", "[tuner][whole_run]") {
  const Workload w = small_workload("sgd");
  WorkloadTrainer trainer(w, 256, nullptr);
  trainer.reset(1);
  trainer.step(32, 0.05);
  const int snap = trainer.save();
  const double direct = trainer.step(32, 0.05).loss;
  trainer.restore(snap);
  const auto norms = trainer.gradient_norms(32, 128);
  REQUIRE(norms.has_value());
  // The mean over more samples has the smaller norm (the noise averages out).
  CHECK(norms->large_norm_sq < norms->small_norm_sq);
  CHECK(trainer.step(32, 0.05).loss == Approx(direct).epsilon(1e-6));
}

TEST_CASE("whole-run sweep: options that contradict get one line and nothing is written", "[tuner][whole_run][cli]") {
  const test::TempDir tmp;
  const std::string out = tmp.file("wr.json");
  const std::vector<std::string> base{"sweep", "--model", "mlp", "--data", "synthetic", "--mlp-hidden", "32",
                                      "--synthetic-train", "1024", "--synthetic-val", "128", "-o", out};
  struct Case {
    std::vector<std::string> extra;
    std::string mentions;
  };
  const std::vector<Case> cases{
      {{"--epochs", "2", "--train-samples", "4000"}, "give one of them"},
      {{"--lr-grid", "1"}, "--epochs E or --train-samples N"},
      {{"--lr-finalists", "1"}, "--lr-finalists belongs to the whole-run tune"},
      {{"--tune-share", "0.3"}, "--tune-share belongs to the whole-run tune"},
      {{"--epochs", "2", "--batch-sizes", "16,32"}, "--batch-sizes 16,32 stops below --base-batch 64"},
      {{"--branch-points", "3"}, "--branch-points belongs to the whole-run tune"},
      {{"--trunk-share", "0.1"}, "--trunk-share belongs to the whole-run tune"},
      {{"--epochs", "2", "--objective", "throughput"}, "drop --objective"},
      {{"--epochs", "2", "--lr-grid", "1", "--lr-finalists", "2"}, "give one of them"},
      {{"--target-accuracy", "0.9"}, "--epochs E or --train-samples N"},
      {{"--epochs", "2", "--budget", "samples=1000"}, "drop --budget"},
      {{"--epochs", "2", "--seeds", "2"}, "drop --seeds"},
      {{"--epochs", "2", "--target-loss", "0.3", "--target-accuracy", "0.9"}, "give one of them"},
      {{"--epochs", "2", "--trunk-share", "0.6", "--tune-share", "0.5"}, "make the trunk the smaller"},
      {{"--epochs", "-1"}, "--epochs"},
      {{"--epochs", "0"}, "must be above zero, got 0"},
      {{"--epochs", "1e300"}, "must be at most 1e+06"},
      {{"--epochs", "2", "--target-shape", "4", "--target-accuracy", "0.9"}, "has no accuracy to reach"},
      {{"--train-samples", "100"}, "shorter than 8 steps"},
  };
  for (const auto& c : cases) {
    std::vector<std::string> args = base;
    args.insert(args.end(), c.extra.begin(), c.extra.end());
    const test::CliRun r = cli(args);
    INFO(r.err);
    CHECK(r.code == to_int(ExitCode::usage));
    CHECK(r.err.find(c.mentions) != std::string::npos);
    CHECK(test::count_lines(r.err) == 1);
    struct stat st {};
    CHECK(stat(out.c_str(), &st) != 0);
  }
}

TEST_CASE("whole-run sweep: a small run writes its trunk, branch points and predictions", "[tuner][whole_run][cli]") {
  const test::TempDir tmp;
  const std::string out = tmp.file("wr.json");
  const std::string md = tmp.file("wr.md");
  const test::CliRun r = cli({"sweep", "--model", "mlp", "--data", "synthetic", "--mlp-hidden", "32",
                              "--synthetic-train", "2048", "--synthetic-val", "256", "--train-samples", "16384",
                              "--lr-grid", "1", "-o", out, "--markdown", md});
  INFO(r.err);
  REQUIRE(r.code == 0);
  const Report rep = read_report(out);
  REQUIRE(rep.whole_run.has_value());
  const WholeRun& w = *rep.whole_run;
  CHECK(w.run.train_samples == 16384);
  CHECK(w.run.source == "--train-samples 16384");
  CHECK(w.base_batch == 64);
  // The trunk trained a fifth of the run, and the tune stayed in the default
  // 0.4 of it (--tune-share).
  CHECK(w.trunk_samples >= 16384 / 5);
  CHECK(w.trunk_samples <= 16384 / 5 + 64);
  CHECK(w.tune_samples <= 16384 * 40 / 100 + 64 * 8);
  REQUIRE(w.branch_points.size() == 2);  // --branch-points' default
  for (std::size_t i = 1; i < w.branch_points.size(); ++i) {
    CHECK(w.branch_points[i].trunk_samples > w.branch_points[i - 1].trunk_samples);
  }
  // The grid ran at the last point (three rates per size), the rule's rate at the others.
  const auto& last = w.branch_points.back();
  const auto& first = w.branch_points.front();
  CHECK(last.arms.size() == 3 * first.arms.size());
  for (const auto& a : first.arms) CHECK(a.lr_factor == Approx(1.0));
  CHECK_FALSE(w.trunk.empty());
  CHECK(w.trunk.back().loss < w.trunk.front().loss);
  CHECK_FALSE(w.step_seconds.empty());
  // The probe verified memory as far as the arms reach and no further (sizes
  // above them are not predicted), and the scan timed only the sizes below
  // the base batch, which no arm runs; every predicted size has a step time.
  std::int64_t largest_arm = 0;
  for (const auto& p : w.branch_points) {
    for (const auto& a : p.arms) largest_arm = std::max(largest_arm, a.batch_size);
  }
  REQUIRE(rep.probe.has_value());
  CHECK(rep.probe->capped);
  CHECK(rep.probe->largest_fitting_batch == largest_arm);
  CHECK(rep.probe->cap_source.find("the tune's budget") != std::string::npos);
  REQUIRE(rep.sweep.has_value());
  REQUIRE_FALSE(rep.sweep->throughput_scan.empty());
  for (const auto& pt : rep.sweep->throughput_scan) CHECK(pt.batch_size < w.base_batch);
  for (const auto& pr : w.predictions) {
    const bool timed = std::any_of(w.step_seconds.begin(), w.step_seconds.end(),
                                   [&](const auto& st) { return st.first == pr.batch_size; });
    CHECK(timed);
  }
  // The report renders it: console, Markdown.
  CHECK(r.out.find("Whole run: --train-samples 16384") != std::string::npos);
  std::ifstream in(md);
  const std::string markdown((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(markdown.find("### Whole run") != std::string::npos);
  // Either a recommendation for the run, or none with the reason.
  REQUIRE(rep.recommendation.has_value());
  CHECK_FALSE(rep.recommendation->reasons.empty());
  if (rep.recommendation->recommends()) {
    CHECK(rep.recommendation->reasons.front().find("for the planned run") != std::string::npos);
  }
}

TEST_CASE("whole-run report: --step-times predicts the planned run with another report's step times",
          "[tuner][whole_run][cli]") {
  const test::TempDir tmp;
  const std::string conv = tmp.file("conv.json"), steps = tmp.file("steps.json"), out = tmp.file("other.json");
  const std::vector<std::string> workload{"--model", "mlp", "--data", "synthetic", "--mlp-hidden", "32",
                                          "--synthetic-train", "2048", "--synthetic-val", "256"};
  auto with = [&](std::vector<std::string> head, const std::vector<std::string>& tail) {
    head.insert(head.end(), workload.begin(), workload.end());
    head.insert(head.end(), tail.begin(), tail.end());
    return cli(head);
  };
  const test::CliRun c = with({"sweep"}, {"--train-samples", "16384", "-o", conv});
  INFO(c.err);
  REQUIRE(c.code == 0);
  const test::CliRun t = with({"sweep"}, {"--throughput-only", "--max-batch", "512", "-o", steps});
  INFO(t.err);
  REQUIRE(t.code == 0);
  const Report tp = read_report(steps);
  REQUIRE(tp.sweep.has_value());
  CHECK(tp.sweep->arms.empty());
  // Every power of two up to the cap, no knee rule.
  REQUIRE_FALSE(tp.sweep->throughput_scan.empty());
  CHECK(tp.sweep->throughput_scan.back().batch_size == 512);

  const test::CliRun r = cli({"report", conv, "--step-times", steps, "-o", out});
  INFO(r.err);
  REQUIRE(r.code == 0);
  const Report other = read_report(out);
  REQUIRE(other.whole_run.has_value());
  CHECK(other.whole_run->step_times_source.find("--step-times " + steps) == 0);
  // The step times are the other report's, measured there.
  std::map<std::int64_t, double> scan;
  for (const auto& p : tp.sweep->throughput_scan) scan[p.batch_size] = p.mean_step_seconds;  // the step clock
  for (const auto& [b, s] : other.whole_run->step_seconds) CHECK(s == Approx(scan.at(b)));
  for (const auto& p : other.whole_run->predictions) CHECK(p.batch_size <= 512);

  // A sweep's completed arms stand in for a scan: each size's step clock
  // (mean step), the mean over its seeds.
  const std::string arms = tmp.file("arms.json"), from_arms = tmp.file("from-arms.json");
  const test::CliRun e = with({"sweep"}, {"--batch-sizes", "64,128,256", "--budget", "steps=12", "--seeds", "2",
                                          "--noise-repeats", "0", "-o", arms});
  INFO(e.err);
  REQUIRE(e.code == 0);
  const test::CliRun ra = cli({"report", conv, "--step-times", arms, "-o", from_arms});
  INFO(ra.err);
  REQUIRE(ra.code == 0);
  const Report early = read_report(arms);
  std::map<std::int64_t, std::vector<double>> per_size;
  for (const auto& a : early.sweep->arms) per_size[a.batch_size].push_back(*a.mean_step_seconds);
  const Report via_arms = read_report(from_arms);
  REQUIRE(via_arms.whole_run->step_seconds.size() == 3);
  for (const auto& [b, s] : via_arms.whole_run->step_seconds) CHECK(s == Approx(*mean_of(per_size.at(b))));
  for (const auto& p : via_arms.whole_run->predictions) CHECK(p.batch_size <= 256);

  // The other way round: the throughput report has no whole run to predict from.
  const test::CliRun wrong = cli({"report", steps, "--step-times", conv});
  CHECK(wrong.code == to_int(ExitCode::bad_input));
  CHECK(wrong.err.find("has no whole_run section") != std::string::npos);
  CHECK(test::count_lines(wrong.err) == 1);
  const test::CliRun mixed = with({"sweep"}, {"--throughput-only", "--epochs", "2", "-o", tmp.file("x.json")});
  CHECK(mixed.code == to_int(ExitCode::usage));
}

TEST_CASE("report --target-loss re-targets a saved report from its measurements, trains nothing",
          "[tuner][whole_run][cli]") {
  const test::TempDir tmp;
  const std::string tune = tmp.file("tune.json"), same = tmp.file("same.json"), looser = tmp.file("looser.json");
  const std::vector<std::string> workload{"--model", "mlp", "--data", "synthetic", "--mlp-hidden", "32",
                                          "--synthetic-train", "2048", "--synthetic-val", "256"};
  std::vector<std::string> args{"sweep", "--train-samples", "16384", "-o", tune};
  args.insert(args.end(), workload.begin(), workload.end());
  const test::CliRun c = cli(args);
  INFO(c.err);
  REQUIRE(c.code == 0);
  const Report original = read_report(tune);
  REQUIRE(original.whole_run.has_value());
  REQUIRE(original.whole_run->target_loss.has_value());
  REQUIRE(original.recommendation.has_value());

  // Its own target again: the same analysis, the same answer.
  char target[64];
  std::snprintf(target, sizeof target, "%.17g", *original.whole_run->target_loss);
  const test::CliRun r = cli({"report", tune, "--target-loss", target, "-o", same});
  INFO(r.err);
  REQUIRE(r.code == 0);
  const Report again = read_report(same);
  REQUIRE(again.whole_run.has_value());
  CHECK(again.whole_run->target_source == "--target-loss");
  CHECK(again.recommendation->batch_size == original.recommendation->batch_size);
  CHECK(again.whole_run->best_batch == original.whole_run->best_batch);
  REQUIRE(again.whole_run->predictions.size() == original.whole_run->predictions.size());
  for (std::size_t i = 0; i < again.whole_run->predictions.size(); ++i) {
    CHECK(again.whole_run->predictions[i].batch_size == original.whole_run->predictions[i].batch_size);
    CHECK(again.whole_run->predictions[i].seconds == Approx(original.whole_run->predictions[i].seconds));
  }
  // The measurements are kept as they were: nothing trained.
  CHECK(again.whole_run->trunk.size() == original.whole_run->trunk.size());
  CHECK(again.whole_run->tune_samples == original.whole_run->tune_samples);

  // A looser target (the trunk's loss half way): the base batch needs fewer
  // samples to it, and every size's predicted run is shorter.
  const double half = original.whole_run->trunk[original.whole_run->trunk.size() / 2].loss;
  std::snprintf(target, sizeof target, "%.6g", half);
  const test::CliRun l = cli({"report", tune, "--target-loss", target, "-o", looser});
  INFO(l.err);
  REQUIRE(l.code == 0);
  const Report loose = read_report(looser);
  REQUIRE(loose.whole_run->target_loss.has_value());
  CHECK(*loose.whole_run->target_loss == Approx(half).epsilon(1e-5));
  REQUIRE_FALSE(loose.whole_run->predictions.empty());
  for (const auto& p : loose.whole_run->predictions) {
    for (const auto& q : original.whole_run->predictions) {
      if (q.batch_size == p.batch_size) CHECK(p.seconds < q.seconds);
    }
  }

  // One target at a time, and a sweep report takes --target-loss only.
  const test::CliRun both = cli({"report", tune, "--target-loss", "0.5", "--target-accuracy", "0.8"});
  CHECK(both.code == to_int(ExitCode::usage));
  CHECK(test::count_lines(both.err) == 1);
  const test::CliRun bad = cli({"report", tune, "--target-loss", "-1"});
  CHECK(bad.code == to_int(ExitCode::usage));
}

TEST_CASE("whole-run trainer: SGD's momentum buffer and Adam's first moment are rescaled at a branch",
          "[tuner][whole_run]") {
  const Workload sgd = small_workload("sgd");
  WorkloadTrainer t(sgd, 256, nullptr);
  t.reset(1);
  CHECK_FALSE(t.rescale_momentum(0.5).has_value());  // no step yet: no buffer
  t.step(32, 0.05);
  const int snap = t.save();
  const double plain = t.step(32, 0.05).loss;
  t.step(32, 0.05);
  const double after_plain = t.evaluate().loss;
  t.restore(snap);
  const auto mu = t.rescale_momentum(0.0);  // the buffer emptied: the next steps differ
  REQUIRE(mu.has_value());
  CHECK(*mu == Approx(sgd.optimizer().momentum));  // the coefficient the lag is computed from
  CHECK(t.step(32, 0.05).loss == Approx(plain).epsilon(1e-6));  // this step's loss is measured before the update
  t.step(32, 0.05);
  CHECK(t.evaluate().loss != Approx(after_plain).epsilon(1e-7));
  for (const std::string optimizer : {"adam", "adamw"}) {
    INFO(optimizer);
    const Workload adam = small_workload(optimizer);
    WorkloadTrainer a(adam, 256, nullptr);
    a.reset(1);
    CHECK_FALSE(a.rescale_momentum(0.5).has_value());  // no step yet: no moments
    a.step(32, 0.01);
    const int point = a.save();
    a.step(32, 0.01);
    const double kept = a.evaluate().loss;
    a.restore(point);
    const auto beta1 = a.rescale_momentum(1.0);  // a factor of 1 changes nothing
    REQUIRE(beta1.has_value());
    CHECK(*beta1 == Approx(0.9));  // Adam's default beta1: the first moment's lag
    a.step(32, 0.01);
    CHECK(a.evaluate().loss == Approx(kept).epsilon(1e-7));
    a.restore(point);
    a.rescale_momentum(0.0);
    a.step(32, 0.01);
    CHECK(a.evaluate().loss != Approx(kept).epsilon(1e-7));
  }
}

TEST_CASE("whole-run trainer: Adam's second moment is re-levelled from the trunk's batch to an arm's",
          "[tuner][whole_run]") {
  for (const std::string optimizer : {"adam", "adamw"}) {
    INFO(optimizer);
    const Workload w = small_workload(optimizer);
    WorkloadTrainer t(w, 256, nullptr);
    t.reset(2);
    for (int i = 0; i < 20; ++i) t.step(16, 0.01);
    const int point = t.save();
    t.step(16, 0.01);
    const double kept = t.evaluate().loss;
    CHECK_FALSE(t.relevel_second_moment(16, 128).has_value());  // not at a branch point's weights
    t.restore(point);
    // The same batch: a factor of 1, and the steps are the trunk's.
    const auto same = t.relevel_second_moment(16, 16);
    REQUIRE(same.has_value());
    CHECK(*same == Approx(1.0));
    t.step(16, 0.01);
    CHECK(t.evaluate().loss == Approx(kept).epsilon(1e-7));
    // A batch 8x larger holds less gradient noise: a factor between 1/8
    // (noise only) and 1 (none), the same again from the same point (the
    // measurement is kept per point and leaves its data order alone).
    t.restore(point);
    const auto larger = t.relevel_second_moment(16, 128);
    REQUIRE(larger.has_value());
    CHECK(*larger >= 1.0 / 8.0);
    CHECK(*larger < 1.0);
    t.restore(point);
    const auto again = t.relevel_second_moment(16, 128);
    REQUIRE(again.has_value());
    CHECK(*again == Approx(*larger));
    // The moments changed, so the next steps differ from the trunk's.
    t.step(16, 0.01);
    CHECK(t.evaluate().loss != Approx(kept).epsilon(1e-7));
  }
  const Workload sgd = small_workload("sgd");
  WorkloadTrainer s(sgd, 256, nullptr);
  s.reset(2);
  s.step(16, 0.05);
  s.restore(s.save());
  CHECK_FALSE(s.relevel_second_moment(16, 128).has_value());  // SGD keeps no second moment
}

TEST_CASE("whole-run trainer: the weights' running average is evaluated apart and leaves the weights alone",
          "[tuner][whole_run]") {
  const Workload w = small_workload("sgd");
  WorkloadTrainer trainer(w, 256, nullptr);
  trainer.reset(5);
  for (int i = 0; i < 5; ++i) REQUIRE(trainer.step(32, 0.05).status == ArmStatus::completed);
  CHECK_FALSE(trainer.evaluate_average().has_value());
  REQUIRE(trainer.begin_average());
  // An average of one set of weights is those weights.
  CHECK(trainer.evaluate_average()->loss == Approx(trainer.evaluate().loss).epsilon(1e-6));
  for (int i = 0; i < 20; ++i) REQUIRE(trainer.step(32, 0.05).status == ArmStatus::completed);
  const double raw = trainer.evaluate().loss;
  const auto averaged = trainer.evaluate_average();
  REQUIRE(averaged.has_value());
  CHECK(averaged->loss != Approx(raw).epsilon(1e-4));
  // The weights are put back: the raw evaluation is unchanged after it.
  CHECK(trainer.evaluate().loss == Approx(raw).epsilon(1e-9));
  // A restore ends the average.
  const int snap = trainer.save();
  trainer.restore(snap);
  CHECK_FALSE(trainer.evaluate_average().has_value());

  // A model with batch-norm statistics keeps no average (its averaged
  // weights would need the statistics recomputed).
  WorkloadSpec s;
  s.model = "resnet";
  s.data = "synthetic";
  s.synthetic = {256, 64};
  s.optimizer = "sgd";
  s.device = "cpu";
  const Workload bn = Workload::create(s);
  WorkloadTrainer bn_trainer(bn, 64, nullptr);
  bn_trainer.reset(1);
  CHECK_FALSE(bn_trainer.begin_average());
  CHECK_FALSE(bn_trainer.evaluate_average().has_value());
}

TEST_CASE("whole-run sweep: listed sizes past the tune's budget are run where they fit and the rest named",
          "[tuner][whole_run][cli]") {
  // The budget's arms reach below 512 here; the listed 512 fits in memory,
  // so it is the budget, not memory, that leaves it out, and the report says so.
  const test::TempDir tmp;
  const std::string out = tmp.file("wr.json");
  const test::CliRun r = cli({"sweep", "--model", "mlp", "--data", "synthetic", "--mlp-hidden", "32",
                              "--synthetic-train", "2048", "--synthetic-val", "256", "--train-samples", "16384",
                              "--batch-sizes", "64,128,256,512", "-o", out});
  INFO(r.err);
  REQUIRE(r.code == 0);
  const Report rep = read_report(out);
  REQUIRE(rep.whole_run.has_value());
  std::int64_t largest_arm = 0;
  for (const auto& p : rep.whole_run->branch_points) {
    for (const auto& a : p.arms) largest_arm = std::max(largest_arm, a.batch_size);
  }
  CHECK(largest_arm < 512);
  CHECK(std::any_of(rep.whole_run->notes.begin(), rep.whole_run->notes.end(),
                    [](const std::string& n) { return n.find("the largest an arm measured, are not predicted") != std::string::npos; }));
}

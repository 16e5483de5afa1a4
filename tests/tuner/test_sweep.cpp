#include "tests/support/catch.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <fstream>
#include <sstream>

#include "reports/util/error.hpp"
#include "reports/model/report_reader.hpp"
#include "tests/support/cli_run.hpp"
#include "tests/support/temp_dir.hpp"
#include "tuner/cli/cli.hpp"
#include "tuner/run/report_builder.hpp"
#include "tuner/run/sweep.hpp"

using namespace batchtune;

namespace {

Workload tiny_workload(double lr = 0.01) {
  WorkloadSpec s;
  s.model = "mlp";
  s.data = "synthetic";
  s.synthetic = {1024, 256};
  s.mlp.hidden = {32};
  s.device = "cpu";
  s.learning_rate = lr;
  return Workload::create(s);
}

SweepSettings settings(std::vector<std::int64_t> sizes, double samples) {
  SweepSettings s;
  s.batch_sizes = std::move(sizes);
  s.budget_kind = BudgetKind::samples;
  s.budget_value = samples;
  s.lr_scaling = LrScaling::none;
  s.eval_every_samples = static_cast<std::int64_t>(samples / 4);
  s.eval_samples = 256;
  return s;
}

using Run = test::CliRun;
Run cli(const std::vector<std::string>& args) { return test::run_cli(args); }

}  // namespace

TEST_CASE("a sweep compares batch sizes fairly", "[tuner][sweep]") {
  const Workload w = tiny_workload();
  std::atomic<bool> stop{false};
  const SweepResult r = run_sweep(w, settings({8, 24, 100}, 1000), nullptr, {}, stop);
  REQUIRE(r.arms.size() == 3);

  SECTION("every arm starts from the same weights") {
    CHECK(r.arms[0].initial_weights_sum == r.arms[1].initial_weights_sum);
    CHECK(r.arms[1].initial_weights_sum == r.arms[2].initial_weights_sum);
  }
  SECTION("an equal-samples budget gives every arm exactly the same samples") {
    for (const auto& a : r.arms) {
      CHECK(a.samples == 1000);
      CHECK(a.status == ArmStatus::completed);
      CHECK(a.train_loss.back().samples == 1000);
    }
    CHECK(r.arms[0].steps == 125);
    CHECK(r.arms[2].steps == 10);  // nine full batches and one of 100
  }
  SECTION("raw step times, evaluations and summaries are recorded") {
    for (const auto& a : r.arms) {
      CHECK(a.compute_seconds.size() == a.data_seconds.size());
      CHECK_FALSE(a.compute_seconds.empty());
      REQUIRE(a.samples_per_s.has_value());
      CHECK(*a.samples_per_s > 0);
      CHECK(a.evaluations.size() >= 4);
      CHECK(a.evaluations.back().samples == 1000);
      REQUIRE(a.final_validation_loss.has_value());
      CHECK(*a.final_validation_loss < std::log(10.0));  // learned something
    }
    REQUIRE(r.target_loss.has_value());
    int reached = 0;
    for (const auto& a : r.arms) reached += a.target.has_value();
    CHECK(reached >= 2);  // at least half reach the default target
    CHECK(r.summaries.size() == 3);
  }
}

TEST_CASE("seeds change the weights and the data, and are summarised", "[tuner][sweep]") {
  const Workload w = tiny_workload();
  std::atomic<bool> stop{false};
  SweepSettings s = settings({16}, 512);
  s.seeds = 3;
  const SweepResult r = run_sweep(w, s, nullptr, {}, stop);
  REQUIRE(r.arms.size() == 3);
  CHECK(r.arms[0].initial_weights_sum != r.arms[1].initial_weights_sum);
  REQUIRE(r.summaries.size() == 1);
  REQUIRE(r.summaries[0].final_validation_loss.has_value());
  const Spread& loss = *r.summaries[0].final_validation_loss;
  CHECK(loss.n == 3);
  // Different seeds train differently: the spread is not zero, and the
  // summary is the arms' own figures.
  CHECK(loss.max > loss.min);
  double sum = 0;
  for (const auto& a : r.arms) {
    REQUIRE(a.final_validation_loss.has_value());
    sum += *a.final_validation_loss;
  }
  CHECK(loss.mean == Approx(sum / 3));
}

TEST_CASE("divergence ends its arm, not the sweep", "[tuner][sweep]") {
  const Workload w = tiny_workload(1e6);
  std::atomic<bool> stop{false};
  const SweepResult r = run_sweep(w, settings({8, 32}, 640), nullptr, {}, stop);
  REQUIRE(r.arms.size() == 2);
  for (const auto& a : r.arms) {
    CHECK(a.status == ArmStatus::diverged);
    REQUIRE(a.failed_at_step.has_value());
    CHECK(a.message.find("at step") != std::string::npos);
  }
  const nlohmann::json j = r;  // non-finite losses are written as null
  const auto& last = j.at("arms").at(0).at("train_loss").back();
  CHECK((last.at("loss").is_null() || std::isfinite(last.at("loss").get<double>())));
  CHECK(j.get<SweepResult>().arms[0].status == ArmStatus::diverged);
}

TEST_CASE("an interrupted sweep keeps what it measured, marked incomplete", "[tuner][sweep]") {
  const Workload w = tiny_workload();
  std::atomic<bool> stop{false};
  SweepProgress progress;
  progress.on_arm_done = [&stop](const SweepResult&) { stop = true; };  // as if Ctrl-C came now
  const SweepResult r = run_sweep(w, settings({8, 16, 32}, 512), nullptr, progress, stop);
  CHECK(r.incomplete);
  REQUIRE(r.arms.size() == 1);
  CHECK(r.arms[0].status == ArmStatus::completed);
  const auto report = build_report(w, nullptr, &r);
  const auto back = nlohmann::json::parse(report.dump());
  CHECK(back.at("sweep").at("incomplete") == true);
  CHECK(back.at("sweep").get<SweepResult>().arms.size() == 1);
}

TEST_CASE("sweep bad input: one line, documented exit code, nothing written", "[tuner][sweep][cli]") {
  const test::TempDir tmp;
  const std::string out = tmp.file("sweep.json");
  const std::vector<std::string> base{"sweep", "--model", "mlp", "--data", "synthetic", "--mlp-hidden", "32",
                                      "--synthetic-train", "1024", "--synthetic-val", "128", "-o", out};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = base;
    if (std::find(extra.begin(), extra.end(), "-o") != extra.end()) args.resize(args.size() - 2);
    args.insert(args.end(), extra.begin(), extra.end());
    return cli(args);
  };
  struct Case {
    std::vector<std::string> extra;
    ExitCode code;
    std::string mentions;
  };
  const std::vector<Case> cases{
      {{"--batch-sizes", ""}, ExitCode::usage, "--batch-sizes"},
      {{"--batch-sizes", "16,abc"}, ExitCode::usage, "16,abc"},
      {{"--batch-sizes", "16,,32"}, ExitCode::usage, "16,,32"},
      {{"--batch-sizes", "16,999999"}, ExitCode::usage, "larger than the training set"},
      {{"--batch-sizes", "16,1000", "--memory-limit", "2MiB"}, ExitCode::does_not_fit, "--force"},
      {{"--batch-sizes", "64", "--budget", "samples=10"}, ExitCode::usage, "smaller than one batch"},
      {{"--budget", "minutes=3"}, ExitCode::usage, "samples=N"},
      {{"-o", "/nonexistent/dir/r.json"}, ExitCode::output_error, "/nonexistent/dir"},
  };
  for (const auto& c : cases) {
    const Run r = with(c.extra);
    INFO(r.err);
    CHECK(r.code == to_int(c.code));
    CHECK(r.err.find(c.mentions) != std::string::npos);
    CHECK(r.err.find("sweep: arm") == std::string::npos);  // no training started
    struct stat st {};
    CHECK(stat(out.c_str(), &st) != 0);
  }
}

TEST_CASE("a sweep on the command line writes a report that reads back", "[tuner][sweep][cli]") {
  const test::TempDir tmp;
  const std::string out = tmp.file("sweep-ok.json");
  const Run r = cli({"sweep", "--model", "mlp", "--data", "synthetic", "--mlp-hidden", "32", "--synthetic-train",
                     "1024", "--synthetic-val", "128", "--memory-limit", "4MiB", "--budget", "samples=2048",
                     "-o", out});
  INFO(r.err);
  REQUIRE(r.code == 0);
  std::ifstream in(out);
  const auto j = nlohmann::ordered_json::parse(in);
  CHECK(j.begin().key() == "schema_version");
  const auto sweep = nlohmann::json(j.at("sweep")).get<SweepResult>();
  const auto probe = nlohmann::json(j.at("probe")).get<ProbeResult>();
  CHECK(sweep.arms.back().batch_size == probe.safe_max_batch);
  CHECK(sweep.arms.front().batch_size == 16);
  CHECK(sweep.lr_scaling == LrScaling::linear);  // sgd's default
  CHECK(nlohmann::json(sweep) == nlohmann::json(j.at("sweep")));  // the model round-trips
  CHECK(r.out.find("target validation loss") != std::string::npos);

  // What a CI script does with it.
  const Run get = cli({"show", out, "--get", "probe.safe_max_batch"});
  CHECK(get.code == 0);
  CHECK(get.out == std::to_string(probe.safe_max_batch) + "\n");
  const Run unknown = cli({"show", out, "--get", "probe.nope"});
  CHECK(unknown.code == to_int(ExitCode::usage));
  CHECK(unknown.err.find("no key 'nope' in 'probe'") != std::string::npos);
  const Run shown = cli({"show", out});
  CHECK(shown.code == 0);
  CHECK(shown.out.find("largest fitting batch") != std::string::npos);
  std::remove(out.c_str());
  const Run missing = cli({"show", out});
  CHECK(missing.code == to_int(ExitCode::bad_input));
  CHECK(std::count(missing.err.begin(), missing.err.end(), '\n') == 1);
}

TEST_CASE("an arm with few steps is timed on extra steps that change nothing else", "[tuner][sweep]") {
  const Workload w = tiny_workload();
  std::atomic<bool> stop{false};
  // 300 samples at batch 100: 3 steps, none of them warm enough to time.
  const SweepResult r = run_sweep(w, settings({100}, 300), nullptr, {}, stop);
  REQUIRE(r.arms.size() == 1);
  const SweepArm& a = r.arms[0];
  CHECK(a.steps == 3);
  CHECK(a.samples == 300);
  CHECK(a.train_loss.size() == 3);
  CHECK(a.timing_only_steps == 5);
  CHECK(a.compute_seconds.size() == 5);
  CHECK(a.data_seconds.size() == 5);
  REQUIRE(a.samples_per_s.has_value());
  CHECK(*a.samples_per_s > 0);

  SECTION("an arm with enough steps runs none") {
    const SweepResult many = run_sweep(w, settings({16}, 512), nullptr, {}, stop);
    CHECK(many.arms[0].timing_only_steps == 0);
    CHECK(many.arms[0].compute_seconds.size() == 30);  // 32 steps, 2 warm-up steps excluded
  }
}

TEST_CASE("a sweep split with --shard and joined by merge is the unsharded sweep", "[tuner][sweep][cli]") {
  const test::TempDir tmp;
  const std::vector<std::string> base{"sweep", "--model", "mlp", "--data", "synthetic", "--mlp-hidden", "32",
                                      "--synthetic-train", "1024", "--synthetic-val", "128", "--memory-limit",
                                      "8MiB", "--batch-sizes", "16,32,64", "--seeds", "2", "--budget",
                                      "samples=512", "--eval-samples", "128", "--noise-repeats", "2",
                                      "--threads", "1"};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = base;
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  };
  const Run whole = cli(with({"-o", tmp.file("whole.json")}));
  INFO(whole.err);
  REQUIRE(whole.code == 0);
  for (const std::string part : {"1", "2", "3"}) {
    const Run r = cli(with({"--shard", part + "/3", "-o", tmp.file("part" + part + ".json")}));
    INFO(r.err);
    REQUIRE(r.code == 0);
  }
  const Report p2 = read_report(tmp.file("part2.json"));
  REQUIRE(p2.sweep->shard);
  CHECK(p2.sweep->arms.size() == 2);  // arms 2 and 5 of 6
  CHECK_FALSE(p2.recommendation->recommends());
  CHECK(p2.recommendation->noise_scale.status == NoiseScaleStatus::not_measured);
  CHECK(cli({"show", tmp.file("part2.json"), "--get", "recommendation.batch_size"}).code ==
        to_int(ExitCode::no_recommendation));

  const Run merged = cli({"merge", tmp.file("part3.json"), tmp.file("part1.json"), tmp.file("part2.json"), "-o",
                          tmp.file("merged.json")});
  INFO(merged.err);
  REQUIRE(merged.code == 0);
  const Report a = read_report(tmp.file("whole.json"));
  const Report b = read_report(tmp.file("merged.json"));
  REQUIRE(a.sweep->arms.size() == b.sweep->arms.size());
  for (std::size_t i = 0; i < a.sweep->arms.size(); ++i) {
    const SweepArm& x = a.sweep->arms[i];
    const SweepArm& y = b.sweep->arms[i];
    CHECK(x.batch_size == y.batch_size);
    CHECK(x.seed == y.seed);
    REQUIRE(x.train_loss.size() == y.train_loss.size());
    for (std::size_t k = 0; k < x.train_loss.size(); ++k) CHECK(x.train_loss[k].loss == y.train_loss[k].loss);
    REQUIRE(x.evaluations.size() == y.evaluations.size());
    CHECK(x.evaluations.back().loss == y.evaluations.back().loss);
  }
  CHECK(a.sweep->target_loss == b.sweep->target_loss);
  REQUIRE(b.recommendation);
  CHECK(b.recommendation->noise_scale.status == a.recommendation->noise_scale.status);
  // The same measurements give the same recommendation: the merged sweep's
  // arms recommended from with the whole sweep's step times.
  SweepResult same = *b.sweep;
  for (std::size_t i = 0; i < same.arms.size(); ++i) {
    same.arms[i].compute_seconds = a.sweep->arms[i].compute_seconds;
    same.arms[i].data_seconds = a.sweep->arms[i].data_seconds;
    same.arms[i].mean_step_seconds = a.sweep->arms[i].mean_step_seconds;
    same.arms[i].median_step_seconds = a.sweep->arms[i].median_step_seconds;
    same.arms[i].other_cpu_cores = a.sweep->arms[i].other_cpu_cores;
    same.arms[i].samples_per_s = a.sweep->arms[i].samples_per_s;
    same.arms[i].train_loss = a.sweep->arms[i].train_loss;
    same.arms[i].evaluations = a.sweep->arms[i].evaluations;
  }
  same.timing_conditions = a.sweep->timing_conditions;
  summarise_sweep(same);
  const Recommendation again = recommend(same, &*b.probe, b.workload, a.recommendation->noise_scale, {});
  CHECK(again.batch_size == a.recommendation->batch_size);

  SECTION("bad --shard values and combinations are refused before any work") {
    for (const std::string bad : {"0/2", "3/2", "2", "a/b", "/2"}) {
      const Run r = cli(with({"--shard", bad, "-o", tmp.file("bad.json")}));
      CHECK(r.code == to_int(ExitCode::usage));
      CHECK(r.err.find("--shard") != std::string::npos);
    }
    const Run many = cli(with({"--shard", "7/7", "-o", tmp.file("bad.json")}));
    CHECK(many.code == to_int(ExitCode::usage));
    CHECK(many.err.find("at most that many parts") != std::string::npos);
    CHECK(many.err.find("probe:") == std::string::npos);  // refused before the probe
    // Automatic sizes could differ from machine to machine: refused up front.
    const Run automatic = cli({"sweep", "--model", "mlp", "--data", "synthetic", "--shard", "1/2", "-o",
                               tmp.file("bad.json")});
    CHECK(automatic.code == to_int(ExitCode::usage));
    CHECK(automatic.err.find("needs --batch-sizes") != std::string::npos);
    CHECK(automatic.err.find("probe:") == std::string::npos);
    // An empty output path, before any work.
    for (const std::string option : {"-o", "--html", "--markdown"}) {
      const Run empty = cli({"sweep", "--model", "mlp", "--data", "synthetic", option, ""});
      INFO(option << ": " << empty.err);
      CHECK(empty.code == to_int(ExitCode::usage));
      CHECK(empty.err.find("empty path") != std::string::npos);
      CHECK(empty.err.find("probe:") == std::string::npos);
    }
    const Run whole_run = cli({"sweep", "--model", "mlp", "--data", "synthetic", "--epochs", "1", "--shard", "1/2"});
    CHECK(whole_run.code == to_int(ExitCode::usage));
    const Run one = cli({"merge", tmp.file("part1.json"), "-o", tmp.file("bad.json")});
    CHECK(one.code == to_int(ExitCode::usage));
    const Run unsharded = cli({"merge", tmp.file("part1.json"), tmp.file("whole.json"), "-o", tmp.file("bad.json")});
    CHECK(unsharded.code == to_int(ExitCode::bad_input));
    CHECK(unsharded.err.find("whole.json") != std::string::npos);
  }
}

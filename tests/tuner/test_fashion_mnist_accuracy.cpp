// Slow (one epoch of real data): run with `ctest --preset slow` or scripts/test.
#include "tests/support/catch.hpp"

#include "tuner/workload/workload.hpp"

using namespace batchtune;

TEST_CASE("mlp passes 80% validation accuracy on Fashion-MNIST within one epoch", "[tuner][slow]") {
  WorkloadSpec s;  // defaults: mlp, fashion-mnist, sgd lr 0.01 momentum 0.9
  s.device = "cpu";
  const Workload w = Workload::create(s);
  auto model = w.make_model();
  auto opt = w.make_optimizer(*model, w.optimizer().learning_rate);
  BatchSampler sampler = w.make_sampler();
  const std::int64_t batch = 64;
  for (std::int64_t seen = 0; seen + batch <= w.data().train.size(); seen += batch) {
    auto [x, y] = w.next_batch(sampler, batch);
    train_step(*model, *opt, w, x, y);
  }
  CHECK(sampler.epoch() == 0);  // not a sample more than one epoch
  const Evaluation e = w.evaluate(*model);
  REQUIRE(e.accuracy.has_value());
  INFO("validation accuracy " << *e.accuracy << " on " << e.samples);
  CHECK(e.samples == 10000);
  CHECK(*e.accuracy > 0.80);
}

// Stage 6: a batch-size schedule, where B_crit grows enough along the run
// that switching sizes saves time.
#include "reports/run_analysis/stages.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>

#include "reports/util/fit.hpp"
#include "reports/analysis/recommend.hpp"
#include "reports/util/statistics.hpp"

namespace batchtune::analysis {

std::optional<BatchSchedule> propose_schedule(const std::vector<Phase>& phases, const std::vector<std::int64_t>& sizes,
                                              const std::function<double(const Phase&, std::int64_t)>& phase_seconds,
                                              double fastest_seconds) {
  if (phases.empty() || sizes.empty()) return std::nullopt;
  std::vector<std::int64_t> choice;
  std::int64_t current = sizes.front();
  double t_sched = 0;
  for (const auto& ph : phases) {
    std::int64_t pick = current;
    double pick_t = std::numeric_limits<double>::infinity();
    for (std::int64_t b : sizes) {
      if (b < current) continue;
      const double t = phase_seconds(ph, b);
      if (t < pick_t) {
        pick_t = t;
        pick = b;
      }
    }
    current = pick;
    choice.push_back(pick);
    t_sched += pick_t;
  }
  const double saving = 1.0 - t_sched / fastest_seconds;
  if (saving < kScheduleSaving) return std::nullopt;
  BatchSchedule sch;
  for (std::size_t k = 0; k < choice.size(); ++k) {
    if (k == 0 || choice[k] != choice[k - 1]) {
      ScheduleStage st;
      st.batch_size = choice[k];
      if (k > 0) st.from_loss = phases[k].start_loss;
      sch.stages.push_back(st);
    }
  }
  sch.predicted_seconds = t_sched;
  sch.saving_share = saving;
  if (sch.stages.size() < 2) return std::nullopt;
  return sch;
}

}  // namespace batchtune::analysis

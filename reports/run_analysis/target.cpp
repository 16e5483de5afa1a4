// Stage 3: the run's target (--target-loss, --target-accuracy, or the base
// batch's loss at the run's end) and the base batch's samples to it.
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

void find_target(WholeRun& w, const TrunkCurve& tc) {
  const auto& curve = tc.curve;
  const double joint = tc.joint, at_joint = tc.at_joint;
  const double planned = double(w.run.train_samples);
  if (w.run.target_loss) {
    w.target_loss = w.run.target_loss;
    w.target_origin = TargetOrigin::given;
    w.target_source = kGivenTargetWords;
  } else if (w.run.target_accuracy) {
    // The loss where the trunk's accuracy crossed the target, or where a line
    // through its later (loss, accuracy) points reaches it.
    std::optional<double> crossing;
    for (const auto& t : w.trunk) {
      if (t.accuracy && *t.accuracy >= *w.run.target_accuracy) {
        crossing = t.loss;
        break;
      }
    }
    if (crossing) {
      w.target_loss = crossing;
      w.target_source = "--target-accuracy " + format_number(*w.run.target_accuracy, "%.4g") + " (the trunk's loss there)";
    } else {
      std::vector<double> x, y;
      for (std::size_t i = w.trunk.size() / 2; i < w.trunk.size(); ++i) {
        if (!w.trunk[i].accuracy) continue;
        x.push_back(w.trunk[i].loss);
        y.push_back(*w.trunk[i].accuracy);
      }
      const auto line = x.size() >= 2 ? fit_line(x, y, std::vector<double>(x.size(), 1.0)) : std::nullopt;
      if (line && line->slope < 0) {
        const double loss = (*w.run.target_accuracy - line->intercept) / line->slope;
        if (loss > 0) {
          w.target_loss = loss;
          w.target_source = "--target-accuracy " + format_number(*w.run.target_accuracy, "%.4g") +
                            " (the loss there on a line through the trunk's later accuracy against loss)";
        }
      }
      if (!w.target_loss) {
        w.notes.push_back("the trunk's accuracy does not reach --target-accuracy " +
                          format_number(*w.run.target_accuracy, "%.4g") + " and cannot be carried there; no target");
      }
    }
  } else {
    const double l = loss_at(curve, w.loss_extension, planned);
    if (std::isfinite(l)) {
      w.target_loss = l;
      if (!curve.empty() && planned > curve.back().first && w.loss_extension) {
        const auto& e = *w.loss_extension;
        w.target_loss_error = extension_loss_error(w.trunk, joint, at_joint, planned, e.damped_from);
        if (e.damped_from) {
          // The damping is a hedge between a curve that keeps its decay and
          // one that stops at the trunk's end: the distance to the first end
          // (about that to the second) is part of the target's error.
          LossCurveFit undamped = e;
          undamped.damped_from.reset();
          const double hedge = std::abs(l - loss_curve_at(undamped, planned));
          w.target_loss_error = std::max(w.target_loss_error.value_or(0.0), hedge);
        }
      }
      w.target_source = "the base batch's loss after the planned " + std::to_string(w.run.train_samples) +
                        " samples" +
                        (curve.empty() || planned <= curve.back().first ? std::string()
                         : w.loss_extension ? std::string(" (the trunk's curve carried past its end)")
                                            : std::string(" (the trunk's last loss: its later half did not fall)"));
    }
  }

  if (w.target_loss && w.target_origin == TargetOrigin::none) w.target_origin = TargetOrigin::chosen;

  // 4. The base batch's samples to the target.
  if (w.target_loss && !w.run.target_loss && !w.run.target_accuracy && planned > 0) {
    // The target is the base batch's loss after the planned run: it takes
    // the planned samples, by definition.
    w.base_samples_to_target = planned;
  } else if (w.target_loss) {
    w.base_samples_to_target = trunk_samples_to_loss(curve, 0.0, *w.target_loss);
    const auto& ext = w.loss_extension;
    if (!w.base_samples_to_target && ext) w.base_samples_to_target = loss_curve_samples_to(*ext, *w.target_loss);
    if (!w.base_samples_to_target) {
      w.notes.push_back("the target loss " + format_number(*w.target_loss, "%.4g") +
                        (ext ? " lies below the floor of the trunk's curve carried past its end (" +
                                   format_number(ext->floor, "%.4g") + ")"
                             : " lies below the trunk's curve, whose later half did not fall") +
                        ": the base batch would not reach it");
    } else if (*w.base_samples_to_target > 4 * planned && planned > 0) {
      w.notes.push_back("the base batch needs " + format_number(*w.base_samples_to_target, "%.3g") +
                        " samples to the target, over 4x the planned run: the extrapolation is long");
    }
  }
}

}  // namespace batchtune::analysis

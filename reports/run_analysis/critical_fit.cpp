// Stage 4: B_crit against the loss, fitted through the branch points' local
// values (weighted by their bands), with lower bounds as floors, carried to
// the target.
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

std::optional<CriticalBand> fit_critical_against_loss(WholeRun& w, double recentre, std::optional<double>* fit_at_target) {
  // 5. B_crit against the loss.
  // Each point weighs by its local fit's spread (the leave-one-size-out
  // band): one size's arm off by its noise can move a point's B_crit 30x
  // (measured: 7 at the last point of one five-seed tune, where its others
  // gave 700 and 260), and its band says so.
  // A point whose arms showed no knee (a lower bound) is a floor under the
  // fit, not a point of it: taken as a value, a bound at the largest arm
  // beside a measured knee at a higher loss reads as steep growth (measured:
  // 18 at loss 0.462 and 1024+ at 0.413 carried to 785,423 at the target,
  // where full runs said 1,387). Only where every point is a bound are they
  // the values.
  const bool any_knee = std::any_of(w.branch_points.begin(), w.branch_points.end(), [](const BranchPoint& p) {
    return p.critical_batch && *p.critical_batch > 0 && !p.lower_bound && point_loss(p) > 0;
  });
  std::vector<double> lx, ly, lw;
  for (const auto& p : w.branch_points) {
    if (p.critical_batch && *p.critical_batch > 0 && point_loss(p) > 0 && !(any_knee && p.lower_bound)) {
      lx.push_back(std::log(point_loss(p)));
      ly.push_back(std::log(*p.critical_batch));
      double sd = 0.25;
      if (p.critical_low && p.critical_high && *p.critical_low > 0) sd = 0.5 * std::log(*p.critical_high / *p.critical_low);
      sd = std::max(sd, 0.1);
      lw.push_back(1.0 / (sd * sd));
    }
  }
  for (const auto& p : w.branch_points) {
    if (p.critical_batch) {
      w.early_critical_batch = p.critical_batch;
      break;
    }
  }
  CriticalBand out;
  CriticalModel& model = out.model;
  double& log_sd = out.log_sd;
  {
    // The local fits' own spread, as a floor under the fit's residuals.
    std::vector<double> half_widths;
    for (const auto& p : w.branch_points) {
      if (p.critical_low && p.critical_high && *p.critical_low > 0) {
        half_widths.push_back(0.5 * std::log(*p.critical_high / *p.critical_low));
      }
    }
    log_sd = std::max(0.1, median_of(half_widths).value_or(0.25));
  }
  double& x_mean = out.x_mean;
  double& sxx = out.sxx;
  if (lx.size() >= 2) {
    const auto line = fit_line(lx, ly, lw);
    if (line) {
      CriticalBatchFit f;
      f.coefficient = std::exp(line->intercept);
      f.exponent = line->slope;
      f.points = static_cast<int>(lx.size());
      double ss = 0;
      for (std::size_t i = 0; i < lx.size(); ++i) {
        const double e = ly[i] - (line->intercept + line->slope * lx[i]);
        ss += e * e;
      }
      f.log_residual_sd = lx.size() > 2 ? std::sqrt(ss / double(lx.size() - 2)) : 0.0;
      // The exponent's standard error from the points' bands (their weights
      // are 1 / sd^2, each band's half log-width standing for its point's
      // error: an approximation, the bands being leave-one-size-out spreads),
      // widened by the residuals' excess where there are more than two points.
      double wsum_x = 0, wx = 0;
      for (std::size_t i = 0; i < lx.size(); ++i) {
        wsum_x += lw[i];
        wx += lw[i] * lx[i];
      }
      double sxx_w = 0, chi2 = 0;
      for (std::size_t i = 0; i < lx.size(); ++i) {
        sxx_w += lw[i] * (lx[i] - wx / wsum_x) * (lx[i] - wx / wsum_x);
        const double e = ly[i] - (line->intercept + line->slope * lx[i]);
        chi2 += lw[i] * e * e;
      }
      const double excess = lx.size() > 2 ? std::max(1.0, std::sqrt(chi2 / double(lx.size() - 2))) : 1.0;
      const double exponent_se = sxx_w > 0 ? excess / std::sqrt(sxx_w) : std::numeric_limits<double>::infinity();
      // A growth the points do not tell from none is not carried past them:
      // two points close in loss, each uncertain several-fold, give any
      // exponent (measured: -6 to -13 through points 0.07 apart, carried to
      // 4-28x the full runs' B_crit; past the trunk B_crit levelled off).
      const bool undetermined = f.exponent <= 0 && -f.exponent < kGrowthSigmas * exponent_se;
      if (f.exponent > 0 || undetermined) {
        // B_crit falling as the loss falls runs against every measurement in
        // the literature (McCandlish et al. 2018, Merrill et al. 2025); with
        // a few noisy points it is the noise. Held at the points' geometric
        // mean, the spread of the points as its band.
        double mean = 0, ss2 = 0, wsum = 0;
        for (std::size_t i = 0; i < ly.size(); ++i) {
          mean += lw[i] * ly[i];
          wsum += lw[i];
        }
        mean /= wsum;
        for (double v : ly) ss2 += (v - mean) * (v - mean);
        model.constant = std::exp(mean);
        log_sd = std::max(log_sd, std::sqrt(ss2 / double(std::max<std::size_t>(1, ly.size() - 1))));
        if (f.exponent > 0) {
          w.notes.push_back("the branch points' B_crit did not grow as the loss fell (fitted exponent " +
                            format_number(f.exponent, "%.2f") + " > 0, as it can when the rule's rate nears the curvature limit at the larger sizes); not carried past the measurements: held at their geometric mean (weighted by their bands), " +
                            format_number(model.constant, "%.0f"));
        } else {
          w.notes.push_back("the branch points do not say how fast B_crit grows as the loss falls (fitted exponent " +
                            format_number(f.exponent, "%.2f") + " +- " + format_number(exponent_se, "%.2f") +
                            ", within " + format_number(kGrowthSigmas, "%.0f") +
                            " standard errors of none, from their bands): not carried past the measurements: held "
                            "at their geometric mean (weighted by their bands), " + format_number(model.constant, "%.0f") +
                            "; more --branch-points or longer arms (--tune-share) pin it down");
        }
      } else {
        w.critical_fit = f;
        model.fit = f;
        log_sd = std::max(log_sd, f.log_residual_sd);
        // The points' weights scaled to a mean of 1 for the band.
        double wsum = 0;
        for (double v : lw) wsum += v;
        for (std::size_t i = 0; i < lx.size(); ++i) x_mean += lw[i] * lx[i] / wsum;
        for (std::size_t i = 0; i < lx.size(); ++i) {
          sxx += lw[i] * double(lx.size()) / wsum * (lx[i] - x_mean) * (lx[i] - x_mean);
        }
      }
    }
  } else if (lx.size() == 1) {
    model.constant = std::exp(ly.front());
    w.notes.push_back("B_crit was measured at one branch point only: it is held constant over the run");
  }
  if (lx.empty()) {
    w.notes.push_back("no branch point measured a critical batch (no arm completed, or the trunk's curve did not "
                      "cover the arms' losses)");
    return std::nullopt;
  }
  out.points = lx.size();
  model.log_offset = std::log(recentre);
  for (const auto& p : w.branch_points) {
    if (p.lower_bound && p.critical_batch && *p.critical_batch > 0) model.floors.emplace_back(point_loss(p), *p.critical_batch);
  }
  if (w.target_loss) {
    w.critical_batch_at_target = model.at(*w.target_loss);
    CriticalModel unfloored = model;
    unfloored.floors.clear();
    if (fit_at_target) *fit_at_target = unfloored.at(*w.target_loss);
    if (unfloored.at(*w.target_loss) < *w.critical_batch_at_target * (1.0 - 1e-6)) {
      w.notes.push_back("B_crit at the target held at " + format_number(*w.critical_batch_at_target, "%.0f") +
                        ", the lower bound a branch point at a higher loss measured (its arms showed no knee up to "
                        "there, and B_crit grows as the loss falls); the fit alone gave " +
                        format_number(unfloored.at(*w.target_loss), "%.0f"));
    }
  }
  {
    std::vector<double> ratios;
    for (const auto& p : w.branch_points) {
      if (p.simple_noise_scale && p.critical_batch && *p.critical_batch > 0 && !p.lower_bound) {
        ratios.push_back(*p.simple_noise_scale / *p.critical_batch);
      }
    }
    w.noise_to_critical_ratio = median_of(ratios);
  }
  return out;
}

}  // namespace batchtune::analysis

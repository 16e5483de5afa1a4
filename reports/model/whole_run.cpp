#include "reports/model/whole_run.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ostream>

#include "reports/util/units.hpp"

namespace batchtune {

void to_json(nlohmann::json& j, const TrunkPoint& t) {
  j = nlohmann::json{{"step", t.step}, {"samples", t.samples},   {"seconds", t.seconds},
                     {"loss", t.loss}, {"accuracy", t.accuracy}};
  if (t.averaged_loss) j["averaged_loss"] = *t.averaged_loss;
}

void from_json(const nlohmann::json& j, TrunkPoint& t) {
  j.at("step").get_to(t.step);
  j.at("samples").get_to(t.samples);
  j.at("seconds").get_to(t.seconds);
  j.at("loss").get_to(t.loss);
  j.at("accuracy").get_to(t.accuracy);
  t.averaged_loss.reset();
  if (j.contains("averaged_loss")) j.at("averaged_loss").get_to(t.averaged_loss);  // added within schema 2
}

void to_json(nlohmann::json& j, const LossCurveFit& f) {
  j = nlohmann::json{{"floor", json_util::number(f.floor)}, {"scale", json_util::number(f.scale)},
                     {"decay", json_util::number(f.decay)}, {"points", f.points},
                     {"rms_error", json_util::number(f.rms_error)}};
  if (f.damped_from) j["damped_from"] = json_util::number(*f.damped_from);
}

void from_json(const nlohmann::json& j, LossCurveFit& f) {
  f.floor = json_util::read_number(j.at("floor"));
  f.scale = json_util::read_number(j.at("scale"));
  f.decay = json_util::read_number(j.at("decay"));
  j.at("points").get_to(f.points);
  f.rms_error = json_util::read_number(j.at("rms_error"));
  f.damped_from.reset();
  if (j.contains("damped_from") && !j.at("damped_from").is_null()) {
    const double d = json_util::read_number(j.at("damped_from"));
    if (std::isfinite(d) && d > 0) f.damped_from = d;  // else the fit as it is
  }
}

double loss_curve_at(const LossCurveFit& f, double samples) {
  const double s = std::max(samples, 1.0);
  if (f.damped_from && s > *f.damped_from) {
    const double d = *f.damped_from;
    const double above = f.scale * std::pow(d, -f.decay);  // L(d) - floor
    return f.floor + above * std::pow(s / d, -0.5 * f.decay);
  }
  return f.floor + f.scale * std::pow(s, -f.decay);
}

std::optional<double> loss_curve_samples_to(const LossCurveFit& f, double loss) {
  if (!(loss > f.floor) || !(f.scale > 0) || !(f.decay > 0)) return std::nullopt;
  const double plain = std::pow(f.scale / (loss - f.floor), 1.0 / f.decay);
  if (!f.damped_from || plain <= *f.damped_from) return plain;
  const double d = *f.damped_from;
  const double above = f.scale * std::pow(d, -f.decay);
  return d * std::pow((loss - f.floor) / above, -2.0 / f.decay);
}

void to_json(nlohmann::json& j, const RunPrediction& p) {
  j = nlohmann::json{{"batch_size", p.batch_size},   {"learning_rate", p.learning_rate},
                     {"steps", p.steps},             {"samples", p.samples},
                     {"step_s", p.step_s},           {"seconds", p.seconds},
                     {"seconds_low", p.seconds_low}, {"seconds_high", p.seconds_high},
                     {"step_time_measured", p.step_time_measured},
                     {"lr_factor", p.lr_factor},     {"rate_gain", p.rate_gain}};
}

void from_json(const nlohmann::json& j, RunPrediction& p) {
  j.at("batch_size").get_to(p.batch_size);
  j.at("learning_rate").get_to(p.learning_rate);
  j.at("steps").get_to(p.steps);
  j.at("samples").get_to(p.samples);
  j.at("step_s").get_to(p.step_s);
  j.at("seconds").get_to(p.seconds);
  j.at("seconds_low").get_to(p.seconds_low);
  j.at("seconds_high").get_to(p.seconds_high);
  j.at("step_time_measured").get_to(p.step_time_measured);
  // Absent in reports written before rates were measured: the rule's.
  p.lr_factor = j.contains("lr_factor") && j.at("lr_factor").is_number() ? j.at("lr_factor").get<double>() : 1.0;
  p.rate_gain.reset();
  if (j.contains("rate_gain") && j.at("rate_gain").is_number()) p.rate_gain = j.at("rate_gain").get<double>();
}

void to_json(nlohmann::json& j, const WholeRun& w) {
  nlohmann::json steps = nlohmann::json::array();
  for (const auto& [batch, seconds] : w.step_seconds) {
    steps.push_back({{"batch_size", batch}, {"step_s", json_util::number(seconds)}});
  }
  nlohmann::json tails = nlohmann::json::array();
  for (const auto& [batch, ratio] : w.heavy_step_tails) {
    tails.push_back({{"batch_size", batch}, {"mean_over_median", json_util::number(ratio)}});
  }
  j = nlohmann::json{{"run", w.run},
                     {"base_batch", w.base_batch},
                     {"base_learning_rate", w.base_learning_rate},
                     {"lr_scaling", w.lr_scaling},
                     {"lr_grid", w.lr_grid},
                     {"eval_samples", w.eval_samples},
                     {"trunk_samples", w.trunk_samples},
                     {"trunk_warmup_steps", w.trunk_warmup_steps},
                     {"trunk", w.trunk},
                     {"trunk_noise", w.trunk_noise},
                     {"branch_points", w.branch_points},
                     {"step_seconds", steps},
                     {"step_times_source", w.step_times_source},
                     {"tune_samples", w.tune_samples},
                     {"tune_seconds", json_util::number(w.tune_seconds)},
                     {"timing_samples", w.timing_samples},
                     {"tune_share", w.tune_share},
                     {"next_arm_size", w.next_arm_size},
                     {"tune_share_for_next_arm", w.tune_share_for_next_arm},
                     {"other_cpu_cores", w.other_cpu_cores},
                     {"heavy_step_tails", tails},
                     {"target_loss", w.target_loss},
                     {"target_loss_error", w.target_loss_error},
                     {"target_source", w.target_source},
                     {"base_samples_to_target", w.base_samples_to_target},
                     {"loss_curve", w.loss_curve},
                     {"loss_extension", w.loss_extension},
                     {"critical_fit", w.critical_fit},
                     {"critical_batch_at_target", w.critical_batch_at_target},
                     {"arm_loss_noise", w.arm_loss_noise},
                     {"noise_draws", w.noise_draws},
                     {"critical_batch_at_target_low", w.critical_batch_at_target_low},
                     {"critical_batch_at_target_high", w.critical_batch_at_target_high},
                     {"best_batch_agreement", w.best_batch_agreement},
                     {"critical_batch_unrecentred", w.critical_batch_unrecentred},
                     {"early_critical_batch", w.early_critical_batch},
                     {"noise_to_critical_ratio", w.noise_to_critical_ratio},
                     {"predictions", w.predictions},
                     {"best_batch", w.best_batch},
                     {"early_best_batch", w.early_best_batch},
                     {"schedule", w.schedule},
                     {"notes", w.notes}};
}

void from_json(const nlohmann::json& j, WholeRun& w) {
  j.at("run").get_to(w.run);
  j.at("base_batch").get_to(w.base_batch);
  j.at("base_learning_rate").get_to(w.base_learning_rate);
  j.at("lr_scaling").get_to(w.lr_scaling);
  j.at("lr_grid").get_to(w.lr_grid);
  j.at("eval_samples").get_to(w.eval_samples);
  j.at("trunk_samples").get_to(w.trunk_samples);
  j.at("trunk_warmup_steps").get_to(w.trunk_warmup_steps);
  j.at("trunk").get_to(w.trunk);
  j.at("trunk_noise").get_to(w.trunk_noise);
  j.at("branch_points").get_to(w.branch_points);
  w.step_seconds.clear();
  for (const auto& s : j.at("step_seconds")) {
    w.step_seconds.emplace_back(s.at("batch_size").get<std::int64_t>(), json_util::read_number(s.at("step_s")));
  }
  j.at("step_times_source").get_to(w.step_times_source);
  j.at("tune_samples").get_to(w.tune_samples);
  w.tune_seconds = json_util::read_number(j.at("tune_seconds"));
  w.other_cpu_cores.reset();
  w.heavy_step_tails.clear();
  if (j.contains("heavy_step_tails")) {  // added within schema 2
    for (const auto& t : j.at("heavy_step_tails")) {
      w.heavy_step_tails.emplace_back(t.at("batch_size").get<std::int64_t>(), json_util::read_number(t.at("mean_over_median")));
    }
  }
  w.timing_samples = j.value("timing_samples", std::int64_t{0});  // added within schema 2
  w.tune_share.reset();
  w.next_arm_size.reset();
  w.tune_share_for_next_arm.reset();
  if (j.contains("tune_share")) j.at("tune_share").get_to(w.tune_share);
  if (j.contains("next_arm_size")) j.at("next_arm_size").get_to(w.next_arm_size);
  if (j.contains("tune_share_for_next_arm")) j.at("tune_share_for_next_arm").get_to(w.tune_share_for_next_arm);
  if (j.contains("other_cpu_cores")) j.at("other_cpu_cores").get_to(w.other_cpu_cores);  // added within schema 2
  j.at("target_loss").get_to(w.target_loss);
  w.target_loss_error.reset();
  if (j.contains("target_loss_error")) j.at("target_loss_error").get_to(w.target_loss_error);  // added within schema 2
  j.at("target_source").get_to(w.target_source);
  w.target_origin = target_origin_of(w.target_loss, w.target_source);
  j.at("base_samples_to_target").get_to(w.base_samples_to_target);
  j.at("loss_curve").get_to(w.loss_curve);
  w.loss_extension.reset();
  if (j.contains("loss_extension")) j.at("loss_extension").get_to(w.loss_extension);  // added within schema 2
  j.at("critical_fit").get_to(w.critical_fit);
  j.at("critical_batch_at_target").get_to(w.critical_batch_at_target);
  // Added within schema 2: absent in reports written before them.
  w.arm_loss_noise.reset();
  w.noise_draws = 0;
  w.critical_batch_at_target_low.reset();
  w.critical_batch_at_target_high.reset();
  w.best_batch_agreement.reset();
  if (j.contains("arm_loss_noise")) j.at("arm_loss_noise").get_to(w.arm_loss_noise);
  if (j.contains("noise_draws")) j.at("noise_draws").get_to(w.noise_draws);
  if (j.contains("critical_batch_at_target_low")) j.at("critical_batch_at_target_low").get_to(w.critical_batch_at_target_low);
  if (j.contains("critical_batch_at_target_high")) {
    j.at("critical_batch_at_target_high").get_to(w.critical_batch_at_target_high);
  }
  if (j.contains("best_batch_agreement")) j.at("best_batch_agreement").get_to(w.best_batch_agreement);
  w.critical_batch_unrecentred.reset();
  if (j.contains("critical_batch_unrecentred")) j.at("critical_batch_unrecentred").get_to(w.critical_batch_unrecentred);
  j.at("early_critical_batch").get_to(w.early_critical_batch);
  j.at("noise_to_critical_ratio").get_to(w.noise_to_critical_ratio);
  j.at("predictions").get_to(w.predictions);
  j.at("best_batch").get_to(w.best_batch);
  j.at("early_best_batch").get_to(w.early_best_batch);
  j.at("schedule").get_to(w.schedule);
  j.at("notes").get_to(w.notes);
}

namespace {
std::string number_or_dash(const std::optional<double>& v, const char* format) {
  if (!v) return "-";
  char buf[64];
  std::snprintf(buf, sizeof buf, format, *v);
  return buf;
}
// A step takes milliseconds on small models: three figures, in ms below a second.
std::string step_time(double seconds) {
  char buf[32];
  if (seconds < 1.0) std::snprintf(buf, sizeof buf, "%.3g ms", 1000.0 * seconds);
  else std::snprintf(buf, sizeof buf, "%.3g s", seconds);
  return buf;
}
}  // namespace

void render_whole_run_text(std::ostream& out, const WholeRun& w) {
  char line[256];
  out << "Whole run: " << w.run.source << " (" << w.run.train_samples << " training samples)";
  if (w.target_loss) out << ", target loss " << number_or_dash(w.target_loss, "%.4g") << " (" << w.target_source << ")";
  out << "\n";
  std::snprintf(line, sizeof line,
                "  trunk: batch %lld at lr %.4g for %lld samples; tune cost %lld samples (%.0f%% of the run), %s\n",
                static_cast<long long>(w.base_batch), w.base_learning_rate, static_cast<long long>(w.trunk_samples),
                static_cast<long long>(w.tune_samples),
                w.run.train_samples > 0 ? 100.0 * double(w.tune_samples) / double(w.run.train_samples) : 0.0,
                format_seconds(w.tune_seconds).c_str());
  out << line;
  out << "  B_crit against the loss (branched arms):\n";
  for (const auto& p : w.branch_points) {
    std::snprintf(line, sizeof line, "    at %7lld samples, loss %.4f: B_crit %s%s (%s, %d sizes), B_simple %s\n",
                  static_cast<long long>(p.trunk_samples), p.curve_loss.value_or(p.loss), p.lower_bound ? ">= " : "",
                  number_or_dash(p.critical_batch, "%.0f").c_str(),
                  format_interval(p.critical_low, p.critical_high, "%.0f").c_str(), p.sizes_fitted,
                  number_or_dash(p.simple_noise_scale, "%.0f").c_str());
    out << line;
  }
  if (w.critical_fit) {
    std::snprintf(line, sizeof line, "  fit: B_crit = %.4g * L^%.3g over %d points; at the target: %s (early estimate %s)\n",
                  w.critical_fit->coefficient, w.critical_fit->exponent, w.critical_fit->points,
                  number_or_dash(w.critical_batch_at_target, "%.0f").c_str(),
                  number_or_dash(w.early_critical_batch, "%.0f").c_str());
    out << line;
  }
  if (w.arm_loss_noise && w.noise_draws > 0) {
    std::snprintf(line, sizeof line,
                  "  with the arms' noise (%d draws, loss +- %.3g): B_crit at the target %s; the best size is "
                  "fastest in %.0f%% of the draws\n",
                  w.noise_draws, *w.arm_loss_noise,
                  format_interval(w.critical_batch_at_target_low, w.critical_batch_at_target_high, "%.0f").c_str(),
                  100.0 * w.best_batch_agreement.value_or(0.0));
    out << line;
  }
  if (!w.critical_fit && w.critical_batch_at_target) {
    out << "  B_crit held at " << number_or_dash(w.critical_batch_at_target, "%.0f") << " over the run (no fit in the loss)\n";
  }
  if (!w.predictions.empty()) {
    out << "  predicted whole run (" << w.step_times_source << "):\n";
    out << "      batch        lr      steps   step time   run time (interval)\n";
    for (const auto& p : w.predictions) {
      std::snprintf(line, sizeof line, "    %7lld  %8.4g  %9.0f  %10s  %s (%s..%s)%s\n", static_cast<long long>(p.batch_size),
                    p.learning_rate, p.steps, step_time(p.step_s).c_str(), format_seconds(p.seconds).c_str(),
                    format_seconds(p.seconds_low).c_str(), format_seconds(p.seconds_high).c_str(),
                    w.best_batch && *w.best_batch == p.batch_size ? "  <- best" : "");
      out << line;
    }
  }
  if (w.schedule) {
    out << "  batch-size schedule:";
    for (const auto& s : w.schedule->stages) {
      if (s.from_loss) out << " -> " << s.batch_size << " from loss " << number_or_dash(s.from_loss, "%.3f");
      else out << " start at " << s.batch_size;
    }
    std::snprintf(line, sizeof line, "; predicted %s (%.0f%% less than the best fixed size)\n",
                  format_seconds(w.schedule->predicted_seconds).c_str(), 100.0 * w.schedule->saving_share);
    out << line;
  }
  for (const auto& n : w.notes) out << "  note: " << n << "\n";
}

}  // namespace batchtune

#include "reports/tools/merge.hpp"

#include <algorithm>
#include <map>

#include "reports/util/error.hpp"

namespace batchtune {
namespace {

std::string name_of(const MergeInput& p) { return p.report.path.empty() ? "a part" : p.report.path; }

// The first key (dotted) at which two JSON values differ, with both values;
// empty when equal. Keys listed in `ignore` (top level only) are skipped.
std::string first_difference(const nlohmann::json& a, const nlohmann::json& b, const std::string& prefix,
                             const std::vector<std::string>& ignore = {}) {
  if (a.is_object() && b.is_object()) {
    for (const auto& [k, v] : a.items()) {
      if (std::find(ignore.begin(), ignore.end(), k) != ignore.end()) continue;
      const std::string key = prefix.empty() ? k : prefix + "." + k;
      if (!b.contains(k)) return key + " is only in the first";
      std::string d = first_difference(v, b.at(k), key);
      if (!d.empty()) return d;
    }
    for (const auto& [k, v] : b.items()) {
      if (std::find(ignore.begin(), ignore.end(), k) != ignore.end()) continue;
      if (!a.contains(k)) return (prefix.empty() ? k : prefix + "." + k) + " is only in the second";
    }
    return {};
  }
  if (a == b) return {};
  return prefix + " (" + a.dump() + " against " + b.dump() + ")";
}

// The settings every part must share: everything that changes what an arm
// measures, and the whole sweep's plan.
nlohmann::json settings_of(const SweepResult& s) {
  nlohmann::json j = {{"budget_kind", s.budget_kind},
                      {"budget_value", s.budget_value},
                      {"lr_scaling", s.lr_scaling},
                      {"base_batch", s.base_batch},
                      {"base_learning_rate", s.base_learning_rate},
                      {"warmup_share", s.warmup_share},
                      {"eval_every_samples", s.eval_every_samples},
                      {"eval_samples", s.eval_samples},
                      {"seeds", s.seeds},
                      {"precision", s.precision}};
  if (!s.batching.empty()) j["batching"] = s.batching;
  // A default target is each part's own median: recomputed over all arms.
  if (s.target_origin == TargetOrigin::given) j["target_loss"] = s.target_loss;
  if (s.shard) {
    j["planned_batch_sizes"] = s.shard->batch_sizes;
    j["arms_planned"] = s.shard->arms_planned;
  }
  j["world_size"] = s.data_parallel ? s.data_parallel->world_size : 1;
  return j;
}

// What makes two machines the same class for this purpose: the device the
// arms ran on and its model; the host and free memory may differ.
nlohmann::json machine_class(const Report& r) {
  if (!r.machine) return nullptr;
  nlohmann::json j = {{"cpu_model", r.machine->cpu_model}, {"libtorch_version", r.machine->libtorch_version}};
  if (r.workload.device.rfind("cuda", 0) == 0) {
    nlohmann::json gpus = nlohmann::json::array();
    for (const auto& g : r.machine->gpus) gpus.push_back(g.name);
    j = {{"gpus", gpus}, {"libtorch_version", r.machine->libtorch_version}};
  }
  return j;
}

}  // namespace

namespace {

// Each part by its index (1..N), every index once: one line naming the part
// that is out of place.
std::map<int, const MergeInput*> parts_by_index(const std::vector<MergeInput>& parts) {
  const MergeInput& first = parts.front();
  const int count = first.report.sweep->shard->count;
  std::map<int, const MergeInput*> by_index;
  for (const auto& p : parts) {
    const ShardInfo& s = *p.report.sweep->shard;
    if (s.index < 1 || s.index > s.count) {
      throw InputError(name_of(p) + ": says it is part " + std::to_string(s.index) + " of " + std::to_string(s.count) +
                       ", which no sweep --shard writes");
    }
    if (s.count != count) {
      throw InputError(name_of(p) + ": is part " + std::to_string(s.index) + " of " + std::to_string(s.count) +
                       ", but " + name_of(first) + " is part of " + std::to_string(count) +
                       "; merge the parts of one sweep");
    }
    if (by_index.count(s.index)) {
      throw InputError(name_of(p) + ": part " + std::to_string(s.index) + "/" + std::to_string(count) +
                       " is given twice (also " + name_of(*by_index[s.index]) + ")");
    }
    by_index[s.index] = &p;
  }
  std::string missing;
  for (int i = 1; i <= count; ++i) {
    if (!by_index.count(i)) missing += (missing.empty() ? "" : ", ") + std::to_string(i) + "/" + std::to_string(count);
  }
  if (!missing.empty()) {
    throw InputError("merge: part " + missing + " of the sweep is missing; give all " + std::to_string(count) +
                     " reports");
  }
  return by_index;
}

// Every part against the first: workload, machine class, build, settings.
void check_parts_agree(const std::vector<MergeInput>& parts) {
  const MergeInput& first = parts.front();
  const nlohmann::json workload0 = first.report.workload;
  const nlohmann::json settings0 = settings_of(*first.report.sweep);
  const nlohmann::json machine0 = machine_class(first.report);
  for (const auto& p : parts) {
    if (&p == &first) continue;
    const std::string vs = " differs from " + name_of(first) + "'s: ";
    if (std::string d = first_difference(workload0, nlohmann::json(p.report.workload), "workload"); !d.empty()) {
      throw InputError(name_of(p) + ": its workload" + vs + d + "; every part must train the same workload");
    }
    if (std::string d = first_difference(settings0, settings_of(*p.report.sweep), "sweep"); !d.empty()) {
      throw InputError(name_of(p) + ": its sweep settings" + vs + d + "; run every part with the same options" +
                       (d.rfind("sweep.planned_batch_sizes", 0) == 0
                            ? " (auto sizes depend on each machine's probe: list --batch-sizes)"
                            : ""));
    }
    if (std::string d = first_difference(machine0, machine_class(p.report), "machine"); !d.empty()) {
      throw InputError(name_of(p) + ": its machine class" + vs + d +
                       "; step times from different machines do not make one recommendation (compare them with "
                       "`batchtune compare` instead)");
    }
    if (p.report.tool_version != first.report.tool_version || p.report.tool_commit != first.report.tool_commit) {
      throw InputError(name_of(p) + ": was written by batchtune " + p.report.tool_version + " (commit " +
                       p.report.tool_commit + "), " + name_of(first) + " by " + first.report.tool_version +
                       " (commit " + first.report.tool_commit + "); run every part with the same build");
    }
  }
}

// The sweep the parts make together, summarised; incomplete where a part is.
SweepResult merged_sweep(const MergeInput& first, const std::map<int, const MergeInput*>& by_index) {
  const int count = first.report.sweep->shard->count;
  // The arms in the unsharded sweep's order: seed by seed, size by size;
  // arm i came from part i % N + 1.
  const SweepResult& s0 = *first.report.sweep;
  SweepResult merged = s0;
  merged.shard.reset();
  merged.arms.clear();
  merged.incomplete = false;
  merged.incomplete_reason.clear();
  if (merged.target_origin != TargetOrigin::given) {
    merged.target_loss.reset();
    merged.target_origin = TargetOrigin::none;
    merged.target_source.clear();
  }
  std::vector<std::size_t> taken(static_cast<std::size_t>(count) + 1, 0);
  std::vector<std::string> gaps;
  const int planned = s0.shard->arms_planned;
  for (int i = 0; i < planned; ++i) {
    const int part = i % count + 1;
    const SweepResult& s = *by_index.at(part)->report.sweep;
    std::size_t& k = taken[static_cast<std::size_t>(part)];
    if (k >= s.arms.size()) continue;  // the part stopped early: said below
    merged.arms.push_back(s.arms[k++]);
  }
  merged.phase_seconds = PhaseSeconds{};
  for (const auto& [index, p] : by_index) {
    const SweepResult& s = *p->report.sweep;
    if (taken[static_cast<std::size_t>(index)] != s.arms.size()) {
      throw InputError(name_of(*p) + ": holds " + std::to_string(s.arms.size()) + " arms, more than part " +
                       std::to_string(index) + "/" + std::to_string(count) + " of " + std::to_string(planned) +
                       " arms can; it is not a part of this sweep");
    }
    if (s.incomplete) {
      gaps.push_back("part " + std::to_string(index) + "/" + std::to_string(count) + " (" + name_of(*p) +
                     ") is incomplete: " + s.incomplete_reason);
    }
    merged.phase_seconds.probe = std::max(merged.phase_seconds.probe, s.phase_seconds.probe);
    merged.phase_seconds.throughput_scan = std::max(merged.phase_seconds.throughput_scan, s.phase_seconds.throughput_scan);
    merged.phase_seconds.training += s.phase_seconds.training;
    merged.phase_seconds.evaluation += s.phase_seconds.evaluation;
    merged.phase_seconds.noise_scale += s.phase_seconds.noise_scale;
    merged.phase_seconds.total = std::max(merged.phase_seconds.total, s.phase_seconds.total);
    // The parts ran on machines of one class: the busiest part's load stands
    // for the merged report (a loaded part makes its verdicts unreliable).
    if (s.timing_conditions && s.timing_conditions->other_cpu_cores &&
        (!merged.timing_conditions || !merged.timing_conditions->other_cpu_cores ||
         *s.timing_conditions->other_cpu_cores > *merged.timing_conditions->other_cpu_cores)) {
      merged.timing_conditions = s.timing_conditions;
    }
  }
  if (!gaps.empty()) {
    merged.incomplete = true;
    std::string why;
    for (const auto& g : gaps) why += (why.empty() ? "" : "; ") + g;
    merged.incomplete_reason = why + "; " + std::to_string(merged.arms.size()) + " of " +
                               std::to_string(planned) + " arms are here";
  }
  summarise_sweep(merged);
  return merged;
}

}  // namespace

MergeResult merge_reports(const std::vector<MergeInput>& parts, const MergeSettings& settings) {
  if (parts.size() < 2) throw UsageError("merge needs the reports of at least two parts (sweep --shard I/N)");
  for (const auto& p : parts) {
    if (!p.report.sweep || !p.report.sweep->shard) {
      throw InputError(name_of(p) + ": is not a part of a sharded sweep (no sweep.shard); merge joins the reports "
                                    "that `batchtune sweep --shard I/N` writes");
    }
    if (p.report.whole_run) {
      throw InputError(name_of(p) + ": is a whole-run tune; only the early sweep's arms can be sharded and merged");
    }
  }
  const std::map<int, const MergeInput*> by_index = parts_by_index(parts);
  const MergeInput& first = parts.front();
  check_parts_agree(parts);
  // The objective each part recorded (a part's recommendation is a record of it).
  std::optional<Objective> objective = settings.objective;
  if (!objective) {
    for (const auto& p : parts) {
      if (!p.report.recommendation) continue;
      if (objective && *objective != p.report.recommendation->objective) {
        throw InputError(name_of(p) + ": was run for another --objective than the other parts; give merge "
                                      "--objective to choose one");
      }
      objective = p.report.recommendation->objective;
    }
  }

  // The generalisation tolerance each part was run with, unless merge names one.
  std::optional<double> tolerance = settings.max_validation_loss_excess;
  if (!tolerance) {
    for (const auto& p : parts) {
      if (p.report.recommendation && p.report.recommendation->validation_loss_tolerance) {
        tolerance = p.report.recommendation->validation_loss_tolerance;
      }
    }
  }

  const SweepResult merged = merged_sweep(first, by_index);

  MergeResult out;
  // The probe of the part with the least room: the recommendation must fit
  // on every machine that ran a part.
  const ProbeResult* probe = nullptr;
  const MergeInput* probe_from = nullptr;
  for (const auto& p : parts) {
    if (!p.report.probe) continue;
    if (!probe || p.report.probe->safe_max_batch < probe->safe_max_batch) {
      probe = &*p.report.probe;
      probe_from = &p;
    }
  }
  if (probe_from && parts.size() > 1) {
    out.notes.push_back("merge: the probe of " + name_of(*probe_from) + " (safe maximum " +
                        std::to_string(probe->safe_max_batch) + ", the smallest of the parts') bounds the recommendation");
  }
  // The noise scale is measured once, by part 1.
  NoiseScale noise;
  noise.status = NoiseScaleStatus::not_measured;
  noise.message = "not in part 1's report";
  if (by_index.at(1)->report.recommendation) noise = by_index.at(1)->report.recommendation->noise_scale;

  nlohmann::ordered_json report = by_index.at(1)->json;
  // Probe, sweep and recommendation are written from the current model: an
  // older part is written back upgraded (the other sections did not change
  // between versions).
  report["schema_version"] = kReportSchemaVersion;
  report["probe"] = probe ? nlohmann::json(*probe) : nlohmann::json(nullptr);
  report["sweep"] = nlohmann::json(merged);
  if (merged.incomplete) {
    report["recommendation"] = nullptr;
    out.notes.push_back("merge: " + merged.incomplete_reason + "; the report is marked incomplete and recommends nothing");
  } else {
    RecommendSettings rs;
    if (objective) rs.objective = *objective;
    rs.effective_batch = settings.effective_batch;
    rs.max_validation_loss_excess = tolerance;
    report["recommendation"] = nlohmann::json(recommend(merged, probe, first.report.workload, noise, rs));
  }
  nlohmann::ordered_json from = nlohmann::ordered_json::array();
  for (const auto& [index, p] : by_index) {
    from.push_back({{"index", index},
                    {"path", p->report.path},
                    {"host", p->report.machine ? p->report.machine->host_name : std::string()},
                    {"date", p->report.date},
                    {"arms", p->report.sweep->arms.size()}});
  }
  report["context"]["merged_from"] = from;
  out.report = std::move(report);
  return out;
}

}  // namespace batchtune

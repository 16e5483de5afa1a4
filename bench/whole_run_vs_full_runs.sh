#!/usr/bin/env bash
# Is the whole-run recommendation right? Ground truth from full runs of the
# planned length against the recommendation of one whole-run tune
# (`sweep --epochs E`), on the default workload (mlp, Fashion-MNIST, CPU).
#
#   1. the tune: `batchtune sweep --epochs E`, once per seed in TUNE_SEEDS
#      (its wall time is timed), each judged on its own;
#   2. the early-target default sweep (`batchtune sweep`), the old rule;
#   3. full runs: one sweep per learning-rate factor and seed, every arm the
#      planned run's samples (--budget samples=RUN) at every size, the rate by
#      the linear rule from 0.01 at 64 times the factor, evaluations every
#      RUN/60 samples, to the tune's own target loss;
#   4. the analysis: steps to the target per size (the best factor, the mean
#      over seeds), S(B) = S_min (1 + B_crit/B) fitted to them, and the true
#      time T(B) = steps(B) t(B) with t(B) the tune's measured step times (so
#      machine load during the full runs does not move the answer; only up to
#      the largest size the tune timed, its largest arm), and again
#      with a synthetic t(B) = t0 (1 + B/1024) (throughput that climbs with the
#      batch and saturates near 1024, as on a GPU) fed through
#      `report --step-times`.
#
# Printed in one run: the true best size and time, the recommended size's true
# time and its ratio to the best (goal <= 1.15), the full runs' B_crit against
# the tune's B_crit at the target (goal: within 2x) and its from-init
# estimate, the tune's cost as a share of one full run, and the same under the
# synthetic t(B) with the old rule's miss beside it.
#
#   bench/whole_run_vs_full_runs.sh [BUILD_DIR]
#   environment: SIZES (default "16 32 64 128 256 512 1024 2048 4096"),
#                FACTORS (default "0.5 1 2"), SEEDS (default "1 2"), EPOCHS (10),
#                TUNE_SEEDS (the tunes' seeds, default "0 1 2 3 4"),
#                TARGET (a --target-loss for the tune and the full runs; default:
#                the tune's own, the base batch's loss at the run's end on its fit),
#                BATCHTUNE_BENCH_OUT (default: a new temporary folder),
#                REUSE=1 (keep full-run reports already in BATCHTUNE_BENCH_OUT: a new
#                tune against the same ground truth),
#                JOBS (full runs at once, default 1) and THREADS (LibTorch threads per
#                full run, default LibTorch's choice): the full runs' convergence does
#                not depend on them, and their wall times are not used,
#                ONLY=full (the full runs only; needs TARGET; RUN: their samples, default
#                EPOCHS x 60,000), TUNE_ARGS (more options
#                for the tune).
# The tune's cost is timed side by side with one full run at the base batch
# (seed 1, the rule's rate), each alone on the machine, before the full runs:
# that run three times (before the tunes, after them, after the early-target
# sweep), and the median taken.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/dev}
bt=$build/batchtune
[[ -x $bt ]] || { echo "whole_run_vs_full_runs: no $bt; build first (cmake --build --preset dev)" >&2; exit 2; }
sizes=${SIZES:-16 32 64 128 256 512 1024 2048 4096}
factors=${FACTORS:-0.5 1 2}
seeds=${SEEDS:-1 2}
epochs=${EPOCHS:-10}
tune_seeds=${TUNE_SEEDS:-0 1 2 3 4}
out=${BATCHTUNE_BENCH_OUT:-$(mktemp -d)}
mkdir -p "$out"
echo "reports in $out" >&2
py=/usr/bin/python3

target_args=()
[[ -z ${TARGET:-} ]] || target_args=(--target-loss "$TARGET")
if [[ ${ONLY:-} == full ]]; then
  [[ -n ${TARGET:-} ]] || { echo "whole_run_vs_full_runs: ONLY=full needs TARGET (the full runs' target loss)" >&2; exit 2; }
  run=${RUN:-$($py -c "print(round(float('$epochs') * 60000))")}  # Fashion-MNIST's 60,000 training images
  target=$TARGET
else
  # One tune per seed (TUNE_SEEDS): the tune is a measurement, and one seed
  # of it says little about the next (its trunk's and arms' data order and
  # initial weights are the seed's).
  # One full run at the base batch, timed three times (before the tunes, after
  # them, and after the early-target sweep): the cost's denominator is their
  # median, since one timing on a shared machine moves by 15% from run to run.
  run_samples=$($py -c "print(round(float('$epochs') * 60000))")  # Fashion-MNIST's 60,000 training images
  full_walls=()
  timed_full() {  # index
    local start
    start=$(date +%s.%N)
    "$bt" sweep --batch-sizes 64 --force --budget "samples=$run_samples" \
      --lr 0.01 --lr-scaling linear --base-batch 64 --eval-every 1000000000 --noise-repeats 0 --warmup 0.05 --seed 1 \
      -o "$out/timed-full-64-$1.json" >/dev/null 2>"$out/timed-full-64-$1.err"
    full_walls+=("$(echo "$(date +%s.%N) - $start" | bc)")
  }
  timed_full 1
  tune_seconds=()
  for ts in $tune_seeds; do
    start=$(date +%s.%N)
    # shellcheck disable=SC2086
    "$bt" sweep --epochs "$epochs" --seed "$ts" "${target_args[@]}" ${TUNE_ARGS:-} -o "$out/tune-$ts.json" \
      >"$out/tune-$ts.txt" 2>"$out/tune-$ts.err"
    tune_seconds+=("$(echo "$(date +%s.%N) - $start" | bc)")
  done
  first_tune=$out/tune-${tune_seeds%% *}.json
  timed_full 2
  "$bt" sweep -o "$out/early.json" >/dev/null 2>"$out/early.err"
  timed_full 3
  full_seconds=$(printf '%s\n' "${full_walls[@]}" | sort -g | sed -n 2p)
  # The full runs' own --target-loss (their evaluations serve any tune's target).
  target=$($py -c "import json,sys; print(json.load(open(sys.argv[1]))['whole_run']['target_loss'])" "$first_tune")
  run=$($py -c "import json,sys; print(json.load(open(sys.argv[1]))['whole_run']['run']['train_samples'])" "$first_tune")
fi
list=$(echo "$sizes" | tr ' ' ',')
echo "target loss $target, planned run $run samples, sizes $list" >&2
# One report per (seed, factor, size), so REUSE=1 keeps what ran and any
# set of sizes can be added later.
thread_args=()
[[ -z ${THREADS:-} ]] || thread_args=(--threads "$THREADS")
full_run() {  # seed factor batch
  local seed=$1 f=$2 b=$3
  local file=$out/full-$seed-$f-$b.json lr
  if [[ ${REUSE:-0} == 1 && -s $file ]]; then
    echo "full run: seed $seed, lr factor $f, batch $b: kept from an earlier run" >&2
    return
  fi
  lr=$($py -c "print(0.01 * float('$f'))")
  echo "full run: seed $seed, lr factor $f, batch $b" >&2
  "$bt" sweep --batch-sizes "$b" --force --budget "samples=$run" --lr "$lr" --lr-scaling linear --base-batch 64 \
    --target-loss "$target" --eval-every $((run / 60)) --eval-samples 2000 --noise-repeats 0 --warmup 0.05 \
    --seed "$seed" "${thread_args[@]}" -o "$file" >/dev/null 2>"$out/full-$seed-$f-$b.err" || true
}
jobs_max=${JOBS:-1}
for seed in $seeds; do
  for f in $factors; do
    for b in $sizes; do
      while (( $(jobs -rp | wc -l) >= jobs_max )); do wait -n || true; done
      full_run "$seed" "$f" "$b" &
    done
  done
done
wait
[[ ${ONLY:-} != full ]] || { echo "full runs done in $out" >&2; exit 0; }

# A synthetic step-time table per tune, t(B) = t0 (1 + B/1024) with t0 the tune's t(64) / (1 + 64/1024).
for ts in $tune_seeds; do
  $py - "$out" "$ts" <<'PY'
import json, sys
out, ts = sys.argv[1], sys.argv[2]
r = json.load(open(f"{out}/tune-{ts}.json"))
t64 = dict((s["batch_size"], s["step_s"]) for s in r["whole_run"]["step_seconds"]).get(64)
t0 = t64 / (1 + 64 / 1024)
r["whole_run"]["step_seconds"] = [{"batch_size": b, "step_s": t0 * (1 + b / 1024)} for b in
                                  [16, 32, 64, 128, 256, 512, 1024, 2048, 4096]]
r["sweep"]["throughput_scan"] = []
json.dump(r, open(f"{out}/synthetic-steps-{ts}.json", "w"), indent=2)
PY
  "$bt" report "$out/tune-$ts.json" --step-times "$out/synthetic-steps-$ts.json" -o "$out/tune-synthetic-$ts.json" >/dev/null
done

$py - "$out" "${tune_seconds[*]}" "$factors" "$seeds" "$full_seconds" "$tune_seeds" <<'PY'
import glob, json, math, statistics, sys
out, full_seconds = sys.argv[1], float(sys.argv[5])
factors, seeds, tune_seeds = sys.argv[3].split(), sys.argv[4].split(), sys.argv[6].split()
walls = dict(zip(tune_seeds, map(float, sys.argv[2].split())))
early = json.load(open(f"{out}/early.json"))

def interp(table, b):
    pts = sorted(table)
    if b <= pts[0][0]:
        (x0, y0), (x1, y1) = pts[0], pts[1]
    elif b >= pts[-1][0]:
        (x0, y0), (x1, y1) = pts[-2], pts[-1]
    else:
        i = next(i for i in range(1, len(pts)) if pts[i][0] >= b)
        (x0, y0), (x1, y1) = pts[i - 1], pts[i]
    k = math.log(y1 / y0) / math.log(x1 / x0)
    return y0 * math.exp(k * math.log(b / x0))

planned = None
for ts in tune_seeds:
    planned = json.load(open(f"{out}/tune-{ts}.json"))["whole_run"]["run"]["train_samples"]

def steps_to(arm, loss):
    """Steps to `loss` from the arm's evaluations, by the sweep's own rule
    (time_to_target in reports/model/sweep_report.cpp): the first evaluation at or
    below it, interpolated from the one before when the loss fell into it.
    From the evaluations rather than the run's recorded target, so one set of
    full runs serves any tune's target."""
    prev = None
    for e in arm.get("evaluations") or []:
        if e["loss"] is None or not math.isfinite(e["loss"]):
            return None
        if e["loss"] <= loss:
            if prev is None or prev["loss"] <= e["loss"]:
                return e["step"]
            f = (prev["loss"] - loss) / (prev["loss"] - e["loss"])
            return prev["step"] + f * (e["step"] - prev["step"])
        prev = e
    return None

full_arms = {}  # (seed, factor) -> {size: arm}
for f in factors:
    for s in seeds:
        arms = {}
        for path in sorted(glob.glob(f"{out}/full-{s}-{f}-*.json")):
            try:
                rep = json.load(open(path))
            except (OSError, ValueError):
                continue
            for a in rep["sweep"]["arms"]:
                if a.get("status") == "completed" and abs(a["samples"] - planned) > a["batch_size"]:
                    # A kept report of another planned run (REUSE=1 after EPOCHS changed).
                    sys.exit(f"whole_run_vs_full_runs: {path} trained {a['samples']} samples, the planned run "
                             f"{planned}; use another BATCHTUNE_BENCH_OUT for another run length")
                arms[a["batch_size"]] = a
        full_arms[(s, f)] = arms

def truth(target):
    """size -> best over factors of the mean steps over seeds (a size counts
    where every seed reached the target), and the factor."""
    steps, best_f = {}, {}
    for f in factors:
        per_size = {}
        for s in seeds:
            for a in full_arms[(s, f)].values():
                per_size.setdefault(a["batch_size"], []).append(steps_to(a, target))
        for b, v in per_size.items():
            if len(v) == len(seeds) and all(x is not None for x in v):
                m = sum(v) / len(v)
                if b not in steps or m < steps[b]:
                    steps[b], best_f[b] = m, f
    return steps, best_f

# S(B) = S_min (1 + B_crit / B), fitted in log space (relative errors: the
# smallest sizes' thousands of steps must not outweigh the largest sizes'
# hundreds, which carry the knee): B_crit on a log grid, S_min in closed form.
def fit_critical(steps):
    sizes = sorted(steps)
    def fit_log(bc):
        logs = [math.log(steps[b]) - math.log(1 + bc / b) for b in sizes]
        ls = sum(logs) / len(logs)
        sse = sum((math.log(steps[b]) - ls - math.log(1 + bc / b)) ** 2 for b in sizes)
        return sse, math.exp(ls)
    grid = [2 ** (k / 16) for k in range(0, 16 * 17)]  # 1 .. 131072
    bc = min(grid, key=lambda x: fit_log(x)[0])
    return bc, fit_log(bc)[1]

def steps_at(steps, b):
    """The full runs' steps at b: measured, or log-log between the two sizes
    around it (the early sweep picks x1.5 midpoints too); None outside."""
    if b in steps:
        return steps[b]
    lower = [x for x in steps if x < b]
    upper = [x for x in steps if x > b]
    if not lower or not upper:
        return None
    return interp([(x, steps[x]) for x in (max(lower), min(upper))], b)

def ratio_to_best(steps, table, pick):
    # Only sizes the table times (no step time carried past its largest).
    top = max(b for b, _ in table)
    true_t = {b: steps[b] * interp(table, b) for b in steps if b <= top}
    best = min(true_t, key=true_t.get)
    at = steps_at(steps, pick) if pick and pick <= top else None
    return best, true_t[best], (at * interp(table, pick) / true_t[best] if at else None)

def fmt_ratio(r):
    return "did not reach the target in every full run" if r is None else f"{r:.2f}"

# The cost, two ways. The goal is read on the first: the tune's own work
# (scan, probe, trunk, arms, their evaluations) against the full run's
# (training and its one evaluation), each without the process start and the
# data loading, which a training run pays as well. The second sets the two
# commands' wall times side by side, start-up and loading included: at this
# workload's few seconds those fixed costs weigh on both.
one = statistics.median(json.load(open(f"{out}/timed-full-64-{i}.json"))["sweep"]["phase_seconds"]["total"]
                        for i in (1, 2, 3))
old = early["recommendation"].get("batch_size")
rows = []
for ts in tune_seeds:
    tune = json.load(open(f"{out}/tune-{ts}.json"))
    synth = json.load(open(f"{out}/tune-synthetic-{ts}.json"))
    w = tune["whole_run"]
    target = w.get("target_loss")
    print(f"--- tune seed {ts}: target loss " + ("none" if target is None else f"{target:.4f}") +
          f" ({w.get('target_source', '')})")
    row = {"seed": ts, "cost": tune["sweep"]["phase_seconds"]["total"] / one, "wall": walls[ts] / full_seconds}
    rows.append(row)
    if target is None:
        print("    no target: " + "; ".join(w.get("notes", [])))
        continue
    steps, best_f = truth(target)
    if len(steps) < 2:
        print(f"    fewer than two sizes of the full runs reached {target:.4f}: the tune's target lies below where "
              "the planned run ends (the trunk's curve was carried too low)")
        row["unreachable"] = True
        continue
    bc_true, s_min = fit_critical(steps)
    # A B_crit past twice the largest size that reached the target is not
    # measured by these runs: not judged.
    bc_judged = bc_true <= 2 * max(steps)
    print("    full runs: steps to target per size (best lr factor): " +
          ", ".join(f"{b}: {steps[b]:.0f} (x{best_f[b]})" for b in sorted(steps)))
    rec = (tune.get("recommendation") or {}).get("batch_size")
    srec = (synth.get("recommendation") or {}).get("batch_size")
    table = [(s["batch_size"], s["step_s"]) for s in w["step_seconds"]]
    stable = [(s["batch_size"], s["step_s"]) for s in synth["whole_run"]["step_seconds"]]
    best, best_t, r = ratio_to_best(steps, table, rec)
    sbest, sbest_t, sr = ratio_to_best(steps, stable, srec)
    _, _, old_r = ratio_to_best(steps, table, old)
    _, _, old_sr = ratio_to_best(steps, stable, old)
    tb, eb = w.get("critical_batch_at_target"), w.get("early_critical_batch")
    row.update(cpu=r, synth=sr, bcrit=(tb / bc_true if tb and bc_judged else None), old_synth=old_sr)
    print(f"    [this CPU's t(B)] true best {best} ({best_t:.2f} s); recommended {rec}: ratio {fmt_ratio(r)} "
          f"(goal <= 1.15); the early-target rule's {old}: {fmt_ratio(old_r)}")
    print(f"    [synthetic t(B) = t0 (1 + B/1024)] true best {sbest}; recommended {srec}: ratio {fmt_ratio(sr)} "
          f"(goal <= 1.15); the early-target rule's {old}: {fmt_ratio(old_sr)}")
    print(f"    B_crit: full runs {bc_true:.0f} (S_min {s_min:.0f} steps" +
          ("" if bc_judged else f"; past twice the largest size that reached the target, {max(steps)}: not judged") +
          f"); tune at the target {'none' if tb is None else round(tb)}" +
          (f" (ratio {tb / bc_true:.2f}, goal within 0.5-2)" if tb and bc_judged else "") +
          f"; from init {'none' if eb is None else round(eb)}")
    print(f"    cost: {row['cost']:.2f} of a full run's work (goal <= 0.5); whole commands {row['wall']:.2f}; "
          f"phases " + ", ".join(f"{k} {v:.2f} s" for k, v in tune["sweep"]["phase_seconds"].items()))

def summary(key, good, worst=max):
    vals = [r[key] for r in rows if r.get(key) is not None]
    if not vals:
        return "none judged"
    return (f"median {statistics.median(vals):.2f}, worst {worst(vals):.2f}, "
            f"{sum(1 for v in vals if good(v))} of the {len(vals)} judged meet the goal "
            f"({len(rows) - len(vals)} of {len(rows)} tunes not judged)")
print(f"=== {len(rows)} tunes (seeds {' '.join(tune_seeds)}) against {len(seeds)} x {len(factors)} full runs per size; "
      f"one full run at 64: {one:.2f} s of work, {full_seconds:.1f} s as a command")
print("pick ratio, this CPU's t(B): " + summary("cpu", lambda v: v <= 1.15))
print("pick ratio, synthetic t(B): " + summary("synth", lambda v: v <= 1.15) +
      "; the early-target rule's: " + summary("old_synth", lambda v: v <= 1.15))
print("B_crit at the target over the full runs': " +
      summary("bcrit", lambda v: 0.5 - 1e-9 <= v <= 2 + 1e-9, worst=lambda vs: max(vs, key=lambda v: abs(math.log(v)))))
print(f"targets below where the full runs end: {sum(1 for r in rows if r.get('unreachable'))} of {len(rows)}")
print("cost, the tune's work over a full run's: " + summary("cost", lambda v: v <= 0.5))
print("cost, whole commands (start-up and data loading included): " + summary("wall", lambda v: v <= 0.5))
PY

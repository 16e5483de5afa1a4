#!/usr/bin/env bash
# Is the recommendation right? For each model, a DENSE sweep (every size on
# the recommendation's grid: powers of two and their x1.5 midpoints, 2 seeds)
# measures the batch size that really reaches the target loss soonest; a
# SPARSE sweep (powers of two only, the default `auto`, 1 seed) makes the
# recommendation. Both use the same target loss (the dense sweep's default,
# passed to the sparse one) and the same memory budget; times to target are
# the interpolated crossings (as the recommendation reads them), averaged over
# seeds. Printed in one run:
# the dense best, the recommended size's measured time in the dense sweep and
# its ratio to the best (the claim: within 15%), and how much slower the
# largest fitting batch is, as the report states it and as the dense sweep
# measured it.
#
#   bench/recommendation_vs_dense.sh [BUILD_DIR] [MODELS...]    (default: mlp cnn)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/dev}
shift || true
models=("$@")
[[ ${#models[@]} -gt 0 ]] || models=(mlp cnn)
bt=$build/batchtune
out=${BATCHTUNE_BENCH_OUT:-$(mktemp -d)}
mkdir -p "$out"
echo "reports in $out" >&2

for model in "${models[@]}"; do
  case $model in
    # Evaluations every 1/20 of the budget: time to target is read where the
    # validation loss crosses the target, interpolated between evaluations.
    mlp) common=(--model mlp --memory-limit 32MiB); budget=(--budget samples=12000 --eval-every 600 --eval-samples 2000) ;;
    cnn) common=(--model cnn --memory-limit 160MiB); budget=(--budget samples=4000 --eval-every 400 --eval-samples 500) ;;
    *) echo "unknown model $model" >&2; exit 2 ;;
  esac
  # The probe's safe maximum, to build the dense grid up to it.
  "$bt" probe "${common[@]}" -o "$out/$model-probe.json" >/dev/null 2>&1 || true
  safe=$(/usr/bin/python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['probe']['safe_max_batch'])" "$out/$model-probe.json")
  dense=$(/usr/bin/python3 - "$safe" <<'PY'
import sys
safe = int(sys.argv[1]); sizes = set()
b = 16
while b <= safe:
    sizes.add(b)
    if b * 3 // 2 <= safe: sizes.add(b * 3 // 2)
    b *= 2
sizes.add(safe)
print(",".join(str(s) for s in sorted(sizes)))
PY
)
  echo "$model: dense sweep over $dense (2 seeds)" >&2
  "$bt" sweep "${common[@]}" "${budget[@]}" --batch-sizes "$dense" --seeds 2 -o "$out/$model-dense.json" >/dev/null 2>"$out/$model-dense.log"
  target=$(/usr/bin/python3 -c "import json,sys; print(repr(json.load(open(sys.argv[1]))['sweep']['target_loss']))" "$out/$model-dense.json")
  echo "$model: sparse sweep (auto sizes, 1 seed) at target loss $target" >&2
  "$bt" sweep "${common[@]}" "${budget[@]}" --target-loss "$target" -o "$out/$model-sparse.json" >/dev/null 2>"$out/$model-sparse.log"
done

/usr/bin/python3 - "$out" "${models[@]}" <<'PY'
import json, sys
out, models = sys.argv[1], sys.argv[2:]

def crossing_seconds(arm, target):
    """Seconds at which the validation loss crossed the target, interpolated."""
    prev = None
    for e in arm["evaluations"]:
        if e["loss"] is None:
            return None
        if e["loss"] <= target:
            if prev is None or prev["loss"] <= e["loss"]:
                return e["seconds"]
            f = (prev["loss"] - target) / (prev["loss"] - e["loss"])
            return prev["seconds"] + f * (e["seconds"] - prev["seconds"])
        prev = e
    return None

print(f"{'model':6} {'dense best':>16} {'recommended':>12} {'its time (dense)':>17} {'ratio':>6} {'<=1.15':>6}"
      f" {'max fit':>8} {'slower (report)':>15} {'slower (dense)':>14}")
for m in models:
    dense = json.load(open(f"{out}/{m}-dense.json"))
    sparse = json.load(open(f"{out}/{m}-sparse.json"))
    target = dense["sweep"]["target_loss"]
    by_batch = {}
    for arm in dense["sweep"]["arms"]:
        by_batch.setdefault(arm["batch_size"], []).append(crossing_seconds(arm, target))
    t = {b: (sum(v) / len(v) if all(x is not None for x in v) else None) for b, v in by_batch.items()}
    reached = {b: v for b, v in t.items() if v is not None}
    best_b = min(reached, key=reached.get)
    rec = sparse["recommendation"]
    rb = rec["batch_size"]
    rt = t.get(rb)
    ratio = rt / reached[best_b] if rt else float("nan")
    largest = rec["max_fit_batch"]
    slower_report = rec["max_fit_slowdown"]
    lt = t.get(largest)
    slower_dense = f"{lt / reached[best_b]:.2f}x" if lt else "not reached"
    print(f"{m:6} {best_b:>6} {reached[best_b]:>7.2f} s {rb:>12} "
          f"{(f'{rt:.2f} s' if rt else 'not reached'):>17} {ratio:>6.2f} {'yes' if ratio <= 1.15 else 'NO':>6}"
          f" {largest:>8} {(f'{slower_report:.2f}x' if slower_report else '-'):>15} {slower_dense:>14}")
    print("       dense times to target: " + ", ".join(f"{b}: {v:.2f}" if v else f"{b}: -" for b, v in sorted(t.items())))
PY

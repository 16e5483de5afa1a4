#!/usr/bin/env bash
# batchtune's training loop against Python eager PyTorch (Debian's
# python3-torch: the same LibTorch), the `cnn` on Fashion-MNIST at batch sizes
# 16, 64 and 256, the same thread count, the same data, in one run, each side
# twice (alternating) to expose drift. Prints samples/s and the ratio
# batchtune/Python per size (the mean compute time per step, batchtune's step
# clock, and beside it the median; 2 warm-up steps excluded on both sides).
#
#   bench/cnn_vs_python.sh [BUILD_DIR] [THREADS] [STEPS]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/dev}
threads=${2:-$(nproc)}
steps=${3:-30}
bt=$build/batchtune
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for round in 1 2; do
  "$bt" sweep --model cnn --batch-sizes 16,64,256 --force --budget steps=$steps --threads "$threads" \
    --eval-samples 16 --eval-every 100000000 -o "$tmp/bt$round.json" >/dev/null 2>&1
  /usr/bin/python3 bench/cnn_python.py "$threads" "$steps" 16 64 256 >"$tmp/py$round.jsonl"
done
/usr/bin/python3 - "$tmp" "$threads" "$steps" <<'PY'
import json, statistics, sys
tmp, threads, steps = sys.argv[1], sys.argv[2], sys.argv[3]
bt, py, bt_med, py_med = {}, {}, {}, {}
for r in (1, 2):
    rep = json.load(open(f"{tmp}/bt{r}.json"))
    for arm in rep["sweep"]["arms"]:
        # Compute only, as on the Python side (which starts its clock after indexing the batch).
        steps_s = arm["compute_seconds"]
        bt.setdefault(arm["batch_size"], []).append(arm["batch_size"] / statistics.fmean(steps_s))
        bt_med.setdefault(arm["batch_size"], []).append(arm["batch_size"] / statistics.median(steps_s))
    for line in open(f"{tmp}/py{r}.jsonl"):
        d = json.loads(line)
        py.setdefault(d["batch"], []).append(d["samples_per_s"])
        py_med.setdefault(d["batch"], []).append(d["median_samples_per_s"])
print(f"cnn on Fashion-MNIST, {threads} thread(s), {steps} steps per size, 2 rounds; samples/s of the mean step "
      f"(batchtune's clock), the median's ratio beside it")
print(f"{'batch':>6} {'batchtune samples/s':>22} {'python samples/s':>20} {'ratio bt/py':>12} {'median ratio':>13}")
for b in sorted(bt):
    a, p = statistics.mean(bt[b]), statistics.mean(py[b])
    m = statistics.mean(bt_med[b]) / statistics.mean(py_med[b])
    print(f"{b:>6} {a:>14.1f} ({min(bt[b]):.0f}-{max(bt[b]):.0f}) {p:>12.1f} ({min(py[b]):.0f}-{max(py[b]):.0f}) "
          f"{a / p:>12.3f} {m:>13.3f}")
PY

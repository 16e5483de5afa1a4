#!/usr/bin/env bash
# Data-parallel scaling on this machine: samples/s of a sweep on N ranks
# (torchrun-style launch over c10d Gloo, one thread each) against N times
# one rank's (one process, one thread), per global batch, measured side by
# side in one run. Default workload: mlp on Fashion-MNIST.
#
#   bench/data_parallel_scaling.sh [BUILD_DIR]
#   environment: RANKS (default 2), SIZES (default "64,256,1024,4096"),
#                BUDGET (samples per arm, default 16384), REPEATS (default 3: the
#                median of each figure over alternating runs), ARGS (workload options)
#
# Printed: per global batch, one rank's samples/s, N ranks' samples/s, the
# scaling efficiency (N ranks / (N x one rank)), the reports' own
# scaling_efficiency (rank 0 alone at the global batch, timed inside the
# data-parallel sweep) and compute_share (median compute over median step), and
# the machine's own ceiling: N independent one-rank processes at once (no
# communication at all), their summed samples/s over N x one rank alone. On
# a machine whose cores share memory bandwidth that ceiling is well under 1,
# and data-parallel efficiency is read against it. Last, the gain from
# overlapping the allreduce with backward: the same data-parallel sweep with
# BATCHTUNE_DIST_OVERLAP=0 (every bucket waits for the end of backward), N
# ranks' samples/s with overlap over without. Buckets are 1 MB, then 25 MB
# (PyTorch DDP's defaults): a model with under 1 MB of gradients has one
# bucket and nothing to overlap (the default mlp's are 0.94 MB); try
# ARGS="--mlp-hidden 2048x2048x2048x2048" (57 MB).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/dev}
bt=$build/batchtune
[[ -x $bt ]] || { echo "data_parallel_scaling: no $bt; build first" >&2; exit 2; }
ranks=${RANKS:-2}
sizes=${SIZES:-64,256,1024,4096}
budget=${BUDGET:-16384}
repeats=${REPEATS:-3}
out=$(mktemp -d)
py=/usr/bin/python3
# shellcheck disable=SC2206
extra=(${ARGS:-})
common=(sweep "${extra[@]}" --batch-sizes "$sizes" --budget "samples=$budget" --eval-every 100000000
        --eval-samples 500 --noise-repeats 0 --threads 1)
for k in $(seq 1 "$repeats"); do
  "$bt" "${common[@]}" -o "$out/one-$k.json" >/dev/null 2>"$out/one-$k.err"
  port=$($py -c "import socket; s=socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
  pids=()
  for ((r = 0; r < ranks; r++)); do
    RANK=$r WORLD_SIZE=$ranks LOCAL_RANK=$r LOCAL_WORLD_SIZE=$ranks MASTER_ADDR=127.0.0.1 MASTER_PORT=$port \
      "$bt" "${common[@]}" -o "$out/dp-$k.json" >/dev/null 2>"$out/dp-$k-$r.err" &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p"; done
  port=$($py -c "import socket; s=socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
  pids=()
  for ((r = 0; r < ranks; r++)); do
    BATCHTUNE_DIST_OVERLAP=0 RANK=$r WORLD_SIZE=$ranks LOCAL_RANK=$r LOCAL_WORLD_SIZE=$ranks MASTER_ADDR=127.0.0.1 \
      MASTER_PORT=$port "$bt" "${common[@]}" -o "$out/serial-$k.json" >/dev/null 2>"$out/serial-$k-$r.err" &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p"; done
  pids=()
  for ((r = 0; r < ranks; r++)); do
    "$bt" "${common[@]}" -o "$out/indep-$k-$r.json" >/dev/null 2>"$out/indep-$k-$r.err" &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p"; done
done
$py - "$out" "$ranks" "$repeats" <<'PY'
import json, statistics, sys
out, ranks, repeats = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def rates(prefix):
    per = {}
    for k in range(1, repeats + 1):
        for a in json.load(open(f"{out}/{prefix}-{k}.json"))["sweep"]["arms"]:
            per.setdefault(a["batch_size"], []).append((a["samples_per_s"], (a.get("scaling_efficiency"), a.get("compute_share"))))
    return per
one, dp, serial = rates("one"), rates("dp"), rates("serial")
indep = {}  # summed samples/s of the independent processes, per run
for k in range(1, repeats + 1):
    run = {}
    for r in range(ranks):
        for a in json.load(open(f"{out}/indep-{k}-{r}.json"))["sweep"]["arms"]:
            run[a["batch_size"]] = run.get(a["batch_size"], 0) + a["samples_per_s"]
    for b, v in run.items():
        indep.setdefault(b, []).append(v)
print(f"data-parallel scaling, {ranks} ranks (Gloo, 1 thread each) against 1 rank (1 thread); "
      f"median of {repeats} alternating runs")
print(f"{'global batch':>12} {'1 rank samples/s':>17} {f'{ranks} ranks samples/s':>18} {'efficiency':>11} "
      f"{'report: efficiency':>19} {'compute share':>14} {'machine ceiling':>16} {'efficiency / ceiling':>21} "
      f"{'overlap gain':>13}")
for b in sorted(one):
    s1 = statistics.median(x for x, _ in one[b])
    sn = statistics.median(x for x, _ in dp[b])
    reported = statistics.median(e[0] for _, e in dp[b] if e[0] is not None) if any(e[0] for _, e in dp[b]) else float("nan")
    share = statistics.median(e[1] for _, e in dp[b])
    ceiling = statistics.median(indep[b]) / (ranks * s1)
    gain = sn / statistics.median(x for x, _ in serial[b])
    print(f"{b:>12} {s1:>17.0f} {sn:>18.0f} {sn / (ranks * s1):>11.2f} {reported:>19.2f} {share:>14.2f} {ceiling:>16.2f} "
          f"{sn / (ranks * s1) / ceiling:>21.2f} {gain:>13.2f}")
PY
echo "reports in $out" >&2

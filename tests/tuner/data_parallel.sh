#!/usr/bin/env bash
# Data-parallel sweeps over c10d Gloo, launched as torchrun launches them
# (RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT),
# (ranks given different options stop before any work, naming the option),
# every rank a real batchtune process on this machine (TCPStore on 127.0.0.1):
#   1. 2 and 4 ranks: the ranks' weights are equal after every arm, and every
#      step's loss and every evaluation equal the single-process sweep's at the
#      same global batch, within float tolerance;
#   2. a rank that never arrives: rank 0 gives up within --dist-timeout with
#      one line and exit 10, and writes no report (nothing was measured);
#   3. a rank killed mid-sweep: rank 0 exits 10 within the timeout and its
#      report is valid, marked incomplete, with the arms finished before.
#   4. SIGTERM to rank 0 alone: both ranks stop at the same step, exit 7,
#      rank 0's report incomplete;
#   5. a partial launch (RANK without WORLD_SIZE): exit 2, one line;
#   6. automatic sizes: powers of two up to the ranks' global safe maximum;
#   7. a seconds budget: rank 0's clock ends every rank's arm at one step;
#   8. --isolate: each rank's probe trials run in child processes that do
#      not join the ranks;
#   9. --force without a probe and a samples budget that leaves a last batch
#      of one sample: it is raised to one a rank;
#  10. --throughput-only: global batches timed data-parallel, and `report
#      --step-times` predicting a whole-run tune's run on the 2 ranks;
#  11. SIGTERM to rank 0 between arms: both ranks stop, exit 7 each;
#  12. a refusal one rank meets alone (its copy of the data): every rank
#      exits with that rank's code and reason before training;
#  13. --dist-backend nccl on CPUs: exit 4, one line, on every rank.
# Usage: data_parallel.sh BATCHTUNE
set -u
bt=$1
py=/usr/bin/python3
dir=$(mktemp -d /tmp/batchtune-dp-XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$dir"' EXIT
# shellcheck source=../support/check.sh
source "$(dirname "$0")/../support/check.sh"
free_port() { $py -c "import socket; s=socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])"; }
common=(sweep --model mlp --data synthetic --mlp-hidden 32 --synthetic-train 4096 --synthetic-val 256
        --eval-samples 256 --noise-repeats 0 --threads 1 --memory-limit 64MiB)
launch() {  # world port out-prefix args...
  local world=$1 port=$2 prefix=$3 r
  shift 3
  for ((r = 0; r < world; r++)); do
    RANK=$r WORLD_SIZE=$world LOCAL_RANK=$r LOCAL_WORLD_SIZE=$world MASTER_ADDR=127.0.0.1 MASTER_PORT=$port \
      "$bt" "$@" >"$prefix-$r.out" 2>"$prefix-$r.err" &
    echo $! >"$prefix-$r.pid"
  done
}
# Launches on a free port and waits for every rank; status 1 when any rank
# failed. free_port's port is free when asked, not when rank 0 binds it: when
# something took it in between, the launch runs again on another port.
launch_wait() {  # world out-prefix args...
  local world=$1 prefix=$2 try pid codes=0
  shift 2
  for try in 1 2 3; do
    launch "$world" "$(free_port)" "$prefix" "$@"
    codes=0
    for pid in $(cat "$prefix"-*.pid); do wait "$pid" || codes=1; done
    grep -qiE "address already in use|MASTER_PORT [0-9]+ is in use" "$prefix"-*.err || break
    echo "  (try $try: the port was taken before rank 0 bound it; launching again)"
  done
  return $codes
}

# 1. Equal to one process, and the ranks in step.
"$bt" "${common[@]}" --batch-sizes 16,64 --budget samples=2048 -o "$dir/single.json" >/dev/null 2>"$dir/single.err"
check "single-process sweep runs" $?
for world in 2 4; do
  launch_wait "$world" "$dir/w$world" "${common[@]}" --dist-timeout 20 --batch-sizes 16,64 --budget samples=2048 \
    -o "$dir/dp$world.json"
  codes=$?
  check "$world ranks: every rank exits 0" $codes
  $py - "$dir/single.json" "$dir/dp$world.json" "$world" <<'PY'
import json, sys
single, dp, world = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), int(sys.argv[3])
info = dp["sweep"]["data_parallel"]
assert info["world_size"] == world and len(info["ranks"]) == world and info["backend"] == "gloo", info
for a, b in zip(single["sweep"]["arms"], dp["sweep"]["arms"]):
    assert a["batch_size"] == b["batch_size"] and a["status"] == b["status"] == "completed"
    sums = b["final_weights_sum_per_rank"]
    assert len(sums) == world and len(set(sums)) == 1, f"ranks out of step at batch {b['batch_size']}: {sums}"
    la = [p["loss"] for p in a["train_loss"]]
    lb = [p["loss"] for p in b["train_loss"]]
    assert len(la) == len(lb), (len(la), len(lb))
    worst = max(abs(x - y) / max(abs(x), 1e-6) for x, y in zip(la, lb))
    assert worst < 1e-4, f"batch {a['batch_size']}: a step's loss differs by {worst:.2e} relative"
    for ea, eb in zip(a["evaluations"], b["evaluations"]):
        assert abs(ea["loss"] - eb["loss"]) <= 1e-4 * abs(ea["loss"]), (ea, eb)
    assert len(b["communication_seconds"]) == len(b["compute_seconds"]) > 0
    assert 0 < b["compute_share"] <= 1
    assert b["single_rank_step_seconds"] > 0 and b["scaling_efficiency"] > 0
    print(f"  batch {a['batch_size']}: {len(la)} steps, worst relative loss difference {worst:.1e}, "
          f"ranks' weight sums equal ({sums[0]:.6f}), scaling efficiency {b['scaling_efficiency']:.2f}")
rec = dp["recommendation"]
if rec and rec["status"] == "recommended":
    assert rec["data_parallel_ranks"] == world
    assert rec["micro_batch_size"] * world * rec["accumulation_steps"] >= rec["batch_size"], rec
PY
  check "$world ranks: equal to one process at the same global batch, ranks in step" $?
done

# 2. A rank that never arrives.
start=$(date +%s)
RANK=0 WORLD_SIZE=2 LOCAL_RANK=0 LOCAL_WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=$(free_port) \
  "$bt" "${common[@]}" --dist-timeout 3 --batch-sizes 16 --budget samples=256 -o "$dir/missing.json" \
  >/dev/null 2>"$dir/missing.err"
code=$?
took=$(( $(date +%s) - start ))
lines=$(wc -l <"$dir/missing.err")
echo "  missing rank: exit $code after ${took} s: $(tail -1 "$dir/missing.err")"
[[ $code -eq 10 && $took -le 15 && ! -e $dir/missing.json ]] && grep -q "^batchtune: error: .*arrived" "$dir/missing.err"
check "a rank that never arrives: exit 10 within the timeout, one error line, no report" $?

# 3. A rank killed mid-sweep: the first arm finishes, rank 1 dies in the
# second (10,000 steps at 16, then 5,000 at 32: seconds each on this machine).
launch 2 "$(free_port)" "$dir/kill" "${common[@]}" --dist-timeout 5 --batch-sizes 16,32 \
  --budget samples=160000 --eval-every 100000000 -o "$dir/killed.json"
for _ in $(seq 1 1200); do
  grep -q "arm 1/2 .*completed" "$dir/kill-0.err" 2>/dev/null && break
  sleep 0.05
done
sleep 0.3
kill -9 "$(cat "$dir/kill-1.pid")"
start=$(date +%s)
wait "$(cat "$dir/kill-0.pid")"
code=$?
took=$(( $(date +%s) - start ))
echo "  killed rank: rank 0 exit $code ${took} s after the kill: $(tail -1 "$dir/kill-0.err")"
$py - "$dir/killed.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
s = r["sweep"]
assert s["incomplete"] and "data-parallel" in s["incomplete_reason"], s["incomplete_reason"]
assert r["recommendation"] is None
assert len(s["arms"]) >= 1 and s["arms"][0]["status"] == "completed", [a["status"] for a in s["arms"]]
print("  killed rank: the report is marked incomplete: " + s["incomplete_reason"][:140])
PY
ok=$?
[[ $code -eq 10 && $took -le 15 && $ok -eq 0 ]]
check "a rank killed mid-sweep: rank 0 exits 10 within the timeout with a valid incomplete report" $?

# 4. A signal to rank 0 alone (a terminal's Ctrl-C reaches one process; a
# scheduler may signal one rank): it travels in the next step's allreduce, so
# both ranks stop at the same step; rank 0 writes an incomplete report, both
# exit 7, and neither waits out the timeout.
launch 2 "$(free_port)" "$dir/sig" "${common[@]}" --dist-timeout 30 --batch-sizes 16,32 \
  --budget samples=4000000 --eval-every 100000000 -o "$dir/signal.json"
# The signal comes a second into the first arm, however slowly the ranks
# start (a CUDA LibTorch takes seconds to load): after the probes' exchange.
for _ in $(seq 1 600); do
  grep -q "data-parallel over" "$dir/sig-0.err" 2>/dev/null && break
  sleep 0.1
done
sleep 1
kill -TERM "$(cat "$dir/sig-0.pid")"
start=$(date +%s)
wait "$(cat "$dir/sig-0.pid")"
code0=$?
wait "$(cat "$dir/sig-1.pid")"
code1=$?
took=$(( $(date +%s) - start ))
echo "  SIGTERM to rank 0: exits $code0 and $code1 within ${took} s"
$py - "$dir/signal.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))["sweep"]
assert s["incomplete"] and len(s["arms"]) == 1 and s["arms"][0]["status"] == "interrupted", s["incomplete_reason"]
PY
ok=$?
[[ $code0 -eq 7 && $code1 -eq 7 && $took -le 10 && $ok -eq 0 ]]
check "SIGTERM to rank 0 alone stops both ranks at one step: exit 7 each, an incomplete report" $?

# 5. A partial launch.
RANK=1 "$bt" "${common[@]}" --batch-sizes 16 -o "$dir/partial.json" >/dev/null 2>"$dir/partial.err"
code=$?
[[ $code -eq 2 && $(wc -l <"$dir/partial.err") -eq 1 ]] && grep -q "WORLD_SIZE" "$dir/partial.err"
check "RANK without WORLD_SIZE: exit 2, one line naming WORLD_SIZE" $?

# 6. No --batch-sizes: each rank probes its micro-batch; the sizes run up to
# the smallest rank's safe micro-batch x the ranks.
launch_wait 2 "$dir/auto" "${common[@]}" --dist-timeout 30 --budget samples=1024 -o "$dir/auto.json"
codes=$?
$py - "$dir/auto.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
s, p = r["sweep"], r["probe"]
sizes = [a["batch_size"] for a in s["arms"]]
per_rank = [x["safe_max_micro_batch"] for x in s["data_parallel"]["ranks"]]
print(f"  automatic sizes over 2 ranks: {sizes}; the ranks' safe micro-batches {per_rank}, global {p['safe_max_batch']}")
assert "data-parallel" in s["batch_sizes_source"], s["batch_sizes_source"]
assert p["safe_max_batch"] == 2 * min(per_rank), (p["safe_max_batch"], per_rank)
assert sizes[0] == 16 and sizes[-1] == p["safe_max_batch"] and len(sizes) >= 3, sizes
assert all(a["status"] == "completed" for a in s["arms"]), [a["message"] for a in s["arms"]]
PY
ok=$?
[[ $codes -eq 0 && $ok -eq 0 ]]
check "automatic sizes over 2 ranks: powers of two up to the smallest rank's safe micro-batch x 2" $?

# 7. --budget seconds=: the ranks' own clocks differ; rank 0's, shared in
# each step, ends the arm at the same step everywhere (equal weights).
launch_wait 2 "$dir/sec" "${common[@]}" --dist-timeout 30 --batch-sizes 16,64 --budget seconds=0.5 \
  -o "$dir/sec.json"
codes=$?
$py - "$dir/sec.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))["sweep"]
for a in s["arms"]:
    sums = a["final_weights_sum_per_rank"]
    print(f"  seconds budget 0.5: batch {a['batch_size']}: {a['steps']} steps in {a['train_seconds']:.2f} s, "
          f"ranks' weight sums {sums}")
    assert a["status"] == "completed" and a["steps"] > 1, a["message"]
    assert len(set(sums)) == 1, sums
    assert a["train_seconds"] < 0.5 + 5 * max(a["compute_seconds"] + [0.05]), a["train_seconds"]
PY
ok=$?
[[ $codes -eq 0 && $ok -eq 0 ]]
check "a seconds budget over 2 ranks: every arm ends at the same step on both ranks" $?

# 8. --isolate: the trials' child processes inherit RANK and WORLD_SIZE but
# never connect (only the sweep command reads a launch).
launch_wait 2 "$dir/iso" "${common[@]}" --dist-timeout 30 --isolate --batch-sizes 16,32 \
  --budget samples=256 -o "$dir/iso.json"
codes=$?
$py - "$dir/iso.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
p, s = r["probe"], r["sweep"]
print(f"  --isolate over 2 ranks: probe isolated {p['isolated']}, {len(p['trials'])} trials on rank 0, "
      f"ranks' safe micro-batches {[x['safe_max_micro_batch'] for x in s['data_parallel']['ranks']]}")
assert p["isolated"] and all(x["safe_max_micro_batch"] > 0 for x in s["data_parallel"]["ranks"])
assert all(a["status"] == "completed" for a in s["arms"]), [a["message"] for a in s["arms"]]
PY
ok=$?
[[ $codes -eq 0 && $ok -eq 0 ]]
check "--isolate over 2 ranks: each rank probes in child processes, the sweep completes" $?

# 9. 33 samples at 16: the last batch would hold 1 sample for 2 ranks.
launch_wait 2 "$dir/tail" "${common[@]}" --dist-timeout 30 --force --batch-sizes 16 --budget samples=33 \
  -o "$dir/tail.json"
codes=$?
$py - "$dir/tail.json" <<'PY'
import json, sys
a = json.load(open(sys.argv[1]))["sweep"]["arms"][0]
steps = [p["samples"] for p in a["train_loss"]]
print(f"  --force, 33 samples at 16 over 2 ranks: {a['status']}, samples after each step {steps}")
assert a["status"] == "completed", a["message"]
assert steps[-1] - steps[-2] >= 2, steps
PY
ok=$?
[[ $codes -eq 0 && $ok -eq 0 ]]
check "the last partial batch of a samples budget holds at least one sample a rank" $?

# 10. --throughput-only under a launch: the world size's step times at global
# batches (trained data-parallel, nothing evaluated), which `report
# --step-times` joins to a whole-run tune made in one process: the planned
# run predicted on 2 ranks, the recommendation split over them.
launch_wait 2 "$dir/tp" "${common[@]}" --dist-timeout 30 --throughput-only -o "$dir/tp.json"
codes=$?
"$bt" "${common[@]}" --epochs 10 -o "$dir/whole.json" >/dev/null 2>"$dir/whole.err" || codes=1
"$bt" report "$dir/whole.json" --step-times "$dir/tp.json" -o "$dir/pred.json" >"$dir/pred.out" 2>"$dir/pred.err" ||
  codes=1
$py - "$dir/tp.json" "$dir/pred.json" <<'PY'
import json, sys
tp, pred = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
s, p = tp["sweep"], tp["probe"]
sizes = [x["batch_size"] for x in s["throughput_scan"]]
print(f"  --throughput-only over 2 ranks: global batches {sizes}, safe global maximum {p['safe_max_batch']}, "
      f"{[x['timed_steps'] for x in s['throughput_scan']]} steps timed")
assert s["data_parallel"]["world_size"] == 2 and not s["incomplete"], s.get("incomplete_reason")
assert sizes[0] == 16 and sizes[-1] == p["safe_max_batch"] and len(sizes) >= 3, sizes
assert all(x["mean_step_seconds"] > 0 and x["median_step_seconds"] > 0 and x["timed_steps"] >= 3 for x in s["throughput_scan"])
assert not s["arms"] and tp["recommendation"] is None
w, rec = pred["whole_run"], pred["recommendation"]
print(f"  report --step-times: {w['step_times_source']}; recommended {rec['batch_size']} = "
      f"{rec['micro_batch_size']} a rank x {rec['data_parallel_ranks']} ranks")
assert "data-parallel over 2 ranks" in w["step_times_source"], w["step_times_source"]
times = dict((x["batch_size"], x["mean_step_seconds"]) for x in s["throughput_scan"])
assert all(abs(x["step_s"] - times[x["batch_size"]]) < 1e-12 for x in w["step_seconds"]), w["step_seconds"]
assert rec["status"] == "recommended" and rec["data_parallel_ranks"] == 2, rec
assert rec["micro_batch_size"] * 2 >= rec["batch_size"] > (rec["micro_batch_size"] - 1) * 2, rec
PY
ok=$?
[[ $codes -eq 0 && $ok -eq 0 ]]
check "--throughput-only over 2 ranks times global batches; report --step-times predicts the run on 2 ranks" $?

# 11. A signal between arms: one-step arms at a global batch of 2048, each
# followed by rank 0 timing that batch alone (five steps, the other rank
# waiting): most of the time lies between two arms' collective steps, and a
# SIGTERM to rank 0 at a random moment there lands there in about two tries
# of three. The ranks agree before each arm, so both stop with exit 7; before
# that, rank 0 stopped alone and rank 1, waiting in the next arm, exited 10
# (4 of 6 tries). Two tries here.
gap_ok=0
for try in 1 2; do
  for attempt in 1 2 3; do  # again on another port when rank 0's was taken
    launch 2 "$(free_port)" "$dir/gap$try" sweep --model mlp --data synthetic --mlp-hidden 256 --synthetic-train 4096 \
      --synthetic-val 256 --eval-samples 64 --noise-repeats 0 --threads 1 --memory-limit 256MiB --dist-timeout 20 \
      --batch-sizes 2048 --seeds 100 --budget steps=1 -o "$dir/gap$try.json"
    for _ in $(seq 300); do  # until a few arms have finished (at most 30 s), or rank 0 has ended
      (( $(grep -c ': completed' "$dir/gap$try-0.err" 2>/dev/null || true) >= 3 )) && break
      kill -0 "$(cat "$dir/gap$try-0.pid")" 2>/dev/null || break
      sleep 0.1
    done
    grep -qiE "address already in use|MASTER_PORT [0-9]+ is in use" "$dir/gap$try-0.err" || break
    wait "$(cat "$dir/gap$try-0.pid")" "$(cat "$dir/gap$try-1.pid")"
    echo "  (the port was taken before rank 0 bound it; launching again)"
  done
  sleep "0.$((RANDOM % 10))"
  kill -TERM "$(cat "$dir/gap$try-0.pid")"
  wait "$(cat "$dir/gap$try-0.pid")"
  c0=$?
  wait "$(cat "$dir/gap$try-1.pid")"
  c1=$?
  echo "  try $try: SIGTERM to rank 0 after $(grep -c ': completed' "$dir/gap$try-0.err") one-step arms: exits $c0 and $c1"
  $py -c "import json,sys; s=json.load(open(sys.argv[1]))['sweep']; assert s['incomplete'], s" "$dir/gap$try.json" ||
    gap_ok=1
  [[ $c0 -eq 7 && $c1 -eq 7 ]] || gap_ok=1
done
check "SIGTERM to rank 0 between arms: both ranks stop before the next arm, exit 7 each" $gap_ok

# Ranks given different options: every rank stops before any work, exit 2,
# one line naming the option and each rank's value (it aborted inside Gloo,
# or trained each rank on other data under one report).
plain=(sweep --model mlp --data synthetic --synthetic-train 4096 --synthetic-val 256 --eval-samples 256
       --noise-repeats 0 --threads 1 --memory-limit 64MiB --batch-sizes 16 --budget samples=256 --dist-timeout 20)
for what in "--mlp-hidden 32|--mlp-hidden 64" "--seed 1|--seed 2" "--lr 0.01|--weight-decay 0.001"; do
  first=${what%|*}
  second=${what#*|}
  for try in 1 2 3; do
    port=$(free_port)
    # shellcheck disable=SC2086
    RANK=0 WORLD_SIZE=2 LOCAL_RANK=0 LOCAL_WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=$port \
      "$bt" "${plain[@]}" $first -o "$dir/differ.json" >/dev/null 2>"$dir/differ-0.err" &
    p0=$!
    # shellcheck disable=SC2086
    RANK=1 WORLD_SIZE=2 LOCAL_RANK=1 LOCAL_WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=$port \
      "$bt" "${plain[@]}" $second -o "$dir/differ.json" >/dev/null 2>"$dir/differ-1.err" &
    p1=$!
    wait $p0
    c0=$?
    wait $p1
    c1=$?
    grep -qiE "address already in use|MASTER_PORT [0-9]+ is in use" "$dir"/differ-*.err || break
  done
  name=${first%% *}
  echo "  ranks with $first and $second: exits $c0 and $c1: $(grep -h "error" "$dir/differ-0.err")"
  [[ $c0 -eq 2 && $c1 -eq 2 && ! -e $dir/differ.json ]] &&
    grep -q -- "the ranks disagree on $name" "$dir/differ-0.err" && grep -q -- "the ranks disagree on $name" "$dir/differ-1.err"
  check "ranks given different $name: both exit 2 before any work, one line naming it" $?
done

# A refusal one rank meets alone: the options agree (--data-dir is the same
# relative path) but each rank's copy of the data differs. Every rank stops
# with that rank's reason and its exit code before training, not exit 10
# after the timeout.
mkdir -p "$dir/whole/fm" "$dir/small/fm" "$dir/none"
ln -s /usr/share/datasets/fashion-mnist/* "$dir/whole/fm/"
$py - "$dir/small/fm" <<'PY'
import gzip, shutil, struct, sys
src, dst = "/usr/share/datasets/fashion-mnist", sys.argv[1]
for name, magic, rows in (("train-images-idx3-ubyte", 2051, 100), ("train-labels-idx1-ubyte", 2049, 100)):
    with gzip.open(f"{src}/{name}.gz") as f:
        head = f.read(16 if magic == 2051 else 8)
        item = 784 if magic == 2051 else 1
        body = f.read(rows * item)
    head = head[:4] + struct.pack(">I", rows) + head[8:]
    with gzip.open(f"{dst}/{name}.gz", "wb") as g:
        g.write(head + body)
for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
    shutil.copy(f"{src}/{name}", dst)
PY
alone=(sweep --model mlp --data fashion-mnist --data-dir fm --eval-samples 256 --noise-repeats 0 --threads 1
       --memory-limit 64MiB --batch-sizes 128 --budget samples=256 --dist-timeout 20)
for case in "small|2|larger than the training set" "none|3|fm"; do
  IFS='|' read -r other want words <<<"$case"
  for try in 1 2 3; do
    port=$(free_port)
    (cd "$dir/whole" && RANK=0 WORLD_SIZE=2 LOCAL_RANK=0 LOCAL_WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=$port \
      exec "$bt" "${alone[@]}" -o "$dir/alone.json" >/dev/null 2>"$dir/alone-0.err") &
    p0=$!
    (cd "$dir/$other" && RANK=1 WORLD_SIZE=2 LOCAL_RANK=1 LOCAL_WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=$port \
      exec "$bt" "${alone[@]}" -o "$dir/alone.json" >/dev/null 2>"$dir/alone-1.err") &
    p1=$!
    wait $p0
    c0=$?
    wait $p1
    c1=$?
    grep -qiE "address already in use|MASTER_PORT [0-9]+ is in use" "$dir"/alone-*.err || break
  done
  echo "  rank 1 with data '$other': exits $c0 and $c1: $(grep -h "error" "$dir/alone-0.err")"
  [[ $c0 -eq $want && $c1 -eq $want && ! -e $dir/alone.json ]] &&
    grep -q "error: rank 1: .*$words" "$dir/alone-0.err" && grep -q -- "$words" "$dir/alone-1.err"
  check "a refusal on rank 1 alone (its data: $other): both ranks exit $want with its reason, before training" $?
done

# NCCL asked for where the ranks train on CPUs: every rank one line, exit 4,
# before it meets the others (no port needed).
for r in 0 1; do
  RANK=$r WORLD_SIZE=2 LOCAL_RANK=$r LOCAL_WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=$(free_port) \
    timeout 60 "$bt" "${plain[@]}" --device cpu --dist-backend nccl -o "$dir/nccl.json" >/dev/null 2>"$dir/nccl-$r.err"
  echo "$?" >"$dir/nccl-$r.code"
done
echo "  --dist-backend nccl on CPUs: exits $(cat "$dir/nccl-0.code") and $(cat "$dir/nccl-1.code"): $(cat "$dir/nccl-0.err")"
[[ $(cat "$dir/nccl-0.code") -eq 4 && $(cat "$dir/nccl-1.code") -eq 4 && $(wc -l <"$dir/nccl-0.err") -eq 1 &&
   ! -e $dir/nccl.json ]] && grep -q -- "--dist-backend nccl" "$dir/nccl-0.err"
check "--dist-backend nccl where the ranks train on CPUs: one line and exit 4 on every rank" $?

# A MASTER_PORT held by a program that accepts and never answers: the rank
# gives up within twice --dist-timeout, exit 10, one line naming the port.
silent_port=$(free_port)
$py - "$silent_port" <<'PY' &
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(8)
s.settimeout(1)
held, end = [], time.time() + 30
while time.time() < end:
    try:
        held.append(s.accept()[0])
    except OSError:
        pass
PY
listener=$!
sleep 1
start=$(date +%s)
RANK=1 WORLD_SIZE=2 LOCAL_RANK=1 LOCAL_WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=$silent_port \
  timeout 60 "$bt" "${plain[@]:0:${#plain[@]}-2}" --dist-timeout 3 -o "$dir/silent.json" >/dev/null 2>"$dir/silent.err"
code=$?
took=$(($(date +%s) - start))
kill $listener 2>/dev/null
echo "  a silent listener on MASTER_PORT: exit $code after ${took} s: $(grep -h error "$dir/silent.err")"
[[ $code -eq 10 && $took -le 6 && ! -e $dir/silent.json ]] && grep -q "did not answer the store's handshake" "$dir/silent.err"
check "a MASTER_PORT held by a program that never answers: exit 10 within twice --dist-timeout 3 s" $?

check_summary

#!/usr/bin/env bash
# A real SIGINT mid-sweep: exit code 7 and a valid report marked incomplete.
set -u
# Job control: a background job of a non-interactive shell starts with SIGINT
# ignored, and batchtune keeps an ignored signal ignored (as nohup expects).
set -m
bt=$1
out=$(mktemp /tmp/batchtune-interrupt-XXXXXX.json)
err=$(mktemp /tmp/batchtune-interrupt-XXXXXX.err)
"$bt" sweep --model mlp --data synthetic --batch-sizes 8,16,32,64 --force --budget seconds=4 -o "$out" 2>"$err" &
pid=$!
# The signal comes once the first arm has completed (however slowly this
# machine starts: a CUDA LibTorch takes seconds to load), during the second.
for _ in $(seq 1 600); do
  grep -q "arm 1/.*completed" "$err" && break
  sleep 0.1
done
sleep 1
kill -INT $pid
wait $pid
code=$?
ok=$(/usr/bin/python3 -c "import json,sys; r=json.load(open('$out')); s=r['sweep']; print(int(s['incomplete'] and len(s['arms']) >= 1 and r['schema_version'] >= 1))")
rm -f "$out" "$err"
echo "exit code $code, valid incomplete report: $ok"
[[ $code -eq 7 && $ok == 1 ]]

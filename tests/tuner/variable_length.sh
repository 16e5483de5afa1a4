#!/usr/bin/env bash
# Variable-length sequences (an .npz with a `lengths` array): a scripted
# sequence classifier (tests/fixtures/tiny_seq_classifier.pt) over padded
# token sequences whose lengths run from 8 to 512.
#   1. the probe trains every trial on the longest sequences (length 512) and
#      says so; a sweep over the real mix up to its safe maximum never runs
#      out of memory;
#   2. the same probe on the data cut to the mean length finds a larger safe
#      maximum, and a sweep of the real mix at that size runs out of memory
#      (a batch that holds a 512-long sequence is padded to 512): what a
#      probe at the average length would have recommended;
#   3. malformed lengths: one line naming the array, exit 3.
# Usage: variable_length.sh BATCHTUNE FIXTURES_DIR
set -u
bt=$1
model=$2/tiny_seq_classifier.pt
py=/usr/bin/python3
dir=$(mktemp -d /tmp/batchtune-varlen-XXXXXX)
trap 'rm -rf "$dir"' EXIT
# shellcheck source=../support/check.sh
source "$(dirname "$0")/../support/check.sh"
$py - "$dir" <<'PY'
import sys
import numpy as np
out = sys.argv[1]
rng = np.random.default_rng(0)
n, longest = 600, 512
lengths = rng.integers(8, longest + 1, size=n)
lengths[0] = longest
x = np.zeros((n, longest), np.int64)
y = np.zeros(n, np.int64)
for i, length in enumerate(lengths):
    x[i, :length] = rng.integers(1, 64, size=length)
    y[i] = int(x[i, :length].mean() > 32)
np.savez(f"{out}/seq.npz", x=x, y=y, lengths=lengths)
mean = int(lengths.mean())
np.savez(f"{out}/seq_mean.npz", x=x[:, :mean], y=y, lengths=np.full(n, mean))
bad = lengths.copy()
bad[3] = longest + 1
np.savez(f"{out}/seq_bad.npz", x=x, y=y, lengths=bad)
PY
common=(--model "$model" --data npy --memory-limit 16MiB --threads 1)

"$bt" sweep "${common[@]}" --noise-repeats 0 --data-file "$dir/seq.npz" --budget samples=1000 -o "$dir/real.json" \
  >/dev/null 2>"$dir/real.err"
code=$?
safe=$($py -c "import json,sys; print(json.load(open(sys.argv[1]))['probe']['safe_max_batch'])" "$dir/real.json")
$py - "$dir/real.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
p, s = r["probe"], r["sweep"]
assert "length 512" in p["worst_case"], p.get("worst_case")
assert [a["status"] for a in s["arms"]] == ["completed"] * len(s["arms"]), [a["message"] for a in s["arms"]]
assert s["arms"][-1]["batch_size"] == p["safe_max_batch"]
worst = max(a["peak_bytes"] for a in s["arms"])
print(f"  probe at length 512: safe maximum {p['safe_max_batch']}; the sweep's arms up to it all completed, "
      f"peak {worst} of {p['capacity_bytes']} bytes")
PY
ok=$?
[[ $code -eq 0 && $ok -eq 0 ]]
check "the probe measures the longest sequences, and the real mix never runs out of memory below its safe maximum" $?

"$bt" probe "${common[@]}" --data-file "$dir/seq_mean.npz" -o "$dir/mean-probe.json" >/dev/null 2>&1
mean_safe=$($py -c "import json,sys; print(json.load(open(sys.argv[1]))['probe']['safe_max_batch'])" "$dir/mean-probe.json")
"$bt" sweep "${common[@]}" --noise-repeats 0 --data-file "$dir/seq.npz" --budget samples=1000 --batch-sizes "$mean_safe" --force \
  -o "$dir/at-mean.json" >/dev/null 2>&1
status=$($py -c "import json,sys; print(json.load(open(sys.argv[1]))['sweep']['arms'][0]['status'])" "$dir/at-mean.json")
echo "  probe at the mean length: safe maximum $mean_safe (against $safe at 512); the real mix there: $status"
[[ $mean_safe -gt $safe && $status == out_of_memory ]]
check "a probe at the mean length allows more, and the real mix runs out of memory there" $?

"$bt" sweep "${common[@]}" --data-file "$dir/seq_bad.npz" -o "$dir/bad.json" >/dev/null 2>"$dir/bad.err"
code=$?
echo "  bad lengths: exit $code: $(cat "$dir/bad.err")"
[[ $code -eq 3 && $(wc -l <"$dir/bad.err") -eq 1 && ! -e $dir/bad.json ]] && grep -q "lengths" "$dir/bad.err"
check "lengths past the padded length: exit 3, one line" $?

check_summary

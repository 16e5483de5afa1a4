#!/usr/bin/env bash
# Images of different sizes (an .npz with a `sizes` array, (N, 2): each
# image's height and width inside inputs padded to the largest): the scripted
# detector (tests/fixtures/tiny_detector.pt, its own loss from class and box
# targets) on synthetic images from 8x8 to 64x64.
#   1. the probe trains every trial at the data's largest size, 64x64, and
#      says so; a sweep of the real mix up to its safe maximum never runs out
#      of memory; each arm reports its padding, and the console its peak
#      against the probe's worst case;
#   2. the same probe on the images cut to the mean size allows more, and the
#      real mix runs out of memory there;
#   3. --batching bucketed: the same sizes pad less than random batches;
#   (and: --probe-shape of the wrong channel count, or below the data's
#   largest input, refused up front with one line)
#   4. --probe-shape 1x96x96 (larger than any image here): a smaller safe
#      maximum, and the report names the shape;
#   5. wrong input: a probe shape of the wrong rank, bucketing without sizes,
#      sizes past the padded shape: one line each, exit 2 or 3.
# Usage: variable_size_images.sh BATCHTUNE FIXTURES_DIR
set -u
bt=$1
model=$2/tiny_detector.pt
py=/usr/bin/python3
dir=$(mktemp -d /tmp/batchtune-images-XXXXXX)
trap 'rm -rf "$dir"' EXIT
# shellcheck source=../support/check.sh
source "$(dirname "$0")/../support/check.sh"
$py - "$dir" <<'PY'
import sys
import numpy as np
out = sys.argv[1]
rng = np.random.default_rng(0)
n, big = 300, 64
h = rng.integers(8, big + 1, size=n)
w = rng.integers(8, big + 1, size=n)
h[0], w[0] = big, big
x = np.zeros((n, 1, big, big), np.float32)
y = np.zeros((n, 5), np.float32)
for i in range(n):
    x[i, 0, :h[i], :w[i]] = rng.normal(size=(h[i], w[i]))
    c = int(rng.integers(0, 3))
    x0, y0 = rng.uniform(0, 0.5, 2)
    x[i, 0, int(y0 * h[i]):int((y0 + 0.4) * h[i]), int(x0 * w[i]):int((x0 + 0.4) * w[i])] += c + 1
    y[i] = [c, x0, y0, x0 + 0.4, y0 + 0.4]
sizes = np.stack([h, w], 1)
np.savez(f"{out}/img.npz", x=x, y=y, sizes=sizes)
m = int(round(sizes.mean()))
np.savez(f"{out}/img_mean.npz", x=x[:, :, :m, :m], y=y, sizes=np.full((n, 2), m))
np.savez(f"{out}/img_fixed.npz", x=x, y=y)
bad = sizes.copy()
bad[5, 1] = big + 1
np.savez(f"{out}/img_bad.npz", x=x, y=y, sizes=bad)
PY
common=(--model "$model" --loss model --data npy --memory-limit 32MiB --threads 1)
sweep=("${common[@]}" --noise-repeats 0 --budget samples=600 --seed 3)

"$bt" sweep "${sweep[@]}" --data-file "$dir/img.npz" -o "$dir/real.json" >"$dir/real.out" 2>"$dir/real.err"
code=$?
$py - "$dir/real.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
p, s = r["probe"], r["sweep"]
assert "size 64x64" in p["worst_case"], p.get("worst_case")
assert [a["status"] for a in s["arms"]] == ["completed"] * len(s["arms"]), [a["message"] for a in s["arms"]]
assert s["arms"][-1]["batch_size"] == p["safe_max_batch"]
assert all(0 < a["padding_share"] < 1 for a in s["arms"]), [a.get("padding_share") for a in s["arms"]]
print(f"  probe at 64x64: safe maximum {p['safe_max_batch']}; arms " +
      ", ".join(f"{a['batch_size']} (padding {a['padding_share']:.0%}, peak {a['peak_bytes']})" for a in s["arms"]) +
      f" of {p['capacity_bytes']} bytes, all completed")
PY
ok=$?
[[ $code -eq 0 && $ok -eq 0 ]] && grep -q "Variable-size batches" "$dir/real.out" && grep -q "of the worst case" "$dir/real.out"
check "the probe measures the largest images, and the real mix never runs out of memory below its safe maximum" $?

safe=$($py -c "import json,sys; print(json.load(open(sys.argv[1]))['probe']['safe_max_batch'])" "$dir/real.json")
"$bt" probe "${common[@]}" --data-file "$dir/img_mean.npz" -o "$dir/mean-probe.json" >/dev/null 2>&1
mean_safe=$($py -c "import json,sys; print(json.load(open(sys.argv[1]))['probe']['safe_max_batch'])" "$dir/mean-probe.json")
"$bt" sweep "${sweep[@]}" --data-file "$dir/img.npz" --batch-sizes "$mean_safe" --force -o "$dir/at-mean.json" \
  >/dev/null 2>&1
status=$($py -c "import json,sys; print(json.load(open(sys.argv[1]))['sweep']['arms'][0]['status'])" "$dir/at-mean.json")
echo "  probe at the mean size: safe maximum $mean_safe (against $safe at 64x64); the real mix there: $status"
[[ $mean_safe -gt $safe && $status == out_of_memory ]]
check "a probe at the mean size allows more, and the real mix runs out of memory there" $?

sizes=$($py -c "import json,sys; print(','.join(str(a['batch_size']) for a in json.load(open(sys.argv[1]))['sweep']['arms']))" "$dir/real.json")
"$bt" sweep "${sweep[@]}" --data-file "$dir/img.npz" --batch-sizes "$sizes" --batching bucketed -o "$dir/bucketed.json" \
  >/dev/null 2>&1
code=$?
$py - "$dir/real.json" "$dir/bucketed.json" <<'PY'
import json, sys
padded, bucketed = (json.load(open(f)) for f in sys.argv[1:3])
assert "bucketed" in bucketed["probe"]["worst_case"], bucketed["probe"]["worst_case"]
pairs = [(a["batch_size"], a["padding_share"], b["padding_share"], b["status"])
         for a, b in zip(padded["sweep"]["arms"], bucketed["sweep"]["arms"])]
print("  padding, random batches vs bucketed: " + ", ".join(f"{s}: {p:.0%} vs {q:.0%}" for s, p, q, _ in pairs))
assert all(st == "completed" for *_, st in pairs), pairs
# With 270 training images spread over 57x57 sizes a batch of 49 holds a
# fifth of them, so bucketing can only narrow it so far; at 16 it must cut
# the padding by a fifth or more.
assert all(q < p for _, p, q, _ in pairs), pairs
assert pairs[0][2] < 0.8 * pairs[0][1], pairs
PY
ok=$?
[[ $code -eq 0 && $ok -eq 0 ]]
check "bucketed batches pad less than random ones at every size, and every arm completes" $?

"$bt" probe "${common[@]}" --data-file "$dir/img.npz" --probe-shape 1x96x96 -o "$dir/shape.json" >/dev/null 2>&1
code=$?
$py - "$dir/shape.json" "$safe" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))["probe"]
print(f"  --probe-shape 1x96x96: safe maximum {p['safe_max_batch']} (against {sys.argv[2]} at the data's 64x64)")
assert "--probe-shape 1x96x96" in p["worst_case"], p["worst_case"]
assert p["safe_max_batch"] < int(sys.argv[2])
PY
ok=$?
[[ $code -eq 0 && $ok -eq 0 ]]
check "--probe-shape trains the trials at the named shape and says so" $?

one_line() {  # name expected-exit file args...
  local name=$1 want=$2 out=$3
  shift 3
  "$bt" probe "$@" -o "$dir/$out.json" >/dev/null 2>"$dir/$out.err"
  local code=$?
  echo "  $name: exit $code: $(cat "$dir/$out.err")"
  [[ $code -eq $want && $(wc -l <"$dir/$out.err") -eq 1 && ! -e $dir/$out.json ]]
}
one_line "a probe shape of the wrong rank" 2 rank "${common[@]}" --data-file "$dir/img.npz" --probe-shape 96x96 &&
  grep -q -- "--probe-shape 96x96" "$dir/rank.err"
check "--probe-shape of the wrong rank: exit 2, one line naming it" $?
one_line "a probe shape with another channel count" 2 chans "${common[@]}" --data-file "$dir/img.npz" --probe-shape 3x96x96 &&
  grep -q -- "--probe-shape 3x96x96: dim 1 is 3" "$dir/chans.err" && ! grep -q -- "--model" "$dir/chans.err"
check "--probe-shape with the wrong channel count: exit 2, one line blaming --probe-shape, not --model" $?
one_line "a probe shape below the data's largest" 2 small "${common[@]}" --data-file "$dir/img.npz" --probe-shape 1x32x32 &&
  grep -q -- "below the 64 the largest input" "$dir/small.err"
check "--probe-shape smaller than the data's largest input: exit 2, one line" $?
one_line "a probe shape larger than data of one shape" 2 fixedshape "${common[@]}" --data-file "$dir/img_fixed.npz" \
  --probe-shape 1x96x96 && grep -q -- "--probe-shape 1x96x96: dim 2 is 96" "$dir/fixedshape.err" &&
  grep -q -- "leave --probe-shape out" "$dir/fixedshape.err"
check "--probe-shape larger on a dim that does not vary between samples: exit 2, one line naming the dim" $?
one_line "bucketing without sizes" 2 fixed "${common[@]}" --data-file "$dir/img_fixed.npz" --batching bucketed &&
  grep -q -- "--batching bucketed" "$dir/fixed.err"
check "--batching bucketed on data of one shape: exit 2, one line" $?
one_line "sizes past the padded shape" 3 bad "${common[@]}" --data-file "$dir/img_bad.npz" && grep -q "sizes" "$dir/bad.err"
check "sizes past the padded shape: exit 3, one line naming the array" $?

check_summary

#!/usr/bin/env bash
# torchvision's ResNet-18 as a new user brings it: a sweep with default
# options (only what the synthetic data needs to know: shape and classes).
# It must probe past batch 1 (BatchNorm), record why, finish, and pass check.
set -u
bt=$1
model=$2
out=$(mktemp /tmp/batchtune-resnet18-XXXXXX.json)
trap 'rm -f "$out"' EXIT
"$bt" sweep --model "$model" --data synthetic --input-shape 3x32x32 --num-classes 10 -o "$out" || {
  echo "sweep exited $?"; exit 1; }
/usr/bin/python3 - "$out" <<'PY' || exit 1
import json, sys
r = json.load(open(sys.argv[1]))
p, s = r["probe"], r["sweep"]
print("min_batch", p["min_batch"], "|", p["min_batch_reason"])
print("sizes", [a["batch_size"] for a in s["arms"]], "knee:", s["throughput_knee"])
assert p["min_batch"] == 2, "BatchNorm at batch 1 should fail: min_batch 2"
assert "value per channel" in p["min_batch_reason"], "the reason should quote BatchNorm's own message"
assert not s["incomplete"]
assert all(a["status"] == "completed" for a in s["arms"])
PY
"$bt" check "$out"

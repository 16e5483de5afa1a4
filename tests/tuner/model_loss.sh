#!/usr/bin/env bash
# A model that computes its own loss (--loss model): a scripted detector
# (tests/fixtures/tiny_detector.pt: class logits and a box from a small CNN,
# loss = cross entropy + smooth L1 inside forward(images, targets)) on
# synthetic images with one bright box each, from a .npz as a Python
# pipeline would save it (targets [N, 5] float: class, x0, y0, x1, y1).
#   1. probe and sweep run on the model's own loss; the loss falls in every
#      arm; the recommendation is made on it; the report says loss "model",
#      task "model_defined" and no accuracy;
#   2. a model whose forward takes only inputs, with --loss model: exit 3,
#      one line naming forward(inputs, targets);
#   3. --loss model with a built-in model: exit 2, one line;
#   4. the detector without --loss model: exit 3, one line naming --loss model;
#   5. a loss returned detached, and one of integer type: exit 3, one line
#      each saying what is wrong with it (not autograd's own text).
# Usage: model_loss.sh BATCHTUNE FIXTURES_DIR
set -u
bt=$1
fixtures=$2
py=/usr/bin/python3
dir=$(mktemp -d /tmp/batchtune-model-loss-XXXXXX)
trap 'rm -rf "$dir"' EXIT
# shellcheck source=../support/check.sh
source "$(dirname "$0")/../support/check.sh"
$py - "$dir/boxes.npz" <<'PY'
import sys
import numpy as np
rng = np.random.default_rng(0)
n = 1200
x = np.zeros((n, 1, 16, 16), np.float32)
y = np.zeros((n, 5), np.float32)
for i in range(n):
    c = rng.integers(0, 3)            # the class is the box's size: 3, 6 or 9 pixels
    side = 3 * (c + 1)
    x0, y0 = rng.integers(0, 16 - side, size=2)
    x[i, 0, y0:y0 + side, x0:x0 + side] = 1.0
    x[i] += rng.normal(0, 0.1, size=(1, 16, 16)).astype(np.float32)
    y[i] = [c, x0 / 16, y0 / 16, (x0 + side) / 16, (y0 + side) / 16]
np.savez(sys.argv[1], x=x, y=y)
PY
check "the box data is written" $?

"$bt" sweep --model "$fixtures/tiny_detector.pt" --data npy --data-file "$dir/boxes.npz" --loss model \
  --batch-sizes 8,32,128 --budget samples=4000 --eval-samples 120 --noise-repeats 4 --threads 1 \
  --memory-limit 256MiB --lr 0.05 -o "$dir/detector.json" >"$dir/detector.out" 2>"$dir/detector.err"
code=$?
echo "  detector sweep: exit $code; $(grep -m1 'recommendation' "$dir/detector.out")"
[[ $code -eq 0 ]]
check "the detector's probe and sweep run on its own loss" $?
$py - "$dir/detector.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
w, s, rec = r["workload"], r["sweep"], r["recommendation"]
assert w["loss"] == "model" and w["task"] == "model_defined", (w["loss"], w["task"])
assert r["probe"]["safe_max_batch"] >= 128
for a in s["arms"]:
    assert a["status"] == "completed", a["message"]
    first, last = a["train_loss"][0]["loss"], a["evaluations"][-1]["loss"]
    assert last < 0.8 * first, f"batch {a['batch_size']}: loss {first:.3f} -> {last:.3f}"
    assert a["final_validation_accuracy"] is None
    print(f"  batch {a['batch_size']}: loss {first:.3f} -> {last:.3f} (validation)")
assert rec["status"] == "recommended" and rec["batch_size"], rec["reasons"]
assert rec["target_loss"] == s["target_loss"]
print(f"  recommended batch {rec['batch_size']} for the model's own loss {rec['target_loss']:.4f}")
PY
check "its loss falls at every size, no accuracy is claimed, and the recommendation is on its loss" $?

"$bt" sweep --model "$fixtures/tiny_cnn.pt" --data synthetic --input-shape 1x28x28 --num-classes 10 --loss model \
  --batch-sizes 8 --budget samples=64 -o "$dir/bad.json" >/dev/null 2>"$dir/bad.err"
code=$?
echo "  forward(x) only: exit $code: $(cat "$dir/bad.err")"
[[ $code -eq 3 && $(wc -l <"$dir/bad.err") -eq 1 && ! -e $dir/bad.json ]] && grep -q "forward(inputs, targets)" "$dir/bad.err"
check "--loss model on a model whose forward takes only inputs: exit 3, one line" $?

"$bt" sweep --model mlp --loss model -o "$dir/bad2.json" >/dev/null 2>"$dir/bad2.err"
code=$?
[[ $code -eq 2 && $(wc -l <"$dir/bad2.err") -eq 1 ]]
check "--loss model with a built-in model: exit 2, one line" $?

"$bt" sweep --model "$fixtures/tiny_detector.pt" --data npy --data-file "$dir/boxes.npz" \
  --batch-sizes 8 --budget samples=64 --threads 1 -o "$dir/bad3.json" >/dev/null 2>"$dir/bad3.err"
code=$?
echo "  the detector without --loss model: exit $code: $(cat "$dir/bad3.err")"
[[ $code -eq 3 && $(wc -l <"$dir/bad3.err") -eq 1 && ! -e $dir/bad3.json ]] && grep -q -- "needs --loss model" "$dir/bad3.err"
check "a model whose forward wants targets, run without --loss model: exit 3, one line naming --loss model" $?

cat >"$dir/make_models.py" <<'PY'
import sys
import torch
from torch import nn

class Detached(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(256, 3)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return nn.functional.cross_entropy(self.fc(x.flatten(1)), y[:, 0].long()).detach()

class Counted(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(256, 3)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return (self.fc(x.flatten(1)).argmax(1) != y[:, 0].long()).sum()

torch.jit.script(Detached()).save(sys.argv[1] + "/detached.pt")
torch.jit.script(Counted()).save(sys.argv[1] + "/counted.pt")
PY
$py "$dir/make_models.py" "$dir"
check "the detached and integer-loss models are scripted" $?
for m in detached counted; do
  "$bt" sweep --model "$dir/$m.pt" --data npy --data-file "$dir/boxes.npz" --loss model \
    --batch-sizes 8 --budget samples=64 --threads 1 -o "$dir/$m.json" >/dev/null 2>"$dir/$m.err"
  code=$?
  echo "  $m loss: exit $code: $(cat "$dir/$m.err")"
  [[ $code -eq 3 && $(wc -l <"$dir/$m.err") -eq 1 && ! -e $dir/$m.json ]] && \
    grep -q -- "returned a loss \(that does not depend\|of integer type\)" "$dir/$m.err" && ! grep -q "does not require grad" "$dir/$m.err"
  check "--loss model with a $m loss: exit 3, one line that says what is wrong" $?
done

check_summary

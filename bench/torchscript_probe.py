#!/usr/bin/python3
"""The probe on TorchScript models, with and without the JIT's graph optimisations.

Each probe trial clones a fresh module and trains it at a new batch size; with
the graph executor's optimisations on (torch.jit's default, `--jit-optimize
on`) every trial pays the profiling executor's warm-up at its new shape, and
the optimised training graph may keep more memory. By default batchtune runs
TorchScript models unoptimised, op by op, as eager PyTorch (probe and sweep
alike). Both, alternated, twice each, on: a GRU cell written out op by op
and looped over 200 time steps (exported here from Python), the scripted
CNN fixture. Probe seconds, trials and the largest fitting batch, with
ratios.

    bench/torchscript_probe.py [BATCHTUNE] [OUT.json]

About a minute on 2 cores. Results in bench/results/torchscript_probe.json.
"""
import json
import os
import re
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build/dev/batchtune")
OUT = sys.argv[2] if len(sys.argv) > 2 else os.path.join(ROOT, "bench/results/torchscript_probe.json")

EXPORT = r'''
import sys, torch, torch.nn as nn, torchvision
class LoopedGru(nn.Module):
    """A GRU cell written out op by op, looped over 200 steps of 8 features."""
    def __init__(self, width: int = 96):
        super().__init__()
        self.x2h = nn.Linear(8, 3 * width)
        self.h2h = nn.Linear(width, 3 * width)
        self.fc = nn.Linear(width, 10)
        self.width = width
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        seq = x.reshape(x.size(0), 200, 8)
        h = torch.zeros(x.size(0), self.width, dtype=x.dtype, device=x.device)
        for t in range(seq.size(1)):
            xr, xz, xn = self.x2h(seq[:, t]).chunk(3, 1)
            hr, hz, hn = self.h2h(h).chunk(3, 1)
            r = torch.sigmoid(xr + hr)
            z = torch.sigmoid(xz + hz)
            n = torch.tanh(xn + r * hn)
            h = (1 - z) * n + z * h
        return self.fc(h)
torch.jit.script(LoopedGru()).save(sys.argv[1])
torch.jit.script(torchvision.models.resnet18(num_classes=10)).save(sys.argv[2])
'''


def probe(args, optimize):
    cmd = [BT, "probe", *args] + (["--jit-optimize", "on"] if optimize else [])
    start = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - start
    trials = re.search(r"trials +(\d+) in ([0-9.]+) s", p.stdout)
    edge = re.search(r"largest fitting batch (\d+)", p.stdout)
    return {"wall_seconds": wall, "trials": int(trials.group(1)), "trial_seconds": float(trials.group(2)),
            "largest_fitting_batch": int(edge.group(1))}


def main():
    with tempfile.TemporaryDirectory() as work:
        gru, resnet = os.path.join(work, "gru.pt"), os.path.join(work, "resnet18.pt")
        script = os.path.join(work, "export.py")  # torch.jit.script reads the class's source from a file
        with open(script, "w") as f:
            f.write(EXPORT)
        subprocess.run(["/usr/bin/python3", script, gru, resnet], check=True)
        cases = [
            ("looped GRU cell", ["--model", gru, "--data", "synthetic", "--input-shape", "1600", "--num-classes", "10",
                                 "--memory-limit", "512MiB"]),
            ("CNN fixture", ["--model", os.path.join(ROOT, "tests/fixtures/tiny_cnn.pt"), "--data", "synthetic",
                             "--input-shape", "1x28x28", "--num-classes", "10", "--memory-limit", "256MiB"]),
            # torchvision's ResNet-18 (3x32x32, 1 GiB) took 134.8/139.1 s optimised against 137.1/133.8 s op by
            # op, edge 1962 both ways (2026-12-07): left out of the default run for its 9 minutes.
        ]
        rows = []
        for name, args in cases:
            runs = {False: [], True: []}
            for _ in range(2):
                for optimize in (True, False):
                    runs[optimize].append(probe(args, optimize))
            row = {"model": name}
            for optimize, label in ((True, "optimised"), (False, "default")):
                r = runs[optimize]
                row[label] = {"trial_seconds": [x["trial_seconds"] for x in r], "trials": r[0]["trials"],
                              "largest_fitting_batch": [x["largest_fitting_batch"] for x in r]}
            best = lambda label: min(row[label]["trial_seconds"])
            row["seconds_ratio"] = best("default") / best("optimised")
            row["edge_ratio"] = row["default"]["largest_fitting_batch"][0] / row["optimised"]["largest_fitting_batch"][0]
            rows.append(row)
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump({"date": time.strftime("%Y-%m-%d"), "rows": rows}, f, indent=2)
    print("| model | probe s, --jit-optimize on | probe s, default | ratio | edge, --jit-optimize on | edge, default |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in rows:
        o, d = r["optimised"], r["default"]
        print(f"| {r['model']} | {' / '.join(f'{s:.2f}' for s in o['trial_seconds'])} | "
              f"{' / '.join(f'{s:.2f}' for s in d['trial_seconds'])} | {r['seconds_ratio']:.2f} | "
              f"{' / '.join(map(str, o['largest_fitting_batch']))} | {' / '.join(map(str, d['largest_fitting_batch']))} |")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()

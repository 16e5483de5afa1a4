#!/usr/bin/python3
"""Does the sweep's step clock predict a real run's wall time?

For each condition (a quiet machine, one CPU hog beside it) and thread count
(1, and all cores), one short sweep times batch sizes 64 and 256 of the
default mlp on Fashion-MNIST; then `batchtune train` runs one real epoch at
each size in the same condition, and its training wall time (the sum of its
logged intervals: every step, the first included) is set against the
sweep's prediction: the epoch's steps times the arm's step clock (the mean
step), and, for contrast, times the arm's median step (the clock before
issue 31). A ratio of 1.00 is a perfect prediction.

    bench/step_clock.py [BATCHTUNE] [OUT.json]

BATCHTUNE defaults to build/dev/batchtune; OUT to
bench/results/step_clock.json. About 3 minutes on 2 cores.
"""
import json
import math
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build/dev/batchtune")
OUT = sys.argv[2] if len(sys.argv) > 2 else os.path.join(ROOT, "bench/results/step_clock.json")
SIZES = [64, 256]
TRAIN_SAMPLES = 60000  # Fashion-MNIST's training set: one epoch
CORES = len(os.sched_getaffinity(0))


def hog():
    """One busy process (a build, a browser) beside the tune."""
    return subprocess.Popen([sys.executable, "-c", "while True: pass"])


def sweep(threads, work):
    out = os.path.join(work, f"sweep-{threads}.json")
    subprocess.run([BT, "sweep", "--model", "mlp", "--data", "fashion-mnist", "--batch-sizes",
                    ",".join(map(str, SIZES)), "--budget", "samples=16384", "--eval-samples", "512",
                    "--noise-repeats", "0", "--threads", str(threads), "-o", out],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open(out) as f:
        return json.load(f)


def real_run_seconds(threads, batch):
    """One real epoch at `batch`: the training wall time batchtune train logs."""
    steps = math.ceil(TRAIN_SAMPLES / batch)
    p = subprocess.run([BT, "train", "-b", str(batch), "--steps", str(steps), "--threads", str(threads),
                        "--eval-samples", "256", "--log-every", "1", "--json"],
                       check=True, capture_output=True, text=True)
    log = json.loads(p.stdout)["log"]
    seconds, last_step = 0.0, 0
    for entry in log:
        seconds += (entry["step"] - last_step) * batch / entry["samples_per_s"]
        last_step = entry["step"]
    return steps, seconds


def main():
    rows = []
    with tempfile.TemporaryDirectory() as work:
        for condition in ("quiet", "hog"):
            for threads in sorted({1, CORES}):
                h = hog() if condition == "hog" else None
                try:
                    time.sleep(0.5 if h else 0)
                    report = sweep(threads, work)
                    arms = {a["batch_size"]: a for a in report["sweep"]["arms"]}
                    flagged = [r for r in report["recommendation"]["reasons"] if r.startswith("Timing unreliable")]
                    for batch in SIZES:
                        steps, real = real_run_seconds(threads, batch)
                        a = arms[batch]
                        rows.append({
                            "condition": condition, "threads": threads, "batch_size": batch, "steps": steps,
                            "real_seconds": real,
                            "clock_seconds": steps * a["mean_step_seconds"],
                            "median_seconds": steps * a["median_step_seconds"],
                            "clock_ratio": steps * a["mean_step_seconds"] / real,
                            "median_ratio": steps * a["median_step_seconds"] / real,
                            "other_cpu_cores": a.get("other_cpu_cores"),
                            "flagged": flagged[0] if flagged else None,
                        })
                finally:
                    if h:
                        h.kill()
                        h.wait()
    result = {"machine_cores": CORES, "sizes": SIZES, "epoch_samples": TRAIN_SAMPLES,
              "date": time.strftime("%Y-%m-%d"), "rows": rows}
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(result, f, indent=2)
    print("| condition | threads | batch | real epoch | clock x steps | ratio | median x steps | ratio | others' cores | flagged |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in rows:
        print(f"| {r['condition']} | {r['threads']} | {r['batch_size']} | {r['real_seconds']:.2f} s | "
              f"{r['clock_seconds']:.2f} s | {r['clock_ratio']:.2f} | {r['median_seconds']:.2f} s | "
              f"{r['median_ratio']:.2f} | {r['other_cpu_cores'] if r['other_cpu_cores'] is None else round(r['other_cpu_cores'], 2)} | "
              f"{'yes' if r['flagged'] else 'no'} |")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""Is the whole-run answer right on workloads it was not tuned on?

Ground truth from full runs of the planned length, on several workloads that
differ in architecture, optimizer and loss, against `batchtune sweep
--train-samples N` (the whole-run tune) on the same workload. The workloads
are the WORKLOADS table below; two are for development (rules and defaults
are chosen looking at them), the others are held out (reported, never tuned
on). bench/README.md says which is which and keeps the table of results.

  bench/whole_run_truth.py prepare            export the models and data (Python, Debian's torch)
  bench/whole_run_truth.py truth  [NAME ...]  full runs: every size x rate factor x seed
  bench/whole_run_truth.py extend [NAME ...]  full runs carried on past the planned end (EXTEND=2 times) at the first size that missed the target
  bench/whole_run_truth.py timing [NAME ...]  this machine's step time per size, from short runs (the truth's clock)
  bench/whole_run_truth.py tune   [NAME ...]  whole-run tunes (TUNE_SEEDS), timed; HOG=1: beside a CPU hog
  bench/whole_run_truth.py judge  [NAME ...]  the kept tunes re-targeted at the truth's target (report --target-loss)
  bench/whole_run_truth.py table  [NAME ...]  the results table (bench/README.md's), from the kept JSON

Kept in bench/results/whole_run/ (committed, small): NAME.truth.json (every
full run's validation curve, so any target can be read off it again), NAME.
timing.json, NAME.tunes[-hog][-LABEL].json (what each tune recommended and
predicted). A rerun of `tune` against the same truth costs only the tunes.
Work files (models, data, the full runs' reports) go to BATCHTUNE_BENCH_WORK
(default build/bench-work).

Environment: BATCHTUNE (the binary, default build/dev/batchtune), JOBS (full
runs at once, default 2), TUNE_SEEDS (default "0 1 2"), LABEL (a name for a
set of tunes, e.g. "before"), TUNE_ARGS (more options for the tunes).

The truth of one workload:
  - each full run is `batchtune sweep --batch-sizes B --force --budget
    samples=RUN` at the rule's rate from the base batch times a factor,
    evaluated 40 times, constant rate after a 5% warm-up (as the tune's trunk);
  - the target is the base batch's real final validation loss at the rule's
    rate (the mean of the last two evaluations, the worse seed), which is
    what the tune's default target predicts;
  - steps to the target per size: for each factor the mean over seeds (a
    size counts where every seed reached it), then the best factor;
  - true time = steps x t(B), with t(B) this workload's quiet step-time
    table (`timing`), and again with a GPU-like t(B) = t0 (1 + B/1024);
  - B_crit: S(B) = S_min (1 + B_crit/B) fitted to the steps in log space.
"""
import json
import math
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
RESULTS = os.path.join(ROOT, "bench", "results", "whole_run")
WORK = os.path.abspath(os.environ.get("BATCHTUNE_BENCH_WORK", os.path.join(ROOT, "build", "bench-work")))
BT = os.path.abspath(os.environ.get("BATCHTUNE", os.path.join(ROOT, "build", "dev", "batchtune")))
FMNIST = "/usr/share/datasets/fashion-mnist"
POW2 = [16, 32, 64, 128, 256, 512, 1024, 2048, 4096]

# One row per workload. `args` are the workload options (both the full runs
# and the tunes get them); `run` the planned run in samples; `sizes` the full
# runs' sizes (powers of two from 16 up to where neither throughput nor steps
# improve); `lr` the rate at `base`; `rule` the scaling rule; `threads` the
# LibTorch threads of every command of this workload.
WORKLOADS = [
    {"name": "mlp-sgd", "role": "development",
     "what": "the default mlp (784-256-128-10), Fashion-MNIST, SGD momentum 0.9, cross-entropy; 10 epochs",
     "args": [], "run": 600_000, "base": 64, "lr": 0.01, "rule": "linear",
     "sizes": POW2, "factors": [0.5, 1, 2], "eval_samples": 5000},
    {"name": "lngelu-adam", "role": "development",
     "what": "a LayerNorm/GELU MLP exported from Python (TorchScript), Fashion-MNIST, Adam; 5 epochs",
     "args": ["--model", "{work}/lngelu_mlp.pt", "--optimizer", "adam"],
     "run": 300_000, "base": 64, "lr": 1e-3, "rule": "sqrt",
     "sizes": POW2, "factors": [0.5, 1, 2], "eval_samples": 5000},
    {"name": "cnn-bn-sgd", "role": "held out",
     "what": "a small CNN with batch norm exported from Python (tests/fixtures/tiny_cnn.pt: conv 8 3x3, BN, ReLU, "
             "max-pool, linear), Fashion-MNIST, SGD momentum 0.9; 3 epochs",
     "args": ["--model", "{root}/tests/fixtures/tiny_cnn.pt"],
     "run": 180_000, "base": 64, "lr": 0.01, "rule": "linear",
     "sizes": POW2[:-1], "factors": [0.5, 1, 2], "eval_samples": 2000},
    {"name": "gpt-adamw-code", "role": "held out",
     "what": "the built-in GPT (2 layers, width 32, context 32, 128 symbols), characters of Python's standard "
             "library (2 MB), AdamW; one epoch",
     "args": ["--model", "gpt", "--data", "tokens", "--data-file", "{work}/stdlib.tokens", "--gpt-vocab", "128",
              "--gpt-width", "32", "--optimizer", "adamw"],
     "run": 56_000, "base": 64, "lr": 1e-3, "rule": "sqrt",
     "sizes": POW2[:-2], "factors": [0.5, 1, 2], "eval_samples": 2000},
    {"name": "ownloss-aux-sgd", "role": "held out",
     "what": "a TorchScript classifier that computes its own loss (cross-entropy + 0.5 x reconstruction), "
             "20,000 Fashion-MNIST images as .npz, --loss model, SGD; 10 epochs",
     "args": ["--model", "{work}/aux_classifier.pt", "--data", "npy", "--data-file", "{work}/fmnist20k.npz",
              "--loss", "model"],
     "run": 200_000, "base": 64, "lr": 0.01, "rule": "linear",
     "sizes": POW2, "factors": [0.5, 1, 2], "eval_samples": 5000},
]
BY_NAME = {w["name"]: w for w in WORKLOADS}


def workload_args(w):
    return [a.replace("{work}", WORK).replace("{root}", ROOT) for a in w["args"]] + ["--threads", str(w.get("threads", 1))]


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def run_bt(args, out_json=None, check=True):
    cmd = [BT] + args + (["-o", out_json] if out_json else [])
    start = time.monotonic()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wall = time.monotonic() - start
    if check and p.returncode not in (0,):
        log(f"  exit {p.returncode}: {' '.join(cmd)}\n  {p.stderr.strip().splitlines()[-1] if p.stderr.strip() else ''}")
    return p, wall


# ---------------------------------------------------------------- prepare
def prepare():
    """The Python side a user would have: two exported models, an .npz of
    Fashion-MNIST, a token file of real text."""
    import gzip
    import glob
    import numpy as np
    import torch
    from torch import nn
    import torch.nn.functional as F
    os.makedirs(WORK, exist_ok=True)
    torch.manual_seed(0)

    class LnGeluMlp(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.LayerNorm(256), nn.GELU(),
                                      nn.Linear(256, 128), nn.LayerNorm(128), nn.GELU(), nn.Linear(128, 10))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.body(x)

    class AuxClassifier(nn.Module):
        """Classes and a reconstruction from one hidden layer: the loss is the
        model's own (cross-entropy + 0.5 x mean squared reconstruction error)."""
        def __init__(self):
            super().__init__()
            self.enc = nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU())
            self.cls = nn.Linear(128, 10)
            self.dec = nn.Linear(128, 784)

        def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            h = self.enc(x)
            rec = self.dec(h).view(x.shape)
            return F.cross_entropy(self.cls(h), y) + 0.5 * F.mse_loss(rec, x)

    torch.jit.script(LnGeluMlp()).save(os.path.join(WORK, "lngelu_mlp.pt"))
    torch.jit.script(AuxClassifier()).save(os.path.join(WORK, "aux_classifier.pt"))

    def idx(name):
        with gzip.open(os.path.join(FMNIST, name)) as f:
            data = f.read()
        dims = data[3]
        shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
        return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)
    xtr, ytr = idx("train-images-idx3-ubyte.gz"), idx("train-labels-idx1-ubyte.gz")
    xte, yte = idx("t10k-images-idx3-ubyte.gz"), idx("t10k-labels-idx1-ubyte.gz")
    rng = np.random.default_rng(0)
    pick = rng.permutation(len(xtr))[:20000]
    mean, std = xtr[pick].mean() / 255.0, xtr[pick].std() / 255.0
    def norm(x):
        return ((x.astype(np.float32) / 255.0 - mean) / std)[:, None, :, :]
    np.savez(os.path.join(WORK, "fmnist20k.npz"), x=norm(xtr[pick]), y=ytr[pick].astype(np.int64),
             x_val=norm(xte[:5000]), y_val=yte[:5000].astype(np.int64))

    # Characters of Python's standard library (sorted file names, 2 MB),
    # printable ASCII mapped to 1..95, anything else to 0: 128 symbols.
    text = bytearray()
    for path in sorted(glob.glob("/usr/lib/python3.11/*.py")):
        with open(path, "rb") as f:
            text += f.read()
        if len(text) >= 2_000_000:
            break
    tokens = np.array([b - 31 if 32 <= b < 127 else (96 if b == 10 else 0) for b in text[:2_000_000]],
                      dtype="<u2")
    tokens.tofile(os.path.join(WORK, "stdlib.tokens"))
    log(f"prepared in {WORK}: lngelu_mlp.pt, aux_classifier.pt, fmnist20k.npz, stdlib.tokens ({len(tokens)} tokens)")


# ---------------------------------------------------------------- truth
def full_run_path(w, seed, factor, b, scale=1):
    return os.path.join(WORK, w["name"], f"full-{seed}-{factor}-{b}{'' if scale == 1 else f'-x{scale}'}.json")


def full_run(w, seed, factor, b, scale=1):
    """One full run; `scale` > 1 runs that many times the planned samples
    with the same warm-up steps and evaluation cadence (an extension: the
    same run, carried on past the planned end)."""
    path = full_run_path(w, seed, factor, b, scale)
    if os.path.exists(path):
        return
    if os.path.exists(path + ".part"):  # written (atomically) by a run whose driver was stopped
        try:
            json.load(open(path + ".part"))
            os.replace(path + ".part", path)
            return
        except ValueError:
            pass
    lr = w["lr"] * factor
    args = ["sweep", "--batch-sizes", str(b), "--force", "--budget", f"samples={w['run'] * scale}", "--lr", repr(lr),
            "--lr-scaling", w["rule"], "--base-batch", str(w["base"]), "--eval-every", str(w["run"] // 40),
            "--eval-samples", str(w["eval_samples"]), "--noise-repeats", "0", "--warmup", repr(0.05 / scale),
            "--seed", str(seed)] + workload_args(w)
    log(f"  full run {w['name']}: seed {seed}, factor {factor}, batch {b}{'' if scale == 1 else f', {scale}x the run'}")
    p, wall = run_bt(args, path + ".part", check=False)
    if os.path.exists(path + ".part"):
        os.replace(path + ".part", path)
    else:
        log(f"  no report: exit {p.returncode}: {p.stderr.strip()[-300:]}")


def truth(names):
    jobs = int(os.environ.get("JOBS", "2"))
    for name in names:
        w = BY_NAME[name]
        os.makedirs(os.path.join(WORK, name), exist_ok=True)
        start = time.monotonic()
        planned_runs = [(s, f, b) for s in (1, 2) for f in w["factors"] for b in w["sizes"]]
        with ThreadPoolExecutor(jobs) as ex:
            list(ex.map(lambda t: full_run(w, *t), planned_runs))
        runs = []
        for s, f, b in planned_runs:
            path = full_run_path(w, s, f, b)
            if not os.path.exists(path):
                continue
            rep = json.load(open(path))
            for a in rep["sweep"]["arms"]:
                runs.append({"seed": s, "factor": f, "batch_size": a["batch_size"],
                             "learning_rate": a.get("learning_rate"), "status": a.get("status"),
                             "steps": a.get("steps"), "samples": a.get("samples"),
                             "train_seconds": a.get("train_seconds"),
                             "evaluations": [[e["step"], e["samples"], e["loss"]]
                                             for e in a.get("evaluations") or []]})
        out = {"workload": w, "wall_seconds": round(time.monotonic() - start, 1), "jobs": jobs,
               "machine": machine(), "runs": runs}
        os.makedirs(RESULTS, exist_ok=True)
        json.dump(out, open(os.path.join(RESULTS, f"{name}.truth.json"), "w"))
        log(f"{name}: {len(runs)} full runs kept in {RESULTS}/{name}.truth.json")


def extend(names):
    """Full runs carried on past the planned end (EXTEND times its samples,
    default 2) at the smallest size above the base batch that reached the
    target at no rate within the planned run (EXTEND_SIZES="1024 2048" names
    others): a tune may pick a size that needs more samples than the plan,
    and its true time is then its steps to the target all the same. Kept in
    the truth as extended_runs; steps to the target read them in place of
    the planned runs at the same (seed, rate, size)."""
    scale = int(os.environ.get("EXTEND", "2"))
    jobs = int(os.environ.get("JOBS", "2"))
    for name in names:
        w = BY_NAME[name]
        t = load_truth(name)
        if not t:
            log(f"{name}: no truth yet (run truth first)")
            continue
        if os.environ.get("EXTEND_SIZES"):
            sizes = [int(x) for x in os.environ["EXTEND_SIZES"].split()]
        else:
            missing = [b for b in w["sizes"] if b > w["base"] and b not in t["steps"]]
            sizes = missing[:1]
        if not sizes:
            log(f"{name}: every size reached the target within the planned run; nothing to extend")
            continue
        start = time.monotonic()
        planned = [(s_, f, b) for s_ in (1, 2) for f in w["factors"] for b in sizes]
        with ThreadPoolExecutor(jobs) as ex:
            list(ex.map(lambda x: full_run(w, *x, scale=scale), planned))
        raw = json.load(open(os.path.join(RESULTS, f"{name}.truth.json")))
        kept = [r for r in raw.get("extended_runs", []) if not (r["batch_size"] in sizes and r["scale"] == scale)]
        for s_, f, b in planned:
            path = full_run_path(w, s_, f, b, scale)
            if not os.path.exists(path):
                continue
            for a in json.load(open(path))["sweep"]["arms"]:
                kept.append({"seed": s_, "factor": f, "batch_size": a["batch_size"], "scale": scale,
                             "learning_rate": a.get("learning_rate"), "status": a.get("status"),
                             "steps": a.get("steps"), "samples": a.get("samples"),
                             "train_seconds": a.get("train_seconds"),
                             "evaluations": [[e["step"], e["samples"], e["loss"]]
                                             for e in a.get("evaluations") or []]})
        raw["extended_runs"] = kept
        raw["extended_wall_seconds"] = round(time.monotonic() - start, 1)
        json.dump(raw, open(os.path.join(RESULTS, f"{name}.truth.json"), "w"))
        after = load_truth(name)
        log(f"{name}: extended {sizes} to {scale}x the run; steps to target now "
            + ", ".join(f"{b}: {after['steps'][b]:.0f}" for b in sorted(after["steps"])))


def machine():
    return {"cpus": os.cpu_count(), "host": os.uname().nodename, "date": time.strftime("%Y-%m-%d")}


# ---------------------------------------------------------------- timing
def timing(names):
    """This machine's step time per size, as a run meets it: a short run at
    each size (`sweep --budget steps=N`, the sampler's shuffled batches,
    evaluations apart), its mean step (training seconds / steps: stalls
    count, as in a real run), the sizes interleaved and the whole repeated
    REPEATS times (default 3), each size's median. The throughput scan's
    medians are not this clock: on mlp at 256 they read 2.7 ms where runs
    took 3.2-4.3 ms, and runs themselves move by 25% from one to the next
    on this VM, hence the repeats. N gives each run about a second."""
    repeats = int(os.environ.get("REPEATS", "3"))
    for name in names:
        w = BY_NAME[name]
        os.makedirs(os.path.join(WORK, name), exist_ok=True)
        old = os.path.join(RESULTS, f"{name}.timing.json")
        guess = dict((b, t) for b, t in json.load(open(old))["step_seconds"]) if os.path.exists(old) else {}
        per = {}
        for rep in range(repeats):
            for b in (w["sizes"] if rep % 2 == 0 else list(reversed(w["sizes"]))):
                steps = max(20, min(2000, math.ceil(1.0 / guess.get(b, 0.005))))
                path = os.path.join(WORK, name, f"timing-{b}.json")
                args = ["sweep", "--batch-sizes", str(b), "--force", "--budget", f"steps={steps}",
                        "--lr", repr(w["lr"]), "--lr-scaling", w["rule"], "--base-batch", str(w["base"]),
                        "--eval-every", "1000000000", "--noise-repeats", "0", "--warmup", "0.05",
                        "--seed", str(1 + rep)] + workload_args(w)
                p, _ = run_bt(args, path)
                if p.returncode != 0:
                    continue
                a = json.load(open(path))["sweep"]["arms"][0]
                if a.get("steps"):
                    per.setdefault(b, []).append(a["train_seconds"] / a["steps"])
        table = [[b, statistics.median(v)] for b, v in sorted(per.items())]
        if not table:
            continue
        json.dump({"workload": name, "machine": machine(), "repeats": repeats, "method": "short runs' mean step",
                   "step_seconds": table, "all": {str(b): v for b, v in sorted(per.items())}},
                  open(old, "w"), indent=1)
        log(f"{name}: step times " + ", ".join(f"{b}: {t * 1e3:.2f} ms" for b, t in table))


# ---------------------------------------------------------------- tune
def tune(names):
    seeds = os.environ.get("TUNE_SEEDS", "0 1 2").split()
    hog = os.environ.get("HOG") == "1"
    label = os.environ.get("LABEL", "")
    extra = os.environ.get("TUNE_ARGS", "").split()
    for name in names:
        w = BY_NAME[name]
        os.makedirs(os.path.join(WORK, name), exist_ok=True)
        tr = load_truth(name)
        rows = []
        for s in seeds:
            path = os.path.join(WORK, name, f"tune-{s}{'-hog' if hog else ''}{'-' + label if label else ''}.json")
            hog_procs = []
            if hog:  # one busy process per core: what a parallel build beside the tune does
                hog_procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
                             for _ in range(os.cpu_count() or 1)]
            try:
                p, wall = run_bt(["sweep", "--train-samples", str(w["run"]), "--base-batch", str(w["base"]),
                                  "--lr", repr(w["lr"]), "--lr-scaling", w["rule"], "--seed", s]
                                 + workload_args(w) + extra, path)
            finally:
                for h in hog_procs:
                    h.kill()
            if p.returncode not in (0,) or not os.path.exists(path):
                rows.append({"seed": s, "exit": p.returncode, "error": p.stderr.strip()[-400:]})
                continue
            row = summarise_tune(json.load(open(path)), wall)
            row["seed"] = s
            row["report"] = path
            rows.append(row)
            log(f"{name} tune seed {s}: {row.get('batch_size')} (wall {wall:.1f} s)")
        out = {"workload": name, "hog": hog, "label": label, "tune_args": extra, "machine": machine(), "tunes": rows}
        suffix = ("-hog" if hog else "") + ("-" + label if label else "")
        path = os.path.join(RESULTS, f"{name}.tunes{suffix}.json")
        json.dump(out, open(path, "w"), indent=1)
        if tr:
            judge_file(path)


def judge_file(path, out_path=None):
    """Each kept tune judged by this binary: re-analysed at its own default
    target (`report TUNE --step-times TUNE`: the same measurements, this
    binary's analysis), and re-targeted at the truth's target (`report
    --target-loss`) on this machine's t(B) and on a GPU-like one
    (`--step-times`). Cheap: nothing trains. Needs the tunes' reports in
    WORK. Written to out_path (default: in place)."""
    data = json.load(open(path))
    name = data["workload"]
    tr = load_truth(name)
    if not tr:
        return
    for row in data["tunes"]:
        rep = row.get("report")
        if not rep or not os.path.exists(rep):
            continue
        tag = "-" + os.path.basename(out_path or path).replace(".json", "")
        rd = rep.replace(".json", tag + "-default.json")
        p, _ = run_bt(["report", rep, "--step-times", rep], rd)
        if p.returncode == 0:
            row["default_recomputed"] = summarise_tune(json.load(open(rd)), None)
        rt = rep.replace(".json", tag + "-at-truth.json")
        p, _ = run_bt(["report", rep, "--target-loss", repr(tr["target"])], rt)
        row["at_truth_target"] = summarise_tune(json.load(open(rt)), None) if p.returncode == 0 else \
            {"error": p.stderr.strip()[-300:]}
        # The GPU-like t(B) = t0 (1 + B/1024), t0 from this tune's own t(64).
        r = json.load(open(rep))
        table = [(s["batch_size"], s["step_s"]) for s in r["whole_run"]["step_seconds"]]
        synth = synthetic(table)
        r["whole_run"]["step_seconds"] = [{"batch_size": b, "step_s": t} for b, t in synth]
        r["sweep"]["throughput_scan"] = []
        steps_file = rep.replace(".json", "-synthetic-steps.json")
        json.dump(r, open(steps_file, "w"))
        rs = rep.replace(".json", tag + "-at-truth-synthetic.json")
        p, _ = run_bt(["report", rep, "--target-loss", repr(tr["target"]), "--step-times", steps_file], rs)
        row["at_truth_target_synthetic"] = summarise_tune(json.load(open(rs)), None) if p.returncode == 0 else \
            {"error": p.stderr.strip()[-300:]}
        row["synthetic_step_seconds"] = synth
    if out_path:
        data["label"] = (data.get("label") or "") + (" " if data.get("label") else "") + \
            os.environ.get("JUDGE_LABEL", "rejudged")
    json.dump(data, open(out_path or path, "w"), indent=1)


def judge(names):
    """JUDGE_LABEL=after: the kept tunes judged by this binary, written beside
    them as NAME.tunes-after.json (the tunes themselves untouched)."""
    label = os.environ.get("JUDGE_LABEL")
    for name in names:
        for f in sorted(os.listdir(RESULTS)):
            if f.startswith(name + ".tunes") and (not label or "-judged-" not in f):
                src = os.path.join(RESULTS, f)
                dst = src.replace(".json", f"-judged-{label}.json") if label else None
                judge_file(src, dst)


def summarise_tune(rep, wall):
    rec = rep.get("recommendation") or {}
    w = rep.get("whole_run") or {}
    preds = [{"batch_size": p.get("batch_size"), "seconds": p.get("seconds"), "low": p.get("seconds_low"),
              "high": p.get("seconds_high"), "learning_rate": p.get("learning_rate")}
             for p in w.get("predictions") or []]
    bound = any(bp.get("lower_bound") for bp in w.get("branch_points") or [])
    return {"batch_size": rec.get("batch_size"), "learning_rate": rec.get("learning_rate"),
            "confidence": rec.get("confidence"), "status": rec.get("status"),
            "target_loss": w.get("target_loss"), "target_source": w.get("target_source"),
            "target_loss_error": w.get("target_loss_error"),
            "critical_batch_at_target": w.get("critical_batch_at_target"),
            "critical_batch_low": w.get("critical_batch_at_target_low"),
            "critical_batch_high": w.get("critical_batch_at_target_high"),
            "lower_bound_at_a_point": bound,
            "largest_arm": max([a["batch_size"] for bp in w.get("branch_points") or [] for a in bp.get("arms") or []
                                if a.get("samples_ratio") is not None] or [None]) if w.get("branch_points") else None,
            "next_arm_size": w.get("next_arm_size"), "tune_share_for_next_arm": w.get("tune_share_for_next_arm"),
            "other_cpu_cores": w.get("other_cpu_cores"),
            "step_seconds": [[s["batch_size"], s["step_s"]] for s in w.get("step_seconds") or []],
            "predictions": preds, "phase_seconds": (rep.get("sweep") or {}).get("phase_seconds"),
            "tune_samples": w.get("tune_samples"), "wall_seconds": wall,
            "reasons": rec.get("reasons"), "notes": w.get("notes")}


# ---------------------------------------------------------------- analysis
def steps_to(evals, loss):
    """Steps to `loss`: the first evaluation at or below it, interpolated from
    the one before (the sweep's own rule)."""
    prev = None
    for step, _, l in evals:
        if l is None or not math.isfinite(l):
            return None
        if l <= loss:
            if prev is None or prev[1] <= l:
                return step
            f = (prev[1] - loss) / (prev[1] - l)
            return prev[0] + f * (step - prev[0])
        prev = (step, l)
    return None


def final_loss(evals):
    tail = [l for _, _, l in evals[-2:] if l is not None and math.isfinite(l)]
    return sum(tail) / len(tail) if tail else None


def fit_critical(steps):
    sizes = sorted(steps)
    def fit_log(bc):
        logs = [math.log(steps[b]) - math.log(1 + bc / b) for b in sizes]
        ls = sum(logs) / len(logs)
        return sum((math.log(steps[b]) - ls - math.log(1 + bc / b)) ** 2 for b in sizes), math.exp(ls)
    grid = [2 ** (k / 16) for k in range(0, 16 * 17)]
    bc = min(grid, key=lambda x: fit_log(x)[0])
    return bc, fit_log(bc)[1]


def interp(table, b):
    pts = sorted(table)
    if len(pts) == 1:
        return pts[0][1]
    if b <= pts[0][0]:
        (x0, y0), (x1, y1) = pts[0], pts[1]
    elif b >= pts[-1][0]:
        (x0, y0), (x1, y1) = pts[-2], pts[-1]
    else:
        i = next(i for i in range(1, len(pts)) if pts[i][0] >= b)
        (x0, y0), (x1, y1) = pts[i - 1], pts[i]
    k = math.log(y1 / y0) / math.log(x1 / x0)
    return y0 * math.exp(k * math.log(b / x0))


def load_truth(name):
    path = os.path.join(RESULTS, f"{name}.truth.json")
    if not os.path.exists(path):
        return None
    t = json.load(open(path))
    w = t["workload"]
    base_final = [final_loss(r["evaluations"]) for r in t["runs"]
                  if r["batch_size"] == w["base"] and r["factor"] == 1 and r["status"] == "completed"]
    base_final = [x for x in base_final if x is not None]
    if not base_final:
        return None
    target = max(base_final)
    t["base_final"] = base_final
    t["target"] = target
    # Extended runs stand in for the planned ones at the same (seed, rate, size).
    extended = t.get("extended_runs") or []
    if extended:
        longer = {(r["seed"], r["factor"], r["batch_size"]) for r in extended}
        t["runs"] = [r for r in t["runs"] if (r["seed"], r["factor"], r["batch_size"]) not in longer] + extended
    by_factor = {}
    steps, best_f = steps_at_target(t, target, by_factor)
    t["steps"], t["best_factor"], t["steps_by_factor"] = steps, best_f, by_factor
    t["critical"] = fit_critical(steps) if len(steps) >= 3 else None
    tp = os.path.join(RESULTS, f"{name}.timing.json")
    t["step_seconds"] = json.load(open(tp))["step_seconds"] if os.path.exists(tp) else None
    return t


def steps_at_target(t, target, by_factor=None):
    """Steps to `target` per size at its best factor; `by_factor`, when
    given, is filled with every factor's {size: steps}."""
    w = t["workload"]
    steps, best_f = {}, {}
    for f in w["factors"]:
        per = {}
        for r in t["runs"]:
            if r["factor"] != f:
                continue
            s = steps_to(r["evaluations"], target) if r["status"] == "completed" else None
            per.setdefault(r["batch_size"], []).append(s)
        for b, v in per.items():
            if len(v) >= 2 and all(x is not None for x in v):
                m = sum(v) / len(v)
                if by_factor is not None:
                    by_factor.setdefault(f, {})[b] = m
                if b not in steps or m < steps[b]:
                    steps[b], best_f[b] = m, f
    return steps, best_f


def true_times(t, table):
    top = max(b for b, _ in table)
    return {b: s * interp(table, b) for b, s in t["steps"].items() if b <= top}


def steps_at(steps, b):
    if b in steps:
        return steps[b]
    lo = [x for x in steps if x < b]
    hi = [x for x in steps if x > b]
    if not lo or not hi:
        return None
    return interp([(max(lo), steps[max(lo)]), (min(hi), steps[min(hi)])], b)


def pick_ratio(t, table, pick):
    tt = true_times(t, table)
    if not tt:
        return None, None, None
    best = min(tt, key=tt.get)
    if pick is None:
        return best, tt[best], None
    s = steps_at(t["steps"], pick)
    return best, tt[best], (s * interp(table, pick) / tt[best] if s is not None else None)


def rule_rate(w, b):
    k = b / w["base"]
    return w["lr"] * (k if w["rule"] == "linear" else math.sqrt(k) if w["rule"] == "sqrt" else 1.0)


def pick_ratio_at_rate(t, table, pick, lr):
    """The pick's true time at the recommended rate (the truth's factor
    nearest to it, within 10%) over the best (size, rate)'s: None where that
    rate never reached the target, or no truth factor is that rate."""
    if pick is None or lr is None:
        return None, None
    w = t["workload"]
    factor = lr / rule_rate(w, pick)
    near = min(w["factors"], key=lambda f: abs(math.log(f / factor)))
    if abs(math.log(near / factor)) > math.log(1.1):
        return factor, None
    s = t["steps_by_factor"].get(near, {}).get(pick)
    best, best_t, _ = pick_ratio(t, table, None)
    if s is None or best_t is None:
        return near, None
    return near, s * interp(table, pick) / best_t


def synthetic(table):
    t64 = interp(table, 64)
    t0 = t64 / (1 + 64 / 1024)
    return [[b, t0 * (1 + b / 1024)] for b in POW2]


def fmt_list(vals, f="{:.2f}"):
    return "/".join("-" if v is None else f.format(v) for v in vals)


def judge_row(t, row):
    """One tune against the truth: the numbers of the table."""
    w = t["workload"]
    clock = t["step_seconds"]
    out = {"seed": row.get("seed")}
    if "error" in row:
        out["error"] = f"exit {row.get('exit')}"
        return out
    at = row.get("at_truth_target") or {}
    syn = row.get("at_truth_target_synthetic") or {}
    out["pick"] = at.get("batch_size")
    out["ratio"] = pick_ratio(t, clock, out["pick"])[2] if clock and out["pick"] else None
    # At the rate recommended with it (the truth's factors 0.5, 1, 2 of the rule's).
    if clock and out["pick"]:
        out["pick_factor"], out["ratio_at_rate"] = pick_ratio_at_rate(t, clock, out["pick"], at.get("learning_rate"))
    out["pick_synthetic"] = syn.get("batch_size")
    if row.get("synthetic_step_seconds") and out["pick_synthetic"]:
        out["ratio_synthetic"] = pick_ratio(t, row["synthetic_step_seconds"], out["pick_synthetic"])[2]
    bc = t["critical"][0] if t["critical"] else None
    tb = at.get("critical_batch_at_target")
    out["bcrit"] = tb
    out["bcrit_ratio"] = tb / bc if tb and bc else None
    top = at.get("largest_arm")
    # A bound (the knee at or past the largest arm) is judged as one: right
    # where the truth lies at or past it too.
    out["bound"] = bool(top and tb and (at.get("lower_bound_at_a_point") or tb >= 0.9 * top) and at.get("next_arm_size"))
    out["bound_holds"] = bool(out["bound"] and bc and bc >= 0.9 * top)
    own = row.get("default_recomputed") or row
    out["target"] = own.get("target_loss")
    finals = t["base_final"]
    if out["target"] is not None:
        out["target_ratio"] = out["target"] / statistics.mean(finals)
        lo, hi = min(finals), max(finals)
        spread = max(hi - lo, 1e-9)
        out["target_in_spread"] = lo - spread <= out["target"] <= hi + spread
    if clock:
        base_steps = w["run"] / w["base"]
        true_base = base_steps * interp(clock, w["base"])
        pred = next((p["seconds"] for p in own.get("predictions") or [] if p["batch_size"] == w["base"]), None)
        out["base_time_ratio"] = pred / true_base if pred else None
        work = (row.get("phase_seconds") or {}).get("total")
        out["cost"] = work / true_base if work else None
    out["sample_share"] = row["tune_samples"] / w["run"] if row.get("tune_samples") else None
    out["other_cpu"] = row.get("other_cpu_cores")
    out["confidence"] = at.get("confidence")
    return out


# The kept tunes' files (NAME.tunes-SUFFIX.json) in the order the rounds ran.
TUNE_ROUNDS = ["", "-judged-after", "-rates", "-clock", "-pre-relevel", "-relevel"]


def table(names):
    print("| workload | role | truth: target, best (size, rate x rule, time), B_crit | tunes | "
          "picks, rate x rule (ratio at the size's best rate / at the recommended rate, this CPU) | "
          "picks (ratio, GPU-like t(B)) | B_crit tune / truth | default target / real final | "
          "predicted base-batch time / true | cost (work / full run) |")
    print("| --- " * 10 + "|")
    for name in names:
        t = load_truth(name)
        role = BY_NAME[name]["role"]
        if t is None:
            print(f"| {name} | {role} | no truth yet |" + " |" * 7)
            continue
        w = t["workload"]
        clock = t["step_seconds"]
        bc = t["critical"][0] if t["critical"] else None
        truth_cell = f"{t['target']:.4f}; "
        if clock:
            tt = true_times(t, clock)
            best = min(tt, key=tt.get)
            truth_cell += f"{best}, x{t['best_factor'][best]}, {tt[best]:.1f} s; "
        syn = true_times(t, synthetic([[64, 1.0]] + [[128, 1.0]]))
        truth_cell += f"GPU-like best {min(syn, key=syn.get)}; B_crit " + (f"{bc:.0f}" if bc else "-")
        def order(f):  # quiet before hog; then as the rounds came (TUNE_ROUNDS), others last
            suffix = f[len(name + ".tunes"):-len(".json")].replace("-hog", "")
            rank = TUNE_ROUNDS.index(suffix) if suffix in TUNE_ROUNDS else len(TUNE_ROUNDS)
            return ("-hog" in f, rank, f)
        files = sorted((f for f in os.listdir(RESULTS) if f.startswith(name + ".tunes")), key=order)
        if not files:
            print(f"| {name} | {role} | {truth_cell} | none |" + " |" * 6)
        for f in files:
            data = json.load(open(os.path.join(RESULTS, f)))
            tag = (data.get("label") or "as tuned") + (" beside a CPU hog" if data.get("hog") else "")
            rows = [judge_row(t, r) for r in data["tunes"]]
            ok = [r for r in rows if "error" not in r]
            def cell(key, pick=None, f="{:.2f}"):
                return ", ".join((f"{r[pick]} " if pick else "") + ("(-)" if r.get(key) is None else
                                 "(" + f.format(r[key]) + ")") for r in ok) if ok else "-"

            def rate_cell():
                return ", ".join(f"{r['pick']} x{r.get('pick_factor') or 1:g} (" +
                                 ("-" if r.get("ratio") is None else f"{r['ratio']:.2f}") + " / " +
                                 ("-" if r.get("ratio_at_rate") is None else f"{r['ratio_at_rate']:.2f}") + ")"
                                 for r in ok) if ok else "-"
            bcrit = ", ".join(("-" if r.get("bcrit_ratio") is None else f"{r['bcrit_ratio']:.2f}")
                              + (" bound" + (" holds" if r["bound_holds"] else " fails") if r.get("bound") else "")
                              for r in ok)
            target = ", ".join("-" if r.get("target_ratio") is None else
                               f"{r['target']:.3f} ({r['target_ratio']:.2f}{'' if r['target_in_spread'] else ' out'})"
                               for r in ok)
            errors = [r for r in rows if "error" in r]
            print(f"| {name} | {role} | {truth_cell} | {len(ok)}{' ' + tag if tag else ''}"
                  + (f", {len(errors)} failed" if errors else "") + f" | {rate_cell()} | "
                  f"{cell('ratio_synthetic', 'pick_synthetic')} | {bcrit} | {target} | "
                  f"{fmt_list([r.get('base_time_ratio') for r in ok])} | {fmt_list([r.get('cost') for r in ok])} |")
        if t["steps"]:
            print(f"|  | | steps to target: " + ", ".join(f"{b}: {s:.0f} (x{t['best_factor'][b]})"
                                                        for b, s in sorted(t["steps"].items()))
                  + (f"; S_min {t['critical'][1]:.0f}" if t["critical"] else "") + " |" + " |" * 7)


def main():
    if len(sys.argv) < 2 or sys.argv[1] not in ("prepare", "truth", "extend", "timing", "tune", "judge", "table"):
        print(__doc__)
        sys.exit(2)
    names = sys.argv[2:] or [w["name"] for w in WORKLOADS]
    for n in names:
        if n not in BY_NAME:
            sys.exit(f"whole_run_truth: no workload {n!r}; the table has {', '.join(BY_NAME)}")
    if sys.argv[1] != "prepare" and not os.access(BT, os.X_OK):
        sys.exit(f"whole_run_truth: no {BT}; build first (cmake --build --preset dev) or set BATCHTUNE")
    {"prepare": lambda n: prepare(), "truth": truth, "extend": extend, "timing": timing, "tune": tune, "judge": judge,
     "table": table}[sys.argv[1]](names)


if __name__ == "__main__":
    main()

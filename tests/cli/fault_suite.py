#!/usr/bin/python3
"""batchtune bad-input and fault suite: table-driven, one line per case.

Covers, against the exit-code contract in README.md ("Exit codes", plus 9:
the user's model raised in a later arm of a sweep):
  files/    missing, directory, non-TorchScript, truncated, empty and unreadable
            model files; missing, wrong and corrupt IDX folders and files; bad
            token files; labels or token ids the model cannot predict
  models/   TorchScript models without trainable parameters, with the wrong
            output, that raise (always, or only above a batch size: exit 9)
  options/  malformed or out-of-range option values, unknown options,
            subcommands, devices and precisions
  outputs/  unwritable, colliding and immutable outputs, a full disk
  reports/  missing, truncated, malformed, deeply nested, newer and mistyped
            reports; unknown keys; mismatched compares; no recommendation
  signals/  SIGINT, SIGTERM and SIGHUP in the probe, the sweep's arms, the
            gradient noise measurement and the probe subcommand; an early Ctrl-C
  positive/ controls: tiny valid runs exit 0 (a broken harness cannot pass all)

Every case asserts the exit code; exactly one `batchtune: error: ` line on
stderr naming the input (and no "terminate called", "Exception raised from",
stack frames or "Segmentation fault" anywhere); that files present before the
run in the case's folder (sentinel reports at each output path) are unchanged
byte for byte and nothing new (no `*.tmp.*`) is left there; and, for errors
known before work starts, that no `probe: trial` / `sweep: arm` line appeared.

Run (as root, from the repository root; Debian's python3 with python3-torch):
    /usr/bin/python3 tests/cli/fault_suite.py build/dev/batchtune
    /usr/bin/python3 tests/cli/fault_suite.py build/dev/batchtune --list
    /usr/bin/python3 tests/cli/fault_suite.py build/dev/batchtune -k options/lr-nan
    /usr/bin/python3 tests/cli/fault_suite.py build/dev/batchtune -k signals/ -v
-k selects the cases whose name contains the substring (repeatable); -v prints
the stderr of failing cases; --keep keeps the temporary folder. Everything the
suite creates lives in one fresh temporary folder (removed at the end).
Exit status: 0 when no case failed, 1 otherwise, 2 for a usage problem.
"""
import argparse
import errno
import gzip
import json
import os
import queue
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

ERR = "batchtune: error: "
# Never anywhere on stderr: a crash, an uncaught exception, a LibTorch backtrace.
FORBIDDEN = [
    "terminate called",
    "Exception raised from",
    "Segmentation fault",
    "core dumped",
    "Aborted",
    "Traceback (most recent call last)",
    "frame #",
    "what():",
    "AddressSanitizer",
    "runtime error:",
]
TS_INTERPRETER = "The following operation failed in the TorchScript interpreter"
NOBODY = 65534
SENTINEL_TEXT = '{"sentinel": "an earlier batchtune report", "schema_version": 1}\n'

# A tiny, fast sweep: synthetic data, a small mlp, a small budget.
WORKLOAD = ["--model", "mlp", "--mlp-hidden", "32", "--data", "synthetic", "--synthetic-train", "512",
            "--synthetic-val", "128", "--threads", "1"]
SWEEP_DEFAULTS = {
    "--memory-limit": "32MiB",
    "--batch-sizes": "16,32",
    "--budget": "samples=256",
    "--eval-samples": "64",
    "--noise-repeats": "0",
    "-o": "{D}/r.json",
}


def opts_list(base, overrides):
    """base and overrides are dicts option -> value; a value None drops the option, True is a flag."""
    merged = dict(base)
    for k, v in overrides.items():
        merged[k] = v
    out = []
    for k, v in merged.items():
        if v is None:
            continue
        out.append(k)
        if v is not True:
            out.append(v)
    return out


def sweep(overrides=None, workload=None, extra=()):
    """`batchtune sweep` of the tiny workload with some options changed (no duplicates: CLI11 refuses them)."""
    wl = list(WORKLOAD) if workload is None else list(workload)
    return ["sweep"] + wl + opts_list(SWEEP_DEFAULTS, overrides or {}) + list(extra)


def ts_workload(model, input_shape="16", classes="4", extra=()):
    return ["--model", "{F}/" + model, "--input-shape", input_shape, "--num-classes", classes, "--data", "synthetic",
            "--synthetic-train", "512", "--synthetic-val", "128", "--threads", "1"] + list(extra)


def idx_workload(folder, model=("--model", "mlp", "--mlp-hidden", "32"), extra=()):
    return list(model) + ["--data", "mnist-idx", "--data-dir", "{F}/" + folder, "--threads", "1"] + list(extra)


def probe(extra=(), workload=None):
    wl = list(WORKLOAD) if workload is None else list(workload)
    return ["probe"] + wl + ["--memory-limit", "32MiB", "-o", "{D}/p.json"] + list(extra)


class Case:
    """One row of the table.

    args      the command line after the binary; {F} is the fixtures folder, {D} the case's own folder (the cwd)
    code      the exit code wanted (an int, or a tuple of acceptable ones)
    names     substrings the error line must contain (case-insensitive); a tuple inside means any one of them
    before_work  the error is knowable before work: no `probe: trial` / `sweep: arm` line may appear
    writes    names in {D} the run may create or change (positive cases); every other file must stay as it was
    sentinel  pre-create a sentinel report at every output path (-o, --html, --markdown, --json) inside {D}
    check     extra assertions: check(ctx, case_dir, result) -> list of failure strings
    setup / teardown  (ctx, case_dir) -> None; setup may return a SKIP reason string
    run       a scenario that replaces the single run: run(ctx, case_dir) -> list of failure strings
    exclusive run alone, after the others (timing-sensitive)
    max_seconds  the run must take no longer (start-up included)
    """

    def __init__(self, name, args=None, code=0, names=(), before_work=True, writes=(), sentinel=True, check=None,
                 setup=None, teardown=None, run=None, user=None, timeout=90, skip=None, error=None,
                 forbid=(), exclusive=False, max_seconds=None):
        self.name = name
        self.max_seconds = max_seconds
        self.exclusive = exclusive
        self.args = args or []
        self.code = code if isinstance(code, tuple) else (code,)
        self.names = list(names)
        self.before_work = before_work
        self.writes = set(writes)
        self.sentinel = sentinel
        self.check = check
        self.setup = setup
        self.teardown = teardown
        self.run = run
        self.user = user
        self.timeout = timeout
        self.skip = skip
        self.error = (0 not in self.code) if error is None else error
        self.forbid = list(forbid)


class Result:
    def __init__(self, code, stdout, stderr, seconds):
        self.code, self.stdout, self.stderr, self.seconds = code, stdout, stderr, seconds


class Ctx:
    def __init__(self, binary, root):
        self.binary = binary
        self.root = root
        self.F = os.path.join(root, "fixtures")
        self.can_setpriv = False
        self.has_cuda = os.path.exists("/dev/nvidiactl") or os.path.exists("/dev/nvidia0")
        self.startup_s = 0.3
        self.verbose = False
        self.tmpdir = os.path.join(root, "tmpdir")  # the children's TMPDIR: nothing leaks into /tmp
        self.env = dict(os.environ, TMPDIR=self.tmpdir)


def subst(ctx, d, s):
    return s.replace("{F}", ctx.F).replace("{D}", d)


def run_bt(ctx, args, cwd, timeout=90, user=None, stdin=subprocess.DEVNULL):
    cmd = [ctx.binary] + list(args)
    if user is not None:
        cmd = ["setpriv", "--reuid=%d" % user, "--regid=%d" % user, "--clear-groups"] + cmd
    t0 = time.monotonic()
    deadline = t0 + 120
    while True:  # the binary may be being relinked: wait for it to come back
        try:
            p = subprocess.run(cmd, cwd=cwd, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               timeout=timeout, env=ctx.env)
            break
        except subprocess.TimeoutExpired as e:
            return Result(None, (e.stdout or b"").decode("utf-8", "replace"),
                          (e.stderr or b"").decode("utf-8", "replace"), time.monotonic() - t0)
        except OSError as e:
            if e.errno in (errno.ENOENT, errno.ETXTBSY) and time.monotonic() < deadline:
                time.sleep(2)
                continue
            raise
    return Result(p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace"),
                  time.monotonic() - t0)


def popen_bt(ctx, args, cwd):
    deadline = time.monotonic() + 120
    while True:
        try:
            return subprocess.Popen([ctx.binary] + list(args), cwd=cwd, stdin=subprocess.DEVNULL,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=ctx.env)
        except OSError as e:
            if e.errno in (errno.ENOENT, errno.ETXTBSY) and time.monotonic() < deadline:
                time.sleep(2)
                continue
            raise


# ---------------------------------------------------------------- assertions

def error_lines(stderr):
    return [l for l in stderr.splitlines() if l.startswith(ERR)]


def want_code(res, codes):
    if res.code is None:
        return ["timed out after %.0f s" % res.seconds]
    if res.code < 0:
        return ["killed by signal %d (want exit %s)" % (-res.code, "/".join(map(str, codes)))]
    if res.code not in codes:
        return ["exit %d (want %s)" % (res.code, "/".join(map(str, codes)))]
    return []


def stderr_problems(stderr, expect_error, names=(), before_work=False, forbid=()):
    f = []
    for bad in FORBIDDEN + list(forbid):
        if bad in stderr:
            f.append("stderr contains %r" % bad)
    errs = error_lines(stderr)
    if expect_error:
        if len(errs) != 1:
            f.append("%d '%s' lines (want exactly 1)" % (len(errs), ERR.strip()))
        if errs:
            low = errs[-1].lower()
            for n in names:
                alts = n if isinstance(n, tuple) else (n,)
                if not any(a.lower() in low for a in alts):
                    f.append("error line does not name %s" % " or ".join(repr(a) for a in alts))
    elif errs:
        f.append("unexpected error line")
    if before_work:
        worked = [l for l in stderr.splitlines() if l.startswith("probe: trial") or l.startswith("sweep: arm")]
        if worked:
            f.append("worked before failing (%r)" % worked[0][:60])
    return f


def snapshot(d):
    snap = {}
    for top, dirs, files in os.walk(d):
        for x in dirs:
            p = os.path.join(top, x)
            snap[os.path.relpath(p, d)] = "<dir>" if not os.path.islink(p) else "<link>"
        for x in files:
            p = os.path.join(top, x)
            try:
                with open(p, "rb") as fh:
                    snap[os.path.relpath(p, d)] = fh.read()
            except OSError as e:
                snap[os.path.relpath(p, d)] = "<unreadable %s>" % e.strerror
    return snap


def compare_snapshots(before, after, writes):
    f = []
    for k, v in before.items():
        if k in writes:
            continue
        if k not in after:
            f.append("%s was removed" % k)
        elif after[k] != v:
            f.append("%s was changed" % k)
    for k in after:
        if k not in before and k not in writes:
            f.append("left a stray %s%s" % ("temp file " if ".tmp" in k else "", k))
    return f


def load_json(path):
    with open(path, "rb") as fh:
        return json.loads(fh.read().decode("utf-8"))


def report_problems(path, incomplete=None, probe_only=False):
    """path holds a valid batchtune report (JSON, a schema_version, a sweep section with `incomplete`)."""
    if not os.path.isfile(path):
        return ["no report at %s" % os.path.basename(path)]
    try:
        r = load_json(path)
    except (ValueError, UnicodeDecodeError) as e:
        return ["%s is not valid JSON (%s)" % (os.path.basename(path), e)]
    v = r.get("schema_version") if isinstance(r, dict) else None
    tool = r.get("tool") if isinstance(r, dict) else None
    if not isinstance(v, int) or isinstance(v, bool) or v < 1 or not isinstance(tool, dict) or \
            tool.get("name") != "batchtune":
        return ["%s is not a batchtune report" % os.path.basename(path)]
    if probe_only:
        return []
    s = r.get("sweep")
    if not isinstance(s, dict):
        return ["%s has no sweep section (sweep is %r)" % (os.path.basename(path), s)]
    if incomplete is not None and s.get("incomplete") is not incomplete:
        return ["sweep.incomplete is %r (want %r)" % (s.get("incomplete"), incomplete)]
    return []


OUTPUT_OPTIONS = ("-o", "--output", "--html", "--markdown", "--json")


def output_paths(args):
    return [args[i + 1] for i, a in enumerate(args[:-1]) if a in OUTPUT_OPTIONS]


def run_case(ctx, case):
    """Returns (status, detail) with status PASS, FAIL or SKIP."""
    d = os.path.join(ctx.root, "cases", case.name.replace("/", "__"))
    os.makedirs(d, exist_ok=True)
    os.chmod(d, 0o777)
    if case.skip:
        why = case.skip(ctx)
        if why:
            return "SKIP", why
    try:
        if case.setup:
            why = case.setup(ctx, d)
            if why:
                return "SKIP", why
        if case.run:
            failures = case.run(ctx, d)
            return ("FAIL" if failures else "PASS"), "; ".join(failures) if failures else "ok"
        args = [subst(ctx, d, a) for a in case.args]
        if case.sentinel:
            for p in output_paths(args):
                if p.startswith(d + "/") and not os.path.lexists(p) and os.path.isdir(os.path.dirname(p)):
                    with open(p, "w") as fh:
                        fh.write(SENTINEL_TEXT)
        if case.user is not None:
            for top, dirs, files in os.walk(d):
                for x in dirs + files:
                    os.lchown(os.path.join(top, x), case.user, case.user)
        before = snapshot(d)
        res = run_bt(ctx, args, d, timeout=case.timeout, user=case.user)
        after = snapshot(d)
        f = want_code(res, case.code)
        f += stderr_problems(res.stderr, case.error, case.names, case.before_work, case.forbid)
        f += compare_snapshots(before, after, case.writes)
        if case.max_seconds and res.seconds > case.max_seconds:
            f.append("took %.1f s (want at most %.0f s)" % (res.seconds, case.max_seconds))
        if case.check and not f:
            f += case.check(ctx, d, res)
        if f:
            errs = error_lines(res.stderr)
            seen = errs[-1] if errs else (res.stderr.strip().splitlines() or ["(empty stderr)"])[-1]
            detail = "%s | stderr: %s" % ("; ".join(f), seen[:300])
            if ctx.verbose:
                detail += "\n    " + "\n    ".join(res.stderr.rstrip().splitlines()[-15:])
            return "FAIL", detail
        detail = "exit %s in %.1fs" % (res.code, res.seconds)
        if ctx.verbose and error_lines(res.stderr):
            detail += " | " + error_lines(res.stderr)[-1][:300]
        return "PASS", detail
    finally:
        if case.teardown:
            try:
                case.teardown(ctx, d)
            except Exception as e:  # noqa: BLE001 - report, never mask the verdict
                print("  (teardown of %s: %s)" % (case.name, e), file=sys.stderr)


# ---------------------------------------------------------------- fixtures

def idx_bytes(dims, payload):
    return struct.pack(">BBBB", 0, 0, 0x08, len(dims)) + b"".join(struct.pack(">I", x) for x in dims) + payload


def write_idx_set(folder, n_train=128, n_test=32, side=8, classes=10, train_images=None, train_labels=None,
                  gz_images=False):
    os.makedirs(folder, exist_ok=True)
    import random
    rnd = random.Random(len(folder))

    def imgs(n):
        return idx_bytes([n, side, side], bytes(rnd.randrange(256) for _ in range(n * side * side)))

    def labels(n):
        return idx_bytes([n], bytes(i % classes for i in range(n)))

    files = {
        "train-images-idx3-ubyte": train_images if train_images is not None else imgs(n_train),
        "train-labels-idx1-ubyte": train_labels if train_labels is not None else labels(n_train),
        "t10k-images-idx3-ubyte": imgs(n_test),
        "t10k-labels-idx1-ubyte": labels(n_test),
    }
    for name, data in files.items():
        if gz_images and name == "train-images-idx3-ubyte":
            with open(os.path.join(folder, name + ".gz"), "wb") as fh:
                fh.write(data)
        else:
            with open(os.path.join(folder, name), "wb") as fh:
                fh.write(data)


def make_fixtures(ctx):
    import torch
    from torch import nn

    F = ctx.F
    os.makedirs(F)
    os.makedirs(ctx.tmpdir, mode=0o1777)
    os.chmod(ctx.tmpdir, 0o1777)
    torch.manual_seed(0)

    def save_script(module, name):
        torch.jit.script(module).save(os.path.join(F, name))

    mlp = nn.Sequential(nn.Linear(16, 32), nn.Tanh(), nn.Linear(32, 4))
    save_script(mlp, "ts_mlp.pt")
    torch.jit.trace(mlp, torch.randn(2, 16)).save(os.path.join(F, "ts_mlp_traced.pt"))
    torch.save(mlp.state_dict(), os.path.join(F, "state_dict.pt"))
    with open(os.path.join(F, "ts_mlp.pt"), "rb") as fh:
        whole = fh.read()
    with open(os.path.join(F, "truncated.pt"), "wb") as fh:
        fh.write(whole[: len(whole) // 2])
    open(os.path.join(F, "empty.pt"), "wb").close()
    shutil.copy(os.path.join(F, "ts_mlp.pt"), os.path.join(F, "unreadable.pt"))
    os.chmod(os.path.join(F, "unreadable.pt"), 0)
    os.makedirs(os.path.join(F, "adir.pt"))

    class NoParams(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x[:, :4] * 2.0

    save_script(NoParams(), "no_params.pt")
    frozen = nn.Linear(16, 4)
    for p in frozen.parameters():
        p.requires_grad_(False)
    save_script(frozen, "frozen.pt")
    save_script(nn.Linear(16, 3), "wrong_out.pt")
    save_script(nn.Linear(20, 4), "wrong_in.pt")

    class Raises(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(16, 4)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if x.size(0) >= 1:
                raise RuntimeError("ZEBRA-42 the model refuses every batch")
            return self.fc(x)

    save_script(Raises(), "raises.pt")

    class RaisesBig(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(16, 4)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if x.size(0) > 100:
                raise RuntimeError("PANGOLIN-7 batch above 100 refused by the model")
            return self.fc(x)

    save_script(RaisesBig(), "raises_big.pt")

    class Pair(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(16, 4)

        def forward(self, x: torch.Tensor):
            y = self.fc(x)
            return y, y

    save_script(Pair(), "tuple_out.pt")
    save_script(nn.Sequential(nn.Flatten(), nn.Linear(64, 10)), "classifier10_8x8.pt")

    # IDX folders (8x8 images).
    write_idx_set(os.path.join(F, "idx_ok"))
    write_idx_set(os.path.join(F, "idx_zero"), train_images=idx_bytes([0, 8, 8], b""),
                  train_labels=idx_bytes([0], b""))
    write_idx_set(os.path.join(F, "idx_overflow"), train_images=idx_bytes([2 ** 31, 2 ** 31, 2 ** 31], b""))
    write_idx_set(os.path.join(F, "idx_huge"), train_images=idx_bytes([1, 2 ** 31, 2 ** 31], bytes(64)))
    write_idx_set(os.path.join(F, "idx_count"), train_labels=idx_bytes([100], bytes(i % 10 for i in range(100))))
    write_idx_set(os.path.join(F, "idx_labels12"), classes=12)
    import random
    rnd = random.Random(7)
    n = 512
    images = idx_bytes([n, 8, 8], bytes(rnd.randrange(256) for _ in range(n * 64)))
    gz = gzip.compress(images)
    write_idx_set(os.path.join(F, "idx_gz_trunc"), n_train=n, train_images=gz[: len(gz) // 2], gz_images=True)
    with open(os.path.join(F, "plainfile"), "w") as fh:
        fh.write("not a folder\n")

    # Token files (little-endian uint16).
    def tokens(name, ids):
        with open(os.path.join(F, name), "wb") as fh:
            fh.write(struct.pack("<%dH" % len(ids), *ids))

    ids = [(i * 7 + i // 5) % 60 for i in range(4096)]
    tokens("tokens_ok.bin", ids)
    with open(os.path.join(F, "tokens_48mb.bin"), "wb") as fh:  # 48 MB: a few seconds to load
        fh.write(struct.pack("<%dH" % len(ids), *ids) * (48 * 1024 * 1024 // (2 * len(ids))))
    tokens("tokens_big_id.bin", ids[:2000] + [1000] + ids[2001:])
    open(os.path.join(F, "tokens_empty.bin"), "wb").close()
    with open(os.path.join(F, "tokens_odd.bin"), "wb") as fh:
        fh.write(struct.pack("<100H", *ids[:100]) + b"\x01")
    os.makedirs(os.path.join(F, "tokens_dir"))

    # Reports.
    here = os.path.dirname(os.path.abspath(__file__))
    shutil.copy(os.path.join(here, "..", "fixtures", "report_mlp_small.json"), os.path.join(F, "good.json"))
    good_text = open(os.path.join(F, "good.json"), "rb").read()
    good = json.loads(good_text)
    with open(os.path.join(F, "truncated.json"), "wb") as fh:
        fh.write(good_text[: len(good_text) // 2])
    with open(os.path.join(F, "nonjson.json"), "w") as fh:
        fh.write("this is not JSON: batchtune report v1\n")
    open(os.path.join(F, "empty.json"), "wb").close()
    with open(os.path.join(F, "toplevel_array.json"), "w") as fh:
        fh.write("[]\n")
    with open(os.path.join(F, "nested_brackets.json"), "w") as fh:
        fh.write("[\n" * 160000)  # 320 KB, never closed
    with open(os.path.join(F, "nested_objects.json"), "w") as fh:
        fh.write('{"a":' * 64000)  # 320 KB, never closed
    with open(os.path.join(F, "nested_balanced.json"), "w") as fh:
        fh.write("[" * 150000 + "]" * 150000)  # valid JSON, not a report

    def variant(name, mutate):
        r = json.loads(good_text)
        mutate(r)
        with open(os.path.join(F, name), "w") as fh:
            json.dump(r, fh, indent=2)

    variant("schema99.json", lambda r: r.__setitem__("schema_version", 99))
    variant("mistyped.json", lambda r: r["probe"].__setitem__("safe_max_batch", str(r["probe"]["safe_max_batch"])))
    variant("arms_object.json", lambda r: r["sweep"].__setitem__("arms", {"0": "not a list"}))

    def other_workload(r):  # the same report, trained at another learning rate: valid, but not comparable
        r["workload"]["learning_rate"] = r["workload"]["learning_rate"] * 3

    variant("other_workload.json", other_workload)
    assert isinstance(good.get("schema_version"), int), "tests/fixtures/report_mlp_small.json has no schema_version"
    for dirpath in (ctx.root, F):
        os.chmod(dirpath, 0o755)


# ---------------------------------------------------------------- scenarios

def copy_fixture(name, to=None):
    def setup(ctx, d):
        shutil.copy(os.path.join(ctx.F, name), os.path.join(d, to or name))
    return setup


def setup_immutable(ctx, d):
    p = os.path.join(d, "r.json")
    with open(p, "w") as fh:
        fh.write(SENTINEL_TEXT)
    if subprocess.run(["chattr", "+i", p], capture_output=True).returncode != 0:
        return "chattr +i is not supported here"
    return None


def teardown_immutable(ctx, d):
    subprocess.run(["chattr", "-i", os.path.join(d, "r.json")], capture_output=True)


def scenario_disk_full(ctx, d):
    mnt = os.path.join(d, "small")
    os.makedirs(mnt)
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", mnt], capture_output=True).returncode:
        raise SkipCase("cannot mount a tmpfs here")
    try:
        with open(os.path.join(mnt, "r.json"), "w") as fh:
            fh.write(SENTINEL_TEXT)
        st = os.statvfs(mnt)
        free = st.f_bavail * st.f_frsize
        with open(os.path.join(mnt, "filler"), "wb") as fh:  # leave about 8 KiB: a report does not fit
            fh.write(b"\0" * max(0, free - 8192))
        before = snapshot(mnt)
        res = run_bt(ctx, sweep({"-o": mnt + "/r.json"}), d, timeout=120)
        after = snapshot(mnt)
        f = want_code(res, (6,))
        f += stderr_problems(res.stderr, True, [mnt + "/r.json"])
        f += compare_snapshots(before, after, set())
        errs = error_lines(res.stderr)
        if not f and errs and "saved to " in errs[-1]:  # a rescued copy, where the message says so, is whole
            rescued = errs[-1].split("saved to ", 1)[1].split()[0].rstrip(";,.")
            f += ["rescued copy: " + x for x in report_problems(rescued, incomplete=False)]
        return annotate(f, res)
    finally:
        subprocess.run(["umount", mnt], capture_output=True)


class SkipCase(Exception):
    pass


def annotate(f, res):
    if f:
        errs = error_lines(res.stderr)
        seen = errs[-1] if errs else (res.stderr.strip().splitlines() or ["(empty stderr)"])[-1]
        f = f + ["stderr: " + seen[:300]]
    return f


def scenario_raise_above_100(ctx, d):
    out = os.path.join(d, "r.json")
    with open(out, "w") as fh:
        fh.write(SENTINEL_TEXT)
    args = ["sweep"] + [subst(ctx, d, a) for a in ts_workload("raises_big.pt")] + [
        "--memory-limit", "64MiB", "--batch-sizes", "16,32,200", "--force", "--budget", "samples=400",
        "--eval-samples", "64", "--noise-repeats", "0", "-o", out]
    res = run_bt(ctx, args, d, timeout=120)
    f = want_code(res, (9,))
    f += stderr_problems(res.stderr, True, ["PANGOLIN-7"], forbid=[TS_INTERPRETER])
    extra = set(os.listdir(d)) - {"r.json"}
    if extra:
        f.append("left %s" % sorted(extra))
    f += report_problems(out, incomplete=True)
    if not f:
        arms = {a.get("batch_size"): a for a in load_json(out)["sweep"].get("arms", [])}
        for b in (16, 32):
            if arms.get(b, {}).get("status") != "completed":
                f.append("arm %d is %r (want completed)" % (b, arms.get(b, {}).get("status")))
        a200 = arms.get(200)
        if not a200:
            f.append("no arm at 200 in the report")
        else:
            if a200.get("status") != "failed":
                f.append("arm 200 status %r (want failed)" % a200.get("status"))
            if "PANGOLIN-7" not in str(a200.get("message")):
                f.append("arm 200 message %r lacks the model's text" % str(a200.get("message"))[:120])
    return annotate(f, res)


def scenario_no_recommendation(ctx, d):
    out = os.path.join(d, "r.json")
    res = run_bt(ctx, [subst(ctx, d, a) for a in sweep({"--lr": "1e9", "--force": True})], d, timeout=120)
    f = []
    if res.code is None or res.code < 0:
        f += want_code(res, (0,))
    f += [x for x in stderr_problems(res.stderr, False) if x.startswith("stderr contains")]
    f += report_problems(out)
    if f:
        return annotate(["the diverging sweep (exit %s): " % res.code + "; ".join(f)], res)
    rec = load_json(out).get("recommendation")
    if isinstance(rec, dict) and rec.get("batch_size") is not None:
        return ["the report recommends batch %r although every arm diverged" % rec.get("batch_size")]
    g = run_bt(ctx, ["show", out, "--get", "recommendation.batch_size"], d)
    if g.code in (None, 0) or g.code < 0:
        f.append("show --get recommendation.batch_size exit %s (want non-zero), printed %r"
                 % (g.code, g.stdout.strip()[:40]))
    f += ["show --get: " + x for x in stderr_problems(g.stderr, True, ["recommendation"])]
    c = run_bt(ctx, ["check", out], d)
    f += ["check: " + x for x in want_code(c, (1,))]
    f += ["check: " + x for x in stderr_problems(c.stderr, True)]
    return f


def scenario_report_o_same(ctx, d):
    r = os.path.join(d, "R.json")
    shutil.copy(os.path.join(ctx.F, "good.json"), r)
    before = open(r, "rb").read()
    res = run_bt(ctx, ["report", r, "-o", r, "--objective", "throughput"], d)
    f = want_code(res, (0, 2))
    f += stderr_problems(res.stderr, res.code == 2, ["-o"] if res.code == 2 else [])
    if res.code == 2 and open(r, "rb").read() != before:
        f.append("refused, yet R.json changed")
    f += report_problems(r)
    if not f and res.code == 0:
        rec = load_json(r).get("recommendation") or {}
        if rec.get("objective") != "throughput":
            f.append("rewritten report's recommendation.objective is %r" % rec.get("objective"))
    extra = set(os.listdir(d)) - {"R.json"}
    if extra:
        f.append("left %s" % sorted(extra))
    return annotate(f, res)


def scenario_positive_sweep_check(ctx, d):
    out = os.path.join(d, "r.json")
    res = run_bt(ctx, [subst(ctx, d, a) for a in sweep({"--noise-repeats": "2"})], d, timeout=120)
    f = want_code(res, (0,)) + stderr_problems(res.stderr, False)
    f += report_problems(out, incomplete=False)
    if f:
        return annotate(f, res)
    rep = load_json(out)
    if not isinstance(rep.get("recommendation"), dict):
        f.append("no recommendation in a clean sweep")
    g = run_bt(ctx, ["show", out, "--get", "recommendation.batch_size"], d)
    if g.code != 0 or not g.stdout.strip().isdigit():
        f.append("show --get recommendation.batch_size: exit %s, %r" % (g.code, g.stdout.strip()[:40]))
    c = run_bt(ctx, ["check", out], d)
    if c.code != 0:
        f.append("check on a clean report: exit %s (%s)" % (c.code, (error_lines(c.stderr) or [""])[-1][:200]))
    return f


def stderr_reader(proc, lines, marker_event, marker):
    for raw in iter(proc.stderr.readline, b""):
        line = raw.decode("utf-8", "replace").rstrip("\n")
        lines.put(line)
        if marker and line.startswith(marker):
            marker_event.set()
    lines.put(None)


def signal_scenario(args, marker, sig, report, deadline=2.5, marker_timeout=120.0, delay=None, min_completed=0):
    """Start a run, wait for a stderr line starting with marker (or `delay` seconds), send sig, then assert.

    report: "sweep" (a valid report marked incomplete), "any" (valid JSON or the earlier file untouched);
    min_completed: arms the report must keep as completed (those finished before the signal)."""

    def run(ctx, d):
        out = os.path.join(d, "r.json")
        with open(out, "w") as fh:
            fh.write(SENTINEL_TEXT)
        a = [subst(ctx, d, x) for x in args]
        p = popen_bt(ctx, a, d)
        q, ev = queue.Queue(), threading.Event()
        t = threading.Thread(target=stderr_reader, args=(p, q, ev, marker), daemon=True)
        t.start()
        f = []
        try:
            if delay is not None:
                time.sleep(delay(ctx) if callable(delay) else delay)
            else:
                t_end = time.monotonic() + marker_timeout
                while not ev.is_set() and p.poll() is None and time.monotonic() < t_end:
                    ev.wait(0.05)
                if not ev.is_set():
                    p.poll()
                    raise SignalSetupError("no %r line within %.0f s (exit %s)" % (marker, marker_timeout,
                                                                                    p.returncode))
            if p.poll() is not None:
                raise SignalSetupError("the run ended (exit %s) before the signal" % p.returncode)
            t0 = time.monotonic()
            p.send_signal(sig)
            try:
                p.wait(timeout=deadline)
            except subprocess.TimeoutExpired:
                try:
                    p.wait(timeout=30)
                    f.append("exited %.1f s after the signal (want within %.1f s)" % (time.monotonic() - t0,
                                                                                      deadline))
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
                    f.append("still running 30 s after the signal (killed)")
        except SignalSetupError as e:
            if p.poll() is None:
                p.kill()
                p.wait()
            t.join(5)
            lines = drain(q)
            return ["setup: %s" % e, "stderr tail: %s" % " / ".join(lines[-3:])[:300]]
        t.join(10)
        lines = drain(q)
        stderr = "\n".join(lines) + "\n"
        res = Result(p.returncode, "", stderr, 0)
        f += want_code(res, (7,))
        f += [x for x in stderr_problems(stderr, True) if not x.startswith("error line")]
        nonempty = [l for l in lines if l.strip()]
        if not nonempty or not nonempty[-1].startswith(ERR + "interrupted"):
            f.append("last stderr line is %r (want '%sinterrupted...')" % ((nonempty or [""])[-1][:120], ERR))
        if report == "sweep":
            bad = report_problems(out, incomplete=True)
            f += bad
            if not bad and min_completed:
                arms = load_json(out)["sweep"].get("arms") or []
                done = sum(1 for x in arms if isinstance(x, dict) and x.get("status") == "completed")
                if done < min_completed:
                    f.append("the report keeps %d completed arm(s) (want at least %d)" % (done, min_completed))
        elif report == "any":  # written (valid JSON) or left as it was
            if open(out).read() != SENTINEL_TEXT:
                try:
                    load_json(out)
                except ValueError:
                    f.append("r.json is neither the earlier file nor valid JSON")
        extra = set(os.listdir(d)) - {"r.json"}
        if extra:
            f.append("left %s" % sorted(extra))
        if f:
            f.append("stderr tail: %s" % " / ".join(nonempty[-2:])[:300])
        return f

    return run


class SignalSetupError(Exception):
    pass


def drain(q):
    lines = []
    while True:
        try:
            x = q.get_nowait()
        except queue.Empty:
            return lines
        if x is not None:
            lines.append(x)


def run_as_nobody_setup(ctx, d):
    if not ctx.can_setpriv:
        return "cannot run as another user (setpriv to uid %d failed)" % NOBODY
    return None


def check_report_written(ctx, d, res):
    return report_problems(os.path.join(d, "r.json"), incomplete=False)


def check_html_written(ctx, d, res):
    p = os.path.join(d, "out.html")
    if not os.path.isfile(p) or b"<svg" not in open(p, "rb").read():
        return ["out.html missing or without an SVG chart"]
    return []


def check_stdout_int(ctx, d, res):
    return [] if res.stdout.strip().isdigit() else ["printed %r, not an integer" % res.stdout.strip()[:40]]


# ---------------------------------------------------------------- the table

def cases():
    C = []
    add = C.append
    sw = sweep

    # files: every one is known before work, and leaves the earlier report alone (exit 3)
    ts = lambda m: ts_workload(m)  # noqa: E731
    add(Case("files/model-missing", sw(workload=ts("missing.pt")), 3, ["missing.pt"]))
    add(Case("files/model-is-directory", sw(workload=ts("adir.pt")), 3, ["adir.pt", "directory"]))
    add(Case("files/model-state-dict", sw(workload=ts("state_dict.pt")), 3, ["state_dict.pt"]))
    add(Case("files/model-truncated", sw(workload=ts("truncated.pt")), 3, ["truncated.pt"]))
    add(Case("files/model-empty", sw(workload=ts("empty.pt")), 3, ["empty.pt"]))
    add(Case("files/model-unreadable", sw(workload=ts("unreadable.pt")), 3, ["unreadable.pt", "permission"],
             user=NOBODY, setup=run_as_nobody_setup))
    add(Case("files/data-dir-missing", sw(workload=idx_workload("no_such_folder")), 3, ["no_such_folder"]))
    add(Case("files/data-dir-is-file", sw(workload=idx_workload("plainfile")), 3, ["plainfile", "not a directory"]))
    add(Case("files/idx-zero-images", sw(workload=idx_workload("idx_zero")), 3, ["train-images-idx3-ubyte"]))
    add(Case("files/idx-dims-overflow-wrap", sw(workload=idx_workload("idx_overflow")), 3,
             ["train-images-idx3-ubyte"]))
    add(Case("files/idx-dims-huge", sw(workload=idx_workload("idx_huge")), 3, ["train-images-idx3-ubyte"]))
    add(Case("files/idx-label-count-mismatch", sw(workload=idx_workload("idx_count")), 3,
             ["train-labels-idx1-ubyte"]))
    add(Case("files/idx-gzip-truncated", sw(workload=idx_workload("idx_gz_trunc")), 3,
             ["train-images-idx3-ubyte.gz"]))
    gpt = ["--model", "gpt", "--gpt-vocab", "64", "--gpt-context", "16", "--gpt-width", "16", "--gpt-depth", "1",
           "--gpt-heads", "2", "--threads", "1"]
    add(Case("files/tokens-data-file-is-directory", sw(workload=gpt + ["--data", "tokens", "--data-file",
                                                                         "{F}/tokens_dir"]), 3, ["tokens_dir"]))
    add(Case("files/tokens-empty", sw(workload=gpt + ["--data", "tokens", "--data-file", "{F}/tokens_empty.bin"]), 3,
             ["tokens_empty.bin"]))
    add(Case("files/tokens-odd-size", sw(workload=gpt + ["--data", "tokens", "--data-file", "{F}/tokens_odd.bin"]), 3,
             ["tokens_odd.bin"]))
    add(Case("files/tokens-id-above-gpt-vocab",
             sw(workload=gpt + ["--data", "tokens", "--data-file", "{F}/tokens_big_id.bin"]), (2, 3),
             ["1000", "--gpt-vocab"]))
    add(Case("files/idx-labels-above-num-classes",
             sw(workload=idx_workload("idx_labels12", extra=["--num-classes", "10"])), 3, ["11", "label"]))
    add(Case("files/ts-10-outputs-labels-to-11",
             sw(workload=idx_workload("idx_labels12", model=("--model", "{F}/classifier10_8x8.pt"))), 3,
             [("label", "output")]))

    # models (exit 3 before work, except the one that raises in a later arm: 9)
    add(Case("models/no-trainable-parameters", sw(workload=ts("no_params.pt")), 3, ["no trainable parameters"]))
    add(Case("models/all-parameters-frozen", sw(workload=ts("frozen.pt")), 3, ["no trainable parameters"]))
    add(Case("models/wrong-output-shape", sw(workload=ts("wrong_out.pt")), 3, ["wrong_out.pt"]))
    add(Case("models/wrong-input-shape", sw(workload=ts("wrong_in.pt")), 3, ["wrong_in.pt"]))
    add(Case("models/returns-tuple", sw(workload=ts("tuple_out.pt")), 3, [("tuple_out.pt", "--model")]))
    add(Case("models/forward-raises", sw(workload=ts("raises.pt")), 3, ["ZEBRA-42"], forbid=[TS_INTERPRETER]))
    add(Case("models/forward-raises-probe", probe(workload=ts("raises.pt")), 3, ["ZEBRA-42"], forbid=[TS_INTERPRETER]))
    add(Case("models/raises-above-batch-100", run=scenario_raise_above_100))

    # options: exit 2 (usage) before work unless said
    add(Case("options/input-shape-huge", sw(workload=ts_workload("ts_mlp.pt", input_shape="100000x100000x1000")),
             (2, 3), ["--input-shape"]))
    add(Case("options/mlp-hidden-huge", sw(workload=["--model", "mlp", "--mlp-hidden", "2000000000", "--data",
                                                      "synthetic", "--threads", "1"]), (2, 3), ["--mlp-hidden"]))
    add(Case("options/mlp-hidden-large", sw(workload=["--model", "mlp", "--mlp-hidden", "300000000", "--data",
                                                       "synthetic", "--threads", "1"]), (2, 3), ["--mlp-hidden"]))
    for label, value in [("garbage", "abc"), ("zero", "0"), ("empty", ""), ("negative", "16,-32"),
                         ("trailing-comma", "16,")]:
        add(Case("options/batch-sizes-" + label, sw({"--batch-sizes": value}), 2, ["--batch-sizes"]))
    for label, value in [("garbage", "garbage"), ("samples-0", "samples=0"), ("seconds-negative", "seconds=-1"),
                         ("steps-nan", "steps=nan"), ("unknown-kind", "epochs=3")]:
        add(Case("options/budget-" + label, sw({"--budget": value}), 2, ["--budget"]))
    add(Case("options/budget-smaller-than-a-batch", sw({"--budget": "samples=10"}), 2, ["--budget"]))
    for opt, label, value in [
        ("--memory-limit", "zero", "0"), ("--memory-limit", "lots", "lots"), ("--max-batch", "zero", "0"),
        ("--multiple-of", "zero", "0"), ("--margin", "2", "2"), ("--lr", "negative", "-1"), ("--lr", "nan", "nan"),
        ("--lr", "inf", "inf"), ("--optimizer", "bogus", "bogus"), ("--momentum", "1.5", "1.5"),
        ("--weight-decay", "negative", "-1"), ("--threads", "negative", "-1"), ("--seeds", "zero", "0"),
        ("--objective", "bogus", "bogus"), ("--precision", "fp8", "fp8"), ("--device", "tpu", "tpu"),
        ("--eval-samples", "zero", "0"), ("--eval-every", "zero", "0"), ("--warmup", "0.9", "0.9"),
        ("--data", "bogus", "bogus"), ("--strategy", "bogus", "bogus"), ("--trial-steps", "1", "1"),
        ("--noise-repeats", "negative", "-1"), ("--base-batch", "zero", "0"), ("--lr-scaling", "bogus", "bogus"),
        ("--seed", "garbage", "abc"), ("--target-loss", "nan", "nan"), ("--gpt-heads", "zero", "0"),
    ]:
        add(Case("options/%s-%s" % (opt.lstrip("-"), label), sw({opt: value}), 2, [opt]))
    add(Case("options/model-bogus", sw(workload=["--model", "bogus", "--data", "synthetic"]), 2,
             ["--model", "bogus"]))
    add(Case("options/precision-fp16-on-cpu", sw({"--device": "cpu", "--precision": "fp16"}), (2, 4), ["fp16"]))
    no_cuda = lambda ctx: "a CUDA device is present" if ctx.has_cuda else None  # noqa: E731
    add(Case("options/device-cuda", sw({"--device": "cuda"}), 4, ["--device"], skip=no_cuda))
    add(Case("options/device-cuda-7", sw({"--device": "cuda:7"}), 4, ["cuda:7"], skip=no_cuda))
    add(Case("options/unknown-option", sw(extra=["--frobnicate"]), 2, ["--frobnicate"]))
    add(Case("options/unknown-subcommand", ["frobnicate", "--model", "mlp"], 2, ["frobnicate"]))
    add(Case("options/probe-memory-limit-zero", ["probe"] + WORKLOAD + ["--memory-limit", "0", "-o", "{D}/p.json"], 2,
             ["--memory-limit"]))
    add(Case("options/train-batch-zero", ["train"] + WORKLOAD + ["-b", "0", "--steps", "2"], 2, [("-b", "batch")]))

    # outputs: all refused before any work
    add(Case("outputs/o-existing-directory", sw({"-o": "{D}/outdir"}), 6, ["outdir"],
             setup=lambda ctx, d: os.makedirs(os.path.join(d, "outdir"))))
    add(Case("outputs/o-in-proc", sw({"-o": "/proc/batchtune.json"}), 6, ["/proc/batchtune.json"]))
    add(Case("outputs/o-missing-directory", sw({"-o": "{D}/no/such/dir/r.json"}), 6, ["no/such/dir"]))
    add(Case("outputs/o-immutable-file", sw(), 6, ["r.json"], setup=setup_immutable, teardown=teardown_immutable))
    add(Case("outputs/o-and-html-same-path", sw(extra=["--html", "{D}/r.json"]), 2, ["--html"]))
    add(Case("outputs/o-and-markdown-same-path", sw(extra=["--markdown", "{D}/r.json"]), 2, ["--markdown"]))
    add(Case("outputs/html-and-markdown-same-path", sw(extra=["--html", "{D}/x.out", "--markdown", "{D}/x.out"]), 2,
             [("--html", "--markdown")]))
    add(Case("outputs/report-html-over-its-input", ["report", "{D}/R.json", "--html", "{D}/R.json"], 2, ["--html"],
             setup=copy_fixture("good.json", "R.json")))
    add(Case("outputs/report-markdown-over-its-input", ["report", "{D}/R.json", "--markdown", "{D}/R.json"], 2,
             ["--markdown"], setup=copy_fixture("good.json", "R.json")))
    add(Case("outputs/report-o-over-its-input", run=scenario_report_o_same))
    add(Case("outputs/probe-o-existing-directory", ["probe"] + WORKLOAD + ["--memory-limit", "32MiB", "-o",
                                                                             "{D}/outdir"], 6, ["outdir"],
             setup=lambda ctx, d: os.makedirs(os.path.join(d, "outdir"))))
    add(Case("outputs/disk-full", run=scenario_disk_full, timeout=150))

    # reports: exit 3 for a bad file, 2 for a bad request
    for label, name in [("missing", "no_such_report.json"), ("truncated", "truncated.json"),
                        ("not-json", "nonjson.json"), ("empty", "empty.json"),
                        ("top-level-array", "toplevel_array.json"),
                        ("nested-brackets", "nested_brackets.json"), ("nested-objects", "nested_objects.json"),
                        ("nested-balanced", "nested_balanced.json"), ("schema-version-99", "schema99.json"),
                        ("mistyped-field", "mistyped.json"), ("arms-not-a-list", "arms_object.json")]:
        names = [name] + (["schema_version"] if "99" in name else []) + (["safe_max_batch"] if "mistyped" in name
                                                                          else [])
        add(Case("reports/show-" + label, ["show", "{F}/" + name], 3, names, timeout=30, max_seconds=10))
    add(Case("reports/check-truncated", ["check", "{F}/truncated.json"], 3, ["truncated.json"]))
    add(Case("reports/check-baseline-missing", ["check", "{F}/good.json", "--baseline", "{F}/nope.json"], 3,
             ["nope.json"]))
    add(Case("reports/report-not-json", ["report", "{F}/nonjson.json"], 3, ["nonjson.json"]))
    add(Case("reports/compare-missing", ["compare", "{F}/good.json", "{F}/nope.json"], 3, ["nope.json"]))
    add(Case("reports/show-get-unknown-key", ["show", "{F}/good.json", "--get", "unknown.key"], 2, ["unknown"]))
    add(Case("reports/show-get-index-out-of-range", ["show", "{F}/good.json", "--get", "sweep.arms.99999.batch_size"],
             2, ["99999"]))
    add(Case("reports/compare-different-workloads", ["compare", "{F}/good.json", "{F}/other_workload.json"], 2,
             ["--force"]))
    add(Case("reports/check-max-regression-lots", ["check", "{F}/good.json", "--max-regression", "lots"], 2,
             ["--max-regression"]))
    add(Case("reports/check-max-regression-negative", ["check", "{F}/good.json", "--max-regression", "-5%"], 2,
             ["--max-regression"]))
    add(Case("reports/no-recommendation", run=scenario_no_recommendation, timeout=150))

    # signals: exit 7 within 2.5 s, the report valid and marked incomplete
    sigs = [("sigint", signal.SIGINT), ("sigterm", signal.SIGTERM), ("sighup", signal.SIGHUP)]
    probe_wl = ["--model", "cnn", "--data", "synthetic", "--synthetic-train", "1024", "--synthetic-val", "128",
                "--threads", "1"]
    probe_phase = sweep({"--strategy": "binsearch", "--memory-limit": "400MiB", "--batch-sizes": None}, probe_wl)
    arms_phase = sweep({"--batch-sizes": "16,32,64,128", "--force": True, "--budget": "seconds=3"})
    noise_phase = sweep({"--batch-sizes": "16,256", "--force": True, "--budget": "samples=512",
                         "--noise-repeats": "2000"})
    probe_cmd = ["probe"] + probe_wl + ["--strategy", "binsearch", "--memory-limit", "400MiB", "-o", "{D}/r.json"]
    for label, sig in sigs:
        add(Case("signals/probe-phase-" + label, run=signal_scenario(probe_phase, "probe: trial", sig, "sweep")))
        add(Case("signals/sweep-arms-" + label, run=signal_scenario(arms_phase, "sweep: arm", sig, "sweep",
                                                                     min_completed=1)))
        add(Case("signals/noise-scale-" + label,
                 run=signal_scenario(noise_phase, "sweep: measuring the gradient noise scale", sig, "sweep",
                                     min_completed=2)))
        add(Case("signals/probe-subcommand-" + label, run=signal_scenario(probe_cmd, "probe: trial", sig, "any")))
    # Ctrl-C soon after main can have run (twice the start-up time of `--version`): whatever phase it
    # lands in, exit 7. With a 48 MB token file it lands while the data loads, before any work.
    early = lambda ctx: ctx.startup_s * 2 + 0.2  # noqa: E731  (margin: a busy CI machine starts slower)
    add(Case("signals/early-ctrl-c", run=signal_scenario(arms_phase, None, signal.SIGINT, "any", delay=early),
             exclusive=True))
    add(Case("signals/ctrl-c-while-loading-data",
             # A long budget keeps the run alive past the load: with the file in the page cache the
             # load and 16 steps took 1.3 s, and a signal after that found the run ended.
             run=signal_scenario(sweep({"--memory-limit": "64MiB", "--batch-sizes": "16", "--force": True,
                                        "--budget": "samples=200000"},
                                       gpt + ["--data", "tokens", "--data-file", "{F}/tokens_48mb.bin"]),
                                 None, signal.SIGINT, "any", delay=early), exclusive=True))

    # positive controls
    add(Case("positive/sweep-then-check", run=scenario_positive_sweep_check, timeout=150))
    add(Case("positive/sweep-torchscript", sw(workload=ts("ts_mlp.pt")), 0, before_work=False, writes=["r.json"],
             check=check_report_written))
    add(Case("positive/sweep-traced-torchscript", sw(workload=ts("ts_mlp_traced.pt")), 0, before_work=False,
             writes=["r.json"], check=check_report_written))
    add(Case("positive/sweep-mnist-idx", sw(workload=idx_workload("idx_ok")), 0, before_work=False, writes=["r.json"],
             check=check_report_written))
    add(Case("positive/sweep-tokens", sw({"--memory-limit": "64MiB"}, gpt + ["--data", "tokens", "--data-file",
                                                                            "{F}/tokens_ok.bin"]),
             0, before_work=False, writes=["r.json"], check=check_report_written))
    add(Case("positive/show-get", ["show", "{F}/good.json", "--get", "probe.safe_max_batch"], 0,
             check=check_stdout_int))
    add(Case("positive/check-fixture", ["check", "{F}/good.json"], 0))
    add(Case("positive/report-html", ["report", "{F}/good.json", "--html", "{D}/out.html"], 0, writes=["out.html"],
             sentinel=False, check=check_html_written))

    # npy: --data npy on files numpy itself writes (np.save, np.savez, np.savez_compressed), in each case's own
    # folder; skipped where numpy is missing (Debian's python3-numpy, which python3-torch brings).
    def with_numpy(write):
        def setup(ctx, d):
            try:
                import numpy as np
            except ImportError:
                return "numpy is not installed (python3-numpy)"
            write(np, np.random.default_rng(0), d)
        return setup

    def npz_at(d, name="data.npz"):
        return os.path.join(d, name)

    def labelled(np, rng, n=600, features=16, classes=4):
        x = rng.standard_normal((n, features)).astype(np.float32)
        return x, (np.arange(n) % classes).astype(np.int64)

    def token_rows(np, rng, n=300, t=16, vocab=32):
        ids = (np.arange(n * (t + 1)).reshape(n, t + 1) * 7 + rng.integers(0, 3, (n, t + 1))) % vocab
        return ids[:, :-1].astype(np.int32), ids[:, 1:].astype(np.int32)

    def no_numpy(ctx):
        try:
            import numpy  # noqa: F401
        except ImportError:
            return "numpy is not installed (python3-numpy)"
        return None

    def check_workload(says=None, **want):
        """The report's workload has these values, and its fields in `says` contain these words."""
        def check(ctx, d, res):
            f = report_problems(os.path.join(d, "r.json"))
            if f:
                return f
            w = load_json(os.path.join(d, "r.json"))["workload"]
            f = ["workload.%s is %r (want %r)" % (k, w.get(k), v) for k, v in want.items() if w.get(k) != v]
            return f + ["workload.%s is %r (want it to say %r)" % (k, w.get(k), v) for k, v in (says or {}).items()
                        if v not in str(w.get(k))]
        return check

    npy_sweep = {"--batch-sizes": "8,16", "--budget": "samples=256", "--noise-repeats": "0", "--memory-limit": "64MiB"}
    mlp = ["--model", "mlp", "--mlp-hidden", "32", "--threads", "1", "--data", "npy"]
    on_npz = mlp + ["--data-file", "{D}/data.npz"]
    token_lm = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "tiny_token_lm.pt")

    def savez_labels(np, rng, d):
        x, y = labelled(np, rng)
        np.savez(npz_at(d), x=x, y=y)

    add(Case("positive/npy-savez-classification", sw(npy_sweep, on_npz), 0, before_work=False, writes=["r.json"],
             setup=with_numpy(savez_labels),
             check=check_workload(data="npy", task="classification", num_classes=4, train_samples=540,
                                  validation_samples=60, says={"validation_split": "random 10%"})))

    def savez_compressed_regression(np, rng, d):
        x = rng.standard_normal((500, 8))  # float64: read as float32
        y = (x[:, :3] * 0.5).astype(np.float32)
        np.savez_compressed(npz_at(d), inputs=x, targets=y, inputs_val=x[:50], targets_val=y[:50])

    add(Case("positive/npy-savez-compressed-regression-with-val", sw(npy_sweep, on_npz), 0, before_work=False,
             writes=["r.json"], setup=with_numpy(savez_compressed_regression),
             check=check_workload(task="regression", loss="mse", train_samples=500, validation_samples=50,
                                  says={"validation_split": "inputs_val and targets_val"})))

    def savez_tokens(np, rng, d):
        x, y = token_rows(np, rng)
        np.savez_compressed(npz_at(d), x=x, y=y.astype(np.uint16))

    add(Case("positive/npy-int-tokens-torchscript-lm",
             sw(npy_sweep, ["--model", token_lm, "--threads", "1", "--data", "npy", "--data-file", "{D}/data.npz"]), 0,
             before_work=False, writes=["r.json"], setup=with_numpy(savez_tokens),
             check=check_workload(task="language_model", input_shape=[16], num_classes=32)))
    add(Case("positive/npy-int-tokens-gpt",
             sw(npy_sweep, gpt + ["--data", "npy", "--data-file", "{D}/data.npz"]), 0,
             before_work=False, writes=["r.json"], setup=with_numpy(savez_tokens),
             check=check_workload(task="language_model", model="gpt")))

    def savez_zip64(np, rng, d):
        import zipfile
        x, y = labelled(np, rng, n=200)
        limit = zipfile.ZIP64_LIMIT
        zipfile.ZIP64_LIMIT = 16  # every record zip64, as numpy writes archives past 4 GiB
        try:
            np.savez(npz_at(d), x=x, y=y)
        finally:
            zipfile.ZIP64_LIMIT = limit
        with zipfile.ZipFile(npz_at(d)) as z:
            assert z.infolist()[0].extra, "the archive has no zip64 records"

    add(Case("positive/npy-zip64-records", sw(npy_sweep, on_npz), 0, before_work=False, writes=["r.json"],
             setup=with_numpy(savez_zip64), check=check_workload(train_samples=180)))

    def savez_zip64_disks_ffff(np, rng, d):
        # As some writers leave a zip64 archive: the 32-bit end record's disk
        # numbers saturated at 0xFFFF, the real ones (0) in the zip64 record.
        savez_zip64(np, rng, d)
        data = bytearray(open(npz_at(d), "rb").read())
        end = data.rfind(b"PK\x05\x06")
        assert end > 0 and data[end - 20:end - 16] == b"PK\x06\x07", "no zip64 locator before the end record"
        data[end + 4:end + 8] = b"\xff\xff\xff\xff"
        open(npz_at(d), "wb").write(bytes(data))

    add(Case("positive/npy-zip64-disks-ffff", sw(npy_sweep, on_npz), 0, before_work=False, writes=["r.json"],
             setup=with_numpy(savez_zip64_disks_ffff), check=check_workload(train_samples=180)))

    # The same numbers as a C-order .npz and as a Fortran-order, big-endian .npy pair (np.asfortranarray,
    # astype('>f4')): the training losses must be the same to the last bit.
    def scenario_npy_layouts(ctx, d):
        import numpy as np
        rng = np.random.default_rng(1)
        x, y = labelled(np, rng, n=300, features=12)
        x = x.reshape(300, 3, 4)
        np.savez(npz_at(d), x=x, y=y)
        np.save(os.path.join(d, "xf.npy"), np.asfortranarray(x.astype(">f4")))
        np.save(os.path.join(d, "y.npy"), y.astype(np.int16))
        assert np.load(os.path.join(d, "xf.npy")).flags.f_contiguous
        losses, f = [], []
        for name, data in [("c", ["--data-file", d + "/data.npz"]),
                           ("fortran", ["--data-file", d + "/xf.npy", "--target-file", d + "/y.npy"])]:
            res = run_bt(ctx, sweep(dict(npy_sweep, **{"-o": d + "/%s.json" % name}), mlp + data), d)
            f += ["%s: %s" % (name, x) for x in annotate(want_code(res, (0,)) + stderr_problems(res.stderr, False) +
                                                         report_problems(os.path.join(d, name + ".json")), res)]
            if not f:
                losses.append([p["loss"] for p in load_json(os.path.join(d, name + ".json"))["sweep"]["arms"][0]
                               ["train_loss"]])
        if not f and losses[0] != losses[1]:
            f.append("the Fortran-order big-endian copy trains differently: %r vs %r" % (losses[0][:3], losses[1][:3]))
        return f

    add(Case("positive/npy-fortran-big-endian-pair-equals-npz", run=scenario_npy_layouts, timeout=150, skip=no_numpy))

    # Files numpy writes that cannot be trained on: exit 3 before any work, naming the file.
    def pair(xs, ys):
        def write(np, rng, d):
            np.save(os.path.join(d, "x.npy"), xs(np, rng), allow_pickle=True)
            np.save(os.path.join(d, "y.npy"), ys(np, rng), allow_pickle=True)
        return with_numpy(write)

    on_pair = mlp + ["--data-file", "{D}/x.npy", "--target-file", "{D}/y.npy"]
    floats = lambda np, rng: rng.standard_normal((100, 4)).astype(np.float32)  # noqa: E731
    labels = lambda np, rng: np.arange(100) % 3  # noqa: E731
    for label, xs, ys, names in [
        ("pickled-objects", lambda np, rng: np.array([{"a": 1}] * 100, dtype=object), labels,
         ["x.npy", "Python objects"]),
        ("string-labels", floats, lambda np, rng: np.array(["cat", "dog"] * 50), ["y.npy", "<U3"]),
        ("complex-inputs", lambda np, rng: np.ones((100, 4), dtype=np.complex128), labels, ["x.npy", "complex128"]),
        ("length-mismatch", floats, lambda np, rng: np.arange(99) % 3, ["y.npy", "99 targets"]),
        ("nan-inputs", lambda np, rng: np.where(np.arange(400).reshape(100, 4) == 42, np.nan, 1.0), labels,
         ["x.npy", "NaN"]),
        ("zero-samples", lambda np, rng: np.zeros((0, 4), dtype=np.float32), lambda np, rng: np.zeros(0, np.int64),
         ["x.npy", "zero samples"]),
        ("integer-targets-2d", floats, lambda np, rng: np.ones((100, 2), dtype=np.int64), ["y.npy", "astype"]),
    ]:
        add(Case("files/npy-" + label, sw(npy_sweep, on_pair), 3, names, setup=pair(xs, ys)))

    def truncated_npy(np, rng, d):
        np.save(os.path.join(d, "x.npy"), rng.standard_normal((100, 4)))
        np.save(os.path.join(d, "y.npy"), np.arange(100) % 3)
        with open(os.path.join(d, "x.npy"), "r+b") as fh:
            fh.truncate(os.path.getsize(os.path.join(d, "x.npy")) - 100)

    add(Case("files/npy-truncated", sw(npy_sweep, on_pair), 3, ["x.npy", "truncated"], setup=with_numpy(truncated_npy)))

    def truncated_npz(np, rng, d):
        savez_labels(np, rng, d)
        with open(npz_at(d), "r+b") as fh:
            fh.truncate(os.path.getsize(npz_at(d)) // 2)

    add(Case("files/npz-truncated", sw(npy_sweep, on_npz), 3, ["data.npz", "truncated"],
             setup=with_numpy(truncated_npz)))

    def npz_other_names(np, rng, d):
        x, y = labelled(np, rng)
        np.savez(npz_at(d), features=x, labels=y)

    add(Case("files/npz-missing-array", sw(npy_sweep, on_npz), 3, ["data.npz", "features, labels", "--npy-inputs"],
             setup=with_numpy(npz_other_names)))
    add(Case("positive/npz-named-arrays", sw(npy_sweep, on_npz + ["--npy-inputs", "features", "--npy-targets",
                                                                  "labels"]), 0,
             before_work=False, writes=["r.json"], setup=with_numpy(npz_other_names), check=check_workload(data="npy")))

    def npz_bzip2(np, rng, d):
        import io
        import zipfile
        x, y = labelled(np, rng, n=50)
        with zipfile.ZipFile(npz_at(d), "w", compression=zipfile.ZIP_BZIP2) as z:
            for name, a in (("x", x), ("y", y)):
                buf = io.BytesIO()
                np.save(buf, a)
                z.writestr(name + ".npy", buf.getvalue())

    add(Case("files/npz-bzip2", sw(npy_sweep, on_npz), 3, ["data.npz", "bzip2"], setup=with_numpy(npz_bzip2)))

    def not_numpy(np, rng, d):
        with open(npz_at(d), "w") as fh:
            fh.write("x,y\n1,2\n")

    add(Case("files/npy-csv-file", sw(npy_sweep, on_npz), 3, ["data.npz", "neither a .npy nor an .npz"],
             setup=with_numpy(not_numpy)))

    def short_tokens(np, rng, d):
        x, y = token_rows(np, rng, t=48)
        np.savez(npz_at(d), x=x, y=y)

    add(Case("options/npy-gpt-context-shorter-than-rows",
             sw(npy_sweep, gpt + ["--data", "npy", "--data-file", "{D}/data.npz"]), 2,
             ["--gpt-context 48"], setup=with_numpy(short_tokens)))
    add(Case("options/npy-without-data-file", sw(npy_sweep, mlp), 2, ["--data-file"]))
    add(Case("options/npy-single-npy-without-target-file", sw(npy_sweep, mlp + ["--data-file", "{D}/x.npy"]), 2,
             ["--target-file"], setup=pair(floats, labels)))
    add(Case("options/target-file-without-data-npy", sw(npy_sweep, WORKLOAD + ["--target-file", "{D}/y.npy"]), 2,
             ["--target-file", "--data npy"]))
    return C


# ---------------------------------------------------------------- main

def startup_time(ctx):
    """Seconds `batchtune --version` takes: by then a run has surely reached main."""
    t0 = time.monotonic()
    run_bt(ctx, ["--version"], ctx.root, timeout=60)
    return time.monotonic() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("binary")
    ap.add_argument("-k", action="append", default=[], help="run the cases whose name contains this (repeatable)")
    ap.add_argument("--list", action="store_true", help="list the cases and exit")
    ap.add_argument("-j", type=int, default=2, help="cases run in parallel (default 2)")
    ap.add_argument("-v", action="store_true", help="print the stderr of failing cases")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    a = ap.parse_args()

    table = cases()
    names = [c.name for c in table]
    assert len(names) == len(set(names)), "duplicate case names"
    if a.k:
        table = [c for c in table if any(k in c.name for k in a.k)]
    if a.list:
        for c in table:
            print(c.name)
        print("%d cases" % len(table))
        return 0
    if not table:
        print("no case matches %s" % a.k, file=sys.stderr)
        return 2
    binary = os.path.abspath(a.binary)
    for _ in range(60):
        if os.access(binary, os.X_OK):
            break
        time.sleep(2)
    else:
        print("fault_suite: %s is not an executable" % binary, file=sys.stderr)
        return 2

    t_start = time.monotonic()
    root = tempfile.mkdtemp(prefix="batchtune-faults-")
    ctx = Ctx(binary, root)
    ctx.verbose = a.v
    results = {}
    try:
        make_fixtures(ctx)
        ctx.can_setpriv = subprocess.run(["setpriv", "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY, "--clear-groups",
                                          "true"], capture_output=True).returncode == 0
        ctx.startup_s = max(0.2, startup_time(ctx))
        print("fixtures in %s (%.1f s); %d cases; startup %.2f s" % (root, time.monotonic() - t_start, len(table),
                                                                     ctx.startup_s), flush=True)
        lock = threading.Lock()

        def one(case):
            t = time.monotonic()
            try:
                status, detail = run_case(ctx, case)
            except SkipCase as e:
                status, detail = "SKIP", str(e)
            except Exception as e:  # noqa: BLE001 - a harness error fails the case, not the suite
                status, detail = "FAIL", "harness error: %r" % e
            with lock:
                results[case.name] = (status, detail)
                print("%s %s: %s [%.1fs]" % (status, case.name, detail, time.monotonic() - t), flush=True)

        # Signal cases are timing-sensitive: run them after the rest, still at most -j at a time; the
        # exclusive ones last, alone, with the start-up time measured again just before.
        shared = [c for c in table if not c.exclusive]
        ordered = [c for c in shared if not c.name.startswith("signals/")] + \
                  [c for c in shared if c.name.startswith("signals/")]
        with ThreadPoolExecutor(max_workers=max(1, min(2, a.j))) as pool:
            list(pool.map(one, ordered))
        alone = [c for c in table if c.exclusive]
        if alone:
            ctx.startup_s = max(0.2, min(startup_time(ctx) for _ in range(2)))
            for c in alone:
                one(c)
    finally:
        for top, dirs, files in os.walk(root):  # an immutable sentinel would block the removal
            for x in files:
                subprocess.run(["chattr", "-i", os.path.join(top, x)], capture_output=True)
        if a.keep:
            print("kept %s" % root)
        else:
            shutil.rmtree(root, ignore_errors=True)

    failed = sorted(n for n, (s, _) in results.items() if s == "FAIL")
    counts = {s: sum(1 for v in results.values() if v[0] == s) for s in ("PASS", "FAIL", "SKIP")}
    print("\n%d cases: %d passed, %d failed, %d skipped in %.0f s" % (len(results), counts["PASS"], counts["FAIL"],
                                                                       counts["SKIP"], time.monotonic() - t_start))
    for n in failed:
        print("  FAIL " + n)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

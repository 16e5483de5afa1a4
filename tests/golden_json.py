#!/usr/bin/python3
"""Golden-file test of the report JSON a real sweep writes.

Volatile values are blanked before comparing: the machine, date, command line
and tool version; every measured float (times, losses, throughputs), byte
counts, arrays of raw numbers (kept as their length) and the recommendation's
choice and sentences (they depend on measured times). What stays is the
structure, key order, types and every count that does not depend on timing:
keys renamed, removed, reordered or retyped show up as a diff.

Usage: golden_json.py REPORT GOLDEN [--update]
"""
import json
import sys

TIMING_DEPENDENT = {"batch_size", "micro_batch_size", "accumulation_steps", "reasons", "confidence",
                    "confidence_notes", "learning_rate", "learning_rate_rule"}

# Null or a number depending on the measurement (a fit that needs positive
# terms, a bootstrap bound that may be unbounded).
MEASURED_OR_NULL = {"step_time_fit", "saturation_batch", "low", "high", "simple_noise_scale", "gradient_norm_sq",
                    "trace_covariance", "other_cpu_cores"}


def blank(value, key="", is_recommendation=False):
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if k in ("machine", "date", "command_line", "version", "commit", "threads", "usable_cores"):
                out[k] = "<volatile>"
            elif is_recommendation and k in TIMING_DEPENDENT:
                out[k] = "<timing-dependent %s>" % type(v).__name__
            elif k in MEASURED_OR_NULL:
                out[k] = "<measured: number or null>"
            elif k in ("target", "first_evaluation_at_target", "steps_fit", "largest_fitting_slowdown",
                       "validation_worse_than_best") or k.endswith("_to_target"):
                # Which sizes reach the target depends on float losses.
                out[k] = "<depends on the losses>"
            else:
                out[k] = blank(v, k, k == "recommendation")
        return out
    if isinstance(value, list):
        if value and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in value):
            return "<%d numbers>" % len(value)
        return [blank(x, key) for x in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, float):
        return "<float>"
    if isinstance(value, int) and key.endswith("bytes"):
        return "<bytes>"
    if isinstance(value, int) and key == "predicted_edge":
        # From the measured memory line: LibTorch 1.13 and 2.6 allocate
        # differently (7180 against 7373 for the same sweep).
        return "<from the memory line>"
    return value


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    with open(sys.argv[1]) as f:
        actual = blank(json.load(f))
    text = json.dumps(actual, indent=2) + "\n"
    if "--update" in sys.argv[3:]:
        with open(sys.argv[2], "w") as f:
            f.write(text)
        print("golden_json: rewrote " + sys.argv[2])
        return 0
    with open(sys.argv[2]) as f:
        expected = f.read()
    if text == expected:
        print("golden_json: ok")
        return 0
    for n, (a, e) in enumerate(zip(text.splitlines(), expected.splitlines()), 1):
        if a != e:
            print("golden_json: FAIL: line %d differs: got %r, golden %r (rerun with --update to accept)" % (n, a, e))
            return 1
    print("golden_json: FAIL: lengths differ (%d vs %d lines)" % (len(text.splitlines()), len(expected.splitlines())))
    return 1


if __name__ == "__main__":
    sys.exit(main())

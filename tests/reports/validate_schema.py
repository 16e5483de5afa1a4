#!/usr/bin/python3
"""Validates batchtune reports against schema/report.schema.json.

Usage: /usr/bin/python3 tests/reports/validate_schema.py SCHEMA REPORT [REPORT...]

Run as a test: every report must validate and contain no NaN or Infinity.
So that the test can fail, the first report is also mutated in memory and
the schema must reject each mutant (and accept an unknown extra field, which
readers ignore). Needs python3-jsonschema (Debian's 4.10 is enough).
Exit status: 0 when all is well, 1 otherwise (2: wrong arguments).
"""
import copy
import json
import sys

import jsonschema


def path_of(error):
    """The JSON path of a validation error, such as $.sweep.arms[3].status."""
    out = "$"
    for part in error.absolute_path:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def leaves(error):
    """The errors that say what is wrong: inside "object or null" (anyOf),
    the object's own errors rather than "is not valid under any schema"."""
    if not error.context:
        yield error
        return
    for sub in error.context:
        if not (sub.validator == "type" and sub.validator_value == "null"):
            yield from leaves(sub)


def errors_of(validator, report):
    found = [leaf for e in validator.iter_errors(report) for leaf in leaves(e)]
    return sorted(found, key=lambda e: [str(p) for p in e.absolute_path])


def nan_free(report):
    """True when the report has no NaN or Infinity (the writer puts null there)."""
    try:
        json.dumps(report, allow_nan=False)
        return True
    except ValueError:
        return False


def mutants(report):
    """(name, changed copy) pairs the schema must reject."""
    def changed(name, change):
        r = copy.deepcopy(report)
        change(r)
        return name, r

    yield changed("schema_version removed", lambda r: r.pop("schema_version"))
    yield changed("workload.model a number", lambda r: r["workload"].update(model=42))
    if report.get("probe") is not None:
        yield changed("probe.largest_fitting_batch a string",
                      lambda r: r["probe"].update(largest_fitting_batch="4944"))
    else:
        print("note: no probe in the first report; its mutant is skipped")
    if report.get("sweep") is not None and report["sweep"].get("arms"):
        yield changed("sweep arm status 'exploded'",
                      lambda r: r["sweep"]["arms"][0].update(status="exploded"))

        def schema_1_key(r):
            arm = r["sweep"]["arms"][0]
            arm["step_seconds"] = arm.pop("compute_seconds", [])
        yield changed("an arm's compute_seconds under its schema 1 name step_seconds", schema_1_key)
    else:
        print("note: no sweep arms in the first report; their mutants are skipped")
    if report.get("recommendation") is not None:
        yield changed("recommendation status none with a batch size",
                      lambda r: r["recommendation"].update(status="none", confidence="none"))
        yield changed("recommendation status recommended without a batch size",
                      lambda r: r["recommendation"].update(status="recommended", batch_size=None))
    else:
        print("note: no recommendation in the first report; its mutants are skipped")


def main(argv):
    if len(argv) < 3:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    with open(argv[1]) as f:
        schema = json.load(f)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)

    failed = False
    reports = []
    for name in argv[2:]:
        with open(name) as f:
            report = json.load(f)  # Python accepts NaN and Infinity here; nan_free() catches them
        reports.append(report)
        problems = [f"{path_of(e)}: {e.message[:200]}" for e in errors_of(validator, report)]
        if not nan_free(report):
            problems.append("$: contains NaN or Infinity (batchtune writes null instead)")
        if problems:
            failed = True
            print(f"FAIL: {name}")
            for p in problems:
                print(f"  {p}")
        else:
            print(f"ok: {name}")

    # The test must be able to fail: the schema rejects broken reports.
    first = reports[0]
    for mutant_name, mutant in mutants(first):
        if validator.is_valid(mutant):
            failed = True
            print(f"FAIL: the schema accepts a mutant of {argv[2]}: {mutant_name}")
    poisoned = copy.deepcopy(first)
    poisoned["workload"]["learning_rate"] = float("nan")
    if nan_free(poisoned):
        failed = True
        print("FAIL: the NaN check does not see a NaN")

    # Readers ignore unknown fields; adding one keeps the version.
    extra = copy.deepcopy(first)
    extra["some_future_field"] = {"added_in": "a later batchtune"}
    if not validator.is_valid(extra):
        failed = True
        print(f"FAIL: the schema rejects an unknown top-level field in {argv[2]}")

    if not failed:
        print("ok: mutants rejected, unknown field accepted")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

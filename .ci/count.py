#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Counts passed and failed tests from meson testlog.json files and TAP files.

TAP suites (Catch2) count one per test case: a case fails when any of its assertions
reported `not ok`; a suite that crashed or exited non-zero without a `not ok` adds one
failure. Other tests count one each. A skipped suite counts as failed when CI=true
(STYLE.md §9). A path ending in `.tap` is a TAP file written by a step outside meson
(packaging/test-deb.py): its cases count the same way, and a file without its `1..N` plan
line (the step died part way) adds one failure. A missing file counts as one failure.
Prints `N passed, N failed` on the last line.
"""
import json
import os
import sys


def count_tap(stdout):
    cases = {}
    current = None
    for line in stdout.splitlines():
        if line.startswith("# "):
            current = line[2:]
            cases.setdefault(current, True)
        elif line.startswith("not ok"):
            cases[current] = False
        elif line.startswith("ok") and current is not None:
            cases.setdefault(current, True)
    passed = sum(1 for ok in cases.values() if ok)
    return passed, len(cases) - passed


def count_tap_file(path):
    text = open(path, encoding="utf-8", errors="replace").read()
    passed, failed = count_tap(text)
    if not any(line.startswith("1..") for line in text.splitlines()):
        print("count: %s has no TAP plan (the step stopped part way)" % path)
        failed += 1
    return passed, failed


def main(paths):
    passed = failed = 0
    ci = os.environ.get("CI") == "true"
    for path in paths:
        if not os.path.exists(path):
            print("count: missing %s (build or test step did not run)" % path)
            failed += 1
            continue
        if path.endswith(".tap"):
            p, f = count_tap_file(path)
            passed, failed = passed + p, failed + f
            continue
        for line in open(path, encoding="utf-8", errors="replace"):
            t = json.loads(line)
            result = t["result"]
            if result == "SKIP":
                print("count: %s skipped%s" % (t["name"], " (a failure under CI)" if ci else ""))
                failed += 1 if ci else 0
                continue
            if "--reporter" in t.get("command", []):
                p, f = count_tap(t.get("stdout", ""))
                if result not in ("OK", "EXPECTEDFAIL") and f == 0:
                    f = 1
                passed, failed = passed + p, failed + f
            elif result == "OK":
                passed += 1
            else:
                failed += 1
    print("%d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

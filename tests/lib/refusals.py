#!/usr/bin/env python3
"""refusals.py LOG: the figures of the "security-refusals" block of docs/security.md from LOG,
the lines "TEST EXIT" that tests/lib/common.sh's expect_exit appends for every command a test
required to fail with a given exit code (REFUSALS_LOG, set by tests/integration/run.sh for a
full run). They go to build/figures/ with the hash of the sources they measured
(tests/lib/figures.py); `make figures` puts them into the page."""
import collections
import os
import subprocess
import sys
import tempfile

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
NAMES = {2: "usage/config", 3: "verification", 4: "download", 5: "no space", 6: "hook",
         7: "not allowed now", 10: "up to date", 1: "other"}


def main():
    log = sys.argv[1]
    per_test = collections.defaultdict(collections.Counter)
    for line in open(log):
        test, code = line.split()
        per_test[test][int(code)] += 1
    total = sum(sum(c.values()) for c in per_test.values())
    codes = sorted({k for c in per_test.values() for k in c})
    out = ["Written by `tests/integration/run.sh` (`make check`) after a full run in which every",
           "test passed; do not edit.",
           "",
           "**%d refusals checked by exit code in %d integration tests**: each a command the test"
           % (total, len(per_test)),
           "required to fail with that code, its message and (where the test says so) the device",
           "untouched.", "",
           "| test | " + " | ".join("%d %s" % (c, NAMES.get(c, "")) for c in codes) + " |",
           "|---|" + "---|" * len(codes)]
    for test in sorted(per_test):
        out.append("| `%s` | " % test + " | ".join(str(per_test[test].get(c, "")) for c in codes) + " |")
    with tempfile.NamedTemporaryFile("w", suffix=".txt") as f:
        f.write("\n".join(out) + "\n")
        f.flush()
        return subprocess.call([sys.executable, os.path.join(TOP, "tests/lib/figures.py"), "put",
                                "security-refusals", f.name, "tests/integration", "tests/lib"])


if __name__ == "__main__":
    sys.exit(main())

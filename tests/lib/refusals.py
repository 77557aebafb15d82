#!/usr/bin/env python3
"""refusals.py LOG DOC: writes the "security-refusals" block of DOC (docs/security.md) from
LOG, the lines "TEST EXIT" that tests/lib/common.sh's expect_exit appends for every command a
test required to fail with a given exit code (REFUSALS_LOG, set by tests/integration/run.sh for
a full run). The block records a hash of the sources it measures, so a reader can tell whether
it is older than the code."""
import collections
import hashlib
import os
import subprocess
import sys

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SOURCES = ["core", "backends", "config", "hooks", "tests/integration", "tests/lib"]
NAMES = {2: "usage/config", 3: "verification", 4: "download", 5: "no space", 6: "hook",
         7: "not allowed now", 10: "up to date", 1: "other"}


def source_hash():
    h = hashlib.sha256()
    for base in SOURCES:
        for root, dirs, files in os.walk(os.path.join(TOP, base)):
            dirs.sort()
            for f in sorted(files):
                if f.endswith((".c", ".h", ".sh", ".py")):
                    p = os.path.join(root, f)
                    h.update(os.path.relpath(p, TOP).encode() + b"\0")
                    h.update(open(p, "rb").read())
    return h.hexdigest()[:16]


def main():
    log, doc = sys.argv[1], sys.argv[2]
    per_test = collections.defaultdict(collections.Counter)
    for line in open(log):
        test, code = line.split()
        per_test[test][int(code)] += 1
    total = sum(sum(c.values()) for c in per_test.values())
    codes = sorted({k for c in per_test.values() for k in c})
    out = ["Written by `tests/integration/run.sh` (`make check`) after a full run in which every",
           "test passed; do not edit. Sources hash %s (`tests/lib/refusals.py`: %s)." % (
               source_hash(), ", ".join(SOURCES)),
           "",
           "**%d refusals checked by exit code in %d integration tests**: each a command the test"
           % (total, len(per_test)),
           "required to fail with that code, its message and (where the test says so) the device",
           "untouched.", "",
           "| test | " + " | ".join("%d %s" % (c, NAMES.get(c, "")) for c in codes) + " |",
           "|---|" + "---|" * len(codes)]
    for test in sorted(per_test):
        out.append("| `%s` | " % test + " | ".join(str(per_test[test].get(c, "")) for c in codes) + " |")
    text = os.path.join(os.path.dirname(log), "refusals.md")
    with open(text, "w") as f:
        f.write("\n".join(out) + "\n")
    return subprocess.call([sys.executable, os.path.join(TOP, "tests/lib/doc_block.py"), doc,
                            "security-refusals", text])


if __name__ == "__main__":
    sys.exit(main())

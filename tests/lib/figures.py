#!/usr/bin/env python3
"""The figures the tests measure, kept apart from the docs until `make figures`.

figures.py put NAME TEXTFILE PATH...
    A test run's figures: writes build/figures/NAME.md, TEXTFILE's text after a first line
    recording the hash of the sources it measured (see RULE below), PATH... being the test
    files and folders that produced it. Tests call this; they never write docs/.
figures.py update
    `make figures`: each build/figures/NAME.md replaces the text between "<!-- NAME:begin -->"
    and "<!-- NAME:end -->" in the page of docs/ that has those markers. A page only changes
    when its text does.
figures.py check
    Part of `make doc-check`: fails when a block of docs/reliability.md or docs/security.md was
    made from sources that have changed since (or records no hash), naming the runs that
    rewrite it; prints, without failing, the blocks of the other pages in the same case (the
    QEMU boot times of docs/boot.md, the sizes of docs/packaging.md) and the benchmark pages
    (docs/benchmark*.md) measured before the last change to the product sources.

RULE: a block's hash is SHA-256 (first 16 hex digits) over the path and bytes of every .c and
.h file outside tests/, bench/ and docs/ (the product, wherever its folders are), and every
file under the test paths the block names; the files are those git tracks or would track
(untracked, not ignored), in path order. Stdlib only."""
import calendar
import glob
import hashlib
import os
import re
import subprocess
import sys
import time

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FIGURES = os.environ.get("FIGURES_DIR") or os.path.join(TOP, "build", "figures")
CHECKED_PAGES = ["docs/reliability.md", "docs/security.md"]
PRODUCT_EXCLUDE = ("tests/", "bench/", "docs/")
HEAD = re.compile(r"<!-- sources ([0-9a-f]{16}) of the product and (\S+) -->")
BLOCK = re.compile(r"<!-- ([a-z0-9-]+):begin -->\n(.*?)<!-- \1:end -->", re.S)
# Which run writes each block: what the message tells a reader to run.
RUNS = {
    "powercut-": "tests/powercut/run.sh (make powercut)",
    "security-refusals": "tests/integration/run.sh with no test named (make integration)",
    "fuzz-replay": "make fuzz-replay",
    "fuzz": "make fuzz",
    "checked-san": "tests/checked/run.sh san with no test named (make integration-san)",
    "checked-valgrind": "tests/checked/run.sh valgrind with no test named (make valgrind)",
    "qemu-times": "make qemu-check",
    "sizes": "make package-sizes",
    "delta-install": "python3 bench/delta_install.py",
    "static-series": "python3 bench/delta_baselines.py",
}


def files():
    try:
        out = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=TOP,
                             check=True, capture_output=True).stdout.decode()
        names = [n for n in out.split("\0") if n]
    except (OSError, subprocess.CalledProcessError):  # not a git checkout: every file
        names = [os.path.relpath(os.path.join(r, f), TOP)
                 for r, d, fs in os.walk(TOP) if "/build" not in r + "/" and "/.git" not in r
                 for f in fs]
    return sorted(n for n in names if os.path.isfile(os.path.join(TOP, n)))


def source_hash(paths):
    h = hashlib.sha256()
    tests = tuple(p.rstrip("/") for p in paths)
    for n in files():
        product = n.endswith((".c", ".h")) and not n.startswith(PRODUCT_EXCLUDE)
        if product or any(n == t or n.startswith(t + "/") for t in tests):
            h.update(n.encode() + b"\0")
            with open(os.path.join(TOP, n), "rb") as f:
                h.update(f.read())
            h.update(b"\0")
    return h.hexdigest()[:16]


def put(name, textfile, paths):
    text = open(textfile).read().rstrip("\n")
    os.makedirs(FIGURES, exist_ok=True)
    head = "<!-- sources %s of the product and %s -->" % (source_hash(paths), ",".join(paths))
    out = os.path.join(FIGURES, name + ".md")
    with open(out + ".tmp", "w") as f:
        f.write(head + "\n" + text + "\n")
    os.rename(out + ".tmp", out)
    print("figures: %s written to %s (`make figures` puts it into docs/)" % (
        name, os.path.relpath(out, TOP)))
    return 0


def update():
    pages = sorted(glob.glob(os.path.join(TOP, "docs", "*.md")))
    docs = {p: open(p).read() for p in pages}
    changed, missing = set(), []
    for fig in sorted(glob.glob(os.path.join(FIGURES, "*.md"))):
        name = os.path.basename(fig)[:-3]
        text = open(fig).read()
        begin, end = "<!-- %s:begin -->" % name, "<!-- %s:end -->" % name
        page = next((p for p in pages if begin in docs[p]), None)
        if page is None:
            missing.append(name)
            continue
        doc = docs[page]
        i, j = doc.find(begin), doc.find(end)
        new = doc[: i + len(begin)] + "\n" + text + doc[j:]
        if new != doc:
            docs[page] = new
            changed.add(page)
            print("figures: %s -> %s" % (name, os.path.relpath(page, TOP)))
    for p in sorted(changed):
        with open(p + ".tmp", "w") as f:
            f.write(docs[p])
        os.rename(p + ".tmp", p)
    if not changed:
        print("figures: docs/ already holds every figure of %s" % os.path.relpath(FIGURES, TOP))
    for name in missing:
        print("figures: no page of docs/ has the markers of %s" % name, file=sys.stderr)
    return 1 if missing else 0


def run_of(name):
    return next((r for k, r in RUNS.items() if name.startswith(k)), "the test that writes it")


def check_blocks():
    stale = []
    for page in CHECKED_PAGES:
        for m in BLOCK.finditer(open(os.path.join(TOP, page)).read()):
            name, head = m.group(1), HEAD.match(m.group(2))
            if not head:
                stale.append("%s, block %s: records no source hash" % (page, name))
            elif source_hash(head.group(2).split(",")) != head.group(1):
                stale.append("%s, block %s: made from sources that have changed since" % (
                    page, name))
            else:
                continue
            stale[-1] += " (run %s, then `make figures`)" % run_of(name)
    for page in sorted(glob.glob(os.path.join(TOP, "docs", "*.md"))):
        rel = os.path.relpath(page, TOP)
        if rel in CHECKED_PAGES:
            continue
        for m in BLOCK.finditer(open(page).read()):
            head = HEAD.match(m.group(2))
            if not head:
                print("doc-check: note: %s, block %s records no source hash (run %s, then `make "
                      "figures`)" % (rel, m.group(1), run_of(m.group(1))))
            elif source_hash(head.group(2).split(",")) != head.group(1):
                print("doc-check: note: %s, block %s was made from sources that have changed since "
                      "(run %s, then `make figures`)" % (rel, m.group(1), run_of(m.group(1))))
    for s in stale:
        print("doc-check: " + s)
    if stale:
        print("doc-check: %d figure block(s) out of date: run the tests named above, then "
              "`make figures` (tests/lib/figures.py)" % len(stale))
    return 1 if stale else 0


def product_changed():
    """When the product's sources last changed: now if the working tree changes them, else
    the time of the last commit that did (None outside git)."""
    spec = ["*.c", "*.h"] + [":!%s" % p for p in PRODUCT_EXCLUDE]
    try:
        dirty = subprocess.run(["git", "status", "--porcelain", "--"] + spec, cwd=TOP,
                               check=True, capture_output=True, text=True).stdout.strip()
        if dirty:
            return time.time()
        t = subprocess.run(["git", "log", "-1", "--format=%ct", "--"] + spec, cwd=TOP,
                           check=True, capture_output=True, text=True).stdout.strip()
        return int(t) if t else None
    except (OSError, subprocess.CalledProcessError):
        return None


def check_benchmarks():
    changed = product_changed()
    if changed is None:
        return
    for page in sorted(glob.glob(os.path.join(TOP, "docs", "benchmark*.md"))):
        m = re.search(r"Written by .*? on (\d{4}-\d\d-\d\d \d\d:\d\d)", open(page).read())
        rel = os.path.relpath(page, TOP)
        if not m:
            print("doc-check: note: %s says not when it was measured" % rel)
            continue
        # The harness writes the machine's time (UTC on the machines that ran it).
        measured = calendar.timegm(time.strptime(m.group(1), "%Y-%m-%d %H:%M"))
        if measured < changed:
            print("doc-check: note: %s (measured %s) is older than the product sources it "
                  "measures (last changed %s): `make bench` rewrites it" % (
                      rel, m.group(1), time.strftime("%Y-%m-%d %H:%M", time.gmtime(changed))))


def main(argv):
    if len(argv) >= 4 and argv[1] == "put":
        return put(argv[2], argv[3], argv[4:])
    if argv[1:] == ["update"]:
        return update()
    if argv[1:] == ["check"]:
        rc = check_blocks()
        check_benchmarks()
        return rc
    print(__doc__.split("\n\n")[1], file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))

"""What docs/benchmark.md quotes from the two other reports of `make bench`
(docs/benchmark-dualbank.md, docs/benchmark-ostree.md). Stdlib only."""
import os
import re
import time

DOCS = os.path.join(os.path.abspath(os.path.join(os.path.dirname(__file__), "..")), "docs")


def dualbank_doc_ratios():
    p = os.path.join(DOCS, "benchmark-dualbank.md")
    if not os.path.exists(p):
        return "not measured (docs/benchmark-dualbank.md is missing)"
    txt = open(p).read()
    out = []
    for label, pat in (("read-back on", r"^\| `updater install` over HTTP, read-back[^|]*\|[^|]*\| ([0-9.]+) \|[^|]*\| ([^|]*)\|"),
                       ("off", r"^\| `updater install --no-readback`[^|]*\|[^|]*\| ([0-9.]+) \|[^|]*\| ([^|]*)\|")):
        m = re.search(pat, txt, re.M)
        if m:
            out.append(f"{label} {m.group(1)}x ({m.group(2).strip()})")
    when = re.search(r"on (\d{4}-\d\d-\d\d \d\d:\d\d)", txt)
    return (", ".join(out) or "no figures found") + (f", written {when.group(1)}" if when else "")


def ostree_doc_targets():
    p = os.path.join(DOCS, "benchmark-ostree.md")
    if not os.path.exists(p):
        return "not measured (docs/benchmark-ostree.md is missing)."
    txt = open(p).read()
    lines = [l[2:].strip() for l in txt.splitlines()
             if l.startswith("- ") and "target" in l]
    when = re.search(r"on (\d{4}-\d\d-\d\d \d\d:\d\d)", txt)
    return ("; ".join(lines) or "no figures found") + (f" (written {when.group(1)})." if when else ".")


def other_docs_seconds():
    """The time the two other reports of `make bench` say they took, when
    they were written less than an hour before this one."""
    out = []
    for name in ("benchmark-dualbank.md", "benchmark-ostree.md"):
        p = os.path.join(DOCS, name)
        if not os.path.exists(p) or time.time() - os.path.getmtime(p) > 3600:
            return None
        m = re.search(r"took (\d+) s", open(p).read())
        if not m:
            return None
        out.append(int(m.group(1)))
    return out

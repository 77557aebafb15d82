#!/usr/bin/env python3
"""linkcheck.py [FILE.md ...]: every relative link of README.md and docs/*.md (or the files
named) must name a file or directory of the repository, and a #anchor must name a heading
of the linked Markdown file (GitHub's anchor rules). External links (http:, https:, mailto:)
are not followed: this machine has no network.

The docs mostly name files as code (`tests/powercut/sweep.sh`, `boot-contract.md`):
such a code span counts as a link when it is a path into one of the repository's top-level
folders or names a Markdown file, and must then exist (from the top, or from docs/). Not
checked: absolute paths (a device's), build/ (made by the build), and paths with a
placeholder (an upper-case word, *, $, <...>).

Prints one line per broken link, then "links: N passed, N failed"; exits 1 on any."""
import os
import re
import sys

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)|!\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^\s*(```|~~~)")


def anchors(path):
    """The anchors GitHub makes for the headings of a Markdown file."""
    seen, out = {}, set()
    for _, line in prose(path):
        if not line.startswith("#"):
            continue
        text = line.lstrip("#").strip().lower()
        text = re.sub(r"[`*_]|<[^>]*>", "", text)
        slug = re.sub(r"[^\w\- ]", "", text).replace(" ", "-")
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        out.add(slug if n == 0 else "%s-%d" % (slug, n))
    return out


def prose(path):
    """(line number, line) of every line outside fenced code blocks."""
    in_fence = False
    for no, line in enumerate(open(path, encoding="utf-8"), 1):
        if FENCE.match(line):
            in_fence = not in_fence
        elif not in_fence:
            yield no, line


def links(path):
    """(line number, target) of every link outside code blocks and code spans."""
    for no, line in prose(path):
        line = re.sub(r"`[^`]*`", "", line)
        for m in LINK.finditer(line):
            yield no, m.group(1) or m.group(2)


TOPS = {d for d in os.listdir(TOP) if os.path.isdir(os.path.join(TOP, d)) and not d.startswith(".")}


def code_paths(path):
    """(line number, path) of every code span that names a file of the repository."""
    for no, line in prose(path):
        for m in re.finditer(r"`([^`\s]+)`", line):
            t = m.group(1).split(":")[0].rstrip("/,.")
            parts = t.split("/")
            if (t.startswith("/") or parts[0] == "build" or re.search(r"[*$<>{}=()\[\]|]", t)
                    or any(p.isupper() for p in parts)):
                continue
            if ("/" in t and parts[0] in TOPS) or t.endswith(".md"):
                yield no, t


def check_code_path(path, no, t):
    rel = os.path.relpath(path, TOP)
    if any(os.path.exists(os.path.join(TOP, base, t)) for base in ("", "docs")):
        return []
    return ["%s:%d: `%s`: no such file in the repository" % (rel, no, t)]


def check(path):
    bad = []
    for no, t in code_paths(path):
        bad += check_code_path(path, no, t)
    for no, target in links(path):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):
            continue
        file, _, anchor = target.partition("#")
        dest = os.path.normpath(os.path.join(os.path.dirname(path), file)) if file else path
        rel = os.path.relpath(path, TOP)
        if not dest.startswith(TOP + os.sep) and dest != TOP:
            bad.append("%s:%d: %s points outside the repository" % (rel, no, target))
        elif not os.path.exists(dest):
            bad.append("%s:%d: %s: no such file" % (rel, no, target))
        elif anchor and dest.endswith(".md") and anchor.lower() not in anchors(dest):
            bad.append("%s:%d: %s: no heading for #%s" % (rel, no, target, anchor))
    return bad


def main():
    files = sys.argv[1:] or [os.path.join(TOP, "README.md")] + sorted(
        os.path.join(TOP, "docs", f) for f in os.listdir(os.path.join(TOP, "docs")) if f.endswith(".md"))
    ok = failed = 0
    for f in files:
        bad = check(os.path.abspath(f))
        for b in bad:
            print("broken link: " + b)
        n = sum(1 for _ in links(f)) + sum(1 for _ in code_paths(f))
        failed += len(bad)
        ok += n - len(bad)
    print("links: %d passed, %d failed" % (ok, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

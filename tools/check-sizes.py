#!/usr/bin/env python3
"""Product code size limits (docs/architecture.md): no C function over 60
lines, no C file over 600 lines. Product code is every tracked .c and .h file
outside tests/ and bench/. A function counts from the first line of its
signature to its closing brace (the project's style: the signature and both
braces start in column 0). Prints each offender and exits 1 if there is one.

Usage: tools/check-sizes.py [--max-function N] [--max-file N] [DIR]"""
import argparse
import os
import subprocess
import sys

EXCLUDED = ("tests/", "bench/")


def product_files(top):
    """Tracked .c/.h files outside tests/ and bench/ (a tree without git: every file)."""
    try:
        out = subprocess.run(["git", "-C", top, "ls-files", "-z", "--", "*.c", "*.h"],
                             capture_output=True, check=True, text=True).stdout
        names = [n for n in out.split("\0") if n]
    except (OSError, subprocess.CalledProcessError):
        names = [os.path.relpath(os.path.join(d, f), top)
                 for d, _, fs in os.walk(top) for f in fs if f.endswith((".c", ".h"))]
    return sorted(n for n in names if not n.startswith(EXCLUDED) and not n.startswith("build/"))


def signature_start(lines, brace):
    """The first line of the signature that ends on the line before `brace`."""
    i = brace - 1
    while i > 0:
        prev = lines[i - 1].rstrip()
        if (not prev or prev.endswith((";", "}", "*/", "{")) or prev.startswith("#")
                or prev.startswith("//")):
            break
        i -= 1
    return i


def functions(lines):
    """(name line, first line, last line) of each function, 0-based lines."""
    i = 0
    while i < len(lines):
        if lines[i].rstrip() == "{":
            start = signature_start(lines, i)
            end = i + 1
            while end < len(lines) and lines[end].rstrip() != "}":
                end += 1
            yield start, end
            i = end
        i += 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--max-function", type=int, default=60)
    ap.add_argument("--max-file", type=int, default=600)
    ap.add_argument("top", nargs="?", default=os.path.join(os.path.dirname(__file__), ".."))
    a = ap.parse_args()
    bad = 0
    files = product_files(a.top)
    for name in files:
        with open(os.path.join(a.top, name), encoding="utf-8", errors="replace") as f:
            lines = f.read().split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        if len(lines) > a.max_file:
            print(f"{name}: {len(lines)} lines (limit {a.max_file} per file)")
            bad += 1
        for start, end in functions(lines):
            n = end - start + 1
            if n > a.max_function:
                print(f"{name}:{start + 1}: function of {n} lines (limit {a.max_function}): "
                      f"{lines[start].strip()}")
                bad += 1
    if bad:
        print(f"check-sizes: {bad} over the limits in {len(files)} product files")
        return 1
    print(f"check-sizes: {len(files)} product files within {a.max_file} lines, "
          f"functions within {a.max_function}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

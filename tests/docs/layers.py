#!/usr/bin/env python3
"""layers.py [TREE]: the folders of the product code keep the layers of docs/architecture.md.

The folder include graph comes from the `#include "..."` lines of every .c and .h file in the
layer folders below (an include naming a file of another folder is an edge between folders).
It fails on:
  - an include pointing up the layer order (a lower layer naming a higher one);
  - a cycle between folders (siblings of one layer may include each other, never both ways);
  - an include of a backend's header from outside that backend: backends plug in through the
    backend table (core/backends.c), the engine names none of them;
  - a source file in a folder that has no layer here (a new folder must be declared).

The one exception: a backend includes core/backend.h, the interface the engine defines and
the backends implement (`struct backend_ops`), and nothing else of core/. backends/image is
not a backend but code backends share (the image writer): backends may include it.

Prints one line per violation, then "layers: N edges, N violations"; exits 1 on any.
TREE (default: this repository) is a checkout to check, e.g. an older commit's."""
import os
import re
import sys

# Top to bottom; a folder may include only folders of its own or a lower layer.
LAYERS = [
    ["cli"],
    ["core"],
    ["backends/dualbank", "backends/ostree", "backends/singlecopy", "backends/image", "bootctl",
     "hooks", "bundle"],
    ["config"],
    ["lib"],
]
EXCEPTION = ("backends/", "core/backend.h")
# Code two backends share (the image writer of dual-bank and single-copy): not a
# backend, so the backends may include it, and nothing else of backends/.
SHARED_BACKEND_CODE = "backends/image"
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
RANK = {f: len(LAYERS) - i for i, layer in enumerate(LAYERS) for f in layer}
SKIP = {"tests", "tools", "bench", "build", "docs", "packaging", "ramdisk", "boot", "scripts"}


def folder_of(rel):
    """The layer folder a repository path belongs to (backends/NAME for a backend)."""
    parts = rel.split("/")
    if parts[0] == "backends" and len(parts) > 2:
        return "backends/" + parts[1]
    return parts[0] if len(parts) > 1 else ""


def sources(top):
    for dirpath, dirnames, files in os.walk(top):
        rel_dir = os.path.relpath(dirpath, top)
        if rel_dir == ".":
            dirnames[:] = [d for d in dirnames if d not in SKIP and not d.startswith(".")]
            continue
        for f in sorted(files):
            if f.endswith((".c", ".h")):
                yield os.path.normpath(os.path.join(rel_dir, f))


def edges(top):
    """(file, its folder, the included path, that path's folder) for each cross-folder include."""
    for rel in sources(top):
        with open(os.path.join(top, rel), encoding="utf-8", errors="replace") as f:
            text = f.read()
        src = folder_of(rel)
        for inc in INCLUDE.findall(text):
            target = os.path.normpath(os.path.join(os.path.dirname(rel), inc))
            if not os.path.exists(os.path.join(top, target)):
                continue  # a system header found by -I, or one of the build's
            dst = folder_of(target)
            if dst != src:
                yield rel, src, target, dst


def violations(top):
    out, graph, n = [], {}, 0
    for rel, src, target, dst in edges(top):
        n += 1
        graph.setdefault(src, set()).add(dst)
        if src not in RANK:
            out.append("%s: folder %s has no layer (tests/docs/layers.py LAYERS)" % (rel, src))
        elif dst not in RANK:
            out.append("%s includes %s: folder %s has no layer" % (rel, target, dst))
        elif src.startswith(EXCEPTION[0]) and target == EXCEPTION[1]:
            continue
        elif dst.startswith("backends/") and dst != SHARED_BACKEND_CODE:
            out.append("%s includes %s: a backend's header outside that backend" % (rel, target))
        elif RANK[dst] > RANK[src]:
            out.append("%s includes %s: %s is above %s" % (rel, target, dst, src))
    return out + cycles(graph), n


def cycles(graph):
    """One line per folder cycle found by a depth-first search."""
    out, state = [], {}

    def visit(node, path):
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                loop = path[path.index(nxt):] + [nxt]
                out.append("folder cycle: " + " -> ".join(loop))
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    return out


def main():
    top = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..")
    found, n = violations(os.path.abspath(top))
    for line in found:
        print("layers: " + line)
    print("layers: %d cross-folder includes, %d violations" % (n, len(found)))
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""doc_block.py FILE NAME TEXTFILE: replaces the text between "<!-- NAME:begin -->"
and "<!-- NAME:end -->" in FILE with TEXTFILE, so figures in the docs are written by
the tests that measure them, never by hand. FILE only changes when the text does
(the same rule as pc_doc_block in tests/powercut/lib.sh)."""
import os
import sys

path, name, text = sys.argv[1], sys.argv[2], open(sys.argv[3]).read()
begin, end = "<!-- %s:begin -->" % name, "<!-- %s:end -->" % name
doc = open(path).read()
i, j = doc.find(begin), doc.find(end)
if i < 0 or j < i:
    sys.exit("no %s ... %s markers in %s" % (begin, end, path))
new = doc[: i + len(begin)] + "\n" + text.rstrip("\n") + "\n" + doc[j:]
if new != doc:
    with open(path + ".tmp", "w") as f:
        f.write(new)
    os.rename(path + ".tmp", path)

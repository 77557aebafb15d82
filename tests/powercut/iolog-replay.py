#!/usr/bin/env python3
"""Rebuild files as a power cut would leave them, from an iolog journal.

tests/powercut/iolog.c (LD_PRELOAD) journals the writes, fsyncs, renames...
a process made to the files of a device directory ROOT. Given a copy of that
directory as it was before the run (PRISTINE), this replays the journal up to
a cut point under a strict power-cut model:

  - a write survives only if a later fsync/fdatasync of the same inode
    completed before the cut (sync_file_range is not durability: it neither
    flushes the metadata nor the drive's cache);
  - a directory entry (a created file, a rename, an unlink) survives only if
    an fsync of its directory completed before the cut; a created file whose
    entry survives but whose data was never fsync'd is empty;
  - sync()/syncfs() make everything durable.

Cut points are the records after which the durable state can change (every
completed fsync of a file or directory), plus torn variants: a cut while an
fsync of a file with unsynced writes is in progress, when only the first
half of those bytes ("torn") or only the second half ("tail"), split at a
4 KiB boundary, reached the medium.

    iolog-replay.py --journal J --root ROOT --pristine DIR --list
        one line per cut point: "K KIND WHAT" (KIND: start, sync, torn, tail,
        and end: after the last record, the process having exited)
    iolog-replay.py --journal J --root ROOT --pristine DIR --cut K[:torn|:tail] --out OUT
        OUT must hold a copy of PRISTINE; the files the journal touched are
        rewritten (or removed) there as the cut after record K leaves them.

Exit 2 when the journal holds an operation the model cannot replay (an "X"
record: writev, a shared writable mmap, fopen for writing...), or records of
more than one process.
"""

import argparse
import os
import sys


class Unsupported(Exception):
    pass


def parse(path):
    recs = []
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            t = line.split(" ", 1)[0]
            if t == "O":
                _, pid, ident, flags, created, trunc, p = line.split(" ", 6)
                recs.append(("O", int(pid), ident, int(flags), created == "1", trunc == "1", p))
            elif t == "W":
                _, pid, ident, off, length, doff = line.split(" ")
                recs.append(("W", int(pid), ident, int(off), int(length), int(doff)))
            elif t == "T":
                _, pid, ident, length = line.split(" ")
                recs.append(("T", int(pid), ident, int(length)))
            elif t == "F":
                _, pid, ident = line.split(" ")
                recs.append(("F", int(pid), ident))
            elif t in ("D", "U"):
                _, pid, p = line.split(" ", 2)
                recs.append((t, int(pid), p))
            elif t == "S":
                _, pid, ident, off, length, flags = line.split(" ")
                recs.append(("S", int(pid), ident, int(off), int(length), int(flags)))
            elif t == "R":
                _, pid, old, new = line.split(" ")
                recs.append(("R", int(pid), old, new))
            elif t == "G":
                _, pid = line.split(" ")
                recs.append(("G", int(pid)))
            elif t == "X":
                raise Unsupported("the journal holds an operation the model does not replay: " + line)
            else:
                raise Unsupported("unknown journal record: " + line)
    pids = {r[1] for r in recs}
    if len(pids) > 1:
        raise Unsupported("records of more than one process: %s" % sorted(pids))
    return recs


class Model:
    def __init__(self, root, pristine, data):
        self.root = root.rstrip("/")
        self.pristine = pristine
        self.data = data
        self.alias = {}      # journal id -> inode number here
        self.origin = {}     # inode -> pristine relpath, or None (created empty)
        self.vol = {}        # inode -> bytearray (what a reader sees), absent: origin
        self.dur = {}        # inode -> bytes (what survives), absent: origin
        self.pending = {}    # inode -> [(offset, bytes)] written since its last fsync
        self.ns_vol = {}     # relpath -> inode
        self.ns_dur = {}
        self.dirs = set()
        self.touched = set()
        self.name = {}       # inode -> relpath last opened (for messages)
        self.n = 0

    def rel(self, path):
        if path != self.root and not path.startswith(self.root + "/"):
            raise Unsupported("%s is outside %s" % (path, self.root))
        return path[len(self.root) + 1:]

    def new_inode(self, origin):
        self.n += 1
        self.origin[self.n] = origin
        return self.n

    def load_dir(self, reldir):
        """The first reference to a directory: its pristine files exist, durably."""
        if reldir in self.dirs:
            return
        self.dirs.add(reldir)
        d = os.path.join(self.pristine, reldir)
        for e in sorted(os.listdir(d)) if os.path.isdir(d) else []:
            rel = os.path.join(reldir, e) if reldir else e
            if os.path.isfile(os.path.join(self.pristine, rel)) and rel not in self.ns_vol:
                i = self.new_inode(rel)
                self.ns_vol[rel] = self.ns_dur[rel] = i
                self.touched.add(rel)

    def content(self, i):
        """The volatile content of inode i, loaded on first change."""
        if i not in self.vol:
            o = self.origin[i]
            self.vol[i] = bytearray(open(os.path.join(self.pristine, o), "rb").read()) if o else bytearray()
        return self.vol[i]

    def durable(self, i):
        if i in self.dur:
            return self.dur[i]
        o = self.origin[i]
        return None if o else b""  # None: the pristine file, unchanged

    def inode(self, ident):
        if ident not in self.alias:
            raise Unsupported("journal id %s used before it was opened" % ident)
        return self.alias[ident]

    def apply(self, r):
        t = r[0]
        if t == "O":
            _, _, ident, _, created, trunc, path = r
            rel = self.rel(path)
            self.load_dir(os.path.dirname(rel))
            if created:
                i = self.new_inode(None)
                self.ns_vol[rel] = i
                self.touched.add(rel)
            elif ident in self.alias:
                i = self.alias[ident]
            elif rel in self.ns_vol:
                i = self.ns_vol[rel]
            else:
                raise Unsupported("%s opened without O_CREAT but not in %s" % (rel, self.pristine))
            self.alias[ident] = i
            self.name[i] = rel
            if trunc:
                self.vol[i] = bytearray()
                self.pending.setdefault(i, []).append((0, b""))
        elif t == "W":
            _, _, ident, off, length, doff = r
            i = self.inode(ident)
            self.data.seek(doff)
            b = self.data.read(length)
            if len(b) != length:
                raise Unsupported("journal data is short at %d" % doff)
            buf = self.content(i)
            if off > len(buf):
                buf.extend(bytes(off - len(buf)))
            buf[off:off + length] = b
            self.pending.setdefault(i, []).append((off, b))
        elif t == "T":
            _, _, ident, length = r
            i = self.inode(ident)
            buf = self.content(i)
            if length < len(buf):
                del buf[length:]
            else:
                buf.extend(bytes(length - len(buf)))
        elif t == "F":
            self.fsync(self.inode(r[2]))
        elif t == "D":
            self.fsync_dir(self.rel(r[2]))
        elif t == "R":
            old, new = self.rel(r[2]), self.rel(r[3])
            self.load_dir(os.path.dirname(old))
            self.load_dir(os.path.dirname(new))
            if old not in self.ns_vol:
                raise Unsupported("rename of %s, which does not exist here" % old)
            self.ns_vol[new] = self.ns_vol.pop(old)
            self.touched.update((old, new))
        elif t == "U":
            rel = self.rel(r[2])
            self.load_dir(os.path.dirname(rel))
            self.ns_vol.pop(rel, None)
            self.touched.add(rel)
        elif t == "G":
            for i in list(self.vol):
                self.fsync(i)
            for d in list(self.dirs):
                self.fsync_dir(d)
        elif t == "S":
            pass

    def fsync(self, i):
        if i in self.vol:
            self.dur[i] = bytes(self.vol[i])
        self.pending[i] = []

    def fsync_dir(self, reldir):
        self.load_dir(reldir)
        for rel in set(self.ns_vol) | set(self.ns_dur):
            if os.path.dirname(rel) == reldir:
                if rel in self.ns_vol:
                    self.ns_dur[rel] = self.ns_vol[rel]
                else:
                    self.ns_dur.pop(rel, None)

    def tear(self, i, tail=False):
        """Only the first half of the unsynced bytes of inode i reach the medium
        (tail: only the second half), split at a 4 KiB boundary of the bytes
        in the order they were written."""
        writes = self.pending.get(i, [])
        total = sum(len(b) for _, b in writes)
        half = (total // 2) & ~4095
        lo, hi = (half, total) if tail else (0, half)
        base = self.durable(i)
        buf = bytearray(open(os.path.join(self.pristine, self.origin[i]), "rb").read()
                        if base is None else base)
        pos = 0  # bytes of the unsynced writes before this one
        for off, b in writes:
            if not b:  # a truncation by open(O_TRUNC)
                del buf[:]
                continue
            a, z = max(lo, pos), min(hi, pos + len(b))
            pos += len(b)
            if a >= z:
                continue
            at = off + (a - (pos - len(b)))
            if at > len(buf):
                buf.extend(bytes(at - len(buf)))
            buf[at:at + (z - a)] = b[a - (pos - len(b)):z - (pos - len(b))]
        self.dur[i] = bytes(buf)

    def write_out(self, out):
        for rel in sorted(self.touched | set(self.ns_dur)):
            target = os.path.join(out, rel)
            if rel not in self.ns_dur:
                if os.path.lexists(target):
                    os.unlink(target)
                continue
            i = self.ns_dur[rel]
            d = self.durable(i)
            if d is None and self.origin[i] == rel:
                continue  # the pristine file, as the copy in OUT already holds it
            if d is None:
                d = open(os.path.join(self.pristine, self.origin[i]), "rb").read()
            with open(target, "wb") as f:
                f.write(d)


def points(recs, model):
    """(K, KIND, WHAT): the cut points (without loading any data)."""
    out = [(0, "start", "before the first record")]
    end = (len(recs), "end", "after the process exited")
    pending = {}
    names = {}
    for k, r in enumerate(recs, 1):
        t = r[0]
        if t == "O":
            names[r[2]] = model.rel(r[6])
            if r[5]:
                pending[r[2]] = pending.get(r[2], 0) + 1
        elif t == "W":
            pending[r[2]] = pending.get(r[2], 0) + r[4]
        elif t == "F":
            if pending.get(r[2], 0) >= 8192:
                out.append((k, "torn", "during fsync %s (the first half of %d unsynced bytes)" % (names[r[2]], pending[r[2]])))
                out.append((k, "tail", "during fsync %s (the second half of %d unsynced bytes)" % (names[r[2]], pending[r[2]])))
            out.append((k, "sync", "after fsync %s" % names[r[2]]))
            pending[r[2]] = 0
        elif t == "D":
            out.append((k, "sync", "after fsync of directory %s" % (model.rel(r[2]) or ".")))
        elif t == "G":
            out.append((k, "sync", "after sync()"))
    return out + [end]


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--journal", required=True)
    ap.add_argument("--root", required=True)
    ap.add_argument("--pristine", required=True)
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--cut")
    ap.add_argument("--out")
    a = ap.parse_args(argv)
    try:
        recs = parse(a.journal)
        with open(a.journal + ".data", "rb") as data:
            m = Model(a.root, a.pristine, data)
            if a.list:
                for k, kind, what in points(recs, m):
                    print(k, kind, what)
                return 0
            if not a.cut or not a.out:
                ap.error("--cut K[:torn|:tail] and --out OUT, or --list")
            k, _, kind = a.cut.partition(":")
            k = int(k)
            if not 0 <= k <= len(recs):
                ap.error("--cut %d: the journal has %d records" % (k, len(recs)))
            if kind in ("torn", "tail"):
                if recs[k - 1][0] != "F":
                    ap.error("--cut %d:%s: record %d is not an fsync" % (k, kind, k))
                for r in recs[:k - 1]:
                    m.apply(r)
                m.tear(m.inode(recs[k - 1][2]), tail=kind == "tail")
            else:
                for r in recs[:k]:
                    m.apply(r)
            m.write_out(a.out)
    except Unsupported as e:
        print("iolog-replay: %s" % e, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

#!/usr/bin/env python3
"""The measurements behind bundle format 3's parameters (docs/bundle-format.md,
"Rationale"): frame size, hash length and whether the index is compressed.

For each image of the release series (bench/series.py; built by `make bench`)
a 4 KiB-block variant is made first (the series' images had 1 KiB ext4
blocks until 2026-12-05, so their 4 KiB blocks did not line up with files): the image is
loop-mounted read-only, its tree copied, and `mkfs.ext4 -b 4096 -d` run on it
with a fixed UUID, hash seed and time, the same size and inode count. Root is
needed for the mount; the images are kept under build/meas/ (cached).

Then, for each frame size, each image is cut as format 3 cuts it: frames of
frame-size bytes, each compressed alone (zstd level 3, content size in the
frame header, no checksum: what `updater bundle create` does), and the index
(a 4-byte compressed size per frame, then a 16-byte truncated SHA-256 per
4 KiB block, zstd -19). Per pair OLD -> NEW and frame size:
  bundle:   head + index + frames (the whole bundle), against today's one
            frame (`zstd -3` with the 8 MiB window bundle create uses);
  index:    the index section as stored (and raw, and with 32-byte hashes);
  dynamic:  what a device holding OLD fetches: the index, every frame holding
            at least one block of NEW whose hash is found nowhere in OLD
            (all-zero blocks are made locally), and 100 bytes of HTTP
            multipart overhead per range (adjacent frames are one range).
With --updater PATH the first image is also bundled by the real
`updater bundle create` and its payload and index sizes compared.

--level19 adds a row per pair with 16 KiB frames compressed at zstd level 19.

Usage: python3 bench/delta_frames.py [--json] [--updater ./updater] [--level19]
"""
import ctypes
import hashlib
import json
import os
import subprocess
import sys
import tempfile

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SERIES = os.environ.get("SERIES_DIR", "/work/wt/bench/build/bench/series/images")
MEAS = os.path.join(TOP, "build", "meas")
VERSIONS = ["1.0", "1.1", "2.0", "3.0"]
FRAMES_KIB = [4, 16, 64, 256]
BLOCK = 4096
HASH_LEN = 16
RANGE_OVERHEAD = 100     # bytes of multipart headers per range (issue 13)
HEAD = 700               # a format-3 head: fixed header, manifest, Ed25519 signature
EPOCH = 1700000000
UUID = "6f1c2c4e-8a5b-4c3d-9e2f-0a1b2c3d4e5f"
MiB = 1048576.0

_z = ctypes.CDLL("libzstd.so.1")
_z.ZSTD_compressBound.restype = ctypes.c_size_t
_z.ZSTD_compressBound.argtypes = [ctypes.c_size_t]
_z.ZSTD_compress.restype = ctypes.c_size_t
_z.ZSTD_compress.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p,
                             ctypes.c_size_t, ctypes.c_int]
_z.ZSTD_isError.argtypes = [ctypes.c_size_t]


def zsize(data, level):
    cap = _z.ZSTD_compressBound(len(data))
    buf = ctypes.create_string_buffer(cap)
    n = _z.ZSTD_compress(buf, cap, data, len(data), level)
    if _z.ZSTD_isError(n):
        raise RuntimeError("zstd failed")
    return n


def log(msg):
    print(f"delta_frames: {msg}", file=sys.stderr, flush=True)


def sh(cmd, env=None):
    return subprocess.run(cmd, shell=True, check=True, env=env, stdout=subprocess.PIPE,
                          executable="/bin/bash").stdout.decode().strip()


def image4k(v):
    """The 4 KiB-block variant of release v's image (cached)."""
    src = os.path.join(SERIES, f"{v}.img")
    out = os.path.join(MEAS, f"{v}-4k.img")
    if os.path.exists(out):
        return out
    log(f"making {out}")
    os.makedirs(MEAS, exist_ok=True)
    mnt, tree = tempfile.mkdtemp(dir=MEAS), tempfile.mkdtemp(dir=MEAS)
    inodes = sh(f"dumpe2fs -h {src} 2>/dev/null | sed -n 's/^Inode count: *//p'")
    try:
        sh(f"mount -o ro,loop,noload {src} {mnt}")
        try:
            sh(f"cp -a {mnt}/. {tree}/")
        finally:
            sh(f"umount {mnt}")
        env = dict(os.environ, E2FSPROGS_FAKE_TIME=str(EPOCH), SOURCE_DATE_EPOCH=str(EPOCH))
        size = os.path.getsize(src)
        sh(f"mkfs.ext4 -q -F -b 4096 -N {inodes} -L rootfs-{v} -U {UUID} "
           f"-E hash_seed={UUID},root_owner=0:0 -d {tree} {out}.tmp {size // 1024}k", env=env)
        # mke2fs drops a last block group that would be too small: keep the
        # image the release's size (the rest reads as zeros, as on a slot).
        os.truncate(out + ".tmp", size)
        os.rename(out + ".tmp", out)
    finally:
        sh(f"rm -rf {tree}; rmdir {mnt}")
    return out


def cached(name, compute):
    p = os.path.join(MEAS, name + ".json")
    if os.path.exists(p):
        with open(p) as f:
            return json.load(f)
    r = compute()
    with open(p + ".tmp", "w") as f:
        json.dump(r, f)
    os.rename(p + ".tmp", p)
    return r


def image_facts(path):
    """Block hashes and per-frame compressed sizes of one image."""
    def compute():
        log(f"cutting {path} into frames")
        with open(path, "rb") as f:
            data = f.read()
        hashes = [hashlib.sha256(data[i:i + BLOCK].ljust(BLOCK, b"\0")).hexdigest()
                  for i in range(0, len(data), BLOCK)]
        frames = {str(k): [zsize(data[i:i + k * 1024], 3) for i in range(0, len(data), k * 1024)]
                  for k in FRAMES_KIB}
        single = int(sh(f"zstd -3 --zstd=wlog=23 -T1 -c {path} | wc -c"))
        return {"size": len(data), "hashes": hashes, "frames": frames, "single": single}
    sha = sh(f"sha256sum {path}").split()[0][:16]
    return cached(f"facts-{sha}", compute)


def index_sizes(facts, kib):
    raw16 = b"".join(n.to_bytes(4, "little") for n in facts["frames"][str(kib)])
    raw32 = raw16 + b"".join(bytes.fromhex(h) for h in facts["hashes"])
    raw16 += b"".join(bytes.fromhex(h)[:HASH_LEN] for h in facts["hashes"])
    return {"raw": len(raw16), "stored": zsize(raw16, 19), "raw32": len(raw32),
            "stored32": zsize(raw32, 19)}


def pair(old, new, kib):
    zero = hashlib.sha256(bytes(BLOCK)).hexdigest()
    have = set(old["hashes"])
    per = kib * 1024 // BLOCK
    sizes = new["frames"][str(kib)]
    need = sorted({i // per for i, h in enumerate(new["hashes"]) if h != zero and h not in have})
    ranges = sum(1 for j, f in enumerate(need) if j == 0 or need[j - 1] != f - 1)
    idx = index_sizes(new, kib)
    frames = sum(sizes[f] for f in need)
    return {"frame_kib": kib, "bundle": HEAD + idx["stored"] + sum(sizes),
            "single": HEAD + new["single"], "index": idx,
            "missing_blocks": sum(1 for h in new["hashes"] if h != zero and h not in have),
            "frames_needed": len(need), "ranges": ranges, "frame_bytes": frames,
            "dynamic": HEAD + idx["stored"] + frames + RANGE_OVERHEAD * ranges}


def level_row(old_path, old, new_path, new, kib, level):
    """The same pair at another zstd level (frames only; the index as at level 3)."""
    def compute():
        log(f"{new_path} at level {level}, {kib} KiB frames")
        with open(new_path, "rb") as f:
            data = f.read()
        size = kib * 1024
        return [zsize(data[i:i + size], level) for i in range(0, len(data), size)]
    sha = sh(f"sha256sum {new_path}").split()[0][:16]
    sizes = cached(f"frames-{sha}-{kib}-l{level}", compute)
    alt = dict(new, frames={str(kib): sizes})
    r = pair(old, alt, kib)
    r["level"] = level
    return r


def truncation_check(facts_list):
    """Distinct blocks whose 16-byte prefixes collide (expected: none)."""
    full = {h for f in facts_list for h in f["hashes"]}
    return len(full) - len({h[:2 * HASH_LEN] for h in full})


def check_updater(updater, path, facts):
    """The real bundle creator against the figures computed here."""
    out = {}
    with tempfile.TemporaryDirectory(dir=MEAS) as d:
        sh(f"openssl genpkey -algorithm ed25519 -out {d}/k.pem 2>/dev/null")
        for kib in FRAMES_KIB:
            sh(f"{updater} bundle create --image {path} --version 1 --compatible meas "
               f"--key {d}/k.pem --output {d}/b.upd --frame-size {kib * 1024} >/dev/null")
            info = sh(f"{updater} -c /dev/null bundle info {d}/b.upd 2>/dev/null || true")
            out[kib] = {"file": os.path.getsize(f"{d}/b.upd"), "info": info,
                        "computed": sum(facts["frames"][str(kib)])}
    return out


def table(res):
    lines = ["| update | frame | bundle MiB (one frame today) | index KiB stored (raw; 32-byte "
             "hashes stored) | frames fetched | ranges | dynamic delta MiB |",
             "|---|---|---|---|---|---|---|"]
    for name, rows in res["pairs"].items():
        for r in rows:
            i = r["index"]
            lvl = f", level {r['level']}" if "level" in r else ""
            lines.append(f"| {name} | {r['frame_kib']} KiB{lvl} | {r['bundle'] / MiB:.2f} "
                         f"({r['single'] / MiB:.2f}) | {i['stored'] / 1024:.0f} "
                         f"({i['raw'] / 1024:.0f}; {i['stored32'] / 1024:.0f}) | "
                         f"{r['frames_needed']} | {r['ranges']} | {r['dynamic'] / MiB:.2f} |")
    return "\n".join(lines)


def main():
    os.makedirs(MEAS, exist_ok=True)
    facts = {v: image_facts(image4k(v)) for v in VERSIONS}
    res = {"pairs": {}, "collisions16": truncation_check(list(facts.values()))}
    for o, n in zip(VERSIONS, VERSIONS[1:]):
        res["pairs"][f"{o} -> {n}"] = [pair(facts[o], facts[n], k) for k in FRAMES_KIB]
        res["pairs"][f"{o} -> {n}"][0]["blocks"] = len(facts[n]["hashes"])
        if "--level19" in sys.argv:
            res["pairs"][f"{o} -> {n}"].append(level_row(image4k(o), facts[o], image4k(n),
                                                         facts[n], 16, 19))
    if "--updater" in sys.argv:
        u = sys.argv[sys.argv.index("--updater") + 1]
        res["updater_check"] = check_updater(u, image4k(VERSIONS[1]), facts[VERSIONS[1]])
    if "--json" in sys.argv:
        print(json.dumps(res, indent=1))
    else:
        print(table(res))
        print(f"\ndistinct blocks whose 16-byte hash prefixes collide: {res['collisions16']}")
        for kib, c in res.get("updater_check", {}).items():
            print(f"updater bundle create --frame-size {kib} KiB: {c['file']} bytes "
                  f"(frames computed here: {c['computed']})")


if __name__ == "__main__":
    main()

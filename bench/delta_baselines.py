#!/usr/bin/env python3
"""make bench: the figures a dual-bank delta install (issue 13) will be judged
against, for each update of the release series (bench/series.py). These are
targets, not results: nothing here installs anything.

For each pair OLD -> NEW of consecutive releases:
  (a) same_offset: 4 KiB blocks in which NEW differs from OLD at the same
      offset (what "bytes written to the slot" is judged against: a slot that
      holds OLD needs at least these blocks rewritten);
  (b) missing: 4 KiB blocks of NEW found nowhere in OLD by SHA-256 (distinct,
      all-zero blocks left out: a device makes those itself), raw and as one
      zstd -3 stream (what an ideal dynamic delta downloads);
  (c) zchunk: `zck_delta_size OLD.zck NEW.zck` (SWUpdate's delta handler
      fetches zchunk chunks), on `zck` files of the two raw images;
  (d) patch_from: size of `zstd -19 --long=31 --patch-from=OLD NEW`;
  (e) ostree_plain: body bytes of `ostree pull --disable-static-deltas` of
      NEW's commit into a repository holding OLD's, from the series' objects-only
      server (tests/lib/httpd.py --log), i.e. the ostree backend's plain pull.
And (f) the layout question: the same release's tree made into an ext4 image
twice with `mkfs.ext4 -d` in each way of bench/series.py's IMAGE_BUILDS:
mke2fs's defaults (random UUID and hash seed, 1 KiB blocks), every build input
fixed (-U, -E hash_seed=, E2FSPROGS_FAKE_TIME and SOURCE_DATE_EPOCH, the
tree's timestamps clamped), and that with 4 KiB blocks (how the series itself
is built): how many blocks differ, and (a)/(b) of the first pair each way.

Expensive results are cached under build/bench/delta-baselines/, keyed by the
SHA-256 of the images (and of the method). Needs zstd, zck (Debian package
zchunk, `scripts/deps.sh bench`), ostree and mkfs.ext4; no root (the pull
goes into an archive repository).
Run alone: `python3 bench/delta_baselines.py` (prints JSON) after the series
is built; bench/report.py calls it and writes the section of docs/benchmark.md.
"""
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import runner  # noqa: E402
import series as series_mod  # noqa: E402
from swupdate import sha256_file as file_sha  # noqa: E402

TOP = series_mod.TOP
BENCH = os.path.abspath(os.environ.get("BENCH_DIR", os.path.join(TOP, "build", "bench")))
CACHE = os.path.join(BENCH, "delta-baselines")
METHOD = 1            # bump when a pair's figures are computed differently
LAYOUT_METHOD = 2     # the same for the layout builds
BLOCK = 4096
ZERO = hashlib.sha256(bytes(BLOCK)).digest()
MiB = 1048576.0
EPOCH = series_mod.EPOCH  # the fixed time of the "stable" builds


def log(msg):
    print(f"bench delta-baselines: {msg}", file=sys.stderr, flush=True)


def sh(cmd, env=None, capture=True):
    r = subprocess.run(cmd, shell=True, executable="/bin/bash", env=env,
                       stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
                       stderr=subprocess.PIPE)
    if r.returncode != 0:
        raise RuntimeError(f"`{cmd}` failed: {r.stderr.decode(errors='replace')[-1500:]}")
    return r.stdout.decode().strip() if capture else ""


def block_hashes(path):
    out = []
    with open(path, "rb") as f:
        for b in iter(lambda: f.read(BLOCK), b""):
            out.append(hashlib.sha256(b.ljust(BLOCK, b"\0")).digest())
    return out


def cached(name, compute):
    """compute() once per name (a JSON file under CACHE)."""
    os.makedirs(CACHE, exist_ok=True)
    p = os.path.join(CACHE, name + ".json")
    if os.path.exists(p):
        with open(p) as f:
            return json.load(f)
    t0 = time.monotonic()
    res = compute()
    res["compute_seconds"] = round(time.monotonic() - t0, 1)
    with open(p + ".tmp", "w") as f:
        json.dump(res, f, indent=1)
    os.replace(p + ".tmp", p)
    return res


# --- (a) and (b): blocks ---------------------------------------------------------------

def block_figures(old, new, tmpdir):
    ho, hn = block_hashes(old), block_hashes(new)
    same = sum(1 for i, h in enumerate(hn) if i >= len(ho) or ho[i] != h)
    have, seen = set(ho), set()
    missing = os.path.join(tmpdir, "missing.bin")
    with open(new, "rb") as f, open(missing, "wb") as m:
        for i, h in enumerate(hn):
            if h in have or h in seen or h == ZERO:
                continue
            seen.add(h)
            f.seek(i * BLOCK)
            m.write(f.read(BLOCK).ljust(BLOCK, b"\0"))
    sh(f'zstd -q -3 -f "{missing}" -o "{missing}.zst"')
    res = {"blocks": len(hn), "same_offset_blocks": same,
           "zero_blocks": sum(1 for h in hn if h == ZERO),
           "missing_blocks": len(seen), "missing_zstd3": os.path.getsize(missing + ".zst")}
    os.unlink(missing)
    os.unlink(missing + ".zst")
    return res


# --- (c) zchunk, (d) zstd --patch-from -------------------------------------------------------

def zck_file(img, sha):
    out = os.path.join(CACHE, f"zck-{sha[:16]}.zck")
    if not os.path.exists(out):
        tmp = f"{out}.{os.getpid()}.{threading.get_ident()}"   # pairs run in parallel
        sh(f'zck -o "{tmp}" "{img}" && mv "{tmp}" "{out}"')
    return out


def zck_delta(old, new, so, sn):
    text = sh(f'zck_delta_size "{zck_file(old, so)}" "{zck_file(new, sn)}"')
    # "Would download N of M bytes", then "Matched X of Y chunks" (zchunk 1.2).
    m = re.search(r"download (\d+) of (\d+) bytes", text)
    if not m:
        raise RuntimeError(f"zck_delta_size: unexpected output: {text[-500:]}")
    return {"zck_delta": int(m.group(1)), "zck_size": int(m.group(2)),
            "zck_text": " / ".join(text.splitlines())}


def patch_from(old, new, tmpdir):
    out = os.path.join(tmpdir, "patch.zst")
    sh(f'zstd -q -19 --long=31 -f --patch-from="{old}" "{new}" -o "{out}"')
    n = os.path.getsize(out)
    os.unlink(out)
    return n


# --- (e) the ostree backend's plain object pull ----------------------------------------------

def ostree_plain(s, old_commit, new_commit, tmpdir):
    pf, logf = os.path.join(tmpdir, "port"), os.path.join(tmpdir, "httpd.log")
    srv = subprocess.Popen([sys.executable, os.path.join(TOP, "tests", "lib", "httpd.py"),
                            "--root", s.srv, "--port-file", pf, "--log", logf],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            if os.path.exists(pf) and os.path.getsize(pf):
                break
            time.sleep(0.05)
        url = f"http://127.0.0.1:{open(pf).read().strip()}/repo-plain"
        repo = os.path.join(tmpdir, "repo")
        sh(f'ostree --repo="{repo}" init --mode=archive && ostree --repo="{repo}" remote add '
           f'--set=gpg-verify=false origin "{url}" && ostree --repo="{repo}" pull origin '
           f'{series_mod.REF}@{old_commit}')
        time.sleep(0.1)
        before = os.path.getsize(logf)
        sh(f'ostree --repo="{repo}" pull --disable-static-deltas origin '
           f'{series_mod.REF}@{new_commit}')
        time.sleep(0.1)
        with open(logf) as f:
            f.seek(before)
            words = f.read().split()
        return {"ostree_plain": sum(int(w[5:]) for w in words if w.startswith("sent=")),
                "ostree_plain_requests": sum(1 for w in words if w.startswith("sent="))}
    finally:
        srv.terminate()
        srv.wait()


# --- the updater's static delta (format 5), the result the targets judge ------------------

# `bundle create` of a static delta uses every CPU: one at a time, so that
# its time is its own (the pairs' other work runs side by side).
_STATIC_ONE = threading.Lock()


def static_delta(s, o, n):
    """`updater bundle create --delta-from OLD.upd` for o -> n at its defaults
    (level 19, 4 MiB frames); cached by the images and the sources of bundle
    creation. Not written next to n's bundle, where devices would ask for it:
    bench/report.py serves that folder, and its dual-bank installs would then
    take the static delta in a run after this one and the dynamic delta in a
    first run (a run's figures depended on what an earlier run left)."""
    so, sn = file_sha(o["image"]), file_sha(n["image"])
    out = static_delta_path(o, n, so)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    src = runner.bundle_sources(TOP)
    key = hashlib.sha256(f"{so} {sn} {src}".encode()).hexdigest()[:16]

    def compute():
        with _STATIC_ONE:
            return build()

    def build():
        log(f"{o['version']} -> {n['version']}: updater static delta (once; cached)")
        # GNU time: the CPU and peak RSS of this command alone (the pairs'
        # other processes run side by side).
        t0, tf = time.monotonic(), out + ".time"
        sh(f'/usr/bin/time -f "%U %S %M" -o "{tf}" "{series_mod.UPDATER}" bundle create '
           f'--delta-from "{o["bundle"]}" --image "{n["image"]}" --version {n["version"]} '
           f'--compatible {series_mod.COMPATIBLE} --key "{s.key}" --output "{out}"')
        wall = time.monotonic() - t0
        with open(tf) as f:
            user, system, rss_kib = f.read().split()[-3:]
        os.unlink(tf)
        return {"static_delta": os.path.getsize(out), "static_create_seconds": round(wall, 1),
                "static_create_cpu_seconds": round(float(user) + float(system), 1),
                "static_create_peak_rss_mib": round(int(rss_kib) / 1024), "cpus": os.cpu_count()}
    return cached(f"static-{key}", compute)


def static_delta_path(o, n, so=None):
    """Where static_delta() keeps the delta o -> n: NAME.upd.from-HEX, in a
    folder of the series that is not served."""
    so = so or file_sha(o["image"])
    apart = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(n["bundle"]))),
                         "static-deltas")
    return os.path.join(apart, f"{os.path.basename(n['bundle'])}.from-{so[:16]}")


def pair(s, o, n):
    """All of (a)-(e) for OLD o -> NEW n (release dicts of the series)."""
    so, sn = file_sha(o["image"]), file_sha(n["image"])
    key = hashlib.sha256(f"{METHOD} {so} {sn} {o['commit']} {n['commit']}".encode()).hexdigest()[:16]

    def compute():
        log(f"{o['version']} -> {n['version']}: blocks, zchunk, zstd --patch-from, ostree pull "
            "(once; cached)")
        tmp = tempfile.mkdtemp(dir=BENCH)
        try:
            res = block_figures(o["image"], n["image"], tmp)
            res.update(zck_delta(o["image"], n["image"], so, sn))
            res["patch_from"] = patch_from(o["image"], n["image"], tmp)
            res.update(ostree_plain(s, o["commit"], n["commit"], tmp))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return res
    res = dict(cached(f"pair-{key}", compute))
    try:
        res.update(static_delta(s, o, n))
    except RuntimeError as e:
        res["static_delta_error"] = str(e).splitlines()[0]
    res.update({"from": o["version"], "to": n["version"], "image_bytes": n["image_bytes"],
                "bundle_bytes": os.path.getsize(n["bundle"]),
                "ostree_static_delta": s.deltas.get(f"{o['version']}-{n['version']}")})
    return res


# --- (f) layout ------------------------------------------------------------------------------

def build_tree(s, rel, tree):
    """The release's tree again, from the cached .debs, as bench/series.py makes it."""
    debs = s._debs()
    s._unpack(tree, [debs[name][ver.replace("%3a", ":")] for name, ver in rel["packages"].items()])
    if s.fix["mode"] == "patch" and rel["version"] != s.releases[0]["version"]:
        s._patch_fix(tree)
    s._kernel(tree, rel["kernel"])
    s._os_release(tree, rel["version"])


MODES = series_mod.IMAGE_BUILDS


def mkfs(rel, tree, out, mode):
    """The release's image built the way mode says (bench/series.py)."""
    series_mod.mkfs_image(rel["version"], tree, out, rel["image_bytes"] >> 20, mode)


def layout(s):
    o, n = s.releases[0], s.releases[1]
    key = hashlib.sha256(json.dumps([LAYOUT_METHOD, series_mod.cache_key(), EPOCH, o["packages"],
                                     n["packages"], sh("mke2fs -V 2>&1 | head -1")]).encode()
                         ).hexdigest()[:16]

    def compute():
        log(f"layout: {o['version']} once and {n['version']} twice, three kinds of build "
            "(once; cached)")
        tmp = tempfile.mkdtemp(dir=BENCH)
        res = {}
        try:
            imgs = {}
            # The new release twice, the old once; each build unpacks its tree
            # again (times and all), then makes every kind of image from it.
            for rel, i in ((o, 1), (n, 1), (n, 2)):
                tree = os.path.join(tmp, "tree")
                build_tree(s, rel, tree)
                for mode in MODES:
                    p = os.path.join(tmp, f"{rel['version']}-{mode}-{i}.img")
                    mkfs(rel, tree, p, mode)
                    imgs[(rel["version"], mode, i)] = p
                shutil.rmtree(tree)
            for mode in MODES:
                a, b = imgs[(n["version"], mode, 1)], imgs[(n["version"], mode, 2)]
                ha, hb = block_hashes(a), block_hashes(b)
                res[f"rebuild_{mode}"] = sum(1 for x, y in zip(ha, hb) if x != y)
                res[f"rebuild_{mode}_identical"] = file_sha(a) == file_sha(b)
                bf = block_figures(imgs[(o["version"], mode, 1)], imgs[(n["version"], mode, 1)], tmp)
                res[f"pair_{mode}"] = bf
            res["blocks"] = len(block_hashes(imgs[(n["version"], "default", 1)]))
            res["block_size"] = {m: int(sh(f'dumpe2fs -h "{imgs[(n["version"], m, 1)]}" 2>/dev/null '
                                           "| sed -n 's/^Block size: *//p'")) for m in MODES}
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return res
    res = dict(cached(f"layout-{key}", compute))
    res.update({"from": o["version"], "to": n["version"]})
    return res


def _mib(n):
    return f"{n / MiB:.2f}" if n is not None else "-"


def section(data, seconds=None):
    """The "Dual-bank delta: targets" section of docs/benchmark.md."""
    if not data or "error" in data:
        why = data["error"].splitlines()[0] if data else "not computed in this run"
        return ["## Dual-bank delta: targets", "", f"Not computed: {why}.", ""]
    L = ["## Dual-bank delta: targets", "",
         "**Targets, not results**: what the coming dual-bank delta install (issue 13) will be "
         "judged against, computed from the images and repositories of the series by "
         "bench/delta_baselines.py (cached under build/bench/delta-baselines/ by the images' "
         "SHA-256" + (f"; {seconds:.0f} s in this run" if seconds is not None else "") + "). "
         "MiB; 4 KiB blocks.", "",
         "| update | image (bundle) | (a) blocks that differ at the same offset | (b) blocks "
         "of the new image found nowhere in the old (SHA-256, distinct, not all-zero): raw / "
         "zstd -3 | (c) zchunk `zck_delta_size` | (d) `zstd -19 --long=31 --patch-from` | "
         "(e) ostree plain object pull | ostree static delta |",
         "|---|---|---|---|---|---|---|---|"]
    for p in data["pairs"]:
        L.append(f"| {p['from']} -> {p['to']} | {_mib(p['image_bytes'])} "
                 f"({_mib(p['bundle_bytes'])}) | {p['same_offset_blocks']} of {p['blocks']} "
                 f"({_mib(p['same_offset_blocks'] * BLOCK)}) | {p['missing_blocks']} "
                 f"({_mib(p['missing_blocks'] * BLOCK)}) / {_mib(p['missing_zstd3'])} | "
                 f"{_mib(p['zck_delta'])} of {_mib(p['zck_size'])} | {_mib(p['patch_from'])} | "
                 f"{_mib(p['ostree_plain'])} ({p['ostree_plain_requests']} requests) | "
                 f"{_mib(p['ostree_static_delta'])} |")
    L += static_lines(data["pairs"])
    L += ["", "What each target of issue 13 then is, per update (the delta install must do at "
          "least this well):", ""]
    for p in data["pairs"]:
        dyn = dyn_target(p)
        sd = p["ostree_static_delta"]
        L.append(f"- {p['from']} -> {p['to']}: dynamic delta downloads <= {_mib(dyn)} MiB "
                 f"(1.1x the plain pull {_mib(1.1 * p['ostree_plain'])}, 0.75x zchunk "
                 f"{_mib(0.75 * p['zck_delta'])}; the ideal block delta (b) is "
                 f"{_mib(p['missing_zstd3'])}); static delta <= {_mib(p['patch_from'])} MiB "
                 f"(the ostree static delta is {_mib(sd)}: within 1.5x of it would be "
                 f"{_mib(1.5 * sd) if sd else '-'}); bytes written <= "
                 f"{_mib(1.1 * p['same_offset_blocks'] * BLOCK)} MiB (1.1x (a), against "
                 f"{_mib(p['image_bytes'])} for the whole image today).")
    L += ["", "(a) is measured from the images, against a slot that holds exactly the old "
          "release; the install's own figure will be measured on the loop device. (b) leaves "
          "out all-zero blocks (a device writes those without downloading them) and counts a "
          "block that repeats once; the zstd -3 figure compresses those blocks as one stream "
          "(a range-fetchable payload of separate frames compresses a little worse). (c): "
          "`zck` (zchunk 1.2, default chunking) of each raw image, then `zck_delta_size OLD.zck "
          "NEW.zck` (what SWUpdate's delta handler would fetch). (e): `ostree pull "
          "--disable-static-deltas` of the new commit into an archive repository holding the "
          "old one, from the objects-only server; body bytes from the test server's log.", ""]
    L += layout_lines(data["layout"], data["pairs"][0])
    return L


def static_lines(pairs):
    """The updater's static delta (format 5) against its two targets."""
    L = ["", "**Result, static delta**: `updater bundle create --delta-from OLD.upd` at its "
         "defaults (format 5, zstd level 19, 4 MiB frames, each frame compressed against the "
         "whole old image followed by the new image's blocks before it and against the old "
         "image alone, the smaller kept), the file a device downloads:", ""]
    for p in pairs:
        if "static_delta" not in p:
            L.append(f"- {p['from']} -> {p['to']}: not made: {p.get('static_delta_error', '?')}")
            continue
        sd, pf, osd = p["static_delta"], p["patch_from"], p["ostree_static_delta"]
        r1 = sd / pf
        L.append(f"- {p['from']} -> {p['to']}: {_mib(sd)} MiB, {r1:.2f}x `zstd --patch-from` "
                 f"(target <= 1.0: {'met' if r1 <= 1.0 else 'NOT met'})" +
                 (f", {sd / osd:.2f}x the ostree static delta (aim: within 1.5x: "
                  f"{'met' if sd <= 1.5 * osd else 'NOT met'})" if osd else "") +
                 f"; made in {p['static_create_seconds']:.0f} s" +
                 (f" ({p['static_create_cpu_seconds']:.0f} s of CPU on {p['cpus']} CPUs" +
                  (f", peak RSS {p['static_create_peak_rss_mib']} MiB"
                   if "static_create_peak_rss_mib" in p else "") + ")."
                  if "static_create_cpu_seconds" in p else "."))
    return L


def dyn_target(p):
    """Issue 13's dynamic-delta download target for a pair, bytes."""
    return min(1.1 * p["ostree_plain"], 0.75 * p["zck_delta"])


def layout_lines(lo, first):
    bs = lo["block_size"]
    L = ["### How the image's layout changes these figures", "",
         f"The trees of {lo['from']} and {lo['to']} unpacked again from the same packages "
         f"({lo['to']} twice), each made into ext4 images with bench/series.py's `mkfs.ext4 -d` "
         "command in three ways: with mke2fs's defaults (how the series was built until "
         "2026-12-05); with every input of the build fixed (`-U` "
         "and `-E hash_seed=` one value for every release, `E2FSPROGS_FAKE_TIME` and "
         "`SOURCE_DATE_EPOCH`, every timestamp of the tree set to one time with `touch -h`); and "
         "that plus `-b 4096`, how the series is built now (mke2fs chooses 1 KiB blocks for a "
         f"file system below 512 MiB: block size {bs['default']} bytes, so a file's data starts at any "
         "1 KiB boundary and few 4 KiB image blocks hold the same bytes in two images).", "",
         f"| build | {lo['to']} built twice: 4 KiB blocks that differ | {lo['from']} -> "
         f"{lo['to']}: (a) blocks that differ at the same offset | (b) blocks found nowhere in "
         "the old, raw / zstd -3 |", "|---|---|---|---|"]
    for mode, what in MODES.items():
        p = lo[f"pair_{mode}"]
        same = " (identical images)" if lo[f"rebuild_{mode}_identical"] else ""
        L.append(f"| {what} | {lo[f'rebuild_{mode}']} of {p['blocks']}{same} | {p['same_offset_blocks']} of "
                 f"{p['blocks']} ({_mib(p['same_offset_blocks'] * BLOCK)} MiB) | "
                 f"{p['missing_blocks']} ({_mib(p['missing_blocks'] * BLOCK)} MiB) / "
                 f"{_mib(p['missing_zstd3'])} MiB |")
    if not lo["rebuild_stable_identical"]:
        L += ["", f"Two builds with every input fixed still differ in {lo['rebuild_stable']} "
              "blocks; which ones was not traced here (the inodes' change and creation times, "
              "which `touch` cannot set and this mke2fs does not take from SOURCE_DATE_EPOCH, "
              "are the likely ones)."]
    p4, pd = lo["pair_stable4k"], lo["pair_default"]
    L += ["", f"The largest effect is the block size: with 4 KiB file system blocks the blocks "
          f"of {lo['to']} found nowhere in {lo['from']} drop from {pd['missing_blocks']} to "
          f"{p4['missing_blocks']} ({_mib(pd['missing_zstd3'])} -> {_mib(p4['missing_zstd3'])} "
          f"MiB after zstd -3). For the series' {first['from']} -> {first['to']}, the dynamic "
          f"delta's target above is {_mib(dyn_target(first))} MiB: the ideal 4 KiB block delta "
          f"of these images is {'above' if pd['missing_zstd3'] > dyn_target(first) else 'within'}"
          f" it with 1 KiB file system blocks and "
          f"{'above' if p4['missing_zstd3'] > dyn_target(first) else 'within'} it with 4 KiB "
          "ones."]
    L += ["", "What a build system should do, from these figures: fix every input of the image "
          "build (UUID, hash seed, all timestamps) so that the same files give the same blocks, "
          "and use 4 KiB file system blocks so that a file's data is aligned with the 4 KiB "
          "blocks a delta compares. The blocks that still differ at the same offset are those of "
          "the changed files and of whatever mke2fs placed after a file whose size changed (it "
          "allocates in the order of its directory walk, so a fixed walk order alone does not "
          "keep later files in place when an earlier one grows); keeping those offsets across "
          "releases needs an allocator that starts from the previous image's block map "
          "(Android's e2fsdroid with a base_fs file). A dynamic delta's download (b) looks blocks "
          "up by content wherever they are, so it does not depend on the offsets, only on the "
          "alignment. The series itself is built the last way (since 2026-12-05; the reports "
          "before that date used the first, where the dynamic delta had to fetch the blocks "
          "that 1 KiB alignment made differ).", ""]
    return L


def compute_all(s):
    """Every figure; the pairs and the layout builds run side by side (their
    work is in single-threaded zstd, zck and mkfs processes), at nice 10."""
    rels = s.releases
    old = os.getpriority(os.PRIO_PROCESS, 0)
    os.setpriority(os.PRIO_PROCESS, 0, max(old, 10))
    try:
        with ThreadPoolExecutor(max_workers=len(rels)) as ex:
            pairs = [ex.submit(pair, s, o, n) for o, n in zip(rels, rels[1:])]
            lay = ex.submit(layout, s)
            return {"pairs": [p.result() for p in pairs], "layout": lay.result()}
    finally:
        try:
            os.setpriority(os.PRIO_PROCESS, 0, old)
        except OSError:
            pass


def put_static_figure(data):
    """docs/dualbank.md's "static-series" block: the static delta's lines,
    recorded with the sources they measured (tests/lib/figures.py)."""
    out = os.path.join(BENCH, "static-series.md")
    with open(out, "w") as f:
        f.write("\n".join(static_lines(data["pairs"])[2:]) + "\n\nMade by `python3 "
                "bench/delta_baselines.py` on the release series of docs/benchmark.md (images "
                "built with every input fixed and 4 KiB blocks, bench/series.py), " + time.strftime("%Y-%m-%d") + ".\n")
    sh(f'{sys.executable} "{TOP}/tests/lib/figures.py" put static-series "{out}" '
       "bench/delta_baselines.py bench/series.py")


if __name__ == "__main__":
    result = compute_all(series_mod.Series(BENCH).build())
    put_static_figure(result)
    json.dump(result, sys.stdout, indent=1)
    print()

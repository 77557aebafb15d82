#!/usr/bin/env python3
"""The dual-bank delta install against `install --full` of the same update, in
the same run (issue 13's time and memory measures): an ext4 image of real
files (4 KiB blocks) and the next release (every 20th file changed, 2 MiB of
new files), a bundle of the new one served by tests/lib/httpd.py on
127.0.0.1, a simulated device (tools/updater-sim) running the old release
with the other slot holding the old release too (as after an earlier update),
each install on a fresh copy of that device. The old release runs either
from a factory image (slot A: the delta install reads the slot to learn its
image's id) or as the updater installed it (slot B: the id and the image's
block hashes recorded). Reports, per mode, the best and the
median of BENCH_RUNS wall times (read-back on), the peak anonymous memory
(RssAnon, sampled every 5 ms) and the bytes downloaded and written (the
install's last log line). Prints the figures and writes them, with the hash
of the sources they measured, as build/figures/delta-install*.md
(tests/lib/figures.py; `make figures` puts them into docs/dualbank.md), for
the default and for DELTA_IMAGE_MB=1024 BENCH_RUNS=1 DELTA_LINK_MBIT=400.

Three modes: `install --full` (the whole bundle streamed), the dynamic delta
(the server holds the bundle alone) and the static delta (the server also
holds `v2.upd.from-HEX`, made by `bundle create --delta-from v1.upd` at
STATIC_LEVEL, default 19: what a release build would ship).

Each mode runs over loopback unlimited, and over a link of DELTA_LINK_MBIT
Mbit/s (default 100: the server drips the bytes, tests/lib/httpd.py
--fault drip=...), where the bytes downloaded cost what they would on a
device's network.

Then, over loopback, issue 13's memory row for the delta installs: the peak
RSS of the dual-bank-only build (runner.slim_updater) for each of full,
dynamic and static from the factory device, against SWUpdate installing the
same image (the bundle's payload; bench/swupdate.py) from a local .swu and
over HTTP, interleaved, BENCH_RUNS times.

Environment: BENCH_RUNS (default 3), BENCH_DIR (default build/bench),
DELTA_IMAGE_MB (default 256), DELTA_LINK_MBIT (default 100).
"""
import hashlib
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import runner  # bench/runner.py
import swupdate  # bench/swupdate.py

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
BENCH = os.path.abspath(os.environ.get("BENCH_DIR", os.path.join(TOP, "build", "bench")))
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
SIZE_MB = int(os.environ.get("DELTA_IMAGE_MB", "256"))
UPDATER = os.path.join(TOP, "updater")
SIM = os.path.join(TOP, "tools", "updater-sim")
LINK_MBIT = float(os.environ.get("DELTA_LINK_MBIT", "100"))
STATIC_LEVEL = int(os.environ.get("STATIC_LEVEL", "19"))
FIXTURE_VERSION = 4  # bump when what fixtures() makes changes
# (key, label, short label, the device it starts from): "pristine" runs a
# factory image on A, whose id the delta install computes by reading the
# slot; "installed" runs the same release as installed by the updater (on
# B, its image hash recorded when it was read back and its block hashes when
# it was written by a delta install), as after any update.
MODES = (("full", "install --full", "full", "pristine"),
         ("dynamic", "install (dynamic delta)", "dynamic delta", "pristine"),
         ("static", "install (static delta)", "static delta", "pristine"),
         ("dynamic-rec", "install (dynamic delta), booted image recorded",
          "dynamic delta, booted image recorded", "installed"),
         ("static-rec", "install (static delta), booted image recorded",
          "static delta, booted image recorded", "installed"))
# The memory row's installs: (mode, label).
MEMORY = (("full", "install --full"), ("dynamic", "install (dynamic delta)"),
          ("static", "install (static delta)"))
# Real files (184 MiB; with /usr/lib/gcc 424 MiB, for images of 512 MiB and more).
CONTENT = ["/usr/lib/python3.11", "/usr/share/doc"] + (["/usr/lib/gcc"] if SIZE_MB >= 512 else [])


def sh(cmd, **kw):
    return subprocess.run(cmd, shell=True, check=True, executable="/bin/bash", **kw)


def make_tree(version):
    tree = tempfile.mkdtemp(dir=BENCH)
    for src in CONTENT:
        dst = os.path.join(tree, src.lstrip("/"))
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copytree(src, dst, symlinks=True)
    os.makedirs(os.path.join(tree, "etc"), exist_ok=True)
    with open(os.path.join(tree, "etc", "os-release"), "w") as f:
        f.write(f'VERSION_ID="{version}"\n')
    return tree


def change_tree(tree):
    """Every 20th regular file gets a line appended; 2 MiB of new files."""
    n = 0
    for d, _, fs in sorted(os.walk(tree)):
        for f in sorted(fs):
            p = os.path.join(d, f)
            if os.path.isfile(p) and not os.path.islink(p):
                n += 1
                if n % 20 == 0:
                    with open(p, "ab") as out:
                        out.write(b"\n# changed in 2.0\n")
    new = os.path.join(tree, "usr", "lib", "new-in-2.0")
    os.makedirs(new)
    for i in range(8):
        with open(os.path.join(new, f"blob{i}"), "wb") as out:
            out.write(os.urandom(256 * 1024))


def mkfs(tree, path):
    sh(f"mkfs.ext4 -q -F -b 4096 -d {tree} {path} {SIZE_MB}M")


def image_id(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""):
            h.update(b)
    return h.hexdigest()[:16]


def fixtures():
    d = os.path.join(BENCH, f"delta-{SIZE_MB}")
    done = os.path.join(d, ".done")
    if os.path.exists(done) and open(done).read() == f"{FIXTURE_VERSION}":
        return static_delta(d)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    tree = make_tree("1.0")
    mkfs(tree, os.path.join(d, "v1.img"))
    change_tree(tree)
    with open(os.path.join(tree, "etc", "os-release"), "w") as f:
        f.write('VERSION_ID="2.0"\n')
    mkfs(tree, os.path.join(d, "v2.img"))
    shutil.rmtree(tree)
    sh(f'. "{TOP}/tests/lib/common.sh"; make_key release {d}', stdout=subprocess.DEVNULL)
    os.makedirs(os.path.join(d, "www"))
    os.makedirs(os.path.join(d, "www-static"))
    for v in ("1", "2"):
        sh(f"{UPDATER} bundle create --image {d}/v{v}.img --version {v}.0 --compatible sim-board "
           f"--key {d}/release.pem --output {d}/www/v{v}.upd", stdout=subprocess.DEVNULL)
    sh(f"ln {d}/www/v2.upd {d}/www-static/v2.upd")
    # Made where each run's copy goes (its updater.conf names its own paths),
    # then kept aside as the pristine device.
    dev = os.path.join(BENCH, "delta-dev")
    shutil.rmtree(dev, ignore_errors=True)
    sh(f"{SIM} create {dev} --backend=dualbank --image {d}/v1.img --key {d}/release.pub.pem "
       f"--slot-size {SIZE_MB + 16}M --compatible sim-board", stdout=subprocess.DEVNULL)
    # Slot B: the release before (here the same old image), as after an update.
    sh(f"dd if={d}/v1.img of={dev}/slots/B.img conv=notrunc,fsync status=none")
    sh(f"cp -a --sparse=always {dev} {d}/pristine")
    # The same release installed by the updater (a delta install: the blocks
    # are in place), booted and confirmed: the state records its image's
    # hash and its block hashes (dualbank-B.blocks); slot A keeps the factory
    # image.
    conf = f"--config={dev}/updater.conf --progress=none"
    sh(f"{UPDATER} {conf} install --allow-downgrade {d}/www/v1.upd",
       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    sh(f"{SIM} reboot {dev}", stdout=subprocess.DEVNULL)
    sh(f"{UPDATER} {conf} mark-good", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    sh(f"cp -a --sparse=always {dev} {d}/installed")
    with open(done, "w") as f:
        f.write(f"{FIXTURE_VERSION}")
    return static_delta(d)


def static_delta(d):
    """The fixture's static delta (made again when bundle creation's sources
    changed: the devices and bundles stay)."""
    key = f"{STATIC_LEVEL} {runner.bundle_sources(TOP)}"
    done = os.path.join(d, ".static-done")
    if os.path.exists(done) and open(done).read() == key:
        return d
    sh(f"{UPDATER} bundle create --delta-from {d}/www/v1.upd --image {d}/v2.img --version 2.0 "
       f"--compatible sim-board --level {STATIC_LEVEL} --key {d}/release.pem "
       f"--output {d}/www-static/v2.upd.from-{image_id(os.path.join(d, 'v1.img'))}",
       stdout=subprocess.DEVNULL)
    with open(done, "w") as f:
        f.write(key)
    return d


def differing_blocks(a, b):
    """4 KiB blocks in which image b differs from what the slot held (a)."""
    n = 0
    with open(a, "rb") as fa, open(b, "rb") as fb:
        while True:
            x, y = fa.read(4096), fb.read(4096)
            if not y:
                return n
            n += x != y


def peak_anon(pid, out, stop):
    peak = 0
    while not stop.is_set():
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("RssAnon:"):
                        peak = max(peak, int(line.split()[1]))
        except OSError:
            break
        time.sleep(0.005)
    out.append(peak)


def start_httpd(root, *args):
    pf = os.path.join(BENCH, "delta-port")
    if os.path.exists(pf):
        os.unlink(pf)
    p = subprocess.Popen([sys.executable, os.path.join(TOP, "tests", "lib", "httpd.py"), "--root",
                          root, "--port-file", pf, *args], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    for _ in range(200):
        if os.path.exists(pf) and os.path.getsize(pf):
            break
        time.sleep(0.05)
    return p, f"http://127.0.0.1:{open(pf).read().strip()}"


def fresh_device(d, device):
    """A copy of the device `device` where every run's goes, page cache dropped."""
    dev = os.path.join(BENCH, "delta-dev")
    shutil.rmtree(dev, ignore_errors=True)
    sh(f"cp -a --sparse=always {d}/{device} {dev}")
    sh("sync; echo 3 > /proc/sys/vm/drop_caches")
    return dev


def install_argv(program, dev, url, mode):
    argv = [program, f"--config={dev}/updater.conf", "--progress=none", "install"]
    argv += ["--full"] if mode == "full" else []
    return argv + [f"{url}/{'www-static' if mode.startswith('static') else 'www'}/v2.upd"]


def one(d, url, mode, device):
    dev = fresh_device(d, device)
    t0 = time.monotonic()
    p = subprocess.Popen(install_argv(UPDATER, dev, url, mode), stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True)
    peak, stop = [], threading.Event()
    th = threading.Thread(target=peak_anon, args=(p.pid, peak, stop))
    th.start()
    err = p.communicate()[1]
    secs = time.monotonic() - t0
    stop.set()
    th.join()
    if p.returncode != 0:
        raise SystemExit(f"install ({mode}) failed: {err.strip()[-300:]}")
    return secs, peak[0], moved(err) or "?"


def moved(log):
    """What the install's last line says it moved ("static delta: 2.1 MiB
    downloaded, ..."; a full install's starts with its download), or None."""
    m = re.search(r"installed on [AB] \((.*?)\) and boots", log)
    return m.group(1) if m else None


def kind(summary):
    """The mode (MEMORY's) of the install that summary describes."""
    if summary.startswith("static delta: "):
        return "static"
    return "dynamic" if summary.startswith("delta: ") else "full"


def memory(d, url):
    """Issue 13's memory row for the delta installs: {what: [peak RSS in KiB,
    one per run]} of the dual-bank-only build's installs from the factory
    device, and of SWUpdate's install of the same image (the bundle's zstd
    payload, streamed into the same slot) from a local .swu and over HTTP,
    interleaved. GNU time's figure (runner.run_timed), as bench/dualbank.py's."""
    slim = runner.slim_updater(TOP)
    sw = None
    if swupdate.installed():
        payload = os.path.join(d, "v2.payload.zst")
        runner.extract_payload(os.path.join(d, "www", "v2.upd"), payload)
        sw = swupdate.SWUpdate(d, os.path.join(BENCH, "delta-dev", "slots", "B.img"), payload,
                               os.path.join(d, "v2.img"))
        sw.prepare()
    sw_runs = [("swupdate-local", sw.swu, False),
               ("swupdate-http", f"{url}/swupdate/bench.swu", True)] if sw else []
    rss = {}
    for _ in range(RUNS):
        for mode, _ in MEMORY:
            r = runner.run_timed(install_argv(slim, fresh_device(d, "pristine"), url, mode))
            summary = moved(r["output"])
            if summary is None or kind(summary) != mode:
                raise SystemExit(f"install ({mode}) was another kind:\n{r['output'][-500:]}")
            rss.setdefault(mode, []).append(r["rss_kib"])
        for key, src, http in sw_runs:
            fresh_device(d, "pristine")
            rss.setdefault(key, []).append(sw.install(src, http=http)["rss_kib"])
    return rss


def main():
    os.makedirs(BENCH, exist_ok=True)
    d = fixtures()
    results, mem = [], {}
    for link in (None, LINK_MBIT):
        args = ["--fault", f"drip={int(link * 1e6 / 8)}"] if link else []
        httpd, url = start_httpd(d, *args)
        try:
            res = {m[0]: [] for m in MODES}
            for _ in range(RUNS):  # interleaved: drift hits every mode alike
                for m, _, _, device in MODES:
                    res[m].append(one(d, url, m, device))
            if link is None:
                mem = memory(d, url)
        finally:
            httpd.terminate()
            httpd.wait()
        results.append((link, res))
    text = report(d, results) + memory_report(mem)
    out = os.path.join(BENCH, f"delta-install-{SIZE_MB}.md")
    with open(out, "w") as f:
        f.write(text)
    print(text)
    # The two configurations docs/dualbank.md shows: 256 MiB, 3 runs (the
    # default) and 1 GiB, 1 run (issue 13's memory bound).
    name = {(256, 3): "delta-install", (1024, 1): "delta-install-1024"}.get((SIZE_MB, RUNS))
    if name:
        sh(f"{sys.executable} {TOP}/tests/lib/figures.py put {name} {out} bench/delta_install.py")


def report(d, results):
    v2 = os.path.getsize(os.path.join(d, "v2.img"))
    bundle = os.path.getsize(os.path.join(d, "www", "v2.upd"))
    static = [f for f in os.listdir(os.path.join(d, "www-static")) if ".from-" in f][0]
    sbytes = os.path.getsize(os.path.join(d, "www-static", static))
    lines = [f"Made by `bench/delta_install.py`, {RUNS} runs per mode, "
             f"interleaved; image {v2 >> 20} MiB (ext4, 4 KiB blocks), bundle {bundle / 1048576:.1f} MiB, "
             f"static delta {sbytes / 1048576:.2f} MiB (zstd level {STATIC_LEVEL}); "
             "the device runs the old release, from a factory image on A or (booted image "
             "recorded, and its block hashes) as the updater's delta install wrote it on B; the other slot holds the release before "
             "(the same image); read-back on; page cache dropped before each run.",
             "", "| link | mode | best s | median s | peak RssAnon KiB | moved (last run) |",
             "|---|---|---|---|---|---|"]
    for link, res in results:
        where = f"{link:g} Mbit/s" if link else "loopback"
        for m, name, _, _ in MODES:
            r = res[m]
            lines.append(f"| {where} | {name} | {min(x[0] for x in r):.2f} | "
                         f"{statistics.median(x[0] for x in r):.2f} | {max(x[1] for x in r)} | {r[-1][2]} |")
    diff = differing_blocks(os.path.join(d, "v1.img"), os.path.join(d, "v2.img"))
    lines += ["", f"The new image differs from the target slot's content (the release before) in {diff} blocks of 4 KiB "
              f"({diff * 4096 / 1048576:.1f} MiB, of {v2 >> 20} MiB); written by the last loopback run "
              "(target: at most 1.1x those blocks):"]
    for m, name, _, _ in MODES[1:]:
        w = re.search(r"([0-9.]+) MiB written", results[0][1][m][-1][2])
        lines.append(f"- {name}: {w.group(1) if w else '?'} MiB")
    lines.append("")
    for link, res in results:
        where = f"{link:g} Mbit/s" if link else "loopback"
        best_full = min(x[0] for x in res["full"])
        for m, _, short, _ in MODES[1:]:
            ratio = min(x[0] for x in res[m]) / best_full
            anon = max(x[1] for x in res[m]) - max(x[1] for x in res["full"])
            lines.append(f"- {where}, {short} / full: best times {ratio:.2f} "
                         f"(target <= 1.0: {'met' if ratio <= 1.0 else 'NOT met'}); peak RssAnon "
                         f"minus full's {anon} KiB (target: <= 4096 KiB for a 1 GiB image).")
    return "\n".join(lines) + "\n"


def memory_report(mem):
    med = {k: statistics.median(v) for k, v in mem.items()}
    lines = ["", f"Issue 13's memory row for the delta installs: peak RSS (GNU time, median of {RUNS} "
             "runs, the factory device over loopback) of the dual-bank-only build (`make WITH_OSTREE=0 "
             "WITH_SINGLECOPY=0`), against SWUpdate installing the same image (the bundle's zstd "
             "payload, its `raw` handler streaming it into the same slot; bench/swupdate.py):", "",
             "| install | peak RSS KiB |", "|---|---|"]
    lines += [f"| {label} | {med[m]:.0f} |" for m, label in MEMORY]
    sw = [med[k] for k in ("swupdate-local", "swupdate-http") if k in med]
    if not sw:
        return "\n".join(lines + ["", "SWUpdate is not installed here: NOT measured against it."]) + "\n"
    lines += [f"| SWUpdate `swupdate -i` from a local .swu | {med['swupdate-local']:.0f} |",
              f"| SWUpdate `swupdate -d -u URL` over HTTP | {med['swupdate-http']:.0f} |", ""]
    low = min(sw)
    lines.append(f"Target: below SWUpdate's lower figure, {low:.0f} KiB: " + ", ".join(
        f"{label} {'met' if med[m] < low else 'NOT met'} ({med[m] - low:+.0f} KiB)"
        for m, label in MEMORY) + ".")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""make bench, dual-bank part: install a 512 MiB image from a zstd bundle over
loopback HTTP into a file slot, against the bare pipeline
`zstd -dc payload | dd of=slot bs=1M iflag=fullblock conv=fsync` measured in the same run
(which neither downloads, hashes nor verifies). Also the peak RSS of a 16 MiB
and a 512 MiB install. Where they are installed (`scripts/deps.sh bench`),
SWUpdate (swupdate.py) and RAUC (rauc.py) install the same image into the
same slot file in the same loop. Writes docs/benchmark-dualbank.md.

Environment: BENCH_RUNS (default 15), BENCH_MEDIUM (ram, the default, or disk:
bench/quiesce.py), BENCH_DIR (default /dev/shm/updater-bench, or build/bench
with BENCH_MEDIUM=disk).
"""
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import flash  # noqa: E402  (bench/flash.py)
import quiesce  # noqa: E402  (bench/quiesce.py)
import rauc  # noqa: E402  (bench/rauc.py)
import swupdate  # noqa: E402  (bench/swupdate.py)
import runner  # noqa: E402
from runner import ToolError  # noqa: E402

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
BENCH = quiesce.bench_dir(TOP)
HISTORY = os.path.join(TOP, "build", "bench-history", f"dualbank-{quiesce.medium()}.json")
RUNS = int(os.environ.get("BENCH_RUNS", "15"))
UPDATER = os.path.join(TOP, "updater")
# The dual-bank-only build (runner.slim_updater), made by prepare().
SLIM = None
REPORT = os.path.join(TOP, "docs", "benchmark-dualbank.md")
# Real files, so the image compresses like a root filesystem does.
CONTENT_512 = ["/usr/lib/gcc", "/usr/lib/python3.11", "/usr/share/doc"]
CONTENT_16 = ["/usr/lib/python3.11/email", "/usr/lib/python3.11/json", "/usr/share/doc/bash"]


def sh(cmd, **kw):
    return subprocess.run(cmd, shell=True, check=True, executable="/bin/bash", **kw)


def common(cmd):
    """Runs a function of tests/lib/common.sh."""
    sh(f'. "{TOP}/tests/lib/common.sh"; {cmd}', stdout=subprocess.DEVNULL)


def make_image(path, size_mb, sources):
    if os.path.exists(path):
        return
    tree = tempfile.mkdtemp(dir=BENCH)
    for src in sources:
        if os.path.isdir(src):
            dst = os.path.join(tree, src.lstrip("/"))
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            shutil.copytree(src, dst, symlinks=True)
    os.makedirs(os.path.join(tree, "etc"), exist_ok=True)
    with open(os.path.join(tree, "etc", "os-release"), "w") as f:
        f.write('VERSION_ID="2.0"\n')
    sh(f"mkfs.ext4 -q -F -d {tree} {path}.tmp {size_mb}M && mv {path}.tmp {path}")
    shutil.rmtree(tree)


def make_bundle(img, out):
    if not os.path.exists(out):
        sh(f"{UPDATER} bundle create --image {img} --version 2.0 --compatible sim-board "
           f"--key {BENCH}/device/keys/release.pem --output {out} >/dev/null")


def measure(argv, shell=False):
    """(seconds, peak RSS in KiB) of one command."""
    wrapped, rss_file = runner.rss_wrapped(argv, shell)
    t0 = time.monotonic()
    p = subprocess.Popen(wrapped, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, _ = os.wait4(p.pid, 0)
    dt = time.monotonic() - t0
    err = p.stderr.read().decode()
    p.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"bench: {argv} failed: {err}")
    return dt, runner.read_rss(rss_file)


def reset_device(dev):
    shutil.rmtree(os.path.join(dev, "data", "updater"), ignore_errors=True)
    os.mkdir(os.path.join(dev, "data", "updater"), 0o755)  # the updater never creates state_dir
    sh(f"{UPDATER} --config={dev}/updater.conf -q init --force 2>/dev/null")


STATES = []      # quiesce.settle() of every timed run, for the report
KEY = None       # the hash of the sources measured (set by main())
SLOT = None      # the slot every tool writes (set by prepare())
LOOP = None      # with BENCH_MEDIUM=ram, the loop device that is the slot
FILL = 0xA5      # the byte of every slot block before a timed run


def scramble(slot):
    """Every block of the slot made unlike any block of the image. The
    updater writes only the 4 KiB blocks that differ from what the slot holds;
    a slot that already held the image (as it did here before 2026-12-04) let
    it write nothing while the pipeline, SWUpdate and RAUC wrote all of it,
    and whether those pages were still cached decided its time."""
    block = bytes([FILL]) * (1 << 20)
    fd = os.open(slot, os.O_WRONLY)
    try:
        for off in range(0, os.lseek(fd, 0, os.SEEK_END), len(block)):
            os.pwrite(fd, block, off)
        os.fsync(fd)
    finally:
        os.close(fd)


def warm(path):
    """The same start for every timed run (bench/quiesce.py): the slot
    scrambled, nothing dirty left, the page cache dropped, then this run's
    source read back in."""
    scramble(SLOT)
    STATES.append(quiesce.settle())
    quiesce.warm(path)


def install(dev, url, *extra, program=UPDATER):
    reset_device(dev)
    return measure([program, f"--config={dev}/updater.conf", "-q", "--progress=none",
                    "install", *extra, url])


def baseline(payload, slot):
    """The bare pipeline. iflag=fullblock (since 2026-12-06): without it dd
    writes what each read of the pipe returns (64 KiB or less, depending on
    how far zstd is ahead), a write pattern that changes with timing; with
    it, 1 MiB writes, as the updater's."""
    return measure(f"zstd -dc {payload} | dd of={slot} bs=1M iflag=fullblock "
                   "conv=fsync,notrunc status=none", shell=True)


def start_server():
    pf = os.path.join(BENCH, "port")
    if os.path.exists(pf):
        os.unlink(pf)
    srv = subprocess.Popen(["python3", os.path.join(TOP, "tests", "lib", "httpd.py"),
                            "--root", BENCH, "--port-file", pf],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        if os.path.exists(pf):
            break
        time.sleep(0.05)
    return srv, f"http://127.0.0.1:{open(pf).read().strip()}"


def prepare():
    os.makedirs(BENCH, exist_ok=True)
    dev = os.path.join(BENCH, "device")
    shutil.rmtree(dev, ignore_errors=True)
    common(f"make_device {dev} 16")
    global SLOT, LOOP, SLIM
    SLIM = runner.slim_updater(TOP)
    if quiesce.medium() == "ram":
        LOOP = flash.Loop(os.path.join(BENCH, "slot-backing.img"), 600 << 20, preallocate=True)
        slot = SLOT = LOOP.dev
    else:
        slot = SLOT = os.path.join(BENCH, "slot.img")
        if not os.path.exists(slot) or os.path.getsize(slot) < 600 << 20:
            sh(f"rm -f {slot}; fallocate -l 600M {slot} || truncate -s 600M {slot}")
    sh(f"sed -i 's|B = \"slots/B.img\"|B = \"{slot}\"|' {dev}/updater.conf")
    make_image(f"{BENCH}/img512.img", 512, CONTENT_512)
    make_image(f"{BENCH}/img16.img", 16, CONTENT_16)
    # Every timed run finds the slot's blocks allocated (the first run no
    # longer pays for the allocation alone) and unlike the image (scramble()).
    scramble(slot)
    # Bundles are signed by this run's device key: remake them each run.
    for n in ("512", "16"):
        for f in (f"{BENCH}/b{n}.upd", f"{BENCH}/payload{n}.zst"):
            if os.path.exists(f):
                os.unlink(f)
        make_bundle(f"{BENCH}/img{n}.img", f"{BENCH}/b{n}.upd")
        runner.extract_payload(f"{BENCH}/b{n}.upd", f"{BENCH}/payload{n}.zst")
    return dev, slot


def fmt(xs):
    return f"{statistics.median(xs):.2f} ({min(xs):.2f}-{max(xs):.2f})"


# The other updaters' measurements: (key, tool, how it is run).
OTHERS = [
    ("swu_http", "swupdate", "`swupdate -d \"-u URL\"` over HTTP: signed .swu, `raw` handler, "
     "zstd, sha256, streamed into the slot"),
    ("swu_http_rb", "swupdate", "the same plus SWUpdate's `readback` handler "
     "(re-hashes the slot after the install)"),
    ("swu_file", "swupdate", "`swupdate -i bench.swu` from a local file"),
    ("rauc_http", "rauc", "`rauc install URL` over HTTP: signed `plain` bundle, raw slot "
     "(this build downloads the whole bundle to $TMPDIR, then installs it)"),
    ("rauc_file", "rauc", "`rauc install bench.raucb` from a local file"),
]


LABELS = {
    "swupdate": "SWUpdate", "rauc": "RAUC",
    "swu_http": "SWUpdate over HTTP",
    "swu_http_rb": "SWUpdate over HTTP with its readback handler",
    "swu_file": "SWUpdate from a local .swu",
    "rauc_http": "RAUC over HTTP",
    "rauc_file": "RAUC from a local bundle",
}


class Others:
    """SWUpdate and RAUC: prepared once, measured in the benchmark's loop.
    A tool that is missing or fails keeps its error for the report."""

    def __init__(self, slot):
        payload, image = f"{BENCH}/payload512.zst", f"{BENCH}/img512.img"
        self.error = {}       # tool or measurement key -> why it has no figure
        self.res = {k: [] for k, _, _ in OTHERS}
        self.sw = self.rauc = None
        if not swupdate.installed():
            self.error["swupdate"] = "not installed here (`scripts/deps.sh bench` installs it)"
        else:
            self.sw = swupdate.SWUpdate(BENCH, slot, payload, image)
            self._try("swupdate", self.sw.prepare)
        missing = rauc.missing_tools()
        if not rauc.installed():
            self.error["rauc"] = "not installed here (`scripts/deps.sh bench` installs it)"
        elif missing:
            self.error["rauc"] = f"{', '.join(missing)} not installed here"
        else:
            self.rauc = rauc.Rauc(BENCH, slot, image, small_image=f"{BENCH}/img16.img")
            self._try("rauc", self.rauc.prepare)

    def _try(self, key, fn, *args):
        try:
            return fn(*args)
        except (ToolError, OSError, subprocess.SubprocessError) as e:
            self.error[key] = str(e)
            print(f"bench: {key}: {e}", file=sys.stderr)
            return None

    def start(self):
        if self.rauc and "rauc" not in self.error:
            self._try("rauc", self.rauc.start)
            if "rauc" not in self.error:
                self.rauc.probe_verity()

    def stop(self):
        if self.rauc:
            self.rauc.stop()

    def usable(self, key, tool):
        return tool not in self.error and key not in self.error

    def run(self, url, i=0):
        """One measurement of each, interleaved with the updater's; run i
        orders them (quiesce.order)."""
        sw, ra = self.sw, self.rauc
        steps = [
            ("swu_http", "swupdate", sw and sw.swu, lambda: sw.install(
                f"{url}/swupdate/bench.swu", http=True)),
            ("swu_http_rb", "swupdate", sw and sw.swu_readback, lambda: sw.install(
                f"{url}/swupdate/bench-readback.swu", http=True, readback=True)),
            ("swu_file", "swupdate", sw and sw.swu, lambda: sw.install(sw.swu)),
            ("rauc_http", "rauc", ra and ra.bundle, lambda: ra.install(f"{url}/rauc/bench.raucb")),
            ("rauc_file", "rauc", ra and ra.bundle, lambda: ra.install(ra.bundle)),
        ]
        for key, tool, source, fn in quiesce.order(steps, i):
            if not self.usable(key, tool):
                continue
            warm(source)
            r = self._try(key, fn)
            if r:
                self.res[key].append(r)

    def summary(self):
        out = []
        for key, _, _ in OTHERS:
            if self.res[key]:
                out.append(f"{key} {self.res[key][-1]['seconds']:.2f}")
        return ", ".join(out)


def main():
    if not shutil.which("zstd") or not os.path.exists(UPDATER):
        sys.exit("bench: needs zstd and a built ./updater")
    global KEY
    KEY = quiesce.sources_key(TOP)   # at the start: what this run measures
    t_start = time.monotonic()
    load_start = loadavg()
    dev, slot = prepare()
    others = Others(slot)
    prio = quiesce.Priority().__enter__()   # the server and the tools inherit it
    srv, url = start_server()
    try:
        others.start()
        res = {"base": [], "rb": [], "norb": [], "full": [], "rss512": [], "rss512n": [],
               "rss512f": [], "rss16f": [], "slim": [], "slimfull": [], "rss512s": [],
               "rss512sf": [], "order": [], "load": []}
        for i in range(RUNS):
            steps = timed_steps(res, dev, slot, url)
            steps.append(("others", lambda: others.run(url, i)))
            order = quiesce.order(steps, i)
            res["order"].append(" ".join(name for name, _ in order))
            res["load"].append(quiesce.loadavg())
            for _, fn in order:
                fn()
            print(f"run {i + 1}/{RUNS} ({res['order'][-1]}; load {res['load'][-1]:.2f}): "
                  f"pipeline {res['base'][-1]:.2f} s, updater {res['rb'][-1]:.2f} s (read-back, "
                  f"{res['rb'][-1] / res['base'][-1]:.2f}x), {res['norb'][-1]:.2f} s (none, "
                  f"{res['norb'][-1] / res['base'][-1]:.2f}x); {others.summary()}", file=sys.stderr)
    finally:
        others.stop()
        srv.terminate()
        srv.wait()
        prio.__exit__()
        if LOOP:
            LOOP.close()
    write_report(res, others, time.monotonic() - t_start, (load_start, loadavg()))


def timed_steps(res, dev, slot, url):
    """The updater's and the pipeline's measurements of one run."""
    def base():
        warm(f"{BENCH}/payload512.zst")
        res["base"].append(baseline(f"{BENCH}/payload512.zst", slot)[0])

    def upd(extra, key, rss_key, program=UPDATER):
        warm(f"{BENCH}/b512.upd")
        t, rss = install(dev, f"{url}/b512.upd", *extra, program=program)
        res[key].append(t)
        res[rss_key].append(rss)

    def small():
        warm(f"{BENCH}/b16.upd")
        res["rss16f"].append(install(dev, f"{url}/b16.upd", "--full")[1])
    return [("pipeline", base), ("updater", lambda: upd([], "rb", "rss512")),
            ("updater--no-readback", lambda: upd(["--no-readback"], "norb", "rss512n")),
            ("updater--full", lambda: upd(["--full"], "full", "rss512f")),
            ("updater-16MiB--full", small),
            ("dualbank-only", lambda: upd([], "slim", "rss512s", SLIM)),
            ("dualbank-only--full", lambda: upd(["--full"], "slimfull", "rss512sf", SLIM))]


def loadavg():
    with open("/proc/loadavg") as f:
        return f.read().split()[0]


def mib(path):
    return f"{os.path.getsize(path) / 1048576:.1f} MiB" if path and os.path.exists(path) \
        else "(not made)"


def med(rs, field):
    return statistics.median(r[field] for r in rs)


def verdict(value, other, what):
    """The updater's median against another's, with a tie band of 5 %."""
    ratio = other / value
    if ratio >= 1.05:
        return f"**faster** than {what} ({ratio:.2f}x)"
    if ratio <= 0.95:
        return f"**slower** than {what} ({ratio:.2f}x)"
    return f"**about as fast** as {what} ({ratio:.2f}x)"


def versus(label, value, figures):
    """'updater with read-back (1.64 s): faster than its exit (1.25x), ...'"""
    return f"{label} ({value:.2f} s): " + ", ".join(
        verdict(value, other, what) for what, other in figures)


def write_report(res, others, elapsed, load):
    base = quiesce.best(res["base"])
    rb, norb = quiesce.best(res["rb"]), quiesce.best(res["norb"])
    full = quiesce.best(res["full"])
    rss_med = {k: statistics.median(res[k])
               for k in ("rss512", "rss512n", "rss512f", "rss16f", "rss512s", "rss512sf")}
    rss512, rss512f, rss16f = rss_med["rss512"], rss_med["rss512f"], rss_med["rss16f"]
    payload = os.path.getsize(f"{BENCH}/payload512.zst")
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
                if l.startswith("model name")), "?")
    ok = lambda c: "met" if c else "NOT met"
    R = others.res
    ratios = {"read-back": rb / base, "--no-readback": norb / base, "--full": full / base,
              "dual-bank-only": quiesce.best(res["slim"]) / base,
              "dual-bank-only --full": quiesce.best(res["slimfull"]) / base}
    for key, _, _ in OTHERS:
        if R[key]:
            ratios[key] = quiesce.best([r["seconds"] for r in R[key]]) / base
    prev, spread = quiesce.agreement(HISTORY, KEY, ratios)
    lines = [
        "# Dual-bank install benchmark",
        "",
        f"Written by `make bench` (bench/dualbank.py) on {time.strftime('%Y-%m-%d %H:%M')}; "
        f"took {elapsed:.0f} s. Machine: {platform.machine()}, {os.cpu_count()} cores, {cpu}, "
        f"kernel {platform.release()}. Load average (1 min) when it started: {load[0]}, "
        f"when it ended: {load[1]} (other work on the machine makes the figures noisier). "
        f"Sources measured: {KEY} (the product's C sources and bench/, "
        "tests/lib/figures.py).",
        "",
        quiesce.agreement_text(prev, spread, ratios),
        "",
        f"Image: 512 MiB ext4 filled with real files ({', '.join(CONTENT_512)}), "
        f"bundle payload {payload / 1048576:.1f} MiB (zstd level 3, window 2^23). "
        "Served by tests/lib/httpd.py on 127.0.0.1; slot: 600 MiB, the same for every tool, "
        + quiesce.medium_text() + ". Each figure is the median of "
        f"{RUNS} runs, with min-max; a time ratio is that of the fastest third of the runs (bench/"
        "quiesce.py, best()); every row is measured in the same loop, one after the "
        "other, in an order that changes from run to run (each row following each other "
        "equally often, bench/quiesce.py); before each timed "
        "command the bench syncs, drops the clean page cache, waits for the dirty pages to be "
        "written back, then reads that command's source into the page cache; before every run "
        f"each block of the slot holds the byte 0x{FILL:02X} (allocated, and unlike any block of "
        "the image, so that every tool writes all of it: the updater writes only the blocks "
        "that differ). The timed phase runs at nice "
        f"{quiesce.PRIORITY}" + ("" if os.geteuid() == 0 else " (not here: not root)") + ", the "
        "server and the tools too, so that other work at a lower priority disturbs it less. "
        + quiesce.summary(STATES) + ".",
        "",
        "Per run (order of the tools; load average when it began; time ratios to that run's "
        "pipeline): " + "; ".join(
            f"run {i + 1} ({res['order'][i]}; load {res['load'][i]:.2f}): read-back "
            f"{res['rb'][i] / res['base'][i]:.2f}x, --no-readback {res['norb'][i] / res['base'][i]:.2f}x, "
            f"--full {res['full'][i] / res['base'][i]:.2f}x"
            for i in range(len(res["base"]))) + ".",
        "",
        "| what | seconds | ratio to pipeline | peak RSS (KiB) | target |",
        "|---|---|---|---|---|",
        f"| `zstd -dc payload \\| dd of=slot bs=1M iflag=fullblock conv=fsync` (baseline: no download, no hash, no verify) | {fmt(res['base'])} | 1.00 | | |",
        f"| `updater install` over HTTP, read-back verification on (default) | {fmt(res['rb'])} | {ratios['read-back']:.2f} | {rss512:.0f} | <= 2.0: {ok(ratios['read-back'] <= 2.0)} |",
        f"| `updater install --no-readback` over HTTP | {fmt(res['norb'])} | {ratios['--no-readback']:.2f} | {rss_med['rss512n']:.0f} | <= 1.3: {ok(ratios['--no-readback'] <= 1.3)} |",
        f"| `updater install --full` over HTTP (the whole bundle streamed, no delta; read-back on) | {fmt(res['full'])} | {ratios['--full']:.2f} | {rss512f:.0f} | |",
        f"| the dual-bank-only build (`make WITH_OSTREE=0 WITH_SINGLECOPY=0`): `install` | {fmt(res['slim'])} | {ratios['dual-bank-only']:.2f} | {rss_med['rss512s']:.0f} | |",
        f"| the dual-bank-only build: `install --full` | {fmt(res['slimfull'])} | {ratios['dual-bank-only --full']:.2f} | {rss_med['rss512sf']:.0f} | |",
    ]
    for key, tool, what in OTHERS:
        name = "SWUpdate" if tool == "swupdate" else "RAUC"
        rs = R[key]
        if rs:
            rss = f"{med(rs, 'rss_kib'):.0f}"
            if tool == "rauc":
                rss += (f" (service; anonymous {med(rs, 'anon_kib'):.0f}; "
                        f"client {med(rs, 'client_rss_kib'):.0f})")
            note = "" if len(rs) == RUNS else f" ({len(rs)} of {RUNS} runs)"
            lines.append(f"| {name}: {what}{note} | {fmt([r['seconds'] for r in rs])} | "
                         f"{ratios[key]:.2f} | {rss} | |")
        else:
            lines.append(f"| {name}: {what} | not measured, see below | | | |")
    lines += [
        "",
        "| peak RSS of `updater install` | KiB |",
        "|---|---|",
        f"| `--full`, 16 MiB image | {rss16f:.0f} |",
        f"| `--full`, 512 MiB image | {rss512f:.0f} |",
        f"| `--full`, difference | {rss512f - rss16f:.0f} (target <= 2048: "
        f"{ok(rss512f - rss16f <= 2048)}) |",
        f"| default (delta), 512 MiB image | {rss512:.0f} ({rss512 - rss512f:+.0f} against `--full`) |",
        "",
        "The full stream's memory does not grow with the image (issue 13: a 256 MiB image's "
        "peak RSS within 2 MiB of a 16 MiB one's; this image is twice that size). The default "
        "install also holds the bundle's signed block index, to find the blocks the device "
        "already has: 16 bytes for each 4 KiB block (2 MiB for 512 MiB) and a byte per block "
        "for the blocks still needed, so it grows with the image by design; issue 13 bounds it "
        "at 4 MiB of anonymous memory above the full install's for a 1 GiB image, measured by "
        "bench/delta_install.py (docs/dualbank.md, \"Delta install\").",
        "",
    ]
    lines += slim_memory(rss_med, R, ok)
    lines += report_others(others, base, rb, norb)
    lines += [
        "How the updater gets there: the download and zstd decoding run on one thread, "
        "SHA-256 and the slot writes on a second, and the read-back of each 8 MiB range "
        "(forced to the medium with sync_file_range, then read with O_DIRECT, 512 KiB at a "
        "time on a fourth thread while the third hashes the piece before) on a third, "
        "while later ranges are still being written.",
        "",
    ]
    with open(REPORT, "w") as f:
        f.write("\n".join(lines))
    print("\n".join(lines))


def slim_memory(rss, R, ok):
    """Issue 13's memory row: the dual-bank-only build's peak RSS (rss: the
    medians), default and --full, below SWUpdate's on the same image in the
    same run."""
    slim, slimf = rss["rss512s"], rss["rss512sf"]
    sw = {k: med(R[k], "rss_kib") for k in ("swu_http", "swu_file") if R[k]}
    if not sw:
        return ["Issue 13's memory row (the dual-bank-only build against SWUpdate): SWUpdate "
                "was not measured in this run, see below.", ""]
    low = min(sw.values())
    return [
        f"Issue 13's memory row: the dual-bank-only build's peak RSS, `install` {slim:.0f} KiB "
        f"and `install --full` {slimf:.0f} KiB, against SWUpdate's on the same image in the same "
        "run: " + ", ".join(f"{LABELS[k]} {v:.0f} KiB" for k, v in sw.items())
        + f" (target: below the lower, {low:.0f} KiB: `install` {ok(slim < low)}, `--full` "
        f"{ok(slimf < low)}). Where the rest of the default build's goes: libostree and GLib "
        f"are mapped and initialised even for a dual-bank install "
        f"({rss['rss512'] - slim:+.0f} KiB against the default build's "
        "`install`). Where the dual-bank-only build's goes: libcurl with OpenSSL, the full "
        "stream's zstd window (8 MiB at most, the manifest's `zstd-window-log`) and its decode "
        "buffers; the delta its block index (docs/dualbank.md, Memory).", ""]


def report_others(others, base, rb, norb):
    R, err = others.res, others.error
    sw_v, ra_v = swupdate.version(), rauc.version()
    lines = ["## SWUpdate and RAUC on the same image", ""]
    lines.append(f"Debian's packages: swupdate {sw_v if swupdate.installed() else '(not installed)'}, "
                 f"rauc {ra_v if rauc.installed() else '(not installed)'}. "
                 f"Their inputs: .swu {mib(others.sw and others.sw.swu)} (the same zstd payload as "
                 f"the updater's bundle), RAUC bundle {mib(others.rauc and others.rauc.bundle)} "
                 "(squashfs, zstd level 3 in 128 KiB blocks). How they are driven: "
                 "bench/swupdate.py and bench/rauc.py.")
    lines.append("")
    if err:
        lines += ["Not measured, and why (the error as the tool gave it):", ""]
        for k, v in err.items():
            head, _, rest = v.partition("\n")
            lines.append(f"- {LABELS.get(k, k)}: {head}")
            if rest.strip():
                lines += ["  ```"] + ["  " + l for l in rest.splitlines()] + ["  ```"]
        lines.append("")
    sw_keys = [k for k in ("swu_http", "swu_http_rb", "swu_file") if R[k]]
    if sw_keys:
        lines += [
            "SWUpdate's `raw` handler does not fsync the slot: when it reports success the data "
            "is still in the page cache. And `swupdate -i` and its `-d` downloader learn that "
            "the install is over by polling its status once a second, so the time to exit "
            "includes up to a second of waiting. Hence the split below: the time to its "
            "\"SWUPDATE successful\" message, plus an fsync of the slot that the bench starts "
            "as soon as it reads that message (the flush that the pipeline's conv=fsync and the "
            "updater include), is its install work.",
            "",
            "| SWUpdate | to \"SWUPDATE successful\" | then fsync of the slot | "
            "success + fsync | ratio to pipeline | process exit |",
            "|---|---|---|---|---|---|",
        ]
        names = {"swu_http": "`-d` over HTTP", "swu_http_rb": "`-d` over HTTP, readback handler",
                 "swu_file": "`-i` local file"}
        for k in sw_keys:
            work = [r["done"] + r["flush"] for r in R[k]]
            lines.append(f"| {names[k]} | {fmt([r['done'] for r in R[k]])} | "
                         f"{fmt([r['flush'] for r in R[k]])} | {fmt(work)} | "
                         f"{quiesce.best(work) / base:.2f} | {fmt([r['seconds'] for r in R[k]])} |")
        lines.append("")
    lines += ["Is the updater (over HTTP) faster? The mean of the fastest third of the runs (bench/quiesce.py, best()); "
              "\"faster\" and \"slower\" need a "
              "difference of 5 % or more; the factor is the other's time over the updater's.", ""]
    for k, _, _ in OTHERS:
        label = LABELS[k]
        if not R[k]:
            lines.append(f"- {label}: not measured (see above).")
            continue
        if k.startswith("swu"):
            figs = [("its exit", quiesce.best([r["seconds"] for r in R[k]])),
                    ("its success message + fsync",
                     quiesce.best([r["done"] + r["flush"] for r in R[k]]))]
            head = f"exit {figs[0][1]:.2f} s, success message + fsync {figs[1][1]:.2f} s"
        else:
            figs = [("`rauc install`", quiesce.best([r["seconds"] for r in R[k]]))]
            head = f"{figs[0][1]:.2f} s"
        lines.append(f"- {label} ({head}): " + versus("updater with read-back", rb, figs)
                     + "; " + versus("updater without read-back", norb, figs) + ".")
    lines += [
        "",
        "What each one verifies, so that the comparison is honest:",
        "",
        "- **updater**: an Ed25519 signature over the manifest, which carries the image's size "
        "and SHA-256; the SHA-256 of the decoded image as it is written; the slot is fsynced; "
        "then (unless --no-readback) every range is forced to the medium and read back with "
        "O_DIRECT and hashed again. Only then is the slot activated.",
        "- **SWUpdate**: a CMS signature over sw-description (RSA, with a self-signed "
        "certificate made for the bench; this build will not run without one: \""
        + (others.sw.unsigned_error if others.sw and others.sw.unsigned_error else "?") +
        "\"), which carries the SHA-256 of the compressed artifact; that SHA-256 is checked "
        "over the stream as it is decompressed into the slot (a mismatch is found at the end, "
        "after the slot was written), plus the hardware compatibility. No fsync, no read-back. "
        "The optional `readback` handler re-reads the slot with plain read() right after the "
        "install, without a flush and without O_DIRECT: it hashes the page cache, not the "
        "medium.",
        "- **RAUC** (`plain` bundle): a CMS signature over the whole squashfs, checked by "
        "reading and hashing all of the bundle before it is mounted; the kernel's squashfs "
        "decompresses the image, which is copied to the slot; the written size is compared "
        "with the manifest's, then the slot is fsynced. The image's SHA-256 in the manifest "
        "is not recomputed over what was written and nothing is read back. The `verity` "
        "format would instead check each block through dm-verity as it is read, which needs "
        "device-mapper; streaming over HTTP would need nbd and a build with "
        "--enable-streaming, which Debian's is not."
        + (f" Installing a small `verity` bundle {others.rauc.verity}."
           if others.rauc and others.rauc.verity else "")
        + (f" Over HTTP its log says: \"{others.rauc.download_note}\"."
           if others.rauc and others.rauc.download_note else ""),
        "- Both run as root here, like the updater; RAUC's time is that of `rauc install`, "
        "the D-Bus client, while its service (already running, its start not counted) does "
        "the work; SWUpdate is started for each install, as `swupdate -i`/`-d` is.",
        "- Peak RSS: for the updater and SWUpdate, ru_maxrss of the process as GNU time "
        "reports it (for SWUpdate the largest of its processes: `-d` forks a downloader; GNU "
        "time because wait4 on a child of the Python harness never reports less than the "
        "harness's own peak, bench/runner.py); for RAUC, the VmHWM of `rauc "
        "service` during the install (reset before each one). RAUC maps the whole plain "
        "bundle into memory to check its signature, so its VmHWM includes the bundle's "
        "file-backed pages; its anonymous memory, sampled every 20 ms, is given too.",
        "",
    ]
    return lines


if __name__ == "__main__":
    main()

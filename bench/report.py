#!/usr/bin/env python3
"""make bench, the flash report: dual-bank, ostree and single-copy on the same
release series (bench/series.py: four root filesystems from real Debian
packages), on the same simulated hardware (loop devices over sparse files on
the build disk). For every update of the series and every tool: flash
needed, bytes downloaded (the test server's log), bytes written (the
process's /proc/PID/io write_bytes and the loop device's sectors written),
install time and peak RSS. Writes docs/benchmark.md and docs/benchmark-*.png
(gnuplot).

Needs root (loop devices, mount). Environment: BENCH_RUNS (default 9),
BENCH_DB_REPEAT (default 2: the dual-bank tools' timed runs per run),
BENCH_DIR (default build/bench). Run: `make bench`, or alone
`python3 bench/report.py` after `make updater`.
"""
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import delta_baselines  # noqa: E402
import flash  # noqa: E402
import quiesce  # noqa: E402
import rauc  # noqa: E402
import series as series_mod  # noqa: E402
import singlecopy  # noqa: E402
import swupdate  # noqa: E402
from flash import HttpLog, Loop, du, measure  # noqa: E402
import report_write  # noqa: E402
from runner import ToolError  # noqa: E402

TOP = series_mod.TOP
BENCH = os.path.abspath(os.environ.get("BENCH_DIR", os.path.join(TOP, "build", "bench")))
WORK = os.path.join(BENCH, "series-work")
# 9: the time ratios take the mean of the fastest three (quiesce.best). Two
# runs of the dual-bank part on one machine (2026-12-06) agreed within 10 % on
# every ratio with 9 runs (at most 6.9 % apart); with 5, where best() is the
# single fastest run, two ratios were 13 % and 17 % apart.
RUNS = int(os.environ.get("BENCH_RUNS", "9"))
# The dual-bank installs take 0.4-1.2 s each, so one report's fastest third
# of 9 runs was 3 samples, and two reports of the same sources moved a ratio
# of two of them by up to 10.2 % (2026-12-07): each run times them twice
# (18 samples, a fastest third of 6); a second pass costs about a minute.
DB_REPEAT = int(os.environ.get("BENCH_DB_REPEAT", "2"))
UPDATER = os.path.join(TOP, "updater")
DOCS = os.path.join(TOP, "docs")
REPORT = os.path.join(DOCS, "benchmark.md")
HEADROOM = 0.20          # dual-bank slots: the largest image + 20 %
OSTREE_PART = 2 << 30    # the ostree partition (sparse; what is used is measured)
KEEPS = (1, 2, 3, 4)     # ostree.keep values measured (2: the default, timed)
MiB = 1048576.0
RESULTS = os.path.join(BENCH, "report-results.json")   # the last run's figures (--rewrite)
HISTORY = os.path.join(TOP, "build", "bench-history", f"report-{quiesce.medium()}.json")


def log(msg):
    print(f"bench report: {msg}", file=sys.stderr, flush=True)


def nofreeze(argv):
    # libostree freezes the file system holding /boot when it may; both tools
    # run without CAP_SYS_ADMIN (tests/lib/ostree.sh: ostree_nofreeze).
    return ["setpriv", "--bounding-set=-sys_admin", "--"] + argv


def warm(path):
    subprocess.run(["cat", path], stdout=subprocess.DEVNULL, check=True)


def restore(T, prior):
    """The target slot as the device has it before this update (untimed): its
    blocks discarded (holes in the loop's backing file, as a factory-fresh
    slot), then the release it held, if any. Every tool starts from it."""
    flash.run(["blkdiscard", T.dev])
    if prior:
        flash.run(["dd", f"if={prior}", f"of={T.dev}", "bs=1M", "conv=fsync", "status=none"])


def loadavg():
    with open("/proc/loadavg") as f:
        return f.read().split()[0]


class Results:
    """res[key][version][metric] = [one value per run]."""

    def __init__(self):
        self.res = {}
        # Recorded with every sample added while set (the dual-bank runs: the
        # step before it, what settling took), to look for order effects.
        self.context = {}

    def add(self, key, version, **metrics):
        d = self.res.setdefault(key, {}).setdefault(version, {})
        for k, v in {**metrics, **self.context}.items():
            if v is not None:
                d.setdefault(k, []).append(v)

    def get(self, key, version, metric):
        return self.res.get(key, {}).get(version, {}).get(metric, [])

    def med(self, key, version, metric):
        xs = self.get(key, version, metric)
        return statistics.median(xs) if xs else None


class Bench:
    def __init__(self):
        self.s = series_mod.Series(BENCH)
        self.r = Results()
        self.errors = {}         # tool -> why it has no figures
        self.loops = []
        self.run_index = 0       # orders the dual-bank tools (quiesce.order)
        self.states = []         # quiesce.settle() before each dual-bank timed run

    # --- set-up -------------------------------------------------------------------

    def setup(self):
        flash.cleanup_stale(WORK)
        os.makedirs(WORK)
        self.s.build()
        self.rel = self.s.releases
        self.slot_size = int(math.ceil(max(r["image_bytes"] for r in self.rel) * (1 + HEADROOM)
                                       / MiB)) * 1048576
        self.httplog = HttpLog(os.path.join(WORK, "httpd.log"))
        pf = os.path.join(WORK, "port")
        self.srv = subprocess.Popen([sys.executable, os.path.join(TOP, "tests", "lib", "httpd.py"),
                                     "--root", self.s.srv, "--port-file", pf,
                                     "--log", self.httplog.path],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(200):
            if os.path.exists(pf):
                break
            time.sleep(0.05)
        self.url = f"http://127.0.0.1:{open(pf).read().strip()}"
        self.target = os.path.join(WORK, "target")   # -> the slot being written
        self._others()
        self._static_site()
        # The ostree factory device: release 1 deployed (copied for every sequence).
        self.pristine = os.path.join(WORK, "ostree-factory")
        series_mod.bash_lib(f'OSTREE_GPG_KEYRING="{self.s.gpg_keyring}" ostree_make_device '
                            f'"{self.pristine}" "{self.s.srv}/repo-delta" "{self.url}/repo-delta" '
                            f'{series_mod.REF} '
                            f'{self.rel[0]["commit"]}')

    def _static_site(self):
        """/static/: each release's bundle beside its static delta from the
        release before it (bench/delta_baselines.py makes them, cached), so
        that a default install from there takes the static delta; /bundles/
        has none, so a default install from there takes the dynamic delta."""
        site = os.path.join(self.s.srv, "static")
        shutil.rmtree(site, ignore_errors=True)
        os.makedirs(site)
        for o, n in zip(self.rel, self.rel[1:]):
            try:
                delta_baselines.static_delta(self.s, o, n)
            except RuntimeError as e:
                self.errors["db_static"] = f"making the static delta failed: {e}"
                return
            path = delta_baselines.static_delta_path(o, n)
            # Links, not symlinks: the server serves no path that leaves its root.
            for f in (n["bundle"], path):
                os.link(f, os.path.join(site, os.path.basename(f)))

    def _others(self):
        """SWUpdate and RAUC artifacts per release (cached next to the series)."""
        self.sw, self.rauc = {}, {}
        odir = os.path.join(self.s.srv, "others")     # served as /others/
        stamp = os.path.join(odir, "key")
        if not os.path.exists(stamp) or open(stamp).read() != series_mod.cache_key() + WORK:
            shutil.rmtree(odir, ignore_errors=True)
            os.makedirs(odir)
        for r in self.rel[1:]:
            v = r["version"]
            if swupdate.installed() and "swupdate" not in self.errors:
                sw = swupdate.SWUpdate(os.path.join(odir, "sw-" + v), self.target, r["payload"],
                                       r["image"])
                try:
                    if not os.path.exists(sw.swu):
                        log(f"SWUpdate: making the .swu of {v}")
                        sw.prepare()
                    self.sw[v] = sw
                except (ToolError, OSError, subprocess.SubprocessError) as e:
                    self.errors["swupdate"] = f"preparing its .swu failed: {e}"
            elif not swupdate.installed():
                self.errors["swupdate"] = "not installed here (`scripts/deps.sh bench` installs it)"
            if rauc.installed() and not rauc.missing_tools() and "rauc" not in self.errors:
                ra = rauc.Rauc(os.path.join(odir, "rauc-" + v), self.target, r["image"])
                try:
                    if not os.path.exists(ra.bundle):
                        log(f"RAUC: making the bundle of {v}")
                        ra.prepare()
                    self.rauc[v] = ra
                except (ToolError, OSError, subprocess.SubprocessError) as e:
                    self.errors["rauc"] = f"making its bundle failed: {e}"
            elif "rauc" not in self.errors and not (rauc.installed() and not rauc.missing_tools()):
                self.errors["rauc"] = ("not installed here (`scripts/deps.sh bench` installs rauc, "
                                       "squashfs-tools and dbus-daemon)")
        with open(stamp, "w") as f:
            f.write(series_mod.cache_key() + WORK)

    def teardown(self):
        for l in self.loops:
            l.close()
        self.loops = []
        if getattr(self, "srv", None):
            self.srv.terminate()
            self.srv.wait()
        subprocess.run(["chattr", "-R", "-i", WORK], capture_output=True)
        shutil.rmtree(WORK, ignore_errors=True)

    def loop(self, name, size, mount=False):
        l = Loop(os.path.join(WORK, name + ".bin"), size,
                 os.path.join(WORK, name) if mount else None)
        self.loops.append(l)
        return l

    def drop(self, l):
        l.close()
        self.loops.remove(l)

    # --- dual-bank ------------------------------------------------------------------

    def dualbank(self):
        A, B = self.loop("slotA", self.slot_size), self.loop("slotB", self.slot_size)
        slots = {"A": A, "B": B}
        held = {"A": self.rel[0]["image"], "B": None}     # what each slot holds
        d = os.path.join(WORK, "db-device")
        try:
            self._db_device(d, A, B)
            for r in self.rel[1:]:
                booted = flash.run(["sed", "-n", r"s/.*updater.slot=\([AB]\).*/\1/p",
                                    f"{d}/cmdline"]).strip()
                t = "B" if booted == "A" else "A"
                self._db_update(d, r, slots[t], held[t])
                held[t] = r["image"]
        finally:
            self.drop(A)
            self.drop(B)
            shutil.rmtree(d, ignore_errors=True)

    def _db_device(self, d, A, B):
        shutil.rmtree(d, ignore_errors=True)
        for sub in ("slots", "env", "data", "data/updater", "keys", "etc", "hooks"):
            os.makedirs(os.path.join(d, sub), 0o755)  # state_dir too: the updater never creates it
        os.symlink(A.dev, f"{d}/slots/A.img")
        os.symlink(B.dev, f"{d}/slots/B.img")
        flash.run(["dd", f"if={self.rel[0]['image']}", f"of={A.dev}", "bs=1M", "conv=fsync",
                   "status=none"])
        with open(f"{d}/env/uboot.env", "wb") as f:
            f.truncate(32768)
        # What tests/lib/common.sh's make_device also makes: an empty defaults
        # file, and the mark of a device tools/updater-sim reboots (sim_boot).
        open(f"{d}/env/defaults", "w").close()
        with open(f"{d}/.updater-sim", "w") as f:
            f.write("backend=dualbank\n")
        with open(f"{d}/env/fw_env.config", "w") as f:
            f.write(f"{d}/env/uboot.env 0x0 0x4000\n{d}/env/uboot.env 0x4000 0x4000\n")
        shutil.copy(self.s.key[:-4] + ".pub.pem", f"{d}/keys/release.pub.pem")
        with open(f"{d}/cmdline", "w") as f:
            f.write("console=ttyS0 root=/dev/vda2 rw updater.slot=A\n")
        with open(f"{d}/etc/os-release", "w") as f:
            f.write(flash.run(["debugfs", "-R", "cat /etc/os-release", A.dev]))
        with open(f"{d}/updater.conf", "w") as f:
            f.write(f"""backend = "dualbank";
compatible = "{series_mod.COMPATIBLE}";
state_dir = "data/updater";
cmdline = "cmdline";
version_file = "etc/os-release";
server = {{ timeout = 10; retries = 2; }};
bootenv = {{ fw_env_config = "env/fw_env.config"; bootlimit = 3; }};
dualbank = {{
  slots = {{ A = "slots/A.img"; B = "slots/B.img"; }};
  public_key = "keys/release.pub.pem";
}};
hooks = {{ dir = "hooks"; timeout = 10; }};
""")
        flash.run([UPDATER, f"--config={d}/updater.conf", "-q", "init"])
        self._db_keep_state(d)

    @staticmethod
    def _db_keep_state(d):
        """The device's own state before an update (its state_dir, which
        records the booted image's hash once the updater installed it, and
        its boot environment), kept so that every timed updater run of the
        update starts from it, as the device would."""
        shutil.rmtree(f"{d}/.pre", ignore_errors=True)
        os.mkdir(f"{d}/.pre")
        shutil.copytree(f"{d}/data/updater", f"{d}/.pre/updater", symlinks=True)
        shutil.copy2(f"{d}/env/uboot.env", f"{d}/.pre/uboot.env")

    @staticmethod
    def _db_restore_state(d):
        shutil.rmtree(f"{d}/data/updater", ignore_errors=True)
        shutil.copytree(f"{d}/.pre/updater", f"{d}/data/updater", symlinks=True)
        shutil.copy2(f"{d}/.pre/uboot.env", f"{d}/env/uboot.env")

    def _ready(self, T, prior, source):
        """Before each timed dual-bank run: the slot's previous content back,
        nothing left dirty by the previous tool, then the source in the cache."""
        restore(T, prior)
        st = quiesce.settle()
        self.states.append(st)
        self.r.context.update(settle_s=st["settle_s"], dirty_before_kib=st["dirty_before_kib"])
        warm(source)

    def _db_update(self, d, r, T, prior):
        v, img, payload = r["version"], r["image"], r["payload"]
        if os.path.lexists(self.target):
            os.unlink(self.target)
        os.symlink(T.dev, self.target)

        # Baselines: the raw image, and the bare decode pipeline (no download,
        # no hash, no verification).
        def raw():
            self._ready(T, prior, img)
            m = measure(["dd", f"if={img}", f"of={T.dev}", "bs=1M", "conv=fsync", "status=none"],
                        loops=[T])
            self.r.add("dd", v, **self._m(m))

        # iflag=fullblock (bench/dualbank.py's baseline has it since
        # 2026-12-06): without it dd writes what each read of the pipe
        # returns, 64 KiB or less depending on how far zstd is ahead: the
        # pipeline took 0.42 to 0.93 s for 2.0 within one report, and its
        # ratios moved by up to 80 % between two reports of the same
        # sources (2026-12-07) where the others moved by at most 9 %.
        def pipeline():
            self._ready(T, prior, payload)
            m = measure(f"zstd -dc '{payload}' | dd of={T.dev} bs=1M iflag=fullblock conv=fsync "
                        "status=none", shell=True, loops=[T])
            self.r.add("pipeline", v, **self._m(m))

        def updater(key, extra, folder="bundles"):
            self._db_restore_state(d)
            self._ready(T, prior, r["bundle"])
            self.httplog.mark()
            m = measure([UPDATER, f"--config={d}/updater.conf", "-q", "--progress=none", "install"]
                        + extra + [f"{self.url}/{folder}/{v}.upd"], loops=[T])
            got, reqs = self.httplog.since()
            self.r.add(key, v, downloaded=got, requests=reqs, **self._m(m))
        steps = [("dd", raw), ("pipeline", pipeline),
                 ("swupdate", lambda: self._db_swupdate(r, T, prior)),
                 ("rauc", lambda: self._db_rauc(r, T, prior)),
                 ("db_norb", lambda: updater("db_norb", ["--no-readback"])),
                 ("db_full", lambda: updater("db_full", ["--full"]))]
        if "db_static" not in self.errors:
            steps.append(("db_static", lambda: updater("db_static", [], "static")))
        db = ("db", lambda: updater("db", []))
        after = "start"
        for k in range(DB_REPEAT):
            # Each list walks its own square's rows in turn: one index for
            # both would give each list only every DB_REPEAT-th row.
            if k < DB_REPEAT - 1:
                i = self.run_index * (DB_REPEAT - 1) + k
                order = quiesce.order(steps + [db], i)
            else:  # the read-back install last: the device boots what it installed
                order = quiesce.order(steps, self.run_index) + [db]
            for name, fn in order:
                self.r.context = {"after": after}
                fn()
                after = name
        self.r.context = {}
        series_mod.bash_lib(f'sim_boot "{d}"')
        m = measure([UPDATER, f"--config={d}/updater.conf", "-q", "mark-good"])
        self.r.add("db_markgood", v, **self._m(m))
        self._db_keep_state(d)

    def _db_swupdate(self, r, T, prior):
        v = r["version"]
        sw = self.sw.get(v)
        if sw and "swupdate" not in self.errors:
            try:
                self._ready(T, prior, sw.swu)
                res = self._other_run(T, lambda: sw.install(
                    f"{self.url}/others/sw-{v}/swupdate/bench.swu", http=True))
                self.r.add("swupdate", v, seconds=res["seconds"], done=res["done"] + res["flush"],
                           rss_kib=res["rss_kib"], dev_bytes=res["dev_bytes"],
                           downloaded=res["downloaded"])
            except (ToolError, OSError) as e:
                self.errors["swupdate"] = str(e)

    def _db_rauc(self, r, T, prior):
        v = r["version"]
        ra = self.rauc.get(v)
        if ra and "rauc" not in self.errors:
            try:
                ra.start()
                self._ready(T, prior, ra.bundle)
                res = self._other_run(T, lambda: ra.install(
                    f"{self.url}/others/rauc-{v}/rauc/bench.raucb"))
                self.r.add("rauc", v, seconds=res["seconds"], rss_kib=res["rss_kib"],
                           dev_bytes=res["dev_bytes"], downloaded=res["downloaded"])
            except (ToolError, OSError) as e:
                self.errors["rauc"] = str(e)
            finally:
                ra.stop()

    def _other_run(self, T, fn):
        T.sync()
        before = T.sectors_written()
        self.httplog.mark()
        res = fn()
        res["downloaded"] = self.httplog.since()[0]
        T.sync()
        res["dev_bytes"] = (T.sectors_written() - before) * 512
        return res

    @staticmethod
    def _m(m):
        return {k: m.get(k) for k in ("seconds", "rss_kib", "rss_anon_kib", "write_bytes",
                                      "cancelled_write_bytes", "dev_bytes", "peak_used")}

    # --- ostree -----------------------------------------------------------------------

    def ostree(self, tool, mode, keep=2, key=None):
        """One pass over the series on a fresh copy of the factory device in
        its own ext4 partition (a loop device): tool updater or cli, server
        mode delta (static deltas) or plain (objects only)."""
        key = key or f"{tool}_{mode}"
        part = self.loop("ostree-" + key, OSTREE_PART, mount=True)
        d = os.path.join(part.mount, "dev")
        try:
            series_mod.bash_lib(f'ostree_clone_device "{self.pristine}" "{d}" "{self.url}/repo-{mode}"')
            flash.run(["sed", "-i", f"s/keep = 2;/keep = {keep};/", f"{d}/updater.conf"])
            self.r.add(key, self.rel[0]["version"], used=part.used() - part.empty_used,
                       **self._du(d))
            for r in self.rel[1:]:
                if tool == "updater":
                    self._ostree_updater(key, d, r, part)
                else:
                    self._ostree_cli(key, d, r, part)
        finally:
            self.drop(part)

    def _du(self, d):
        s = f"{d}/sysroot"
        u = du([f"{s}/ostree/repo", f"{s}/ostree/deploy", f"{s}/boot"])
        return {"du_repo": u[f"{s}/ostree/repo"], "du_deploy": u[f"{s}/ostree/deploy"],
                "du_boot": u[f"{s}/boot"]}

    def _ostree_updater(self, key, d, r, part):
        v = r["version"]
        self.httplog.mark()
        m = measure(nofreeze([UPDATER, f"--config={d}/updater.conf", "-q", "--progress=none",
                              "install", r["commit"]]), loops=[part], fs=part)
        got, reqs = self.httplog.since()
        after_install = part.used() - part.empty_used
        series_mod.bash_lib(f'ostree_sim_boot "{d}" >/dev/null')
        mg = measure(nofreeze([UPDATER, f"--config={d}/updater.conf", "-q", "mark-good"]),
                     loops=[part], fs=part)
        self.r.add(key, v, downloaded=got, requests=reqs, used_install=after_install,
                   used=part.used() - part.empty_used, mg_seconds=mg["seconds"],
                   mg_dev_bytes=mg["dev_bytes"], **self._m(m), **self._du(d))

    def _ostree_cli(self, key, d, r, part):
        v = r["version"]
        sysroot = f"{d}/sysroot"
        self.httplog.mark()
        p = measure(["ostree", f"--repo={sysroot}/ostree/repo", "pull", "origin",
                     f"{series_mod.REF}@{r['commit']}"], loops=[part], fs=part)
        got, reqs = self.httplog.since()
        dep = measure(nofreeze(["ostree", "admin", "deploy", f"--sysroot={sysroot}", "--os=simos",
                                f"origin:{series_mod.REF}"]), loops=[part], fs=part)
        m = flash.combine([p, dep])
        self.r.add(key, v, downloaded=got, requests=reqs, pull_seconds=p["seconds"],
                   used=part.used() - part.empty_used, **self._m(m))

    # --- the whole run ------------------------------------------------------------------

    def run(self):
        steps = [("dual-bank", self.dualbank),
                 ("single-copy", lambda: singlecopy.run(self, WORK, UPDATER)),
                 ("ostree updater, static deltas", lambda: self.ostree("updater", "delta")),
                 ("ostree command, static deltas", lambda: self.ostree("cli", "delta")),
                 ("ostree updater, objects only", lambda: self.ostree("updater", "plain")),
                 ("ostree command, objects only", lambda: self.ostree("cli", "plain"))]
        steps += [(f"ostree updater, keep={k}", lambda k=k: self.ostree("updater", "delta", k,
                                                                         f"keep{k}"))
                  for k in KEEPS if k != 2]
        for i in range(RUNS):
            self.run_index = i
            for name, fn in self._ordered(steps, i):
                t = time.monotonic()
                fn()
                log(f"run {i + 1}/{RUNS}: {name}: {time.monotonic() - t:.0f} s")

    @staticmethod
    def _ordered(steps, i):
        """Run i's order: each updater step and the `ostree` command's step
        after it swap places on odd runs, so that neither always follows the
        same work (the page cache of the server's objects, the writeback of
        the pass before); the dual-bank tools change places likewise (quiesce.order)."""
        out = list(steps)
        if i % 2 == 0:
            return out
        k = 0
        while k < len(out) - 1:
            if out[k][0].startswith("ostree updater") and out[k + 1][0].startswith("ostree command"):
                out[k], out[k + 1] = out[k + 1], out[k]
                k += 1  # a swapped pair is done: its updater step is not paired again
            k += 1
        return out


def main():
    if os.geteuid() != 0:
        sys.exit("bench report: needs root (loop devices and mounts simulate the flash)")
    for tool in ("ostree", "zstd", "gnuplot", "losetup", "debugfs", "setpriv"):
        if not shutil.which(tool):
            sys.exit(f"bench report: needs {tool} (`scripts/deps.sh bench`)")
    if not os.path.exists(UPDATER):
        sys.exit("bench report: needs a built ./updater (make updater)")
    if sys.argv[1:] == ["--rewrite"]:
        return rewrite()
    t0 = time.monotonic()
    started = time.strftime("%Y-%m-%d %H:%M %Z")
    load0 = loadavg()
    b = Bench()
    try:
        b.s.build()         # at the caller's priority: minutes of work when not cached
        # The timed phase at a higher priority (bench/quiesce.py); the test
        # server and the tools inherit it.
        with quiesce.Priority():
            b.setup()
            setup_s = time.monotonic() - t0
            b.run()
    finally:
        b.teardown()
    t1 = time.monotonic()
    try:
        deltas = delta_baselines.compute_all(b.s)  # cached after the first run
    except (OSError, RuntimeError, subprocess.SubprocessError) as e:
        deltas = {"error": str(e)}
        log(f"delta targets: {e}")
    info = {"started": started, "load": (load0, loadavg()), "elapsed": time.monotonic() - t0,
            "setup": setup_s, "runs": RUNS, "db_repeat": DB_REPEAT, "headroom": HEADROOM,
            "slot_size": b.slot_size,
            "keeps": KEEPS, "settle": quiesce.summary(b.states), "delta": deltas,
            "delta_seconds": time.monotonic() - t1}
    # Recorded once per measuring run (not by --rewrite): build/bench-history/.
    ratios = report_write.Writer(b, info).time_ratios()
    prev, spread = quiesce.agreement(HISTORY, quiesce.sources_key(TOP), ratios)
    info["agreement"] = quiesce.agreement_text(prev, spread, ratios)
    with open(RESULTS, "w") as f:
        json.dump({"res": b.r.res, "errors": b.errors, "info": info}, f)
    report_write.write(b, info)


def rewrite():
    """Writes the report again from the figures of the last run (no measuring)."""
    with open(RESULTS) as f:
        saved = json.load(f)
    b = Bench()
    b.s.build()
    b.rel = b.s.releases
    b.r.res, b.errors = saved["res"], saved["errors"]
    report_write.write(b, saved["info"])


if __name__ == "__main__":
    main()

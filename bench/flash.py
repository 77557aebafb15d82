"""Measurement helpers of the flash benchmark (bench/report.py): the
simulated flash (loop devices over sparse files on the build disk, as root),
and one measured command: wall time, peak RSS (wait4), bytes written by the
process (/proc/PID/io write_bytes, read when it has exited but before it is
reaped), sectors written to the loop devices (/sys/block/loopN/stat, after a
sync of the file system), and the peak of the file system's used space
(statvfs sampled every 10 ms while the command runs). Stdlib only."""
import os
import shutil
import subprocess
import threading
import time

from runner import read_rss, rss_wrapped


class BenchError(Exception):
    pass


def run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        raise BenchError(f"`{' '.join(cmd)}` failed (exit {r.returncode}): "
                         f"{(r.stdout + r.stderr).strip()[-2000:]}")
    return r.stdout


class Loop:
    """A loop device over a sparse file; optionally an ext4 file system on it
    mounted at `mount`. Its stat counts what reaches the "flash".
    preallocate: the file's blocks allocated up front (on tmpfs, so that no
    timed write pays for allocating them)."""

    def __init__(self, backing, size, mount=None, preallocate=False):
        self.backing, self.size, self.mount = backing, size, mount
        self.dev = None
        self.mounted = False
        if os.path.exists(backing):
            os.unlink(backing)
        with open(backing, "wb") as f:
            if preallocate:
                os.posix_fallocate(f.fileno(), 0, size)
            else:
                f.truncate(size)
        self.dev = run(["losetup", "-f", "--show", backing]).strip()
        if mount:
            run(["mkfs.ext4", "-q", "-F", "-E", "lazy_itable_init=0,lazy_journal_init=0", self.dev])
            os.makedirs(mount, exist_ok=True)
            run(["mount", self.dev, mount])
            self.mounted = True
            self.empty_used = self.used()

    @property
    def name(self):
        return os.path.basename(self.dev)

    def sectors_written(self):
        with open(f"/sys/block/{self.name}/stat") as f:
            return int(f.read().split()[6])

    def used(self):
        st = os.statvfs(self.mount)
        return (st.f_blocks - st.f_bfree) * st.f_frsize

    def sync(self):
        if self.mounted:
            subprocess.run(["sync", "-f", self.mount], check=False)
        else:
            fd = os.open(self.dev, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def close(self):
        if self.mounted:
            # Deployments carry the immutable attribute: nothing is removed
            # file by file; the whole file system goes with its backing file.
            for _ in range(20):
                if subprocess.run(["umount", self.mount], capture_output=True).returncode == 0:
                    break
                time.sleep(0.5)
            else:
                subprocess.run(["umount", "-l", self.mount], capture_output=True)
            self.mounted = False
        if self.dev:
            subprocess.run(["losetup", "-d", self.dev], capture_output=True)
            self.dev = None
        if os.path.exists(self.backing):
            os.unlink(self.backing)


def _mounted_under(work):
    """Mount points below `work`, deepest first."""
    inside = work.rstrip("/") + "/"
    with open("/proc/mounts") as f:
        return sorted((l.split()[1] for l in f if l.split()[1].startswith(inside)), reverse=True)


def cleanup_stale(work):
    """Mounts and loop devices a killed earlier run left under `work`."""
    if not os.path.isdir(work):
        return
    for m in _mounted_under(work):
        subprocess.run(["umount", "-l", m], capture_output=True)
    out = subprocess.run(["losetup", "-l", "-n", "-O", "NAME,BACK-FILE"], capture_output=True,
                         text=True).stdout
    for line in out.splitlines():
        parts = line.split(None, 1)
        if len(parts) == 2 and parts[1].strip().startswith(work.rstrip("/") + "/"):
            subprocess.run(["losetup", "-d", parts[0]], capture_output=True)
    # A lazy umount detaches at once but the file system lets go of busy
    # files later: a run started right after a kill found the folder still
    # there (2026-12-07). Retry for a while, then say what holds it.
    for _ in range(50):
        shutil.rmtree(work, ignore_errors=True)
        if not os.path.exists(work):
            return
        time.sleep(0.2)
    held = _mounted_under(work)
    raise RuntimeError(f"{work}: left by an earlier run and cannot be removed"
                       + (f" (still mounted: {', '.join(held)})" if held else ""))


def read_io(pid):
    vals = {}
    try:
        with open(f"/proc/{pid}/io") as f:
            for line in f:
                k, v = line.split(":")
                vals[k.strip()] = int(v)
    except (OSError, ValueError):
        return None
    return vals


def rss_anon_of_children(pid):
    """The largest RssAnon (KiB) of pid's direct children (the command GNU
    time runs), 0 when there is none (yet)."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            kids = f.read().split()
    except OSError:
        return 0
    best = 0
    for k in kids:
        try:
            with open(f"/proc/{k}/status") as f:
                for line in f:
                    if line.startswith("RssAnon:"):
                        best = max(best, int(line.split()[1]))
        except (OSError, ValueError, IndexError):
            pass
    return best


def measure(argv, loops=(), fs=None, env=None, shell=False, cwd=None):
    """Runs argv; returns seconds, rss_kib, rss_anon_kib (the command's peak
    anonymous memory, sampled every 10 ms: RSS less its file-backed pages, such
    as a mapped slot), write_bytes (process and reaped children),
    cancelled_write_bytes, dev_bytes (written to `loops`, after a sync),
    peak_used (bytes above the empty file system of `fs`, a Loop with a mount,
    sampled every 10 ms; None without fs), stderr."""
    for l in loops:
        l.sync()
    before = [l.sectors_written() for l in loops]
    peak = [fs.used() if fs else 0]
    anon = [0]
    last_io = [None]
    # Under GNU time (runner.rss_wrapped): its /proc/PID/io, read once it
    # has reaped the command, holds the command's figures too.
    wrapped, rss_file = rss_wrapped(argv, shell)
    t0 = time.monotonic()
    p = subprocess.Popen(wrapped, env=env, cwd=cwd,
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE)
    done = threading.Event()
    err = []

    def drain():
        err.append(p.stderr.read().decode(errors="replace"))

    def sample():
        while not done.is_set():
            io = read_io(p.pid)
            if io:
                last_io[0] = io
            anon[0] = max(anon[0], rss_anon_of_children(p.pid))
            if fs:
                peak[0] = max(peak[0], fs.used())
            done.wait(0.01)

    th = [threading.Thread(target=drain, daemon=True), threading.Thread(target=sample, daemon=True)]
    for t in th:
        t.start()
    # Exited, not yet reaped: /proc/PID/io still holds the final figures.
    os.waitid(os.P_PID, p.pid, os.WEXITED | os.WNOWAIT)
    dt = time.monotonic() - t0
    done.set()
    th[1].join()
    io = read_io(p.pid) or last_io[0] or {}
    if fs:
        peak[0] = max(peak[0], fs.used())
    _, status, _ = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    rss = read_rss(rss_file)
    # A daemon it left behind (a gpg-agent) may hold stderr open: do not wait for it.
    th[0].join(timeout=5)
    if not th[0].is_alive():
        p.stderr.close()
    text = err[0] if err else ""
    if p.returncode != 0:
        cmd = argv if isinstance(argv, str) else " ".join(argv)
        raise BenchError(f"`{cmd}` failed (exit {p.returncode}): {text.strip()[-2000:]}")
    for l in loops:
        l.sync()
    dev = sum((l.sectors_written() - b) * 512 for l, b in zip(loops, before))
    return {"seconds": dt, "rss_kib": rss, "rss_anon_kib": anon[0] or None,
            "write_bytes": io.get("write_bytes", 0),
            "cancelled_write_bytes": io.get("cancelled_write_bytes", 0), "dev_bytes": dev,
            "peak_used": (peak[0] - fs.empty_used) if fs else None, "stderr": text}


def combine(parts):
    """One figure for commands run one after the other (ostree pull, then
    ostree admin deploy): times and bytes add up, RSS and peaks are the max."""
    out = {"seconds": 0.0, "write_bytes": 0, "cancelled_write_bytes": 0, "dev_bytes": 0,
           "rss_kib": 0, "peak_used": None, "stderr": ""}
    for r in parts:
        for k in ("seconds", "write_bytes", "cancelled_write_bytes", "dev_bytes"):
            out[k] += r[k]
        out["rss_kib"] = max(out["rss_kib"], r["rss_kib"])
        if r.get("rss_anon_kib") is not None:
            out["rss_anon_kib"] = max(out.get("rss_anon_kib") or 0, r["rss_anon_kib"])
        if r["peak_used"] is not None:
            out["peak_used"] = max(out["peak_used"] or 0, r["peak_used"])
    return out


def du(paths):
    """Disk usage in bytes of each path, hard links counted once over all
    of them (the first path that reaches an inode gets it), as `du` does."""
    out = run(["du", "-s", "-B1"] + list(paths))
    res = {}
    for line in out.splitlines():
        n, p = line.split("\t", 1)
        res[p] = int(n)
    return res


class HttpLog:
    """Body bytes the test server sent (tests/lib/httpd.py --log) since the
    last mark()."""

    def __init__(self, path):
        self.path = path
        self.pos = 0
        open(path, "w").close()

    def mark(self):
        self.pos = os.path.getsize(self.path)

    def since(self):
        total, requests = 0, 0
        time.sleep(0.05)        # the server logs after the response is sent
        with open(self.path) as f:
            f.seek(self.pos)
            for line in f:
                requests += 1
                for word in line.split():
                    if word.startswith("sent="):
                        total += int(word[5:])
        self.mark()
        return total, requests

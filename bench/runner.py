"""Helpers shared by the benchmark's drivers for other updaters (stdlib only):
run a command with its wall time, the time of a marker line in its output and
its peak RSS; time an fsync; read a package's version."""
import hashlib
import os
import shutil
import struct
import subprocess
import tempfile
import threading
import time

TIME = "/usr/bin/time"   # GNU time (Debian's package `time`)


def rss_wrapped(argv, shell=False):
    """argv (a list, or a shell command with shell=True) run under GNU time,
    which writes the command's own peak RSS (KiB) into a file: returns the
    argv to run and that file's path (read_rss()). Why: ru_maxrss from wait4
    on a child of this Python process is never below this process's own peak
    RSS, because Linux carries the forking process's high-water mark across
    fork and exec; a 1 MiB `true` started by a 75 MiB harness reads 75 MiB.
    GNU time is a small process of its own, so the command it starts starts
    from its few hundred KiB."""
    fd, path = tempfile.mkstemp(prefix="bench-rss-")
    os.close(fd)
    cmd = ["/bin/bash", "-c", argv] if shell else list(argv)
    return [TIME, "-f", "%M", "-o", path, "--"] + cmd, path


def read_rss(path):
    """The peak RSS (KiB) GNU time wrote into path (its last line; a line
    before it says how the command ended), or 0; removes the file."""
    try:
        with open(path) as f:
            lines = f.read().split()
        return int(lines[-1]) if lines and lines[-1].isdigit() else 0
    finally:
        os.unlink(path)


def slim_updater(top):
    """The dual-bank-only build (`make WITH_OSTREE=0 WITH_SINGLECOPY=0`: no
    libostree, no GLib; issue 13's memory row), made from the same sources if
    stale: the path of its binary."""
    build = "build/bench-dualbank-only"
    subprocess.run(["make", "-C", top, "--no-print-directory", "WITH_OSTREE=0",
                    "WITH_SINGLECOPY=0", f"BUILD={build}", f"{build}/updater-bin"],
                   check=True, stdout=subprocess.DEVNULL)
    return os.path.join(top, build, "updater-bin")


def bundle_sources(top):
    """The SHA-256 of bundle/'s sources (what makes a bundle or a delta),
    for caches of what `updater bundle create` made."""
    h = hashlib.sha256()
    for f in sorted(os.listdir(os.path.join(top, "bundle"))):
        with open(os.path.join(top, "bundle", f), "rb") as fh:
            h.update(fh.read())
    return h.hexdigest()


def extract_payload(bundle, out):
    """The zstd payload of an updater bundle (docs/bundle-format.md)."""
    with open(bundle, "rb") as f:
        head = f.read(16)
        mlen, slen = struct.unpack(">II", head[8:16])
        f.seek(16 + mlen + slen)
        with open(out, "wb") as o:
            shutil.copyfileobj(f, o, 1 << 20)


class ToolError(Exception):
    """A tool failed: the message holds the command and the end of its output."""


def tail(text, lines=12):
    return "\n".join(text.strip().splitlines()[-lines:])


def run_timed(argv, env=None, marker=None, on_marker=None, timeout=600):
    """Runs argv (stdout and stderr together into a pipe, read as it comes).

    Returns a dict: seconds (start to exit), marker_seconds (start to the
    first output line containing `marker`, or None), marker_result (what
    on_marker() returned, called as soon as that line is read, while the
    command still runs), rss_kib (GNU time's figure: ru_maxrss of the
    command, the largest of the process and the children it reaped), output.
    Raises ToolError when the command fails or runs longer than timeout."""
    wrapped, rss_file = rss_wrapped(argv)
    t0 = time.monotonic()
    p = subprocess.Popen(wrapped, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    timer = threading.Timer(timeout, p.kill)
    timer.start()
    out, t_marker, marker_result = [], None, None
    try:
        for raw in p.stdout:
            line = raw.decode(errors="replace")
            if marker and t_marker is None and marker in line:
                t_marker = time.monotonic() - t0
                if on_marker:
                    marker_result = on_marker()
            out.append(line)
        _, status, ru = os.wait4(p.pid, 0)
        dt = time.monotonic() - t0
    finally:
        timer.cancel()
        p.stdout.close()
    p.returncode = os.waitstatus_to_exitcode(status)
    rss = read_rss(rss_file)
    text = "".join(out)
    if p.returncode != 0:
        what = "killed after %d s" % timeout if p.returncode < 0 else "exit %d" % p.returncode
        raise ToolError(f"`{' '.join(argv)}` failed ({what}):\n{tail(text)}")
    if marker and t_marker is None:
        raise ToolError(f"`{' '.join(argv)}` exited 0 but never printed {marker!r}:\n{tail(text)}")
    return {"seconds": dt, "marker_seconds": t_marker, "marker_result": marker_result,
            "rss_kib": rss, "output": text}


def fsync_seconds(path):
    """How long an fsync of path takes: what is still dirty in the page cache."""
    fd = os.open(path, os.O_RDONLY)
    try:
        t0 = time.monotonic()
        os.fsync(fd)
        return time.monotonic() - t0
    finally:
        os.close(fd)


def deb_version(package):
    r = subprocess.run(["dpkg-query", "-W", "-f=${Version}", package],
                       capture_output=True, text=True)
    return r.stdout.strip() if r.returncode == 0 else "?"


def check(cmd, **kw):
    """Runs a preparation step; ToolError with its output when it fails."""
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        raise ToolError(f"`{' '.join(cmd)}` failed (exit {r.returncode}):\n"
                        f"{tail(r.stdout + r.stderr)}")
    return r.stdout

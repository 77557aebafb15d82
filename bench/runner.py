"""Helpers shared by the benchmark's drivers for other updaters (stdlib only):
run a command with its wall time, the time of a marker line in its output and
its peak RSS; time an fsync; read a package's version."""
import os
import subprocess
import threading
import time


class ToolError(Exception):
    """A tool failed: the message holds the command and the end of its output."""


def tail(text, lines=12):
    return "\n".join(text.strip().splitlines()[-lines:])


def run_timed(argv, env=None, marker=None, on_marker=None, timeout=600):
    """Runs argv (stdout and stderr together into a pipe, read as it comes).

    Returns a dict: seconds (start to exit), marker_seconds (start to the
    first output line containing `marker`, or None), marker_result (what
    on_marker() returned, called as soon as that line is read, while the
    command still runs), rss_kib (ru_maxrss from wait4: the largest of the
    process and the children it reaped), output.
    Raises ToolError when the command fails or runs longer than timeout."""
    t0 = time.monotonic()
    p = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
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
    text = "".join(out)
    if p.returncode != 0:
        what = "killed after %d s" % timeout if p.returncode < 0 else "exit %d" % p.returncode
        raise ToolError(f"`{' '.join(argv)}` failed ({what}):\n{tail(text)}")
    if marker and t_marker is None:
        raise ToolError(f"`{' '.join(argv)}` exited 0 but never printed {marker!r}:\n{tail(text)}")
    return {"seconds": dt, "marker_seconds": t_marker, "marker_result": marker_result,
            "rss_kib": ru.ru_maxrss, "output": text}


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

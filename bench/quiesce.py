"""The same starting state for every timed run of the benchmark (stdlib only).

Why: a timed install that ends with an fsync also pays for whatever else is
dirty on the same disk (ext4's ordered-mode journal commit flushes the data of
other files in the transaction, and the loop device's backing file shares the
build disk), and for pages of the previous tool's run still being written back.
Run after run, the tool that followed a big unflushed write was slower, so the
order of the tools decided part of their ratios. settle() therefore, before
each timed run: syncs, drops the clean page cache (the caller then reads the
tool's source back in), and waits until the system's Dirty + Writeback pages
(/proc/meminfo) are below a floor, recording what it saw; other work on a
shared machine may keep dirtying pages, so the wait is bounded and the figure
is kept for the report.
"""
import os
import time


def meminfo_kib(*keys):
    vals = {}
    with open("/proc/meminfo") as f:
        for line in f:
            k, _, rest = line.partition(":")
            if k in keys:
                vals[k] = int(rest.split()[0])
    return [vals.get(k, 0) for k in keys]


def loadavg():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def drop_caches():
    """Clean page cache only (1): what sync left clean. Needs root; a no-op
    otherwise (the report then says the caches were not dropped)."""
    try:
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("1\n")
        return True
    except OSError:
        return False


def settle(floor_kib=4096, max_wait=20.0):
    """sync, drop caches, wait for Dirty + Writeback <= floor_kib (at most
    max_wait seconds). Returns what the run started from."""
    d0, w0 = meminfo_kib("Dirty", "Writeback")
    t0 = time.monotonic()
    os.sync()
    dropped = drop_caches()
    while True:
        d, w = meminfo_kib("Dirty", "Writeback")
        if d + w <= floor_kib or time.monotonic() - t0 > max_wait:
            break
        os.sync()
        time.sleep(0.1)
    return {"dirty_before_kib": d0 + w0, "dirty_kib": d, "writeback_kib": w,
            "settle_s": round(time.monotonic() - t0, 2), "dropped": dropped,
            "load": loadavg()}


def warm(*paths):
    """Reads each file into the page cache (the tool's source)."""
    for p in paths:
        with open(p, "rb") as f:
            while f.read(1 << 20):
                pass


def rotate(steps, i):
    """Run i's order: the steps rotated by i, so that no tool always follows
    the same one (an order effect then spreads over the runs and the median
    sees it at most once in three)."""
    k = i % len(steps) if steps else 0
    return steps[k:] + steps[:k]


def best(xs):
    """A tool's time in the ratios the targets judge: its fastest timed run.
    Other work on the machine, writeback and a shared virtual disk only ever
    make a run slower, so the fastest of a tool's runs is the one least moved
    by them, and two runs of the benchmark agree on it far better than on the
    median (the tables keep the median and the range)."""
    return min(xs)


def summary(states):
    """'Dirty+Writeback before the timed runs: median X KiB (max Y); load ...'"""
    if not states:
        return "no timed runs"
    dirty = sorted(s["dirty_kib"] + s["writeback_kib"] for s in states)
    loads = sorted(s["load"] for s in states)
    waited = sorted(s["settle_s"] for s in states)
    mid = len(states) // 2
    return (f"Dirty + Writeback when each of the {len(states)} timed runs started: median "
            f"{dirty[mid]} KiB, max {dirty[-1]} KiB (after sync, "
            + ("dropping the clean page cache" if all(s["dropped"] for s in states)
               else "page cache NOT dropped (not root)")
            + f", and a wait of median {waited[mid]:.1f} s, max {waited[-1]:.1f} s); "
            f"load average (1 min) at those moments: median {loads[mid]:.2f}, "
            f"min {loads[0]:.2f}, max {loads[-1]:.2f}")


PRIORITY = -10      # the timed phase's nice value (as root)


class Priority:
    """The timed phase runs at nice -10 (root only; children inherit it): on a
    shared machine whose other work runs at nice 10 (as this project's helpers
    and builds are asked to), each timed command then gets its CPUs nearly as on
    a quiet machine, the same for every tool. Work at nice 0 still competes:
    the report gives the load average of each run."""

    def __init__(self):
        self.old = os.getpriority(os.PRIO_PROCESS, 0)
        self.raised = False

    def __enter__(self):
        try:
            os.setpriority(os.PRIO_PROCESS, 0, PRIORITY)
            self.raised = True
        except OSError:
            pass
        return self

    def __exit__(self, *exc):
        if self.raised:
            os.setpriority(os.PRIO_PROCESS, 0, self.old)
        return False

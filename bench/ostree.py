#!/usr/bin/env python3
"""make bench, ostree part: pull and deploy of the same commit by `updater
--backend=ostree install` and by the `ostree` command (`ostree pull` +
`ostree admin deploy`, the baseline) in the same run, on copies of the same
factory device, with and without a static delta on the server. Reports time,
peak RSS and bytes downloaded (from the test server's log). Writes
docs/benchmark-ostree.md.

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
import time

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import quiesce  # noqa: E402  (bench/quiesce.py)
import runner  # noqa: E402  (bench/runner.py)

BENCH = quiesce.bench_dir(TOP)
HISTORY = os.path.join(TOP, "build", "bench-history", f"ostree-{quiesce.medium()}.json")
WORK = os.path.join(BENCH, "ostree")
RUNS = int(os.environ.get("BENCH_RUNS", "15"))
UPDATER = os.path.join(TOP, "updater")
REPORT = os.path.join(TOP, "docs", "benchmark-ostree.md")
# Release 1: real files; release 2 changes some of them and adds a few, as a
# feature release would; both carry the fixture kernel.
CONTENT = ["/usr/lib/python3.11", "/usr/share/doc"]
LIBS = "tests/lib/common.sh tests/lib/ostree.sh"


def bash(cmd, capture=False):
    src = " ".join(f'. "{TOP}/{l}";' for l in LIBS.split())
    r = subprocess.run(f"{src} {cmd}", shell=True, check=True, executable="/bin/bash",
                       stdout=subprocess.PIPE if capture else subprocess.DEVNULL)
    return r.stdout.decode().strip() if capture else None


def measure(argv, env=None):
    """(seconds, peak RSS KiB) of one command; exits on failure."""
    wrapped, rss_file = runner.rss_wrapped(argv)
    t0 = time.monotonic()
    p = subprocess.Popen(wrapped, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, _ = os.wait4(p.pid, 0)
    dt = time.monotonic() - t0
    err = p.stderr.read().decode()
    p.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"bench: {' '.join(argv)} failed: {err[-2000:]}")
    return dt, runner.read_rss(rss_file)


def make_trees():
    t1, t2 = os.path.join(WORK, "tree-1"), os.path.join(WORK, "tree-2")
    if os.path.exists(os.path.join(WORK, "trees.done")):
        return t1, t2
    for t in (t1, t2):
        shutil.rmtree(t, ignore_errors=True)
    bash(f'ostree_make_tree "{t1}" 1.0 >/dev/null')
    bash(f'ostree_make_tree "{t2}" 2.0 6.1.0-sim2 >/dev/null')
    for t in (t1, t2):
        for src in CONTENT:
            dst = os.path.join(t, "usr", "share", "bench", src.strip("/").replace("/", "_"))
            shutil.copytree(src, dst, symlinks=True)
    # The feature release: every 20th file changes, and 8 MiB of new files.
    n = 0
    for root, _, files in os.walk(os.path.join(t2, "usr", "share", "bench")):
        for f in files:
            p = os.path.join(root, f)
            n += 1
            if n % 20 == 0 and os.path.isfile(p) and not os.path.islink(p):
                with open(p, "ab") as fh:
                    fh.write(b"\n# changed in 2.0\n")
    with open(os.path.join(t2, "usr", "share", "bench", "new-feature.bin"), "wb") as fh:
        fh.write(os.urandom(8 << 20))
    open(os.path.join(WORK, "trees.done"), "w").close()
    return t1, t2


def ensure_gpg():
    """One signing key for every cached repository: a new key means new repos."""
    if os.path.exists(os.path.join(WORK, "gpg", "trusted.gpg")):
        return
    for name in ("repo-plain", "repo-delta", "gpg"):
        shutil.rmtree(os.path.join(WORK, name), ignore_errors=True)
    bash(f'ostree_gpg_init "{WORK}/gpg"; ostree_gpg_stop; '
         f'echo "$OSTREE_GPG_KEYID" >"{WORK}/gpg/keyid"')


def server(delta):
    """An archive repo with both releases (and the 1->2 delta when asked)."""
    repo = os.path.join(WORK, "repo-delta" if delta else "repo-plain")
    if os.path.exists(os.path.join(repo, "bench.done")):
        return repo, open(os.path.join(repo, "bench.done")).read().split()
    shutil.rmtree(repo, ignore_errors=True)
    t1, t2 = make_trees()
    out = bash(f'export OSTREE_SIGN_HOME="{WORK}/gpg/gnupg" OSTREE_GPG_KEYID=$(cat "{WORK}/gpg/keyid"); '
               f'ostree_server_init "{repo}"; '
               f'c1=$(ostree_server_commit "{repo}" bench/stable "{t1}" 1.0); '
               f'c2=$(ostree_server_commit "{repo}" bench/stable "{t2}" 2.0); '
               + (f'ostree_server_delta "{repo}" $c1 $c2 --min-fallback-size=1000 >/dev/null; ' if delta else "")
               + f'ostree_server_summary "{repo}"; ostree_gpg_stop; echo $c1 $c2', capture=True)
    c1, c2 = out.split()[-2:]
    with open(os.path.join(repo, "bench.done"), "w") as fh:
        fh.write(f"{c1} {c2}")
    return repo, [c1, c2]


def start_server(root, log):
    pf = os.path.join(WORK, "port")
    if os.path.exists(pf):
        os.unlink(pf)
    srv = subprocess.Popen(["python3", os.path.join(TOP, "tests", "lib", "httpd.py"),
                            "--root", root, "--port-file", pf, "--log", log],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        if os.path.exists(pf):
            break
        time.sleep(0.05)
    return srv, f"http://127.0.0.1:{open(pf).read().strip()}"


def log_bytes(log):
    total = 0
    for line in open(log):
        for word in line.split():
            if word.startswith("sent="):
                total += int(word[5:])
    return total


def fresh_device(pristine, dev):
    rm_device(dev)
    subprocess.run(["cp", "-a", pristine, dev], check=True)
    # The copy's files name the pristine device: the running-root link (the
    # booted deployment, ostree.root) and fw_env.config must name the copy.
    link = os.path.join(dev, "root")
    target = os.readlink(link)
    os.unlink(link)
    os.symlink(target.replace(pristine, dev, 1), link)
    cfg = os.path.join(dev, "env", "fw_env.config")
    with open(cfg) as fh:
        text = fh.read()
    with open(cfg, "w") as fh:
        fh.write(text.replace(pristine, dev))


def rm_device(dev):
    if os.path.exists(dev):
        subprocess.run(["chattr", "-R", "-i", dev], stderr=subprocess.DEVNULL)
        shutil.rmtree(dev)


def nofreeze(argv):
    # libostree freezes the file system holding /boot when it may (the build
    # host's, here): both tools run without CAP_SYS_ADMIN (tests/lib/ostree.sh).
    return ["setpriv", "--bounding-set=-sys_admin", "--"] + argv


def run_updater(dev, readback=True):
    return measure(nofreeze([UPDATER, f"--config={dev}/updater.conf", "-q", "--progress=none",
                             "install"] + ([] if readback else ["--no-readback"])))


def run_ostree_cli(dev, url):
    sysroot = os.path.join(dev, "sysroot")
    repo = os.path.join(sysroot, "ostree", "repo")
    t1, r1 = measure(["ostree", f"--repo={repo}", "pull", "origin", "bench/stable"])
    t2, r2 = measure(nofreeze(["ostree", "admin", "deploy", f"--sysroot={sysroot}",
                               "--os=simos", "origin:bench/stable"]))
    return t1 + t2, max(r1, r2)


# upd: the updater as shipped (read-back on); updnr: --no-readback, which
# does what the ostree command does (neither reads the new objects again).
TOOLS = ("upd", "updnr", "cli")
TOOL_NAMES = {"upd": "updater", "updnr": "updater --no-readback", "cli": "ostree CLI"}


def bench_mode(delta):
    repo, (c1, c2) = server(delta)
    log = os.path.join(WORK, "httpd.log")
    srv, url = start_server(repo, log)
    pristine = os.path.join(WORK, "device-" + ("delta" if delta else "plain"))
    dev = os.path.join(WORK, "dev")
    try:
        rm_device(pristine)
        env = f'OSTREE_GPG_KEYRING="{WORK}/gpg/trusted.gpg"'
        bash(f'{env} ostree_make_device "{pristine}" "{repo}" "{url}" bench/stable {c1}')
        res = {k + s: [] for k in TOOLS for s in ("", "_rss", "_bytes")}
        res["order"] = []
        for i in range(RUNS):
            order = quiesce.order(list(TOOLS), i)
            res["order"].append(" ".join(order))
            for tool in order:
                timed_run(res, tool, pristine, dev, url, log)
        delta_size = 0
        if delta:
            d = os.path.join(repo, bash(f"ostree_delta_path {c1} {c2}", capture=True))
            delta_size = sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d))
        return res, delta_size
    finally:
        srv.terminate()
        srv.wait()
        rm_device(dev)
        rm_device(pristine)


STATES = []      # quiesce.settle() of every timed run, for the report
KEY = None       # the hash of the sources measured (set by main())


def timed_run(res, tool, pristine, dev, url, log):
    """One install from the same start (bench/quiesce.py): the device copy
    made and written home before the clock starts, so that no tool's fsyncs
    pay for the copy's dirty pages."""
    fresh_device(pristine, dev)
    open(log, "w").close()
    STATES.append(quiesce.settle())
    t, rss = run_ostree_cli(dev, url) if tool == "cli" else run_updater(dev, tool == "upd")
    res[tool].append(t)
    res[tool + "_rss"].append(rss)
    res[tool + "_bytes"].append(log_bytes(log))


def med(xs):
    return statistics.median(xs)


def fmt(xs, unit=""):
    return f"{med(xs):.2f}{unit} ({min(xs):.2f}-{max(xs):.2f})"


def main():
    if not shutil.which("ostree") or not os.path.exists(UPDATER):
        sys.exit("bench: needs the ostree command and a built ./updater")
    os.makedirs(WORK, exist_ok=True)
    ensure_gpg()
    global KEY
    KEY = quiesce.sources_key(TOP)   # at the start: what this run measures
    t0 = time.monotonic()
    results = {}
    for delta in (False, True):
        with quiesce.Priority():    # the server and the tools inherit it
            results[delta] = bench_mode(delta)
        r = results[delta][0]
        print(f"ostree bench ({'delta' if delta else 'objects'}): updater {med(r['upd']):.2f} s, "
              f"--no-readback {med(r['updnr']):.2f} s, ostree CLI {med(r['cli']):.2f} s", file=sys.stderr)
    write_report(results, time.monotonic() - t0)


def write_report(results, elapsed):
    ok = lambda c: "met" if c else "NOT met"
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
                if l.startswith("model name")), "?")
    ratios = {}
    for delta in (False, True):
        r = results[delta][0]
        for tool in ("upd", "updnr"):
            name = f"{'delta' if delta else 'objects'} {TOOL_NAMES[tool]}"
            ratios[name + " time"] = quiesce.best(r[tool]) / quiesce.best(r["cli"])
            ratios[name + " RSS"] = med(r[tool + "_rss"]) / med(r["cli_rss"])
    prev, spread = quiesce.agreement(HISTORY, KEY, ratios)
    ver = subprocess.run(["ostree", "--version"], stdout=subprocess.PIPE).stdout.decode().split("\n")[1].strip()
    lines = [
        "# OSTree install benchmark",
        "",
        f"Written by `make bench` (bench/ostree.py) on {time.strftime('%Y-%m-%d %H:%M')}; took "
        f"{elapsed:.0f} s. Machine: {platform.machine()}, {os.cpu_count()} cores, {cpu}; "
        f"libostree {ver}. Sources measured: {KEY} (the product's C sources and bench/, "
        "tests/lib/figures.py). The repositories and devices are " + quiesce.medium_text() + ".",
        "",
        quiesce.agreement_text(prev, spread, ratios),
        "",
        "Release 1.0: a deployable tree with real files (" + ", ".join(CONTENT) + "); release 2.0 "
        "changes every 20th file, the kernel, and adds 8 MiB of new files. Each run starts from a "
        "copy of the same factory device (1.0 deployed) and installs 2.0 from tests/lib/httpd.py on "
        "127.0.0.1: with `updater --backend=ostree install` (GPG check, the read-back: the objects "
        "the install added are read and hashed again, deploy, trial), with `updater install "
        "--no-readback` (the same without the read-back), and with the `ostree` command (`ostree pull` + "
        "`ostree admin deploy`, GPG check on; like libostree inside the updater, it checks each object "
        f"only as it writes it). Median of {RUNS} runs, min-max in brackets. In each run the "
        "three tools run one after the other, in an order that changes from run to run (each tool "
        "following each other equally often, bench/quiesce.py); before each "
        "timed run the device copy is written home and the clean page cache dropped "
        "(bench/quiesce.py); the timed runs have nice " + str(quiesce.PRIORITY)
        + ("" if os.geteuid() == 0 else " (not here: not root)") + ". " + quiesce.summary(STATES)
        + ". A time ratio to the ostree command is that of the mean of the two tools' fastest third of the runs "
        "(bench/quiesce.py, best()); a peak RSS ratio, that of the medians.",
        "",
        "| server | tool | seconds | peak RSS KiB | bytes downloaded |",
        "|---|---|---|---|---|",
    ]
    for delta in (False, True):
        r, dsize = results[delta]
        name = "static delta 1.0->2.0" if delta else "objects only"
        for tool in TOOLS:
            lines.append(f"| {name} | {TOOL_NAMES[tool]} | {fmt(r[tool])} | {med(r[tool + '_rss']):.0f} | "
                         f"{med(r[tool + '_bytes']):.0f} |")
    lines += ["", "Per run (order of the tools; time ratios to the ostree command in that run):", ""]
    for delta in (False, True):
        r = results[delta][0]
        runs = "; ".join(f"{o}: {a / c:.2f} / {b / c:.2f}" for o, a, b, c in
                         zip(r["order"], r["upd"], r["updnr"], r["cli"]))
        lines.append(f"- {'static delta' if delta else 'objects only'} (updater / --no-readback): {runs}")
    lines += ["", "Targets:", ""]
    for delta in (False, True):
        r, dsize = results[delta]
        name = "with a static delta" if delta else "without a delta"
        for tool in ("upd", "updnr"):
            key = f"{'delta' if delta else 'objects'} {TOOL_NAMES[tool]}"
            tr, rr = ratios[key + " time"], ratios[key + " RSS"]
            lines.append(f"- {name}, {TOOL_NAMES[tool]}: time ratio to the ostree command {tr:.2f} "
                         f"(target <= 1.05: {ok(tr <= 1.05)}); peak RSS ratio {rr:.2f} "
                         f"(target <= 1.05: {ok(rr <= 1.05)})")
        if delta:
            br = med(r["upd_bytes"]) / dsize
            lines.append(f"- bytes downloaded with the delta: {med(r['upd_bytes']):.0f} against a delta of "
                         f"{dsize} bytes on the server: {br:.2f}x (target <= 1.1: {ok(br <= 1.1)}); the "
                         f"ostree command downloaded {med(r['cli_bytes']):.0f}")
        else:
            br = med(r["upd_bytes"]) / med(r["cli_bytes"])
            diff = med(r["upd_bytes"]) - med(r["cli_bytes"])
            lines.append(f"- bytes downloaded without a delta: {br:.4f}x the ostree command's plain object pull, "
                         f"{diff:+.0f} bytes (target: no more: {ok(diff <= 0)})"
                         + ("; see the server log of the run for what was fetched beyond the plain "
                            "pull (docs/ostree.md, fetch: the commit object first, the signatures once, "
                            "with the content)" if diff > 0 else ""))
    lines += ["", "The updater does more than the baseline: it fetches the commit object first (policy "
              "checks before any bulk download, stored with its own fsyncs), its own GPG check, a delta "
              "applied into a throwaway repository and imported by reachability (a walk of the whole "
              "commit: only what the verified commit reaches enters the device's repository; no second "
              "pull when that walk found everything), an fsck of every object the install added, and "
              "two boot-state writes (trial on, then the default switch). Where it is slower, that is "
              "where the time goes.", ""]
    with open(REPORT, "w") as fh:
        fh.write("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()

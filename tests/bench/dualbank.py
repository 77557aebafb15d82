#!/usr/bin/env python3
"""make bench, dual-bank part: install a 512 MiB image from a zstd bundle over
loopback HTTP into a file slot, against the bare pipeline
`zstd -dc payload | dd of=slot bs=1M conv=fsync` measured in the same run
(which neither downloads, hashes nor verifies). Also the peak RSS of a 16 MiB
and a 512 MiB install. Writes docs/benchmark-dualbank.md.

Environment: BENCH_RUNS (default 5), BENCH_DIR (default build/bench).
"""
import os
import platform
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BENCH = os.path.abspath(os.environ.get("BENCH_DIR", os.path.join(TOP, "build", "bench")))
RUNS = int(os.environ.get("BENCH_RUNS", "5"))
UPDATER = os.path.join(TOP, "updater")
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


def extract_payload(bundle, out):
    with open(bundle, "rb") as f:
        head = f.read(16)
        mlen, slen = struct.unpack(">II", head[8:16])
        f.seek(16 + mlen + slen)
        with open(out, "wb") as o:
            shutil.copyfileobj(f, o, 1 << 20)


def measure(argv, shell=False):
    """(seconds, peak RSS in KiB) of one command."""
    t0 = time.monotonic()
    p = subprocess.Popen(argv, shell=shell, executable="/bin/bash" if shell else None,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, ru = os.wait4(p.pid, 0)
    dt = time.monotonic() - t0
    err = p.stderr.read().decode()
    p.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"bench: {argv} failed: {err}")
    return dt, ru.ru_maxrss


def reset_device(dev):
    shutil.rmtree(os.path.join(dev, "data", "updater"), ignore_errors=True)
    sh(f"{UPDATER} --config={dev}/updater.conf -q init --force 2>/dev/null")


def warm(path):
    sh(f"cat {path} >/dev/null; sync")


def install(dev, url, *extra):
    reset_device(dev)
    return measure([UPDATER, f"--config={dev}/updater.conf", "-q", "--progress=none",
                    "install", *extra, url])


def baseline(payload, slot):
    return measure(f"zstd -dc {payload} | dd of={slot} bs=1M conv=fsync,notrunc status=none",
                   shell=True)


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
    slot = os.path.join(BENCH, "slot.img")
    if not os.path.exists(slot) or os.path.getsize(slot) < 600 << 20:
        sh(f"rm -f {slot}; fallocate -l 600M {slot} || truncate -s 600M {slot}")
    sh(f"sed -i 's|B = \"slots/B.img\"|B = \"{slot}\"|' {dev}/updater.conf")
    make_image(f"{BENCH}/img512.img", 512, CONTENT_512)
    make_image(f"{BENCH}/img16.img", 16, CONTENT_16)
    # Bundles are signed by this run's device key: remake them each run.
    for n in ("512", "16"):
        for f in (f"{BENCH}/b{n}.upd", f"{BENCH}/payload{n}.zst"):
            if os.path.exists(f):
                os.unlink(f)
        make_bundle(f"{BENCH}/img{n}.img", f"{BENCH}/b{n}.upd")
        extract_payload(f"{BENCH}/b{n}.upd", f"{BENCH}/payload{n}.zst")
    return dev, slot


def fmt(xs):
    return f"{statistics.median(xs):.2f} ({min(xs):.2f}-{max(xs):.2f})"


def main():
    if not shutil.which("zstd") or not os.path.exists(UPDATER):
        sys.exit("bench: needs zstd and a built ./updater")
    t_start = time.monotonic()
    dev, slot = prepare()
    srv, url = start_server()
    try:
        res = {"base": [], "rb": [], "norb": [], "rss512": [], "rss16": []}
        for i in range(RUNS):
            warm(f"{BENCH}/payload512.zst")
            res["base"].append(baseline(f"{BENCH}/payload512.zst", slot)[0])
            warm(f"{BENCH}/b512.upd")
            t, rss = install(dev, f"{url}/b512.upd")
            res["rb"].append(t)
            res["rss512"].append(rss)
            warm(f"{BENCH}/b512.upd")
            res["norb"].append(install(dev, f"{url}/b512.upd", "--no-readback")[0])
            res["rss16"].append(install(dev, f"{url}/b16.upd")[1])
            print(f"run {i + 1}/{RUNS}: pipeline {res['base'][-1]:.2f} s, updater "
                  f"{res['rb'][-1]:.2f} s (read-back), {res['norb'][-1]:.2f} s (none)",
                  file=sys.stderr)
    finally:
        srv.terminate()
        srv.wait()
    write_report(res, time.monotonic() - t_start)


def tool_line(name):
    path = shutil.which(name)
    return f"{name}: installed at {path} (not yet measured by this script)" if path else \
        f"{name}: not installed here, so not measured"


def write_report(res, elapsed):
    base = statistics.median(res["base"])
    rb, norb = statistics.median(res["rb"]), statistics.median(res["norb"])
    rss512, rss16 = statistics.median(res["rss512"]), statistics.median(res["rss16"])
    payload = os.path.getsize(f"{BENCH}/payload512.zst")
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
                if l.startswith("model name")), "?")
    ok = lambda c: "met" if c else "NOT met"
    lines = [
        "# Dual-bank install benchmark",
        "",
        f"Written by `make bench` (tests/bench/dualbank.py) on {time.strftime('%Y-%m-%d %H:%M')}; "
        f"took {elapsed:.0f} s. Machine: {platform.machine()}, {os.cpu_count()} cores, {cpu}, "
        f"kernel {platform.release()}.",
        "",
        f"Image: 512 MiB ext4 filled with real files ({', '.join(CONTENT_512)}), "
        f"bundle payload {payload / 1048576:.1f} MiB (zstd level 3, window 2^23). "
        "Served by tests/lib/httpd.py on 127.0.0.1; slot: a 600 MiB file on the build "
        "disk. Each figure is the median of "
        f"{RUNS} runs, with min-max; the baseline runs in the same loop.",
        "",
        "| what | seconds | ratio to pipeline | target |",
        "|---|---|---|---|",
        f"| `zstd -dc payload \\| dd of=slot bs=1M conv=fsync` (baseline: no download, no hash, no verify) | {fmt(res['base'])} | 1.00 | |",
        f"| `updater install` over HTTP, read-back verification on (default) | {fmt(res['rb'])} | {rb / base:.2f} | <= 2.0: {ok(rb / base <= 2.0)} |",
        f"| `updater install --no-readback` over HTTP | {fmt(res['norb'])} | {norb / base:.2f} | <= 1.3: {ok(norb / base <= 1.3)} |",
        "",
        "| peak RSS of `updater install` | KiB |",
        "|---|---|",
        f"| 16 MiB image | {rss16:.0f} |",
        f"| 512 MiB image | {rss512:.0f} |",
        f"| difference | {rss512 - rss16:.0f} (target <= 2048: {ok(rss512 - rss16 <= 2048)}) |",
        "",
        "Other updaters on the same image:",
        "",
        f"- {tool_line('swupdate')}",
        f"- {tool_line('rauc')}",
        "",
        "How the updater gets there: the download and zstd decoding run on one thread, "
        "SHA-256 and the slot writes on a second, and the read-back of each 8 MiB range "
        "(forced to the medium with sync_file_range, then read with O_DIRECT) on a third, "
        "while later ranges are still being written.",
        "",
    ]
    with open(REPORT, "w") as f:
        f.write("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()

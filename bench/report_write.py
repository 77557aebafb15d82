"""Writes docs/benchmark.md and its plots (docs/benchmark-*.png, gnuplot)
from the figures bench/report.py measured. Stdlib only."""
import os
import platform
import shutil
import statistics
import subprocess
import tempfile

import delta_baselines
import quiesce
import singlecopy
from report_docs import dualbank_doc_ratios, ostree_doc_targets, other_docs_seconds

MiB = 1048576.0
TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
DOCS = os.path.join(TOP, "docs")

LABEL = {
    "dd": "`dd` of the raw image (`bs=1M conv=fsync`)",
    "pipeline": "`zstd -dc payload \\| dd iflag=fullblock conv=fsync` (no download, hash or "
                "verification)",
    "db": "updater, dual-bank (read-back on; default install: dynamic delta)",
    "db_norb": "updater, dual-bank, `--no-readback` (dynamic delta)",
    "db_full": "updater, dual-bank, `--full` (the whole bundle streamed)",
    "db_static": "updater, dual-bank, static delta from the release before on the server",
    "sc_stage": "updater, single-copy: `stage` (running system: download, verify, keep the bundle; "
                "device: the data partition)",
    "sc_apply": "updater, single-copy: `apply-staged` (at boot: the root rewritten and read back; "
                "device: the root)",
    "swupdate": "SWUpdate `-d` over HTTP (.swu, raw handler, zstd)",
    "rauc": "RAUC `rauc install URL` (plain bundle)",
    "updater_delta": "updater, ostree, server with static deltas",
    "updater_plain": "updater, ostree, server with objects only",
    "cli_delta": "`ostree pull` + `ostree admin deploy`, server with static deltas",
    "cli_plain": "`ostree pull` + `ostree admin deploy`, objects only",
}


def med(xs):
    return statistics.median(xs) if xs else None


def rng(xs, scale=1.0, fmt="{:.1f}"):
    """'median (min-max)' of xs / scale; '-' when empty."""
    if not xs:
        return "-"
    xs = [x / scale for x in xs]
    m = statistics.median(xs)
    if fmt.format(min(xs)) == fmt.format(max(xs)):
        return fmt.format(m)
    return f"{fmt.format(m)} ({fmt.format(min(xs))}-{fmt.format(max(xs))})"


def tool_version(argv, line=0):
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=10)
        return (out.stdout or out.stderr).strip().splitlines()[line].strip()
    except (OSError, IndexError, subprocess.SubprocessError):
        return "?"


def deb(pkg):
    r = subprocess.run(["dpkg-query", "-W", "-f=${Version}\\n", pkg], capture_output=True, text=True)
    return (r.stdout.split() or ["not installed"])[0]


def machine():
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
                if l.startswith("model name")), "?")
    mem = next((int(l.split()[1]) for l in open("/proc/meminfo") if l.startswith("MemTotal")), 0)
    debian = open("/etc/debian_version").read().strip() if os.path.exists("/etc/debian_version") else "?"
    return (f"{platform.machine()}, {os.cpu_count()} cores ({cpu}), {mem / 1048576:.0f} GiB RAM, "
            f"Linux {platform.release()}, Debian {debian}")


def rauc_adaptive_line():
    """Why RAUC's adaptive mode has no column (issue 13 asks for one where it runs)."""
    dm = os.path.exists("/dev/mapper/control")
    return ("- RAUC 1.8's adaptive mode (`adaptive=block-hash-index`, its answer to delta updates): "
            "not measured. It works only with the `verity` bundle format, which RAUC opens through "
            "device-mapper (dm-verity): "
            + ("this machine has device-mapper, but " if dm else
               f"this machine's kernel ({os.uname().release}) has none (no /dev/mapper/control, no "
               "dm_mod module), and ")
            + "a small `verity` bundle does not install here (docs/benchmark-dualbank.md says how it "
            "fails). Its download saving also needs HTTP streaming (nbd), which Debian's rauc 1.8 is "
            "built without: over HTTP it downloads the whole bundle first. What it would write, from "
            "its source (src/update_handler.c of 1.8): each 4 KiB block is read from the target "
            "first and written only when it differs, as the updater does, so its bytes written are "
            "column (a) of the Dual-bank delta section; what it would fetch by streaming is every "
            "squashfs block (128 KiB before compression by default) of the bundle that holds a "
            "4 KiB block found in neither slot.")


class Writer:
    def __init__(self, bench, info):
        self.b, self.r, self.info = bench, bench.r, info
        self.rel = bench.rel
        self.upd = [r["version"] for r in self.rel[1:]]
        self.last = self.upd[-1]

    # --- figures derived from the runs ----------------------------------------------------

    def per_run(self, key, fn):
        """fn(run index) over the runs that have figures."""
        n = len(self.r.get(key, self.last, "seconds")) or len(self.r.get(key, self.last, "used"))
        return [fn(i) for i in range(n)]

    def ostree_peak(self, key):
        """Per run: the largest sampled use during any update of the series."""
        return self.per_run(key, lambda i: max(self.r.get(key, v, "peak_used")[i] for v in self.upd))

    def after(self, key, v=None):
        return self.r.get(key, v or self.last, "used")

    def keep_key(self, k):
        return "updater_delta" if k == 2 else f"keep{k}"

    # --- the page --------------------------------------------------------------------------

    def write(self):
        L = []
        b, info = self.b, self.info
        slot = info["slot_size"]
        largest = max(self.rel, key=lambda r: r["image_bytes"])
        L += ["# Flash usage: dual-bank, ostree and single-copy on the same release series", ""]
        L += [f"Written by `make bench` (bench/report.py) on {info['started']}; the run took "
              f"{info['elapsed'] / 60:.1f} min ({info['setup']:.0f} s of it setting up: building the "
              f"series when it is not cached yet — it took {b.s.build_seconds:.0f} s the first time "
              "— the test server and the ostree factory device). "
              f"Each figure is the median of {info['runs']} runs with min-max in brackets"
              + (f" (the dual-bank tools are timed {info['db_repeat']} times in each run: "
                 f"{info['runs'] * info['db_repeat']} timed runs each). "
                 if info.get("db_repeat", 1) > 1 else ". ")
              + f"Machine: {machine()}. Load average (1 min) at the start: {info['load'][0]}, at "
              f"the end: {info['load'][1]} (the machine has {os.cpu_count()} cores: a load above "
              "that means other work ran alongside and the times are noisier). "
              + self.total_time() +
              "Reproduce with `make bench` (this report comes after docs/benchmark-dualbank.md and "
              "docs/benchmark-ostree.md; `BENCH_RUNS` sets the runs, default 9, and `BENCH_DB_REPEAT` "
              "the dual-bank tools' timed runs in each, default 2), or alone with "
              "`python3 bench/report.py` as root after `make updater`; a rerun replaces this "
              "page and its plots.", ""]
        if info.get("agreement"):
            L += [info["agreement"], ""]
        L += ["Versions: " + "; ".join([
            "updater " + tool_version([os.path.join(TOP, "updater"), "--version"]).replace("updater ", "", 1),
            f"libostree {deb('libostree-1-1')}", f"ostree {deb('ostree')}", f"zstd {deb('zstd')}",
            f"e2fsprogs {deb('e2fsprogs')}", f"swupdate {deb('swupdate')}", f"rauc {deb('rauc')}",
            f"gnuplot {deb('gnuplot-nox')}"]) + ".", ""]
        L += self.answer()
        L += self.series_section()
        L += self.method()
        L += self.flash_tables()
        L += self.download_table()
        L += self.written_table()
        L += self.time_tables()
        L += singlecopy.section(self)
        L += self.targets()
        L += delta_baselines.section(self.info.get("delta"), self.info.get("delta_seconds"))
        L += self.notes()
        with open(os.path.join(DOCS, "benchmark.md"), "w") as f:
            f.write("\n".join(L).rstrip() + "\n")
        self.plots()
        print("\n".join(L))

    def total_time(self):
        o = other_docs_seconds()
        if not o:
            return ""
        tot = sum(o) + self.info["elapsed"]
        return (f"The whole `make bench` took about {tot / 60:.0f} min (dualbank.py {o[0]} s, "
                f"ostree.py {o[1]} s, this report {self.info['elapsed']:.0f} s). ")

    def answer(self):
        slot = self.info["slot_size"]
        largest = max(self.rel, key=lambda r: r["image_bytes"])
        db_need = 2 * slot
        L = ["## How much flash do I need for N updates of this size?", ""]
        peak2 = med(self.ostree_peak("updater_delta"))
        after2 = med(self.after("updater_delta"))
        L.append(f"- **Dual-bank**: two slots, each sized for the largest release plus "
                 f"{self.info['headroom'] * 100:.0f} % headroom: 2 x {slot / MiB:.0f} MiB = "
                 f"**{db_need / MiB:.0f} MiB**, whatever N is (the largest image here is "
                 f"{largest['image_bytes'] / MiB:.0f} MiB, release {largest['version']}). It always "
                 "keeps exactly two releases (the running one and its fallback). Every update "
                 "downloads the whole bundle and rewrites the whole image: "
                 + ", ".join(f"{rng(self.r.get('db', v, 'dev_bytes'), MiB, '{:.0f}')} MiB written for "
                             f"the update to {v}" for v in self.upd) + ".")
        if peak2 is not None:
            L.append(f"- **ostree**, `keep = 2` (the default: the running deployment and one "
                     f"fallback after `mark-good`): the partition must hold the peak during an "
                     f"update, **{peak2 / MiB:.0f} MiB** for this series (the update to "
                     f"{self.peak_at('updater_delta')}), {after2 / MiB:.0f} MiB once it is "
                     "confirmed and pruned. It does not grow with N: pruning after each "
                     "`mark-good` drops the older deployments and their objects; it grows with the "
                     "size of the releases themselves. Add the same headroom as for the slots "
                     f"(+{self.info['headroom'] * 100:.0f} %): about "
                     f"**{peak2 * (1 + self.info['headroom']) / MiB:.0f} MiB**, "
                     f"{peak2 * (1 + self.info['headroom']) / db_need * 100:.0f} % of what "
                     "dual-bank needs. An update writes only the new objects and the deployment's "
                     "directories: " + ", ".join(
                         f"{rng(self.r.get('updater_delta', v, 'dev_bytes'), MiB, '{:.0f}')} MiB for "
                         f"{v}" for v in self.upd) + " (device writes, journal included).")
        for k in self.info["keeps"]:
            if k == 2:
                continue
            p, a = med(self.ostree_peak(self.keep_key(k))), med(self.after(self.keep_key(k)))
            if p is None:
                continue
            L.append(f"- ostree, `keep = {k}`: peak {p / MiB:.0f} MiB, {a / MiB:.0f} MiB after the "
                     f"last update is confirmed ({min(k, len(self.rel))} release(s) on the device).")
        a1, a4 = med(self.after("keep1")), med(self.after(f"keep{max(self.info['keeps'])}"))
        if a1 is not None and a4 is not None and max(self.info["keeps"]) > 1:
            k4 = min(max(self.info["keeps"]), len(self.rel))
            per = (a4 - a1) / (k4 - 1)
            L.append(f"- Keeping more releases with ostree costs only their changed files: "
                     f"about {per / MiB:.0f} MiB per extra release kept in this series (from "
                     f"{a1 / MiB:.0f} MiB with one to {a4 / MiB:.0f} MiB with {k4}); with "
                     "dual-bank each extra release would need another whole slot of "
                     f"{slot / MiB:.0f} MiB.")
        L += singlecopy.answer(self, db_need)
        L += ["", "![Flash needed vs releases kept](benchmark-flash.png)", "",
              "![Bytes downloaded per update](benchmark-download.png)", "",
              "![Bytes written to the flash per update](benchmark-written.png)", "",
              "![Install time per update](benchmark-time.png)", ""]
        return L

    def peak_at(self, key):
        meds = {v: med(self.r.get(key, v, "peak_used")) or 0 for v in self.upd}
        return max(meds, key=meds.get)

    def series_section(self):
        s = self.b.s
        L = ["## The release series", "",
             "Built by bench/series.py from Debian 12 packages fetched with `apt-get "
             "download` (cached under build/bench/series/ after the first run) and unpacked with "
             "`dpkg-deb -x` (no maintainer scripts), /bin, /sbin and /lib* merged into /usr; a "
             "dummy 6 MiB kernel at usr/lib/modules/<version>/vmlinuz. Each release is an ext4 "
             "image (`mkfs.ext4 -d`, content + 15 % + 16 MiB; 4 KiB blocks, every input of the build "
             "fixed: one UUID and hash seed, all times, as docs/dualbank.md tells a build system; "
             "until 2026-12-05 mke2fs's defaults, 1 KiB blocks) in a signed updater bundle (zstd level "
             "3), and a GPG-signed OSTree commit of the same files (/etc as usr/etc) in an archive "
             "repository with a static delta from the previous release (`--min-fallback-size=0`).",
             ""]
        if s.fix["mode"] == "versions":
            ch = ", ".join(f"{p} {s.fix['old'][p]} -> {s.fix['new'][p]}" for p in s.fix["old"])
            L += [f"The security fix (1.1) is real: {ch} (the two newest versions Debian offers "
                  "for them); nothing else changes.", ""]
        else:
            L += ["Debian offered only one version of openssl/libssl3 here, so the security fix "
                  "(1.1) is simulated: 4 KiB appended to libssl.so.3, libcrypto.so.3 and "
                  "/usr/bin/openssl.", ""]
        L += ["| release | what changes | packages | files | content MiB | ext4 image MiB | "
              "bundle MiB | static delta from the previous, MiB |", "|---|---|---|---|---|---|---|---|"]
        prev = None
        for r in self.rel:
            dk = f"{prev['version']}-{r['version']}" if prev else None
            delta = f"{s.deltas[dk] / MiB:.2f}" if dk in s.deltas else "-"
            L.append(f"| {r['version']} | {r['what']} | {len(r['packages'])} | {r['files']} | "
                     f"{r['content_bytes'] / MiB:.0f} | {r['image_bytes'] / MiB:.0f} | "
                     f"{os.path.getsize(r['bundle']) / MiB:.1f} | {delta} |")
            prev = r
        L.append("")
        return L

    def method(self):
        info = self.info
        return ["## What is measured, and how", "",
                "Each run starts from the factory state (1.0) and installs 1.1, 2.0 and 3.0 in "
                "turn, booting (simulated U-Boot, tests/lib/common.sh and ostree.sh) and confirming "
                "(`updater mark-good`) after each, with every tool on the same simulated hardware: "
                "loop devices over sparse files on the build disk. Sources are served by "
                "tests/lib/httpd.py on 127.0.0.1 and read into the page cache before each install.",
                "",
                f"- **Dual-bank**: slots A and B are two loop devices of {info['slot_size'] / MiB:.0f} "
                f"MiB (the largest image + {info['headroom'] * 100:.0f} %). For each update, into "
                "the inactive slot, one after the other: `dd` of the raw image, the bare `zstd -dc | "
                "dd` pipeline, SWUpdate and RAUC where they work, `updater install --no-readback`, "
                "`updater install --full` (the whole bundle streamed), `updater install` from a "
                "folder of the server that also holds the static delta from the previous release "
                "(`NAME.upd.from-HEX`, made by bench/delta_baselines.py) "
                "(in an order that changes from run to run, each tool following each other equally "
                "often: bench/quiesce.py), then `updater install` (read-back on, "
                "from a folder without static deltas: the dynamic delta), "
                "which the device then boots. Before each of them the slot is given back the "
                "content it had before the update (discarded, then the release it held written "
                "again, untimed), each updater run starts from the device's own state before "
                "the update (its state_dir and boot environment as the previous release's "
                "`mark-good` left them, or for 1.1 as `init` left the factory device: the "
                "booted image's hash and its block hashes are recorded there (by `init` since "
                "2026-12-06, for the factory image), so the delta installs neither read the "
                "active slot to learn its id nor read all of it; until 2026-12-06 the bench made "
                "that state anew with `init --force` before every run), the bench syncs, "
                "drops the clean page cache, waits for the "
                "dirty pages to be written back, and reads the tool's source into the page cache "
                "(bench/quiesce.py); the whole timed phase runs at nice -10, so that other work "
                "at a lower priority disturbs it less. " + info.get("settle", "") + ".",
                f"- **ostree**: the sysroot is an ext4 file system of its own on a loop device "
                f"({OSTREE_PART_TEXT}), a copy of one factory device (1.0 deployed with `ostree admin "
                "deploy`). The updater installs each release by commit (`updater install "
                "<checksum>`), then the device boots it and `mark-good` prunes to `ostree.keep` "
                "deployments; the baseline runs `ostree pull origin REF@COMMIT` + `ostree admin "
                "deploy` on its own copy. Both against a server with static deltas between "
                "consecutive releases, and one with objects only; the updater's pass and the "
                "command's swap order from run to run. `keep = 2` is measured in the "
                "timed pass, other `keep` values in passes of their own.",
                singlecopy.method(self),
                "- **Flash needed**: dual-bank, the two slots; single-copy, the root and the data "
                "partition's used space after `stage` (the kept bundle). ostree: the file "
                "system's used space (statvfs, above the empty file system: data, directories, "
                "inodes of the repository, the deployments and /boot, hard links counted once) "
                "sampled every 10 ms "
                "during the install (the peak, which includes the downloaded delta parts while they "
                "are applied), and read again after the install and after `mark-good`. A `du -B1` "
                "of the repository, the deployments and /boot after `mark-good` gives the split.",
                "- **Downloaded**: the body bytes the test server logged (`sent=`) during the "
                "install.",
                "- **Written**: `write_bytes` of /proc/PID/io of the installing process (which "
                "includes the children it reaped), read once it has exited but before it is reaped; "
                "and the bytes that reached the loop devices (/sys/block/loopN/stat, after a sync "
                "of the file system or device): for ostree these include ext4's journal and "
                "metadata, for dual-bank the slot only. For SWUpdate and RAUC only the device "
                "figure is measured.",
                "- **Time and peak RSS**: wall time of the command, ru_maxrss as GNU time "
                "reports it (the largest of the process and its reaped children; GNU time "
                "because wait4 on a child of the Python harness never reports less than the "
                "harness's own peak, bench/runner.py); for the `ostree` baseline the "
                "sum of the pull and the deploy times and the larger of their RSS. libostree's "
                "deploys run without CAP_SYS_ADMIN (`setpriv`, as tests/lib/ostree.sh's "
                "ostree_nofreeze) so that they sync instead of freezing the file system.",
                ""]

    def flash_tables(self):
        info = self.info
        slot = info["slot_size"]
        L = ["## Flash needed", "",
             "MiB. Dual-bank: always its two slots. Single-copy: its root, plus the data "
             "partition's use after `stage` (the kept bundle, until `mark-good`). ostree "
             "(updater, static deltas): the peak during each update, the use right after it, "
             "and after the device booted it and `mark-good` pruned.", "",
             "| update | dual-bank (2 slots) | single-copy: root + staged | ostree keep=2: peak "
             "during the update | after the install | after mark-good | split after mark-good: "
             "repository / deployments / boot |",
             "|---|---|---|---|---|---|---|"]
        k = "updater_delta"
        v0 = self.rel[0]["version"]
        L.append(f"| factory {v0} | {2 * slot / MiB:.0f} | {singlecopy.flash_cell(self)} | | | "
                 f"{rng(self.after(k, v0), MiB)} | "
                 f"{rng(self.r.get(k, v0, 'du_repo'), MiB)} / {rng(self.r.get(k, v0, 'du_deploy'), MiB)}"
                 f" / {rng(self.r.get(k, v0, 'du_boot'), MiB)} |")
        for v in self.upd:
            L.append(f"| to {v} | {2 * slot / MiB:.0f} | {singlecopy.flash_cell(self, v)} | "
                     f"{rng(self.r.get(k, v, 'peak_used'), MiB)} | "
                     f"{rng(self.r.get(k, v, 'used_install'), MiB)} | {rng(self.after(k, v), MiB)} | "
                     f"{rng(self.r.get(k, v, 'du_repo'), MiB)} / "
                     f"{rng(self.r.get(k, v, 'du_deploy'), MiB)} / {rng(self.r.get(k, v, 'du_boot'), MiB)} |")
        dus = [self.r.med(k, self.last, m) for m in ("du_repo", "du_deploy", "du_boot")]
        if None not in dus and self.r.med(k, self.last, "used") is not None:
            L += ["", f"Cross-check after the last `mark-good`: `du` of the sysroot (hard links "
                  f"counted once) {sum(dus) / MiB:.1f} MiB, the file system's used space "
                  f"{self.r.med(k, self.last, 'used') / MiB:.1f} MiB."]
        L += ["", "Flash needed against the number of releases kept (ostree: `ostree.keep`; the "
              "peak is the largest during any update of the series, and the use after the last "
              "update is confirmed). Dual-bank keeps two; n slots would keep n. Single-copy "
              "keeps one (the root and the staging space).", "",
              "| releases kept | dual-bank, MiB | single-copy, MiB | ostree: peak during the series, "
              "MiB | ostree: after the last mark-good, MiB | objects only server: peak, MiB |",
              "|---|---|---|---|---|---|"]
        for kk in sorted(set(info["keeps"])):
            key = self.keep_key(kk)
            plain = rng(self.ostree_peak("updater_plain"), MiB) if kk == 2 else ""
            dbv = f"{kk * slot / MiB:.0f}" + ("" if kk == 2 else " (n slots: not what dual-bank does)" if kk > 2 else " (cannot update)")
            L.append(f"| {kk} | {dbv} | {singlecopy.kept_cell(self, kk)} | "
                     f"{rng(self.ostree_peak(key), MiB)} | {rng(self.after(key), MiB)} "
                     f"| {plain} |")
        L.append("")
        return L

    def download_table(self):
        s = self.b.s
        L = ["## Bytes downloaded per update", "",
             "MiB, from the test server's log.", "",
             "| update | dual-bank, `--full` | single-copy `stage` | dual-bank, dynamic delta "
             "(default) | dual-bank, static delta | SWUpdate .swu | RAUC bundle | ostree "
             "objects (updater) | ostree static delta (updater) | static delta on the server | "
             "`ostree pull`, objects only | `ostree pull`, with deltas |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
        prev = self.rel[0]["version"]
        for v in self.upd:
            dsz = s.deltas.get(f"{prev}-{v}")
            L.append(f"| to {v} | {rng(self.r.get('db_full', v, 'downloaded'), MiB, '{:.2f}')} | "
                     f"{singlecopy.download_cell(self, v)} | "
                     f"{rng(self.r.get('db', v, 'downloaded'), MiB, '{:.2f}')} | "
                     f"{rng(self.r.get('db_static', v, 'downloaded'), MiB, '{:.2f}')} | "
                     f"{rng(self.r.get('swupdate', v, 'downloaded'), MiB, '{:.2f}')} | "
                     f"{rng(self.r.get('rauc', v, 'downloaded'), MiB, '{:.2f}')} | "
                     f"{rng(self.r.get('updater_plain', v, 'downloaded'), MiB, '{:.2f}')} | "
                     f"{rng(self.r.get('updater_delta', v, 'downloaded'), MiB, '{:.2f}')} | "
                     f"{dsz / MiB:.2f} | "
                     f"{rng(self.r.get('cli_plain', v, 'downloaded'), MiB, '{:.2f}')} | "
                     f"{rng(self.r.get('cli_delta', v, 'downloaded'), MiB, '{:.2f}')} |")
            prev = v
        L.append("")
        return L

    def written_table(self):
        L = ["## Bytes written to the flash per update", "",
             "MiB, as `written (X cancelled) / device`: the installing process's `write_bytes` "
             "(median, min-max), the median of its `cancelled_write_bytes` (data written to files that were deleted or "
             "truncated before it reached the device: delta parts, staging files), and what "
             "reached the loop device(s). ostree's device figure includes ext4's journal and "
             "metadata; `mark-good` (the prune) is shown apart.", "",
             "| tool | " + " | ".join(f"to {v}" for v in self.upd) + " |",
             "|---|" + "---|" * len(self.upd)]
        for key in ("dd", "pipeline", "db_full", "db_norb", "db", "db_static", "sc_stage", "sc_apply",
                    "swupdate", "rauc", "updater_delta", "updater_plain", "cli_delta", "cli_plain"):
            if key not in self.r.res:
                continue
            cells = []
            for v in self.upd:
                w, d = self.r.get(key, v, "write_bytes"), self.r.get(key, v, "dev_bytes")
                c = med(self.r.get(key, v, "cancelled_write_bytes"))
                wc = (f"{rng(w, MiB)} ({c / MiB:.1f} cancelled)" if w and c
                      else rng(w, MiB) if w else "-")
                cells.append(wc + " / " + rng(d, MiB))
            L.append(f"| {LABEL[key]} | " + " | ".join(cells) + " |")
        cells = [rng(self.r.get("updater_delta", v, "mg_dev_bytes"), MiB) for v in self.upd]
        L.append("| updater, ostree: `mark-good` (prune), device only | " + " | ".join(cells) + " |")
        L.append("")
        return L

    def time_tables(self):
        L = ["## Install time and peak RSS", "",
             "Seconds, and peak RSS in MiB.", "",
             "| tool | " + " | ".join(f"to {v}: s" for v in self.upd) + " | " +
             " | ".join(f"to {v}: RSS" for v in self.upd) + " |",
             "|---|" + "---|" * (2 * len(self.upd))]
        for key in ("dd", "pipeline", "db_full", "db_norb", "db", "db_static", "sc_stage", "sc_apply",
                    "swupdate", "rauc", "updater_delta", "cli_delta", "updater_plain", "cli_plain"):
            if key not in self.r.res:
                continue
            t = [rng(self.r.get(key, v, "seconds"), 1, "{:.2f}") for v in self.upd]
            m = [rng(self.r.get(key, v, "rss_kib"), 1024, "{:.1f}") for v in self.upd]
            L.append(f"| {LABEL[key]} | " + " | ".join(t + m) + " |")
        L.append("")
        anon = [(key, [self.r.med(key, v, "rss_anon_kib") for v in self.upd])
                for key in ("db_full", "db", "db_static")]
        anon = [(k, xs) for k, xs in anon if all(x is not None for x in xs)]
        if anon:
            L += ["Of that, the dual-bank updater's anonymous memory (peak RssAnon, sampled every "
                  "10 ms; the rest is file-backed pages: the mapped active slot that a static "
                  "delta refers to, the program and its libraries), MiB: " + "; ".join(
                      f"{LABEL[k]}: " + ", ".join(f"to {v} {x / 1024:.1f}" for v, x in zip(self.upd, xs))
                      for k, xs in anon) + ".", ""]
        if "swupdate" in self.r.res:
            L += ["SWUpdate's time is to its exit; its raw handler does not fsync the slot, and it "
                  "polls for the end of the install once a second (docs/benchmark-dualbank.md). "
                  "To its \"SWUPDATE successful\" message plus an fsync of the slot: " + ", ".join(
                      f"{v}: {rng(self.r.get('swupdate', v, 'done'), 1, '{:.2f}')} s" for v in self.upd)
                  + ". RAUC's RSS is its service's VmHWM, which includes the mapped bundle.", ""]
        return L

    def ratio(self, a, b, v, metric):
        """Times: the ratio of the fastest third of the runs (bench/quiesce.py, best()); others: the medians'."""
        if metric == "seconds":
            xs, ys = self.r.get(a, v, metric), self.r.get(b, v, metric)
            x, y = (quiesce.best(xs) if xs else None), (quiesce.best(ys) if ys else None)
        else:
            x, y = self.r.med(a, v, metric), self.r.med(b, v, metric)
        return x / y if x is not None and y else None

    TIMED = (("db", "pipeline", "read-back on / pipeline"),
             ("db_norb", "pipeline", "read-back off / pipeline"),
             ("db", "db_full", "dynamic delta / --full"),
             ("db_static", "db_full", "static delta / --full"),
             ("updater_delta", "cli_delta", "ostree, static deltas / ostree command"),
             ("updater_plain", "cli_plain", "ostree, objects only / ostree command"))

    def time_ratios(self):
        """The time ratios the targets judge, by name: what two runs of the
        report on one machine must agree on (issue 13: within 10 %)."""
        out = {}
        for key, base, name in self.TIMED:
            for v in self.upd:
                q = self.ratio(key, base, v, "seconds")
                if q is not None:
                    out[f"{name} {v}"] = round(q, 4)
        return out

    def targets(self):
        ok = lambda c: "met" if c else "**NOT met**"
        L = ["## Targets", "", "Time ratios: the mean of the fastest third of the runs of each (bench/quiesce.py, best()); other "
             "ratios: of medians. Each update of the series.", ""]
        for key, lim, what in (("db", 2.0, "read-back on"), ("db_norb", 1.3, "read-back off")):
            parts = []
            for v in self.upd:
                q = self.ratio(key, "pipeline", v, "seconds")
                if q is not None:
                    parts.append(f"to {v}: {q:.2f} ({ok(q <= lim)})")
            L.append(f"- Dual-bank install time, {what}, <= {lim}x the bare `zstd -dc | dd "
                     f"iflag=fullblock conv=fsync` pipeline: " + "; ".join(parts) + ".")
        L.append("  On the 512 MiB image of [docs/benchmark-dualbank.md](benchmark-dualbank.md), "
                 "with SWUpdate and RAUC on the same image: " + dualbank_doc_ratios() + ".")
        L += self.delta_targets(ok)
        rs = {v: self.r.med("db", v, "rss_kib") for v in self.upd}
        small = min(self.rel[1:], key=lambda r: r["image_bytes"])["version"]
        big = max(self.rel[1:], key=lambda r: r["image_bytes"])["version"]
        if rs[small] and rs[big]:
            d = rs[big] - rs[small]
            L.append(f"- Peak RSS that does not grow with the image: dual-bank updater "
                     f"{rs[small]:.0f} KiB for the {self.size(small)} MiB image of {small}, "
                     f"{rs[big]:.0f} KiB for the {self.size(big)} MiB image of {big}: "
                     f"{d:+.0f} KiB (target: within 2048 KiB: {ok(abs(d) <= 2048)}); ostree updater "
                     + ", ".join(f"{v}: {self.r.med('updater_delta', v, 'rss_kib') or 0:.0f} KiB"
                                 for v in self.upd) + " with static deltas (libostree decompresses "
                     "a whole delta part in memory to apply it; parts are cut at `static-delta "
                     "generate --max-chunk-size`, 32 MiB uncompressed by default, so this is "
                     "bounded by the part size, not the image), "
                     + ", ".join(f"{v}: {self.r.med('updater_plain', v, 'rss_kib') or 0:.0f} KiB"
                                 for v in self.upd) + " with objects only.")
        for mode, name in (("delta", "static deltas"), ("plain", "objects only")):
            parts = []
            for v in self.upd:
                t = self.ratio(f"updater_{mode}", f"cli_{mode}", v, "seconds")
                m = self.ratio(f"updater_{mode}", f"cli_{mode}", v, "rss_kib")
                if t is not None and m is not None:
                    parts.append(f"to {v}: time {t:.2f} ({ok(t <= 1.05)}), RSS {m:.2f} ({ok(m <= 1.05)})")
            L.append(f"- ostree install time and peak RSS <= 1.05x the `ostree` command's "
                     f"(server with {name}; the updater with its read-back on, which reads and "
                     f"hashes the added objects again where the command does not): "
                     + "; ".join(parts) + ".")
        parts = []
        prev = self.rel[0]["version"]
        for v in self.upd:
            dsz = self.b.s.deltas.get(f"{prev}-{v}")
            got = self.r.med("updater_delta", v, "downloaded")
            cli = self.r.med("cli_delta", v, "downloaded")
            if dsz and got is not None:
                q = got / dsz
                parts.append(f"to {v}: {q:.3f} ({ok(q <= 1.1)}; `ostree pull` "
                             f"{(cli or 0) / dsz:.2f}x)")
            prev = v
        L.append("- Downloads within 1.1x of the static delta where the server has one (updater's "
                 "bytes over the delta's size on the server): " + "; ".join(parts) + ".")
        L.append("  [docs/benchmark-ostree.md](benchmark-ostree.md) measures the same targets on "
                 "one pair of releases (a feature release of real files, bench/ostree.py): "
                 + ostree_doc_targets())
        L.append("")
        return L

    def delta_targets(self, ok):
        """Issue 13's measures of done, from this run's dual-bank columns and
        bench/delta_baselines.py's figures for the same pairs."""
        pairs = {p["to"]: p for p in (self.info.get("delta") or {}).get("pairs", [])}
        L = []
        for key, what in (("db", "dynamic delta (the default install)"), ("db_static", "static delta")):
            parts = []
            for v in self.upd:
                q = self.ratio(key, "db_full", v, "seconds")
                if q is not None:
                    parts.append(f"to {v}: {q:.2f} ({ok(q <= 1.0)})")
            if parts:
                L.append(f"- Dual-bank {what}: install time <= `install --full`'s in the same run "
                         "(read-back on, the fastest third of the runs): " + "; ".join(parts) + ".")
        dyn, sta = [], []
        for v in self.upd:
            p, got, gs = (pairs.get(v), self.r.med("db", v, "downloaded"),
                          self.r.med("db_static", v, "downloaded"))
            if p and got is not None:
                lim = delta_baselines.dyn_target(p)
                dyn.append(f"to {v}: {got / MiB:.2f} MiB, limit {lim / MiB:.2f} ({ok(got <= lim)})")
            if p and gs is not None:
                osd = p.get("ostree_static_delta")
                sta.append(f"to {v}: {gs / MiB:.2f} MiB, {gs / p['patch_from']:.2f}x `zstd "
                           f"--patch-from` ({ok(gs <= p['patch_from'])})"
                           + (f", {gs / osd:.2f}x the ostree static delta" if osd else ""))
        if dyn:
            L.append("- Dual-bank dynamic delta: bytes downloaded <= 1.1x the plain ostree object "
                     "pull and <= 0.75x zchunk's `zck_delta_size` (the smaller; Dual-bank delta "
                     "section below): " + "; ".join(dyn) + ".")
        if sta:
            L.append("- Dual-bank static delta: bytes downloaded (the delta file and the full "
                     "bundle's head) <= `zstd -19 --long=31 --patch-from` of the raw images; "
                     "aim within 1.5x the ostree static delta: " + "; ".join(sta) + ".")
        L.append(rauc_adaptive_line())
        return L

    def size(self, v):
        return f"{next(r['image_bytes'] for r in self.rel if r['version'] == v) / MiB:.0f}"

    def notes(self):
        L = ["## Notes", ""]
        for tool, why in self.b.errors.items():
            head = str(why).strip().splitlines()
            L.append(f"- {tool}: not measured (or not in every run): "
                     + (head[0] if head else "?") + (" ..." if len(head) > 1 else ""))
        L += ["- The loop devices are backed by files on the build machine's disk, through its "
              "page cache: absolute times are those of that disk, not of an eMMC; the ratios "
              "between tools on the same device are the point.",
              "- The ostree peak is sampled every 10 ms: a shorter peak can be missed (the "
              "delta parts exist for the whole time they are applied, so they are seen).",
              "- libostree refuses a pull that would leave less than the repository's "
              "`min-free-space-percent` (3 % by default) free, one more reason for the headroom "
              "on the ostree partition.",
              "- The updater's ostree install time includes its fetch of the commit object, the GPG "
              "check, the fsck of the new objects and two boot-state writes; the `ostree` "
              "command's includes the prune that `ostree admin deploy` runs (the updater prunes at "
              "`mark-good`, shown apart under \"Bytes written\").",
              "- The dual-bank figures count the slot only, single-copy's its root and the data "
              "partition (state_dir); every backend also keeps a few KiB of state (state_dir) and "
              "the U-Boot environment, left out of dual-bank's and ostree's.", ""]
        return L

    # --- plots -----------------------------------------------------------------------------

    def plots(self):
        if not shutil.which("gnuplot"):
            return
        tmp = tempfile.mkdtemp()
        try:
            self._plot_flash(tmp)
            self._plot_bars(tmp, "download", "Bytes downloaded per update (log scale)", "MiB",
                            [("dual-bank bundle", "db", "downloaded"),
                             ("ostree objects (updater)", "updater_plain", "downloaded"),
                             ("ostree static delta (updater)", "updater_delta", "downloaded"),
                             ("ostree pull with deltas (CLI)", "cli_delta", "downloaded")], log=True)
            self._plot_bars(tmp, "written", "Bytes written to the flash device per update (log scale)",
                            "MiB", [("dual-bank updater", "db", "dev_bytes"),
                                    ("single-copy apply-staged (root)", "sc_apply", "dev_bytes"),
                                    ("dd raw image", "dd", "dev_bytes"),
                                    ("ostree updater, deltas", "updater_delta", "dev_bytes"),
                                    ("ostree pull + deploy, deltas", "cli_delta", "dev_bytes")],
                            log=True)
            self._plot_bars(tmp, "time", "Install time per update", "seconds",
                            [("dual-bank updater", "db", "seconds"),
                             ("single-copy apply-staged (at boot)", "sc_apply", "seconds"),
                             ("zstd | dd pipeline", "pipeline", "seconds"),
                             ("ostree updater, deltas", "updater_delta", "seconds"),
                             ("ostree pull + deploy, deltas", "cli_delta", "seconds")], scale=1)
        finally:
            shutil.rmtree(tmp)

    def _gnuplot(self, script):
        r = subprocess.run(["gnuplot"], input=script, capture_output=True, text=True)
        if r.returncode != 0:
            print(f"bench report: gnuplot failed: {r.stderr}")

    @staticmethod
    def _term(name):
        out = os.path.join(DOCS, f"benchmark-{name}.png")
        return (f"set terminal pngcairo size 900,520 font 'sans,10'\nset output '{out}'\n"
                "set grid ytics\nset key top left\n")

    def _plot_flash(self, tmp):
        slot = self.info["slot_size"]
        data = os.path.join(tmp, "flash.dat")
        with open(data, "w") as f:
            for k in sorted(set(self.info["keeps"])):
                key = self.keep_key(k)
                p, a = self.ostree_peak(key), self.after(key)
                if not p:
                    continue
                f.write(f"{k} {med(p) / MiB:.2f} {min(p) / MiB:.2f} {max(p) / MiB:.2f} "
                        f"{med(a) / MiB:.2f} {min(a) / MiB:.2f} {max(a) / MiB:.2f}\n")
        kmax = max(max(self.info["keeps"]), 2)
        dbd = os.path.join(tmp, "db.dat")
        with open(dbd, "w") as f:
            for k in range(2, kmax + 1):
                f.write(f"{k} {k * slot / MiB:.2f}\n")
        scd = os.path.join(tmp, "sc.dat")
        with open(scd, "w") as f:
            f.write(f"1 {singlecopy.need(self)[2] / MiB:.2f}\n")
        self._gnuplot(self._term("flash") + f"""
set title 'Flash needed vs releases kept (series {self.rel[0]['version']}-{self.last}; median, min-max of {self.info['runs']} runs)'
set xlabel 'releases kept on the device (ostree: ostree.keep)'
set ylabel 'MiB'
set xrange [0.5:{kmax + 0.5}]
set xtics 1
set yrange [0:*]
plot '{dbd}' using 1:2 with linespoints lw 2 pt 5 dt 2 title 'dual-bank: slots x (largest image + {self.info['headroom'] * 100:.0f}%) (2 = A/B)', \\
     '{data}' using 1:2:3:4 with yerrorlines lw 2 pt 7 title 'ostree: peak during an update', \\
     '{data}' using 1:5:6:7 with yerrorlines lw 2 pt 9 title 'ostree: after the last update is confirmed and pruned', \\
     '{scd}' using 1:2 with points pt 13 ps 2 title 'single-copy: root + staged bundle (keeps one)'
""")

    def _plot_bars(self, tmp, name, title, unit, series, log=False, scale=MiB):
        data = os.path.join(tmp, name + ".dat")
        used = []
        with open(data, "w") as f:
            for v in self.upd:
                row = [f'"to {v}"']
                for _, key, metric in series:
                    xs = self.r.get(key, v, metric)
                    if xs:
                        row += [f"{med(xs) / scale:.4f}", f"{min(xs) / scale:.4f}",
                                f"{max(xs) / scale:.4f}"]
                    else:
                        row += ["NaN", "NaN", "NaN"]
                f.write(" ".join(row) + "\n")
        cols = []
        for i, (label, _, _) in enumerate(series):
            c = 2 + 3 * i
            first = f"'{data}'" if i == 0 else "''"
            xt = ":xtic(1)" if i == 0 else ""
            cols.append(f"{first} using {c}:{c + 1}:{c + 2}{xt} title '{label}'")
        self._gnuplot(self._term(name) + f"""
set title '{title}; median, min-max of {self.info['runs']} runs'
set ylabel '{unit}'
set style data histogram
set style histogram errorbars gap 2 lw 1
set style fill solid 0.7 border -1
set key top left
{'set logscale y' if log else 'set yrange [0:*]'}
plot {', '.join(cols)}
""")


OSTREE_PART_TEXT = "2 GiB, sparse"


def write(bench, info):
    Writer(bench, info).write()

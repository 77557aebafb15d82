"""Single-copy (docs/singlecopy.md), the third strategy of the release-series
report (bench/report.py), on the same series and in the same run.

The device: one root partition on a loop device the size of a dual-bank slot,
holding 1.0, and a data partition (ext4 on a loop device) holding state_dir,
where `updater stage` keeps the bundle until `mark-good`. Per update:
`updater stage URL` (the running system's part: download, verify, keep the
bundle) and `updater apply-staged` (the ramdisk's part at boot: the root
rewritten from the kept bundle and read back) timed apart, with the harness of
the dual-bank runs; then the trial boot as tests/lib/singlecopy.sh's sc_boot
plays U-Boot (bootcount+1 with fw_setenv) and `updater mark-good`.

Also the report's single-copy text and cells (bench/report_write.py calls
them). Stdlib only.
"""
import json
import os
import shutil

import flash
import quiesce
import report_write as rw      # for rng()/med(); used at call time only (it imports us)
import series as series_mod
from flash import measure

DATA_PART = 512 << 20     # the data partition (sparse; what is used is measured)
MiB = 1048576.0
SC_LIBS = ("tests/lib/common.sh", "tests/lib/singlecopy.sh")


# --- measuring --------------------------------------------------------------------------

def run(b, work, updater):
    """One pass over the series on a fresh device (b: report.Bench)."""
    root = b.loop("sc-root", b.slot_size)
    data = b.loop("sc-data", DATA_PART, mount=True)
    d = os.path.join(work, "sc-device")
    try:
        conf = _device(b, d, root, data, updater)
        b.r.add("sc_stage", b.rel[0]["version"], used=data.used() - data.empty_used)
        for r in b.rel[1:]:
            _update(b, d, conf, r, root, data, updater)
    finally:
        b.drop(root)
        b.drop(data)
        shutil.rmtree(d, ignore_errors=True)


def _device(b, d, root, data, updater):
    shutil.rmtree(d, ignore_errors=True)
    for sub in ("env", "keys", "etc", "hooks"):
        os.makedirs(os.path.join(d, sub), 0o755)
    state = os.path.join(data.mount, "updater")
    os.mkdir(state, 0o755)          # the updater never creates state_dir
    flash.run(["dd", f"if={b.rel[0]['image']}", f"of={root.dev}", "bs=1M", "conv=fsync",
               "status=none"])
    with open(f"{d}/env/uboot.env", "wb") as f:
        f.truncate(32768)
    open(f"{d}/env/defaults", "w").close()
    with open(f"{d}/env/fw_env.config", "w") as f:
        f.write(f"{d}/env/uboot.env 0x0 0x4000\n{d}/env/uboot.env 0x4000 0x4000\n")
    shutil.copy(b.s.key[:-4] + ".pub.pem", f"{d}/keys/release.pub.pem")
    with open(f"{d}/cmdline", "w") as f:
        f.write("root=/dev/vda2 ro updater.slot=root\n")
    _os_release(d, root)
    conf = f"{d}/updater.conf"
    # The keys and config are off the root, as the ramdisk's updater needs them.
    with open(conf, "w") as f:
        f.write(f"""backend = "singlecopy";
compatible = "{series_mod.COMPATIBLE}";
state_dir = "{state}";
cmdline = "cmdline";
version_file = "etc/os-release";
server = {{ timeout = 10; retries = 2; }};
bootenv = {{ fw_env_config = "env/fw_env.config"; bootlimit = 3; }};
singlecopy = {{ root = "{root.dev}"; public_key = "keys/release.pub.pem"; }};
hooks = {{ dir = "hooks"; timeout = 10; }};
""")
    flash.run([updater, f"--config={conf}", "-q", "init"])
    return conf


def _os_release(d, root):
    # The running system's /etc/os-release (version_file), read from the root
    # as tools/updater-sim does for a booted slot.
    with open(f"{d}/etc/os-release", "w") as f:
        f.write(flash.run(["debugfs", "-R", "cat /etc/os-release", root.dev]))


def _settled(b, source):
    """Before each timed run, as the dual-bank runs: nothing left dirty, then
    the command's source in the page cache."""
    b.states.append(quiesce.settle())
    quiesce.warm(source)


def _update(b, d, conf, r, root, data, updater):
    v = r["version"]
    upd = [updater, f"--config={conf}", "-q", "--progress=none"]
    _settled(b, r["bundle"])
    b.httplog.mark()
    m = measure(upd + ["stage", f"{b.url}/bundles/{v}.upd"], loops=[data], fs=data)
    got, reqs = b.httplog.since()
    b.r.add("sc_stage", v, downloaded=got, requests=reqs, used=data.used() - data.empty_used,
            **b._m(m))
    # The ramdisk's part. Its writes to the data partition (state, marker)
    # are counted apart from the root's.
    _settled(b, os.path.join(data.mount, "updater", "singlecopy.bundle"))
    data.sync()
    before = data.sectors_written()
    m = measure(upd + ["apply-staged"], loops=[root])
    data.sync()
    b.r.add("sc_apply", v, data_dev_bytes=(data.sectors_written() - before) * 512, **b._m(m))
    booted = series_mod.sh(" ".join(f'. "{series_mod.TOP}/{l}";' for l in SC_LIBS)
                           + f' sc_boot "{d}"', capture=True)
    if booted != "root":
        raise flash.BenchError(f"single-copy: booted {booted!r} after apply-staged of {v}")
    _os_release(d, root)
    mg = measure(upd + ["mark-good"], loops=[data], fs=data)
    b.r.add("sc_markgood", v, seconds=mg["seconds"], dev_bytes=mg["dev_bytes"],
            used=data.used() - data.empty_used)
    st = json.loads(flash.run(upd + ["status", "--json"]))
    if st.get("state") != "committed" or st.get("booted", {}).get("version") != v:
        raise flash.BenchError(f"single-copy: after mark-good of {v}: {st}")


# --- the report (w: report_write.Writer) ------------------------------------------------

def need(w):
    """(root, staging, total) bytes: one root the size of a dual-bank slot,
    and room on the data partition for the largest bundle of the series,
    which `stage` keeps there until `mark-good`."""
    root = w.info["slot_size"]
    big = max(w.rel[1:], key=lambda r: os.path.getsize(r["bundle"]))
    staging = -(-os.path.getsize(big["bundle"]) // 1048576) * 1048576
    return root, staging, root + staging, big["version"]


def answer(w, db_need):
    """The bullet of "How much flash do I need for N updates"."""
    root, staging, total, big = need(w)
    used = [w.r.med("sc_stage", v, "used") for v in w.upd]
    seen = max((u for u in used if u is not None), default=None)
    return [f"- **Single-copy** ([docs/singlecopy.md](singlecopy.md)): one root partition the "
            f"size of a dual-bank slot, {root / MiB:.0f} MiB, plus room on the data partition for "
            f"the bundle `updater stage` keeps there until `mark-good`, the largest of the series "
            f"({big}): {staging / MiB:.0f} MiB; **{total / MiB:.0f} MiB** in all, whatever N is, "
            f"{total / db_need * 100:.0f} % of what dual-bank needs"
            + (f" (the data partition held at most {seen / MiB:.1f} MiB above its empty file "
               "system after a `stage`)" if seen else "")
            + ". The staged bundle grows with the releases as the image does: give that space "
            "the slots' headroom too. It keeps one release and no fallback (below, \"Single-copy: "
            "the downtime, and what is lost\"). Every update downloads the whole bundle ("
            + ", ".join(f"{rw.rng(w.r.get('sc_stage', v, 'downloaded'), MiB)} MiB to {v}"
                        for v in w.upd)
            + "), writes it once to the data partition, and at boot rewrites the root from it: "
            + ", ".join(f"{rw.rng(w.r.get('sc_apply', v, 'dev_bytes'), MiB, '{:.0f}')} MiB "
                        f"written to the root for {v}" for v in w.upd) + "."]


def method(w):
    root, _, _, _ = need(w)
    return (f"- **Single-copy**: the root is a loop device of {root / MiB:.0f} MiB (a dual-bank "
            f"slot's size) holding 1.0, the data partition an ext4 file system on a loop device "
            f"({DATA_PART >> 20} MiB, sparse) holding state_dir; the config says `backend = "
            "\"singlecopy\"` and `singlecopy = { root = ...; public_key = ...; }`, the keys and "
            "config off the root, and `updater init` starts it. For each update: `updater stage "
            "URL/bundles/V.upd` (the running system's part: download, verify, keep the bundle in "
            "state_dir; its writes counted on the data partition, whose used space is sampled as "
            "ostree's), then `updater apply-staged` (the ramdisk's part at boot: the root rewritten "
            "from the kept bundle and read back; its writes counted on the root), each timed "
            "after the same settle as the dual-bank runs with its source in the page cache (the "
            "bundle on the server, then the kept bundle); then the trial boot as "
            "tests/lib/singlecopy.sh's `sc_boot` plays U-Boot (bootcount+1 with fw_setenv) and "
            "`updater mark-good`, which removes the kept bundle. The root is never restored: it "
            "holds the release before, as on the device (apply-staged skips the blocks already "
            "equal; a dual-bank slot holds the release before that).")


def flash_cell(w, v=None):
    """The "Flash needed" table: the root and, after `stage`, the data
    partition's use (the kept bundle)."""
    root = w.info["slot_size"]
    if v is None:
        return f"{root / MiB:.0f}"
    return f"{root / MiB:.0f} + {rw.rng(w.r.get('sc_stage', v, 'used'), MiB)}"


def kept_cell(w, k):
    return f"{need(w)[2] / MiB:.0f} (root + staging)" if k == 1 else ""


def download_cell(w, v):
    return rw.rng(w.r.get("sc_stage", v, "downloaded"), MiB, "{:.2f}")


def section(w):
    """The downtime, against baselines of the same run, and a pointer to what
    is lost (docs/singlecopy.md says it; not repeated here)."""
    if "sc_apply" not in w.r.res:
        return []
    best = lambda k, v: f"{quiesce.best(w.r.get(k, v, 'seconds')):.2f} s"
    ratios = lambda b: ", ".join(f"{w.ratio('sc_apply', b, v, 'seconds') or 0:.2f}x" for v in w.upd)
    return ["## Single-copy: the downtime, and what is lost", "",
            "Single-copy downloads the whole bundle, as dual-bank's `--full` does, and writes it "
            "twice: whole to the data partition while the system runs (`stage`: "
            + ", ".join(f"{best('sc_stage', v)} to {v}" for v in w.upd) + "), then its image to "
            "the root in the ramdisk at boot, before the root is mounted (`apply-staged`). The "
            "device does nothing else during the apply: "
            + ", ".join(f"{best('sc_apply', v)} to {v}" for v in w.upd) + " here, "
            f"{ratios('pipeline')} the bare `zstd -dc | dd iflag=fullblock conv=fsync` pipeline's "
            f"time for the same image (which neither verifies nor reads back) and {ratios('db_full')} dual-bank "
            "`install --full`'s, which writes the image while the system runs (each the fastest of "
            "this report's runs; the root holds the release before, the dual-bank slot the one before "
            "that). "
            "An update boots twice (into the ramdisk, then, after the activation, into the new "
            "root on trial) where dual-bank reboots once.", "",
            "What is lost against dual-bank: there is no fallback to an older system (a release "
            "that does not confirm itself leaves the device in recovery mode until another is "
            "installed), the downtime above, full images only, and the staging space: "
            "[docs/singlecopy.md, \"What is lost against dual-bank\"]"
            "(singlecopy.md#what-is-lost-against-dual-bank).", ""]

#!/usr/bin/env python3
"""Real boots under QEMU: U-Boot (boot/boot.cmd) -> Debian kernel -> the project's
ramdisk -> a root file system with the updater, whose init (tests/qemu/guest-init)
runs one step per boot. The scenarios (docs/boot.md):

  update     v1 installs v2 from the update disk, v2 boots on trial, mark-good,
             v2 boots committed (ostree: first v1 refuses v2 signed with a key
             it does not trust, exit 3, and boots v1 again)
  rollback   v2 whose init dies before mark-good: after bootlimit trial boots
             U-Boot boots v1 again, the updater reports rolled-back with v2's
             system recorded bad, v1 stays
  environment (dual-bank) a damaged newer environment copy, then none: U-Boot
             falls back, `updater status` still works (boot_env null), init repairs
  power-cut  QEMU killed at >= 10 moments of `updater install` (download, write,
             activation); every next boot reaches a complete v1 or v2: v2 on
             trial, the system installed, when `activated` had been reported
             before the cut, v1 (the same slot or deployment) when not even
             `post-install` had; and a repeated install (or v2's mark-good)
             then succeeds
  ostree-staged-apply  v1 stages v2 (`updater stage`); at the next boot U-Boot
             passes updater.apply_staged=1, the ramdisk runs the deployment's
             `updater apply-staged` and reboots; v2 boots on trial, mark-good.
             Boots with nothing staged run no apply-staged. A staged commit
             whose ref was removed: apply-staged exits 3, v1 boots on, failed
  save-cut   QEMU killed while U-Boot's script saves a trial boot's count: the
             disk keeps the old count or the new one, the next boot counts on
             from it (dual-bank only: the script's code is the same for both)

Every `updater status --json` the guest runs must exit 0 and print JSON.
One line per scenario, "PASS: name (time)" or "FAIL: name (time): why", then
"N passed, N failed". Logs of every boot stay in DIR/runs/.
"""
import argparse
import concurrent.futures
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import simtwin  # noqa: E402
import singlecopy  # noqa: E402
import vm  # noqa: E402


class Fail(Exception):
    pass


class Infra(Exception):
    """The boot never reached the script twice: not a product failure."""


class Device:
    """One disk (a copy of the factory disk) booted again and again."""

    def __init__(self, top, name, factory, twin_of=None):
        self.top = top
        self.dir = os.path.join(top, name)
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        self.disk = os.path.join(self.dir, "disk.img")
        subprocess.run(["cp", "--sparse=always", factory, self.disk], check=True)
        self.n = 0
        self.boots = []
        # twin_of: the QEMU build directory, whose images an updater-sim twin uses
        self.twin = simtwin.SimTwin(PROJECT, twin_of, os.path.join(self.dir, "twin")) if twin_of else None

    def update_disk(self, bundle, actions, label=None):
        """The second disk: the bundle as update.upd, and the steps for this boot;
        label: its file system's label (UPDATER: a recovery medium)."""
        key = os.path.basename(bundle) + "-" + "_".join(a.replace(":", "-") for a in actions) + \
            ("-" + label if label else "")
        img = os.path.join(self.top, "updisk-" + key + ".img")
        with LOCK:
            if not os.path.exists(img):
                tree = img + ".d"
                shutil.rmtree(tree, ignore_errors=True)
                os.makedirs(tree)
                if os.path.isdir(bundle):  # an ostree repository (a medium's: under ostree/)
                    dest = os.path.join(tree, "ostree") if label else tree
                    os.makedirs(dest, exist_ok=True)
                    subprocess.run(["cp", "-al", os.path.join(bundle, "repo"), dest], check=True)
                else:
                    os.link(bundle, os.path.join(tree, "update.upd"))
                with open(os.path.join(tree, "action"), "w") as f:
                    f.write(" ".join(actions) + "\n")
                size_mb = du_mb(bundle) + 8
                subprocess.run(["mkfs.ext4", "-q", "-F"] + (["-L", label] if label else []) +
                               ["-d", tree, img + ".tmp", f"{size_mb}M"],
                               check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                os.rename(img + ".tmp", img)
                shutil.rmtree(tree)
        return img

    def boot(self, bundle, actions, kill_at=None, timeout=150, label=None):
        upd = self.update_disk(bundle, actions, label)
        for attempt in (1, 2):
            self.n += 1
            log = os.path.join(self.dir, f"boot{self.n:02d}.log")
            pred = self.twin.predict(self.disk) if self.twin and kill_at is None else None
            b = vm.boot(self.disk, log, update_disk=upd, kill_at=kill_at, timeout=timeout)
            b.log = log
            if not b.no_script:
                break
            print(f"  note: {self.dir}: boot {self.n}: the script never started: retrying once",
                  flush=True)
            if attempt == 2:
                raise Infra(f"{log}: U-Boot never ran the boot script, twice")
        self.boots.append(b)
        with LOCK:
            ALL_BOOTS.append(b)
        if b.timed_out:
            raise Fail(f"{b.log}: boot did not end within {timeout}s")
        if pred:
            try:
                simtwin.compare(pred, b)
            except simtwin.Mismatch as e:
                raise Fail(f"{b.log}: updater-sim's reboot disagrees with boot.cmd: {e}")
            with LOCK:
                TWIN_BOOTS.append(b.log)
        return b


LOCK = threading.Lock()
TWIN_BOOTS = []  # boots whose U-Boot side updater-sim predicted (simtwin.py)
PROJECT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def du_mb(path):
    out = subprocess.run(["du", "-smL", path], check=True, capture_output=True, text=True).stdout
    return int(out.split()[0])
ALL_BOOTS = []


def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2] if xs else None


def boot_times(boots):
    """Medians over the boots that reached the root file system: host seconds
    from QEMU's start to U-Boot's script and to the kernel, kernel seconds
    (printk.time) to the ramdisk's /init and to its switch_root."""
    rows = {"uboot_to_script": [], "uboot_to_kernel": [], "kernel_to_init": [],
            "init_to_switch_root": [], "kernel_to_switch_root": [], "qemu_to_guest_up": []}
    for b in boots:
        if b.killed or not b.find("guest: up "):
            continue
        def uptime(prefix):
            for t in b.find("ramdisk: ["):
                if prefix in t:
                    return float(t.split("[")[1].split("]")[0])
            return None
        init, sw = uptime("] start;"), uptime("] switch_root")
        if init is None or sw is None:
            continue
        rows["uboot_to_script"].append(b.first_time("bootscript: start"))
        rows["uboot_to_kernel"].append(b.first_time("Starting kernel"))
        rows["kernel_to_init"].append(init)
        rows["init_to_switch_root"].append(sw - init)
        rows["kernel_to_switch_root"].append(sw)
        rows["qemu_to_guest_up"].append(b.first_time("guest: up "))
    out = {k: median(v) for k, v in rows.items()}
    out["boots"] = len(rows["kernel_to_init"])
    return out


def up(b):
    """(version, slot) the guest booted, or None."""
    lines = b.find("guest: up ")
    if not lines:
        return None
    kv = dict(x.split("=", 1) for x in lines[0].split()[2:] if "=" in x)
    return kv.get("version"), kv.get("slot")


def statuses(b):
    """Every `updater status --json` of the boot, parsed. A status that exited
    non-zero, printed nothing or printed no JSON fails the scenario: docs/cli.md
    promises a status (with "boot_env": null when the environment is unreadable)."""
    out = []
    # the last line of a killed boot may be cut off mid-line: it is not judged
    cut_off = b.lines[-1][1] if b.killed and b.lines else None
    for line in b.find("guest: status "):
        payload = line[len("guest: status "):].strip()
        if payload.startswith("failed:"):  # guest-init: non-zero exit or no output
            raise Fail(f"{b.log}: `updater status --json` {payload}")
        try:
            out.append(json.loads(payload))
        except json.JSONDecodeError as ex:
            if line is cut_off:
                continue
            raise Fail(f"{b.log}: status is not JSON ({ex}): {line}")
    return out


def rc_of(b, what):
    lines = b.find(f"guest: {what} rc=")
    if not lines:
        return None
    return int(lines[-1].split("rc=")[1].split()[0])


def expect(cond, b, msg):
    if not cond:
        raise Fail(f"{getattr(b, 'log', '?')}: {msg}")


def booted_id(b):
    """The updater's id of the booted system (slot or deployment), from the first status."""
    st = statuses(b)
    expect(st and st[0].get("booted"), b, f"no status with a booted system: {st[:1]}")
    return st[0]["booted"]["slot"]


def expect_up(b, version, ident=None):
    """v`version` booted, and (when known) it is the system `ident` (A, B or a deployment id)."""
    got = up(b)
    expect(got and got[0] == version, b, f"expected v{version} to boot, got {got}")
    if ident:
        expect(booted_id(b) == ident, b, f"expected {ident} to boot, got {booted_id(b)}")


def env_of(st):
    e = st.get("boot_env") or {}
    return (e.get("boot_slot"), e.get("upgrade_available"), e.get("bootcount"), e.get("rollback"))


class Backend:
    """What differs between the two backends' scenarios."""

    def __init__(self, name, top):
        self.name = name
        self.top = top
        self.runs = os.path.join(top, "runs", name)
        if name == "dualbank":
            self.disk, self.v2, self.v2bad = f"{top}/disk.img", f"{top}/v2.0.upd", f"{top}/v2.0-broken.upd"
            self.v2badsig = None  # bundle signatures: the integration tests (t_bad_bundles.sh)
            self.old_id = "A"
        else:
            self.disk = f"{top}/ostree/disk.img"
            self.v2, self.v2bad = f"{top}/ostree/update-2.0", f"{top}/ostree/update-2.0-broken"
            self.v2badsig = f"{top}/ostree/update-2.0-badsig"  # v2 signed by an untrusted key
            self.old_id = None  # a deployment id, learnt at the first boot

    def device(self, name):
        # dual-bank, the scenarios whose every boot runs whole: updater-sim's
        # twin predicts each boot's U-Boot side (simtwin.py)
        twin = self.name == "dualbank" and name in ("update", "rollback", "env")
        return Device(self.runs, name, self.disk, twin_of=self.top if twin else None)


def install_v2(be, d, src):
    """Boot v1, install src: returns (old id, new id)."""
    b = d.boot(src, ["install"])
    expect_up(b, "1.0", be.old_id)
    old = booted_id(b)
    expect(rc_of(b, "install") == 0, b, f"install rc={rc_of(b, 'install')}")
    st = statuses(b)[-1]
    new = (st.get("pending") or {}).get("slot")
    expect(st["state"] == "activated" and new and new != old, b, f"after install: {st}")
    expect(env_of(st) == (new, 1, 0, 0), b, f"boot state after install: {st['boot_env']}")
    return b, old, new


# --- scenarios ---------------------------------------------------------------------

def refuse_badsig(be, d):
    """v1 is offered v2 signed with a key the device does not trust: `updater
    install` exits 3 (verification, docs/cli.md), nothing is activated."""
    b = d.boot(be.v2badsig, ["install"])
    expect_up(b, "1.0", be.old_id)
    old = booted_id(b)
    expect(rc_of(b, "install") == 3, b, f"install of a badly signed commit: rc={rc_of(b, 'install')}, not 3")
    expect(any("public key not found" in t for _, t in b.lines), b,
           "no 'public key not found' from the signature check")
    st = statuses(b)[-1]
    expect(not st.get("pending") and env_of(st) == (old, 0, 0, 0), b, f"after the refused install: {st}")
    return old


def scenario_update(be, timing):
    d = be.device("update")
    first = refuse_badsig(be, d) if be.v2badsig else None
    b, old, new = install_v2(be, d, be.v2)
    expect(first in (None, old), b, f"after the refused install {old} booted, not {first}")
    t0 = b.first_time("guest: install start")
    timing[be.name + ".install_s"] = b.first_time("guest: install rc=") - t0
    for st in ("verify", "install", "post-install", "activated"):
        t = b.first_time(f"-> {st}")
        timing[f"{be.name}.install.{st}_s"] = t - t0 if t else None

    b = d.boot(be.v2, ["mark-good"])
    expect(b.find("bootscript: trial boot 1 of 3"), b, "U-Boot did not count trial boot 1")
    expect_up(b, "2.0", new)
    st = statuses(b)
    expect(st[0]["state"] == "trial" and env_of(st[0]) == (new, 1, 1, 0), b, f"on trial: {st[0]}")
    expect(rc_of(b, "mark-good") == 0, b, "mark-good failed")
    expect(st[-1]["state"] == "committed" and env_of(st[-1]) == (new, 0, 0, 0), b,
           f"after mark-good: {st[-1]}")

    b = d.boot(be.v2, ["status"])
    expect_up(b, "2.0", new)
    expect(not b.find("bootscript: saved"), b, "a normal boot wrote the environment")
    st = statuses(b)[-1]
    expect(st["state"] == "committed" and not st["trial"] and env_of(st) == (new, 0, 0, 0), b,
           f"committed boot: {st}")


def ramdisk_applied(b):
    """The ramdisk's apply-staged lines of the boot."""
    return [t for t in b.find("ramdisk: [") if "apply-staged" in t or "apply_staged=1:" in t]


def staged(be, d, actions):
    """Boot v1 and stage v2 (then the further actions): returns v1's id."""
    b = d.boot(be.v2, ["stage"] + actions)
    expect_up(b, "1.0", be.old_id)
    old = booted_id(b)
    expect(not ramdisk_applied(b) and not b.find("bootscript: apply_staged=1"), b,
           f"nothing staged, yet: {ramdisk_applied(b)}")
    expect(rc_of(b, "stage") == 0, b, f"stage rc={rc_of(b, 'stage')}")
    st = statuses(b)[-1]
    expect(st["state"] == "staged" and (st.get("staged") or {}).get("version") == "2.0" and
           env_of(st) == (old, 0, 0, 0) and st["boot_env"].get("apply_staged") == 1, b,
           f"after stage: {st}")
    return old


def staged_apply_refused(be):
    """The staged commit's ref is gone: apply-staged refuses (exit 3), the
    ramdisk boots v1 on, the state says failed, the request is withdrawn."""
    d = be.device("staged-apply-refused")
    old = staged(be, d, ["break-staged"])
    b = d.boot(be.v2, ["status"])
    expect(any("failed (exit 3): booting the current deployment" in t for t in ramdisk_applied(b)), b,
           f"the ramdisk did not report apply-staged's refusal: {ramdisk_applied(b)}")
    expect_up(b, "1.0", old)
    st = statuses(b)[-1]
    expect(st["state"] == "failed" and not st.get("staged") and env_of(st) == (old, 0, 0, 0) and
           st["boot_env"].get("apply_staged") == 0, b, f"after the refused apply: {st}")


def rebooted_into_new(b, lines, old, start, key, timing):
    """The ramdisk deployed a new deployment (returned) and rebooted into it
    (lines: its lines of the step) without the guest coming up; timing[key]:
    from the step's start line to the reboot line."""
    expect(any("new boot entries: rebooting into the update" in t for t in lines), b,
           f"the ramdisk did not reboot into the update: {lines}")
    expect(not up(b), b, f"the guest came up instead of the reboot: {up(b)}")
    new = deployed_id(b)
    expect(new and new != old, b, f"the ramdisk deployed {new} (running {old})")
    timing[key] = b.first_time("rebooting into the update") - b.first_time(start)
    return new


def scenario_staged_apply(be, timing):
    d = be.device("staged-apply")
    old = staged(be, d, [])
    b = d.boot(be.v2, ["status"], timeout=300)  # the ramdisk applies, then reboots
    expect(b.find("bootscript: apply_staged=1"), b, "U-Boot did not pass updater.apply_staged=1")
    lines = ramdisk_applied(b)
    expect(any("running the deployment's updater apply-staged" in t for t in lines), b,
           f"the ramdisk did not run apply-staged: {lines}")
    new = rebooted_into_new(b, lines, old, "running the deployment's updater apply-staged",
                            be.name + ".apply_staged_s", timing)

    b = d.boot(be.v2, ["mark-good"])
    expect(b.find("bootscript: trial boot 1 of 3"), b, "U-Boot did not count trial boot 1")
    expect(not ramdisk_applied(b), b, f"apply-staged ran again: {ramdisk_applied(b)}")
    expect_up(b, "2.0", new)
    st = statuses(b)
    expect(st[0]["state"] == "trial" and env_of(st[0]) == (new, 1, 1, 0) and
           not st[0].get("staged") and st[0]["boot_env"].get("apply_staged") == 0, b,
           f"on trial: {st[0]}")
    expect(rc_of(b, "mark-good") == 0, b, "mark-good failed")
    expect(st[-1]["state"] == "committed" and env_of(st[-1]) == (new, 0, 0, 0), b,
           f"after mark-good: {st[-1]}")
    staged_apply_refused(be)


def medium_lines(b):
    """The ramdisk's lines about the UPDATER medium."""
    return [t for t in b.find("ramdisk: [") if "UPDATER medium" in t]


def scenario_recovery_media(be, timing):
    """ostree from a medium: the factory deployment's kargs carry
    updater.recovery=1, so the ramdisk installs the configured ref from a
    file system labelled UPDATER (ostree/repo). An untrusted medium is refused
    and v1 boots untouched; the good one is installed and the ramdisk reboots
    into it on trial; left in, it is skipped as not newer."""
    d = be.device("recovery-media")
    b = d.boot(be.v2badsig, ["status"], label="UPDATER")
    expect(any("refused (exit 3)" in t for t in medium_lines(b)), b,
           f"the untrusted medium was not refused with exit 3: {medium_lines(b)}")
    expect(any("public key not found" in t for _, t in b.lines), b, "no 'public key not found'")
    expect_up(b, "1.0", be.old_id)
    old = booted_id(b)
    st = statuses(b)[-1]
    expect(st["state"] == "idle" and env_of(st) == (old, 0, 0, 0), b, f"after the refused medium: {st}")

    b = d.boot(be.v2, ["status"], label="UPDATER", timeout=300)
    new = rebooted_into_new(b, medium_lines(b), old, "UPDATER medium: installing",
                            be.name + ".medium_install_s", timing)

    b = d.boot(be.v2, ["mark-good"], label="UPDATER")
    expect(b.find("bootscript: trial boot 1 of 3"), b, "U-Boot did not count trial boot 1")
    expect(any("not newer" in t for t in medium_lines(b)), b,
           f"the medium left in was not skipped as not newer: {medium_lines(b)}")
    expect_up(b, "2.0", new)
    st = statuses(b)
    expect(rc_of(b, "mark-good") == 0 and st[-1]["state"] == "committed" and
           env_of(st[-1]) == (new, 0, 0, 0), b, f"after mark-good: {st[-1]}")


def scenario_rollback(be, timing):
    d = be.device("rollback")
    b, old, new = install_v2(be, d, be.v2bad)
    # bootlimit=3: three trial boots of the broken v2, each dies before mark-good
    for n in (1, 2, 3):
        b = d.boot(be.v2bad, ["status"])
        expect(b.find(f"bootscript: trial boot {n} of 3"), b, f"trial boot {n} not counted")
        expect(up(b) and up(b)[0] == "2.0", b, f"trial boot {n}: v2 did not start: {up(b)}")
        expect(b.find("guest: broken release"), b, "the broken v2 did not start")
        expect(b.find("Kernel panic"), b, "the broken v2 did not panic")
    b = d.boot(be.v2bad, ["status"])
    expect(b.find("bootscript: trial boot 4 > bootlimit 3: falling back"), b, "no fallback")
    expect_up(b, "1.0", old)
    st = statuses(b)[-1]
    expect(st["state"] == "rolled-back" and env_of(st) == (old, 0, 0, 0), b, f"after fallback: {st}")
    bad = [t for t in st["targets"] if t["id"] == new]
    expect(bad and bad[0]["status"] == "bad", b, f"{new} not recorded bad: {st['targets']}")
    b = d.boot(be.v2bad, ["status"])
    expect_up(b, "1.0", old)
    expect(not b.find("bootscript: saved"), b, "the boot after the rollback wrote the environment")
    st = statuses(b)[-1]
    expect(st["state"] == "rolled-back" and env_of(st) == (old, 0, 0, 0), b, f"later boot: {st}")


ENV_COPIES = (0x8000, 0xc000)
ENV_SIZE = 0x4000


def env_copies(disk):
    """[(valid, flags)] of the two environment copies on the disk image."""
    out = []
    with open(disk, "rb") as f:
        for off in ENV_COPIES:
            f.seek(off)
            blob = f.read(ENV_SIZE)
            crc = int.from_bytes(blob[:4], "little")
            out.append((zlib.crc32(blob[5:]) == crc, blob[4]))
    return out


def scenario_env(be, timing):
    """The script's redundancy on the real U-Boot: a corrupt newer copy makes it
    use the older one; with no valid copy it boots the factory system and writes
    nothing, until `updater init` repairs the environment."""
    d = be.device("env")
    b, old, new = install_v2(be, d, be.v2)
    copies = env_copies(d.disk)
    expect(all(v for v, _ in copies), b, f"after install both copies should be valid: {copies}")
    newer = 1 if copies[1][1] == (copies[0][1] + 1) % 256 else 0
    with open(d.disk, "r+b") as f:  # a torn write of the activating copy
        f.seek(ENV_COPIES[newer] + 64)
        f.write(b"\xff" * 256)
    b = d.boot(be.v2, ["status"])
    expect(b.first_time(f"using copy {1 - newer}") is not None, b,
           f"U-Boot did not fall back to copy {1 - newer}")
    expect_up(b, "1.0", old)
    expect(not b.find("bootscript: saved"), b, "U-Boot wrote the environment")
    st = statuses(b)[0]
    expect(env_of(st) == (old, 0, 0, 0), b, f"the older copy's boot state: {st}")
    with open(d.disk, "r+b") as f:  # both copies gone
        for off in ENV_COPIES:
            f.seek(off)
            f.write(b"\0" * ENV_SIZE)
    b = d.boot(be.v2, ["init"])
    expect(b.find("bootscript: no valid boot state: booting the factory system"), b, "no factory boot")
    expect(up(b) == ("1.0", "A"), b, f"the factory system (v1, slot A) did not boot: {up(b)}")
    expect(not b.find("bootscript: saved"), b, "U-Boot wrote over a corrupt environment")
    st = statuses(b)  # fails on a status that exits non-zero or prints no JSON
    # docs/cli.md: "boot_env": null, and "boot_env_error" says why
    expect("boot_env" in st[0] and st[0]["boot_env"] is None and st[0].get("boot_env_error"), b,
           f"the updater should report no environment, and why: {st[0]}")
    expect(rc_of(b, "init") == 0 and env_of(st[-1]) == (old, 0, 0, 0), b, f"after init: {st[-1]}")
    b = d.boot(be.v2, ["status"])
    expect(b.find("bootscript: boot_slot=" + old), b, "U-Boot did not read the repaired environment")
    expect_up(b, "1.0", old)


def scenario_ramdisk(top, timing):
    """The ramdisk on its own (QEMU loads kernel and initramfs, no U-Boot): a
    missing root device ends in a logged reboot, or in the emergency shell when
    rd.shell asks for it; an unmountable root also reboots."""
    kernel = os.path.join(PROJECT, "build", "kernel", "vmlinuz")
    initrd = os.path.join(PROJECT, "build", "ramdisk", "initramfs.img")
    d = os.path.join(top, "runs", "ramdisk")
    os.makedirs(d, exist_ok=True)
    disk = os.path.join(top, "disk.img")
    base = "console=ttyS0 panic=1 printk.time=1 "
    cases = [("missing", "root=/dev/vdz rootwait=2", "root device /dev/vdz did not appear within 2s",
              "rebooting"),
             ("unmountable", "root=/dev/vda rootwait=2", "cannot mount /dev/vda", "rebooting"),
             ("shell", "root=/dev/vdz rootwait=1 rd.shell", "did not appear within 1s",
              "starting an emergency shell")]
    for name, args, fatal, then in cases:
        log = os.path.join(d, name + ".log")
        shell = "rd.shell" in args  # the shell waits on the console: cut it off there
        b = vm.boot(disk, log, timeout=90, direct=(kernel, initrd, base + args),
                    kill_at=("starting an emergency shell", 1.0) if shell else None)
        b.log = log
        expect(not b.timed_out, b, "the ramdisk hung instead of rebooting")
        lines = b.find("ramdisk: [")
        expect(any("FATAL: " in t and fatal in t for t in lines), b, f"no FATAL line with {fatal!r}")
        expect(any(then in t for t in lines), b, f"no {then!r} line")
        expect(shell != any("] rebooting (" in t for t in lines), b,
               "rebooted with rd.shell" if shell else "did not reboot")


def progress_at(fraction):
    """A console-line matcher: the install's JSON progress reached fraction of the write."""
    def match(text):
        if not text.startswith('{"type":"progress"'):
            return False
        try:
            p = json.loads(text)
        except json.JSONDecodeError:
            return False
        return p.get("total") and p["done"] >= fraction * p["total"]
    match.__name__ = f"progress>={fraction:.2f}"
    return match


def progress_final(text):
    return text.startswith('{"type":"progress"') and '"final":true' in text


def cut_points(backend):
    """(name, matcher, delay): moments to kill QEMU during `updater install`,
    placed by what the updater prints (state changes, write progress), so they
    land in the same phase whatever the host's load."""
    if backend == "dualbank":
        pts = [("fetch", "guest: install start", 0.05),
               ("verify", "state fetch -> verify", 0.0),
               ("write-start", "state pre-install -> install", 0.0)]
        for f in (0.1, 0.3, 0.5, 0.7, 0.9):
            pts.append((f"write-{int(f * 100)}%", progress_at(f), 0.0))
        pts += [("write-end", progress_final, 0.1),  # the read-back runs alongside the write
                ("activate", "state install -> post-install", 0.0),
                ("activate+30ms", "state install -> post-install", 0.03),
                ("activate+60ms", "state install -> post-install", 0.06),
                ("activated", "state post-install -> activated", 0.0)]
        return pts
    # ostree: pull (static delta), fsck, deploy, then the trial is started in
    # the environment and only then the new deployment becomes the default
    return [("fetch", "state idle -> fetch", 0.1),
            ("fetch+0.5s", "state idle -> fetch", 0.5),
            ("delta-applied", "applied static delta", 0.0),
            ("verify", "state fetch -> verify", 0.0),
            ("deploy", "state pre-install -> install", 0.0),
            ("deploy+0.4s", "state pre-install -> install", 0.4),
            ("deploy+0.8s", "state pre-install -> install", 0.8),
            ("deployed", "state install -> post-install", 0.0),
            ("activate+0.1s", "state install -> post-install", 0.1),
            ("activate+0.4s", "state install -> post-install", 0.4),
            ("activate+0.7s", "state install -> post-install", 0.7),
            ("activated", "state post-install -> activated", 0.0)]


def env_newer(disk):
    """(index, bootcount) of the valid newer environment copy on the disk image."""
    copies = env_copies(disk)
    valid = [i for i, (v, _) in enumerate(copies) if v]
    if not valid:
        return None, None
    if len(valid) == 2:
        f0, f1 = copies[0][1], copies[1][1]
        cur = 1 if (f0, f1) == (0xff, 0x00) or (f1 > f0 and (f0, f1) != (0x00, 0xff)) else 0
    else:
        cur = valid[0]
    with open(disk, "rb") as f:
        f.seek(ENV_COPIES[cur] + 5)
        data = f.read(ENV_SIZE - 5).split(b"\0\0")[0]
    kv = dict(x.split(b"=", 1) for x in data.split(b"\0") if b"=" in x)
    return cur, int(kv.get(b"bootcount", b"-1"))


# Seconds after "trial boot 1 of 3" (then the new copy is composed and
# written: the "saved" line follows within a few hundred ms under TCG).
SAVE_CUTS = (0.0, 0.01, 0.02, 0.03, 0.04, 0.05, 0.1, 0.3)


def one_save_cut(be, base, i, delay):
    d = Device(be.runs, f"savecut{i:02d}", base)
    b = d.boot(be.v2, ["status"], kill_at=("bootscript: trial boot 1 of 3", delay))
    expect(b.killed and not up(b), b, f"the boot went on past the cut at +{delay:.2f}s")
    saved = bool(b.find("bootscript: saved"))
    cur, count = env_newer(d.disk)
    expect(cur is not None, b, "no valid environment copy after a cut during U-Boot's save")
    # the counter on the disk is the old one (0) or the new one (1), and it is 1
    # whenever U-Boot had printed that it saved
    expect(count in (0, 1) and (count == 1 or not saved), b,
           f"after the cut: bootcount {count} on the disk, saved line seen: {saved}")
    b = d.boot(be.v2, ["mark-good"])
    expect(b.find(f"bootscript: trial boot {count + 1} of 3"), b,
           f"the next boot did not count trial boot {count + 1}")
    expect_up(b, "2.0", "B")
    expect(rc_of(b, "mark-good") == 0, b, "mark-good failed after the cut")
    st = statuses(b)[-1]
    expect(st["state"] == "committed" and env_of(st) == ("B", 0, 0, 0), b, f"end: {st}")
    return f"+{int(delay * 1000)}ms->{'new' if count == 1 else 'old'} count"


def scenario_save_cut(be, timing, jobs):
    """QEMU killed while U-Boot's script counts a trial boot and saves it: the
    disk holds the old count or the new one, never no valid copy, and the
    next boot counts on from it and boots v2."""
    base = be.device("savecut-base")
    install_v2(be, base, be.v2)
    run_cuts(timing, be.name + ".save_cuts",
             f"{be.name} cuts during U-Boot's save (after 'trial boot 1 of 3' -> count on the disk)",
             jobs, [(one_save_cut, be, base.disk, i, t) for i, t in enumerate(SAVE_CUTS)])


def last_state(b):
    s = None
    for t in (t for _, t in b.lines):
        if "updater: debug: state " in t and " -> " in t:
            s = t.split(" -> ")[1].strip()
    return s or "before install"


def reported(b, state):
    """The updater had printed that it reached state before QEMU was killed (the
    --progress=json event or the -v debug line): every line in b.lines came in
    before the kill."""
    event = '{"type":"state","state":"%s"' % state
    return any(t.startswith(event) or (t.startswith("updater: debug: state ") and
                                       t.endswith(" -> " + state)) for _, t in b.lines)


def phase_at_cut(b):
    """Where the cut landed, from what the host had read of the console:
      activated   the updater had reported `activated` (activate() had returned:
                  the environment starts the trial and, ostree, the new
                  deployment is the default): the new system must boot, on trial
      activating  it had reported `post-install` but not `activated`: activate()
                  may have been running (the environment write, ostree also the
                  new default); either system may boot, each consistent
      before      neither: the activation had not started (the updater prints
                  `post-install` before its state-file fsync and any boot-state
                  write, and the console line is out long before those
                  complete): the old system must boot"""
    if reported(b, "activated"):
        return "activated"
    return "activating" if reported(b, "post-install") else "before"


def deployed_id(b):
    """ostree: the new deployment's id, from the updater's `deployed ID (commit ...)`."""
    for _, t in b.lines:
        if t.startswith("updater: info: deployed ") and " (commit " in t:
            return t[len("updater: info: deployed "):].split(" (commit ")[0]
    return None


def one_cut(be, i, name, needle, delay):
    d = be.device(f"cut{i:02d}-{name.replace('%', '')}")
    b = d.boot(be.v2, ["install"], kill_at=(needle, delay))
    expect(b.killed, b, f"the install ended before the cut at {getattr(needle, '__name__', needle)!r}"
                        f"+{delay:.2f}s")
    expect_up(b, "1.0", be.old_id)
    old = booted_id(b)
    where, phase = last_state(b), phase_at_cut(b)
    new = "B" if be.name == "dualbank" else deployed_id(b)
    expect(new or phase == "before", b, "ostree: post-install reported with no 'deployed ID' line")
    # the next boot must reach a complete v1 or v2; v1 installs again, v2 confirms
    b = d.boot(be.v2, ["1.0:install", "2.0:mark-good"])
    got = up(b)
    expect(got and got[0] in ("1.0", "2.0"), b, f"after the cut: booted {got}")
    want = {"activated": ("2.0",), "activating": ("1.0", "2.0"), "before": ("1.0",)}[phase]
    when = {"activated": "after `activated` was reported",
            "activating": "after `post-install`, before `activated` was reported",
            "before": "before `post-install` was reported"}[phase]
    expect(got[0] in want, b, f"the cut came {when} (last state {where}): "
                              f"v{got[0]} booted, expected v{' or v'.join(want)}")
    st = statuses(b)
    expect(st and st[0].get("boot_env") is not None, b, f"after the cut: {st[:1]}")
    if got[0] == "1.0":
        outcome = "old"
        expect_up(b, "1.0", old)  # the same slot / the same deployment as before the cut
        bs = env_of(st[0])
        # v1 booted although the environment already put v2 on trial: U-Boot
        # counted a trial boot of v2 on v1 (ostree: libostree's /boot/loader
        # swap was still only in the ext4 journal, which U-Boot does not replay)
        expect(not (bs[1] == 1 and bs[2] >= 1), b,
               f"after the cut: U-Boot booted v1 but counted trial boot {bs[2]} of {bs[0]} "
               f"(the new default was not on the disk for U-Boot: see docs/boot.md)")
        expect(st[0]["state"] not in ("trial", "committed", "activated"), b,
               f"after the cut: v1 runs, state {st[0]['state']}")
        expect(rc_of(b, "install") == 0, b, f"repeated install rc={rc_of(b, 'install')}")
        expect(st[-1]["state"] == "activated", b, f"after the repeated install: {st[-1]}")
        new = (st[-1].get("pending") or {}).get("slot")
        b = d.boot(be.v2, ["mark-good"])
        st = statuses(b)
    else:
        outcome = "new"
    # v2 boots on trial (counted by U-Boot), the system that was activated
    expect_up(b, "2.0", new)
    expect(st[0]["state"] == "trial" and env_of(st[0]) == (new, 1, 1, 0), b,
           f"v2 is not on trial: {st[0]}")
    expect(rc_of(b, "mark-good") == 0, b, "mark-good of v2 failed")
    st = statuses(b)[-1]
    expect(st["state"] == "committed" and env_of(st) == (new, 0, 0, 0), b, f"end: {st}")
    return f"{name}@{where}/{phase}->{outcome}"


def run_cuts(timing, key, title, jobs, calls):
    """Runs each (function, args...) of calls, jobs at once; prints and records
    what each returned, then raises the first failure."""
    results, fails = [], []
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as ex:
        futs = [ex.submit(*c) for c in calls]
        for f in futs:
            try:
                results.append(f.result())
            except (Fail, Infra) as e:
                fails.append(e)
    timing[key] = results
    print(f"  {title}: " + ", ".join(results), flush=True)
    if fails:
        raise fails[0]


def scenario_power_cut(be, timing, jobs):
    run_cuts(timing, be.name + ".cuts", f"{be.name} cuts (name@state reached->system booted next)",
             jobs, [(one_cut, be, i, *p) for i, p in enumerate(cut_points(be.name))])


def cell(v, fmt):
    return "–" if v is None else fmt % v


def figures_text(timing, total):
    """docs/boot.md's measurements, from this run's timing (a full run of both backends)."""
    bt = {n: timing[n + ".boot"] for n in ("dualbank", "ostree")}
    out = ["Taken by a full `make qemu-check` (`build/qemu/runs/timing.json`) on %s, on %d CPUs under"
           " TCG, load average %.1f at its end (other test suites may share the machine: at load 7-8"
           " every figure is 1.5-2x). Medians over the boots that reached the root file system (%d"
           " dual-bank, %d ostree boots)." % (time.strftime("%Y-%m-%d", time.gmtime()), os.cpu_count(),
                                            os.getloadavg()[0], bt["dualbank"]["boots"],
                                            bt["ostree"]["boots"]),
           "", "Boot, host seconds from QEMU's start, and kernel seconds (`/proc/uptime`, the clock",
           "`printk.time=1` stamps the kernel's lines with) from the kernel's start:", "",
           "| step | dual-bank | ostree |", "|---|---|---|"]
    rows = (("QEMU start → the script's first line (U-Boot, distro boot scan)", "uboot_to_script", "%.1f s"),
            ("QEMU start → \"Starting kernel\" (the script, both environment copies, a save on trial "
             "boots, kernel + initramfs loaded)", "uboot_to_kernel", "%.1f s"),
            ("kernel start → ramdisk `/init` starts: the kernel's own work, without the ramdisk's",
             "kernel_to_init", "%.2f s"),
            ("`/init` start → `switch_root`: the ramdisk's work", "init_to_switch_root", "%.2f s"),
            ("kernel start → `switch_root`, with the ramdisk's work", "kernel_to_switch_root", "%.2f s"),
            ("QEMU start → the root file system's init prints its first line", "qemu_to_guest_up", "%.1f s"))
    for label, key, fmt in rows:
        out.append("| %s | %s | %s |" % (label, cell(bt["dualbank"][key], fmt), cell(bt["ostree"][key], fmt)))
    out += ["", "`updater install` in the guest (from the console, `guest: install start` to its exit):", "",
            "| | dual-bank (the whole slot image from a bundle) | ostree (a static delta) |",
            "|---|---|---|"]

    def phase(name, a, b):
        t = timing.get(f"{name}.install.{b}_s") if b else timing.get(name + ".install_s")
        f = timing.get(f"{name}.install.{a}_s") if a else 0.0
        return None if t is None or f is None else t - f
    for label, a, b, fmt in (("fetch + verify", None, "install", "%.1f s"),
                             ("write (+ read-back) / deploy", "install", "post-install", "%.1f s"),
                             ("activation", "post-install", "activated", "%.2f s"),
                             ("total", None, None, "%.1f s")):
        out.append("| %s | %s | %s |" % (label, cell(phase("dualbank", a, b), fmt),
                                          cell(phase("ostree", a, b), fmt)))
    out += ["", "Scenario wall times in the same run:", "", "| scenario | dual-bank | ostree |", "|---|---|---|",
            "| ramdisk (3 direct boots, shared) | %s | |" % cell(timing.get("ramdisk wall_s"), "%.0f s")]
    for sc, what in (("update", "3 boots"), ("rollback", "6 boots"), ("environment", "4 boots"),
                     ("power-cut", "2-3 boots a cut, 2 QEMUs at once"), ("save-cut", "2 QEMUs at once")):
        out.append("| %s (%s) | %s | %s |" % (sc, what, cell(timing.get(f"dualbank: {sc} wall_s"), "%.0f s"),
                                         cell(timing.get(f"ostree: {sc} wall_s"), "%.0f s")))
    out += singlecopy.figures_lines(timing)
    out += ["", "The scenarios took %d min %d s in all (the images are built before them)." % (
        total // 60, total % 60)]
    return "\n".join(out) + "\n"


def put_figures(top, timing, total):
    """The `qemu-times` figures block of docs/boot.md (`make figures` puts it there)."""
    path = os.path.join(top, "runs", "figures.md")
    with open(path, "w") as f:
        f.write(figures_text(timing, total))
    here = os.path.dirname(os.path.abspath(__file__))
    subprocess.run([sys.executable, os.path.join(here, "..", "lib", "figures.py"), "put", "qemu-times",
                    path, "tests/qemu", "boot", "ramdisk"], check=False)


def run_scenario(label, fn, timing):
    """Runs one scenario, prints its PASS or FAIL line: True when it passed."""
    t = time.monotonic()
    ok = False
    try:
        fn()
        ok = True
        print(f"PASS: {label} ({time.monotonic() - t:.0f}s)", flush=True)
    except Infra as e:
        print(f"FAIL: {label} ({time.monotonic() - t:.0f}s): infrastructure: {e}", flush=True)
    except Fail as e:
        print(f"FAIL: {label} ({time.monotonic() - t:.0f}s): {e}", flush=True)
    except Exception as e:  # noqa: BLE001 - a harness bug or an unexpected console
        print(f"FAIL: {label} ({time.monotonic() - t:.0f}s): harness error {e!r}", flush=True)
    timing[f"{label} wall_s"] = round(time.monotonic() - t, 1)
    return ok


def wanted(short, label, only):
    """--only NAME: a scenario's printed name, or its short name unless
    another scenario is printed under that name (`recovery-media` is
    single-copy's; ostree's is `ostree: recovery-media`)."""
    return label in only or short in only and short not in singlecopy.NAMES


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", default="build/qemu")
    ap.add_argument("--jobs", type=int, default=2, help="QEMUs at once in the power-cut sweeps")
    ap.add_argument("--backend", action="append",
                    help="dualbank, ostree, singlecopy (default: all that are built)")
    ap.add_argument("--only", action="append",
                    help="a scenario's printed name (\"ostree: recovery-media\"), or its short "
                         "name where no other scenario is printed under it: update, rollback, "
                         "environment, power-cut, save-cut, ostree-staged-apply, "
                         + ", ".join(singlecopy.NAMES))
    args = ap.parse_args()
    top = os.path.abspath(args.dir)
    all_backends = args.backend or ["dualbank"] + [b for b in ("ostree", "singlecopy")
                                                   if os.path.exists(f"{top}/{b}/disk.img")]
    backends = [b for b in all_backends if b != "singlecopy"]  # the scenarios of this file
    shutil.rmtree(os.path.join(top, "runs"), ignore_errors=True)
    os.makedirs(os.path.join(top, "runs"))
    timing = {}
    passed = failed = 0
    start = time.monotonic()
    if not args.backend and not args.only or args.only and "ramdisk" in args.only:
        t = time.monotonic()
        try:
            scenario_ramdisk(top, timing)
            passed += 1
            print(f"PASS: ramdisk: missing/unmountable root, rd.shell ({time.monotonic() - t:.0f}s)",
                  flush=True)
            timing["ramdisk wall_s"] = round(time.monotonic() - t, 1)
        except Fail as e:
            failed += 1
            print(f"FAIL: ramdisk: missing/unmountable root, rd.shell ({time.monotonic() - t:.0f}s): {e}",
                  flush=True)
    for name in backends:
        if args.only and args.only == ["ramdisk"]:
            break
        be = Backend(name, top)
        os.makedirs(be.runs)
        for sc, fn in (("update", lambda: scenario_update(be, timing)),
                       ("rollback", lambda: scenario_rollback(be, timing)),
                       ("environment", lambda: scenario_env(be, timing)),
                       ("power-cut", lambda: scenario_power_cut(be, timing, args.jobs)),
                       ("save-cut", lambda: scenario_save_cut(be, timing, args.jobs)),
                       ("ostree-staged-apply", lambda: scenario_staged_apply(be, timing)),
                       ("recovery-media", lambda: scenario_recovery_media(be, timing))):
            label = sc if sc.startswith(name + "-") else f"{name}: {sc}"
            if args.only and not wanted(sc, label, args.only):
                continue
            if sc == "recovery-media" and name != "ostree":
                continue  # dual-bank's: singlecopy.py (its ramdisk carries an updater)
            if sc == "ostree-staged-apply" and name != "ostree":
                continue  # the ramdisk applies staged updates for ostree only
            if sc == "environment" and name != "dualbank":
                # with ostree the default entry is libostree's, not the environment's
                continue
            if sc == "save-cut" and name != "dualbank":
                # the same script and environment code for both backends
                continue
            ok = run_scenario(label, fn, timing)
            passed, failed = passed + ok, failed + (not ok)
    if "singlecopy" in all_backends and not (args.only and args.only == ["ramdisk"]):
        for sc, fn in singlecopy.scenarios(sys.modules[__name__], top, timing, args.jobs):
            if args.only and sc not in args.only:
                continue
            ok = run_scenario(sc, fn, timing)
            passed, failed = passed + ok, failed + (not ok)
    for name in backends:
        bt = boot_times([b for b in ALL_BOOTS if f"/runs/{name}/" in b.log])
        timing[name + ".boot"] = bt
        if bt["boots"]:
            print("  %s boot (median of %d): QEMU start -> script %.1fs -> kernel %.1fs; kernel -> /init "
                  "%.2fs, /init -> switch_root %.2fs (kernel -> switch_root %.2fs); QEMU start -> guest up "
                  "%.1fs" % (name, bt["boots"], bt["uboot_to_script"], bt["uboot_to_kernel"],
                             bt["kernel_to_init"], bt["init_to_switch_root"], bt["kernel_to_switch_root"],
                             bt["qemu_to_guest_up"]), flush=True)
    timing["updater_sim_twin_boots"] = len(TWIN_BOOTS)
    if "dualbank" in backends:
        print(f"  updater-sim agreed with boot.cmd on {len(TWIN_BOOTS)} dual-bank boots", flush=True)
    with open(os.path.join(top, "runs", "timing.json"), "w") as f:
        json.dump(timing, f, indent=1)
    total = time.monotonic() - start
    print(f"qemu: {total:.0f}s in all; logs in {top}/runs", flush=True)
    if not args.backend and not args.only and failed == 0 and backends == ["dualbank", "ostree"]:
        put_figures(top, timing, total)
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

"""The scenarios of a ramdisk with an updater inside: single-copy
(docs/singlecopy.md) and dual-bank's recovery from a medium, under QEMU: U-Boot's
boot/boot.cmd on a single-copy disk (tests/qemu/build-singlecopy.sh), the
single-copy ramdisk (ramdisk/updater.sh, an updater inside) and the root's
tests/qemu/guest-init. run.py runs them with its Device and checks (module h).

  singlecopy-apply        v1 stages v2; the next boot's ramdisk runs apply-staged
                          (the root rewritten and read back), reboots; v2 boots
                          on trial, mark-good. A boot with nothing staged runs no
                          updater in the ramdisk
  singlecopy-powercut     QEMU killed at >= 10 moments of the ramdisk's
                          apply-staged (before the marker, during the write, the
                          read-back, the activation); every next boot completes
                          it (or, cut after the activation, boots v2 on trial),
                          the partial root never boots, v2 ends committed
  singlecopy-bad-release  a staged v2 whose system never confirms: after
                          bootlimit trial boots U-Boot boots recovery mode, which
                          records the failure and stays (a second boot: recovery
                          again, no boot loop); a medium labelled UPDATER with a
                          good bundle installs from there, which then confirms
  recovery-media          a ramdisk that looks for a medium at every boot: an
                          UPDATER medium whose bundle is signed by a key the device
                          does not trust is refused and v1 boots on; with a good
                          bundle it is installed at boot; with the same bundle
                          still there the next boot boots v2 (not newer: refused)
  dualbank: recovery-media  the same with dual-bank (build.sh's disk-media.img: v1's
                          ramdisk carries the updater): the untrusted bundle refused,
                          the good one installed into slot B from the ramdisk, B boots
                          on trial and confirms
  singlecopy-boot-cost    not a pass/fail: boots with nothing staged, the
                          single-copy ramdisk against the same ramdisk without its
                          updater steps and the ramdisk without an updater
"""
import json
import os

NAMES = ("singlecopy-apply", "singlecopy-powercut", "singlecopy-bad-release", "recovery-media",
         "dualbank: recovery-media", "singlecopy-boot-cost")


class SC:
    def __init__(self, h, top):
        self.h = h
        self.top = os.path.join(top, "singlecopy")
        self.runs = os.path.join(top, "runs", "singlecopy")
        self.v2 = f"{self.top}/v2.0.upd"
        self.v2bad = f"{self.top}/v2.0-broken.upd"
        self.v2untrusted = f"{self.top}/v2.0-untrusted.upd"

    def device(self, name, disk="disk.img"):
        return self.h.Device(self.runs, name, os.path.join(self.top, disk))


def rd(b):
    """The ramdisk's own lines of the boot."""
    return [t for t in b.find("ramdisk: [")]


def rd_has(b, needle):
    return any(needle in t for t in rd(b))


def rd_status(h, b):
    """The status --json recovery mode printed ("ramdisk: [T] status {...}")."""
    for t in rd(b):
        if "] status {" in t:
            return json.loads(t.split("] status ", 1)[1])
    raise h.Fail(f"{b.log}: recovery mode printed no status")


RECOVERY_WAIT = "recovery mode: waiting"


def stage(h, sc, d, bundle):
    b = d.boot(bundle, ["stage"])
    h.expect_up(b, "1.0", "root")
    h.expect(h.rc_of(b, "stage") == 0, b, f"stage rc={h.rc_of(b, 'stage')}")
    st = h.statuses(b)[-1]
    h.expect(st["state"] == "staged" and st["boot_env"].get("apply_staged") == 1 and
             h.env_of(st) == ("root", 0, 0, 0), b, f"after stage: {st}")
    return b


def applied_and_rebooted(h, b):
    """The ramdisk ran apply-staged, which activated the update, and rebooted."""
    h.expect(rd_has(b, "apply_staged=1: running updater apply-staged"), b,
             f"the ramdisk did not run apply-staged: {rd(b)}")
    h.expect(rd_has(b, "the new system is on trial") and rd_has(b, "rebooting"), b,
             f"the ramdisk did not reboot into the new root: {rd(b)}")
    h.expect(not h.up(b), b, f"a root came up in the boot that applied: {h.up(b)}")


def on_trial_then_good(h, b, version="2.0"):
    h.expect(b.find("bootscript: trial boot 1 of 3"), b, "U-Boot did not count trial boot 1")
    h.expect(not rd_has(b, "running updater"), b, f"the ramdisk ran the updater again: {rd(b)}")
    h.expect_up(b, version, "root")
    st = h.statuses(b)
    h.expect(st[0]["state"] == "trial" and h.env_of(st[0]) == ("root", 1, 1, 0) and
             st[0]["boot_env"].get("apply_staged") == 0, b, f"on trial: {st[0]}")
    h.expect(h.rc_of(b, "mark-good") == 0, b, "mark-good failed")
    h.expect(st[-1]["state"] == "committed" and h.env_of(st[-1]) == ("root", 0, 0, 0), b,
             f"after mark-good: {st[-1]}")


def scenario_apply(h, sc, timing):
    d = sc.device("apply")
    stage(h, sc, d, sc.v2)
    b = d.boot(sc.v2, ["status"])
    h.expect(b.find("bootscript: apply_staged=1"), b, "U-Boot did not pass updater.apply_staged=1")
    applied_and_rebooted(h, b)
    t0 = b.first_time("running updater apply-staged")
    timing["singlecopy.apply_staged_s"] = b.first_time("the new system is on trial") - t0
    timing["singlecopy.apply_boot_wall_s"] = b.wall
    b = d.boot(sc.v2, ["mark-good"])
    on_trial_then_good(h, b)
    b = d.boot(sc.v2, ["status"])
    h.expect_up(b, "2.0", "root")
    h.expect(not rd_has(b, "updater"), b, f"nothing staged, yet the ramdisk ran the updater: {rd(b)}")


# --- power cuts during the ramdisk's apply-staged -----------------------------------

def progress_at(phase, frac):
    """A console line that is the JSON progress of `phase` at >= frac of its total."""

    def match(text):
        if not text.startswith('{"type":"progress"'):
            return False
        try:
            p = json.loads(text)
        except ValueError:
            return False
        return p.get("phase") == phase and p.get("total") and p["done"] >= frac * p["total"]
    match.__name__ = f"{phase}>={frac:.0%}"
    return match


# The updater throttles its progress lines (a handful per phase here), so some
# cuts are timed from the marker's log line; the outcome is judged from what
# the console showed before the kill, whatever moment the cut hit.
CUTS = [("apply-start", "running updater apply-staged", 0.0),
        ("apply-start+0.3s", "running updater apply-staged", 0.3),
        ("install-state", "-> install", 0.0),
        ("marker", "rewriting the root", 0.0),
        ("write-first", progress_at("install", 0.01), 0.0),
        ("write-30%", progress_at("install", 0.3), 0.0),
        ("write-60%", progress_at("install", 0.6), 0.0),
        ("marker+0.8s", "rewriting the root", 0.8),
        ("marker+1.5s", "rewriting the root", 1.5),
        ("write-end", progress_at("install", 1.0), 0.0),
        ("readback", progress_at("readback", 0.01), 0.0),
        ("post-install", "-> post-install", 0.0),
        ("activated", "-> activated", 0.0),
        ("reboot", "the new system is on trial", 0.0)]


def one_cut(h, sc, base, i, name, needle, delay):
    d = h.Device(sc.runs, f"cut{i:02d}-{name}", base)
    b = d.boot(sc.v2, ["status"], kill_at=(needle, delay))
    h.expect(b.killed, b, f"apply-staged ended before the cut at {name}")
    h.expect(rd_has(b, "running updater apply-staged"), b, "the ramdisk did not run apply-staged")
    # Judged as the dual-bank and ostree cuts are (run.py's phase_at_cut): once
    # `post-install` was reported the activation's environment write may land
    # before `activated` reaches the console, so either outcome is right.
    activating = h.phase_at_cut(b) != "before"
    # the next boot: the apply completes (or, once the activation began, v2 on trial)
    b = d.boot(sc.v2, ["mark-good"])
    if b.find("guest: up "):
        outcome = "trial"
        h.expect(activating, b,
                 f"cut at {name} before the activation began, yet a root booted: {h.up(b)}")
        on_trial_then_good(h, b)
    else:
        outcome = "applied"
        h.expect(b.find("bootscript: apply_staged=1"), b, "after the cut: no updater.apply_staged=1")
        applied_and_rebooted(h, b)
        system = "recovery" if b.find("bootscript: single-copy: booting the recovery system") else "root"
        outcome += "/" + system
        b = d.boot(sc.v2, ["mark-good"])
        on_trial_then_good(h, b)
    return f"{name}->{outcome}"


def scenario_powercut(h, sc, timing, jobs):
    base = sc.device("cut-base")
    stage(h, sc, base, sc.v2)
    h.run_cuts(timing, "singlecopy.cuts",
               "single-copy cuts of the ramdisk's apply-staged (name->next boot: applied/system or trial)",
               jobs, [(one_cut, h, sc, base.disk, i, *c) for i, c in enumerate(CUTS)])


# --- a release that never confirms: recovery mode -----------------------------------

def recovery_boot(h, d, bundle, label=None):
    b = d.boot(bundle, ["status"], kill_at=(RECOVERY_WAIT, 0.5), label=label)
    h.expect(b.find("bootscript: single-copy: booting the recovery system"), b,
             "U-Boot did not boot recovery mode")
    return b


def scenario_bad_release(h, sc, timing):
    d = sc.device("bad-release")
    stage(h, sc, d, sc.v2bad)
    applied_and_rebooted(h, d.boot(sc.v2bad, ["status"]))
    for n in (1, 2, 3):
        b = d.boot(sc.v2bad, ["status"])
        h.expect(b.find(f"bootscript: trial boot {n} of 3"), b, f"trial boot {n} not counted")
        h.expect(b.find("guest: broken release") and b.find("Kernel panic"), b,
                 f"trial boot {n}: the broken v2 did not start and die")
    b = recovery_boot(h, d, sc.v2bad)
    h.expect(b.find("bootscript: trial boot 4 > bootlimit 3: falling back"), b, "no fallback")
    h.expect(b.killed and rd_has(b, RECOVERY_WAIT) and not h.up(b), b,
             f"recovery mode did not stay: {rd(b)[-3:]}")
    st = rd_status(h, b)
    h.expect(st["state"] == "rolled-back" and st["recovery_mode"] and
             h.env_of(st) == ("recovery", 0, 0, 0) and st.get("failed_releases") and
             st.get("trial_failure"), b, f"recovery mode's status: {st}")
    # no boot loop: the next power-on is recovery mode again, nothing counted
    b = recovery_boot(h, d, sc.v2bad)
    h.expect(not b.find("bootscript: saved") and not b.find("bootscript: trial boot"), b,
             "the boot in recovery mode counted or saved")
    h.expect(rd_has(b, "no medium labelled UPDATER"), b, f"recovery mode did not look for a medium: {rd(b)}")
    st = rd_status(h, b)
    h.expect(st["state"] == "rolled-back" and h.env_of(st) == ("recovery", 0, 0, 0), b,
             f"second recovery boot: {st}")
    # a good bundle on a medium labelled UPDATER: installed from recovery mode
    b = d.boot(sc.v2, ["status"], label="UPDATER")
    h.expect(rd_has(b, "UPDATER medium: staging /media/update.upd"), b,
             f"recovery mode did not stage the medium's bundle: {rd(b)}")
    applied_and_rebooted(h, b)
    on_trial_then_good(h, d.boot(sc.v2, ["mark-good"]))


def scenario_media(h, sc, timing):
    d = sc.device("media", "disk-media.img")
    b = d.boot(sc.v2untrusted, ["status"], label="UPDATER")
    h.expect(rd_has(b, "UPDATER medium: /media/update.upd refused (exit 3)") and
             not rd_has(b, "staging"), b, f"the untrusted bundle was not refused with exit 3: {rd(b)}")
    h.expect([t for _, t in b.lines if t.startswith("updater: ") and "signature does not match" in t], b,
             "the refusal does not name the signature")
    h.expect_up(b, "1.0", "root")
    st = h.statuses(b)[0]  # nothing kept, requested or recorded
    h.expect(st["state"] == "idle" and not st.get("staged") and h.env_of(st) == ("root", 0, 0, 0) and
             st["boot_env"].get("apply_staged") == 0, b, f"after the refused medium: {st}")
    b = d.boot(sc.v2, ["status"], label="UPDATER")
    applied_and_rebooted(h, b)
    # the medium is still there: not newer than v2 (on trial, then committed),
    # skipped; the device boots v2 each time, no install loop, no state change
    for actions in (["mark-good"], ["status"]):
        b = d.boot(sc.v2, actions, label="UPDATER")
        h.expect(rd_has(b, "UPDATER medium: /media/update.upd is not newer than this device's release"), b,
                 f"the installed bundle was not skipped: {rd(b)}")
        if actions == ["mark-good"]:
            on_trial_then_good(h, b)
    h.expect_up(b, "2.0", "root")
    st = h.statuses(b)[-1]
    h.expect(st["state"] == "committed" and h.env_of(st) == ("root", 0, 0, 0), b,
             f"the refused medium changed the committed state: {st}")


def scenario_media_dualbank(h, top, timing):
    runs = os.path.join(top, "runs", "dualbank-media")
    d = h.Device(runs, "media", os.path.join(top, "disk-media.img"))
    b = d.boot(os.path.join(top, "v2.0-untrusted.upd"), ["status"], label="UPDATER")
    h.expect(rd_has(b, "UPDATER medium: /media/update.upd refused (exit 3)") and
             not rd_has(b, "installing"), b, f"the untrusted bundle was not refused with exit 3: {rd(b)}")
    h.expect([t for _, t in b.lines if t.startswith("updater: ") and "signature does not match" in t], b,
             "the refusal does not name the signature")
    h.expect_up(b, "1.0", "A")
    st = h.statuses(b)[0]
    h.expect(st["state"] == "idle" and h.env_of(st) == ("A", 0, 0, 0), b, f"after the refused medium: {st}")
    v2 = os.path.join(top, "v2.0.upd")
    b = d.boot(v2, ["status"], label="UPDATER")
    h.expect(rd_has(b, "UPDATER medium: installing /media/update.upd"), b, f"no install from the medium: {rd(b)}")
    h.expect(rd_has(b, "the new system is on trial") and not h.up(b), b,
             f"the ramdisk did not reboot into the new slot: {rd(b)}")
    b = d.boot(v2, ["mark-good"], label="UPDATER")
    h.expect(b.find("bootscript: trial boot 1 of 3"), b, "U-Boot did not count trial boot 1")
    h.expect_up(b, "2.0", "B")
    st = h.statuses(b)
    h.expect(st[0]["state"] == "trial" and h.env_of(st[0]) == ("B", 1, 1, 0), b, f"on trial: {st[0]}")
    h.expect(h.rc_of(b, "mark-good") == 0 and st[-1]["state"] == "committed" and
             h.env_of(st[-1]) == ("B", 0, 0, 0), b, f"after mark-good: {st[-1]}")


# --- what the check costs a boot with nothing staged ----------------------------------

def ramdisk_times(h, b):
    """(kernel -> /init, /init -> switch_root, the updater steps), kernel
    seconds from the ramdisk's kernel-log marks (microseconds); the steps are
    None in a ramdisk without them."""
    def mark(what):
        return h.vm.printk_time(b, "ramdisk: " + what)
    init, sw = mark("/init begins"), mark("switch_root follows")
    if init is None or sw is None or not h.up(b):
        raise h.Fail(f"{b.log}: the boot did not reach the root")
    s0, s1 = mark("updater steps begin"), mark("updater steps end")
    return init, sw - init, (s1 - s0 if s0 is not None and s1 is not None else None)


def boot_cost(h, sc, timing, rounds=5):
    """Boots with nothing staged, the three ramdisks in turn (rounds each):
    medians of the kernel's time to /init (which unpacks the ramdisk), the
    ramdisk's own time (/init to switch_root, mostly waiting for the disk) and
    the single-copy ramdisk's updater steps (the check: nothing staged, so
    nothing mounted or run)."""
    kinds = (("singlecopy", "disk.img"), ("nocheck", "disk-nocheck.img"), ("plain", "disk-plain.img"))
    devs = {k: sc.device("cost-" + k, disk) for k, disk in kinds}
    got = {k: [] for k, _ in kinds}
    for _ in range(rounds):
        for k, _ in kinds:
            got[k].append(ramdisk_times(h, devs[k].boot(sc.v2, ["status"])))
    out = {}
    for k, _ in kinds:
        out[k] = {"kernel_to_init_s": h.median([t[0] for t in got[k]]),
                  "init_to_switch_root_s": h.median([t[1] for t in got[k]]), "boots": rounds}
    steps = [t[2] for t in got["singlecopy"]]
    if None in steps:
        raise h.Fail(f"the single-copy ramdisk's boots lack the updater steps' marks: {steps}")
    out["singlecopy"]["steps_s"] = h.median(steps)
    out["singlecopy"]["steps_pct"] = 100.0 * out["singlecopy"]["steps_s"] / out["singlecopy"]["init_to_switch_root_s"]
    for k, img in (("singlecopy", "initramfs.img"), ("nocheck", "initramfs-nocheck.img")):
        out[k]["bytes"] = os.path.getsize(os.path.join(sc.top, img))
    out["plain"]["bytes"] = os.path.getsize(os.path.join(h.PROJECT, "build", "ramdisk", "initramfs.img"))
    timing["singlecopy.boot_cost"] = out
    o = out
    print("  single-copy boot, nothing staged (medians of %d): the updater steps %.1f ms = %.1f %% of the "
          "ramdisk's /init -> switch_root %.3f s (target <= 5 %%); /init -> switch_root without the steps "
          "%.3f s, without an updater %.3f s; kernel -> /init %.3f / %.3f / %.3f s; ramdisk %d / %d / %d "
          "bytes" % (rounds, 1000 * o["singlecopy"]["steps_s"], o["singlecopy"]["steps_pct"],
                     o["singlecopy"]["init_to_switch_root_s"], o["nocheck"]["init_to_switch_root_s"],
                     o["plain"]["init_to_switch_root_s"], o["singlecopy"]["kernel_to_init_s"],
                     o["nocheck"]["kernel_to_init_s"], o["plain"]["kernel_to_init_s"],
                     o["singlecopy"]["bytes"], o["nocheck"]["bytes"], o["plain"]["bytes"]), flush=True)


def scenarios(h, top, timing, jobs):
    sc = SC(h, top)
    os.makedirs(sc.runs, exist_ok=True)
    return [("singlecopy-apply", lambda: scenario_apply(h, sc, timing)),
            ("singlecopy-powercut", lambda: scenario_powercut(h, sc, timing, jobs)),
            ("singlecopy-bad-release", lambda: scenario_bad_release(h, sc, timing)),
            ("recovery-media", lambda: scenario_media(h, sc, timing)),
            ("dualbank: recovery-media", lambda: scenario_media_dualbank(h, top, timing)),
            ("singlecopy-boot-cost", lambda: boot_cost(h, sc, timing))]


def figures_lines(timing):
    """docs/boot.md's single-copy rows (run.py's figures), or nothing when the
    single-copy scenarios did not all run."""
    cost = timing.get("singlecopy.boot_cost")
    if not cost or timing.get("singlecopy.apply_staged_s") is None:
        return []
    sc, nc, pl = cost["singlecopy"], cost["nocheck"], cost["plain"]
    out = ["", "Single-copy (`tests/qemu/singlecopy.py`): the ramdisk's `apply-staged` of v2 (a 44 MiB "
           "root image, the blocks that differ written, all of it read back), from its start to the "
           "reboot: %.1f s (host seconds); the boot that applies it, QEMU start to the reboot: %.1f s." % (
               timing["singlecopy.apply_staged_s"], timing["singlecopy.apply_boot_wall_s"]),
           "", "A boot with nothing staged, medians of %d boots of each ramdisk in turn (kernel seconds from "
           "the ramdisk's kernel-log marks):" % sc["boots"], "",
           "| ramdisk | size (zstd) | kernel start → `/init` (unpacking it) | `/init` → `switch_root` "
           "| the updater steps (the check) |", "|---|---|---|---|---|",
           "| single-copy (the updater and its libraries, a `WITH_OSTREE=0` build) | %.1f MiB | %.3f s | "
           "%.3f s | %.1f ms, %.1f %% of `/init` → `switch_root` (target: at most 5 %%) |" % (
               sc["bytes"] / 1048576, sc["kernel_to_init_s"], sc["init_to_switch_root_s"],
               1000 * sc["steps_s"], sc["steps_pct"]),
           "| the same without `ramdisk/updater.sh` | %.1f MiB | %.3f s | %.3f s | – |" % (
               nc["bytes"] / 1048576, nc["kernel_to_init_s"], nc["init_to_switch_root_s"]),
           "| dual-bank and ostree (no updater) | %.1f MiB | %.3f s | %.3f s | – |" % (
               pl["bytes"] / 1048576, pl["kernel_to_init_s"], pl["init_to_switch_root_s"])]
    out += ["", "Single-copy scenario wall times:", ""]
    for name, what in (("singlecopy-apply", "4 boots"),
                       ("singlecopy-powercut", "14 cuts, 3 boots each, 2 QEMUs at once"),
                       ("singlecopy-bad-release", "9 boots"), ("recovery-media", "5 boots"),
                       ("dualbank: recovery-media", "3 boots"),
                       ("singlecopy-boot-cost", "15 boots")):
        w = timing.get(f"{name} wall_s")
        out.append("- %s (%s): %s" % (name, what, "–" if w is None else "%.0f s" % w))
    return out

"""The simulated device (tools/updater-sim) checked against the real U-Boot
script: before each boot of a dual-bank QEMU disk, a twin device made by
updater-sim gets a byte copy of the disk's two environment copies and is
rebooted (`updater-sim reboot --no-boot-service`); after the real boot,
what the simulator decided must be what boot/boot.cmd did (docs/try-it.md):
whether it counted a trial boot and which attempt, whether it fell back, the
contract variables it left, and the slot it booted.

The real side is read from the script's own console lines: the boot state it
read ("bootscript: boot_slot=... rollback=..."), what it saved ("bootscript:
saved ..."), its count ("trial boot N of M" / "N > bootlimit M") and the
slot it booted ("bootscript: booting slot X"). The ostree disks are not
twinned: updater-sim's ostree reboot boots libostree's entries of its own
sysroot, not the disk's.
"""
import os
import re
import shutil
import subprocess

ENV_OFFSET, ENV_BYTES = 0x8000, 0x8000  # the disk's two copies, back to back
CONTRACT = ("boot_slot", "upgrade_available", "bootcount", "bootlimit", "rollback")


class Mismatch(Exception):
    pass


def _kv(text):
    return dict(m.groups() for m in re.finditer(r"(\w+)=(\S*)", text))


class SimTwin:
    """A dual-bank device of updater-sim with the QEMU disk's images and key."""

    def __init__(self, project, qemu_top, directory):
        self.sim = os.path.join(project, "tools", "updater-sim")
        self.dir = directory
        shutil.rmtree(directory, ignore_errors=True)
        env = dict(os.environ, UPDATER=os.path.join(project, "updater"))
        self.env = env
        self._run(["create", directory, "--backend=dualbank",
                   "--image", os.path.join(qemu_top, "rootfs-1.0.img"),
                   "--key", os.path.join(qemu_top, "release.pub.pem"),
                   "--compatible", "qemu-x86", "--bootlimit", "3"])
        # slot B as an install leaves it (both v2 images say 2.0)
        shutil.copyfile(os.path.join(qemu_top, "rootfs-2.0.img"),
                        os.path.join(directory, "slots", "B.img"))
        self.cfg = os.path.join(directory, "env", "fw_env.config")

    def _run(self, args):
        p = subprocess.run([self.sim] + args, env=self.env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
        if p.returncode != 0:
            raise Mismatch(f"updater-sim {' '.join(args)} exited {p.returncode}: {p.stdout}")
        return p.stdout

    def _env(self):
        p = subprocess.run(["fw_printenv", "-c", self.cfg, "-f", os.path.join(self.dir, "env", "defaults")],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        got = dict(line.split("=", 1) for line in p.stdout.splitlines() if "=" in line)
        return {k: got.get(k) for k in CONTRACT}

    def predict(self, disk):
        """What updater-sim's reboot does with the disk's environment now."""
        with open(disk, "rb") as f:
            f.seek(ENV_OFFSET)
            blob = f.read(ENV_BYTES)
        with open(os.path.join(self.dir, "env", "uboot.env"), "wb") as f:
            f.write(blob)
        out = self._run(["reboot", self.dir, "--no-boot-service"])
        uboot = next((l[len("U-Boot: "):] for l in out.splitlines() if l.startswith("U-Boot: ")), "")
        booted = re.search(r"^booted: slot (\w)", out, re.M)
        return {"out": out.strip(), "msg": uboot, "slot": booted and booted.group(1),
                "env": self._env()}


def _real(b):
    """What the script did, from its console lines."""
    state = b.find("bootscript: boot_slot=")
    saved = b.find("bootscript: saved ")
    counted = [l for _, l in b.lines if re.search(r"bootscript: trial boot \d+ (of|>)", l)]
    booting = b.find("bootscript: booting slot ")
    env = {k: _kv(state[0]).get(k) for k in CONTRACT} if state else None
    if env and saved:
        env.update({k: v for k, v in _kv(saved[0]).items() if k in CONTRACT})
    return {"env": env, "saved": bool(saved), "counted": counted[0] if counted else None,
            "factory": bool(b.find("bootscript: no valid boot state")),
            "slot": booting[0].split("booting slot ")[1].split()[0] if booting else None}


def _sim_count(msg):
    m = re.search(r"attempt (\d+) (of|>) (?:bootlimit )?(\S+)", msg)
    return m and (m.group(1), m.group(2), m.group(3).rstrip(":"))


def _real_count(line):
    m = re.search(r"trial boot (\d+) (of|>) (?:bootlimit )?(\S+)", line or "")
    return m and (m.group(1), m.group(2), m.group(3).rstrip(":"))


def compare(pred, b):
    """Raises Mismatch naming the first difference between simulator and script."""
    real = _real(b)
    diffs = []
    if real["factory"] != pred["msg"].startswith("no valid boot state"):
        diffs.append(f"valid boot state: script {not real['factory']}, simulator {pred['msg']!r}")
    if _sim_count(pred["msg"]) != _real_count(real["counted"]):
        diffs.append(f"trial count: script {real['counted']!r}, simulator {pred['msg']!r}")
    if real["slot"] != pred["slot"]:
        diffs.append(f"booted slot: script {real['slot']}, simulator {pred['slot']}")
    if real["env"] is not None and real["env"] != pred["env"]:
        diffs.append(f"boot state after U-Boot: script {real['env']}, simulator {pred['env']}")
    if real["env"] is None and not real["factory"]:
        diffs.append("the script printed no boot state line")
    if diffs:
        raise Mismatch("; ".join(diffs) + f" (simulator said: {pred['out']!r})")

"""RAUC's equivalent of `updater install` for the dual-bank benchmark.

The bundle is made with `rauc bundle` from the same ext4 image (as
rootfs.ext4, so RAUC picks its raw-image handler), in the `plain` format: a
squashfs (zstd level 3, like the updater's payload) signed with CMS by a
self-signed certificate made for the bench, which is also the keyring. The
`verity` format needs device-mapper (dm-verity): probe_verity() installs a
small verity bundle once so that the report can say whether it works here.
HTTP streaming would need nbd and a build with --enable-streaming (Debian's
rauc 1.8 is "configured without --enable-streaming"); for an http:// URL this
build downloads the whole bundle to $TMPDIR first, then installs it.

system.conf has one slot class, rootfs, of type raw: rootfs.0 (a dummy file,
"booted" via `rauc service --override-boot-slot=A`) and rootfs.1 = the
benchmark's slot file, with install-same=true so that every run writes it.
The bootloader is `custom`: a shell script keeping the primary slot in a file.

`rauc install` is only a D-Bus client of `rauc service`, which does the work.
The bench starts a private dbus-daemon (a session bus on a unix socket in the
bench directory; nothing listens on the network) and the service on it
(DBUS_STARTER_BUS_TYPE=session makes both ends use the session bus). The
peak RSS recorded is the service's VmHWM during the install, reset before each
run through /proc/PID/clear_refs; the client's own peak RSS is recorded too.
For a plain bundle the service mmaps the whole bundle to check its signature,
so that VmHWM includes the bundle's pages (file-backed, from the page cache);
the service's anonymous memory (RssAnon) is sampled every 20 ms for its peak.
"""
import os
import shutil
import signal
import subprocess
import threading
import time

from runner import ToolError, check, deb_version, run_timed, tail

BUS_CONF = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={sock}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""

BACKEND = """#!/bin/sh
# RAUC custom bootloader backend for the benchmark: touches nothing real.
d=$(dirname "$0")
case "$1" in
get-primary) cat "$d/primary" 2>/dev/null || echo A ;;
set-primary) echo "$2" >"$d/primary" ;;
get-state) echo good ;;
set-state) ;;
get-current) echo A ;;
*) exit 1 ;;
esac
"""

MANIFEST = """[update]
compatible=sim-board
version=2.0
description=updater benchmark image

[bundle]
format={format}

[image.rootfs]
filename=rootfs.ext4
"""

SYSTEM_CONF = """[system]
compatible=sim-board
bootloader=custom
mountprefix={dir}/mnt
data-directory={dir}/data
bundle-formats=plain verity
max-bundle-download-size=4294967296

[handlers]
bootloader-custom-backend={dir}/backend.sh

[keyring]
path={dir}/cert.pem

[slot.rootfs.0]
device={dir}/slotA.img
type=raw
bootname=A

[slot.rootfs.1]
device={slot}
type=raw
bootname=B
install-same=true
"""


def installed():
    return shutil.which("rauc")


def version():
    return deb_version("rauc")


def missing_tools():
    return [t for t in ("mksquashfs", "dbus-daemon") if not shutil.which(t)]


class Rauc:
    def __init__(self, bench, slot, image, small_image=None):
        self.dir = os.path.join(bench, "rauc")
        self.slot, self.image, self.small_image = slot, image, small_image
        self.bundle = os.path.join(self.dir, "bench.raucb")
        self.verity_bundle = os.path.join(self.dir, "probe-verity.raucb")
        self.verity = None      # what installing a verity bundle gave here
        self.download_note = None
        self.conf = os.path.join(self.dir, "system.conf")
        self.sock = os.path.join(self.dir, "bus.sock")
        self.bus = self.service = None
        self.service_log = os.path.join(self.dir, "service.log")

    def prepare(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
        for d in ("mnt", "data", "tmp"):
            os.makedirs(os.path.join(self.dir, d))
        d = self.dir
        check(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
               f"{d}/key.pem", "-out", f"{d}/cert.pem", "-days", "3650",
               "-subj", "/CN=updater bench (RAUC)"])
        self._make_bundle(self.image, "plain", self.bundle)
        if self.small_image:
            self._make_bundle(self.small_image, "verity", self.verity_bundle)
        with open(self.conf, "w") as f:
            f.write(SYSTEM_CONF.format(dir=d, slot=self.slot))
        with open(f"{d}/backend.sh", "w") as f:
            f.write(BACKEND)
        os.chmod(f"{d}/backend.sh", 0o755)
        with open(f"{d}/bus.conf", "w") as f:
            f.write(BUS_CONF.format(sock=self.sock))
        with open(f"{d}/slotA.img", "wb") as f:
            f.truncate(1 << 20)

    def _make_bundle(self, image, fmt, out):
        content = os.path.join(self.dir, "content")
        os.makedirs(content, exist_ok=True)
        os.link(image, f"{content}/rootfs.ext4")
        with open(f"{content}/manifest.raucm", "w") as f:
            f.write(MANIFEST.format(format=fmt))
        check(["rauc", "bundle", "--cert", f"{self.dir}/cert.pem", "--key",
               f"{self.dir}/key.pem", "--mksquashfs-args=-comp zstd -Xcompression-level 3",
               content, out])
        shutil.rmtree(content)

    def probe_verity(self):
        """Installs a small bundle in the `verity` format once (into the same
        slot, overwritten by every measurement): it needs device-mapper."""
        if not os.path.exists(self.verity_bundle):
            return
        try:
            self.install(self.verity_bundle)
            self.verity = "installs here (not measured: the bench uses `plain`)"
        except (ToolError, OSError) as e:
            last = [l for l in str(e).splitlines() if "LastError" in l]
            self.verity = "fails here: " + (last[0].split(":", 1)[1].strip() if last else
                                            str(e).splitlines()[0])

    def env(self):
        return dict(os.environ, DBUS_SESSION_BUS_ADDRESS=f"unix:path={self.sock}",
                    DBUS_STARTER_BUS_TYPE="session", TMPDIR=os.path.join(self.dir, "tmp"))

    def start(self):
        """The private bus and `rauc service` on it; returns once the service answers."""
        if os.path.exists(self.sock):
            os.unlink(self.sock)
        self.bus = subprocess.Popen(["dbus-daemon", f"--config-file={self.dir}/bus.conf",
                                     "--nofork", "--nopidfile"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            if os.path.exists(self.sock):
                break
            time.sleep(0.05)
        else:
            raise ToolError("dbus-daemon did not create its socket " + self.sock)
        log = open(self.service_log, "w")
        self.service = subprocess.Popen(["rauc", "-c", self.conf, "service",
                                         "--override-boot-slot=A"],
                                        env=self.env(), stdout=log, stderr=subprocess.STDOUT)
        log.close()
        err = ""
        for _ in range(50):
            if self.service.poll() is not None:
                break
            r = subprocess.run(["rauc", "-c", self.conf, "status"], env=self.env(),
                               capture_output=True, text=True)
            if r.returncode == 0:
                return
            err = r.stdout + r.stderr
            time.sleep(0.1)
        raise ToolError(f"`rauc service` on a private session bus did not answer: {tail(err)}\n"
                        f"service log:\n{tail(open(self.service_log).read())}")

    def stop(self):
        for p in (self.service, self.bus):
            if p and p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        self.service = self.bus = None

    def _status(self, *fields):
        values = dict.fromkeys(fields, 0)
        try:
            with open(f"/proc/{self.service.pid}/status") as f:
                for line in f:
                    key = line.split(":", 1)[0]
                    if key in values:
                        values[key] = int(line.split()[1])
        except OSError:
            pass
        return values

    def _hwm(self, reset=False):
        if reset:
            with open(f"/proc/{self.service.pid}/clear_refs", "w") as f:
                f.write("5")
        return self._status("VmHWM")["VmHWM"]

    def install(self, source):
        """source: the bundle's path or URL. Returns seconds (of `rauc install`,
        which returns when the service signals completion), rss_kib (the
        service's VmHWM during the install), anon_kib (its sampled peak
        RssAnon) and client_rss_kib."""
        if not self.service or self.service.poll() is not None:
            raise ToolError("`rauc service` is not running; its log:\n"
                            + tail(open(self.service_log).read()))
        self._hwm(reset=True)
        anon, done = [self._status("RssAnon")["RssAnon"]], threading.Event()

        def sample():
            while not done.wait(0.02):
                anon[0] = max(anon[0], self._status("RssAnon")["RssAnon"])
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            r = run_timed(["rauc", "-c", self.conf, "install", source], env=self.env(),
                          timeout=300)
        except ToolError as e:
            raise ToolError(f"{e}\nservice log:\n{tail(open(self.service_log).read())}") from None
        finally:
            done.set()
            sampler.join()
        r["client_rss_kib"] = r["rss_kib"]
        r["rss_kib"] = self._hwm()
        if "://" in source and self.download_note is None:
            with open(self.service_log) as f:
                notes = [l.strip() for l in f if "Remote URI detected" in l]
            self.download_note = notes[-1][notes[-1].index("Remote URI"):] if notes else ""
        r["anon_kib"] = anon[0]
        return r

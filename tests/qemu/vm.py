"""One QEMU boot of the test disk, watched through its serial console.

Debian's U-Boot (qemu-x86, 32-bit: the 64-bit build resets inside zboot), TCG
only (the /dev/kvm here is a nested software virtualizer that U-Boot dies on),
no network. The guest's `poweroff -f`, a reset (-no-reboot) or a kill ends the
boot. Every console line is kept with the host time it arrived at.
"""
import os
import select
import signal
import subprocess
import time

UBOOT_ROM = "/usr/lib/u-boot/qemu-x86/u-boot.rom"
SCRIPT_FIRST_LINE = "bootscript: start"


class Boot:
    """The console of one boot: lines as (seconds since QEMU start, text)."""

    def __init__(self):
        self.lines = []  # (host seconds, text without the kernel's timestamp)
        self.raw = []  # (host seconds, text as printed)
        self.rc = None
        self.killed = False
        self.timed_out = False
        self.no_script = False
        self.wall = 0.0

    def text(self):
        return "\n".join(t for _, t in self.lines)

    def find(self, prefix):
        """Lines starting with prefix (after any kernel timestamp)."""
        return [t for _, t in self.lines if t.startswith(prefix)]

    def first_time(self, needle):
        for ts, t in self.lines:
            if needle in t:
                return ts
        return None


def boot(disk, log_path, update_disk=None, timeout=180, kill_at=None, script_timeout=20.0,
         memory="256M", extra=(), direct=None):
    """Boot once. kill_at=(needle, delay): SIGKILL QEMU `delay` seconds after
    the first console line containing needle, or for which needle(line) is
    true (a power cut). The boot is given
    up (no_script) when U-Boot's script has not started within script_timeout."""
    cmd = ["qemu-system-x86_64", "-accel", "tcg", "-m", memory]
    if direct:  # (kernel, initrd, command line): QEMU loads them, no U-Boot
        cmd += ["-kernel", direct[0], "-initrd", direct[1], "-append", direct[2]]
        script_timeout = None
    else:
        cmd += ["-bios", UBOOT_ROM]
    cmd += ["-drive", f"file={disk},format=raw,if=virtio,cache=writeback"]
    if update_disk:
        cmd += ["-drive", f"file={update_disk},format=raw,if=virtio,readonly=on"]
    # -vga none: no VESA set-up in U-Boot, where the rare early resets were seen
    cmd += ["-nic", "none", "-vga", "none", "-display", "none", "-serial", "stdio", "-monitor", "none",
            "-no-reboot"] + list(extra)
    b = Boot()
    start = time.monotonic()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, start_new_session=True)
    buf = b""
    kill_deadline = None
    with open(log_path, "wb") as log:
        fd = p.stdout.fileno()
        while True:
            now = time.monotonic() - start
            if kill_deadline is not None and now >= kill_deadline:
                _kill(p)
                b.killed = True
                break
            if now > timeout:
                _kill(p)
                b.timed_out = True
                break
            if script_timeout and now > script_timeout and not any(SCRIPT_FIRST_LINE in t for _, t in b.lines):
                _kill(p)
                b.no_script = True
                break
            wait = 0.2 if kill_deadline is None else max(0.0, min(0.2, kill_deadline - now))
            r, _, _ = select.select([fd], [], [], wait)
            if not r:
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            log.write(chunk)
            log.flush()
            buf += chunk
            ts = time.monotonic() - start
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                text = line.decode("utf-8", "replace").replace("\r", "").rstrip()
                b.raw.append((ts, text))
                text = _strip_printk(text)
                b.lines.append((ts, text))
                if kill_at and kill_deadline is None and _matches(kill_at[0], text):
                    kill_deadline = ts + kill_at[1]
    if buf:
        b.lines.append((time.monotonic() - start, _strip_printk(buf.decode("utf-8", "replace"))))
    b.rc = p.wait()
    b.wall = time.monotonic() - start
    if not direct and not b.killed and not b.timed_out and \
            not any(SCRIPT_FIRST_LINE in t for _, t in b.lines):
        b.no_script = True  # U-Boot ended (reset) before the script: infrastructure
    return b


def _matches(needle, text):
    return needle(text) if callable(needle) else needle in text


def _kill(p):
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    p.wait()


def _strip_printk(text):
    """'[    1.234567] guest: x' -> 'guest: x' (the kernel time stays in raw logs)."""
    if text.startswith("[") and "] " in text[:20]:
        head, rest = text.split("] ", 1)
        try:
            float(head[1:])
            return rest
        except ValueError:
            pass
    return text


def printk_time(b, needle):
    """The kernel timestamp (printk.time=1) of the first raw line containing needle."""
    for _, t in b.raw:
        if needle in t and t.startswith("[") and "] " in t[:20]:
            try:
                return float(t[1:t.index("]")])
            except ValueError:
                pass
    return None

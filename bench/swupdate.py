"""SWUpdate's equivalent of `updater install` for the dual-bank benchmark.

A .swu is a cpio archive (newc) holding sw-description (libconfig syntax), its
CMS signature sw-description.sig and the image. The image is the same zstd
stream as the updater bundle's payload, installed by the `raw` handler with
`compressed = "zstd"` and `sha256` (of the compressed artifact, checked over
the stream), `installed-directly = true` (streamed into the slot, not copied
to $TMPDIR first). Debian's build refuses to start without a public key (it is
built for signed images), so sw-description is signed with a self-signed RSA
certificate made for the bench. `hardware-compatibility` is mandatory in this
build too; the bench passes -H sim-board:1.0.

A second .swu adds SWUpdate's `readback` script handler, which after the
install re-reads the slot and compares its SHA-256 with the image's.

SWUpdate's raw handler does not fsync the slot, and `swupdate -i` and the
`-d` downloader learn that the install finished by polling its status once a
second; so besides the time to exit, the time of its "SWUPDATE successful"
message is recorded, and the bench fsyncs the slot as soon as it reads that
message (while swupdate is still polling) and records how long that took.
"""
import hashlib
import os
import shutil
import subprocess

from runner import ToolError, check, deb_version, fsync_seconds, run_timed

MARKER = "SWUPDATE successful"
HWREV = ("sim-board", "1.0")


def installed():
    return shutil.which("swupdate")


def version():
    return deb_version("swupdate")


def _newc_header(name, size, ino, mode):
    n = name.encode() + b"\0"
    fields = (ino, mode, 0, 0, 1, 0, size, 0, 0, 0, 0, len(n), 0)
    h = b"070701" + b"".join(b"%08X" % v for v in fields) + n
    return h + b"\0" * (-len(h) % 4)


def write_cpio(out, members):
    """members: (name in the archive, path) in order; SWUpdate wants
    sw-description first and its signature second."""
    with open(out + ".tmp", "wb") as o:
        for ino, (name, path) in enumerate(members, 1):
            size = os.path.getsize(path)
            o.write(_newc_header(name, size, ino, 0o100644))
            with open(path, "rb") as f:
                shutil.copyfileobj(f, o, 1 << 20)
            o.write(b"\0" * (-size % 4))
        o.write(_newc_header("TRAILER!!!", 0, 0, 0))
        o.write(b"\0" * (-o.tell() % 512))
    os.replace(out + ".tmp", out)


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def sw_description(slot, payload_sha, image_sha=None, image_size=0):
    readback = ""
    if image_sha:
        readback = f"""
	scripts: (
		{{
			type = "readback";
			device = "{slot}";
			properties: {{
				sha256 = "{image_sha}";
				size = "{image_size}";
				offset = "0";
			}};
		}}
	);"""
    return f"""software =
{{
	version = "2.0";
	description = "updater benchmark image";
	hardware-compatibility: [ "{HWREV[1]}" ];
	images: (
		{{
			filename = "rootfs.ext4.zst";
			type = "raw";
			device = "{slot}";
			compressed = "zstd";
			installed-directly = true;
			sha256 = "{payload_sha}";
		}}
	);{readback}
}}
"""


class SWUpdate:
    def __init__(self, bench, slot, payload, image):
        self.dir = os.path.join(bench, "swupdate")
        self.slot, self.payload, self.image = slot, payload, image
        self.swu = os.path.join(self.dir, "bench.swu")
        self.swu_readback = os.path.join(self.dir, "bench-readback.swu")
        self.cert = os.path.join(self.dir, "cert.pem")
        self.tmp = os.path.join(self.dir, "tmp")
        self.unsigned_error = ""

    def prepare(self):
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.tmp)
        key = os.path.join(self.dir, "key.pem")
        check(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
               "-out", self.cert, "-days", "3650", "-subj", "/CN=updater bench (SWUpdate)"])
        payload_sha = sha256_file(self.payload)
        image_sha = sha256_file(self.image)
        for out, desc in ((self.swu, sw_description(self.slot, payload_sha)),
                          (self.swu_readback, sw_description(self.slot, payload_sha, image_sha,
                                                             os.path.getsize(self.image)))):
            d = out[:-len(".swu")] + ".sw-description"
            with open(d, "w") as f:
                f.write(desc)
            check(["openssl", "cms", "-sign", "-in", d, "-out", d + ".sig", "-signer", self.cert,
                   "-inkey", key, "-outform", "DER", "-nosmimecap", "-binary"])
            write_cpio(out, [("sw-description", d), ("sw-description.sig", d + ".sig"),
                             ("rootfs.ext4.zst", self.payload)])
        # What this build says about an image without a key (for the report).
        r = subprocess.run(["swupdate", "-l", "3", "-H", ":".join(HWREV), "-i", self.swu],
                           capture_output=True, text=True, env=self.env(), timeout=60)
        if r.returncode != 0:
            self.unsigned_error = (r.stdout + r.stderr).strip().splitlines()[-1]

    def env(self):
        # Its IPC sockets (sockinstctrl, swupdateprog) go to $TMPDIR.
        return dict(os.environ, TMPDIR=self.tmp)

    def install(self, source, http=False, readback=False):
        """source: a .swu path, or its URL with http=True (readback: the .swu
        has the readback handler). Returns seconds (to exit), done (to the
        success message), flush (the fsync of the slot started on that
        message), rss_kib."""
        argv = ["swupdate", "-l", "3", "-H", ":".join(HWREV), "-k", self.cert]
        argv += ["-d", f"-u {source} -t 30"] if http else ["-i", source]
        r = run_timed(argv, env=self.env(), marker=MARKER,
                      on_marker=lambda: fsync_seconds(self.slot), timeout=300)
        if readback and "Readback verification success" not in r["output"]:
            raise ToolError(f"`{' '.join(argv)}`: no readback verification message:\n"
                            f"{r['output'][-1000:]}")
        r["flush"] = r["marker_result"]
        r["done"] = r["marker_seconds"]
        return r

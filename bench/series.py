"""The release series of the flash benchmark (bench/report.py): four
root filesystems built from real Debian packages, each as an ext4 image (and
its signed updater bundle) and as a signed OSTree commit, with static deltas
between consecutive releases. Built once and cached under
build/bench/series/ (rebuilt when the package lists below change).

    1.0  base system (BASE)
    1.1  security fix: the same list, with openssl and libssl3 at the newest
         version Debian offers (1.0 has the one before it)
    2.0  feature set: BASE + FEATURE (Python 3.11, SQLite, curl)
    3.0  larger: BASE + FEATURE + LARGER (Perl, systemd, OpenSSH, iproute2),
         and a new kernel

Packages are fetched with `apt-get download` (the versions apt offers on the
first run; the .debs stay in the cache) and unpacked with `dpkg-deb -x`
(no maintainer scripts run: a root filesystem's files, not an installed
system). /bin, /sbin, /lib, /lib64 are merged into /usr as on a merged-/usr
Debian system. The kernel is a dummy file (6 MiB of incompressible bytes,
determined by its version) at usr/lib/modules/<kver>/vmlinuz. If apt offers
only one version of openssl/libssl3, 1.1 is made by patching those packages'
files instead (the report says which).

Stdlib only; shells out to apt-get, dpkg-deb, mkfs.ext4, ostree, gpg and the
updater (bundle create), and to tests/lib/ostree.sh for the server side.
"""
import hashlib
import json
import math
import os
import shutil
import subprocess
import time

import runner  # bench/runner.py

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
UPDATER = os.path.join(TOP, "updater")
LIBS = ("tests/lib/common.sh", "tests/lib/ostree.sh")
BUILD_VERSION = 4      # bump when the layout of what is built changes
REF = "bench/stable"
COMPATIBLE = "sim-board"
EPOCH = 1700000000     # the one time of every file and of the file system

# How an ext4 image can be built from a tree (bench/delta_baselines.py
# compares them); the series is built "stable4k", the way docs/dualbank.md
# tells a build system to: the same files give the same blocks, and a file's
# data is aligned with the 4 KiB blocks a delta compares.
IMAGE_BUILDS = {
    "default": "mke2fs's defaults (a random UUID and hash seed, the times the files have and "
               "the time of the build; 1 KiB blocks below 512 MiB)",
    "stable": "every input fixed (UUID and hash seed the same for every release, times)",
    "stable4k": "every input fixed, and `-b 4096`",
}
SERIES_BUILD = "stable4k"

BASE = """base-files base-passwd netbase libc6 libc-bin libgcc-s1 libstdc++6 bash dash coreutils
libacl1 libattr1 libselinux1 libpcre2-8-0 libgmp10 libtinfo6 libcrypt1 zlib1g libzstd1 liblzma5
libbz2-1.0 liblz4-1 sed grep gzip tar findutils diffutils mount libmount1 libblkid1 libuuid1
libsmartcols1 util-linux libudev1 libcap-ng0 libaudit1 libaudit-common libpam0g libsystemd0
libgcrypt20 libgpg-error0 hostname login passwd libpam-modules libpam-modules-bin libpam-runtime
libsemanage2 libsemanage-common libsepol2 libbsd0 libmd0 libdb5.3 procps libproc2-0 libncursesw6
ncurses-base ncurses-bin libssl3 openssl ca-certificates kmod libkmod2 debconf
sensible-utils""".split()
FEATURE = """python3.11-minimal libpython3.11-minimal libpython3.11-stdlib python3.11
python3-minimal python3 libpython3-stdlib libexpat1 libffi8 libsqlite3-0 libreadline8
readline-common media-types sqlite3 curl libcurl4 libnghttp2-14 libpsl5 librtmp1 libssh2-1
libldap-2.5-0 libsasl2-2 libsasl2-modules-db libbrotli1 libidn2-0 libunistring2 libgnutls30
libhogweed6 libnettle8 libp11-kit0 libtasn1-6 libgssapi-krb5-2 libkrb5-3 libk5crypto3
libkrb5support0 libcom-err2 libkeyutils1""".split()
LARGER = """perl-base perl-modules-5.36 libperl5.36 perl libgdbm6 libgdbm-compat4 systemd
libsystemd-shared libapparmor1 libip4tc2 libcryptsetup12 libdevmapper1.02.1 libjson-c5
libargon2-1 libseccomp2 libfdisk1 systemd-sysv openssh-server openssh-client
openssh-sftp-server libwrap0 libfido2-1 libcbor0.8 libedit2 ucf runit-helper iproute2 libelf1
libmnl0 libbpf1 libcap2 libcap2-bin libxtables12 libtirpc3 libtirpc-common""".split()
FIX = ["openssl", "libssl3"]       # the security fix of 1.1
KERNELS = ("6.1.0-bench1", "6.1.0-bench2")

RELEASES = [
    # version, what it is, package lists, kernel, fixed packages at the newer version
    ("1.0", "base system", [BASE], KERNELS[0], False),
    ("1.1", "security fix: openssl and libssl3 updated, nothing else", [BASE], KERNELS[0], True),
    ("2.0", "feature set added: Python 3.11, SQLite, curl (and their libraries)",
     [BASE, FEATURE], KERNELS[0], True),
    ("3.0", "larger: adds Perl, systemd, OpenSSH, iproute2, and a new kernel",
     [BASE, FEATURE, LARGER], KERNELS[1], True),
]


def log(msg):
    print(f"bench series: {msg}", flush=True)


def sh(cmd, capture=False, **kw):
    r = subprocess.run(cmd, shell=True, check=True, executable="/bin/bash",
                       stdout=subprocess.PIPE if capture else subprocess.DEVNULL, **kw)
    return r.stdout.decode().strip() if capture else None


def bash_lib(cmd, capture=False, env=None):
    src = " ".join(f'. "{TOP}/{l}";' for l in LIBS)
    return sh(f"{src} {cmd}", capture=capture, env=env)


def cache_key():
    data = json.dumps([BUILD_VERSION, SERIES_BUILD, BASE, FEATURE, LARGER, FIX, KERNELS,
                       [r[:2] for r in RELEASES]])
    return hashlib.sha256(data.encode()).hexdigest()[:16]


def native_arch():
    return sh("dpkg --print-architecture", capture=True)


def versions_of(pkg):
    """Versions apt offers for pkg on this architecture, newest first."""
    arch = native_arch()
    out = sh(f"apt-cache madison {pkg}", capture=True)
    vers = []
    for line in out.splitlines():
        parts = [p.strip() for p in line.split("|")]
        if len(parts) == 3 and parts[0] == pkg and (f" {arch} " in parts[2] or " all " in parts[2]) \
                and parts[1] not in vers:
            vers.append(parts[1])
    # madison lists by priority and version; sort properly with dpkg
    for i in range(1, len(vers)):
        j = i
        while j > 0 and subprocess.run(["dpkg", "--compare-versions", vers[j], "gt", vers[j - 1]]
                                       ).returncode == 0:
            vers[j], vers[j - 1] = vers[j - 1], vers[j]
            j -= 1
    return vers


def mkfs_image(version, tree, out, size_mb, build):
    """`mkfs.ext4 -d tree` into out, the IMAGE_BUILDS way build; returns the
    tree's file count. The stable builds set every time in the tree (touch
    -h) first."""
    files = int(sh(f'find "{tree}" | wc -l', capture=True))
    inodes = files * 3 // 2 + 1024  # one inode per 2 files spare
    env, extra = dict(os.environ), "-E root_owner=0:0"
    if build != "default":
        # One UUID and hash seed for the product, not per release: with
        # metadata_csum every checksummed block depends on the UUID.
        uuid = hashlib.sha256(b"updater bench rootfs").hexdigest()
        uuid = f"{uuid[:8]}-{uuid[8:12]}-{uuid[12:16]}-{uuid[16:20]}-{uuid[20:32]}"
        extra = f"-U {uuid} -E hash_seed={uuid},root_owner=0:0"
        env.update(E2FSPROGS_FAKE_TIME=str(EPOCH), SOURCE_DATE_EPOCH=str(EPOCH))
        sh(f'find "{tree}" -exec touch -h -d @{EPOCH} {{}} +')
        if build == "stable4k":
            extra += " -b 4096"
    sh(f'mkfs.ext4 -q -F -L rootfs-{version} -N {inodes} {extra} -d "{tree}" "{out}" {size_mb}M',
       env=env)
    return files


class Series:
    """The built series. Attributes after build(): releases (a list of dicts:
    version, what, kernel, image, image_bytes, content_bytes, files, bundle,
    payload, commit, packages {name: version}), fix (how 1.1 was made),
    deltas {(from, to): bytes}, srv (the directory the test server serves),
    gpg_home, gpg_keyring, key (the updater bundle key)."""

    def __init__(self, bench_dir):
        self.dir = os.path.join(bench_dir, "series")
        self.srv = os.path.join(self.dir, "srv")
        self.debs = os.path.join(self.dir, "debs")
        self.gpg_dir = os.path.join(self.dir, "gpg")
        self.gpg_home = os.path.join(self.gpg_dir, "gnupg")
        self.gpg_keyring = os.path.join(self.gpg_dir, "trusted.gpg")
        self.key = os.path.join(self.dir, "keys", "release.pem")
        self.meta_path = os.path.join(self.dir, "series.json")
        self.build_seconds = 0.0

    # --- the cache ------------------------------------------------------------

    def build(self):
        key = cache_key()
        if os.path.exists(self.meta_path):
            with open(self.meta_path) as f:
                meta = json.load(f)
            if meta.get("key") == key and all(os.path.exists(r["image"]) and os.path.exists(r["bundle"])
                                               for r in meta["releases"]):
                self._load(meta)
                return self
        t0 = time.monotonic()
        log(f"building the release series under {self.dir} (once; cached afterwards)")
        for d in ("srv", "images", "trees", "keys"):
            shutil.rmtree(os.path.join(self.dir, d), ignore_errors=True)
        os.makedirs(self.srv)
        os.makedirs(os.path.join(self.dir, "images"))
        os.makedirs(os.path.dirname(self.key))
        meta = {"key": key, "releases": [], "deltas": {}}
        debs, fix = self._download()
        meta["fix"] = fix
        sh(f'openssl genpkey -algorithm ed25519 -out "{self.key}" && '
           f'openssl pkey -in "{self.key}" -pubout -out "{self.key[:-4]}.pub.pem"')
        self._gpg()
        repo = os.path.join(self.srv, "repo-delta")
        bash_lib(f'ostree_server_init "{repo}"')
        prev = None
        for version, what, lists, kver, fixed in RELEASES:
            names = [p for l in lists for p in l]
            names = list(dict.fromkeys(names))
            chosen = {}
            for n in names:
                if n in FIX and fix["mode"] == "versions":
                    chosen[n] = debs[n][fix["new"][n] if fixed else fix["old"][n]]
                else:
                    chosen[n] = next(iter(debs[n].values()))
            log(f"{version}: unpacking {len(chosen)} packages")
            tree = os.path.join(self.dir, "trees", version)
            self._unpack(tree, chosen.values())
            if fixed and fix["mode"] == "patch":
                self._patch_fix(tree)
            self._kernel(tree, kver)
            self._os_release(tree, version)
            rel = {"version": version, "what": what, "kernel": kver,
                   "packages": {n: os.path.basename(p).split("_")[1] for n, p in chosen.items()}}
            rel.update(self._image(tree, version))
            rel["bundle"] = os.path.join(self.srv, "bundles", f"{version}.upd")
            os.makedirs(os.path.dirname(rel["bundle"]), exist_ok=True)
            sh(f'"{UPDATER}" bundle create --image "{rel["image"]}" --version {version} '
               f'--compatible {COMPATIBLE} --key "{self.key}" --output "{rel["bundle"]}"')
            rel["payload"] = os.path.join(self.dir, "images", f"{version}.zst")
            runner.extract_payload(rel["bundle"], rel["payload"])
            otree = self._ostree_tree(tree)
            rel["commit"] = bash_lib(f'{self._gpg_env()} ostree_server_commit "{repo}" {REF} '
                                     f'"{otree}" {version}', capture=True).split()[-1]
            shutil.rmtree(otree)
            shutil.rmtree(tree)
            if prev:
                d = bash_lib(f'{self._gpg_env()} ostree_server_delta "{repo}" {prev["commit"]} '
                             f'{rel["commit"]}', capture=True).split()[-1]
                meta["deltas"][f"{prev['version']}-{version}"] = sum(
                    os.path.getsize(os.path.join(d, f)) for f in os.listdir(d))
            meta["releases"].append(rel)
            prev = rel
            log(f"{version}: image {rel['image_bytes'] >> 20} MiB, content "
                f"{rel['content_bytes'] >> 20} MiB in {rel['files']} files, bundle "
                f"{os.path.getsize(rel['bundle']) >> 20} MiB, commit {rel['commit'][:12]}")
        bash_lib(f'{self._gpg_env()} ostree_server_summary "{repo}"')
        # The same commits without deltas: objects only.
        plain = os.path.join(self.srv, "repo-plain")
        sh(f'cp -al "{repo}" "{plain}" && rm -rf "{plain}/deltas" "{plain}/delta-indexes" '
           f'"{plain}/summary" "{plain}/summary.sig"')
        bash_lib(f'{self._gpg_env()} ostree_server_summary "{plain}"')
        shutil.rmtree(os.path.join(self.dir, "trees"), ignore_errors=True)
        meta["build_seconds"] = time.monotonic() - t0
        with open(self.meta_path + ".tmp", "w") as f:
            json.dump(meta, f, indent=1)
        os.replace(self.meta_path + ".tmp", self.meta_path)
        log(f"built in {meta['build_seconds']:.0f} s")
        self._load(meta)
        return self

    def _load(self, meta):
        self.releases = meta["releases"]
        self.fix = meta["fix"]
        self.deltas = meta["deltas"]
        self.build_seconds = meta.get("build_seconds", 0)

    # --- packages ---------------------------------------------------------------

    def _download(self):
        """apt-get download of every package (cached in debs/). Returns
        {name: {version: path}} and how the fix release is made."""
        os.makedirs(self.debs, exist_ok=True)
        names = list(dict.fromkeys(BASE + FEATURE + LARGER))
        fix = {"mode": "versions", "old": {}, "new": {}}
        for p in FIX:
            v = versions_of(p)
            if len(v) < 2:
                fix = {"mode": "patch", "old": {}, "new": {}}
                break
            fix["new"][p], fix["old"][p] = v[0], v[1]
        want = [n for n in names if n not in FIX or fix["mode"] == "patch"]
        if fix["mode"] == "versions":
            want += [f"{p}={fix[w][p]}" for p in FIX for w in ("old", "new")]
        have = self._debs()
        missing = [w for w in want if not self._has(have, w)]
        if missing:
            log(f"apt-get download of {len(missing)} packages into {self.debs}")
            sh("apt-get download -q " + " ".join(missing), cwd=self.debs,
               stderr=subprocess.STDOUT)
            have = self._debs()
        still = [w for w in want if not self._has(have, w)]
        if still:
            raise SystemExit(f"bench series: apt-get download did not fetch {still}")
        return have, fix

    def _debs(self):
        have = {}
        for f in sorted(os.listdir(self.debs)):
            if f.endswith(".deb"):
                name, ver = f.split("_")[:2]
                ver = ver.replace("%3a", ":")
                have.setdefault(name, {})[ver] = os.path.join(self.debs, f)
        return have

    @staticmethod
    def _has(have, want):
        name, _, ver = want.partition("=")
        return name in have and (not ver or ver in have[name])

    def _unpack(self, tree, debs):
        shutil.rmtree(tree, ignore_errors=True)
        os.makedirs(tree)
        for d in debs:
            sh(f'dpkg-deb -x "{d}" "{tree}"')
        usr_merge(tree)

    def _patch_fix(self, tree):
        """Only one version of the fix packages here: change their files."""
        for rel in ("usr/lib/x86_64-linux-gnu/libssl.so.3", "usr/lib/x86_64-linux-gnu/libcrypto.so.3",
                    "usr/bin/openssl"):
            p = os.path.join(tree, rel)
            if os.path.exists(p):
                with open(p, "ab") as f:
                    f.write(hashlib.sha256(rel.encode()).digest() * 128)

    def _kernel(self, tree, kver):
        d = os.path.join(tree, "usr", "lib", "modules", kver)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "vmlinuz"), "wb") as f:
            seed = hashlib.sha256(kver.encode()).digest()
            for i in range(6 << 20 >> 15):      # 6 MiB, 32 KiB at a time
                block = hashlib.sha256(seed + i.to_bytes(4, "big")).digest()
                f.write(hashlib.shake_256(block).digest(32768))

    def _os_release(self, tree, version):
        text = ('PRETTY_NAME="Debian GNU/Linux 12 (updater bench series %s)"\nNAME="Debian GNU/Linux"\n'
                'ID=debian\nVERSION_ID="%s"\n' % (version, version))
        p = os.path.join(tree, "usr", "lib", "os-release")
        if os.path.lexists(p):
            os.unlink(p)
        with open(p, "w") as f:
            f.write(text)
        # The ext4 image gets a regular /etc/os-release (the simulated
        # dual-bank boot reads it with debugfs, which does not follow links).
        e = os.path.join(tree, "etc", "os-release")
        if os.path.lexists(e):
            os.unlink(e)
        with open(e, "w") as f:
            f.write(text)

    def _image(self, tree, version):
        content = int(sh(f'du -s -B1 "{tree}"', capture=True).split()[0])
        img = os.path.join(self.dir, "images", f"{version}.img")
        # 15 % free space plus 16 MiB.
        size_mb = math.ceil(content * 1.15 / 1048576) + 16
        files = mkfs_image(version, tree, img, size_mb, SERIES_BUILD)
        return {"image": img, "image_bytes": os.path.getsize(img), "content_bytes": content,
                "files": files}

    def _ostree_tree(self, tree):
        """The same files laid out for OSTree (docs/ostree-server.md): /etc
        as usr/etc, an empty /var, sysroot/ and the ostree link."""
        otree = tree + ".ostree"
        shutil.rmtree(otree, ignore_errors=True)
        sh(f'cp -al "{tree}" "{otree}"')
        os.rename(os.path.join(otree, "etc"), os.path.join(otree, "usr", "etc"))
        e = os.path.join(otree, "usr", "etc", "os-release")
        os.unlink(e)
        os.symlink("../usr/lib/os-release", e)
        shutil.rmtree(os.path.join(otree, "var"), ignore_errors=True)
        os.makedirs(os.path.join(otree, "var"))
        os.makedirs(os.path.join(otree, "sysroot"), exist_ok=True)
        if not os.path.lexists(os.path.join(otree, "ostree")):
            os.symlink("sysroot/ostree", os.path.join(otree, "ostree"))
        return otree

    # --- signing ------------------------------------------------------------------

    def _gpg(self):
        shutil.rmtree(self.gpg_dir, ignore_errors=True)
        bash_lib(f'ostree_gpg_init "{self.gpg_dir}"; ostree_gpg_stop; '
                 f'echo "$OSTREE_GPG_KEYID" >"{self.gpg_dir}/keyid"')

    def _gpg_env(self):
        # OSTREE_COMPATIBLE: the board the commits name (updater.compatible),
        # the devices' compatible.
        return (f'export OSTREE_SIGN_HOME="{self.gpg_home}" OSTREE_COMPATIBLE={COMPATIBLE} '
                f'OSTREE_GPG_KEYID=$(cat "{self.gpg_dir}/keyid");')


def usr_merge(tree):
    """/bin, /sbin, /lib* become links into /usr, as on merged-/usr Debian."""
    for d in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        top = os.path.join(tree, d)
        if os.path.islink(top) or not os.path.isdir(top):
            continue
        merge_into(top, os.path.join(tree, "usr", d))
        shutil.rmtree(top)
        os.symlink(f"usr/{d}", top)


def merge_into(src, dst):
    os.makedirs(dst, exist_ok=True)
    for name in os.listdir(src):
        s, t = os.path.join(src, name), os.path.join(dst, name)
        if os.path.isdir(s) and not os.path.islink(s) and os.path.isdir(t) and not os.path.islink(t):
            merge_into(s, t)
        elif not os.path.lexists(t):
            os.rename(s, t)


if __name__ == "__main__":
    import sys
    s = Series(os.path.abspath(os.environ.get("BENCH_DIR", os.path.join(TOP, "build", "bench")))).build()
    json.dump({"releases": s.releases, "deltas": s.deltas, "fix": s.fix}, sys.stdout, indent=1)

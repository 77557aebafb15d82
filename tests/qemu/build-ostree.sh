#!/bin/bash
# build-ostree.sh OUT UPDATER: what the ostree QEMU scenarios boot, into OUT:
#   repo/            the release repository (archive): v1, then v2 and a
#                    broken v2 on their own branches, with static deltas
#   update-2.0/, update-2.0-broken/
#                    what the update disk carries: a copy of the repository
#                    whose branch qemu/stable is that release
#   update-2.0-badsig/
#                    update-2.0 with v2 signed by a key the device does not
#                    trust (the guest must refuse it)
#   gpg/             the test signing keys (made once, kept): gnupg/ the
#                    GPG home, trusted.gpg the release public key the guest
#                    verifies with (/etc/updater/ostree.gpg), other.gpg
#   disk.img         one ostree sysroot partition with v1 deployed (U-Boot
#                    entries in /boot/loader/uEnv.txt, the script in
#                    /boot/boot.scr), the boot state in copy 0
# UPDATER is the full updater (with libostree), copied in with its libraries.
# Runs as root (as CI does): `ostree admin deploy` writes root-owned trees;
# CAP_SYS_ADMIN is dropped so libostree does not freeze the host's file system.
# Every commit and summary is GPG-signed with the release key (the fixtures of
# tests/lib/ostree.sh sign them); the guest verifies as a device does.
set -euo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
OUT=$1
UPDATER=$2
. "$TOP/tests/lib/common.sh"
. "$TOP/tests/lib/ostree.sh"
KDIR=$TOP/build/kernel
RAMDISK=$TOP/build/ramdisk/initramfs.img
BOOTSCR=$TOP/build/boot/boot.scr
OS=qemu
REF=qemu/stable
# The guest config's compatible: every commit carries it as updater.compatible
# (ostree_server_commit), which the updater requires.
export OSTREE_COMPATIBLE=qemu-x86
ENV0=0x8000 ENV1=0xc000 ENVSIZE=0x4000
SYSROOT_MB=320
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
KVER=$(cat "$KDIR/version")
nofreeze() { setpriv --bounding-set=-sys_admin -- "$@"; }
# what the guest needs besides the updater: libostree verifies signatures
# through gpgme, which runs gpg (and gpgconf to find it)
GUEST_BINS="$UPDATER /usr/bin/gpg /usr/bin/gpgconf"
for b in $GUEST_BINS; do
	[ -x "$b" ] || { echo "build-ostree.sh: no $b (apt-get install gpg gpgconf)" >&2; exit 1; }
done

# --- keys (cached: made once per build directory, like build.sh's) ---------------
if ! ostree_gpg_load "$OUT/gpg"; then
	rm -rf "$OUT/gpg"
	ostree_gpg_init "$OUT/gpg"
fi
trap ostree_gpg_stop EXIT

# make_tree DIR VERSION [broken]: a deployable tree (merged /usr)
make_tree() {
	local t=$1 version=$2 broken=${3:-}
	rm -rf "$t"
	mkdir -p "$t"/usr/{bin,sbin,lib/x86_64-linux-gnu,lib64,etc/updater} "$t/usr/lib/modules/$KVER"
	ln -s usr/bin "$t/bin"
	ln -s usr/sbin "$t/sbin"
	ln -s usr/lib "$t/lib"
	ln -s usr/lib64 "$t/lib64"
	mkdir -p "$t"/{proc,sys,dev,run,tmp,var,sysroot,boot,mnt/update,data}
	ln -s sysroot/ostree "$t/ostree"
	cp /bin/busybox "$t/usr/bin/busybox"
	for a in $(/bin/busybox --list); do
		[ "$a" = busybox ] || ln -s busybox "$t/usr/bin/$a"
	done
	install -m 0755 "$TOP/tests/qemu/guest-init" "$t/usr/sbin/init"
	install -m 0755 "$UPDATER" "$t/usr/bin/updater"
	install -m 0755 /usr/bin/gpg /usr/bin/gpgconf "$t/usr/bin/"
	# shellcheck disable=SC2086 # a list of paths without blanks
	ldd $GUEST_BINS | awk '/=> \//{print $3} /^\t\/lib/{print $1}' | sort -u | while read -r lib; do
		case "$lib" in
		/lib64/*) cp -L "$lib" "$t/usr/lib64/" ;;
		*) cp -L "$lib" "$t/usr/lib/x86_64-linux-gnu/" ;;
		esac
	done
	cp "$KDIR/vmlinuz" "$t/usr/lib/modules/$KVER/vmlinuz"
	cp "$RAMDISK" "$t/usr/lib/modules/$KVER/initramfs.img"
	printf 'NAME="updater qemu"\nID=updater-qemu\nVERSION_ID="%s"\n' "$version" >"$t/usr/lib/os-release"
	ln -s ../usr/lib/os-release "$t/usr/etc/os-release"
	printf '/dev/vda %s %s\n/dev/vda %s %s\n' $ENV0 $ENVSIZE $ENV1 $ENVSIZE >"$t/usr/etc/fw_env.config"
	cat >"$t/usr/etc/updater.conf" <<-CONF
	backend = "ostree";
	compatible = "$OSTREE_COMPATIBLE";
	state_dir = "/var/lib/updater";
	cmdline = "/proc/cmdline";
	version_file = "/etc/os-release";
	bootenv = { fw_env_config = "/etc/fw_env.config"; bootlimit = 3; };
	ostree = {
	  sysroot = "/sysroot"; osname = "$OS"; remote = "origin";
	  url = "file:///mnt/update/repo"; ref = "$REF";
	  gpg_verify = true; gpg_keyring = "/etc/updater/ostree.gpg";
	  keep = 2;
	};
	CONF
	cp "$OSTREE_GPG_KEYRING" "$t/usr/etc/updater/ostree.gpg"
	[ -n "$broken" ] && echo "init exits at once" >"$t/usr/etc/broken"
	head -c 1M /dev/urandom >"$t/usr/payload.bin"
}

commit() { # commit REPO TREE VERSION: on REF (bound to it), signed, for the guest's board
	ostree_server_commit "$1" "$REF" "$2" "$3" "" --bind-ref="$REF" >/dev/null
}

rm -rf "$OUT/repo" "$OUT/trees"
mkdir -p "$OUT/repo" "$OUT/trees"
ostree --repo="$OUT/repo" init --mode=archive-z2
make_tree "$OUT/trees/1.0" 1.0
commit "$OUT/repo" "$OUT/trees/1.0" 1.0
v1=$(ostree --repo="$OUT/repo" rev-parse "$REF")

# The update disks: the release repository as a server publishes it after
# the next release: qemu/stable moved on from v1 to v2 (or to the broken v2),
# a static delta v1 -> v2, the summary.
for v in 2.0 2.0-broken; do
	u=$OUT/update-$v/repo
	rm -rf "$OUT/update-$v"
	mkdir -p "$u"
	ostree --repo="$u" init --mode=archive-z2
	ostree --repo="$u" pull-local "$OUT/repo" "$REF" >/dev/null
	make_tree "$OUT/trees/$v" "${v%%-*}" $([ "$v" = 2.0-broken ] && echo broken)
	commit "$u" "$OUT/trees/$v" "${v%%-*}"
	ostree_server_delta "$u" "$v1" "$REF" >/dev/null
	ostree_server_summary "$u"
done
rm -rf "$OUT/trees"

# The same v2 with its release signature replaced by one of a key the device
# does not trust (the delta is made again: it carries the signature too).
u=$OUT/update-2.0-badsig/repo
rm -rf "$OUT/update-2.0-badsig"
cp -a "$OUT/update-2.0" "$OUT/update-2.0-badsig"
v2=$(ostree --repo="$u" rev-parse "$REF")
ostree --repo="$u" static-delta delete "$v1-$v2" >/dev/null
# (ostree 2022.7's `gpg-sign --delete` deleted nothing here, given the release
# key's fingerprint or its long id: the detached metadata goes as a whole)
rm "$u/objects/${v2:0:2}/${v2:2}.commitmeta"
ostree --repo="$u" gpg-sign --gpg-homedir="$OSTREE_SIGN_HOME" "$REF" "$OSTREE_GPG_OTHER_KEYID"
ostree_gpg_stop
ostree_server_delta "$u" "$v1" "$REF" >/dev/null
ostree_server_summary "$u" "$OSTREE_GPG_OTHER_KEYID"

# The factory sysroot: v1 deployed with libostree's U-Boot entries.
sys=$OUT/sysroot
if [ -d "$sys" ]; then chattr -R -i "$sys" 2>/dev/null || true; rm -rf "$sys"; fi
mkdir -p "$sys"
ostree admin init-fs "$sys" >/dev/null
ostree admin os-init "$OS" --sysroot="$sys" >/dev/null
ostree --repo="$sys/ostree/repo" config set sysroot.bootloader uboot
mkdir -p "$sys/boot/loader.0"
ln -s loader.0 "$sys/boot/loader"
: >"$sys/boot/loader/uEnv.txt"
# the remote as the updater sets it from its config (so it never rewrites it)
ostree --repo="$sys/ostree/repo" remote add --set=gpg-verify=true \
	--set=gpgkeypath=/etc/updater/ostree.gpg origin file:///mnt/update/repo "$REF"
ostree --repo="$sys/ostree/repo" pull-local "$OUT/repo" "$REF" >/dev/null
ostree --repo="$sys/ostree/repo" refs --create="origin:$REF" "$v1"
# updater.recovery=1: the ramdisk installs from a medium labelled UPDATER
# (ramdisk/init; later deployments inherit the karg)
nofreeze ostree admin deploy --sysroot="$sys" --os="$OS" --karg=updater.recovery=1 "origin:$REF" >/dev/null
cp "$BOOTSCR" "$sys/boot/boot.scr"
mkdir -p "$sys/ostree/deploy/$OS/var/lib/updater"

disk=$OUT/disk.img
rm -f "$disk"
truncate -s $((1 + SYSROOT_MB + 1))M "$disk"
printf 'label: dos\nstart=1MiB, size=%sMiB, type=83, bootable\n' $SYSROOT_MB | sfdisk -q "$disk"
mkfs.ext4 -q -F -L sysroot -d "$sys" "$OUT/sysroot.part" "${SYSROOT_MB}M" >/dev/null
dd if="$OUT/sysroot.part" of="$disk" bs=1M seek=1 conv=notrunc,sparse status=none
rm -f "$OUT/sysroot.part"
dep=$(cd "$sys/ostree/deploy/$OS/deploy" && ls -d *.0 | head -n1)
dep="${dep:0:12}.${dep##*.}" # the updater's id of a deployment: CSUM[0:12].SERIAL
printf 'boot_slot=%s\nupgrade_available=0\nbootcount=0\nbootlimit=3\nrollback=0\n' "$dep" |
	mkenvimage -r -p 0 -s $ENVSIZE -o "$OUT/env0.bin" -
dd if="$OUT/env0.bin" of="$disk" bs=1 seek=$((ENV0)) conv=notrunc status=none
rm -f "$OUT/env0.bin"
echo "qemu: built the ostree disk $disk (v1 deployment $dep) and the update repositories in $OUT"

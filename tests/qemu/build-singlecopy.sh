#!/bin/bash
# build-singlecopy.sh OUT UPDATER_GUEST: everything the single-copy QEMU
# scenarios boot (docs/singlecopy.md), made into OUT (build/qemu/singlecopy):
#   rootfs-1.0.img, rootfs-2.0.img, rootfs-2.0-broken.img  root images (ext4)
#   v2.0.upd, v2.0-broken.upd     bundles signed by the device's key
#   v2.0-untrusted.upd            v2 signed by a key the device does not trust
#   initramfs.img                 the single-copy ramdisk: UPDATER_GUEST (a
#                                 WITH_OSTREE=0 build) and its libraries
#   disk.img                      the factory disk: boot partition (kernel,
#                                 ramdisk, the updater's config and key), v1
#                                 on the root, the boot state in copy 0
#   disk-media.img                the same with a ramdisk that looks for a
#                                 medium labelled UPDATER at every boot
#   disk-nocheck.img, disk-plain.img  the same with the single-copy ramdisk
#                                 without ramdisk/updater.sh, and with the
#                                 ramdisk without an updater (the boot-time
#                                 cost of the check and of carrying the updater)
# UPDATER_GUEST also runs on the root; the host's ./updater signs.
set -euo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
OUT=$1
GUEST_UPDATER=$2
HOST_UPDATER=${HOST_UPDATER:-$TOP/updater}
KDIR=$TOP/build/kernel
BOOTSCR=$TOP/build/boot/boot.scr
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
. "$TOP/tests/qemu/guest-tree.sh"

ENV0=0x8000 ENV1=0xc000 ENVSIZE=0x4000
BOOT_MB=40 ROOT_MB=48 DATA_MB=40
ROOTFS_MB=44

[ -s "$KDIR/vmlinuz" ] || { echo "build-singlecopy.sh: no kernel in $KDIR (make ramdisk)" >&2; exit 1; }
[ -s "$BOOTSCR" ] || { echo "build-singlecopy.sh: no $BOOTSCR" >&2; exit 1; }

for k in release untrusted; do
	if [ ! -s "$OUT/$k.pem" ]; then
		openssl genpkey -algorithm ed25519 -out "$OUT/$k.pem"
		openssl pkey -in "$OUT/$k.pem" -pubout -out "$OUT/$k.pub.pem"
	fi
done
fw_env() { printf '/dev/vda %s %s\n/dev/vda %s %s\n' $ENV0 $ENVSIZE $ENV1 $ENVSIZE; }

# updater_conf KEYDIR ENVFILE VERSION_FILE: the config, the root's and the ramdisk's
updater_conf() {
	cat <<-CONF
	backend = "singlecopy";
	compatible = "qemu-x86";
	state_dir = "/data/updater";
	cmdline = "/proc/cmdline";
	version_file = "$3";
	bootenv = { fw_env_config = "$2"; bootlimit = 3; };
	singlecopy = { root = "/dev/vda2"; public_key = "$1/release.pub.pem"; };
	CONF
}

# make_rootfs VERSION OUT.img [broken]
make_rootfs() {
	local version=$1 img=$2 broken=${3:-} tree
	tree=$(mktemp -d)
	guest_tree "$tree" "$GUEST_UPDATER"
	printf 'NAME="updater qemu"\nID=updater-qemu\nVERSION_ID="%s"\n' "$version" >"$tree/etc/os-release"
	cp "$OUT/release.pub.pem" "$tree/etc/updater/release.pub.pem"
	fw_env >"$tree/etc/fw_env.config"
	echo /dev/vda3 >"$tree/etc/data-dev"
	updater_conf /etc/updater /etc/fw_env.config /etc/os-release >"$tree/etc/updater.conf"
	[ -n "$broken" ] && echo "init exits at once" >"$tree/etc/broken"
	head -c 6M /dev/urandom >"$tree/usr/payload.bin" # a write that takes a while
	rm -f "$img"
	mkfs.ext4 -q -F -O ^has_journal -L "rootfs-$version" -d "$tree" "$img" "${ROOTFS_MB}M" >/dev/null
	rm -rf "$tree"
}

make_rootfs 1.0 "$OUT/rootfs-1.0.img"
make_rootfs 2.0 "$OUT/rootfs-2.0.img"
make_rootfs 2.0 "$OUT/rootfs-2.0-broken.img" broken
sign() { # IMAGE VERSION KEY OUT
	"$HOST_UPDATER" bundle create --image "$1" --version "$2" --compatible qemu-x86 \
		--key "$3" --output "$4" >/dev/null
}
sign "$OUT/rootfs-2.0.img" 2.0 "$OUT/release.pem" "$OUT/v2.0.upd"
sign "$OUT/rootfs-2.0-broken.img" 2.0 "$OUT/release.pem" "$OUT/v2.0-broken.upd"
sign "$OUT/rootfs-2.0.img" 2.0 "$OUT/untrusted.pem" "$OUT/v2.0-untrusted.upd"

# --- the ramdisks ----------------------------------------------------------------
# -v and JSON progress: the harness reads the updater's states and the
# write's progress from the console
for m in cmdline always; do
	RAMDISK_UPDATER=$GUEST_UPDATER RAMDISK_BOOT=/dev/vda1 RAMDISK_DATA=/dev/vda3 RAMDISK_MEDIA=$m \
		RAMDISK_ARGS="-v --progress=json" "$TOP/ramdisk/mkramdisk.sh" "$KDIR" "$OUT/initramfs-$m.img"
done
mv "$OUT/initramfs-cmdline.img" "$OUT/initramfs.img"
# for the boot-time cost of the check (run.py): the same ramdisk without
# ramdisk/updater.sh, whose /init then boots the root as a dual-bank slot
t=$(mktemp -d)
(cd "$t" && zstd -qdc "$OUT/initramfs.img" | cpio -id --quiet && rm lib/updater/ramdisk.sh &&
	find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet | zstd -q -19 -T0 >"$OUT/initramfs-nocheck.img")
rm -rf "$t"

# --- the factory disks -------------------------------------------------------------
# make_disk OUT.img RAMDISK
make_disk() {
	local disk=$1 boot_tree data_tree
	boot_tree=$(mktemp -d)
	cp "$BOOTSCR" "$boot_tree/boot.scr"
	echo "single-copy disk (boot/boot.cmd)" >"$boot_tree/updater-singlecopy"
	cp "$KDIR/vmlinuz" "$boot_tree/vmlinuz"
	cp "$2" "$boot_tree/initrd.img"
	mkdir -m 0755 "$boot_tree/updater"
	cp "$OUT/release.pub.pem" "$boot_tree/updater/release.pub.pem"
	fw_env >"$boot_tree/updater/fw_env.config"
	# the factory root's version: the ramdisk's version_file until the updater
	# has installed (and so recorded) a root
	printf 'VERSION_ID="1.0"\n' >"$boot_tree/updater/factory-os-release"
	updater_conf /boot/updater /boot/updater/fw_env.config /boot/updater/factory-os-release \
		>"$boot_tree/updater/updater.conf"
	chmod -R go-w "$boot_tree"
	mkfs.ext4 -q -F -L boot -d "$boot_tree" "$OUT/boot.part" "${BOOT_MB}M" >/dev/null
	rm -rf "$boot_tree"
	data_tree=$(mktemp -d)
	mkdir -p "$data_tree/updater"
	mkfs.ext4 -q -F -L data -d "$data_tree" "$OUT/data.part" "${DATA_MB}M" >/dev/null
	rm -rf "$data_tree"

	rm -f "$disk"
	truncate -s $((1 + BOOT_MB + ROOT_MB + DATA_MB + 1))M "$disk"
	sfdisk -q "$disk" <<-EOF
		label: dos
		start=1MiB, size=${BOOT_MB}MiB, type=83, bootable
		size=${ROOT_MB}MiB, type=83
		size=${DATA_MB}MiB, type=83
	EOF
	put() { dd if="$1" of="$disk" bs=1M seek="$2" conv=notrunc,sparse status=none; }
	put "$OUT/boot.part" 1
	put "$OUT/rootfs-1.0.img" $((1 + BOOT_MB))
	put "$OUT/data.part" $((1 + BOOT_MB + ROOT_MB))
	printf 'boot_slot=root\nupgrade_available=0\nbootcount=0\nbootlimit=3\nrollback=0\napply_staged=0\n' |
		mkenvimage -r -p 0 -s $ENVSIZE -o "$OUT/env0.bin" -
	dd if="$OUT/env0.bin" of="$disk" bs=1 seek=$((ENV0)) conv=notrunc status=none
	rm -f "$OUT/boot.part" "$OUT/data.part" "$OUT/env0.bin"
}
make_disk "$OUT/disk.img" "$OUT/initramfs.img"
make_disk "$OUT/disk-media.img" "$OUT/initramfs-always.img"
make_disk "$OUT/disk-nocheck.img" "$OUT/initramfs-nocheck.img"
make_disk "$OUT/disk-plain.img" "$TOP/build/ramdisk/initramfs.img"
echo "qemu: built $OUT/disk.img, $OUT/disk-media.img and the bundles"

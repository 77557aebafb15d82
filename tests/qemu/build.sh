#!/bin/bash
# build.sh OUT UPDATER_GUEST: everything the dual-bank QEMU scenarios boot,
# made without root into OUT (build/qemu):
#   rootfs-1.0.img, rootfs-2.0.img, rootfs-2.0-broken.img  slot images (ext4)
#   v2.upd, v2-broken.upd                                  signed bundles
#   v2.0-untrusted.upd                                     v2 signed by another key
#   disk.img            the factory disk: v1 in slot A, B empty, the boot
#                       state in copy 0 of the environment
#   disk-media.img      the same, v1's ramdisk with an updater that looks for
#                       a medium labelled UPDATER at every boot, its config on
#                       the boot partition
# The kernel and the ramdisk come from build/kernel and build/ramdisk
# (`make ramdisk`); UPDATER_GUEST is the updater copied into the root file
# systems with the shared libraries ldd lists; the host's ./updater signs.
set -euo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
OUT=$1
GUEST_UPDATER=$2
HOST_UPDATER=${HOST_UPDATER:-$TOP/updater}
KDIR=$TOP/build/kernel
RAMDISK=$TOP/build/ramdisk/initramfs.img
BOOTSCR=$TOP/build/boot/boot.scr
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
. "$TOP/tests/qemu/guest-tree.sh"

# Disk layout (MiB): the environment copies live before the first partition.
ENV0=0x8000 ENV1=0xc000 ENVSIZE=0x4000
BOOT_MB=4 SLOT_MB=56 DATA_MB=8
ROOTFS_MB=52 # the slot image (no journal: mounted read-only); the bundle carries all of it

[ -s "$KDIR/vmlinuz" ] || { echo "build.sh: no kernel in $KDIR (make ramdisk)" >&2; exit 1; }
[ -s "$RAMDISK" ] || { echo "build.sh: no $RAMDISK (make ramdisk)" >&2; exit 1; }
[ -s "$BOOTSCR" ] || { echo "build.sh: no $BOOTSCR" >&2; exit 1; }

# --- keys (cached) ------------------------------------------------------------
if [ ! -s "$OUT/release.pem" ]; then
	openssl genpkey -algorithm ed25519 -out "$OUT/release.pem"
	openssl pkey -in "$OUT/release.pem" -pubout -out "$OUT/release.pub.pem"
fi

# --- root file systems --------------------------------------------------------
# make_rootfs VERSION OUT.img [broken] [RAMDISK]
make_rootfs() {
	local version=$1 img=$2 broken=${3:-} ramdisk=${4:-$RAMDISK} tree
	tree=$(mktemp -d)
	guest_tree "$tree" "$GUEST_UPDATER"
	mkdir -p "$tree/boot"
	# the kernel and initramfs travel with the slot: they update together
	cp "$KDIR/vmlinuz" "$tree/boot/vmlinuz"
	cp "$ramdisk" "$tree/boot/initrd.img"
	printf 'NAME="updater qemu"\nID=updater-qemu\nVERSION_ID="%s"\n' "$version" >"$tree/etc/os-release"
	cp "$OUT/release.pub.pem" "$tree/etc/updater/release.pub.pem"
	printf '/dev/vda %s %s\n/dev/vda %s %s\n' $ENV0 $ENVSIZE $ENV1 $ENVSIZE >"$tree/etc/fw_env.config"
	cat >"$tree/etc/updater.conf" <<-CONF
	backend = "dualbank";
	compatible = "qemu-x86";
	state_dir = "/data/updater";
	cmdline = "/proc/cmdline";
	version_file = "/etc/os-release";
	bootenv = { fw_env_config = "/etc/fw_env.config"; bootlimit = 3; };
	dualbank = {
	  slots = { A = "/dev/vda2"; B = "/dev/vda3"; };
	  public_key = "/etc/updater/release.pub.pem";
	};
	CONF
	[ -n "$broken" ] && echo "init exits at once" >"$tree/etc/broken"
	# some bulk that differs per release, so a write takes a while
	head -c 1M /dev/urandom >"$tree/usr/payload.bin"
	rm -f "$img"
	mkfs.ext4 -q -F -O ^has_journal -L "rootfs-$version" -d "$tree" "$img" "${ROOTFS_MB}M" >/dev/null
	rm -rf "$tree"
}

# v1 of the media disk: its ramdisk carries the updater and looks for a medium
# labelled UPDATER at every boot (ramdisk/updater.sh); its config is on the
# boot partition, the version is the booted slot's (mounted on /newroot)
RAMDISK_UPDATER=$GUEST_UPDATER RAMDISK_BOOT=/dev/vda1 RAMDISK_DATA=/dev/vda4 RAMDISK_MEDIA=always \
	RAMDISK_ARGS="-v --progress=json" "$TOP/ramdisk/mkramdisk.sh" "$KDIR" "$OUT/initramfs-media.img" >/dev/null
if [ ! -s "$OUT/untrusted.pem" ]; then
	openssl genpkey -algorithm ed25519 -out "$OUT/untrusted.pem"
fi

make_rootfs 1.0 "$OUT/rootfs-1.0.img"
make_rootfs 1.0 "$OUT/rootfs-1.0-media.img" "" "$OUT/initramfs-media.img"
make_rootfs 2.0 "$OUT/rootfs-2.0.img"
make_rootfs 2.0 "$OUT/rootfs-2.0-broken.img" broken
sign() { # IMAGE VERSION KEY OUT
	"$HOST_UPDATER" bundle create --image "$1" --version "$2" --compatible qemu-x86 \
		--key "$3" --output "$4" >/dev/null
}
for v in 2.0 2.0-broken; do
	sign "$OUT/rootfs-$v.img" "${v%%-*}" "$OUT/release.pem" "$OUT/v$v.upd"
done
sign "$OUT/rootfs-2.0.img" 2.0 "$OUT/untrusted.pem" "$OUT/v2.0-untrusted.upd"

# --- the factory disks ----------------------------------------------------------
# make_disk OUT.img SLOT_A_IMAGE [media]: media adds the ramdisk updater's
# config, key and fw_env.config to the boot partition (/updater/)
make_disk() {
	local disk=$1 boot_tree data_tree
	boot_tree=$(mktemp -d)
	cp "$BOOTSCR" "$boot_tree/boot.scr"
	if [ -n "${3:-}" ]; then
		mkdir -m 0755 "$boot_tree/updater"
		cp "$OUT/release.pub.pem" "$boot_tree/updater/release.pub.pem"
		printf '/dev/vda %s %s\n/dev/vda %s %s\n' $ENV0 $ENVSIZE $ENV1 $ENVSIZE >"$boot_tree/updater/fw_env.config"
		cat >"$boot_tree/updater/updater.conf" <<-CONF
		backend = "dualbank";
		compatible = "qemu-x86";
		state_dir = "/data/updater";
		cmdline = "/proc/cmdline";
		version_file = "/newroot/etc/os-release";
		bootenv = { fw_env_config = "/boot/updater/fw_env.config"; bootlimit = 3; };
		dualbank = {
		  slots = { A = "/dev/vda2"; B = "/dev/vda3"; };
		  public_key = "/boot/updater/release.pub.pem";
		};
		CONF
		chmod -R go-w "$boot_tree"
	fi
	mkfs.ext4 -q -F -L boot -d "$boot_tree" "$OUT/boot.part" "${BOOT_MB}M" >/dev/null
	rm -rf "$boot_tree"
	data_tree=$(mktemp -d)
	mkdir -p "$data_tree/updater"
	mkfs.ext4 -q -F -L data -d "$data_tree" "$OUT/data.part" "${DATA_MB}M" >/dev/null
	rm -rf "$data_tree"

	rm -f "$disk"
	truncate -s $((1 + BOOT_MB + 2 * SLOT_MB + DATA_MB + 1))M "$disk"
	sfdisk -q "$disk" <<-EOF
		label: dos
		start=1MiB, size=${BOOT_MB}MiB, type=83, bootable
		size=${SLOT_MB}MiB, type=83
		size=${SLOT_MB}MiB, type=83
		size=${DATA_MB}MiB, type=83
	EOF
	put() { # put IMAGE START_MIB
		dd if="$1" of="$disk" bs=1M seek="$2" conv=notrunc,sparse status=none
	}
	put "$OUT/boot.part" 1
	put "$2" $((1 + BOOT_MB))
	put "$OUT/data.part" $((1 + BOOT_MB + 2 * SLOT_MB))
	# the first boot state, as `updater init` on the factory line would write it;
	# copy 1 stays blank (invalid) until the first save
	printf 'boot_slot=A\nupgrade_available=0\nbootcount=0\nbootlimit=3\nrollback=0\n' |
		mkenvimage -r -p 0 -s $ENVSIZE -o "$OUT/env0.bin" -
	dd if="$OUT/env0.bin" of="$disk" bs=1 seek=$((ENV0)) conv=notrunc status=none
	rm -f "$OUT/boot.part" "$OUT/data.part" "$OUT/env0.bin"
}
make_disk "$OUT/disk.img" "$OUT/rootfs-1.0.img"
make_disk "$OUT/disk-media.img" "$OUT/rootfs-1.0-media.img" media
echo "qemu: built $OUT/disk.img, $OUT/disk-media.img and the bundles in $OUT"

#!/bin/sh
# mkramdisk.sh KERNEL_DIR OUT: the updater's initramfs (newc cpio, zstd or
# gzip): busybox-static, ramdisk/init, and the kernel modules the QEMU target
# needs for its root disk (virtio-blk), in dependency order as resolved by
# modprobe against KERNEL_DIR (made by kernel.sh). RAMDISK_MODULES overrides
# the module list; RAMDISK_COMPRESS=gzip picks gzip.
# The single-copy ramdisk (docs/singlecopy.md) also carries an updater:
# RAMDISK_UPDATER=BIN (a WITH_OSTREE=0 build) with the shared libraries ldd
# lists, ramdisk/updater.sh, and /etc/updater-ramdisk.conf from RAMDISK_BOOT,
# RAMDISK_DATA (the boot and data partitions), RAMDISK_MEDIA
# (cmdline|always|never, default cmdline) and RAMDISK_ARGS (global options).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
kdir=$(cd "$1" && pwd)
out=$2
ver=$(cat "$kdir/version")
mods=${RAMDISK_MODULES:-virtio_pci virtio_blk}
busybox=${BUSYBOX:-/bin/busybox}
ldd "$busybox" 2>&1 | grep -q 'not a dynamic' ||
	{ echo "mkramdisk: $busybox is not static (install busybox-static)" >&2; exit 1; }

tree=$(mktemp -d)
trap 'rm -rf "$tree"' EXIT
mkdir -p "$tree/bin" "$tree/dev" "$tree/proc" "$tree/sys" "$tree/run" "$tree/newroot" \
	"$tree/sysroot" "$tree/etc" "$tree/lib/modules"
cp "$busybox" "$tree/bin/busybox"
for a in $("$busybox" --list); do
	[ "$a" = busybox ] || ln -s busybox "$tree/bin/$a"
done
install -m 0755 "$here/init" "$tree/init"

# modprobe --show-depends prints "insmod PATH" lines, dependencies first.
: >"$tree/etc/modules"
for m in $mods; do
	modprobe -d "$kdir/modules" -S "$ver" --show-depends "$m" | while read -r cmd path _; do
		[ "$cmd" = insmod ] || continue # "builtin X": nothing to load
		name=$(basename "$path")
		grep -qx "$name" "$tree/etc/modules" && continue
		case "$name" in
		*.ko) cp "$path" "$tree/lib/modules/$name" ;;
		*.ko.xz) xz -dc "$path" >"$tree/lib/modules/${name%.xz}"; name=${name%.xz} ;;
		*.ko.zst) zstd -qdc "$path" >"$tree/lib/modules/${name%.zst}"; name=${name%.zst} ;;
		*) echo "mkramdisk: unknown module file $path" >&2; exit 1 ;;
		esac
		echo "$name" >>"$tree/etc/modules"
	done
done
echo "$ver" >"$tree/etc/kernel-version"

if [ -n "${RAMDISK_UPDATER:-}" ]; then
	[ -n "${RAMDISK_BOOT:-}" ] && [ -n "${RAMDISK_DATA:-}" ] ||
		{ echo "mkramdisk: RAMDISK_UPDATER needs RAMDISK_BOOT and RAMDISK_DATA" >&2; exit 2; }
	mkdir -p "$tree/usr/bin" "$tree/lib/updater" "$tree/boot" "$tree/data" "$tree/media" "$tree/tmp"
	install -m 0755 "$RAMDISK_UPDATER" "$tree/usr/bin/updater"
	ln -s ../usr/bin/updater "$tree/bin/updater"
	ldd "$RAMDISK_UPDATER" | awk '/=> \//{print $3} /^\t\/lib/{print $1}' | while read -r lib; do
		mkdir -p "$tree$(dirname "$lib")"
		cp -L "$lib" "$tree$lib"
	done
	install -m 0644 "$here/updater.sh" "$tree/lib/updater/ramdisk.sh"
	printf 'boot=%s\ndata=%s\nmedia=%s\nargs=%s\n' "$RAMDISK_BOOT" "$RAMDISK_DATA" \
		"${RAMDISK_MEDIA:-cmdline}" "${RAMDISK_ARGS:-}" >"$tree/etc/updater-ramdisk.conf"
fi

mkdir -p "$(dirname "$out")"
case "${RAMDISK_COMPRESS:-zstd}" in
zstd) comp="zstd -q -19 -T0" ;;
gzip) comp="gzip -9n" ;;
*) echo "mkramdisk: RAMDISK_COMPRESS must be zstd or gzip" >&2; exit 2 ;;
esac
(cd "$tree" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) | $comp >"$out.tmp"
mv "$out.tmp" "$out"
echo "ramdisk: $out ($(wc -c <"$out") bytes; modules: $(tr '\n' ' ' <"$tree/etc/modules"))"

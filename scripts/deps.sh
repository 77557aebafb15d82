#!/bin/sh
# Installs the Debian packages updater needs to build, test and demo.
# As root it runs apt-get; otherwise it prints the one command to run.
# `deps.sh bench` also installs the other updaters that `make bench` compares
# against: SWUpdate, and RAUC with squashfs-tools (rauc bundle) and dbus-daemon
# (a private bus for `rauc service`). The .swu cpio archive is written by
# bench/swupdate.py itself. zchunk (zck, zck_delta_size) gives one of the
# targets of the dual-bank delta (bench/delta_baselines.py). GNU time (time)
# reports each timed command's peak RSS (bench/runner.py). `make check` and
# `make demo` need none of them.
# libclang-rt-dev holds clang's libFuzzer and sanitizer runtimes (`make fuzz`);
# clang only recommends it, and recommends are not installed here.
# `deps.sh cross` installs what `make cross-check` needs: Debian's arm64 cross
# toolchain, the arm64 (multiarch) -dev packages and qemu-user-static. It adds
# the arm64 architecture to dpkg first; nothing else uses it.
# squashfs-tools and erofs-utils make the images tests/unit/test_image_id.c
# reads the length of (as e2fsprogs does for ext4).
# fuse2fs and fuse (fusermount) let tests/integration/t_ostree_nospace.sh
# mount its small ext4 without root or loop devices; without them it fails.
set -e
PKGS="build-essential pkg-config libcurl4-openssl-dev libconfig-dev libzstd-dev
libubootenv-dev libubootenv-tool u-boot-tools libssl-dev libcmocka-dev zstd openssl
python3 lighttpd clang libclang-rt-dev valgrind e2fsprogs ostree libostree-dev gnupg systemd groff-base
qemu-system-x86 u-boot-qemu busybox-static cpio fdisk kmod fuse2fs fuse squashfs-tools erofs-utils"
CROSS_ARCH=""
case "${1:-}" in
"") ;;
bench) PKGS="$PKGS swupdate rauc squashfs-tools dbus-daemon gnuplot-nox zchunk time" ;;
cross)
	CROSS_ARCH=arm64
	PKGS="crossbuild-essential-arm64 qemu-user-static pkgconf:arm64
libcurl4-openssl-dev:arm64 libconfig-dev:arm64 libzstd-dev:arm64 libubootenv-dev:arm64
libssl-dev:arm64 libcmocka-dev:arm64 libostree-dev:arm64"
	;;
*) echo "usage: deps.sh [bench|cross]" >&2; exit 2 ;;
esac
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
add_arch=""
if [ -n "$CROSS_ARCH" ] && ! dpkg --print-foreign-architectures | grep -qx "$CROSS_ARCH"; then
	add_arch="dpkg --add-architecture $CROSS_ARCH && apt-get update && "
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "updater: missing packages; run as root:" >&2
	echo "  ${add_arch}apt-get install -y$missing" >&2
	exit 1
fi
echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
[ -z "$add_arch" ] || dpkg --add-architecture "$CROSS_ARCH"
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null

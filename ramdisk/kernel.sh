#!/bin/sh
# kernel.sh DIR: Debian's cloud kernel for the QEMU target, fetched with
# `apt-get download` and unpacked (not installed) into DIR, once: DIR/vmlinuz,
# DIR/modules/lib/modules/VERSION, DIR/version. The cloud flavour has ext4
# built in; virtio is modular (mkramdisk.sh puts those modules in).
# KERNEL_PKG=linux-image-... picks another package than the one
# linux-image-cloud-amd64 depends on now.
set -eu
dir=$1
if [ -s "$dir/vmlinuz" ] && [ -s "$dir/version" ]; then
	exit 0
fi
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
pkg=${KERNEL_PKG:-}
if [ -z "$pkg" ]; then
	pkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[0-9].*-cloud-amd64\)$/\1/p' | head -n1)
	if [ -z "$pkg" ] && [ "$(id -u)" -eq 0 ]; then
		apt-get update -qq
		pkg=$(apt-cache depends linux-image-cloud-amd64 | sed -n 's/^ *Depends: \(linux-image-[0-9].*-cloud-amd64\)$/\1/p' | head -n1)
	fi
fi
[ -n "$pkg" ] || { echo "kernel.sh: cannot tell which linux-image-*-cloud-amd64 to fetch (apt-get update?)" >&2; exit 1; }
tmp=$(mktemp -d "$dir/fetch.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
chmod 0777 "$tmp" # apt-get download drops to the _apt user when it can
echo "kernel: apt-get download $pkg"
(cd "$tmp" && apt-get download -q "$pkg" 2>&1 | grep -v '^W: Download is performed unsandboxed' >&2 || true)
deb=$(ls "$tmp"/*.deb 2>/dev/null | head -n1)
[ -n "$deb" ] || { echo "kernel.sh: apt-get download $pkg failed" >&2; exit 1; }
dpkg-deb -x "$deb" "$tmp/x"
ver=$(ls "$tmp/x/lib/modules" | head -n1)
rm -rf "$dir/modules"
mkdir -p "$dir/modules/lib"
mv "$tmp/x/lib/modules" "$dir/modules/lib/"
cp "$tmp/x/boot/config-$ver" "$dir/config"
cp "$tmp/x/boot/vmlinuz-$ver" "$dir/vmlinuz"
# The .deb ships no modules.dep: make it, so modprobe can resolve dependencies.
depmod -b "$dir/modules" "$ver"
echo "$ver" >"$dir/version"
echo "$pkg" >"$dir/package"
echo "kernel: $ver in $dir"

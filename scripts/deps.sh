#!/bin/sh
# Installs the Debian packages updater needs to build, test and demo.
# As root it runs apt-get; otherwise it prints the one command to run.
# `deps.sh bench` also installs the other updaters that `make bench` compares
# against: SWUpdate, and RAUC with squashfs-tools (rauc bundle) and dbus-daemon
# (a private bus for `rauc service`). The .swu cpio archive is written by
# tests/bench/swupdate.py itself. `make check` and `make demo` need none of them.
set -e
PKGS="build-essential pkg-config libcurl4-openssl-dev libconfig-dev libzstd-dev
libubootenv-dev libubootenv-tool u-boot-tools libssl-dev libcmocka-dev zstd openssl
python3 lighttpd clang valgrind e2fsprogs ostree libostree-dev gnupg"
case "${1:-}" in
"") ;;
bench) PKGS="$PKGS swupdate rauc squashfs-tools dbus-daemon" ;;
*) echo "usage: deps.sh [bench]" >&2; exit 2 ;;
esac
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
	echo "updater: missing packages; run as root:" >&2
	echo "  apt-get install -y$missing" >&2
	exit 1
fi
echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null

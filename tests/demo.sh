#!/bin/bash
# make demo: a simulated device in ./demo, a signed bundle of release 2.0
# served on 127.0.0.1, installed over HTTP, a reboot played the way U-Boot
# does it, mark-good, and `updater status` before and after.
set -eu
cd "$(dirname "$0")/.."
. tests/lib/common.sh
DEMO=$TOP/demo
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { printf '$ %s\n' "$*"; "$@"; }

rm -rf "$DEMO"
mkdir -p "$DEMO/server"
step "A factory device in $DEMO/device: slot A runs release 1.0, slot B is empty"
make_device "$DEMO/device" 32
D=$DEMO/device
show "$UPDATER" --config="$D/updater.conf" status

step "Build host: a root filesystem for release 2.0, signed into a bundle"
make_rootfs_image "$DEMO/rootfs-2.0.img" 2.0 16
show "$UPDATER" bundle create --image "$DEMO/rootfs-2.0.img" --version 2.0 \
	--compatible sim-board --key "$D/keys/release.pem" --output "$DEMO/server/release-2.0.upd"
show "$UPDATER" --config="$D/updater.conf" bundle info "$DEMO/server/release-2.0.upd"

step "Serve it on 127.0.0.1 and point the device at it"
start_httpd "$DEMO/server"
trap stop_httpd EXIT
sed -i "s|^server = { |server = { url = \"$URL/release-2.0.upd\"; |" "$D/updater.conf"
grep '^server' "$D/updater.conf"

step "Device: check, then install (streams, verifies, writes slot B, activates it on trial)"
show "$UPDATER" --config="$D/updater.conf" check
show "$UPDATER" --config="$D/updater.conf" --progress=json install
show "$UPDATER" --config="$D/updater.conf" status

step "Reboot: U-Boot counts the trial boot and starts slot B"
echo "booted slot $(sim_boot "$D")"
show "$UPDATER" --config="$D/updater.conf" boot
show "$UPDATER" --config="$D/updater.conf" status

step "The new system is healthy: mark it good"
show "$UPDATER" --config="$D/updater.conf" mark-good
show "$UPDATER" --config="$D/updater.conf" status --json
echo "booted slot after another reboot: $(sim_boot "$D")"
step "Demo done (dual-bank). The device is in $DEMO/device."

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

[ -d "$DEMO/ostree/device" ] && { . tests/lib/ostree.sh; ostree_rm_device "$DEMO/ostree/device"; }
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
stop_httpd
trap - EXIT

# ---------------------------------------------------------------- ostree ----
. tests/lib/ostree.sh
O=$DEMO/ostree
mkdir -p "$O"
step "OSTree server side (the origin document's flow): an archive repo, signed commits, a static delta"
ostree_gpg_init "$O/gpg"
for v in 1.0 2.0; do ostree_make_tree "$O/tree-$v" "$v" >/dev/null; done
show ostree_server_init "$O/repo"
C1=$(ostree_server_commit "$O/repo" demo/stable "$O/tree-1.0" 1.0)
C2=$(ostree_server_commit "$O/repo" demo/stable "$O/tree-2.0" 2.0)
echo "commits: 1.0 = $C1, 2.0 = $C2 (GPG-signed, version metadata)"
ostree_server_delta "$O/repo" "$C1" "$C2" >/dev/null
ostree_server_summary "$O/repo"
echo "static delta 1.0 -> 2.0: $(du -sb "$O/repo/$(ostree_delta_path "$C1" "$C2")" | cut -f1) bytes"
start_httpd "$O/repo" --log "$O/httpd.log"
trap 'stop_httpd; ostree_gpg_stop' EXIT

step "A factory ostree device in $O/device: one partition, release 1.0 deployed"
ostree_make_device "$O/device" "$URL" demo/stable "$C1"
OD=$O/device
ou() { printf '$ updater --backend=ostree %s\n' "$*"; ostree_nofreeze "$UPDATER" --config="$OD/updater.conf" "$@"; }
ou status

step "Device: check, then install (pulls only the delta, deploys next to the running system)"
ou check
: >"$O/httpd.log"
ou --progress=none install
echo "downloaded: $(sed -n 's/.* sent=\([0-9]*\).*/\1/p' "$O/httpd.log" | awk '{s+=$1} END {print s}') bytes in $(wc -l <"$O/httpd.log") requests"
ou status
grep -E '^(kernel_image|kernel_image2)=' "$OD/sysroot/boot/loader/uEnv.txt"

step "Reboot (U-Boot counts the trial, boots the new default entry), then mark-good"
echo "booted $(ostree_sim_boot "$OD")"
ou boot
ou mark-good
ou status --json
step "Demo done: both backends updated a simulated device over HTTP. Devices: $DEMO/device, $OD"

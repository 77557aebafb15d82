#!/bin/bash
# make demo: two simulated devices made with tools/updater-sim, one per
# backend, each updated over HTTP from 127.0.0.1: release 2.0 never comes up
# (updater-sim fail-boot) and U-Boot falls back; release 3.0 is installed,
# rebooted into on trial (updater-sim reboot plays U-Boot) and confirmed.
# Every step prints the command a user would type in the checkout (with ./
# and tools/ on PATH), its output, and "->" what it changed: which slot or
# deployment, which version, which U-Boot variables. Any failed step ends the
# demo with a non-zero exit. DEMO_DIR (default ./demo) holds everything.
# tests/integration/t_demo.sh checks the shape of this output.
set -u -o pipefail
cd "$(dirname "$0")/.." || exit 1
. tests/lib/common.sh
. tests/lib/ostree.sh
SIM=$TOP/tools/updater-sim
# mkfs.ext4 and debugfs live in /usr/sbin, which a user's PATH may lack (Debian).
PATH=$PATH:/usr/sbin:/sbin
export UPDATER OSTREE_COMPATIBLE=sim-board
DEMO=${DEMO_DIR:-demo}
BOOTLIMIT=2
# The bundles' compatible, the ostree commits' updater.compatible and the
# devices' compatible: one name.
COMPAT=$OSTREE_COMPATIBLE

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
die() { echo "demo: FAILED: $*" >&2; exit 1; }

# status_json DEV FILE: `updater status --json` of DEV into FILE
status_json() {
	ostree_nofreeze "$UPDATER" --config="$1/updater.conf" status --json >"$2" 2>/dev/null ||
		die "updater status --json on $1"
}
env5() {
	local v
	for v in boot_slot upgrade_available bootcount bootlimit rollback; do
		printf '%s=%s\n' "$v" "$(envvar "$1" "$v")"
	done
}

# what BACKEND BEFORE AFTER: the "->" line: what changed between two
# snapshots (status --json, then the five U-Boot variables); BEFORE is empty
# for a new device.
what() {
	"$PYTHON" - "$@" <<'PY'
import json, sys
backend, before, after = sys.argv[1], sys.argv[2], sys.argv[3]
def load(p):
    with open(p + ".json") as f: st = json.load(f)
    with open(p + ".env") as f: env = dict(l.rstrip("\n").split("=", 1) for l in f if "=" in l)
    return st, env
unit = "slot" if backend == "dualbank" else "deployment"
a, aenv = load(after)
b, benv = load(before) if before else (None, None)
parts = []
p = a.get("pending")
if p and (b is None or b.get("pending") != p):
    parts.append(f"{unit} {p['slot']} written: version {p['version']}, boots next on trial")
if b is None or b.get("booted") != a.get("booted"):
    parts.append(f"booted {unit} {a['booted']['slot']}: version {a['booted']['version']}")
if b is None:
    parts.append(f"state {a['state']}")
elif b["state"] != a["state"]:
    parts.append(f"state {b['state']} -> {a['state']}")
old = {r["version"] for r in (b or {}).get("failed_releases", [])}
for r in a.get("failed_releases", []):
    if r["version"] not in old:
        parts.append(f"release {r['version']} recorded as failed on this device")
if not parts and a["state"] == "trial":
    parts.append(f"still on trial: boot attempt {aenv.get('bootcount')} of {aenv.get('bootlimit')}")
if not parts:
    parts.append("the device is unchanged")
if benv is None:
    uboot = " ".join(f"{k}={v}" for k, v in aenv.items())
else:
    ch = [f"{k} {benv.get(k, '')}->{v}" for k, v in aenv.items() if benv.get(k) != v]
    uboot = ", ".join(ch) if ch else "unchanged"
print("  -> " + "; ".join(parts) + ". U-Boot: " + uboot)
PY
}

# step CMD...: prints CMD as a user types it ("updater ..." or
# "updater-sim ..."), runs it (the updater as $UPDATER, without
# CAP_SYS_ADMIN: see docs/try-it.md on root and ostree), its output indented,
# then what changed on the device $DEV since the last step (the snapshot
# $DEMO/.snap.BACKEND: nothing else touches the device in between). A failure
# ends the demo.
step() {
	local rc before="" line="$*" tool=$1 snap=$DEMO/.snap.$BACKEND
	printf '$ %s\n' "$line"
	shift
	case $tool in
	updater) ostree_nofreeze "$UPDATER" "$@" ;;
	updater-sim) "$SIM" "$@" ;;
	*) die "step: $tool" ;;
	esac >"$DEMO/.out" 2>&1
	rc=$?
	sed 's/^/    /' "$DEMO/.out"
	[ $rc = 0 ] || die "'$line' exited $rc"
	[ "$tool $1" != "updater-sim show" ] || return 0
	if [ -f "$snap.json" ]; then
		before=$DEMO/.before
		mv "$snap.json" "$before.json" && mv "$snap.env" "$before.env" || die "$snap"
	fi
	status_json "$DEV" "$snap.json"
	env5 "$DEV" >"$snap.env"
	what "$BACKEND" "$before" "$snap" || die "reading the status of $DEV"
}

# state: the state of $DEV after the last step
state() {
	"$PYTHON" -c 'import json,sys; print(json.load(open(sys.argv[1]))["state"])' "$DEMO/.snap.$BACKEND.json"
}

# fail_boots: updater-sim fail-boot until U-Boot has fallen back and the
# updater recorded it (bootlimit trial boots, then the fallback).
fail_boots() {
	local n
	for n in $(seq 0 "$BOOTLIMIT"); do
		step updater-sim fail-boot "$DEV"
		[ "$(state)" != rolled-back ] || return 0
	done
	die "no fallback after $((BOOTLIMIT + 1)) failed boots"
}

# summary DEV: one line: the booted release and its state, the failed ones.
summary() {
	status_json "$1" "$DEMO/.st.json"
	"$PYTHON" - "$DEMO/.st.json" "$BACKEND" "$1" <<'PY'
import json, sys
st, backend, dev = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3]
unit = "slot" if backend == "dualbank" else "deployment"
failed = ", ".join(r["version"] for r in st["failed_releases"]) or "none"
print(f"{backend:9} {dev}: {unit} {st['booted']['slot']} runs {st['booted']['version']}, "
      f"{st['state']}; failed and rolled back: {failed}")
PY
}

cleanup() {
	stop_httpd
	ostree_gpg_stop
}

for d in "$DEMO/dualbank/device" "$DEMO/ostree/device"; do
	[ ! -e "$d" ] || ostree_rm_device "$d" || die "could not remove the old $d"
done
rm -rf "$DEMO" && mkdir -p "$DEMO/build" "$DEMO/www" || die "mkdir $DEMO"
B=$DEMO/build
W=$DEMO/www
trap cleanup EXIT

echo "updater demo: two simulated devices (tools/updater-sim), one per backend, updated over HTTP"
echo "from 127.0.0.1. Each step is a command as you would type it here, with PATH=\$PWD:\$PWD/tools:\$PATH"
echo "(docs/try-it.md does the same by hand), its output, and '->' what it changed."

# ------------------------------------------------------------ dual-bank ----
say "Build host: release images 1.0, 2.0, 3.0 and signed bundles, served on 127.0.0.1"
make_key release "$B"
for v in 1.0 2.0 3.0; do make_rootfs_image "$B/rootfs-$v.img" $v 8; done
for v in 2.0 3.0; do make_bundle "$B/rootfs-$v.img" $v "$B/release.pem" "$W/rootfs-$v.upd" "$COMPAT"; done
start_httpd "$W"
echo "bundles: $W/rootfs-2.0.upd, $W/rootfs-3.0.upd (Ed25519 key $B/release.pem); server: $URL"

BACKEND=dualbank
DEV=$DEMO/dualbank/device
CONF=$DEV/updater.conf
say "Dual-bank device $DEV: release 1.0 in slot A, slot B empty"
mkdir -p "$DEMO/dualbank"
step updater-sim create "$DEV" --backend=dualbank --image "$B/rootfs-1.0.img" --key "$B/release.pub.pem" \
	--compatible "$COMPAT" --slot-size 16M --bootlimit $BOOTLIMIT
say "Release 2.0 is installed but never comes up: U-Boot falls back after $BOOTLIMIT trial boots"
step updater --config="$CONF" check "$URL/rootfs-2.0.upd"
step updater --config="$CONF" install "$URL/rootfs-2.0.upd"
fail_boots
say "Release 3.0: installed, booted on trial, confirmed"
step updater --config="$CONF" install "$URL/rootfs-3.0.upd"
step updater-sim reboot "$DEV"
step updater --config="$CONF" mark-good
[ "$(state)" = committed ] || die "$DEV: release 3.0 is not committed"
SUMMARY=$(summary "$DEV") || exit 1
say "What the device looks like now (the five U-Boot variables, the next power-on, updater status)"
step updater-sim show "$DEV"

# --------------------------------------------------------------- ostree ----
say "OSTree server: an archive repository with release 1.0, GPG-signed, in $W/repo"
BACKEND=ostree
ostree_gpg_init "$B/gpg"
for v in 1.0 2.0 3.0; do ostree_make_tree "$B/tree-$v" $v; done
ostree_server_init "$W/repo" >/dev/null
# commit VERSION: release VERSION on demo/stable, signed, summary signed
commit() {
	ostree_server_commit "$W/repo" demo/stable "$B/tree-$1" "$1" >/dev/null
	ostree_server_summary "$W/repo"
	echo "server: release $1 committed to demo/stable (version=$1, updater.compatible=$COMPAT, GPG-signed)"
}
commit 1.0

DEV=$DEMO/ostree/device
CONF=$DEV/updater.conf
say "OSTree device $DEV: release 1.0 deployed"
mkdir -p "$DEMO/ostree"
step updater-sim create "$DEV" --backend=ostree --repo "$W/repo" --ref demo/stable \
	--gpg-keyring "$B/gpg/trusted.gpg" --url "$URL/repo" --compatible "$COMPAT" --bootlimit $BOOTLIMIT
say "Release 2.0 is deployed but never comes up: U-Boot boots the rollback entry after $BOOTLIMIT trial boots"
commit 2.0
step updater --config="$CONF" check
step updater --config="$CONF" install
fail_boots
say "Release 3.0: deployed, booted on trial, confirmed"
commit 3.0
step updater --config="$CONF" install
step updater-sim reboot "$DEV"
step updater --config="$CONF" mark-good
[ "$(state)" = committed ] || die "$DEV: release 3.0 is not committed"
SUMMARY="$SUMMARY
$(summary "$DEV")" || exit 1

say "Done: both devices fell back from 2.0 and run 3.0, committed"
printf '%s\n' "$SUMMARY"
echo "Look at a device: tools/updater-sim show $DEMO/ostree/device; remove one: tools/updater-sim remove DIR"

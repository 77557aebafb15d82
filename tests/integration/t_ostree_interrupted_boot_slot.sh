# An ostree install cut after its activating environment write (boot_slot =
# the new deployment, upgrade_available=1) and before the new deployment
# became the default (fault point set-default): U-Boot boots the old default
# on a harmless trial and the next `updater boot` ends that trial; boot_slot
# must then name the running deployment again, not the new one, which is in
# no boot entry (docs/boot-contract.md). Found by
# tests/powercut/sweep.sh ostree install; fixed in core/reconcile.c mark_interrupted.
# Needs ./updater-fault (make integration builds it).
. "$TOP/tests/lib/common.sh"
. "$TOP/tests/lib/ostree.sh"
set -u
[ -x "$TOP/updater-fault" ] || fail "no $TOP/updater-fault: run 'make updater-fault'"
ostree_test_device
ID1=${C1:0:12}.0

UPDATER_FAULT=set-default:1 ostree_nofreeze "$TOP/updater-fault" --config="$D/updater.conf" \
	--progress=none install "$C3" >"$WORK/cut" 2>&1
assert_eq "$?" 137 "the install was cut at set-default"
assert_eq "$(envvar "$D" boot_slot)/$(envvar "$D" upgrade_available)" "${C3:0:12}.0/1" "env after the cut"
ostree_sim_boot "$D" >/dev/null
assert_eq "$(ostree_booted "$D")" "$C1.0" "the boot after the cut runs 1.0"
ostree_upd "$D" boot >"$WORK/boot" 2>&1 || { cat "$WORK/boot" >&2; fail "updater boot"; }
assert_eq "$(envvar "$D" upgrade_available)/$(envvar "$D" bootcount)" "0/0" "the trial is over"
assert_eq "$(envvar "$D" boot_slot)" "$ID1" "boot_slot after the interrupted install is recorded"

# The content step's pull process, started early beside the metadata step,
# is gone by the time it is to be handed its arguments (the fault build
# kills it where it waits: UPDATER_FAULT=content-wait:1, with the install
# held 1 s between the steps so that it is dead before the send): the send
# fails, the updater reaps that process, starts the content step's own, and
# the install completes (backends/ostree/pull_proc.c, early_take).
. "$TOP/tests/lib/common.sh"
. "$TOP/tests/lib/ostree.sh"
set -u
ostree_test_device
UPDATER_FAULT=content-wait:1 UPDATER_FAULT_DELAY=content-start:$((1000 * SLOW)) \
	UPDATER=$TOP/updater-fault expect_exit 0 "$WORK/install" ostree_upd "$D" -v install "$C2"
early=$(sed -n 's/.*pull process \([0-9]*\) started for the content step.*/\1/p' "$WORK/install")
[ -n "$early" ] || fail "no pull process was started early for the content step"
assert_grep "pull process $early, not needed: status 0x9$" "$WORK/install"
[ "$(grep -c "pull process [0-9]*: status 0," "$WORK/install")" -ge 2 ] ||
	{ cat "$WORK/install" >&2; fail "the content step did not run a process of its own"; }
ls "$D/sysroot/ostree/deploy/simos/deploy/" | grep -q "^$C2\." || fail "v2 was not deployed"

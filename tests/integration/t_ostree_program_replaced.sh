# The updater's program removed while an install runs, as a package upgrade
# that replaces it would: the pull process the install starts afterwards is
# the program that was started (opened at start, run with fexecve), so the
# install completes. Before 2026-12-06 it was started by path: "pull: cannot
# execute .../updater (deleted)", exit 1.
. "$TOP/tests/lib/common.sh"
. "$TOP/tests/lib/ostree.sh"
set -u
ostree_test_device
ostree_snapshot "$D"
# A copy of the fault build to remove; each pull process starts 2 s late
# (UPDATER_FAULT_DELAY), time enough to remove the copy first.
mkdir -p "$WORK/bin"
cp "$TOP/updater-fault" "$WORK/bin/updater" || fail "copy updater-fault"
PROG=$WORK/bin/updater
UPDATER_FAULT_DELAY=pull-spawn:$((2000 * SLOW)) UPDATER=$PROG \
	ostree_upd "$D" install "$C2" >"$WORK/install" 2>&1 &
job=$!
pid=
for _ in $(seq $((100 * SLOW))); do
	pid=$(pgrep -f "^$PROG --config=$D/updater.conf") &&
		[ "$(readlink "/proc/$pid/exe")" = "$PROG" ] && break
	pid=
	sleep 0.05
done
[ -n "$pid" ] || { kill "$job"; fail "the updater did not start from $PROG"; }
rm "$PROG" || fail "remove $PROG"
wait "$job"
rc=$?
[ "$rc" = 0 ] || { cat "$WORK/install" >&2; fail "install with the program removed exited $rc, expected 0"; }
assert_grep "boots next, on trial" "$WORK/install"
ls "$D/sysroot/ostree/deploy/simos/deploy/" | grep -q "^$C2\." || fail "no deployment of $C2"

# apply-staged of the single-copy backend cut (./updater-fault, SIGKILL) at
# each of its fault points in turn: every state save, every boot-state write
# (the one that names recovery mode before the root is written, the
# activation) and the clean-up; each time the next boot's apply-staged (or,
# cut after the activation, the trial) completes it, and the boot state never
# names a root that is not whole (docs/singlecopy.md, "Power cuts").
. "$TOP/tests/lib/common.sh"
. "$TOP/tests/lib/singlecopy.sh"
set -u
singlecopy_test_device --fault
imgs=("$FIX/v2.0.img" "$FIX/v3.0.img")
n=1
while :; do
	img=${imgs[$((n % 2))]}
	make_bundle "$img" "2.$n" "$FIX/release.pem" "$WORK/r.upd"
	expect_exit 0 "$WORK/stage.out" upd "$D" stage "$WORK/r.upd"
	before=$(file_sha "$ROOT")
	UPDATER_FAULT=any:$n "$TOP/updater-fault" --config="$D/updater.conf" --progress=none \
		apply-staged >"$WORK/cut.out" 2>&1
	rc=$?
	[ "$rc" = 0 ] && break # past the last point: nothing was cut
	[ "$rc" = 137 ] || { cat "$WORK/cut.out" >&2; fail "cut $n: exit $rc"; }
	# The root is named to boot only while it is whole: as before, or the new release.
	if [ "$(envvar "$D" boot_slot)" = root ] && [ "$(file_sha "$ROOT")" != "$before" ]; then
		root_holds "$D" "$img" || fail "cut $n: boot_slot=root names a partial root"
	fi
	sys=$(sc_boot "$D")
	expect_exit 0 "$WORK/again.out" upd "$D" apply-staged
	root_holds "$D" "$img" || fail "cut $n ($sys): the root does not hold 2.$n after the next apply-staged"
	assert_eq "$(envvar "$D" boot_slot)/$(envvar "$D" apply_staged)" root/0 "cut $n: env after the apply"
	[ "$(envvar "$D" upgrade_available)" = 1 ] || grep -q '^state=committed$' "$S/state" ||
		fail "cut $n: no trial after the apply"
	[ -e "$S/singlecopy.rewrite" ] && fail "cut $n: rewrite marker left"
	assert_eq "$(sc_boot "$D")" root "cut $n: the boot after the apply"
	expect_exit 0 "$WORK/good.out" upd "$D" mark-good
	grep -q '^state=committed$' "$S/state" || fail "cut $n: not committed: $(grep ^state= "$S/state")"
	n=$((n + 1))
done
[ "$n" -ge 10 ] || fail "only $((n - 1)) fault points in apply-staged"
echo "apply-staged cut at each of its $((n - 1)) fault points, each completed by the next boot"

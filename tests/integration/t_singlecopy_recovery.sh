# The single-copy backend's power cuts and recovery mode (docs/singlecopy.md):
# apply-staged cut in the middle of the root (./updater-fault, at an image
# byte offset) leaves the boot state naming recovery mode and the rewrite
# marked; the next boot's apply-staged writes the root again and the trial
# follows. A trial that is never confirmed ends in recovery mode (every boot
# after it too: no boot loop), where a good release installs again.
. "$TOP/tests/lib/common.sh"
. "$TOP/tests/lib/singlecopy.sh"
set -u
singlecopy_test_device --fault

# --- a cut at 2 MiB into the root, then the next boot completes the write ---
expect_exit 0 "$WORK/stage.out" upd "$D" stage "$FIX/v2.0.upd"
UPDATER_FAULT=slot-bytes@2097152 "$TOP/updater-fault" --config="$D/updater.conf" --progress=none \
	apply-staged >"$WORK/cut.out" 2>&1 && fail "apply-staged was not cut"
grep -q '^state=install$' "$S/state" || fail "the cut was not during the write: $(grep ^state= "$S/state")"
[ -e "$S/singlecopy.rewrite" ] || fail "no rewrite marker after a cut during the write"
assert_grep "version=2.0" "$S/singlecopy.rewrite"
assert_eq "$(envvar "$D" boot_slot)/$(envvar "$D" apply_staged)/$(envvar "$D" upgrade_available)" \
	recovery/1/0 "env after the cut: never the partial root"
assert_eq "$(sc_boot "$D")" recovery "the boot after the cut"
# the first command reconciles: the cut apply goes back to staged
upd "$D" status >"$WORK/st-cut" 2>&1
assert_grep "interrupted" "$WORK/st-cut"
assert_grep "booted: *recovery" "$WORK/st-cut"
assert_grep "^recovery: *this is the recovery mode" "$WORK/st-cut"
assert_grep "staged: *version 2.0" "$WORK/st-cut"
expect_exit 0 "$WORK/again.out" upd "$D" apply-staged
root_holds "$D" "$FIX/v2.0.img" || fail "the root does not hold 2.0 after the second apply-staged"
[ -e "$S/singlecopy.rewrite" ] && fail "rewrite marker left after the completed write"
assert_eq "$(envvar "$D" boot_slot)/$(envvar "$D" upgrade_available)" root/1 "env after the completed apply"
assert_eq "$(sc_boot "$D")" root "the boot after the completed apply"
expect_exit 0 "$WORK/good.out" upd "$D" mark-good
grep -q '^state=committed$' "$S/state" || fail "not committed after mark-good"

# --- a trial never confirmed: recovery mode, and it stays there ---------------
expect_exit 0 "$WORK/stage3.out" upd "$D" stage "$FIX/v3.0.upd"
expect_exit 0 "$WORK/apply3.out" upd "$D" apply-staged
for i in 1 2 3; do
	assert_eq "$(sc_boot "$D")" root "trial boot $i"
	expect_exit 0 "$WORK/boot$i.out" upd "$D" boot
done
assert_eq "$(sc_boot "$D")" recovery "the boot past bootlimit"
expect_exit 0 "$WORK/fallback.out" upd "$D" boot
assert_grep "recovery mode" "$WORK/fallback.out"
assert_eq "$(envvar "$D" boot_slot)/$(envvar "$D" rollback)/$(envvar "$D" upgrade_available)" \
	recovery/0/0 "env after the failed trial"
[ -e "$S/singlecopy.bundle" ] && fail "the failed release's bundle was kept"
upd "$D" status --json >"$WORK/rec.json"
python3 - "$WORK/rec.json" <<'PY' || fail "status in recovery mode"
import json, sys
s = json.load(open(sys.argv[1]))
assert s["state"] == "rolled-back", s
assert s["booted"]["slot"] == "recovery" and s["recovery_mode"] is True, s
assert "3.0" in s["trial_failure"], s
assert [f["version"] for f in s["failed_releases"]] == ["3.0"], s
PY
for i in 1 2; do
	assert_eq "$(sc_boot "$D")" recovery "boot $i after the failed trial (no boot loop)"
	expect_exit 0 "$WORK/rboot$i.out" upd "$D" boot
done

# --- from recovery: the failed release is refused, a good one installs -------
expect_exit 7 "$WORK/again3.out" upd "$D" install "$FIX/v3.0.upd"
make_bundle "$FIX/v3.0.img" 3.1 "$FIX/release.pem" "$WORK/v3.1.upd"
expect_exit 0 "$WORK/inst31.out" upd "$D" install "$WORK/v3.1.upd"
assert_eq "$(envvar "$D" boot_slot)/$(envvar "$D" upgrade_available)" root/1 "env after install in recovery"
root_holds "$D" "$FIX/v3.0.img" || fail "the root does not hold 3.1's image"
assert_eq "$(sc_boot "$D")" root "the boot after the install in recovery"
expect_exit 0 "$WORK/good31.out" upd "$D" mark-good
upd "$D" status --json >"$WORK/s31.json"
python3 - "$WORK/s31.json" <<'PY' || fail "status after the recovery install"
import json, sys
s = json.load(open(sys.argv[1]))
assert s["state"] == "committed" and s["booted"]["version"] == "3.1", s
PY
ls "$S" | grep -q '^singlecopy\.' && fail "files left in state_dir: $(ls "$S")"

# --- a trial rejected by `rollback` (the health service's path): recovery mode
make_bundle "$FIX/v3.0.img" 3.2 "$FIX/release.pem" "$WORK/v3.2.upd"
expect_exit 0 "$WORK/stage32.out" upd "$D" stage "$WORK/v3.2.upd"
expect_exit 0 "$WORK/apply32.out" upd "$D" apply-staged
assert_eq "$(sc_boot "$D")" root "the trial boot of 3.2"
expect_exit 0 "$WORK/rb32.out" upd "$D" rollback
assert_eq "$(envvar "$D" boot_slot)/$(envvar "$D" upgrade_available)" recovery/0 "env after rollback in the trial"
assert_eq "$(sc_boot "$D")" recovery "the boot after the rejected trial"
upd "$D" status --json >"$WORK/s32.json"
python3 - "$WORK/s32.json" <<'PY' || fail "status after the rejected trial"
import json, sys
s = json.load(open(sys.argv[1]))
assert s["state"] == "rolled-back" and s["booted"]["slot"] == "recovery", s
assert "3.2" in [f["version"] for f in s["failed_releases"]], s
PY
ls "$S" | grep -q '^singlecopy\.' && fail "files left in state_dir: $(ls "$S")"
exit 0

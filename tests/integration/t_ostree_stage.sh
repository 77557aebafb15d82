# Boot-time apply with the ostree backend over HTTP (issue 14): `stage`
# pulls and verifies v2 and keeps it (nothing deployed, apply_staged=1);
# `apply-staged` deploys it next to the running deployment and starts the
# trial; the reboot runs it, mark-good confirms it. Then: a staged v3
# cancelled by `rollback`; a staged v3 whose ref is replaced after staging,
# and one whose content is corrupted after staging, both refused by
# apply-staged (exit 3) with the device booting what it had; a dual-bank
# device refuses `stage` (exit 2).
. "$TOP/tests/lib/common.sh"
. "$TOP/tests/lib/ostree.sh"
set -u
ostree_test_device
ID1=${C1:0:12}.0
REPO=$D/sysroot/ostree/repo
STAGED_REF=$REPO/refs/heads/updater/staged

# status --json as python asserts: js NAME ASSERTS (s is the parsed object)
js() {
	ostree_upd "$D" status --json >"$WORK/$1.json" || fail "status --json ($1)"
	"$PYTHON" - "$WORK/$1.json" "$2" <<'PY' || { cat "$WORK/$1.json" >&2; fail "status --json ($1)"; }
import json, sys
s = json.load(open(sys.argv[1]))
exec(sys.argv[2])
PY
}
# env5: boot_slot/upgrade_available/bootcount/rollback/apply_staged
env5() { echo "$(envvar "$D" boot_slot)/$(envvar "$D" upgrade_available)/$(envvar "$D" bootcount)/$(envvar "$D" rollback)/$(envvar "$D" apply_staged)"; }

assert_eq "$(env5)" "$ID1/0/0/0/0" "init writes apply_staged=0"

# --- stage v2: pulled and kept, nothing deployed -----------------------------
expect_exit 0 "$WORK/stage2" ostree_upd "$D" stage "$C2"
assert_grep "staged" "$WORK/stage2"
assert_eq "$(env5)" "$ID1/0/0/0/1" "env after stage"
assert_eq "$(ostree_deployments "$D")" 1 "deployments after stage"
assert_eq "$(cat "$STAGED_REF")" "$C2" "the staged ref"
ostree_upd "$D" status >"$WORK/status-staged" || fail "status while staged"
assert_grep "^staged: *version 2.0 ($C2 origin:sim/stable) since 20" "$WORK/status-staged"
assert_grep "apply_staged=1" "$WORK/status-staged"
js s1 "
assert s['state'] == 'staged' and s['pending'] is None, s
assert s['staged']['version'] == '2.0' and s['staged']['source'].startswith('$C2'), s
assert s['staged']['since'].endswith('Z'), s
assert s['boot_env']['apply_staged'] == 1 and s['boot_env']['boot_slot'] == '$ID1', s"
# mark-good and boot leave it alone.
ostree_upd "$D" boot 2>"$WORK/boot-staged" || fail "updater boot while staged"
assert_eq "$(env5)" "$ID1/0/0/0/1" "env after updater boot while staged"

# --- apply-staged: deployed next to v1, on trial -------------------------------
expect_exit 0 "$WORK/apply2" ostree_upd "$D" apply-staged
ID2=$(envvar "$D" boot_slot)
case $ID2 in "${C2:0:12}".[0-9]*) ;; *) fail "boot_slot after apply-staged is '$ID2'" ;; esac
assert_eq "$(env5)" "$ID2/1/0/0/0" "env after apply-staged"
assert_eq "$(ostree_entry "$D")" "$C2.${ID2#*.}" "default entry after apply-staged"
assert_eq "$(ostree_entry "$D" 2)" "$C1.0" "the running v1 is the rollback entry"
assert_eq "$(ostree_deployments "$D")" 2 "deployments after apply-staged"
[ ! -e "$STAGED_REF" ] || fail "the staged ref is still there after apply-staged"
js s2 "assert s['state'] == 'activated' and s['staged'] is None and s['pending']['slot'] == '$ID2', s"
expect_exit 0 "$WORK/apply2again" ostree_upd "$D" apply-staged
assert_grep "nothing is staged" "$WORK/apply2again"
assert_eq "$(env5)" "$ID2/1/0/0/0" "a second apply-staged changes nothing"

ostree_sim_boot "$D" >/dev/null
assert_eq "$(ostree_booted "$D")" "$C2.${ID2#*.}" "the boot after apply-staged runs v2"
ostree_upd "$D" boot || fail "updater boot on the trial"
expect_exit 0 "$WORK/good2" ostree_upd "$D" mark-good
assert_eq "$(env5)" "$ID2/0/0/0/0" "env after mark-good"
js s3 "assert s['state'] == 'committed', s"

# --- stage v3, rollback cancels it --------------------------------------------
expect_exit 0 "$WORK/stage3" ostree_upd "$D" stage "$C3"
assert_eq "$(env5)" "$ID2/0/0/0/1" "env after staging v3"
expect_exit 0 "$WORK/cancel" ostree_upd "$D" rollback
assert_eq "$(env5)" "$ID2/0/0/0/0" "env after the cancel"
[ ! -e "$STAGED_REF" ] || fail "the staged ref is still there after the cancel"
js s4 "
assert s['state'] == 'rolled-back' and s['staged'] is None, s
assert 'staged update to version 3.0' in s['last_error'] and 'cancelled' in s['last_error'], s"
expect_exit 0 "$WORK/apply-none" ostree_upd "$D" apply-staged
assert_grep "nothing is staged" "$WORK/apply-none"
assert_eq "$(ostree_deployments "$D")" 2 "deployments after the cancel"

# refused_apply NAME PATTERN: apply-staged refuses (exit 3, PATTERN), the
# device as it was but for apply_staged, which is cleared.
refused_apply() {
	env_dump "$D" | sed 's/^apply_staged=1$/apply_staged=0/' >"$WORK/$1.env-want"
	ostree_snapshot "$D"
	expect_exit 3 "$WORK/$1" ostree_upd "$D" apply-staged
	ostree_assert_error "$WORK/$1" "$2"
	env_dump "$D" | diff -u "$WORK/$1.env-want" - >&2 || fail "$1: environment"
	ostree_state "$D" | sed '/^== env/,/^== ostree admin status/{/^apply_staged=/d}' >"$WORK/$1.after"
	sed '/^== env/,/^== ostree admin status/{/^apply_staged=/d}' "$D/snap.ostree" | diff -u - "$WORK/$1.after" >&2 ||
		fail "$1: deployments or boot entries changed"
	js "$1" "assert s['state'] == 'failed' and s['staged'] is None and '$2' in s['last_error'], s"
	[ ! -e "$STAGED_REF" ] || fail "$1: the staged ref is still there"
	assert_eq "$(ostree_entry "$D")" "$C2.${ID2#*.}" "$1: the default entry"
}

# --- hostile: the ref replaced after staging ----------------------------------
expect_exit 0 "$WORK/stage3b" ostree_upd "$D" stage "$C3"
echo "$C1" >"$STAGED_REF"
refused_apply tampered-ref "changed after staging"

# --- hostile: an object of the staged commit corrupted after staging ----------
expect_exit 0 "$WORK/stage3c" ostree_upd "$D" stage "$C3"
ostree --repo="$REPO" ls -R -C "$C2" | awk '$1 ~ /^-/ { print $5 }' | sort -u >"$WORK/objs2"
ostree --repo="$REPO" ls -R -C "$C3" | awk '$1 ~ /^-/ { print $5 }' | sort -u >"$WORK/objs3"
obj=$(comm -13 "$WORK/objs2" "$WORK/objs3" | head -n1)
[ -n "$obj" ] || fail "no file object of v3 that v2 lacks"
f=$(ls "$REPO/objects/${obj:0:2}/${obj:2}".file* 2>/dev/null | head -n1)
[ -n "$f" ] && [ -f "$f" ] || fail "no object file for $obj"
chmod u+w "$f" && printf 'tampered' >>"$f" || fail "corrupt $f"
refused_apply corrupted-object "Corrupted"

# --- dual-bank: no stage ------------------------------------------------------
fixtures
DB=$(new_device db)
expect_exit 2 "$WORK/db-stage" upd "$DB" stage
assert_one_error "$WORK/db-stage" "stage: the dualbank backend cannot stage an update (backends that can: ostree,singlecopy)"
expect_exit 0 "$WORK/db-apply" upd "$DB" apply-staged
assert_grep "nothing is staged" "$WORK/db-apply"
echo "ok"

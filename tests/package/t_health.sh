# The health runner (libexec/health, updater-health.service) and the
# check-and-install wrapper (libexec/check-install, updater-check.service):
# their policy against a stand-in updater, then end to end against a
# simulated device (tests/lib/common.sh) with `updater health-check`.
. "$TOP/tests/package/lib.sh"

S=$WORK/stage
stage "$S"
HEALTH=$S/usr/libexec/updater/health
CHECK=$S/usr/libexec/updater/check-install

# --- policy, with a stand-in updater and systemctl -----------------------------
# The stand-in logs each call and exits with $RC_<command> (a list: one code
# per call, the last repeated); `status --json` reports TRIAL.
FAKE=$WORK/fake
mkdir -p "$FAKE"
cat >"$FAKE/updater" <<'SH'
#!/bin/bash
while [[ $1 == -* ]]; do shift; done
echo "$*" >>"$CALLS"
cmd=${1//-/_}
if [ "$1 $2" = "status --json" ]; then printf '{"state":"x","trial":%s}\n' "$TRIAL"; exit 0; fi
var=RC_$cmd
codes=(${!var:-0})
n=$(grep -c "^$1\b" "$CALLS")
i=$((n - 1)); [ $i -lt ${#codes[@]} ] || i=$((${#codes[@]} - 1))
exit "${codes[$i]}"
SH
printf '#!/bin/sh\necho "systemctl $*" >>"$CALLS"\n' >"$FAKE/systemctl"
chmod +x "$FAKE/updater" "$FAKE/systemctl"
export CALLS=$WORK/calls UPDATER_OPTS="--config=/nonexistent" SYSTEMCTL=$FAKE/systemctl RETRY_DELAY=0
# policy SCRIPT WANT_EXIT WANT_CALLS [VAR=VALUE...]
policy() {
	local script=$1 want=$2 calls=$3 rc
	shift 3
	: >"$CALLS"
	env UPDATER="$FAKE/updater" TRIAL=false "$@" "$script" >"$WORK/policy.out" 2>&1
	rc=$?
	got=$(paste -sd, "$CALLS")
	[ "$rc" = "$want" ] && [ "$got" = "$calls" ] ||
		{ cat "$WORK/policy.out"; fail "$(basename "$script") $*: exit $rc, calls '$got'; want $want, '$calls'"; }
}
policy "$HEALTH" 0 "health-check,mark-good"
policy "$HEALTH" 0 "health-check,mark-good" TRIAL=true
policy "$HEALTH" 1 "health-check,status --json,rollback,systemctl reboot" RC_health_check=6 TRIAL=true
policy "$HEALTH" 1 "health-check,status --json" RC_health_check=6 TRIAL=false
policy "$HEALTH" 2 "health-check" RC_health_check=2 TRIAL=true
policy "$HEALTH" 1 "health-check,status --json,rollback" RC_health_check=6 RC_rollback=7 LOCK_WAIT=0 TRIAL=true
policy "$HEALTH" 1 "health-check,status --json,rollback,rollback,rollback,systemctl reboot" \
	RC_health_check=6 RC_rollback="7 7 0" LOCK_WAIT=10 TRIAL=true
policy "$HEALTH" 0 "health-check,mark-good,mark-good" RC_mark_good="7 0" LOCK_WAIT=10
policy "$HEALTH" 1 "health-check,mark-good" RC_mark_good=1
policy "$HEALTH" 1 "health-check,status --json,rollback" RC_health_check=6 RC_rollback=7 LOCK_WAIT=0 TRIAL=true
flag=$WORK/auto-install
policy "$CHECK" 0 "check" RC_check=10 AUTO_INSTALL_FLAG="$flag"
policy "$CHECK" 0 "check" RC_check=0 AUTO_INSTALL_FLAG="$flag"
policy "$CHECK" 4 "check" RC_check=4 AUTO_INSTALL_FLAG="$flag"
touch "$flag"
policy "$CHECK" 0 "check" RC_check=10 AUTO_INSTALL_FLAG="$flag"
policy "$CHECK" 0 "check,install" RC_check=0 AUTO_INSTALL_FLAG="$flag"
policy "$CHECK" 0 "check,install" RC_check=0 RC_install=7 AUTO_INSTALL_FLAG="$flag"
policy "$CHECK" 3 "check,install" RC_check=0 RC_install=3 AUTO_INSTALL_FLAG="$flag"
unset UPDATER_OPTS

# --- `updater health-check`: the install hooks' rules, for health.d ------------
export FIXTURES=$TOP/build/package/fixtures
fixtures
d=$(new_device hc)
H=$d/hooks/health.d
chmod 0755 "$d/hooks"
expect_exit 0 "$WORK/h0" upd "$d" health-check # no health.d: nothing to run
mkdir -m 0755 "$H"
# Each check names itself: $0 is /dev/fd/N, as the checked descriptor is what runs (docs/hooks.md).
for n in 20-b 10-a .hidden; do
	# shellcheck disable=SC2016
	printf '#!/bin/sh\necho "%s $UPDATER_PHASE $UPDATER_BACKEND $UPDATER_SLOT $UPDATER_VERSION" >>%s\n' \
		"$n" "$WORK/ran" >"$H/$n"
done
printf 'not executable\n' >"$H/15-text"
chmod 0755 "$H/20-b" "$H/10-a" "$H/.hidden"
chmod 0644 "$H/15-text"
expect_exit 0 "$WORK/h1" upd "$d" health-check
printf '10-a health dualbank A 1.0\n20-b health dualbank A 1.0\n' | diff -u - "$WORK/ran" ||
	fail "health-check: order, skipping or environment"
printf '#!/bin/sh\necho "app is down"\nexit 3\n' >"$H/15-fail"
chmod 0755 "$H/15-fail"
: >"$WORK/ran"
expect_exit 6 "$WORK/h2" upd "$d" health-check
assert_one_error "$WORK/h2" "health hook 15-fail: exited with status 3"
assert_grep "app is down" "$WORK/h2"
[ "$(cat "$WORK/ran")" = "10-a health dualbank A 1.0" ] || fail "checks after a failed one ran"
rm "$H/15-fail"
chmod 0775 "$H/20-b"
expect_exit 6 "$WORK/h3" upd "$d" health-check
assert_one_error "$WORK/h3" "refusing hooks: writable by group or others"
chmod 0755 "$H/20-b"
printf '#!/bin/sh\nsleep 30\n' >"$H/30-hang"
chmod 0755 "$H/30-hang"
sed -i 's/timeout = 10;/timeout = 1;/' "$d/updater.conf"
expect_exit 6 "$WORK/h4" upd "$d" health-check
assert_one_error "$WORK/h4" "health hook 30-hang: timed out after 1 s"
rm "$H/30-hang"
expect_exit 2 "$WORK/h5" upd "$d" health-check extra
assert_one_error "$WORK/h5" "unexpected argument"

# --- end to end: a trial boot that fails its checks, then one that passes ------
run_health() {
	: >"$CALLS"
	UPDATER="$UPDATER" UPDATER_OPTS="--config=$d/updater.conf --progress=none" "$HEALTH" >"$WORK/run.out" 2>&1
}
upd "$d" install "$FIX/v2.0.upd" >/dev/null 2>&1 || fail "install 2.0"
[ "$(sim_boot "$d")" = B ] || fail "the trial boot did not start B"
upd "$d" boot >/dev/null 2>&1 || fail "updater boot"
upd "$d" status --json | grep -q '"trial":true' || fail "not on trial after booting B"
printf '#!/bin/sh\necho "app is down"\nexit 1\n' >"$H/50-app"
chmod 0755 "$H/50-app"
run_health && fail "the health runner succeeded with a failing check"
assert_grep "systemctl reboot" "$CALLS"
assert_grep "rolling back" "$WORK/run.out"
[ "$(envvar "$d" boot_slot)" = A ] || fail "boot_slot is not A after the failed trial"
[ "$(envvar "$d" upgrade_available)" = 0 ] || fail "the trial is not ended"
[ "$(sim_boot "$d")" = A ] || fail "the reboot did not start A"
upd "$d" status --json >"$WORK/st1"
assert_grep '"state":"rolled-back"' "$WORK/st1"
assert_grep '{"id":"B","status":"bad"' "$WORK/st1"
# Not on trial now: a failing check is reported, nothing is rolled back.
run_health && fail "the health runner succeeded with a failing check (no trial)"
grep -q "rollback\|reboot" "$CALLS" && fail "rolled back or rebooted without a trial"
assert_grep "not on trial" "$WORK/run.out"
[ "$(envvar "$d" boot_slot)" = A ] || fail "boot_slot changed without a trial"

# The next release, healthy: mark-good ends its trial.
rm "$H/50-app"
upd "$d" install "$FIX/v3.0.upd" >/dev/null 2>&1 || fail "install 3.0"
[ "$(sim_boot "$d")" = B ] || fail "the trial boot of 3.0 did not start B"
upd "$d" boot >/dev/null 2>&1 || fail "updater boot (3.0)"
run_health || { cat "$WORK/run.out"; fail "the health runner failed with passing checks"; }
grep -q reboot "$CALLS" && fail "rebooted after passing checks"
[ "$(envvar "$d" upgrade_available)" = 0 ] && [ "$(envvar "$d" bootcount)" = 0 ] ||
	fail "mark-good did not end the trial"
upd "$d" status --json | grep -q '"trial":false' || fail "still on trial after the checks passed"

# check-install against a device: 3.0 runs, server.url offers 2.0: up to date.
sed -i "s|server = {|server = { url = \"file://$FIX/v2.0.upd\";|" "$d/updater.conf"
ci() { UPDATER="$UPDATER" UPDATER_OPTS="--config=$1/updater.conf --progress=none" AUTO_INSTALL_FLAG=$2 "$CHECK"; }
ci "$d" "$WORK/flag" >"$WORK/ci.out" 2>&1 || { cat "$WORK/ci.out"; fail "check-install when up to date"; }
# A factory device (1.0): found, installed only once the flag exists.
f=$(new_device ci)
sed -i "s|server = {|server = { url = \"file://$FIX/v2.0.upd\";|" "$f/updater.conf"
ci "$f" "$WORK/flag" >"$WORK/ci.out" 2>&1 || { cat "$WORK/ci.out"; fail "check-install without the flag"; }
assert_grep "update available: version 2.0" "$WORK/ci.out"
assert_grep "not installing" "$WORK/ci.out"
[ "$(envvar "$f" upgrade_available)" = 0 ] || fail "installed without the flag"
touch "$WORK/flag"
ci "$f" "$WORK/flag" >"$WORK/ci.out" 2>&1 || { cat "$WORK/ci.out"; fail "check-install with the flag"; }
[ "$(envvar "$f" boot_slot)" = B ] && [ "$(envvar "$f" upgrade_available)" = 1 ] ||
	fail "check-install with the flag did not activate 2.0 on B"
# Pending its reboot: the next run finds nothing newer.
ci "$f" "$WORK/flag" >"$WORK/ci.out" 2>&1 || { cat "$WORK/ci.out"; fail "check-install while pending"; }
exit 0

# The ostree backend over HTTP, the whole life of an update: check, install
# v2 (pending), trial boot, mark-good; v3 never confirms and U-Boot falls back
# (the failed deployment goes, the running one is the default again); v3
# again and v4 confirmed, which prunes deployments beyond ostree.keep; a
# manual rollback.
. "$TOP/tests/lib/common.sh"
. "$TOP/tests/lib/ostree.sh"
set -u
ostree_test_device
ID1=${C1:0:12}.0
DEPDIR=$D/sysroot/ostree/deploy/simos/deploy

# status --json as python asserts: js NAME ASSERTS (s is the parsed object)
js() {
	ostree_upd "$D" status --json >"$WORK/$1.json" || fail "status --json ($1)"
	"$PYTHON" - "$WORK/$1.json" "$2" <<'PY' || { cat "$WORK/$1.json" >&2; fail "status --json ($1)"; }
import json, sys
s = json.load(open(sys.argv[1]))
exec(sys.argv[2])
PY
}
# env4: boot_slot/upgrade_available/bootcount/rollback
env4() { echo "$(envvar "$D" boot_slot)/$(envvar "$D" upgrade_available)/$(envvar "$D" bootcount)/$(envvar "$D" rollback)"; }

js s0 "
assert s['backend'] == 'ostree' and s['state'] == 'idle', s
assert s['booted'] == {'slot': '$ID1', 'version': '1.0'}, s
assert s['pending'] is None and s['last_error'] is None and s['trial'] is False, s"

# --- v2: check, install, pending ---------------------------------------------
# The content step's process starts beside the metadata step's and waits
# (backends/ostree/pull_proc.c): check has no content step, so the updater
# ends it (exit 0) before it exits itself; install hands it the pull.
expect_exit 0 "$WORK/check" ostree_upd "$D" -v check "$C2"
assert_grep "version 2.0" "$WORK/check"
early=$(sed -n 's/.*pull process \([0-9]*\) started for the content step.*/\1/p' "$WORK/check")
[ -n "$early" ] || fail "check started no process for the content step"
assert_grep "pull process $early, not needed: status 0$" "$WORK/check"
expect_exit 0 "$WORK/install2" ostree_upd "$D" -v install "$C2"
early=$(sed -n 's/.*pull process \([0-9]*\) started for the content step.*/\1/p' "$WORK/install2")
[ -n "$early" ] || fail "install started no process for the content step early"
assert_grep "pull process $early: status 0," "$WORK/install2"
! grep -q "not needed" "$WORK/install2" || fail "install did not use the process it started early"
ID2=$(envvar "$D" boot_slot)
case $ID2 in "${C2:0:12}".[0-9]*) ;; *) fail "boot_slot after install is '$ID2', not a deployment of $C2" ;; esac
assert_eq "$(env4)" "$ID2/1/0/0" "env after install"
assert_eq "$(ostree_entry "$D")" "$C2.${ID2#*.}" "uEnv default entry after install"
assert_eq "$(ostree_entry "$D" 2)" "$C1.0" "uEnv rollback entry after install"
assert_eq "$(ostree_booted "$D")" "$C1.0" "still running v1 before the reboot"
expect_exit 10 "$WORK/check2" ostree_upd "$D" check "$C2"
assert_grep "pending reboot" "$WORK/check2"
js s1 "
assert s['backend'] == 'ostree' and s['state'] == 'activated', s
assert s['booted'] == {'slot': '$ID1', 'version': '1.0'}, s
assert s['pending'] == {'slot': '$ID2', 'version': '2.0'}, s
assert s['trial'] is False and s['boot_env']['boot_slot'] == '$ID2', s
assert s['boot_env']['upgrade_available'] == 1 and s['last_error'] is None, s"

# --- reboot: trial, updater boot, mark-good ----------------------------------
ostree_sim_boot "$D" >/dev/null
assert_eq "$(ostree_booted "$D")" "$C2.${ID2#*.}" "first boot after install runs v2"
assert_eq "$(env4)" "$ID2/1/1/0" "env on the trial boot"
ostree_upd "$D" boot || fail "updater boot on the trial"
js s2 "
assert s['state'] == 'trial' and s['trial'] is True, s
assert s['booted'] == {'slot': '$ID2', 'version': '2.0'}, s
assert s['pending'] is None, s"
expect_exit 0 "$WORK/good2" ostree_upd "$D" mark-good
assert_eq "$(env4)" "$ID2/0/0/0" "env after mark-good"
js s3 "assert s['state'] == 'committed' and s['trial'] is False and s['last_error'] is None, s"
assert_eq "$(ostree_entry "$D")" "$C2.${ID2#*.}" "uEnv kernel_image/bootargs = v2 after mark-good"
assert_eq "$(ostree_entry "$D" 2)" "$C1.0" "uEnv kernel_image2/bootargs2 = v1 after mark-good"
grep -q '^kernel_image=.*/vmlinuz-6.1.0-sim2$' "$D/sysroot/boot/loader/uEnv.txt" &&
	grep -q '^kernel_image2=.*/vmlinuz-6.1.0-sim1$' "$D/sysroot/boot/loader/uEnv.txt" ||
	{ cat "$D/sysroot/boot/loader/uEnv.txt" >&2; fail "uEnv.txt kernels after mark-good"; }
assert_eq "$(ostree_deployments "$D")" 2 "deployments after the first update"
ostree_sim_boot "$D" >/dev/null
assert_eq "$(ostree_booted "$D")" "$C2.${ID2#*.}" "a normal boot after mark-good runs v2"
assert_eq "$(env4)" "$ID2/0/0/0" "a normal boot writes nothing"
expect_exit 10 "$WORK/check3" ostree_upd "$D" check "$C2"
assert_grep "up to date" "$WORK/check3"

# --- v3 never confirms: three trial boots, then U-Boot falls back -----------
expect_exit 0 "$WORK/install3" ostree_upd "$D" install "$C3"
ID3=$(envvar "$D" boot_slot)
case $ID3 in "${C3:0:12}".[0-9]*) ;; *) fail "boot_slot after installing v3 is '$ID3'" ;; esac
assert_eq "$(ostree_entry "$D" 2)" "$C2.${ID2#*.}" "rollback entry while v3 is pending"
assert_eq "$(ostree_deployments "$D")" 3 "deployments while v3 is pending"
for i in 1 2 3; do
	ostree_sim_boot "$D" >/dev/null
	assert_eq "$(ostree_booted "$D")" "$C3.${ID3#*.}" "trial boot $i runs v3"
	ostree_upd "$D" boot 2>"$WORK/boot$i" || { cat "$WORK/boot$i" >&2; fail "updater boot on trial boot $i"; }
	assert_eq "$(env4)" "$ID3/1/$i/0" "env on trial boot $i"
	assert_grep "attempt $i of 3" "$WORK/boot$i"
done
ostree_sim_boot "$D" >/dev/null
assert_eq "$(ostree_booted "$D")" "$C2.${ID2#*.}" "the fourth boot falls back to bootargs2 = v2"
assert_eq "$(envvar "$D" rollback)/$(envvar "$D" upgrade_available)" "1/0" "U-Boot set rollback"
ostree_upd "$D" boot 2>"$WORK/fallback" || { cat "$WORK/fallback" >&2; fail "updater boot after the fallback"; }
assert_grep "not confirmed within its 3 trial boots" "$WORK/fallback"
assert_eq "$(env4)" "$ID2/0/0/0" "env after the fallback is settled"
js s4 "
assert s['state'] == 'rolled-back', s
assert s['booted'] == {'slot': '$ID2', 'version': '2.0'}, s
e = s['last_error']
assert '3.0' in e and '$ID3' in e and 'fell back to $ID2' in e and 'trial boots' in e, s
assert s['boot_env']['rollback'] == 0 and s['boot_env']['boot_slot'] == '$ID2', s
assert {'id': '$ID3', 'status': 'bad', 'version': '3.0'} in s['targets'], s"
[ ! -e "$DEPDIR/$C3.${ID3#*.}" ] || fail "the failed v3 deployment is still there"
assert_eq "$(ostree_entry "$D")" "$C2.${ID2#*.}" "the running v2 is the default again"
assert_eq "$(ostree_entry "$D" 2)" "" "no rollback entry after the fallback"
assert_eq "$(ostree_deployments "$D")" 1 "deployments after the fallback"
ostree_sim_boot "$D" >/dev/null
assert_eq "$(ostree_booted "$D")" "$C2.${ID2#*.}" "a later boot stays on v2"
ostree_upd "$D" boot 2>"$WORK/later" || { cat "$WORK/later" >&2; fail "updater boot, later"; }
assert_eq "$(env4)" "$ID2/0/0/0" "env on a later boot"
js s5 "assert s['state'] == 'rolled-back' and s['booted']['slot'] == '$ID2', s"
# Nothing else to roll back to: refused, nothing changed.
ostree_snapshot "$D"
expect_exit 7 "$WORK/rb0" ostree_upd "$D" rollback
assert_one_error "$WORK/rb0" "no other deployment"
ostree_assert_untouched "$D"

# --- v3 again, then v4 (the ref's head) confirmed: pruning to ostree.keep = 2 -
# v3 failed its trial here: it needs --force (issue 11, docs/cli.md).
expect_exit 7 "$WORK/install3a" ostree_upd "$D" install "$C3"
expect_exit 0 "$WORK/install3b" ostree_upd "$D" install --force "$C3"
ID3=$(envvar "$D" boot_slot)
ostree_sim_boot "$D" >/dev/null
assert_eq "$(ostree_booted "$D")" "$C3.${ID3#*.}" "v3 reinstalled boots"
expect_exit 0 "$WORK/good3" ostree_upd "$D" mark-good
assert_eq "$(ostree_deployments "$D")" 2 "deployments after confirming v3"
# No argument: the config's ref, whose head is v4.
expect_exit 0 "$WORK/install4" ostree_upd "$D" install
assert_grep "installing version 4.0" "$WORK/install4"
ID4=$(envvar "$D" boot_slot)
case $ID4 in "${C4:0:12}".[0-9]*) ;; *) fail "boot_slot after installing the ref's head is '$ID4'" ;; esac
assert_eq "$(ostree_deployments "$D")" 3 "deployments while v4 is pending (v4, v3, v2)"
[ -d "$DEPDIR/$C2.${ID2#*.}" ] || fail "v2's deployment went before v4 was confirmed"
ostree_sim_boot "$D" >/dev/null
assert_eq "$(ostree_booted "$D")" "$C4.${ID4#*.}" "v4 boots"
# This mark-good prunes (v2's objects): with --progress=json, stdout carries
# JSON objects only (libostree's own "Freed objects: ..." must not get there).
ostree_nofreeze "$UPDATER" --config="$D/updater.conf" --progress=json mark-good >"$WORK/good4.out" 2>"$WORK/good4" ||
	{ cat "$WORK/good4" >&2; fail "mark-good of v4"; }
"$PYTHON" - "$WORK/good4.out" <<'PY' || { cat "$WORK/good4.out" >&2; fail "mark-good --progress=json: stdout is not JSON lines"; }
import json, sys
for line in open(sys.argv[1]):
    assert isinstance(json.loads(line), dict), line
PY
assert_eq "$(ostree_deployments "$D")" 2 "deployments after confirming v4 (ostree.keep = 2)"
ls "$DEPDIR" | grep -v '\.origin$' | sort >"$WORK/deps"
printf '%s\n' "$C3.${ID3#*.}" "$C4.${ID4#*.}" | sort | diff -u - "$WORK/deps" >&2 ||
	fail "kept deployments are not v4 and v3"
# v2's own objects (its version-data.bin) are pruned from the repository too.
obj=$(ostree --repo="$OFIX/srv/repo" ls -C "$C2" /usr/share/sim/version-data.bin | awk '{ print $5 }')
[ -n "$obj" ] || fail "no checksum for v2's version-data.bin"
[ ! -e "$D/sysroot/ostree/repo/objects/${obj:0:2}/${obj:2}.file" ] || fail "v2's objects were not pruned"
assert_eq "$(ostree_entry "$D")/$(ostree_entry "$D" 2)" "$C4.${ID4#*.}/$C3.${ID3#*.}" "uEnv entries after v4"
# status lists the deployments there are (v4, v3), not the pruned v2; every
# value in one column, the systems' status in another.
js s5b "assert sorted(t['id'] for t in s['targets']) == sorted(['$ID3', '$ID4']), s"
ostree_upd "$D" status >"$WORK/status-text" || fail "status after v4"
! grep -q "$ID2" "$WORK/status-text" || { cat "$WORK/status-text" >&2; fail "status lists the pruned $ID2"; }
"$PYTHON" - "$WORK/status-text" <<'PY' || { cat "$WORK/status-text" >&2; fail "status columns"; }
import re, sys
lines = open(sys.argv[1]).read().splitlines()
cols = {re.match(r"[a-z ]+: +", l).end() for l in lines}
assert len(cols) == 1, cols
systems = [l for l in lines if l.startswith("system:")]
assert len(systems) == 2, systems
assert len({re.search(r" (good|verified|bad|incomplete),", l).start() for l in systems}) == 1, systems
PY

# --- manual rollback to v3 ---------------------------------------------------
expect_exit 0 "$WORK/rb" ostree_upd "$D" rollback
assert_eq "$(env4)" "$ID3/0/0/0" "env after rollback"
assert_eq "$(ostree_entry "$D")" "$C3.${ID3#*.}" "rollback makes v3 the default"
ostree_sim_boot "$D" >/dev/null
assert_eq "$(ostree_booted "$D")" "$C3.${ID3#*.}" "the boot after rollback runs v3"
ostree_upd "$D" boot || fail "updater boot after rollback"
js s6 "
assert s['state'] == 'rolled-back', s
assert s['booted'] == {'slot': '$ID3', 'version': '3.0'}, s
assert 'user' in s['last_error'] and '$ID4' in s['last_error'], s"
ostree_sim_boot "$D" >/dev/null
assert_eq "$(ostree_booted "$D")" "$C3.${ID3#*.}" "and it stays there"

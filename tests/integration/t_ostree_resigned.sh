# A release's signatures change on the server between the metadata step,
# which verified them against ostree.gpg_keyring before it stored the commit,
# and the content pull, which stores the signatures the server sends again.
# The updater takes the pull process' check for the very bytes it checked
# only (backends/ostree/trust.c: verified_by_pull, a digest of the detached
# metadata): unchanged, no second GPG check; re-signed by a key nobody
# trusts with the release key's signature gone, exit 3 naming the commit's
# verification, nothing deployed, the boot state untouched, the refused
# signatures not left in the device's repository; one more
# signature beside the valid one, checked again by the updater and
# installed. The fault build holds the install between the two steps
# (UPDATER_FAULT_DELAY=content-start) while the test re-signs.
. "$TOP/tests/lib/common.sh"
. "$TOP/tests/lib/ostree.sh"
set -u
ostree_fixtures
ostree_gpg_load "$OFIX/gpg" || fail "the fixture's GPG keys"
cp -a "$OFIX/srv" "$WORK/srv" || fail "copy the server"
REPO=$WORK/srv/repo
META=$REPO/objects/${C3:0:2}/${C3:2}.commitmeta
cp "$META" "$WORK/commitmeta.good" || fail "keep the signatures"
LOG=$WORK/httpd.log
ostree_test_device --srv "$WORK/srv" --log "$LOG"
trap 'stop_httpd; for d in "$D" "$WORK"/d[23]; do ostree_rm_device "$d"; done' EXIT
DEPDIR=sysroot/ostree/deploy/simos/deploy

# sign ARGS...: ostree gpg-sign on the server's v3 with the test's GPG home.
sign() { ostree gpg-sign --repo="$REPO" --gpg-homedir="$OSTREE_SIGN_HOME" "$@" >/dev/null 2>&1; }

# held_install DEV OUT CHANGE: `install v3` on DEV, held 3 s between its
# metadata step and its content pull; CHANGE runs once the metadata step has
# fetched the signatures. Leaves the exit code in $rc.
held_install() {
	local dev=$1 out=$2 change=$3 n0 job
	n0=$(ostree_log_lines "$LOG")
	UPDATER_FAULT_DELAY=content-start:$((3000 * SLOW)) UPDATER=$TOP/updater-fault \
		ostree_upd "$dev" -v install "$C3" >"$out" 2>&1 &
	job=$!
	for _ in $(seq $((100 * SLOW))); do
		tail -n +"$((n0 + 1))" "$LOG" | grep -q "/${C3:2}\.commitmeta " && break
		sleep 0.05
	done
	tail -n +"$((n0 + 1))" "$LOG" | grep -q "/${C3:2}\.commitmeta " ||
		{ kill "$job"; fail "the metadata step did not fetch the signatures"; }
	$change || { kill "$job"; fail "$change"; }
	wait "$job"
	rc=$?
	[ "$(tail -n +"$((n0 + 1))" "$LOG" | grep -c "/${C3:2}\.commitmeta ")" = 2 ] ||
		{ cat "$out" >&2; fail "the content pull did not fetch the signatures again"; }
}

# Unchanged: the pull process' check stands.
expect_exit 0 "$WORK/same" ostree_upd "$D" -v install "$C3"
assert_grep "signatures checked by the pull process, unchanged since" "$WORK/same"
ls "$D/$DEPDIR/" | grep -q "^$C3\." || fail "v3 was not deployed"

# Only the untrusted key's signature by the time the content is pulled (made
# on a copy without signatures: gpg-sign --delete finds no key here).
rm "$META" && sign "$C3" "$OSTREE_GPG_OTHER_KEYID" && mv "$META" "$WORK/commitmeta.untrusted" &&
	cp "$WORK/commitmeta.good" "$META" || fail "make the untrusted signatures"
untrusted() { cp "$WORK/commitmeta.untrusted" "$META.tmp" && mv "$META.tmp" "$META"; }
ostree_clone_device "$OFIX/device" "$WORK/d2" "$URL/repo"
ostree_snapshot "$WORK/d2"
held_install "$WORK/d2" "$WORK/untrusted" untrusted
[ "$rc" = 3 ] || { cat "$WORK/untrusted" >&2; fail "re-signed by an untrusted key: exit $rc, expected 3"; }
ostree_assert_error "$WORK/untrusted" "verify commit ${C3:0:12}"
! grep -q "unchanged since" "$WORK/untrusted" || fail "the changed signatures were taken as checked"
! ls "$WORK/d2/$DEPDIR/" | grep -q "^$C3\." || fail "v3 was deployed with untrusted signatures"
ostree_assert_untouched "$WORK/d2" "untrusted signatures"
# The refused signatures, which the content pull stored, are not kept.
D2META=$WORK/d2/sysroot/ostree/repo/objects/${C3:0:2}/${C3:2}.commitmeta
[ -e "$WORK/commitmeta.untrusted" ] || fail "the untrusted signatures are gone from the test"
! cmp -s "$D2META" "$WORK/commitmeta.untrusted" ||
	fail "the refused signatures were left in the device's repository"

# One more signature beside the release key's: checked again, installed.
cp "$WORK/commitmeta.good" "$META" || fail "restore the signatures"
another() { sign "$C3" "$OSTREE_GPG_OTHER_KEYID"; }
ostree_clone_device "$OFIX/device" "$WORK/d3" "$URL/repo"
held_install "$WORK/d3" "$WORK/another" another
[ "$rc" = 0 ] || { cat "$WORK/another" >&2; fail "one more signature: exit $rc, expected 0"; }
! grep -q "unchanged since" "$WORK/another" || fail "the changed signatures were not checked again"
ls "$WORK/d3/$DEPDIR/" | grep -q "^$C3\." || fail "v3 was not deployed"

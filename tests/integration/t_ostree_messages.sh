# Messages of the ostree backend a newcomer meets first: with ostree.gpg_verify
# off, the warning comes once from each command that fetches (check, install)
# and never from status, boot or mark-good.
. "$TOP/tests/lib/common.sh"
. "$TOP/tests/lib/ostree.sh"
set -u
ostree_test_device
sed -i 's/gpg_verify = true;/gpg_verify = false;/' "$D/updater.conf"
grep -q 'gpg_verify = false;' "$D/updater.conf" || fail "gpg_verify not off"

# warnings OUT WANT ARGS...: the command exits 0 (10 for check: up to date)
# and says the gpg_verify warning WANT times
warnings() {
	local out=$1 want=$2 rc n
	shift 2
	ostree_upd "$D" "$@" >"$WORK/$out" 2>&1
	rc=$?
	[ $rc = 0 ] || [ $rc = 10 ] || { cat "$WORK/$out" >&2; fail "$* exited $rc"; }
	n=$(grep -c 'ostree.gpg_verify is off' "$WORK/$out")
	[ "$n" = "$want" ] || { cat "$WORK/$out" >&2; fail "$*: the gpg_verify warning $n times, expected $want"; }
}
warnings status 0 status
warnings status-json 0 status --json
warnings check 1 check "$C2"
warnings install 1 install "$C2"
warnings check-pending 1 check "$C2"
ostree_sim_boot "$D" >/dev/null
warnings boot 0 boot
warnings mark-good 0 mark-good
warnings status2 0 status

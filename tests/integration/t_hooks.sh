# Pre- and post-install hooks: environment, order, failure and timeout.
. "$TOP/tests/lib/common.sh"
set -u
dualbank_test_device
B2="$FIX/v2.0.upd"
mkdir -p "$D/hooks/pre-install.d" "$D/hooks/post-install.d"
chmod 755 "$D/hooks" "$D/hooks/pre-install.d" "$D/hooks/post-install.d"
hook() { # PHASE NAME BODY
	printf '#!/bin/sh\n%s\n' "$3" >"$D/hooks/$1.d/$2"
	chmod 755 "$D/hooks/$1.d/$2"
}
snapshot "$D"

# A failing pre-install hook: nothing written to B, nothing activated.
b_before=$(file_sha "$D/slots/B.img")
hook pre-install 10-fail 'echo "battery too low" >&2; exit 3'
expect_exit 6 "$WORK/pre" upd "$D" install "$B2"
assert_one_error "$WORK/pre" "10-fail"
assert_grep "battery too low" "$WORK/pre"
assert_eq "$(file_sha "$D/slots/B.img")" "$b_before" "slot B written despite a failing pre-install hook"
assert_untouched "$D"
rm "$D/hooks/pre-install.d/10-fail"

# A hanging hook is killed after hooks.timeout (10 s in the device config).
hook pre-install 20-hang 'sleep 600'
t0=$(date +%s)
expect_exit 6 "$WORK/hang" upd "$D" install "$B2"
[ $(($(date +%s) - t0)) -lt 30 ] || fail "hanging hook not killed in time"
assert_one_error "$WORK/hang" "timed out"
assert_untouched "$D"
rm "$D/hooks/pre-install.d/20-hang"

# A failing post-install hook: B was written but is not activated.
hook post-install 50-fail 'exit 1'
expect_exit 6 "$WORK/post" upd "$D" install "$B2"
assert_one_error "$WORK/post" "50-fail"
assert_untouched "$D"
grep -q "target.B.status=bad" "$D/data/updater/state" || fail "slot B not recorded bad after post-install failure"
rm "$D/hooks/post-install.d/50-fail"

# Hooks see the contract's environment and run in name order.
hook pre-install 20-env 'echo "pre $UPDATER_BACKEND $UPDATER_VERSION $UPDATER_SLOT $UPDATER_TARGET" >>'"$WORK/hooks.log"
hook pre-install 10-first 'echo "first" >>'"$WORK/hooks.log"
hook post-install 10-post 'echo "post $UPDATER_SLOT" >>'"$WORK/hooks.log"
expect_exit 0 "$WORK/ok" upd "$D" install "$B2"
assert_eq "$(sed -n 1p "$WORK/hooks.log")" "first" "hook order"
assert_eq "$(sed -n 2p "$WORK/hooks.log")" "pre dualbank 2.0 B $D/slots/B.img" "hook environment"
assert_eq "$(sed -n 3p "$WORK/hooks.log")" "post B" "post-install hook"

# A second install while one runs is refused (exit 7); status still answers.
. "$TOP/tests/lib/common.sh"
set -u
dualbank_test_device
mkdir -p "$D/hooks/pre-install.d"
# The hook must outlast the commands below, slowed down or not.
sed -i "s/^hooks = { dir = \"hooks\"; timeout = 10; };/hooks = { dir = \"hooks\"; timeout = $((10 * SLOW)); };/" "$D/updater.conf"
grep -q "^hooks = .*timeout = $((10 * SLOW)); };" "$D/updater.conf" || fail "hooks.timeout not set in $D/updater.conf"
chmod 755 "$D/hooks" "$D/hooks/pre-install.d"
printf '#!/bin/sh\ntouch %s\nsleep %s\n' "$WORK/started" $((3 * SLOW)) >"$D/hooks/pre-install.d/10-slow"
chmod 755 "$D/hooks/pre-install.d/10-slow"
upd "$D" install "$FIX/v2.0.upd" >"$WORK/first" 2>&1 &
first=$!
for _ in $(seq 1 $((100 * SLOW))); do [ -e "$WORK/started" ] && break; sleep 0.05; done
[ -e "$WORK/started" ] || fail "first install did not reach its pre-install hook"
expect_exit 7 "$WORK/second" upd "$D" install "$FIX/v2.0.upd"
assert_one_error "$WORK/second" "another updater is running"
upd "$D" status >"$WORK/status" || fail "status while an install runs"
assert_grep "another updater is running" "$WORK/status"
assert_grep "state:             pre-install" "$WORK/status"
wait $first || { cat "$WORK/first"; fail "first install failed"; }
assert_eq "$(envvar "$D" boot_slot)" B "first install activated B"

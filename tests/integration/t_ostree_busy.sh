# The ostree backend refuses to run twice, and refuses to install while the
# booted deployment is on trial: exit 7, one message, nothing changed.
. "$TOP/tests/lib/common.sh"
. "$TOP/tests/lib/ostree.sh"
set -u
ostree_test_device

# A pre-install hook that holds the first install until the test says go.
mkdir -p "$D/hooks/pre-install.d"
# The hook must outlast the commands below, slowed down or not.
sed -i "s/^hooks = { dir = \"hooks\"; timeout = 10; };/hooks = { dir = \"hooks\"; timeout = $((10 * SLOW)); };/" "$D/updater.conf"
grep -q "^hooks = .*timeout = $((10 * SLOW)); };" "$D/updater.conf" || fail "hooks.timeout not set in $D/updater.conf"
chmod 755 "$D/hooks" "$D/hooks/pre-install.d"
cat >"$D/hooks/pre-install.d/10-wait" <<HOOK
#!/bin/sh
touch "$WORK/started"
i=0
while [ ! -e "$WORK/go" ] && [ \$i -lt $((160 * SLOW)) ]; do sleep 0.05; i=\$((i + 1)); done
HOOK
chmod 755 "$D/hooks/pre-install.d/10-wait"
ostree_upd "$D" install "$C2" >"$WORK/first" 2>&1 &
first=$!
for _ in $(seq 1 $((200 * SLOW))); do [ -e "$WORK/started" ] && break; sleep 0.05; done
[ -e "$WORK/started" ] || { touch "$WORK/go"; wait $first; cat "$WORK/first" >&2; fail "the first install never reached its pre-install hook"; }
ostree_snapshot "$D"
expect_exit 7 "$WORK/second" ostree_upd "$D" install "$C3"
ostree_assert_error "$WORK/second" "another updater is running"
expect_exit 7 "$WORK/second-rb" ostree_upd "$D" rollback
ostree_assert_error "$WORK/second-rb" "another updater is running"
ostree_upd "$D" status --json >"$WORK/busy.json" || fail "status while an install runs"
"$PYTHON" - "$WORK/busy.json" <<'PY' || { cat "$WORK/busy.json" >&2; fail "status --json while an install runs"; }
import json, sys
s = json.load(open(sys.argv[1]))
assert s["backend"] == "ostree" and s["busy"] is True and s["state"] == "pre-install", s
PY
ostree_assert_untouched "$D" "refused second install"
touch "$WORK/go"
wait $first || { cat "$WORK/first" >&2; fail "the first install failed"; }
rm -f "$D/hooks/pre-install.d/10-wait"
ID2=$(envvar "$D" boot_slot)
case $ID2 in "${C2:0:12}".[0-9]*) ;; *) fail "the first install did not activate v2 (boot_slot $ID2)" ;; esac

# Booted on trial: the previous deployment is its fallback, no install now.
ostree_sim_boot "$D" >/dev/null
ostree_upd "$D" boot || fail "updater boot on the trial"
grep -q '^state=trial$' "$D/data/updater/state" || fail "not on trial after the reboot"
ostree_snapshot "$D"
expect_exit 7 "$WORK/trial" ostree_upd "$D" install "$C3"
ostree_assert_error "$WORK/trial" "on trial"
expect_exit 7 "$WORK/trial-head" ostree_upd "$D" install
ostree_assert_error "$WORK/trial-head" "on trial"
ostree_assert_untouched "$D" "install on trial"
grep -q '^state=trial$' "$D/data/updater/state" || fail "the refused install changed the state"
# Confirmed, the next install goes ahead.
ostree_upd "$D" mark-good || fail "mark-good"
expect_exit 0 "$WORK/after" ostree_upd "$D" install "$C3"

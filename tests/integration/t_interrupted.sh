# An install killed hard (kill -9) in the middle of writing: the next start
# records it as interrupted, the boot state never changed, and a rerun completes.
. "$TOP/tests/lib/common.sh"
set -u
dualbank_test_device v2.0.upd
snapshot "$D"
# A slow server so the kill lands while the slot is being written.
start_httpd "$W" --fault drip=200000
# The binary itself, not the upd shell function: kill must hit the updater.
"$UPDATER" --config="$D/updater.conf" install "$URL/v2.0.upd" >"$WORK/inst" 2>&1 &
pid=$!
for _ in $(seq 1 $((200 * SLOW))); do
	grep -q "state=install$" "$D/data/updater/state" 2>/dev/null && break
	sleep 0.05
done
grep -q "state=install$" "$D/data/updater/state" || fail "install never reached the write"
sleep 0.5
kill -9 $pid
wait $pid 2>/dev/null
assert_untouched "$D"
grep -q "target.B.status=incomplete" "$D/data/updater/state" || fail "slot B not recorded incomplete"
assert_eq "$(sim_boot "$D")" A "boot after the kill"
upd "$D" status --json >"$WORK/s.json"
python3 - "$WORK/s.json" <<'PY' || fail "status after an interrupted install"
import json, sys
s = json.load(open(sys.argv[1]))
assert s["state"] == "failed", s
assert "interrupted" in s["last_error"], s
PY
stop_httpd
start_httpd "$W"
expect_exit 0 "$WORK/again" upd "$D" install "$URL/v2.0.upd"
assert_eq "$(sim_boot "$D")" B "boot after the repeated install"

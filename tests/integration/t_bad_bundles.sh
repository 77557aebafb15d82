# Every kind of bad bundle is refused with one clear message and exit code 3
# (5 for an image larger than its slot), before anything is activated: the
# running slot and the boot environment stay as they were.
. "$TOP/tests/lib/common.sh"
set -u
dualbank_test_device
T="$TOP/tests/lib/tamper.py"
python3 "$T" flip "$FIX/v2.0.upd" "$W/corrupt.upd" 5000
size=$(stat -c %s "$FIX/v2.0.upd")
python3 "$T" truncate "$FIX/v2.0.upd" "$W/truncated.upd" $((size - 1000))
python3 "$T" truncate "$FIX/v2.0.upd" "$W/headonly.upd" 40
python3 "$T" unsign "$FIX/v2.0.upd" "$W/unsigned.upd"
python3 "$T" manifest "$FIX/v2.0.upd" "$W/edited.upd" "version=9.0"
make_bundle "$FIX/v2.0.img" 2.0 "$FIX/other.pem" "$W/otherkey.upd"
make_bundle "$FIX/v2.0.img" 2.0 "$FIX/release.pem" "$W/wrongboard.upd" other-board
make_bundle "$FIX/v1.0.img" 0.9 "$FIX/release.pem" "$W/older.upd"
head -c 20M /dev/urandom >"$WORK/big.img"
make_bundle "$WORK/big.img" 2.0 "$FIX/release.pem" "$W/toolarge.upd"
echo "not a bundle at all" >"$W/garbage.upd"
start_httpd "$W"

snapshot "$D"
check_refused() { # NAME CODE MESSAGE
	expect_exit "$2" "$WORK/$1.out" upd "$D" install "$URL/$1.upd"
	assert_one_error "$WORK/$1.out" "$3"
	assert_untouched "$D"
	upd "$D" status --json >"$WORK/$1.json"
	python3 - "$WORK/$1.json" "$3" <<'PY' || fail "$1: status after refusal"
import json, sys
s = json.load(open(sys.argv[1]))
assert s["state"] == "failed" and s["pending"] is None, s
assert sys.argv[2] in s["last_error"], s
PY
}
check_refused corrupt 3 "corrupt payload"
check_refused truncated 3 "truncated"
check_refused headonly 3 "truncated"
check_refused unsigned 3 "not signed"
check_refused edited 3 "signature"
check_refused otherkey 3 "signature"
check_refused wrongboard 3 "other-board"
check_refused older 3 "older than the running 1.0"
check_refused toolarge 5 "does not fit slot B"
check_refused garbage 3 "bad magic"
# A corrupt payload was partly written to B: it is recorded as incomplete, so
# nothing may boot it.
check_refused corrupt 3 "corrupt payload"
grep -q "target.B.status=incomplete" "$D/data/updater/state" || fail "slot B not recorded incomplete"
expect_exit 7 "$WORK/rb" upd "$D" rollback
assert_untouched "$D"

# The same bundles from a file path behave the same.
expect_exit 3 "$WORK/file" upd "$D" install "$W/unsigned.upd"
assert_one_error "$WORK/file" "not signed"
# A downgrade goes through when asked for explicitly.
expect_exit 0 "$WORK/down" upd "$D" install --allow-downgrade "$URL/older.upd"
assert_eq "$(envvar "$D" boot_slot)" B "downgrade activated"

# Bundle format 3 (docs/bundle-format.md): `bundle create` writes it by
# default, `bundle info` shows its index and image id, the dual-bank backend
# installs it over HTTP as a full stream; a bundle whose index section does
# not match the signed index-sha256 is refused (exit 3) before anything is
# written, and a format-1 bundle still installs.
. "$TOP/tests/lib/common.sh"
set -u
dualbank_test_device
# Made here, not taken from the fixtures: a fixture cache made by an older
# updater holds older formats.
make_bundle "$FIX/v2.0.img" 2.0 "$FIX/release.pem" "$W/v2.0.upd"
T="$TOP/tests/lib/tamper.py"
python3 "$T" index "$W/v2.0.upd" "$W/badindex.upd" 7
"$UPDATER" bundle create --image "$FIX/v3.0.img" --version 3.0 --compatible sim-board \
	--key "$FIX/release.pem" --output "$W/v3.0-f1.upd" --format 1 >"$WORK/create1" ||
	fail "bundle create --format 1"
assert_grep "format 1" "$WORK/create1"
expect_exit 2 "$WORK/f1sv" "$UPDATER" bundle create --image "$FIX/v3.0.img" --version 3.0 \
	--compatible sim-board --key "$FIX/release.pem" --output "$WORK/x.upd" --format 1 \
	--security-version 4
assert_one_error "$WORK/f1sv" "format 1 cannot carry a security version"
start_httpd "$W"

# info: format, kind, image id, the index and its check.
expect_exit 0 "$WORK/info" upd "$D" bundle info "$URL/v2.0.upd"
assert_grep "format:         3" "$WORK/info"
assert_grep "kind:           full" "$WORK/info"
assert_grep "image id:       $(file_sha "$FIX/v2.0.img" | cut -c1-16)" "$WORK/info"
blocks=$(( ($(stat -c %s "$FIX/v2.0.img") + 4095) / 4096 ))
assert_grep "index:          $blocks blocks of 4096, " "$WORK/info"
assert_grep "index check:    matches the manifest" "$WORK/info"
assert_grep "signature:      valid" "$WORK/info"
expect_exit 3 "$WORK/info-bad" upd "$D" bundle info "$URL/badindex.upd"
assert_grep "index check:    FAILED" "$WORK/info-bad"
assert_one_error "$WORK/info-bad" "bundle index: sha256 does not match the manifest's index-sha256"

# A tampered index: refused before the slot is opened for writing.
expect_refused "$D" 3 "$WORK/bad" "bundle index: sha256 does not match the manifest's index-sha256" \
	upd "$D" install "$URL/badindex.upd"
grep -q "target.B.status=incomplete" "$D/data/updater/state" &&
	fail "slot B recorded as written for a bad index"

# The good one installs over HTTP as a full stream, from after the index.
expect_exit 0 "$WORK/install" upd "$D" install "$URL/v2.0.upd"
assert_eq "$(slot_sha "$D" B "$(stat -c %s "$FIX/v2.0.img")")" "$(file_sha "$FIX/v2.0.img")" "slot B content"
assert_eq "$(envvar "$D" boot_slot)/$(envvar "$D" upgrade_available)" "B/1" "env after install"
assert_eq "$(sim_boot "$D")" B "boot the format-3 release"
upd "$D" boot || fail "boot"
upd "$D" mark-good || fail "mark-good"

# A format-1 bundle still installs on the same updater.
expect_exit 0 "$WORK/info1" upd "$D" bundle info "$URL/v3.0-f1.upd"
assert_grep "index:          none (format 1: full stream only)" "$WORK/info1"
expect_exit 0 "$WORK/install1" upd "$D" install "$URL/v3.0-f1.upd"
assert_eq "$(slot_sha "$D" A "$(stat -c %s "$FIX/v3.0.img")")" "$(file_sha "$FIX/v3.0.img")" "slot A content"
echo "PASS"

# Issue 11, sections 3 and 4, on the simulated dual-bank device with the real
# binary over HTTP: the security floor, no downgrade below the highest version
# the device confirmed, an unknown booted version, a release that failed its
# trial is remembered (check, install, libexec/check-install), and rollback
# never rolls forward.
. "$TOP/tests/lib/common.sh"
set -u
fixtures
mkdir -p "$WORK/www"
cp "$FIX"/v*.upd "$WORK/www/"
# The same 3.0 image at security version 2 (a format-2 bundle: format 3
# carries it too, t_format3.sh).
"$UPDATER" bundle create --image "$FIX/v3.0.img" --version 3.0 --compatible sim-board \
	--key "$FIX/release.pem" --output "$WORK/www/v3.0-sv2.upd" --security-version 2 --format 2 \
	>"$WORK/create" || fail "bundle create --security-version"
assert_grep "security version 2" "$WORK/create"
start_httpd "$WORK/www"
trap stop_httpd EXIT

json() { # DEVICE PYTHON-EXPRESSION-ON-s
	upd "$1" status --json | python3 -c "import json,sys; s=json.load(sys.stdin); print($2)"
}

# --- 3: 3.0 confirmed, rolled back to 1.0: an old signed 2.0 must not overwrite 3.0.
D=$(new_device dev-down)
upd "$D" install "$URL/v3.0.upd" >/dev/null 2>&1 || fail "install 3.0"
assert_eq "$(sim_boot "$D")" B "boot 3.0"
upd "$D" mark-good || fail "mark-good 3.0"
upd "$D" rollback || fail "rollback to 1.0"
assert_eq "$(sim_boot "$D")" A "boot 1.0"
upd "$D" boot || fail "boot"
b_before=$(file_sha "$D/slots/B.img")
snapshot "$D"
expect_exit 3 "$WORK/down" upd "$D" install "$URL/v2.0.upd"
assert_one_error "$WORK/down" "not newer than 3.0, the highest version confirmed on this device"
assert_eq "$(file_sha "$D/slots/B.img")" "$b_before" "slot B (the confirmed 3.0) rewritten"
assert_untouched "$D"
expect_exit 10 "$WORK/down-check" upd "$D" check "$URL/v2.0.upd"
assert_grep "newest here is 3.0 (confirmed on this device)" "$WORK/down-check"
assert_eq "$(json "$D" 's["security_floor"], s["confirmed_version"]')" "0 3.0" "floor, confirmed"
expect_exit 0 "$WORK/down-ok" upd "$D" install --allow-downgrade "$URL/v2.0.upd"

# --- 3: the floor. 3.0 at security version 2 confirmed: floor 2.
D=$(new_device dev-floor)
expect_exit 0 "$WORK/info" upd "$D" bundle info "$URL/v3.0-sv2.upd"
assert_grep "format:         2" "$WORK/info"
assert_grep "security version: 2" "$WORK/info"
assert_grep "signature:      valid" "$WORK/info"
expect_exit 0 "$WORK/info1" upd "$D" bundle info "$URL/v2.0.upd"
assert_grep "security version: 0" "$WORK/info1"
upd "$D" install "$URL/v3.0-sv2.upd" >/dev/null 2>&1 || fail "install 3.0 (security version 2)"
assert_eq "$(json "$D" 's["security_floor"]')" 0 "floor before mark-good"
assert_eq "$(sim_boot "$D")" B "boot 3.0"
upd "$D" mark-good || fail "mark-good"
assert_eq "$(json "$D" 's["security_floor"]')" 2 "floor after mark-good"
upd "$D" status >"$WORK/floor-status"
assert_grep "security floor:    2" "$WORK/floor-status"
# The factory system was not installed by the updater: security version 0.
snapshot "$D"
expect_exit 7 "$WORK/floor-rb" upd "$D" rollback
assert_one_error "$WORK/floor-rb" "below this device's security floor 2"
assert_untouched "$D"
# Nothing overrides the floor.
expect_exit 3 "$WORK/floor-inst" upd "$D" install --allow-downgrade --force "$URL/v2.0.upd"
assert_one_error "$WORK/floor-inst" "security version 0, below this device's security floor 2"
assert_untouched "$D"
assert_eq "$(json "$D" 's["security_floor"]')" 2 "floor after the refusals"

# --- 3: a booted version nobody can tell refuses installs, naming version_file.
D=$(new_device dev-unknown)
printf 'NAME="no version here"\n' >"$D/etc/os-release"
rm "$D/data/updater/state" # `init` recorded the factory version: forget it
snapshot "$D"
expect_exit 3 "$WORK/unk" upd "$D" install "$URL/v2.0.upd"
assert_one_error "$WORK/unk" "version_file"
assert_untouched "$D"
expect_exit 0 "$WORK/unk-ok" upd "$D" install --allow-downgrade "$URL/v2.0.upd"

# --- 4: 2.0 fails its trial; U-Boot falls back. It is remembered.
D=$(new_device dev-loop)
upd "$D" install "$URL/v2.0.upd" >/dev/null 2>&1 || fail "install 2.0"
for i in 1 2 3; do
	assert_eq "$(sim_boot "$D")" B "trial boot $i"
	upd "$D" boot || fail "boot $i"
done
assert_eq "$(sim_boot "$D")" A "fallback boot"
upd "$D" boot || fail "boot after the fallback"
b_before=$(file_sha "$D/slots/B.img")
snapshot "$D"
expect_exit 10 "$WORK/loop-check" upd "$D" check "$URL/v2.0.upd"
assert_grep "offers 2.0, which failed on this device at 20[0-9-]*T[0-9:]*Z" "$WORK/loop-check"
expect_exit 7 "$WORK/loop-inst" upd "$D" install "$URL/v2.0.upd"
assert_one_error "$WORK/loop-inst" "release 2.0 failed on this device at .*--force"
# The auto-install timer's script no longer rewrites B every 6 h.
sed -e 's|@BINDIR@|/nonexistent|; s|@SYSCONFDIR@|/nonexistent|' "$TOP/libexec/check-install.in" \
	>"$WORK/check-install"
sed -i "s|^server = {|server = { url = \"$URL/v2.0.upd\";|" "$D/updater.conf"
touch "$WORK/auto-install"
UPDATER=$UPDATER UPDATER_OPTS="--config=$D/updater.conf --progress=none" \
	AUTO_INSTALL_FLAG="$WORK/auto-install" sh "$WORK/check-install" >"$WORK/ci" 2>&1 ||
	{ cat "$WORK/ci" >&2; fail "check-install"; }
assert_eq "$(file_sha "$D/slots/B.img")" "$b_before" "slot B rewritten"
assert_untouched "$D"
upd "$D" status --json >"$WORK/loop.json"
python3 - "$WORK/loop.json" <<'PY' || fail "status after the failed trial"
import json, sys
s = json.load(open(sys.argv[1]))
assert s["state"] == "failed", s  # the refused install
assert "fell back" in s["trial_failure"] and "2.0" in s["trial_failure"], s
f = s["failed_releases"]
assert len(f) == 1 and f[0]["version"] == "2.0" and len(f[0]["identity"]) == 64, s
assert [t["status"] for t in s["targets"] if t["id"] == "B"] == ["bad"], s
PY
upd "$D" status >"$WORK/loop-status"
assert_grep "last failed trial: .*fell back" "$WORK/loop-status"
assert_grep "failed here:       version 2.0 at " "$WORK/loop-status"
# --force installs it; the reason goes, the record stays.
expect_exit 0 "$WORK/loop-force" upd "$D" install --force "$URL/v2.0.upd"
assert_eq "$(json "$D" 's["trial_failure"], len(s["failed_releases"])')" "None 1" "after --force"

# --- 4: rollback never rolls forward: the cancelled 2.0 is not activated again.
expect_exit 0 "$WORK/cancel" upd "$D" rollback
assert_eq "$(envvar "$D" boot_slot)/$(envvar "$D" upgrade_available)" "A/0" "env after the cancel"
snapshot "$D"
expect_exit 7 "$WORK/cancel2" upd "$D" rollback
assert_one_error "$WORK/cancel2" "never rolls forward"
assert_untouched "$D"

# --- 4: health checks failed: the health service rolls back during the trial.
D=$(new_device dev-health)
upd "$D" install "$URL/v3.0.upd" >/dev/null 2>&1 || fail "install 3.0"
assert_eq "$(sim_boot "$D")" B "trial boot"
upd "$D" boot || fail "boot"
upd "$D" rollback || fail "rollback during the trial"
assert_eq "$(sim_boot "$D")" A "back on 1.0"
expect_exit 10 "$WORK/health-check" upd "$D" check "$URL/v3.0.upd"
assert_grep "failed on this device" "$WORK/health-check"
expect_exit 0 "$WORK/health-newer" upd "$D" check "$URL/v2.0.upd"

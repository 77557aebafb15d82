# The single-copy backend (docs/singlecopy.md): stage keeps a verified bundle
# in state_dir, apply-staged (the ramdisk's) writes the one root, reads it
# back and starts the trial, mark-good confirms it; refused stages keep
# nothing; a bundle changed after staging is refused before anything is
# written; install on the running root is refused; a mounted root is never
# written; bundle info checks with singlecopy.public_key.
. "$TOP/tests/lib/common.sh"
. "$TOP/tests/lib/singlecopy.sh"
set -u
singlecopy_test_device

# stage refused: another key's signature, another board. Nothing is kept,
# nothing is asked of the ramdisk.
"$UPDATER" bundle create --image "$FIX/v2.0.img" --version 2.0 --compatible sim-board \
	--key "$FIX/other.pem" --output "$WORK/badsig.upd" >/dev/null || fail "bundle badsig"
make_bundle "$FIX/v2.0.img" 2.0 "$FIX/release.pem" "$WORK/board.upd" other-board
root_before=$(file_sha "$ROOT")
for b in badsig board; do
	expect_exit 3 "$WORK/$b.out" upd "$D" stage "$WORK/$b.upd"
	assert_eq "$(envvar "$D" apply_staged)" 0 "apply_staged after a refused stage ($b)"
	ls "$S" | grep -q '^singlecopy\.bundle' && fail "a refused stage ($b) kept a bundle: $(ls "$S")"
	grep -q '^state=failed$' "$S/state" || fail "state after a refused stage ($b)"
done
assert_grep "signature" "$WORK/badsig.out"
assert_grep "other-board" "$WORK/board.out"

# Over HTTP, the wrongly signed bundle's payload is never downloaded: the
# signature is checked on its head first (the server sends the head only).
mkdir -p "$WORK/www" && cp "$WORK/badsig.upd" "$WORK/www/"
start_httpd "$WORK/www" --log "$WORK/httpd.log"
expect_exit 3 "$WORK/badsig-http.out" upd "$D" stage "$URL/badsig.upd"
assert_grep "signature" "$WORK/badsig-http.out"
sent=$(awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^sent=/) s += substr($i, 6) } END { print s + 0 }' "$WORK/httpd.log")
size=$(stat -c %s "$WORK/badsig.upd")
[ "$sent" -lt $((size / 4)) ] || fail "a wrongly signed bundle was downloaded: $sent of $size bytes sent"
ls "$S" | grep -q '^singlecopy\.bundle' && fail "the refused HTTP stage kept a bundle: $(ls "$S")"
stop_httpd

# install on the running root: refused before anything (exit 2)
expect_exit 2 "$WORK/inst.out" upd "$D" install "$FIX/v2.0.upd"
assert_grep "updater stage" "$WORK/inst.out"

# bundle info checks with the keys of the device's backend: on a config with
# no dual-bank section, singlecopy.public_key (valid), and INVALID for a
# bundle of another key.
awk '/^dualbank = \{/ { skip = 1 } !skip { print } skip && /^\};/ { skip = 0 }' "$D/updater.conf" >"$D/sc-only.conf"
! grep -q '^dualbank' "$D/sc-only.conf" && grep -q '^singlecopy = {' "$D/sc-only.conf" ||
	fail "sc-only.conf: $(cat "$D/sc-only.conf")"
expect_exit 0 "$WORK/info.out" "$UPDATER" --config="$D/sc-only.conf" bundle info "$FIX/v2.0.upd"
assert_grep "signature:      valid (key .*keys/release.pub.pem)" "$WORK/info.out"
expect_exit 3 "$WORK/info-bad.out" "$UPDATER" --config="$D/sc-only.conf" bundle info "$WORK/badsig.upd"
assert_grep "signature:      INVALID" "$WORK/info-bad.out"

# stage, then a bundle changed after staging: refused by apply-staged
# (exit 3), the root untouched, the request withdrawn, the bundle dropped.
expect_exit 0 "$WORK/stage1.out" upd "$D" stage "$FIX/v2.0.upd"
assert_eq "$(envvar "$D" apply_staged)" 1 "apply_staged after stage"
upd "$D" status >"$WORK/st1" && assert_grep "^staged: *version 2.0" "$WORK/st1"
size=$(stat -c %s "$S/singlecopy.bundle")
printf 'X' | dd of="$S/singlecopy.bundle" bs=1 seek=$((size - 100)) conv=notrunc status=none
expect_exit 3 "$WORK/tamper.out" upd "$D" apply-staged
assert_grep "changed after staging" "$WORK/tamper.out"
assert_eq "$(file_sha "$ROOT")" "$root_before" "root after a refused apply-staged"
assert_eq "$(envvar "$D" apply_staged)/$(envvar "$D" boot_slot)" 0/root "env after a refused apply-staged"
[ -e "$S/singlecopy.bundle" ] && fail "the refused bundle was kept"
grep -q '^state=failed$' "$S/state" || fail "state after a refused apply-staged"

# the cycle: stage, apply-staged, the trial boot, mark-good
expect_exit 0 "$WORK/stage2.out" upd "$D" stage "$FIX/v2.0.upd"
expect_exit 0 "$WORK/apply.out" upd "$D" apply-staged
root_holds "$D" "$FIX/v2.0.img" || fail "the root does not hold 2.0 after apply-staged"
assert_eq "$(envvar "$D" boot_slot)/$(envvar "$D" upgrade_available)/$(envvar "$D" apply_staged)" \
	root/1/0 "env after apply-staged"
[ -e "$S/singlecopy.rewrite" ] && fail "rewrite marker left after the activation"
[ -e "$S/singlecopy.bundle" ] || fail "the applied bundle went before mark-good"
assert_eq "$(sc_boot "$D")" root "boot after apply-staged"
expect_exit 0 "$WORK/boot.out" upd "$D" boot
grep -q '^state=trial$' "$S/state" || fail "not on trial after the boot"
expect_exit 0 "$WORK/good.out" upd "$D" mark-good
grep -q '^state=committed$' "$S/state" || fail "not committed after mark-good"
[ -e "$S/singlecopy.bundle" ] && fail "the bundle stayed after mark-good"
assert_eq "$(envvar "$D" upgrade_available)/$(envvar "$D" bootcount)" 0/0 "env after mark-good"
upd "$D" status --json >"$WORK/s.json"
python3 - "$WORK/s.json" <<'PY' || fail "status after mark-good"
import json, sys
s = json.load(open(sys.argv[1]))
assert s["backend"] == "singlecopy" and s["state"] == "committed", s
assert s["booted"]["slot"] == "root" and s["booted"]["version"] == "2.0", s
assert s["recovery_mode"] is False, s
PY

# A mounted root is never written (a loop device: needs root and losetup).
[ "$(id -u)" = 0 ] && command -v losetup >/dev/null || { echo "  (mounted-root case skipped: not root)"; exit 0; }
expect_exit 0 "$WORK/stage3.out" upd "$D" stage "$FIX/v3.0.upd"
LOOP=$(losetup -f --show "$ROOT" 2>/dev/null) || { echo "  (mounted-root case skipped: no loop device)"; exit 0; }
mkdir -p "$WORK/mnt"
cleanup() { umount "$WORK/mnt" 2>/dev/null; losetup -d "$LOOP" 2>/dev/null; stop_httpd; }
trap cleanup EXIT
mount -o ro "$LOOP" "$WORK/mnt" || { echo "  (mounted-root case skipped: mount failed)"; exit 0; }
sed -i "s|root = \"slots/A.img\";|root = \"$LOOP\";|" "$D/updater.conf"
root_before=$(file_sha "$ROOT")
expect_exit 7 "$WORK/mounted.out" upd "$D" apply-staged
assert_grep "is mounted" "$WORK/mounted.out"
assert_eq "$(file_sha "$ROOT")" "$root_before" "a mounted root was written"
assert_eq "$(envvar "$D" boot_slot)" root "boot_slot after the refusal"

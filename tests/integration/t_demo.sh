# make demo (tests/demo.sh) prints what happens: no build commands, each
# step as the command a user types (`updater --config=DEMO/BACKEND/device/
# updater.conf ...`, the same pattern for both backends, or `updater-sim ...
# DIR`), its output and a "->" line with what changed (slot or deployment,
# version, the U-Boot variables); both devices end committed on 3.0; and a
# failing step makes `make demo` exit non-zero. The ostree releases are
# GPG-signed and carry updater.compatible, and the device verifies both.
. "$TOP/tests/lib/common.sh"
. "$TOP/tests/lib/ostree.sh"
set -u
# Under valgrind (tests/checked, TEST_SLOWDOWN > 1) the demo's 40 updater runs
# take minutes and its config's 5 s server timeout would not hold; the same
# commands are checked there by the other tests.
[ "$SLOW" = 1 ] || skip "the demo's output is checked by the plain and ASan runs, not under valgrind"
DEMO=$WORK/demo
trap 'ostree_rm_device "$DEMO/ostree/device"' EXIT
# make demo in the checkout, as a user runs it (not as a sub-make of make
# integration: no inherited jobserver or flags).
mkdemo() { (cd "$TOP" && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL DEMO_DIR="$DEMO" make demo); }

expect_exit 0 "$WORK/out" mkdemo
O=$WORK/out
# (colour codes of the headings out of the way)
sed -i 's/\x1b\[[0-9;]*m//g' "$O"

# --- no build noise ----------------------------------------------------------------
assert_eq "$(head -n 1 "$O")" "building updater..." "first line"
! grep -nE '^(make(\[[0-9]+\])?:|gcc |cc |clang |ar |rm -f )| -Wall | -o (updater|build/)' "$O" ||
	fail "make demo printed build commands or make's messages"

# --- every step is a command as typed, followed by what it did ----------------------------
dev='(dualbank|ostree)/device'
bad=$(grep '^\$ ' "$O" | grep -vE "^\\$ updater --config=$DEMO/$dev/updater\\.conf (check|install|mark-good)( |\$)" |
	grep -vE "^\\$ updater-sim (create|reboot|fail-boot|show) $DEMO/$dev( |\$)")
[ -z "$bad" ] || fail "step lines not as a user types them: $bad"
for b in dualbank ostree; do
	assert_grep "^\\$ updater --config=$DEMO/$b/device/updater.conf install" "$O"
	assert_grep "^\\$ updater-sim create $DEMO/$b/device --backend=$b " "$O"
	assert_grep "^\\$ updater-sim reboot $DEMO/$b/device\$" "$O"
	assert_grep "^\\$ updater-sim fail-boot $DEMO/$b/device\$" "$O"
done
# a "->" line ends each step but show (which prints the whole device)
steps=$(grep -c '^\$ ' "$O")
shows=$(grep -c '^\$ updater-sim show ' "$O")
assert_eq "$(grep -c '^  -> ' "$O")" "$((steps - shows))" "'->' lines for $steps steps"
"$PYTHON" - "$O" <<'PY' || fail "a step is not followed by its output and one '->' line"
import sys
lines = open(sys.argv[1]).read().split("\n")
for i, l in enumerate(lines):
    if l.startswith("$ ") and not l.startswith("$ updater-sim show "):
        j = i + 1
        while lines[j].startswith("    "):
            j += 1
        assert lines[j].startswith("  -> "), (l, lines[j])
PY

# --- what the steps report: slot, version, the U-Boot side --------------------------
u='http://127\.0\.0\.1:[0-9]+'
grep -A4 -E "^\\$ updater --config=$DEMO/dualbank/device/updater.conf install $u/rootfs-2\\.0\\.upd\$" "$O" |
	grep -qx '  -> slot B written: version 2.0, boots next on trial; state idle -> activated. U-Boot: boot_slot A->B, upgrade_available 0->1' ||
	fail "the dual-bank install of 2.0 does not report slot B, 2.0 and the U-Boot change"
assert_grep '^  -> booted slot B: version 3.0; state activated -> trial. U-Boot: bootcount 0->1$' "$O"
assert_grep '^  -> still on trial: boot attempt 2 of 2. U-Boot: bootcount 1->2$' "$O"
assert_grep '^  -> booted slot A: version 1.0; state trial -> rolled-back; release 2.0 recorded as failed on this device. U-Boot: boot_slot B->A, upgrade_available 1->0, bootcount 2->0$' "$O"
grep -qE '^  -> deployment [0-9a-f]{12}\.0 written: version 2\.0, boots next on trial; state idle -> activated\. U-Boot: boot_slot [0-9a-f]{12}\.0->[0-9a-f]{12}\.0, upgrade_available 0->1$' "$O" ||
	fail "the ostree install of 2.0 does not report its deployment and the U-Boot change"
grep -qE '^  -> booted deployment [0-9a-f]{12}\.0: version 1\.0; state trial -> rolled-back; release 2\.0 recorded as failed on this device\. U-Boot: boot_slot [0-9a-f.]+->[0-9a-f.]+, upgrade_available 1->0, bootcount 2->0$' "$O" ||
	fail "the ostree fallback is not reported"
assert_eq "$(grep -c '^  -> state trial -> committed. U-Boot: upgrade_available 1->0, bootcount 1->0$' "$O")" 2 "mark-good on both backends"

# --- both devices end committed on 3.0 (asked of the devices, not of the output) --------
assert_grep "^dualbank  $DEMO/dualbank/device: slot B runs 3.0, committed; failed and rolled back: 2.0\$" "$O"
assert_grep "^ostree    $DEMO/ostree/device: deployment [0-9a-f.]* runs 3.0, committed; failed and rolled back: 2.0\$" "$O"
for b in dualbank ostree; do
	ostree_upd "$DEMO/$b/device" status --json >"$WORK/st.$b" 2>/dev/null || fail "status of the $b device"
	assert_grep '"state":"committed"' "$WORK/st.$b"
	assert_grep '"booted":{"slot":"[^"]*","version":"3.0"}' "$WORK/st.$b"
done

# the ostree releases: signed, bound to the device's compatible, verified by it
grep -q '^  gpg_verify = true; gpg_keyring = "keys/trusted.gpg";' "$DEMO/ostree/device/updater.conf" ||
	fail "the demo's ostree device does not verify signatures"
assert_grep '^compatible = "sim-board";$' "$DEMO/ostree/device/updater.conf"
for v in 1.0 2.0 3.0; do
	c=$(ostree --repo="$DEMO/www/repo" log demo/stable | awk -v v="$v" '/^commit / { c = $2 } $1 == "Version:" && $2 == v { print c }')
	[ -n "$c" ] || fail "no commit of $v on demo/stable"
	assert_eq "$(ostree --repo="$DEMO/www/repo" show --print-metadata-key=updater.compatible "$c")" "'sim-board'" "updater.compatible of $v"
	ostree --repo="$DEMO/www/repo" show "$c" | grep -q '^Found 1 signature' || fail "commit of $v is not signed"
done

# --- a failing step fails make demo ----------------------------------------------------------
cat >"$WORK/updater" <<EOF
#!/bin/bash
for a in "\$@"; do [ "\$a" != mark-good ] || { echo "updater: refusing, for the test" >&2; exit 6; }; done
exec "$UPDATER" "\$@"
EOF
chmod +x "$WORK/updater"
ostree_rm_device "$DEMO/ostree/device"
# (not expect_exit: a failed demo is no refusal for docs/security.md's figures)
(export UPDATER=$WORK/updater; mkdemo) >"$WORK/fail" 2>&1
rc=$?
[ "$rc" = 2 ] || { cat "$WORK/fail" >&2; fail "make demo with a failing step exited $rc, not 2"; }
assert_grep "^demo: FAILED: 'updater --config=$DEMO/dualbank/device/updater.conf mark-good' exited 6\$" "$WORK/fail"
! grep -q '^== Done' "$WORK/fail" || fail "the demo went on after a failed step"

# Faults on the device side: a target slot that cannot be written, a missing
# or corrupt boot environment, a bad config. One clear message each, the
# documented exit code, nothing changed.
. "$TOP/tests/lib/common.sh"
set -u
dualbank_test_device
B2="$FIX/v2.0.upd"

# Target slot missing (the partition is not there): exit 1, naming it.
snapshot "$D"
mv "$D/slots/B.img" "$D/slots/B.away"
expect_exit 1 "$WORK/noslot" upd "$D" install "$B2"
assert_one_error "$WORK/noslot" "slots/B.img"
mv "$D/slots/B.away" "$D/slots/B.img"
assert_untouched "$D"

# Target slot not writable: a directory stands where the device should be.
mv "$D/slots/B.img" "$D/slots/B.away"
mkdir "$D/slots/B.img"
expect_exit 1 "$WORK/ro" upd "$D" install "$B2"
assert_one_error "$WORK/ro" "open slot B"
rmdir "$D/slots/B.img"
mv "$D/slots/B.away" "$D/slots/B.img"
assert_untouched "$D"

# Boot environment file missing.
mv "$D/env/uboot.env" "$D/env/uboot.env.away"
expect_exit 1 "$WORK/noenv" upd "$D" install "$B2"
assert_one_error "$WORK/noenv" "uboot.env"
expect_exit 1 "$WORK/noenv2" upd "$D" mark-good
assert_one_error "$WORK/noenv2" "uboot.env"
mv "$D/env/uboot.env.away" "$D/env/uboot.env"

# Both copies corrupt: never guessed around; 'init' is the way out.
cp "$D/env/uboot.env" "$WORK/env.good"
printf 'garbage' | dd of="$D/env/uboot.env" bs=1 seek=10 conv=notrunc status=none
printf 'garbage' | dd of="$D/env/uboot.env" bs=1 seek=$((0x4000 + 10)) conv=notrunc status=none
expect_exit 1 "$WORK/badcrc" upd "$D" install "$B2"
assert_one_error "$WORK/badcrc" "updater init"
# status still answers, and says why the boot state is unknown (docs/cli.md).
upd "$D" status --json >"$WORK/badcrc.json" 2>/dev/null || fail "status with a corrupt environment"
python3 - "$WORK/badcrc.json" <<'PY' || fail "status --json with a corrupt environment"
import json, sys
s = json.load(open(sys.argv[1]))
assert s["boot_env"] is None and "updater init" in s["boot_env_error"], s
assert s["booted"]["slot"] == "A" and s["busy"] is False, s
PY
cp "$WORK/env.good" "$D/env/uboot.env"
# init refuses to replace a valid environment without --force.
expect_exit 2 "$WORK/init" upd "$D" init
assert_one_error "$WORK/init" "force"
assert_untouched "$D"

# An incomplete or invalid boot state is no boot state: every command asks for
# 'updater init', and init writes all the variables without --force, keeping
# U-Boot's own (docs/boot-contract.md). U-Boot's default environment often sets
# bootlimit and not boot_slot; a boot_slot no slot has; a bad number.
FWC="$D/env/fw_env.config"
for broken in "boot_slot" "boot_slot C" "bootcount x"; do
	cp "$WORK/env.good" "$D/env/uboot.env"
	fw_setenv -c "$FWC" bootcmd "run distro_bootcmd" || fail "fw_setenv bootcmd"
	# shellcheck disable=SC2086
	fw_setenv -c "$FWC" $broken || fail "fw_setenv $broken"
	expect_exit 1 "$WORK/broken" upd "$D" install "$B2"
	assert_one_error "$WORK/broken" "updater init"
	upd "$D" init 2>"$WORK/init-broken" || { cat "$WORK/init-broken" >&2; fail "init on an environment with '$broken'"; }
	assert_eq "$(envvar "$D" boot_slot)/$(envvar "$D" upgrade_available)/$(envvar "$D" bootcount)/$(envvar "$D" bootlimit)/$(envvar "$D" rollback)" \
		"A/0/0/3/0" "boot state after init on an environment with '$broken'"
	assert_eq "$(envvar "$D" bootcmd)" "run distro_bootcmd" "U-Boot's own variable after init ('$broken')"
done
cp "$WORK/env.good" "$D/env/uboot.env"

# Bad configs: file:line and the key.
cp "$D/updater.conf" "$WORK/good.conf"
sed 's/timeout = 5;/timeout = "five";/' "$WORK/good.conf" >"$D/updater.conf"
expect_exit 2 "$WORK/cfg1" upd "$D" status
assert_one_error "$WORK/cfg1" "updater.conf:[0-9]*: server.timeout"
sed 's/^compatible/compatibel/' "$WORK/good.conf" >"$D/updater.conf"
expect_exit 2 "$WORK/cfg2" upd "$D" install "$B2"
assert_one_error "$WORK/cfg2" "compatibel"
sed "s/bootlimit = 3;/bootlimit = = 3;/" "$WORK/good.conf" >"$D/updater.conf"
expect_exit 2 "$WORK/cfg3" upd "$D" status
assert_one_error "$WORK/cfg3" "updater.conf:[0-9]*"
sed '/public_key/d' "$WORK/good.conf" >"$D/updater.conf"
expect_exit 2 "$WORK/cfg4" upd "$D" install "$B2"
assert_one_error "$WORK/cfg4" "dualbank.public_key"
cp "$WORK/good.conf" "$D/updater.conf"
expect_exit 2 "$WORK/cfg5" "$UPDATER" --config="$WORK/nonexistent.conf" status
assert_one_error "$WORK/cfg5" "nonexistent.conf"
expect_exit 2 "$WORK/usage" upd "$D" frobnicate
assert_one_error "$WORK/usage" "unknown command"
expect_exit 2 "$WORK/backend" upd "$D" --backend=floppy status
assert_untouched "$D"

# Both slot keys naming the same storage: the running slot must never be written.
sed "s|B = \"slots/B.img\"|B = \"slots/../slots/A.img\"|" "$WORK/good.conf" >"$D/updater.conf"
expect_exit 2 "$WORK/same" upd "$D" install "$B2"
assert_one_error "$WORK/same" "running slot A"
cp "$WORK/good.conf" "$D/updater.conf"
assert_untouched "$D"

# After all that, a good install still works.
expect_exit 0 "$WORK/ok" upd "$D" install "$B2"

# bootlimit (docs/config.md): bootenv.bootlimit and a deprecated per-backend
# bootlimit together are refused (exit 2, file:line), nothing written; the old
# key alone still works as before: one warning naming the new key, and the
# trial gets its bootlimit.
D=$(new_device dev2)
snapshot "$D"
cp "$D/updater.conf" "$WORK/good2.conf"
sed 's/^  public_key = .*/&\n  bootlimit = 5;/' "$WORK/good2.conf" >"$D/updater.conf"
expect_exit 2 "$WORK/bl2" upd "$D" install "$B2"
assert_one_error "$WORK/bl2" "updater.conf:[0-9]*: dualbank.bootlimit: bootenv.bootlimit is set too"
assert_untouched "$D"
sed -i 's/ bootlimit = 3;//' "$D/updater.conf"
expect_exit 0 "$WORK/old" upd "$D" install "$B2"
assert_eq "$(grep -c 'warning: .*dualbank.bootlimit is deprecated: use bootenv.bootlimit' "$WORK/old")" 1 \
	"one deprecation warning"
assert_eq "$(envvar "$D" boot_slot)/$(envvar "$D" upgrade_available)/$(envvar "$D" bootlimit)" "B/1/5" \
	"the trial set up with the old key's bootlimit"

# tools/updater-sim with a single-copy device (docs/singlecopy.md): made from
# an image; a staged release applied by the simulated ramdisk, which reboots
# at once into the trial U-Boot counts; mark-good; a release that never
# confirms ends in recovery mode past bootlimit and stays there (no boot
# loop); a good release installed from recovery mode boots on trial; an
# apply that fails after naming recovery mode is not followed by a boot of the
# root; no valid boot state boots the factory root without apply-staged;
# create refuses the options of another backend. Images, keys and bundles come from
# tests/lib/common.sh; the device only from the tool.
. "$TOP/tests/lib/common.sh"
set -u
SIM=$TOP/tools/updater-sim
export UPDATER
fixtures

# env6 DIR: boot_slot/upgrade_available/bootcount/bootlimit/rollback/apply_staged
env6() {
	local v out=""
	for v in boot_slot upgrade_available bootcount bootlimit rollback apply_staged; do
		out="$out${out:+/}$(envvar "$1" "$v")"
	done
	echo "$out"
}
state_of() { upd "$1" status --json | "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["state"])'; }
version_of() { sed -n 's/^VERSION_ID="*\([^"]*\)"*$/\1/p' "$1/etc/os-release"; }
slot_of() { sed -n 's/.*updater\.slot=\([a-z]*\).*/\1/p' "$1/cmdline"; }
# root_holds DIR IMG: the root's first bytes are IMG's.
root_holds() { cmp -s <(head -c "$(stat -c %s "$2")" "$1/root.img") "$2"; }
# count PATTERN FILE: lines matching
count() { grep -c -- "$1" "$2"; }

# --- create refuses the options of another backend -----------------------------------
expect_exit 2 "$WORK/bad" "$SIM" create "$WORK/x" --backend=singlecopy --image "$FIX/v1.0.img" \
	--key "$FIX/release.pub.pem" --no-gpg-verify
assert_grep '^updater-sim: create: --no-gpg-verify is an option of --backend=ostree$' "$WORK/bad"
expect_exit 2 "$WORK/bad" "$SIM" create "$WORK/x" --backend=singlecopy --image "$FIX/v1.0.img" \
	--key "$FIX/release.pub.pem" --repo "$WORK/repo"
assert_grep '^updater-sim: create: --repo is an option of --backend=ostree$' "$WORK/bad"
expect_exit 2 "$WORK/bad" "$SIM" create "$WORK/x" --backend=ostree --repo "$WORK/repo" --ref a/b \
	--no-gpg-verify --image "$FIX/v1.0.img"
assert_grep '^updater-sim: create: --image is an option of --backend=dualbank or --backend=singlecopy$' "$WORK/bad"
expect_exit 2 "$WORK/bad" "$SIM" create "$WORK/x" --backend=singlecopy --key "$FIX/release.pub.pem"
assert_grep '^updater-sim: create: --backend=singlecopy needs --image IMG' "$WORK/bad"
expect_exit 2 "$WORK/bad" "$SIM" create "$WORK/x" --backend=singlecopy --image "$FIX/v1.0.img"
assert_grep '^updater-sim: create: --backend=singlecopy needs --key PUB.pem' "$WORK/bad"
expect_exit 2 "$WORK/bad" "$SIM" create "$WORK/x" --backend=onecopy
assert_grep 'not dualbank, ostree or singlecopy' "$WORK/bad"
expect_exit 1 "$WORK/bad" "$SIM" create "$WORK/x" --backend=singlecopy --image "$FIX/v1.0.img" \
	--key "$FIX/release.pub.pem" --slot-size 1M
assert_grep 'do not fit a root of 1048576 bytes' "$WORK/bad"
[ ! -e "$WORK/x" ] || fail "a refused create left $WORK/x behind"
expect_exit 0 "$WORK/help" "$SIM" --help
assert_grep '^  create DIR --backend=singlecopy --image IMG --key PUB.pem' "$WORK/help"

# --- create + show -----------------------------------------------------------------------
D=$WORK/dev
expect_exit 0 "$WORK/create" "$SIM" create "$D" --backend=singlecopy --image "$FIX/v1.0.img" \
	--key "$FIX/release.pub.pem" --slot-size 16M --bootlimit 3
assert_grep "^created singlecopy device $D: booted root, release 1.0\$" "$WORK/create"
assert_eq "$(stat -c %s "$D/root.img")" $((16 << 20)) "root size"
root_holds "$D" "$FIX/v1.0.img" || fail "the root does not hold the image"
[ ! -e "$D/slots" ] || fail "a single-copy device has slots/"
[ -f "$D/boot/updater-singlecopy" ] || fail "no boot/updater-singlecopy (what boot/boot.cmd tells the disk by)"
assert_eq "$(stat -c %a "$D/data/updater")" 700 "state_dir mode"
grep -q '^backend = "singlecopy";$' "$D/updater.conf" || fail "updater.conf: backend"
grep -q '^  root = "root.img";$' "$D/updater.conf" || fail "updater.conf: singlecopy.root"
grep -q '^  public_key = "keys/release.pub.pem";$' "$D/updater.conf" || fail "updater.conf: singlecopy.public_key"
grep -c '0x4000$' "$D/env/fw_env.config" | grep -qx 2 || fail "fw_env.config: not two copies"
assert_eq "$(slot_of "$D")" root "command line after create"
assert_eq "$(version_of "$D")" 1.0 "os-release after create"
assert_eq "$(env6 "$D")" root/0/0/3/0/0 "environment after create (updater init)"
assert_eq "$(state_of "$D")" idle "status after create"
boot_sha=$(cat "$D"/boot/* | sha256sum)
expect_exit 0 "$WORK/show" "$SIM" show "$D"
assert_grep "^device:  $D (singlecopy)\$" "$WORK/show"
assert_grep '^booted:  root, release 1.0$' "$WORK/show"
for v in boot_slot=root upgrade_available=0 bootcount=0 bootlimit=3 rollback=0 apply_staged=0; do
	assert_grep "^  $v\$" "$WORK/show"
done
assert_grep '^next power-on: boot_slot=root, no trial: nothing counted, nothing written; boots the root$' "$WORK/show"
assert_grep '^  backend: *singlecopy' "$WORK/show"
! grep -q 'boot entries' "$WORK/show" || fail "show printed ostree's boot entries"

# --- stage 2.0, reboot: the ramdisk applies, reboots, 2.0 boots on trial; mark-good ----
expect_exit 0 "$WORK/stage" "$SIM" updater "$D" --progress=none stage "$FIX/v2.0.upd"
assert_eq "$(env6 "$D")" root/0/0/3/0/1 "environment after stage"
root_holds "$D" "$FIX/v1.0.img" || fail "stage wrote the root"
expect_exit 0 "$WORK/show" "$SIM" show "$D"
assert_grep '^next power-on: .*; boots the root; the ramdisk runs updater apply-staged first (apply_staged=1)' "$WORK/show"
expect_exit 0 "$WORK/reboot" "$SIM" reboot "$D"
assert_grep '^U-Boot: apply_staged=1: the ramdisk applies the staged update' "$WORK/reboot"
assert_grep '^ramdisk: apply_staged=1: running updater apply-staged$' "$WORK/reboot"
assert_grep '^ramdisk: updater apply-staged: exit 0$' "$WORK/reboot"
assert_grep '^ramdisk: the new system is on trial (boot_slot=root upgrade_available=1 bootcount=0): rebooting$' "$WORK/reboot"
assert_grep '^U-Boot: boot_slot=root on trial: attempt 1 of 3 (saves bootcount=1)$' "$WORK/reboot"
assert_grep '^booted: root, release 2.0$' "$WORK/reboot"
assert_grep '^boot service: updater boot' "$WORK/reboot"
assert_eq "$(count '^U-Boot: single-copy: booting the root$' "$WORK/reboot")" 2 "power-ons of the reboot"
# the ramdisk's reboot comes after the apply, the counted boot after the reboot
assert_eq "$(grep -n -e 'apply-staged: exit 0' -e 'attempt 1 of 3' "$WORK/reboot" | cut -d: -f1 | paste -sd' ' |
	awk '{ print ($1 < $2) }')" 1 "apply before the counted trial boot"
root_holds "$D" "$FIX/v2.0.img" || fail "the root does not hold 2.0 after the apply"
assert_eq "$(slot_of "$D")" root "command line after the apply"
! grep -q apply_staged "$D/cmdline" || fail "the trial boot's command line still asks for apply-staged"
assert_eq "$(version_of "$D")" 2.0 "os-release after the apply"
assert_eq "$(env6 "$D")" root/1/1/3/0/0 "environment on trial"
assert_eq "$(state_of "$D")" trial "status after the reboot (the boot service ran)"
upd "$D" mark-good || fail "mark-good"
assert_eq "$(env6 "$D")" root/0/0/3/0/0 "environment after mark-good"
assert_eq "$(state_of "$D")" committed "status after mark-good"
# A normal boot: the ramdisk runs nothing, U-Boot writes nothing.
sha_before=$(file_sha "$D/env/uboot.env")
expect_exit 0 "$WORK/reboot" "$SIM" reboot "$D"
assert_grep 'no trial: nothing counted, nothing written' "$WORK/reboot"
! grep -q '^ramdisk:' "$WORK/reboot" || fail "the ramdisk ran the updater on a normal boot"
assert_eq "$(file_sha "$D/env/uboot.env")" "$sha_before" "a normal boot wrote the environment"

# --- 3.0 never confirms: recovery mode past bootlimit, and it stays ---------------------
"$SIM" updater "$D" --progress=none -q stage "$FIX/v3.0.upd" || fail "stage 3.0"
expect_exit 0 "$WORK/fail1" "$SIM" fail-boot "$D"
assert_grep '^ramdisk: updater apply-staged: exit 0$' "$WORK/fail1"
assert_grep '^U-Boot: boot_slot=root on trial: attempt 1 of 3' "$WORK/fail1"
assert_grep 'hangs before its boot service: nothing confirms it (attempt 1 of 3)' "$WORK/fail1"
root_holds "$D" "$FIX/v3.0.img" || fail "the root does not hold 3.0"
for n in 2 3; do
	expect_exit 0 "$WORK/fail$n" "$SIM" fail-boot "$D"
	assert_grep "^U-Boot: boot_slot=root on trial: attempt $n of 3" "$WORK/fail$n"
	! grep -q '^ramdisk:' "$WORK/fail$n" || fail "the ramdisk ran at failed boot $n"
	assert_eq "$(slot_of "$D")/$(version_of "$D")" root/3.0 "booted system at failed boot $n"
	assert_eq "$(env6 "$D")" "root/1/$n/3/0/0" "environment after failed boot $n"
done
expect_exit 0 "$WORK/fail4" "$SIM" fail-boot "$D"
assert_grep '^U-Boot: boot_slot=root on trial: attempt 4 > bootlimit 3: the trial failed, falling back' "$WORK/fail4"
assert_grep '^U-Boot: single-copy: booting recovery mode (updater.slot=recovery, no root=)$' "$WORK/fail4"
assert_grep '^ramdisk: recovery mode: the root is not a system to boot' "$WORK/fail4"
assert_grep '^ramdisk: updater boot$' "$WORK/fail4"
assert_grep '^booted: recovery mode' "$WORK/fail4"
assert_grep "the device stays in recovery mode: install a release with 'updater-sim updater $D install FILE|URL'" "$WORK/fail4"
! grep -q 'boot service' "$WORK/fail4" || fail "recovery mode ran a boot service"
assert_eq "$(cat "$D/cmdline")" "updater.slot=recovery console=ttyS0 rootwait=10 panic=1 printk.time=1" "recovery mode's command line"
assert_grep '^ID=updater-recovery$' "$D/etc/os-release"
assert_eq "$(version_of "$D")" 0 "os-release in recovery mode"
assert_eq "$(env6 "$D")" recovery/0/0/3/0/0 "environment after the failed trial and updater boot"
assert_eq "$(state_of "$D")" rolled-back "status in recovery mode"
# The next reboot: recovery mode again, once, nothing counted, no loop.
sha_before=$(file_sha "$D/env/uboot.env")
expect_exit 0 "$WORK/again" "$SIM" reboot "$D"
assert_grep '^U-Boot: boot_slot=recovery, no trial: nothing counted, nothing written$' "$WORK/again"
assert_eq "$(count '^U-Boot:' "$WORK/again")" 2 "U-Boot lines of one power-on into recovery mode"
! grep -q 'power-on again' "$WORK/again" || fail "recovery mode rebooted"
assert_eq "$(slot_of "$D")" recovery "booted system on the next reboot"
assert_eq "$(file_sha "$D/env/uboot.env")" "$sha_before" "a boot of recovery mode wrote the environment"
expect_exit 0 "$WORK/show" "$SIM" show "$D"
assert_grep '^booted:  recovery mode' "$WORK/show"
assert_grep '^next power-on: .*boots recovery mode (updater.slot=recovery), which stays there$' "$WORK/show"
assert_grep '^  booted: *recovery (version 0)' "$WORK/show"
# the failed release is refused there
expect_exit 7 "$WORK/refused" "$SIM" updater "$D" --progress=none install "$FIX/v3.0.upd"

# --- a good release installed in recovery mode boots on trial ----------------------------
make_rootfs_image "$WORK/v4.0.img" 4.0 8
make_bundle "$WORK/v4.0.img" 4.0 "$FIX/release.pem" "$WORK/v4.0.upd"
expect_exit 0 "$WORK/install" "$SIM" updater "$D" --progress=none install "$WORK/v4.0.upd"
root_holds "$D" "$WORK/v4.0.img" || fail "the root does not hold 4.0 after install in recovery mode"
assert_eq "$(env6 "$D")" root/1/0/3/0/0 "environment after install in recovery mode"
expect_exit 0 "$WORK/reboot" "$SIM" reboot "$D"
assert_grep '^U-Boot: boot_slot=root on trial: attempt 1 of 3' "$WORK/reboot"
assert_grep '^booted: root, release 4.0$' "$WORK/reboot"
assert_eq "$(slot_of "$D")/$(version_of "$D")" root/4.0 "booted system after the install"
assert_eq "$(state_of "$D")" trial "status after the install's reboot"
upd "$D" mark-good || fail "mark-good 4.0"
assert_eq "$(state_of "$D")" committed "status after mark-good of 4.0"
assert_eq "$(cat "$D"/boot/* | sha256sum)" "$boot_sha" "an update wrote the boot directory"

# --- an apply that fails after naming recovery mode: the ramdisk does not boot the root -----
# (a stand-in updater whose apply-staged fails as a write error would: the
# boot state names recovery mode, the root may be partial)
cat >"$WORK/failing-updater" <<EOF
#!/bin/bash
for a; do
	[ "\$a" != apply-staged ] || { fw_setenv -c "$D/env/fw_env.config" boot_slot recovery; echo "apply-staged failed" >&2; exit 1; }
done
exec "$UPDATER" "\$@"
EOF
chmod +x "$WORK/failing-updater"
make_rootfs_image "$WORK/v5.0.img" 5.0 8
make_bundle "$WORK/v5.0.img" 5.0 "$FIX/release.pem" "$WORK/v5.0.upd"
"$SIM" updater "$D" --progress=none -q stage "$WORK/v5.0.upd" || fail "stage 5.0"
UPDATER=$WORK/failing-updater expect_exit 0 "$WORK/failed-apply" "$SIM" reboot "$D"
assert_grep '^ramdisk: updater apply-staged: exit 1$' "$WORK/failed-apply"
assert_grep '^ramdisk: no update activated (boot_slot=recovery upgrade_available=0 bootcount=0)$' "$WORK/failed-apply"
assert_grep '^ramdisk: the boot state names recovery mode, not the root: rebooting$' "$WORK/failed-apply"
assert_grep '^U-Boot: single-copy: booting recovery mode' "$WORK/failed-apply"
! grep -q '^booted: root' "$WORK/failed-apply" || fail "the root booted after a failed apply"
assert_eq "$(slot_of "$D")" recovery "booted system after a failed apply"
# the next boot (recovery mode, apply_staged=1) applies it and reboots into the trial
expect_exit 0 "$WORK/show" "$SIM" show "$D"
assert_grep '^next power-on: boot_slot=recovery, no trial: .*; boots recovery mode (updater.slot=recovery); the ramdisk runs updater apply-staged first' "$WORK/show"
expect_exit 0 "$WORK/reboot" "$SIM" reboot "$D"
assert_grep '^U-Boot: boot_slot=recovery, no trial' "$WORK/reboot"
assert_grep '^ramdisk: updater apply-staged: exit 0$' "$WORK/reboot"
assert_grep '^booted: root, release 5.0$' "$WORK/reboot"
assert_eq "$(env6 "$D")" root/1/1/3/0/0 "environment after the apply from recovery mode"
upd "$D" mark-good || fail "mark-good 5.0"

# --- no valid boot state: the factory root ------------------------------------------------
# boot_slot=A is no single-copy boot state: the factory root, and U-Boot does not
# pass apply_staged=1 on (boot/boot.cmd: only with a valid boot state).
printf '%s\n' boot_slot=A apply_staged=1 >"$WORK/env.script"
fw_setenv -c "$D/env/fw_env.config" -s "$WORK/env.script" || fail "fw_setenv"
sha_before=$(file_sha "$D/env/uboot.env")
"$SIM" reboot --no-boot-service "$D" >"$WORK/boot.out" 2>&1 || { cat "$WORK/boot.out" >&2; fail "reboot (boot_slot=A)"; }
assert_grep '^U-Boot: no valid boot state: booting the factory system' "$WORK/boot.out"
! grep -q 'apply' "$WORK/boot.out" || fail "apply_staged=1 passed on without a valid boot state"
assert_eq "$(cat "$D/cmdline")" "root=/dev/vda2 ro updater.slot=root console=ttyS0 rootwait=10 panic=1 printk.time=1" "command line (boot_slot=A)"
assert_eq "$(file_sha "$D/env/uboot.env")" "$sha_before" "U-Boot wrote an environment without a boot state"
dd if=/dev/zero of="$D/env/uboot.env" bs=1 count=64 seek=8 conv=notrunc status=none
dd if=/dev/zero of="$D/env/uboot.env" bs=1 count=64 seek=$((0x4000 + 8)) conv=notrunc status=none
expect_exit 0 "$WORK/show" "$SIM" show "$D"
assert_grep '^next power-on: no valid boot state: .*; boots the factory root$' "$WORK/show"
"$SIM" reboot --no-boot-service "$D" >"$WORK/boot.out" 2>&1 || { cat "$WORK/boot.out" >&2; fail "reboot (corrupt environment)"; }
assert_grep 'no valid boot state: booting the factory system' "$WORK/boot.out"
assert_eq "$(slot_of "$D")" root "booted system (corrupt environment)"
"$SIM" remove "$D" || fail "remove"
exit 0

# Power-cut harness, the single-copy part (sourced after tests/powercut/lib.sh).
#
# The device: tests/lib/singlecopy.sh's (a make_device device switched to
# backend singlecopy, its slot A file the one root) running 1.0 from the
# root, which has staged release 2.0 (`updater stage`: the bundle kept in
# state_dir, apply_staged=1). The cut command: `updater apply-staged`, what
# the ramdisk runs at boot.
#
# sc_after_cut DEV ACTIVATED plays the next boot after a cut and checks it;
# sc_recover DEV then plays the trial boot and `mark-good` and checks that
# the device ends up running 2.0, committed, the root holding its image.

. "$TOP/tests/lib/singlecopy.sh"
SC_BOOTLIMIT=3

# sc_fixtures: sets SCF, a directory in $WORK holding v2.img (release 2.0:
# sc_rootfs_image), v1.img (the factory image) and the staged device
# "pristine" (copied from build/powercut/singlecopy, made again
# whenever the updater binary or these scripts change); V1_SIZE, V2_SIZE.
sc_fixtures() {
	local cache=${SC_FIXTURES:-$TOP/build/powercut/singlecopy} key env
	key=$(cat "$UPDATER" "$TOP/tests/lib/common.sh" "$TOP/tests/lib/singlecopy.sh" \
		"$TOP/tests/powercut/singlecopy.sh" | sha256sum | cut -d' ' -f1)
	pc_lock_fixtures "$cache"
	if [ "$(cat "$cache/.key" 2>/dev/null)" != "$key" ]; then
		rm -rf "$cache"
		mkdir -p "$cache/mk"
		# singlecopy_test_device itself (in a subshell: it sets WORK, D, a
		# trap), so the device is the integration tests' own.
		(
			WORK=$cache/mk
			singlecopy_test_device
			sc_rootfs_image "$cache/v2.img" 2.0 8
			make_bundle "$cache/v2.img" 2.0 "$FIX/release.pem" "$cache/v2.upd"
			upd "$D" stage "$cache/v2.upd" >"$WORK/stage.out" 2>&1 ||
				fail "stage of 2.0 on the fixture device: $(tail -n1 "$WORK/stage.out")"
			cp "$D/factory.img" "$cache/v1.img" || exit 1
			pc_reset "$D" "$cache/pristine"
		) || fail "cannot make the single-copy fixture device"
		rm -rf "$cache/mk"
		echo "$key" >"$cache/.key"
	fi
	SCF=$WORK/fixtures
	mkdir -p "$SCF"
	cp "$cache/v2.img" "$cache/v1.img" "$SCF/"
	pc_reset "$cache/pristine" "$SCF/pristine"
	pc_unlock_fixtures
	V1_SIZE=$(stat -c %s "$SCF/v1.img")
	V2_SIZE=$(stat -c %s "$SCF/v2.img")
	env=$(pc_env "$SCF/pristine") || exit 1
	[ "$env" = "root 0 0 $SC_BOOTLIMIT 0" ] || fail "staged device's boot environment: $env"
	[ "$(envvar "$SCF/pristine" apply_staged)" = 1 ] || fail "the fixture device has no apply_staged=1"
	grep -q '^state=staged$' "$SCF/pristine/data/updater/state" || fail "the fixture device is not staged"
	cmp -s -n "$V1_SIZE" "$SCF/pristine/slots/A.img" "$SCF/v1.img" || fail "the fixture root is not 1.0"
	! cmp -s "$SCF/v1.img" "$SCF/v2.img" || fail "1.0 and 2.0 are the same image"
}

# sc_rootfs_image OUT VERSION SIZE_MB: an ext4 root file system of release
# VERSION whose files fill most of it with incompressible bytes: against the
# factory image (mostly zero blocks: tests/lib/common.sh make_rootfs_image)
# it differs in every MiB but the last, so the slot writer, which skips the
# blocks the root already holds, writes all across the image and a cut at
# any byte offset but the last MiB's leaves a root that is neither release.
# (With two make_rootfs_image images, 6.7 of 8 MiB were equal blocks, all
# the differences in the first 3 MiB: most offsets cut after the last write.)
sc_rootfs_image() {
	local tree
	tree=$(mktemp -d)
	mkdir -p "$tree/etc" "$tree/usr/bin"
	printf 'NAME="updater demo"\nID=updater-demo\nVERSION_ID="%s"\n' "$2" >"$tree/etc/os-release"
	head -c $(($3 * 640))K /dev/urandom >"$tree/usr/bin/firmware.bin"
	mkfs.ext4 -q -F -L "rootfs-$2" -d "$tree" "$1" "$3M" >/dev/null 2>&1 || fail "mkfs.ext4 for $1"
	rm -rf "$tree"
}

# sc_device WORKER: a fresh copy of the staged device for this worker.
sc_device() {
	DEV=$WORK/dev.$1
	pc_reset "$SCF/pristine" "$DEV"
}

# sc_root DEV: what the root holds: 1.0 or 2.0 byte for byte (the image's
# first bytes), else "incomplete".
sc_root() {
	if cmp -s -n "$V2_SIZE" "$1/slots/A.img" "$SCF/v2.img"; then
		echo 2.0
	elif cmp -s -n "$V1_SIZE" "$1/slots/A.img" "$SCF/v1.img"; then
		echo 1.0
	else
		echo incomplete
	fi
}

# sc_after_cut DEV ACTIVATED: after a cut of apply-staged (ACTIVATED: yes
# if the activating environment write had returned, no if it had not
# started, maybe), the checks, then the next boot:
#  (a) the state file survived whole, the environment parses and holds
#      contract values (boot_slot root or recovery);
#  (b) the boot state names the root only while it is whole: root with no
#      trial only over 1.0 (untouched), root on trial only over 2.0;
#      otherwise recovery mode; never a rollback; a root that is neither
#      release has the rewrite marker beside it;
#  (c) the activation is in force exactly when ACTIVATED says, and
#      apply_staged=1 exactly while it is not;
#  (d) not activated: the boot boot.cmd plays (sc_boot: no trial on,
#      nothing counted; root or recovery mode), whose ramdisk runs
#      apply-staged (U-Boot adds updater.apply_staged=1), which must
#      complete; activated: nothing yet (the next boot is the trial,
#      sc_recover's). Either way then: the root holds 2.0, no rewrite
#      marker, the boot state root on trial (not yet counted), apply_staged=0.
# Sets SC_OUTCOME ("SYSTEM-BOOTED:ROOT-AFTER-THE-CUT", "+apply" if the
# ramdisk applied).
sc_after_cut() {
	local d=$1 act=$2 env slot ua rb root sys as
	grep -q '^format=1$' "$d/data/updater/state" && grep -q '^state=' "$d/data/updater/state" ||
		fail "the state file did not survive the cut: $(head -c 200 "$d/data/updater/state" | tr '\n' ' ')"
	env=$(pc_env "$d") || exit 1
	read -r slot ua _ _ rb <<<"$env"
	as=$(envvar "$d" apply_staged)
	root=$(sc_root "$d")
	case "$slot:$ua:$rb:$root" in
	root:0:0:1.0 | root:1:0:2.0 | recovery:0:0:*) ;;
	*) fail "the boot state after the cut is '$env' with the root holding $root" ;;
	esac
	# a root that is neither release is being rewritten, and says so
	[ "$root" != incomplete ] || [ -e "$d/data/updater/singlecopy.rewrite" ] ||
		fail "the root holds neither release and there is no rewrite marker"
	case "$act:$slot:$ua" in
	yes:root:1 | no:root:0 | no:recovery:0 | maybe:*) ;;
	*) fail "activating write returned: $act, but the boot state is '$env'" ;;
	esac
	if [ "$slot:$ua" = root:1 ]; then
		[ "$as" = 0 ] || fail "activated, but apply_staged=$as"
		[ ! -e "$d/data/updater/singlecopy.rewrite" ] || fail "activated with the rewrite marker still there"
	else
		[ "$as" = 1 ] || fail "not activated, but apply_staged=$as: the staged update would never be applied"
	fi
	# (sc_boot boots the root only with boot_slot=root, checked whole above;
	# recovery mode is the ramdisk, always whole)
	echo booted-complete
	if [ "$as" = 1 ]; then
		# no trial on: this boot counts nothing, its ramdisk applies
		sys=$(sc_boot "$d") || exit 1
		"$UPDATER" --config="$d/updater.conf" --progress=none apply-staged >"$d/apply.out" 2>&1 ||
			fail "the next boot's apply-staged ($sys) exited $?: $(tail -n1 "$d/apply.out")"
		SC_OUTCOME=$sys:$root+apply
	else
		# activated: the next boot is the trial boot (sc_recover plays it)
		SC_OUTCOME=root:$root
	fi
	[ "$(sc_root "$d")" = 2.0 ] || fail "the root holds $(sc_root "$d"), not 2.0, after the apply"
	[ ! -e "$d/data/updater/singlecopy.rewrite" ] || fail "the rewrite marker is left after the apply"
	env=$(pc_env "$d") || exit 1
	[ "$env" = "root 1 0 $SC_BOOTLIMIT 0" ] || fail "boot state after the apply: $env, expected root 1 0 $SC_BOOTLIMIT 0"
	[ "$(envvar "$d" apply_staged)" = 0 ] || fail "apply_staged=$(envvar "$d" apply_staged) after the apply"
}

# sc_recover DEV: the ramdisk reboots: the trial boot (counted), `updater
# boot`, `status --json` says 2.0 on trial from the root; `mark-good`; then
# 2.0 committed, the boot state settled, the kept bundle gone.
sc_recover() {
	local d=$1 sys st bslot bver pend lerr
	sys=$(sc_boot "$d") || exit 1
	[ "$sys" = root ] || fail "the boot after the apply went to $sys, not the root"
	"$UPDATER" --config="$d/updater.conf" --progress=none boot >"$d/boot.out" 2>&1 ||
		fail "updater boot on the trial: $(tail -n1 "$d/boot.out")"
	pc_booted_status "$d" root 2.0
	[ "$st" = trial ] || fail "state on the trial boot is $st"
	grep -qx "root verified 2.0" "$d/status" || fail "root not recorded verified 2.0: $(tr '\n' ' ' <"$d/status")"
	"$UPDATER" --config="$d/updater.conf" --progress=none mark-good >"$d/good.out" 2>&1 ||
		fail "mark-good: $(tail -n1 "$d/good.out")"
	pc_booted_status "$d" root 2.0
	[ "$st" = committed ] || fail "state after mark-good is $st"
	grep -qx "root good 2.0" "$d/status" || fail "root not recorded good 2.0: $(tr '\n' ' ' <"$d/status")"
	pc_env_is "$d" "root 0 0 $SC_BOOTLIMIT 0" "boot state after mark-good"
	[ "$(sc_root "$d")" = 2.0 ] || fail "the root holds $(sc_root "$d") after mark-good"
	[ ! -e "$d/data/updater/singlecopy.bundle" ] || fail "the kept bundle is left after mark-good"
}

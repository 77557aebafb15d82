# Power-cut harness, the dual-bank part (sourced after tests/powercut/lib.sh).
#
# The device: a factory device (tests/lib/common.sh make_device) running
# release 1.0 from slot A; slots of DB_SLOT_MB MiB. The update: release 2.0,
# a DB_IMAGE_MB MiB image, so the writer's 1 MiB progress reports give
# DB_IMAGE_MB distinct byte positions to cut at.
#
# db_after_cut DEV ACTIVATED SAVED plays the boot after a cut and checks
# everything; db_recover DEV SOURCE then installs 2.0 normally (or confirms
# it) and checks that the device ends up running 2.0, committed.

DB_IMAGE_MB=${DB_IMAGE_MB:-32}
# The cut installs stream the whole bundle (the slot writer, whose slot-bytes
# reports are the byte offsets cut at); the recovery install after each cut
# (db_recover) runs the default, the delta install, which must resume from
# whatever the cut left in slot B (docs/dualbank.md, "Delta install").
DB_FULL=--full
DB_SLOT_MB=${DB_SLOT_MB:-40}
DB_BOOTLIMIT=3

# db_fixtures: sets DBF, a directory in $WORK holding keys, v2.img, v2.upd,
# s/ (v2.upd again, and next to it the static delta from the factory image,
# v2.upd.from-HEX: an install of s/v2.upd uses it) and the factory device
# "pristine" (copied from build/powercut/, where they are made again
# whenever the updater binary or these scripts change); sets V1_SIZE (the
# factory image's size), V2_SIZE, V2_SHA and A_MTIME.
db_fixtures() {
	local cache=${DB_FIXTURES:-$TOP/build/powercut/dualbank-$DB_IMAGE_MB} key env
	key=$(cat "$UPDATER" "$TOP/tests/lib/common.sh" "$TOP/tests/powercut/dualbank.sh" |
		sha256sum | cut -d' ' -f1)
	pc_lock_fixtures "$cache"
	if [ "$(cat "$cache/.key" 2>/dev/null)" != "$key" ]; then
		rm -rf "$cache"
		mkdir -p "$cache"
		make_key release "$cache"
		make_rootfs_image "$cache/v2.img" 2.0 "$DB_IMAGE_MB"
		make_bundle "$cache/v2.img" 2.0 "$cache/release.pem" "$cache/v2.upd"
		mkdir -p "$cache/pristine/keys"
		cp "$cache/release.pem" "$cache/release.pub.pem" "$cache/pristine/keys/"
		make_device "$cache/pristine" "$DB_SLOT_MB"
		db_static_fixture "$cache"
		echo "$key" >"$cache/.key"
	fi
	# A private copy: another run may remake the cache meanwhile.
	DBF=$WORK/fixtures
	mkdir -p "$DBF"
	cp -a --sparse=always "$cache/v2.img" "$cache/v2.upd" "$cache/s" "$DBF/"
	pc_reset "$cache/pristine" "$DBF/pristine"
	pc_unlock_fixtures
	V1_SIZE=$(stat -c %s "$DBF/pristine/factory.img")
	V2_SIZE=$(stat -c %s "$DBF/v2.img")
	V2_SHA=$(file_sha "$DBF/v2.img")
	A_MTIME=$(stat -c %y "$DBF/pristine/slots/A.img")
	env=$(pc_env "$DBF/pristine")
	[ "$env" = "A 0 0 $DB_BOOTLIMIT 0" ] || fail "factory boot environment: $env"
}

# db_static_fixture DIR: DIR/s holds v2.upd and the static delta of release
# 2.0 from the factory image (DIR/pristine/factory.img, made into a bundle
# for bundle create --delta-from), named for the factory image's id; 1 MiB
# frames (what a resumed install fetches again), level 3 (time), format 5
# (frames decoded against the target's earlier blocks: the newest format
# covers the older's path and its own).
db_static_fixture() {
	local id
	make_bundle "$1/pristine/factory.img" 1.0 "$1/release.pem" "$1/v1.upd"
	mkdir -p "$1/s"
	cp "$1/v2.upd" "$1/s/"
	id=$(file_sha "$1/pristine/factory.img")
	"$UPDATER" bundle create --image "$1/v2.img" --version 2.0 --compatible sim-board \
		--key "$1/release.pem" --output "$1/s/v2.upd.from-${id:0:16}" --delta-from "$1/v1.upd" \
		--level 3 --frame-size 1048576 --format 5 >/dev/null ||
		fail "bundle create --delta-from (the v2s fixture)"
}

# db_device WORKER: a fresh copy of the factory device for this worker.
db_device() {
	DEV=$WORK/dev.$1
	pc_reset "$DBF/pristine" "$DEV"
}

# db_untouched_a DEV WHEN [full]: slot A, the running system, was never
# written: its modification time (cheap, every check) and, with "full", its
# bytes are those of the factory device.
db_untouched_a() {
	[ "$(stat -c %y "$1/slots/A.img")" = "$A_MTIME" ] ||
		fail "slot A (the running system) was written: $2"
	[ "${3:-}" != full ] || cmp -s "$1/slots/A.img" "$DBF/pristine/slots/A.img" ||
		fail "slot A (the running system) differs from the factory's: $2"
}

# db_complete DEV SLOT: the slot's first image-size bytes are release 1.0 or
# 2.0, byte for byte (so their sha256 is the release's); prints the version.
db_complete() {
	if cmp -s -n "$V2_SIZE" "$1/slots/$2.img" "$DBF/v2.img"; then
		echo 2.0
	elif cmp -s -n "$V1_SIZE" "$1/slots/$2.img" "$DBF/pristine/factory.img"; then
		echo 1.0
	else
		echo incomplete
	fi
}

# db_boot DEV SLOT: the slot U-Boot chose holds the release it should (A
# 1.0, B 2.0: prints "booted-complete"), then `updater boot` runs. Sets the
# caller's ver (the release booted).
db_boot() {
	ver=$(db_complete "$1" "$2")
	case "$2:$ver" in
	A:1.0 | B:2.0) echo booted-complete ;;
	*) fail "slot $2 chosen for boot holds $ver, not the release it should" ;;
	esac
	"$UPDATER" --config="$1/updater.conf" --progress=none boot >"$1/boot.out" 2>&1 ||
		fail "updater boot after the cut: $(tail -n1 "$1/boot.out")"
}

# db_records DEV: every target the state file records as verified or good
# with a digest holds exactly that image (a verified record is what makes a
# slot eligible for boot or rollback).
db_records() {
	local id status size digest
	while read -r id status size digest; do
		case $status in verified | good) ;; *) continue ;; esac
		[ "$digest" = - ] && continue
		if [ "$digest $size" = "$V2_SHA $V2_SIZE" ]; then
			[ "$(db_complete "$1" "$id")" = 2.0 ] && continue
		elif [ "$(slot_sha "$1" "$id" "$size")" = "$digest" ]; then
			continue
		fi
		fail "state records slot $id as $status ($digest, $size bytes), the slot holds something else"
	done < <(pc_state_records "$1/data/updater/state")
}

# db_after_cut DEV ACTIVATED SAVED
#   ACTIVATED yes|no|maybe: the cut came after the activating environment
#     write had returned (yes), before it started (no), or unknown (maybe).
#   SAVED yes|no|maybe: some state save of this install had completed.
# Plays U-Boot, then `updater boot`, and checks (a) the slot booted holds a
# complete release, 2.0 only if activated; (b) the environment parses and is
# what the contract says; (c) status --json works and says the right state.
# Sets DB_ACT (yes/no) and DB_OUTCOME (VERSION/STATE after the boot); prints
# nothing but the marker "booted-complete".
db_after_cut() {
	local d=$1 act=$2 saved=$3 env slot ver want st bslot bver pend lerr
	db_untouched_a "$d" "after the cut"
	env=$(pc_env "$d") || exit 1
	case $env in
	"A 0 0 $DB_BOOTLIMIT 0") DB_ACT=no ;;
	"B 1 0 $DB_BOOTLIMIT 0") DB_ACT=yes ;;
	*) fail "boot environment after the cut is neither the factory state nor the activated one: $env" ;;
	esac
	[ "$act" = maybe ] || [ "$act" = "$DB_ACT" ] ||
		fail "activated=$act but the environment says $env"
	slot=$(sim_boot "$d") || exit 1
	[ "$DB_ACT" = yes ] && want=B || want=A
	[ "$slot" = "$want" ] || fail "U-Boot chose slot $slot, expected $want (env was $env)"
	db_boot "$d" "$slot"
	if [ "$DB_ACT" = yes ]; then
		pc_env_is "$d" "B 1 1 $DB_BOOTLIMIT 0" "environment after the trial boot"
	else
		pc_env_is "$d" "A 0 0 $DB_BOOTLIMIT 0" "environment after the boot"
	fi
	pc_booted_status "$d" "$slot" "$ver"
	pc_boot_state "$d" "$DB_ACT" B 2.0 "$saved"
	[ "$DB_ACT" = yes ] || ! grep -q '^B verified' "$d/status" || [ "$saved" != no ] ||
		fail "slot B recorded verified although no state save completed"
	grep -qx 'A good 1.0' "$d/status" || fail "slot A not recorded good 1.0: $(tr '\n' ' ' <"$d/status")"
	db_records "$d"
	db_untouched_a "$d" "after the boot"
	DB_OUTCOME=$ver/$st
}

# db_recover DEV SOURCE [OPTS]: (d) a normal install of 2.0 (install options
# OPTS) completes and, after the reboot and mark-good, the device runs 2.0,
# committed. If 2.0 is already
# booted on trial, `install` must refuse with exit 7 (the trial must end
# first) and mark-good confirms it.
db_recover() {
	local d=$1 src=$2 slot st bslot bver pend lerr
	# shellcheck disable=SC2086 # OPTS: a list of options
	if pc_install_after_cut "$d" "$DB_ACT" 2.0 \
		"$UPDATER" --config="$d/updater.conf" --progress=none install ${3:-} "$src"; then
		read -r st bslot bver pend lerr <"$d/status"
		[ "$st $pend" = "activated B" ] || fail "after the install: state $st, pending $pend"
		slot=$(sim_boot "$d") || exit 1
		[ "$slot" = B ] || fail "the boot after the install chose $slot"
		"$UPDATER" --config="$d/updater.conf" --progress=none boot >"$d/boot.out" 2>&1 ||
			fail "updater boot on the new system: $(tail -n1 "$d/boot.out")"
	fi
	"$UPDATER" --config="$d/updater.conf" --progress=none mark-good >"$d/mg.out" 2>&1 ||
		fail "mark-good: $(tail -n1 "$d/mg.out")"
	db_recover_check "$d"
}

# db_recover_check DEV: the device boots 2.0 from B, committed, no trial.
db_recover_check() {
	local d=$1 slot st bslot bver pend lerr
	slot=$(sim_boot "$d") || exit 1
	[ "$slot" = B ] || fail "after mark-good the device boots $slot"
	[ "$(db_complete "$d" B)" = 2.0 ] || fail "slot B does not hold 2.0 after the recovery"
	"$UPDATER" --config="$d/updater.conf" --progress=none boot >"$d/boot.out" 2>&1 ||
		fail "updater boot after mark-good: $(tail -n1 "$d/boot.out")"
	[ "$(pc_env "$d")" = "B 0 0 $DB_BOOTLIMIT 0" ] || fail "environment after mark-good: $(pc_env "$d")"
	pc_status "$d" >"$d/status" || exit 1
	read -r st bslot bver pend lerr <"$d/status"
	[ "$st $bslot $bver $pend $lerr" = "committed B 2.0 - -" ] ||
		fail "after recovery: state $st, booted $bslot $bver, pending $pend, last_error $lerr"
	db_records "$d"
	db_untouched_a "$d" "during the recovery" full
}

# ---- cuts in the other commands that write the state or the environment ----
#
# Each scenario is a device state and the command run on it:
#   mark-good    2.0 booted on trial; `mark-good`
#   fallback     2.0 failed its trial, U-Boot fell back to A; `boot` (records it)
#   rollback     2.0 committed on B; `rollback` (back to 1.0 on A)
#   cancel       2.0 installed, reboot pending; `rollback` (cancels it)
#   interrupted  an install cut halfway, A booted again; `boot` (records it)
DB_SCENARIOS="mark-good fallback rollback cancel interrupted"

# db_scenario_setup NAME DIR: DIR becomes the factory device brought to the
# state scenario NAME starts from; prints the command to cut.
db_scenario_setup() {
	local name=$1 d=$2
	pc_reset "$DBF/pristine" "$d"
	u() {
		"$UPDATER" --config="$d/updater.conf" --progress=none "$@" >>"$d/setup.out" 2>&1 ||
			fail "setting up $name: updater $*: $(tail -n1 "$d/setup.out")"
	}
	boots() { [ "$(sim_boot "$d")" = "$1" ] || fail "setting up $name: the boot did not choose $1"; }
	case $name in
	mark-good | fallback | rollback) u install "$DBF/v2.upd" && boots B && u boot ;;
	esac
	case $name in
	mark-good) echo mark-good ;;
	fallback)
		for _ in 2 3; do boots B && u boot; done
		boots A # the 4th boot: bootcount 4 > bootlimit 3
		echo boot ;;
	rollback) u mark-good && boots B && u boot && echo rollback ;;
	cancel) u install "$DBF/v2.upd" && echo rollback ;;
	interrupted)
		UPDATER_FAULT=slot-bytes@$((V2_SIZE / 2)) "$UPDATER_FAULT_BIN" --config="$d/updater.conf" \
			--progress=none install $DB_FULL "$DBF/v2.upd" >>"$d/setup.out" 2>&1
		boots A
		echo boot ;;
	*) fail "no scenario $name" ;;
	esac
}

# db_after_scenario_cut DEV NAME ENV_WRITTEN SAVED ENV_BEFORE ENV_AFTER: the
# boot after a cut of the command of scenario NAME (ENV_WRITTEN yes|no: its
# environment write had returned; SAVED yes|no: its state save had;
# ENV_BEFORE/ENV_AFTER: pc_env before the command and after a whole run of
# it). Checks (a) to (c) as db_after_cut does; sets DB_OUTCOME.
db_after_scenario_cut() {
	local d=$1 name=$2 envw=$3 saved=$4 before=$5 after=$6 env slot ver st bslot bver pend lerr want_slot want_st want_env
	db_untouched_a "$d" "after the cut"
	if [ "$envw" = yes ]; then
		pc_env_is "$d" "$after" "environment after the cut (the command writes that one)"
	else
		pc_env_is "$d" "$before" "environment after the cut (it was that one, not written)"
	fi
	slot=$(sim_boot "$d") || exit 1
	db_boot "$d" "$slot"
	case "$name:$envw" in
	mark-good:yes) want_slot=B want_st=committed want_env="B 0 0" ;;
	mark-good:no) want_slot=B want_st=trial want_env="B 1 2" ;;
	fallback:*) want_slot=A want_st=rolled-back want_env="A 0 0" ;;
	rollback:yes)
		# `rollback` writes the environment, then the state; cut between the
		# two, the next start sees the boot state naming A and records the
		# rollback itself.
		want_slot=A want_st=rolled-back want_env="A 0 0" ;;
	rollback:no) want_slot=B want_st=committed want_env="B 0 0" ;;
	cancel:yes) want_slot=A want_st=rolled-back want_env="A 0 0" ;;
	cancel:no) want_slot=B want_st=trial want_env="B 1 1" ;;
	interrupted:*) want_slot=A want_st=failed want_env="A 0 0" ;;
	esac
	[ "$slot" = "$want_slot" ] || fail "U-Boot chose $slot, expected $want_slot"
	env=$(pc_env "$d") || exit 1
	[ "$env" = "$want_env $DB_BOOTLIMIT 0" ] || fail "environment after the boot: $env, expected $want_env $DB_BOOTLIMIT 0"
	pc_status "$d" >"$d/status" || exit 1
	read -r st bslot bver pend lerr <"$d/status"
	[ "$bslot $bver $pend" = "$slot $ver -" ] || fail "status says booted $bslot $bver (pending $pend), U-Boot booted $slot $ver"
	[ "$st" = "$want_st" ] || fail "state after the boot is $st, expected $want_st"
	[ "$name" != fallback ] || grep -qx 'B bad 2.0' "$d/status" || fail "slot B not recorded bad after the fallback"
	db_records "$d"
	DB_OUTCOME=$ver/$st
}

# db_recover_any DEV SOURCE: from whatever db_after_scenario_cut left, to 2.0
# committed on B.
db_recover_any() {
	local d=$1 st
	read -r st _ <"$d/status"
	case "$(booted_slot "$d"):$st" in
	B:trial) DB_ACT=yes db_recover "$d" "$2" ;;
	B:committed) DB_ACT=yes db_recover_check "$d" ;;
	# After a fallback 2.0 failed on this device (--force); after a rollback
	# from the confirmed 2.0 it is not newer than it (--allow-downgrade).
	A:*) DB_ACT=no db_recover "$d" "$2" "--force --allow-downgrade" ;;
	*) fail "nothing to recover from: $(booted_slot "$d") $st" ;;
	esac
}

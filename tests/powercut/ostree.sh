# Power-cut harness, the ostree part (sourced after tests/powercut/lib.sh).
#
# The device: the factory ostree device of tests/lib/ostree.sh
# (ostree_fixtures: release 1.0, commit C1, booted), talking to one server
# that serves the fixtures' repository. The update: release 3.0 (C3: no
# static delta from C1 on the server, so libostree pulls the objects), or 2.0
# (C2: a static delta the updater applies itself, then a pull of the rest).
#
# os_fixtures prepares everything the checks compare against; os_after_cut
# plays the boot after a cut and checks it; os_recover installs the update
# to the end. How the cut is made is up to the caller.

OS_BOOTLIMIT=3
OS_CUTTER=${OS_CUTTER:-$TOP/build/tests/libcutter.so}

# os_fixtures URL: sets OFIX and C1..C4 (ostree_fixtures), OSF (a directory
# in $WORK), ID1 (the booted deployment's id), and makes OSF/pristine, a
# factory device talking to URL, with its references:
#   OSF/booted.ref     the booted deployment, with inodes, times and sums
#                      (os_untouched compares against it; per copy, see os_device)
#   OSF/C1.list        the booted deployment's content (os_content)
#   OSF/uenv.old       boot/loader/uEnv.txt of the factory device
#   OSF/env.old        its environment (pc_env)
# os_reference then adds the same for an update.
os_fixtures() {
	ostree_fixtures
	OSF=$WORK/osf
	mkdir -p "$OSF"
	ostree_clone_device "$OFIX/device" "$OSF/pristine" "$1"
	ID1=${C1:0:12}.0
	OS_DEPDIR=sysroot/ostree/deploy/${OSTREE_OSNAME:-simos}/deploy
	[ -d "$OSF/pristine/$OS_DEPDIR/$C1.0" ] || fail "the factory device has no deployment $C1.0"
	[ "$(ostree_booted "$OSF/pristine")" = "$C1.0" ] || fail "the factory device does not run $C1.0"
	os_content "$OSF/pristine/$OS_DEPDIR/$C1.0" >"$OSF/C1.list"
	# (under its checksum too: os_check_commit then compares any 1.0 checkout)
	cp "$OSF/C1.list" "$OSF/$C1.list"
	cp "$OSF/pristine/sysroot/boot/loader/uEnv.txt" "$OSF/uenv.old"
	PC_SLOTS="ostree $ID1" pc_env "$OSF/pristine" >"$OSF/env.old" || exit 1
	# updater-sim create ran `updater init`: boot_slot names the deployment.
	[ "$(cat "$OSF/env.old")" = "$ID1 0 0 $OS_BOOTLIMIT 0" ] ||
		fail "factory environment: $(cat "$OSF/env.old")"
	os_check_commit "$OSF/pristine" "$C1" "$OSF/pristine/$OS_DEPDIR/$C1.0"
}

# os_reference DEV NAME COMMIT VERSION: DEV has just installed COMMIT
# (release VERSION) without a cut. Records, as OSF/NAME.*, what a complete
# install leaves: the new deployment's id (NAME.id) and content
# (COMMIT.list, checked against `ostree ls -R` of the commit), uEnv.txt
# (NAME.uenv) and the environment (NAME.env).
os_reference() {
	local d=$1 name=$2 c=$3 v=$4 id dep
	id=$(envvar "$d" boot_slot)
	case $id in "${c:0:12}".[0-9]*) ;; *) fail "reference install of $v: boot_slot is '$id'" ;; esac
	dep=$d/$OS_DEPDIR/$c.${id#*.}
	[ -d "$dep" ] || fail "reference install of $v: no deployment $dep"
	echo "$id" >"$OSF/$name.id"
	os_content "$dep" >"$OSF/$c.list"
	# The reference must itself be the commit: every path of the commit's
	# tree is in the checkout, with its type, mode and size.
	ostree --repo="$d/sysroot/ostree/repo" ls -R -C "$c" >"$OSF/$c.ls" || fail "ostree ls -R $c"
	"$PYTHON" - "$OSF/$c.ls" "$dep" <<'PY' || fail "the reference deployment of $v is not its commit"
import os, stat, sys
n = 0
# "TMODE UID GID SIZE CHECKSUM [DIRMETA] PATH [-> TARGET]", T one of - d l
types = {"-": stat.S_ISREG, "d": stat.S_ISDIR, "l": stat.S_ISLNK}
for line in open(sys.argv[1]):
    f = line.rstrip("\n").split(" -> ")[0].split()
    kind, mode, size = f[0][0], int(f[0][1:], 8), int(f[3])
    path = next(t for t in f[4:] if t.startswith("/"))
    if path == "/":
        continue
    p = os.path.join(sys.argv[2], path.lstrip("/"))
    st = os.lstat(p)
    if not types[kind](st.st_mode) or (kind != "l" and stat.S_IMODE(st.st_mode) != stat.S_IMODE(mode)):
        sys.exit("%s: mode %o in the checkout, %s%o in the commit" % (path, st.st_mode, kind, mode))
    if kind == "-" and st.st_size != size:
        sys.exit("%s: %d bytes in the checkout, %d in the commit" % (path, st.st_size, size))
    n += 1
if n < 300:
    sys.exit("only %d paths in the commit listing" % n)
PY
	cp "$d/sysroot/boot/loader/uEnv.txt" "$OSF/$name.uenv"
	PC_SLOTS="ostree $ID1 $id" pc_env "$d" >"$OSF/$name.env" || exit 1
	[ "$(cat "$OSF/$name.env")" = "$id 1 0 $OS_BOOTLIMIT 0" ] ||
		fail "environment after a whole install of $v: $(cat "$OSF/$name.env")"
	cmp -s "$OSF/$name.uenv" "$OSF/uenv.old" && fail "a whole install of $v left uEnv.txt as it was"
	os_check_commit "$d" "$c" "$dep"
}

# os_device WORKER: DEV becomes a fresh copy of the factory device for this
# worker; OSF/booted.ref.WORKER is the listing of its booted deployment
# (inodes and times differ from copy to copy, so it is taken per copy).
os_device() {
	DEV=$WORK/dev.$1
	os_reset "$OSF/pristine" "$DEV"
	os_untouched_listing "$DEV/$OS_DEPDIR/$C1.0" >"$DEV.booted.ref"
}

# os_reset PRISTINE DEV: DEV becomes a copy of PRISTINE (hard links kept);
# the absolute paths that name the device (the root link, fw_env.config,
# the remote's gpgkeypath) are pointed at the copy.
os_reset() {
	local src=$1 d=$2 t
	ostree_rm_device "$d"
	cp -a "$src" "$d" || fail "cannot copy $src to $d"
	t=$(readlink "$d/root")
	ln -sfn "$d/${t#"$src"/}" "$d/root" && [ -d "$d/root/usr" ] || fail "os_reset: $d/root"
	printf '%s 0x0 0x4000\n%s 0x4000 0x4000\n' "$d/env/uboot.env" "$d/env/uboot.env" >"$d/env/fw_env.config"
	sed -i "s#=$src/#=$d/#" "$d/sysroot/ostree/repo/config"
	! grep -q "$src/" "$d/sysroot/ostree/repo/config" || fail "os_reset: the repository config still names $src"
}

# os_content DIR: what a checkout holds: type, mode, path, link target of
# every entry, then the SHA-256 of every regular file.
os_content() {
	(cd "$1" && find . -printf '%y %m %p %l\n' | LC_ALL=C sort &&
		find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum) ||
		fail "os_content: cannot list $1"
}

# os_untouched_listing DIR: os_content plus every entry's inode and
# modification time: a file replaced, rewritten or touched shows.
os_untouched_listing() {
	(cd "$1" && find . -printf '%y %m %i %T@ %p %l\n' | LC_ALL=C sort &&
		find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum) ||
		fail "os_untouched_listing: cannot list $1"
}

# os_untouched DEV WHEN [DEPLOYMENT]: the booted deployment (1.0, or the
# directory name DEPLOYMENT) is what it was before the cut, entry for entry
# (DEV.booted.ref).
os_untouched() {
	local name=${3:-$C1.0}
	local dep=$1/$OS_DEPDIR/$name
	[ -d "$dep" ] || fail "the booted deployment $name is gone: $2"
	os_untouched_listing "$dep" | cmp -s - "$1.booted.ref" || {
		os_untouched_listing "$dep" | diff "$1.booted.ref" - | head -n 5 >&2
		fail "the booted deployment was modified: $2"
	}
}

# os_check_commit DEV COMMIT DEPLOYMENT: `ostree fsck` of DEV's repository
# passes (every object reachable from every complete commit hashes to its
# name), COMMIT is one of those complete commits (not marked partial), and
# the deployment's checkout holds exactly the commit's content (OSF/COMMIT.list).
os_check_commit() {
	local d=$1 c=$2 dep=$3 repo=$1/sysroot/ostree/repo out
	out=$(ostree fsck --repo="$repo" -q 2>&1) || fail "ostree fsck: $(tail -n 2 <<<"$out")"
	[ ! -e "$repo/state/$c.commitpartial" ] || fail "commit $c is marked partial"
	ostree --repo="$repo" cat "$c" /usr/lib/os-release >/dev/null 2>&1 || fail "commit $c cannot be read"
	if [ -f "$OSF/$c.list" ]; then
		os_content "$dep" | cmp -s - "$OSF/$c.list" || {
			os_content "$dep" | diff "$OSF/$c.list" - | head -n 5 >&2
			fail "deployment $(basename "$dep") is not a complete checkout of $c"
		}
	fi
}

# os_uenv DEV: boot/loader is a link to loader.N and its uEnv.txt is the
# factory one (prints "old") or the one a whole install writes ("new"):
# never missing, partial or a mix. NAME: the reference (OSF/NAME.uenv).
os_uenv() {
	local d=$1 name=$2 l
	l=$(readlink "$d/sysroot/boot/loader") || fail "boot/loader is not a symbolic link"
	case $l in loader.[01]) ;; *) fail "boot/loader points at '$l'" ;; esac
	if cmp -s "$d/sysroot/boot/loader/uEnv.txt" "$OSF/uenv.old"; then
		echo old
	elif cmp -s "$d/sysroot/boot/loader/uEnv.txt" "$OSF/$name.uenv"; then
		echo new
	else
		diff "$OSF/$name.uenv" "$d/sysroot/boot/loader/uEnv.txt" | head -n 6 >&2
		fail "boot/loader/uEnv.txt is neither the old one nor the new one"
	fi
}

# os_entry_files DEV [2]: the kernel and ramdisk the entry names exist in
# /boot and are the deployment's (what U-Boot loads must be whole).
os_entry_files() {
	local d=$1 s=${2:-} k r dep kver
	k=$(_ostree_uenv "$d" "kernel_image$s")
	r=$(_ostree_uenv "$d" "ramdisk_image$s")
	dep=$(readlink -f "$d/root")
	kver=$(basename "$(dirname "$(ls "$dep"/usr/lib/modules/*/vmlinuz)")")
	cmp -s "$d/sysroot$k" "$dep/usr/lib/modules/$kver/vmlinuz" ||
		fail "the kernel $k the boot loads is not the deployment's"
	cmp -s "$d/sysroot$r" "$dep/usr/lib/modules/$kver/initramfs.img" ||
		fail "the ramdisk $r the boot loads is not the deployment's"
}

# os_after_cut DEV NAME COMMIT VERSION SAVED [ACTIVATED]: the checks after a
# cut of an install of COMMIT (release VERSION, references OSF/NAME.*):
#   SAVED yes|no|maybe       some state save of the install had completed
#   ACTIVATED yes|no|maybe   the default had been switched (uEnv.txt is the
#                            new one); without it, read from uEnv.txt
# (a) the booted deployment untouched, its commit whole; (b) the environment
# parses, holds contract values and is the old state or the activated one,
# and uEnv.txt is old or new, the new only with the trial on; (c) U-Boot
# (ostree_sim_boot) boots the new deployment exactly when uEnv.txt is new,
# and what it boots is a complete checkout of a complete commit, with its
# kernel; (d) `updater boot`, then the environment and `status --json` say
# what happened. Sets OS_NEW (yes: the new release runs, on trial) and
# OS_OUTCOME.
os_after_cut() {
	local d=$1 name=$2 c=$3 v=$4 saved=$5 act=${6:-maybe} id env uenv dep booted ver st bslot bver pend lerr
	id=$(cat "$OSF/$name.id")
	os_untouched "$d" "after the cut"
	env=$(PC_SLOTS="ostree $ID1 $id" pc_env "$d") || exit 1
	uenv=$(os_uenv "$d" "$name") || exit 1
	case "$env:$uenv" in
	"$ID1 0 0 $OS_BOOTLIMIT 0:old" | "$id 1 0 $OS_BOOTLIMIT 0:old" | "$id 1 0 $OS_BOOTLIMIT 0:new") ;;
	*) fail "after the cut: environment '$env' with the $uenv uEnv.txt (the new default needs the trial on)" ;;
	esac
	[ "$act" = maybe ] || { [ "$act" = yes ] && [ "$uenv" = new ]; } || { [ "$act" = no ] && [ "$uenv" = old ]; } ||
		fail "activated=$act but uEnv.txt is the $uenv one"
	ostree_sim_boot "$d" >/dev/null || exit 1
	booted=$(ostree_booted "$d") || exit 1
	dep=$d/$OS_DEPDIR/$booted
	if [ "$uenv" = new ]; then
		[ "$booted" = "$c.${id#*.}" ] || fail "uEnv.txt is the new one, the boot ran $booted"
		OS_NEW=yes ver=$v
	else
		[ "$booted" = "$C1.0" ] || fail "uEnv.txt is the old one, the boot ran $booted"
		OS_NEW=no ver=1.0
	fi
	os_check_commit "$d" "${booted%.*}" "$dep"
	os_entry_files "$d"
	echo booted-complete
	# The ramdisk runs apply-staged again before the root is mounted.
	[ "$name" != apply-staged ] || ostree_nofreeze "$UPDATER" --config="$d/updater.conf" --progress=none \
		apply-staged >"$d/apply.out" 2>&1 || fail "apply-staged after the cut: $(tail -n1 "$d/apply.out")"
	ostree_nofreeze "$UPDATER" --config="$d/updater.conf" --progress=none boot >"$d/boot.out" 2>&1 ||
		fail "updater boot after the cut: $(tail -n1 "$d/boot.out")"
	env=$(PC_SLOTS="ostree $ID1 $id" pc_env "$d") || exit 1
	if [ "$OS_NEW" = yes ]; then
		[ "$env" = "$id 1 1 $OS_BOOTLIMIT 0" ] || fail "environment on the trial boot: $env"
	else
		case $env in
		"$ID1 0 0 $OS_BOOTLIMIT 0") ;;
		*) fail "environment after the boot of 1.0: $env" ;;
		esac
		[ "$(os_uenv "$d" "$name")" = old ] || fail "uEnv.txt is not the old one after the boot of 1.0"
	fi
	pc_booted_status "$d" "${booted:0:12}.${booted##*.}" "$ver"
	pc_boot_state "$d" "$OS_NEW" "$id" "$v" "$saved"
	if [ "$OS_NEW" != yes ]; then
		! grep -q " verified $v\$" "$d/status" ||
			fail "a deployment of $v recorded verified, 1.0 runs: $(tr '\n' ' ' <"$d/status")"
		# status lists only the deployments there are: the state file's records too.
		! pc_state_records "$d/data/updater/state" 2>/dev/null | grep -q "^[^ ]* verified " ||
			fail "a deployment recorded verified in the state file, 1.0 runs: $(pc_state_records "$d/data/updater/state" | tr '\n' ' ')"
	fi
	os_untouched "$d" "after the boot"
	OS_OUTCOME=$ver/$st
}

# os_recover DEV NAME COMMIT VERSION SOURCE: a normal install of COMMIT
# from SOURCE (a checksum, on the fast server) completes; after the reboot
# and mark-good the device runs it, committed. With the new release already
# on trial (OS_NEW=yes), `install` must refuse with exit 7 first. OS_OPTS:
# options for that install.
os_recover() {
	local d=$1 c=$3 v=$4 st bslot bver pend lerr
	# shellcheck disable=SC2086 # OS_OPTS: a list of install options
	if pc_install_after_cut "$d" "$OS_NEW" "$v" \
		ostree_nofreeze "$UPDATER" --config="$d/updater.conf" --progress=none install ${OS_OPTS:-} "$c"; then
		read -r st bslot bver pend lerr <"$d/status"
		case "$st $pend" in "activated ${c:0:12}."[0-9]*) ;; *) fail "after the install: state $st, pending $pend" ;; esac
		os_untouched "$d" "during the recovery install"
		ostree_sim_boot "$d" >/dev/null || exit 1
		[ "$(ostree_booted "$d")" = "$c.${pend#*.}" ] || fail "the boot after the install ran $(ostree_booted "$d")"
		ostree_nofreeze "$UPDATER" --config="$d/updater.conf" --progress=none boot >"$d/boot.out" 2>&1 ||
			fail "updater boot on the new deployment: $(tail -n1 "$d/boot.out")"
	fi
	ostree_nofreeze "$UPDATER" --config="$d/updater.conf" --progress=none mark-good >"$d/mg.out" 2>&1 ||
		fail "mark-good: $(tail -n1 "$d/mg.out")"
	os_recover_check "$d" "$c" "$v"
}

# os_recover_check DEV COMMIT VERSION: the device boots a deployment of
# COMMIT (release VERSION), committed, no trial, nothing pending, no error;
# the deployment is complete and its kernel is what the entry loads.
os_recover_check() {
	local d=$1 c=$2 v=$3 st bslot bver pend lerr booted env
	ostree_sim_boot "$d" >/dev/null || exit 1
	booted=$(ostree_booted "$d")
	case $booted in "$c".[0-9]*) ;; *) fail "after mark-good the device boots $booted" ;; esac
	ostree_nofreeze "$UPDATER" --config="$d/updater.conf" --progress=none boot >"$d/boot.out" 2>&1 ||
		fail "updater boot after mark-good: $(tail -n1 "$d/boot.out")"
	env=$(PC_SLOTS="${c:0:12}.${booted##*.}" pc_env "$d") || exit 1
	[ "$env" = "${c:0:12}.${booted##*.} 0 0 $OS_BOOTLIMIT 0" ] || fail "environment after mark-good: $env"
	pc_status "$d" >"$d/status" || exit 1
	read -r st bslot bver pend lerr <"$d/status"
	[ "$st $bslot $bver $pend $lerr" = "committed ${c:0:12}.${booted##*.} $v - -" ] ||
		fail "after recovery: state $st, booted $bslot $bver, pending $pend, last_error $lerr"
	os_check_commit "$d" "$c" "$d/$OS_DEPDIR/$booted"
	os_entry_files "$d"
}

# os_run DEV CUT ARGS...: `updater ARGS` by ./updater-fault on DEV, in a
# process group of its own (setsid: a cut kills the pull process too),
# without CAP_SYS_ADMIN (ostree_nofreeze), logging the named points to
# DEV/cut.log and the changes under the sysroot to DEV/ops.log (the shim
# OS_CUTTER). CUT is "fault:SPEC" (UPDATER_FAULT), "op:KIND:OP:J" (the
# shim's CUT_MATCH and CUT_AT: right after the J-th change of that kind and
# operation), or nothing. OS_RUN_ENV (words NAME=VALUE) is added to the
# environment; OS_RUN_PRELOAD to LD_PRELOAD. Returns the exit status.
os_run() {
	local d=$1 cut=$2 rc
	shift 2
	local -a nofreeze=()
	[ "$(id -u)" != 0 ] || nofreeze=(setpriv --bounding-set=-sys_admin --)
	local -a env=(UPDATER_FAULT_LOG="$d/cut.log" UPDATER_FAULT_GROUP=1
		LD_PRELOAD="$OS_CUTTER${OS_RUN_PRELOAD:+ $OS_RUN_PRELOAD}" CUT_ROOT="$d/sysroot"
		CUT_COUNTER="$d/ops.counter" CUT_LOG="$d/ops.log" ${OS_RUN_ENV:-})
	case $cut in
	fault:*) env+=(UPDATER_FAULT="${cut#fault:}") ;;
	op:*)
		local k o j
		IFS=: read -r _ k o j <<<"$cut"
		env+=(CUT_MATCH="$k $o" CUT_AT="$j")
		;;
	esac
	rm -f "$d/cut.log" "$d/ops.log"
	head -c 24 /dev/zero >"$d/ops.counter"
	env "${env[@]}" setsid "${nofreeze[@]}" "$UPDATER_FAULT_BIN" \
		--config="$d/updater.conf" --progress=none "$@" >"$d/cut.out" 2>&1 </dev/null
	rc=$?
	rm -f "$d/ops.counter"
	return $rc
}

# ---- cuts in the other commands that write the state, the environment or
# the deployment list ----
#
# Each scenario is a device state and the command run on it (3.0 is "the
# new release" throughout; D1, D2, D3 the deployments of 1.0, 2.0, 3.0):
#   mark-good       2.0 committed, 3.0 booted on trial (D3 D2 D1 listed);
#                   `mark-good`, which keeps ostree.keep=2 deployments:
#                   it removes D1 and prunes its objects
#   fallback        3.0 failed its trial, U-Boot booted the rollback entry
#                   (1.0, rollback=1); `boot` records it, writes the list
#                   as D1 alone and removes D3
#   rollback        3.0 committed; `rollback` (back to 1.0)
#   rollback-trial  3.0 booted on trial; `rollback` (back to 1.0)
#   cancel          3.0 installed, reboot pending; `rollback` (cancels it)
#   interrupted     an install of 3.0 cut after its environment write,
#                   before the default switched, 1.0 booted again; `boot`
#                   records it and points the environment back at 1.0
#   apply-staged    3.0 staged (`stage`: pulled, kept, apply_staged=1);
#                   `apply-staged`, which the ramdisk runs at the next boot
#                   again after a cut, and which must then complete
OS_SCENARIOS="mark-good fallback rollback rollback-trial cancel interrupted apply-staged"

# os_ids: the values boot_slot may take in the scenarios (PC_SLOTS).
os_ids() { echo "ostree $ID1 ${C2:0:12}.0 ${C3:0:12}.0 ${C3:0:12}.1"; }

# os_scenario_setup NAME DIR: DIR becomes the factory device brought to the
# state scenario NAME starts from (with the server of os_fixtures); prints
# the command to cut.
os_scenario_setup() {
	local name=$1 d=$2
	os_reset "$OSF/pristine" "$d"
	u() {
		ostree_nofreeze "$UPDATER" --config="$d/updater.conf" --progress=none "$@" >>"$d/setup.out" 2>&1 ||
			fail "setting up $name: updater $*: $(tail -n1 "$d/setup.out")"
	}
	# boots COMMIT: U-Boot, then `updater boot`; COMMIT must be what ran.
	boots() {
		ostree_sim_boot "$d" >/dev/null || exit 1
		case $(ostree_booted "$d") in "$1".[0-9]*) ;; *) fail "setting up $name: the boot ran $(ostree_booted "$d"), not ${1:0:12}" ;; esac
		u boot
	}
	case $name in
	mark-good)
		u install "$C2" && boots "$C2" && u mark-good && boots "$C2"
		u install "$C3" && boots "$C3"
		[ "$(ostree_deployments "$d")" = 3 ] || fail "setting up $name: $(ostree_deployments "$d") deployments, not 3"
		echo mark-good ;;
	fallback)
		u install "$C3"
		for _ in 1 2 3; do boots "$C3"; done
		# The 4th boot: bootcount 4 > bootlimit 3, U-Boot falls back.
		ostree_sim_boot "$d" >/dev/null || exit 1
		[ "$(ostree_booted "$d")" = "$C1.0" ] || fail "setting up $name: no fallback to 1.0"
		echo boot ;;
	rollback) u install "$C3" && boots "$C3" && u mark-good && boots "$C3" && echo rollback ;;
	rollback-trial) u install "$C3" && boots "$C3" && echo rollback ;;
	cancel) u install "$C3" && echo rollback ;;
	apply-staged) u stage "$C3" && echo apply-staged ;;
	interrupted)
		os_run "$d" fault:set-default:1 install "$C3"
		[ $? = 137 ] || fail "setting up $name: the install was not cut: $(tail -n1 "$d/cut.out")"
		rm -f "$d/cut.log" "$d/ops.log" "$d/cut.out"
		ostree_sim_boot "$d" >/dev/null || exit 1
		[ "$(ostree_booted "$d")" = "$C1.0" ] || fail "setting up $name: the boot after the cut ran $(ostree_booted "$d")"
		echo boot ;;
	*) fail "no scenario $name" ;;
	esac
}

# os_scenario_device WORKER PRISTINE: DEV becomes a fresh copy of PRISTINE
# (a scenario's starting device); DEV.booted names its running deployment
# and DEV.booted.ref lists it (os_untouched).
os_scenario_device() {
	DEV=$WORK/dev.$1
	os_reset "$2" "$DEV"
	ostree_booted "$DEV" >"$DEV.booted" || exit 1
	os_untouched_listing "$DEV/$OS_DEPDIR/$(cat "$DEV.booted")" >"$DEV.booted.ref"
}

# os_entries_complete DEV: both boot entries of uEnv.txt (the default and,
# if there is one, the rollback entry U-Boot boots with rollback=1) name
# complete checkouts of complete commits (os_check_commit): whichever one
# the boot loader picks is whole.
os_entries_complete() {
	local d=$1 s dep
	for s in "" 2; do
		dep=$(ostree_entry "$d" $s) || exit 1
		[ -n "$dep" ] || { [ -n "$s" ] && continue; fail "uEnv.txt has no default entry"; }
		os_check_commit "$d" "${dep%.*}" "$d/$OS_DEPDIR/$dep"
	done
}

# os_version COMMIT: the release of a fixture commit.
os_version() {
	case $1 in "$C1") echo 1.0 ;; "$C2") echo 2.0 ;; "$C3") echo 3.0 ;; *) echo "?" ;; esac
}

# os_after_scenario_cut DEV NAME ENV_WRITTEN SWITCHED SAVED REF: the boot
# after a cut of the command of scenario NAME.
#   ENV_WRITTEN yes|no  its environment write had returned (env-written)
#   SWITCHED yes|no     it had swapped /boot/loader (a new deployment list)
#   SAVED yes|no        a state save of it had returned
#   REF                 prefix of the references: REF.env-before/-after,
#                       REF.uenv-before/-after (a whole run of the command)
# Checks (a) the running deployment untouched; (b) the environment parses,
# holds contract values and is the one before the command or the one it
# writes, as ENV_WRITTEN says; uEnv.txt is a link swap away from whole, the
# old or the new one as SWITCHED says; (c) both boot entries name complete
# checkouts of complete commits, U-Boot boots the release it should, with
# its kernel; (d) `updater boot`, then the environment and status --json say
# what the table below says. Sets OS_OUTCOME.
os_after_scenario_cut() {
	local d=$1 name=$2 envw=$3 sw=$4 saved=$5 ref=$6 env uenv booted ver st bslot bver pend lerr
	local id1=$ID1 id3=${C3:0:12}.0 want_ver want_st want_env want_pend=- running
	running=$(cat "$d.booted")
	os_untouched "$d" "after the cut" "$running"
	env=$(PC_SLOTS=$(os_ids) pc_env "$d") || exit 1
	if [ "$envw" = yes ]; then
		[ "$env" = "$(cat "$ref.env-after")" ] || fail "environment after the cut: $env; the command writes $(cat "$ref.env-after")"
	else
		[ "$env" = "$(cat "$ref.env-before")" ] || fail "environment after the cut: $env; it was $(cat "$ref.env-before") and not written"
	fi
	case $(readlink "$d/sysroot/boot/loader") in loader.[01]) ;; *) fail "boot/loader points at '$(readlink "$d/sysroot/boot/loader")'" ;; esac
	if cmp -s "$d/sysroot/boot/loader/uEnv.txt" "$ref.uenv-before"; then
		uenv=old
	elif cmp -s "$d/sysroot/boot/loader/uEnv.txt" "$ref.uenv-after"; then
		uenv=new
	else
		fail "boot/loader/uEnv.txt is neither the one before the command nor the one it writes"
	fi
	# (the same bytes before and after: either reading is right)
	if ! cmp -s "$ref.uenv-before" "$ref.uenv-after"; then
		[ "$uenv:$sw" = old:no ] || [ "$uenv:$sw" = new:yes ] ||
			fail "the deployment list switched: $sw, but uEnv.txt is the $uenv one"
	fi
	os_entries_complete "$d"
	ostree_sim_boot "$d" >/dev/null || exit 1
	booted=$(ostree_booted "$d") || exit 1
	ver=$(os_version "${booted%.*}")
	os_check_commit "$d" "${booted%.*}" "$d/$OS_DEPDIR/$booted"
	# (the kernel of the entry U-Boot took: the rollback one after a fallback)
	# (its ostree= argument: the command line adds boot.cmd's arguments to the entry's)
	if [ "$(tr ' ' '\n' <"$d/cmdline" | grep '^ostree=')" = "$(_ostree_uenv "$d" bootargs2 | tr ' ' '\n' | grep '^ostree=')" ]; then
		os_entry_files "$d" 2
	else
		os_entry_files "$d"
	fi
	echo booted-complete
	# The ramdisk runs apply-staged again before the root is mounted.
	[ "$name" != apply-staged ] || ostree_nofreeze "$UPDATER" --config="$d/updater.conf" --progress=none \
		apply-staged >"$d/apply.out" 2>&1 || fail "apply-staged after the cut: $(tail -n1 "$d/apply.out")"
	ostree_nofreeze "$UPDATER" --config="$d/updater.conf" --progress=none boot >"$d/boot.out" 2>&1 ||
		fail "updater boot after the cut: $(tail -n1 "$d/boot.out")"
	# What the boot must find, by what the command had done (see each
	# command's order of writes in backends/ostree/ostree.c, core/trial.c).
	case "$name:$envw:$sw" in
	mark-good:no:*) want_ver=3.0 want_st=trial want_env="$id3 1 2" ;;
	mark-good:yes:*) want_ver=3.0 want_st=committed want_env="$id3 0 0" ;;
	fallback:*) want_ver=1.0 want_st=rolled-back want_env="$id1 0 0" ;;
	rollback:no:no) want_ver=3.0 want_st=committed want_env="$id3 0 0" ;;
	rollback:*:yes) want_ver=1.0 want_st=rolled-back want_env="$id1 0 0" ;;
	rollback-trial:no:no) want_ver=3.0 want_st=trial want_env="$id3 1 2" ;;
	# The default switched, the boot state not yet written: 1.0, confirmed
	# good, boots with the trial of 3.0 still on; `updater boot` ends it and
	# records the rollback (the backend's ob_align_boot, then core/reconcile.c).
	rollback-trial:*:yes) want_ver=1.0 want_st=rolled-back want_env="$id1 0 0" ;;
	cancel:no:no) want_ver=3.0 want_st=trial want_env="$id3 1 1" ;;
	cancel:*:yes) want_ver=1.0 want_st=rolled-back want_env="$id1 0 0" ;;
	interrupted:*) want_ver=1.0 want_st=failed want_env="$id1 0 0" ;;
	# Cut before its new deployment became the default: 1.0 boots (on the
	# harmless trial its activating write started, if it had), and the next
	# apply-staged does it all again, 3.0 pending. After: 3.0 on trial.
	apply-staged:*:no) want_ver=1.0 want_st=activated want_env="$id3 1 0" want_pend=$id3 ;;
	apply-staged:yes:yes) want_ver=3.0 want_st=trial want_env="$id3 1 1" ;;
	*) fail "$name: no expectation for env written $envw, list switched $sw" ;;
	esac
	[ "$ver" = "$want_ver" ] || fail "the boot ran $booted ($ver), expected $want_ver"
	env=$(PC_SLOTS=$(os_ids) pc_env "$d") || exit 1
	[ "$env" = "$want_env $OS_BOOTLIMIT 0" ] || fail "environment after the boot: $env, expected $want_env $OS_BOOTLIMIT 0"
	pc_status "$d" >"$d/status" || exit 1
	read -r st bslot bver pend lerr <"$d/status"
	[ "$bslot $bver $pend" = "${booted:0:12}.${booted##*.} $ver $want_pend" ] ||
		fail "status says booted $bslot $bver (pending $pend), the boot ran $booted ($ver)"
	[ "$st" = "$want_st" ] || fail "state after the boot is $st, expected $want_st"
	[ "$name" != fallback ] || grep -qx "$id3 bad 3.0" "$d/status" || fail "$id3 not recorded bad after the fallback"
	[ "$name" != interrupted ] || case $lerr in *interrupted*) ;; *) fail "state failed, last_error is not 'interrupted': $lerr" ;; esac
	if [ "$name" = apply-staged ]; then
		[ "$(envvar "$d" apply_staged)" = 0 ] || fail "apply_staged is $(envvar "$d" apply_staged) after the apply completed"
		[ ! -e "$d/sysroot/ostree/repo/refs/heads/updater/staged" ] || fail "the staged ref is still there"
		[ "$(ostree_deployments "$d")" = 2 ] || fail "$(ostree_deployments "$d") deployments after the apply, not 2"
	fi
	os_untouched "$d" "after the boot" "$running"
	OS_OUTCOME=$ver/$st
}

# os_recover_any DEV: from whatever os_after_scenario_cut left, to 3.0
# committed (os_recover: the running 1.0 untouched by the install, compared
# with a listing taken now).
os_recover_any() {
	local d=$1 st
	read -r st _ <"$d/status"
	case "$(ostree_booted "$d"):$st" in
	"$C3".*:trial) OS_NEW=yes os_recover "$d" v3 "$C3" 3.0 ;;
	"$C3".*:committed) os_recover_check "$d" "$C3" 3.0 ;;
	"$C1.0":activated)
		ostree_sim_boot "$d" >/dev/null || exit 1
		ostree_nofreeze "$UPDATER" --config="$d/updater.conf" --progress=none boot >"$d/boot.out" 2>&1 ||
			fail "updater boot on 3.0: $(tail -n1 "$d/boot.out")"
		OS_NEW=yes os_recover "$d" v3 "$C3" 3.0 ;;
	"$C1.0":failed | "$C1.0":rolled-back)
		os_untouched_listing "$d/$OS_DEPDIR/$C1.0" >"$d.booted.ref"
		# After a fallback (or a rollback during the trial) 3.0 failed on this
		# device; after a rollback from the confirmed 3.0 it is not newer.
		OS_NEW=no OS_OPTS="--force --allow-downgrade" os_recover "$d" v3 "$C3" 3.0 ;;
	*) fail "nothing to recover from: $(ostree_booted "$d") $st" ;;
	esac
}

# os_references: the content lists of 2.0 and 3.0 (os_check_commit) and the
# references of a whole install of 3.0 (OSF/v3.*, os_reference), from whole
# installs on copies of the factory device in WORK/list.
os_references() {
	local v c
	for v in 2 3; do
		c=$(eval echo "\$C$v")
		os_reset "$OSF/pristine" "$WORK/list"
		os_run "$WORK/list" "" install "$c" || fail "a whole install of $v.0 failed: $(tail -n 3 "$WORK/list/cut.out")"
		os_reference "$WORK/list" "v$v" "$c" "$v.0"
	done
}

# os_scenario_refs P DEV: P.env-before and P.uenv-before from the scenario's
# starting device P, P.env-after and P.uenv-after from DEV, where the
# command has just run whole (os_after_scenario_cut compares against them).
os_scenario_refs() {
	PC_SLOTS=$(os_ids) pc_env "$1" >"$1.env-before" || exit 1
	cp "$1/sysroot/boot/loader/uEnv.txt" "$1.uenv-before"
	PC_SLOTS=$(os_ids) pc_env "$2" >"$1.env-after" || exit 1
	cp "$2/sysroot/boot/loader/uEnv.txt" "$1.uenv-after"
}

# os_ops_reference LOG OUT NAME: OUT becomes the shim's change log LOG of a
# reference run, in the order of the numbers (two threads can append their
# lines in the other order than they counted), which must be 1..N: the shim
# counts every process of the group, no gaps, no repeats. No LOG: a run that
# changed nothing under the sysroot, an empty OUT.
os_ops_reference() {
	if [ -f "$1" ]; then sort -n -k1,1 "$1" >"$2"; else : >"$2"; fi
	awk '$1 != NR { exit 1 }' "$2" || fail "$3: the change log is not numbered 1..N"
}

# os_aim OPS CUT: the os_run cut for CUT of a sweep: "fault:SPEC" as it is;
# "op:N" (change N of the reference run whose sorted log is OPS) as
# "op:KIND:OP:RANK". A change is aimed at by its kind, operation and rank
# among those (the 3rd rename under /boot), not by its number: the number
# of changes before it can vary from run to run (CI once counted one more
# than the reference install).
os_aim() {
	local n kind op rank
	case $2 in
	op:*)
		n=${2#op:}
		read -r kind op <<<"$(awk -v n="$n" '$1 == n { print $2, $3 }' "$1")"
		[ -n "$op" ] || fail "the reference run has no change $n"
		rank=$(awk -v n="$n" -v k="$kind" -v o="$op" '$1 <= n && $2 == k && $3 == o' "$1" | wc -l)
		echo "op:$kind:$op:$rank"
		;;
	*) echo "$2" ;;
	esac
}

# os_landed DEV CUT SPEC: the run os_run cut at SPEC (os_aim of CUT)
# stopped where it was aimed: the last named point in DEV/cut.log, or the
# change in DEV/ops.log (sorted here). libostree writes objects from several
# threads, so which of two changes of one kind comes first varies; changes
# another thread had under way may complete after it (the shim lets no new
# one start): a few at most.
os_landed() {
	local d=$1 cut=$2 spec=$3 kind op rank got last n
	case $cut in
	fault:*) pc_cut_landed "${cut#fault:}" "$d/cut.log" >/dev/null || exit 1 ;;
	op:*)
		n=${cut#op:}
		IFS=: read -r _ kind op rank <<<"$spec"
		sort -n -k1,1 -o "$d/ops.log" "$d/ops.log"
		got=$(awk -v k="$kind" -v o="$op" '$2 == k && $3 == o { print $1 }' "$d/ops.log" | sed -n "${rank}p")
		last=$(tail -n 1 "$d/ops.log" | cut -d' ' -f1)
		[ -n "$got" ] && [ "$last" -le $((got + 4)) ] ||
			fail "aimed after $kind $op #$rank (change $n of the reference), that was change '${got:-none}' and the last one $last"
		[ "$got" = "$n" ] || echo "  $kind $op #$rank was change $got here, $n in the reference"
		[ "$last" = "$got" ] || echo "  $((last - got)) change(s) under way in another thread completed too"
		;;
	esac
}

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
	cp "$OSF/pristine/sysroot/boot/loader/uEnv.txt" "$OSF/uenv.old"
	PC_SLOTS="ostree $ID1" pc_env "$OSF/pristine" >"$OSF/env.old" || exit 1
	[ "$(cat "$OSF/env.old")" = "ostree 0 0 $OS_BOOTLIMIT 0" ] ||
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

# os_untouched DEV WHEN: the booted deployment (1.0) is what it was before
# the cut, entry for entry, and its commit is whole (os_check_commit).
os_untouched() {
	local dep=$1/$OS_DEPDIR/$C1.0
	[ -d "$dep" ] || fail "the booted deployment $C1.0 is gone: $2"
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
	"ostree 0 0 $OS_BOOTLIMIT 0:old" | "$id 1 0 $OS_BOOTLIMIT 0:old" | "$id 1 0 $OS_BOOTLIMIT 0:new") ;;
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
	ostree_nofreeze "$UPDATER" --config="$d/updater.conf" --progress=none boot >"$d/boot.out" 2>&1 ||
		fail "updater boot after the cut: $(tail -n1 "$d/boot.out")"
	env=$(PC_SLOTS="ostree $ID1 $id" pc_env "$d") || exit 1
	if [ "$OS_NEW" = yes ]; then
		[ "$env" = "$id 1 1 $OS_BOOTLIMIT 0" ] || fail "environment on the trial boot: $env"
	else
		case $env in
		"ostree 0 0 $OS_BOOTLIMIT 0" | "$ID1 0 0 $OS_BOOTLIMIT 0") ;;
		*) fail "environment after the boot of 1.0: $env" ;;
		esac
		[ "$(os_uenv "$d" "$name")" = old ] || fail "uEnv.txt is not the old one after the boot of 1.0"
	fi
	pc_status "$d" >"$d/status" || exit 1
	read -r st bslot bver pend lerr <"$d/status"
	[ "$bslot $bver" = "${booted:0:12}.${booted##*.} $ver" ] ||
		fail "status says booted $bslot $bver, the boot ran $booted ($ver)"
	[ "$pend" = - ] || fail "status shows a pending update to $pend after the boot"
	if [ "$OS_NEW" = yes ]; then
		[ "$st" = trial ] || fail "state on the trial boot of $v is $st"
		grep -qx "$id verified $v" "$d/status" || fail "$id not recorded verified $v: $(tr '\n' ' ' <"$d/status")"
	else
		case "$saved:$st" in
		no:idle | maybe:idle) ;;
		yes:failed | maybe:failed)
			case $lerr in *interrupted*) ;; *) fail "state failed, last_error is not 'interrupted': $lerr" ;; esac ;;
		*) fail "state after the boot of 1.0 is $st (a state save had completed: $saved)" ;;
		esac
		! grep -q " verified $v\$" "$d/status" ||
			fail "a deployment of $v recorded verified, 1.0 runs: $(tr '\n' ' ' <"$d/status")"
	fi
	os_untouched "$d" "after the boot"
	OS_OUTCOME=$ver/$st
}

# os_recover DEV NAME COMMIT VERSION SOURCE: a normal install of COMMIT
# from SOURCE (a checksum, on the fast server) completes; after the reboot
# and mark-good the device runs it, committed. With the new release already
# on trial (OS_NEW=yes), `install` must refuse with exit 7 first.
os_recover() {
	local d=$1 name=$2 c=$3 v=$4 rc st bslot bver pend lerr booted env
	ostree_nofreeze "$UPDATER" --config="$d/updater.conf" --progress=none install "$c" >"$d/recover.out" 2>&1
	rc=$?
	if [ "$OS_NEW" = yes ]; then
		[ "$rc" = 7 ] || fail "install while $v is on trial exited $rc, expected 7: $(tail -n1 "$d/recover.out")"
		grep -q 'on trial' "$d/recover.out" || fail "install refused without saying the trial is why"
	else
		[ "$rc" = 0 ] || fail "install of $v after the cut exited $rc: $(tail -n1 "$d/recover.out")"
		pc_status "$d" >"$d/status" || exit 1
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

# The single-copy backend's simulated device and boots (bash; after
# tests/lib/common.sh). A device is a dual-bank one made by make_device whose
# slot A file is the one root partition (slot B unused), its config switched
# to backend singlecopy, booted from the root, its boot state written by
# `updater init`.

# singlecopy_test_device [--fault] [FILE...]: the fixtures, D=$WORK/dev
# running 1.0 from its root, ROOT its root file, S its state_dir, W=$WORK/www
# holding the named fixture files; an HTTP server a test starts there goes at
# exit. --fault: the test cuts with ./updater-fault, which must be built.
singlecopy_test_device() {
	if [ "${1:-}" = --fault ]; then
		shift
		[ -x "$TOP/updater-fault" ] || fail "updater-fault is not built (make updater-fault)"
	fi
	dualbank_test_device "$@"
	ROOT=$D/slots/A.img
	S=$D/data/updater
	sed -i 's/^backend = "dualbank";/backend = "singlecopy";/' "$D/updater.conf"
	printf 'singlecopy = {\n  root = "slots/A.img";\n  public_key = "keys/release.pub.pem";\n};\n' \
		>>"$D/updater.conf"
	echo "updater.slot=root" >"$D/cmdline"
	rm -f "$D/data/updater/state" "$D/data/updater/policy"
	upd "$D" init --force >"$WORK/init.log" 2>&1 || { cat "$WORK/init.log" >&2; fail "init"; }
	assert_eq "$(envvar "$D" boot_slot)" root "boot_slot after init"
}

setenv_sc() { fw_setenv -c "$1/env/fw_env.config" "$2" "$3" || fail "fw_setenv $2"; }

# sc_boot DIR: a power-on as boot/boot.cmd does it on a single-copy disk:
# a trial boot is counted (saved before the kernel starts); past bootlimit,
# rollback=1 and the ramdisk's recovery mode; rollback=1 or
# boot_slot=recovery: recovery mode; else the root. Writes the kernel command
# line and prints the system booted (root or recovery).
sc_boot() {
	local d=$1 sys=root n
	[ "$(envvar "$d" boot_slot)" = recovery ] && sys=recovery
	if [ "$(envvar "$d" rollback)" = 1 ]; then
		sys=recovery
	elif [ "$(envvar "$d" upgrade_available)" = 1 ]; then
		n=$(($(envvar "$d" bootcount) + 1))
		setenv_sc "$d" bootcount "$n"
		if [ "$n" -gt "$(envvar "$d" bootlimit)" ]; then
			setenv_sc "$d" rollback 1
			setenv_sc "$d" upgrade_available 0
			sys=recovery
		fi
	fi
	if [ "$sys" = recovery ]; then
		echo "updater.slot=recovery" >"$d/cmdline"
	else
		echo "root=/dev/vda2 ro updater.slot=root" >"$d/cmdline"
	fi
	echo "$sys"
}

# root_holds DIR IMG: the root's first bytes are IMG's.
root_holds() { cmp -s <(head -c "$(stat -c %s "$2")" "$1/slots/A.img") "$2"; }

# ramdisk/updater.sh: the steps of a ramdisk with an updater inside
# (mkramdisk.sh RAMDISK_UPDATER=), sourced by /init. Single-copy
# (docs/singlecopy.md, "The ramdisk"): apply-staged, recovery mode, a medium;
# dual-bank: a medium only (docs/boot.md). Busybox sh; uses /init's log,
# fatal, medium_find, medium_mount, $slot, $apply, $media_arg and $wait.
#
# /etc/updater-ramdisk.conf (key=value, written at build time; never sourced):
#   boot=DEV    the boot partition, mounted read-only on /boot: it holds the
#               updater's config (/boot/updater/updater.conf) and keys, which
#               are never read from the root being rewritten
#   data=DEV    the data partition, mounted on /data: state_dir
#   media=cmdline|always|never  when a medium labelled UPDATER is looked at on
#               a normal boot: with updater.recovery=1 on the kernel command
#               line (cmdline), at every boot (always), never. Recovery mode
#               always looks.
#   args=...    global options for every updater run (e.g. -v --progress=json)
#
# The updater runs only when there is something to do: updater.apply_staged=1,
# recovery mode (updater.slot=recovery), or a medium asked for. A normal boot
# with nothing staged mounts nothing and runs nothing.

# shellcheck disable=SC2154 # slot, apply, media_arg and wait are /init's
rd_boot='' rd_data='' rd_media=cmdline rd_args=
while IFS='=' read -r k v; do
	case "$k" in
	boot) rd_boot=$v ;;
	data) rd_data=$v ;;
	media) rd_media=$v ;;
	args) rd_args=$v ;;
	'' | \#*) ;;
	*) log "updater-ramdisk.conf: unknown key '$k' ignored" ;;
	esac
done </etc/updater-ramdisk.conf

# shellcheck disable=SC2086 # rd_args is a word list on purpose
upd() { updater --config=/boot/updater/updater.conf $rd_args "$@"; }

rd_wait_dev() { # DEV WHAT
	n=0
	while [ ! -b "$1" ]; do
		if [ "$n" -ge $((wait * 100)) ]; then
			log "the $2 device $1 did not appear within ${wait}s"
			return 1
		fi
		usleep 10000
		n=$((n + 1))
	done
}

# Mounts what the updater needs; on failure says why and returns 1 (never
# fatal: a reboot would come back here, a loop U-Boot does not count).
rd_mounted=
rd_mount() {
	[ -n "$rd_mounted" ] && return 0
	if [ -z "$rd_boot" ] || [ -z "$rd_data" ]; then
		log "updater-ramdisk.conf names no boot= or data= device"
		return 1
	fi
	rd_wait_dev "$rd_boot" boot && rd_wait_dev "$rd_data" data || return 1
	mkdir -p /boot /data /tmp /media
	mount -t tmpfs -o mode=1777,nosuid,nodev tmp /tmp || { log "cannot mount /tmp"; return 1; }
	if ! mount -o ro,nodev,nosuid "$rd_boot" /boot; then
		log "cannot mount the boot partition $rd_boot"
		umount /tmp
		return 1
	fi
	if ! mount -o rw,nodev,nosuid "$rd_data" /data; then
		log "cannot mount the data partition $rd_data"
		umount /boot /tmp
		return 1
	fi
	rd_mounted=1
	[ -f /boot/updater/updater.conf ] && return 0
	log "$rd_boot has no /updater/updater.conf"
	rd_umount
	return 1
}

rd_umount() {
	[ -n "$rd_mounted" ] || return 0
	sync
	umount /data || log "cannot unmount /data"
	umount /boot /tmp
	rd_mounted=
}

# The boot state from `updater status --json`: "boot_slot=S upgrade_available=N
# bootcount=N" (empty values when it cannot be read).
rd_env() {
	json=$(upd --progress=none status --json 2>/dev/null)
	[ -n "$json" ] || return 0
	echo "boot_slot=$(rd_key boot_slot) upgrade_available=$(rd_key upgrade_available) bootcount=$(rd_key bootcount)"
}

# rd_key KEY: the value of KEY (a string or a number) in $json, each key on
# its own: the order of status --json's keys is not part of its contract.
rd_key() {
	printf '%s\n' "$json" | sed -n "s/.*\"$1\":\"\{0,1\}\([^\",}]*\).*/\1/p"
}

rd_reboot() {
	log "$1: rebooting"
	umount /media 2>/dev/null
	rd_umount
	reboot -f
	sleep 5
	echo b >/proc/sysrq-trigger
}

# A trial U-Boot has not counted yet (upgrade_available=1, bootcount=0) is an
# activation: reboot, so the new system boots only through U-Boot's count.
# Else says what the boot state is.
rd_activated() {
	env=$(rd_env)
	case "$env" in
	*' upgrade_available=1 bootcount=0') rd_reboot "the new system is on trial ($env)" ;;
	esac
	log "no update activated ($env)"
}

rd_apply() {
	log "apply_staged=1: running updater apply-staged"
	upd apply-staged
	log "updater apply-staged: exit $?"
}

# A bundle from a medium: dual-bank installs it into the other slot,
# single-copy stages and applies it; an activation reboots. Returns the
# updater's exit code.
rd_install() {
	case "$slot" in
	A | B)
		log "UPDATER medium: installing $1"
		upd install "$1" || return
		;;
	*)
		log "UPDATER medium: staging $1"
		upd stage "$1" || return
		rd_apply
		;;
	esac
	rd_activated
}

# rd_newest FILE...: the bundles, newest version first (versions compared
# field by field, numbers as numbers; the updater's policy decides in the end).
rd_newest() {
	for f in "$@"; do
		v=$(upd --progress=none bundle info "$f" 2>/dev/null | sed -n 's/^version: *//p' | head -n 1)
		[ -n "$v" ] && echo "$v $f"
	done | awk '
	function cmp(a, b,   x, y, n, m, i) {
		n = split(a, x, "."); m = split(b, y, ".")
		for (i = 1; i <= n || i <= m; i++) {
			if (x[i] + 0 != y[i] + 0) return x[i] + 0 < y[i] + 0 ? -1 : 1
			if (x[i] != y[i]) return x[i] < y[i] ? -1 : 1
		}
		return 0
	}
	{ v[NR] = $1; f[NR] = $2 }
	END {
		for (i = 1; i <= NR; i++) for (j = i + 1; j <= NR; j++)
			if (cmp(v[i], v[j]) < 0) { t = v[i]; v[i] = v[j]; v[j] = t; t = f[i]; f[i] = f[j]; f[j] = t }
		for (i = 1; i <= NR; i++) print f[i]
	}'
}

# Recovery from a medium labelled UPDATER: stage its newest bundle that the
# updater accepts (`check`, then stage's checks: signature, board, floor, no
# downgrade, not a failed release), apply it, reboot into it. Nothing
# accepted: boot on.
rd_media() {
	medium_find && medium_mount /media || return 0
	set -- /media/*.upd
	if [ ! -f "$1" ]; then
		log "the UPDATER medium $dev holds no *.upd bundle"
		umount /media
		return 0
	fi
	list=$(rd_newest "$@")
	old_ifs=$IFS
	IFS='
'
	for b in $list; do
		IFS=$old_ifs
		# check: the signed manifest only, and no state change for a bundle
		# that is not newer (a medium left in must not fail every boot)
		upd check "$b"
		rc=$?
		if [ "$rc" -eq 10 ]; then
			log "UPDATER medium: $b is not newer than this device's release: skipped"
			continue
		fi
		if [ "$rc" -eq 0 ]; then
			rd_install "$b"
			rc=$?
		fi
		if [ "$rc" -eq 0 ]; then
			umount /media
			return 0
		fi
		log "UPDATER medium: $b refused (exit $rc): the device keeps what it has"
	done
	IFS=$old_ifs
	umount /media
}

rd_recovery_mode() {
	log "recovery mode: the root is not a system to boot (docs/singlecopy.md)"
	upd boot
	st=$(upd --progress=none status --json 2>/dev/null | tr -d '\n')
	log "status $st"
	rd_media
	upd --progress=none status
	rd_recovery_shell
}

rd_recovery_shell() {
	log "recovery mode: waiting: install a release with 'updater --config=/boot/updater/updater.conf install URL|FILE' or from a medium labelled UPDATER, then reboot"
	export PS1='recovery# '
	while :; do
		setsid cttyhack sh
		sleep 1
	done
}

rd_want_media() {
	case "$rd_media" in
	always) return 0 ;;
	cmdline) [ -n "$media_arg" ] ;;
	*) return 1 ;;
	esac
}

# Dual-bank, called by /init with the booted slot mounted read-only on
# /newroot (the ramdisk's config takes the version from there): a medium, when
# asked for, installs into the other slot, then a reboot.
updater_slot_media() {
	rd_want_media || return 0
	rd_mount || { log "the updater cannot run: booting slot $slot"; return 0; }
	rd_media
	rd_umount
}

# Single-copy, called by /init with the modules loaded, before it looks at root=.
updater_steps() {
	case "$slot" in
	root | recovery) ;;
	*) return 0 ;;
	esac
	want_media=
	rd_want_media && want_media=1
	[ -n "$apply" ] || [ "$slot" = recovery ] || [ -n "$want_media" ] || return 0
	if ! rd_mount; then
		# The root is whole whenever the boot state names it (docs/singlecopy.md):
		# boot it; recovery mode without its partitions can only offer a shell.
		[ "$slot" = recovery ] || { log "the updater cannot run: booting the root"; return 0; }
		rd_recovery_shell
	fi
	[ -n "$apply" ] && rd_apply && rd_activated
	[ "$slot" = recovery ] && rd_recovery_mode
	[ -n "$want_media" ] && rd_media
	# A failed apply may have left the root partial: then the boot state names
	# recovery mode, and U-Boot must boot that rather than this root.
	# (An unreadable boot state: U-Boot booted the factory root; boot it.)
	case "$(rd_env)" in
	boot_slot=recovery*) rd_reboot "the boot state names recovery mode, not the root" ;;
	esac
	rd_umount
}

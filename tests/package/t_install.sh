# make install / uninstall: exactly the documented files (docs/packaging.md),
# with their modes, the units and scripts pointing at installed paths, and
# uninstall leaving nothing of ours behind (hooks the device added are kept).
. "$TOP/tests/package/lib.sh"

unitdir=$(pkg-config --variable=systemdsystemunitdir systemd 2>/dev/null)
[ -n "$unitdir" ] || unitdir=/lib/systemd/system
unitdir=${unitdir#/}
S=$WORK/stage
stage "$S"

expect=$WORK/expect
{
	echo usr/bin/updater
	echo usr/bin/updater-sim
	echo usr/share/man/man1/updater-sim.1
	echo etc/updater.conf.example
	echo usr/libexec/updater/health
	echo usr/libexec/updater/check-install
	for u in updater-boot.service updater-health.service updater-check.service updater-check.timer; do
		echo "$unitdir/$u"
	done
	echo usr/share/man/man1/updater.1
	echo usr/share/man/man5/updater.conf.5
	# boot/ and ramdisk/ come from other work: installed when present.
	for f in boot/boot.cmd ramdisk/mkramdisk.sh ramdisk/init ramdisk/updater.sh; do
		[ ! -f "$TOP/$f" ] || echo "usr/share/updater/$f"
	done
	(cd "$TOP/hooks/examples" && find . -type f | sed 's|^\./|usr/share/doc/updater/examples/hooks/|')
} | LC_ALL=C sort >"$expect"
files "$S" | diff -u "$expect" - || fail "installed files differ from the expected list"

assert_eq "$(mode_of "$S/usr/bin/updater")" 755 "updater mode"
assert_eq "$(mode_of "$S/etc/updater.conf.example")" 644 "config example mode"
for d in pre-install.d post-install.d health.d; do
	[ -d "$S/etc/updater/hooks/$d" ] || fail "hooks directory $d not installed"
	assert_eq "$(mode_of "$S/etc/updater/hooks/$d")" 755 "hooks/$d mode"
done
for f in health check-install; do
	assert_eq "$(mode_of "$S/usr/libexec/updater/$f")" 755 "libexec/$f mode"
	sh -n "$S/usr/libexec/updater/$f" || fail "libexec/$f: syntax"
done
for u in "$S/$unitdir"/updater-*; do
	assert_eq "$(mode_of "$u")" 644 "$(basename "$u") mode"
done
cmp -s "$TOP/config/updater.conf" "$S/etc/updater.conf.example" || fail "config example differs"
"$S/usr/bin/updater" --version | grep -q '^updater ' || fail "installed updater does not run"
assert_eq "$(mode_of "$S/usr/bin/updater-sim")" 755 "updater-sim mode"
cmp -s "$TOP/tools/updater-sim" "$S/usr/bin/updater-sim" || fail "updater-sim differs from tools/updater-sim"
"$S/usr/bin/updater-sim" --help | grep -q '^usage: updater-sim ' || fail "installed updater-sim does not run"

# No placeholder left; every absolute path a unit or script runs is installed.
grep -rIn '@[A-Z_]*@' "$S" && fail "unsubstituted @VAR@ in the staged install"
for p in $(grep -ho '^ExecStart=[^ ]*' "$S/$unitdir"/updater-* | cut -d= -f2) \
	$(grep -ho '^UPDATER=${UPDATER:-[^}]*}' "$S/usr/libexec/updater/"* | sed 's/.*:-//; s/}$//'); do
	[ -x "$S$p" ] || fail "$p (run by a unit or script) is not installed"
done
grep -q '^ConditionPathExists=/etc/updater.conf$' "$S/$unitdir/updater-boot.service" ||
	fail "units: ConditionPathExists should name /etc/updater.conf"
grep -q '/etc/updater/auto-install' "$S/usr/libexec/updater/check-install" ||
	fail "check-install: flag file path"

# Other directories: every path follows PREFIX, SYSCONFDIR, LIBEXECDIR, SYSTEMDUNITDIR.
L=$WORK/local
stage "$L" PREFIX=/opt/upd SYSCONFDIR=/opt/upd/etc SYSTEMDUNITDIR=/opt/upd/units
for f in opt/upd/bin/updater opt/upd/bin/updater-sim opt/upd/etc/updater.conf.example opt/upd/libexec/updater/health \
	opt/upd/units/updater-health.service opt/upd/share/man/man1/updater.1; do
	[ -f "$L/$f" ] || fail "PREFIX=/opt/upd: $f missing"
done
grep -q '^ExecStart=/opt/upd/libexec/updater/health$' "$L/opt/upd/units/updater-health.service" ||
	fail "PREFIX=/opt/upd: health unit"
grep -q '^ExecStart=/opt/upd/bin/updater boot$' "$L/opt/upd/units/updater-boot.service" ||
	fail "PREFIX=/opt/upd: boot unit"
grep -q '^ConditionPathExists=/opt/upd/etc/updater.conf$' "$L/opt/upd/units/updater-check.service" ||
	fail "SYSCONFDIR: check unit"
grep -q 'UPDATER:-/opt/upd/bin/updater' "$L/opt/upd/libexec/updater/health" || fail "PREFIX: health script"
[ ! -e "$L/$unitdir" ] || fail "SYSTEMDUNITDIR ignored"

# Without pkg-config's systemd the units go to /lib/systemd/system; INSTALL_SYSTEMD=0: none.
# (A pkg-config that knows every module but systemd: without the libraries'
# modules the Makefile stops before anything, as it must.)
printf '#!/bin/sh\ncase " $* " in *" systemd "*) exit 1 ;; esac\nexec pkg-config "$@"\n' >"$WORK/pc-nosystemd"
chmod +x "$WORK/pc-nosystemd"
N=$WORK/nopc
stage "$N" PKG_CONFIG="$WORK/pc-nosystemd"
[ -f "$N/lib/systemd/system/updater-boot.service" ] || fail "fallback unit directory"
Z=$WORK/nosd
stage "$Z" INSTALL_SYSTEMD=0
files "$Z" | grep -q 'systemd' && fail "INSTALL_SYSTEMD=0 installed units"
# INSTALL_SIM=0 (device images: the simulator is a build-host tool): no updater-sim.
Y=$WORK/nosim
stage "$Y" INSTALL_SIM=0
files "$Y" | grep -q 'updater-sim' && fail "INSTALL_SIM=0 installed updater-sim"

# uninstall removes everything install put there, and only that.
pmake uninstall DESTDIR="$S" >/dev/null || fail "make uninstall"
left=$(files "$S")
[ -z "$left" ] || fail "uninstall left: $left"
[ ! -e "$S/usr/libexec/updater" ] && [ ! -e "$S/etc/updater" ] && [ ! -e "$S/usr/share/updater" ] ||
	fail "uninstall left our directories"
# A hook the device added stays, with its directory.
stage "$S"
printf '#!/bin/sh\nexit 0\n' >"$S/etc/updater/hooks/health.d/50-app"
pmake uninstall DESTDIR="$S" >"$WORK/un.log" 2>&1 || fail "make uninstall (with a hook)"
[ -f "$S/etc/updater/hooks/health.d/50-app" ] || fail "uninstall removed a device hook"
[ "$(files "$S")" = etc/updater/hooks/health.d/50-app ] || fail "uninstall left: $(files "$S")"
pmake uninstall DESTDIR="$L" PREFIX=/opt/upd SYSCONFDIR=/opt/upd/etc SYSTEMDUNITDIR=/opt/upd/units >/dev/null
[ -z "$(files "$L")" ] || fail "uninstall PREFIX=/opt/upd left: $(files "$L")"
exit 0

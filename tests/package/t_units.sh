# The systemd units of a staged install pass `systemd-analyze verify --root`:
# syntax, dependencies (against this machine's own systemd units, copied
# into the root), the commands they run and their man: documentation.
. "$TOP/tests/package/lib.sh"

command -v systemd-analyze >/dev/null || fail "systemd-analyze not found (scripts/deps.sh installs systemd)"
S=$WORK/stage
stage "$S" SYSTEMDUNITDIR=/lib/systemd/system
units=$(cd "$S/lib/systemd/system" && ls updater-*)
[ "$(echo "$units" | wc -w)" = 4 ] || fail "expected 4 units, got: $units"

# The root: the staged install plus the stock units (sysinit.target,
# multi-user.target, boot-complete.target...) the updater's units refer to.
R=$WORK/root
cp -a "$S" "$R"
cp -an /lib/systemd/system/. "$R/lib/systemd/system/"
# shellcheck disable=SC2086
(cd "$R" && MANPATH=$S/usr/share/man SYSTEMD_LOG_LEVEL=notice \
	systemd-analyze verify --root="$R" $units) >"$WORK/verify" 2>&1
rc=$?
cat "$WORK/verify"
[ "$rc" = 0 ] || fail "systemd-analyze verify exited $rc"
[ ! -s "$WORK/verify" ] || fail "systemd-analyze verify printed warnings"

# It does catch mistakes: an unknown key, a command that is not installed.
sed -i 's/^Type=oneshot/Type=oneshot\nExecStartTypo=1/' "$R/lib/systemd/system/updater-boot.service"
rm "$R/usr/libexec/updater/health"
(cd "$R" && MANPATH=$S/usr/share/man systemd-analyze verify --root="$R" updater-boot.service \
	updater-health.service) >"$WORK/verify2" 2>&1 && fail "verify accepted broken units"
assert_grep "Unknown key 'ExecStartTypo'" "$WORK/verify2"
assert_grep "health is not executable" "$WORK/verify2"

# What the units promise (docs/packaging.md).
U=$S/lib/systemd/system
assert_grep '^ExecStart=/usr/bin/updater boot$' "$U/updater-boot.service"
assert_grep '^ExecStart=/usr/libexec/updater/health$' "$U/updater-health.service"
assert_grep '^ExecStart=/usr/libexec/updater/check-install$' "$U/updater-check.service"
assert_grep '^RandomizedDelaySec=' "$U/updater-check.timer"
assert_grep '^After=.*multi-user.target' "$U/updater-health.service"
assert_grep '^WantedBy=timers.target' "$U/updater-check.timer"
exit 0

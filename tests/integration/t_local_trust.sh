# Local users and mistakes get no way in (docs/hooks.md, docs/config.md):
# hooks, keys and the config must be owned by root (or the updater's uid) and
# not writable by group/others, judged through symlinks; files in state_dir
# are not followed through symlinks; state_dir and hooks.dir are never
# created or skipped when missing; read-only commands change nothing.
. "$TOP/tests/lib/common.sh"
set -u
dualbank_test_device
B2="$FIX/v2.0.upd"
cp "$D/updater.conf" "$WORK/good.conf"
ROOT=0
[ "$(id -u)" = 0 ] && ROOT=1 || echo "SKIP: not root: the tests that chown to another uid are skipped" >&2
mkdir -p "$D/hooks/pre-install.d" "$D/hooks/health.d"
chmod 0755 "$D/hooks/pre-install.d" "$D/hooks/health.d"

# hook NAME BODY: a pre-install hook, root's (ours), mode 0755
hook() {
	printf '#!/bin/sh\n%s\n' "$2" >"$D/hooks/pre-install.d/$1"
	chmod 0755 "$D/hooks/pre-install.d/$1"
}

snapshot "$D"
# A hook owned by an unprivileged user, mode 0755: refused (exit 6, one line
# naming it), and no hook of the phase runs.
hook 10-ours "touch '$WORK/ours-ran'"
hook 20-theirs "touch '$WORK/theirs-ran'"
if [ $ROOT = 1 ]; then
	chown 65534:65534 "$D/hooks/pre-install.d/20-theirs"
	expect_exit 6 "$WORK/owner" upd "$D" install "$B2"
	assert_one_error "$WORK/owner" "$D/hooks/pre-install.d/20-theirs: refusing hooks: owned by uid 65534"
	[ ! -e "$WORK/ours-ran" ] && [ ! -e "$WORK/theirs-ran" ] || fail "a hook ran although the phase was refused"
	chown 0:0 "$D/hooks/pre-install.d/20-theirs"
	# ... or its phase directory
	chown 65534:65534 "$D/hooks/pre-install.d"
	expect_exit 6 "$WORK/owner2" upd "$D" install "$B2"
	assert_one_error "$WORK/owner2" "$D/hooks/pre-install.d: refusing hooks: owned by uid 65534"
	chown 0:0 "$D/hooks/pre-install.d"
fi
rm "$D/hooks/pre-install.d/20-theirs"

# A symlinked hook is judged by its target and the directories leading there:
# a fine file in a directory anyone may write is refused.
mkdir -p "$WORK/open"
chmod 0777 "$WORK/open"
printf '#!/bin/sh\ntouch "%s/linked-ran"\n' "$WORK" >"$WORK/open/hook"
chmod 0755 "$WORK/open/hook"
ln -s "$WORK/open/hook" "$D/hooks/pre-install.d/30-link"
expect_exit 6 "$WORK/link" upd "$D" install "$B2"
assert_one_error "$WORK/link" "30-link: refusing hooks: $WORK/open is writable by group or others (mode 0777)"
[ ! -e "$WORK/linked-ran" ] || fail "the symlinked hook ran"
rm "$D/hooks/pre-install.d/30-link" "$D/hooks/pre-install.d/10-ours"
assert_untouched "$D"

# A health check that is a shell script and one that is a symlink to a
# binary: both run (what runs is the descriptor that was checked).
printf '#!/bin/sh\necho "health $UPDATER_SLOT" >"%s/health-ran"\n' "$WORK" >"$D/hooks/health.d/10-script"
chmod 0755 "$D/hooks/health.d/10-script"
ln -s /bin/true "$D/hooks/health.d/20-binary"
expect_exit 0 "$WORK/health" upd "$D" health-check
assert_eq "$(cat "$WORK/health-ran")" "health A" "the health check script did not run"
chmod 0775 "$D/hooks/health.d/10-script"
expect_exit 6 "$WORK/health2" upd "$D" health-check
assert_one_error "$WORK/health2" "10-script: refusing hooks: writable by group or others (mode 0775)"
chmod 0755 "$D/hooks/health.d/10-script"

# hooks.dir that does not exist: a config error for every command, not a
# health check that passes with every hook silently disabled.
sed 's|dir = "hooks"|dir = "/nonexistent"|' "$WORK/good.conf" >"$D/updater.conf"
for cmd in status health-check "install $B2" mark-good; do
	# shellcheck disable=SC2086
	expect_exit 2 "$WORK/nohooks" upd "$D" $cmd
	assert_one_error "$WORK/nohooks" "hooks.dir /nonexistent: does not exist"
done
cp "$WORK/good.conf" "$D/updater.conf"

# The config file and the key files: exit 2, naming the file.
chmod 0666 "$D/updater.conf"
expect_exit 2 "$WORK/conf" upd "$D" status
assert_one_error "$WORK/conf" "$D/updater.conf: refusing the config file: writable by group or others (mode 0666)"
chmod 0644 "$D/updater.conf"
chmod 0664 "$D/keys/release.pub.pem"
expect_exit 2 "$WORK/key" upd "$D" install "$B2"
assert_one_error "$WORK/key" "$D/keys/release.pub.pem: refusing dualbank.public_key: writable by group or others"
expect_exit 2 "$WORK/key2" upd "$D" bundle info "$B2"
grep -q "signature: *not checked" "$WORK/key2" || { cat "$WORK/key2"; fail "bundle info with a writable key"; }
chmod 0644 "$D/keys/release.pub.pem"
if [ $ROOT = 1 ]; then
	chown 65534:65534 "$D/keys/release.pub.pem"
	expect_exit 2 "$WORK/key3" upd "$D" status
	assert_one_error "$WORK/key3" "refusing dualbank.public_key: owned by uid 65534"
	chown 0:0 "$D/keys/release.pub.pem"
fi
assert_untouched "$D"

# A mistyped (or unmounted) state_dir: exit 2 naming it, for every command,
# and nothing created; status does not report "idle".
sed 's|state_dir = "data/updater"|state_dir = "data/mistyped/updater"|' "$WORK/good.conf" >"$D/updater.conf"
for cmd in status "check $B2" "install $B2" mark-good rollback boot init health-check; do
	# shellcheck disable=SC2086
	expect_exit 2 "$WORK/nostate" upd "$D" $cmd
	assert_one_error "$WORK/nostate" "state_dir $D/data/mistyped/updater does not exist"
	[ ! -e "$D/data/mistyped" ] || fail "'$cmd' created the missing state_dir"
done
cp "$WORK/good.conf" "$D/updater.conf"
# state_dir writable by others, or owned by another user: exit 2.
chmod 0777 "$D/data/updater"
expect_exit 2 "$WORK/openstate" upd "$D" status
assert_one_error "$WORK/openstate" "$D/data/updater: refusing state_dir: writable by group or others"
chmod 0755 "$D/data/updater"
if [ $ROOT = 1 ]; then
	chown 65534:65534 "$D/data/updater"
	expect_exit 2 "$WORK/theirstate" upd "$D" status
	assert_one_error "$WORK/theirstate" "state_dir $D/data/updater: owned by uid 65534"
	chown 0:0 "$D/data/updater"
fi
assert_untouched "$D"

# status, check and bundle info in an existing state_dir change nothing
# (no reconciliation is due here); only the lock file is theirs to take.
upd "$D" status >/dev/null 2>&1 || fail "status"
listing() { find "$D/data/updater" -printf '%P %s %T@ %m\n' | grep -v '^lock ' | sort; }
listing >"$WORK/before"
file_sha "$D/data/updater/state" >"$WORK/before.sha"
upd "$D" status --json >/dev/null 2>&1 || fail "status --json"
upd "$D" check "$B2" >/dev/null 2>&1
upd "$D" bundle info "$B2" >/dev/null 2>&1 || fail "bundle info"
listing | diff -u "$WORK/before" - >&2 || fail "a read-only command changed state_dir"
assert_eq "$(file_sha "$D/data/updater/state")" "$(cat "$WORK/before.sha")" "state changed"

# Files in state_dir are not followed through symlinks: a state.tmp planted
# as a link to a victim is replaced, never written through; a lock planted
# so is refused.
printf 'precious\n' >"$WORK/victim"
ln -s "$WORK/victim" "$D/data/updater/state.tmp"
expect_exit 0 "$WORK/tmp" upd "$D" init --force
assert_eq "$(cat "$WORK/victim")" "precious" "state.tmp was followed: the victim was overwritten"
[ ! -e "$D/data/updater/state.tmp" ] && [ ! -L "$D/data/updater/state.tmp" ] || fail "state.tmp left behind"
grep -q '^state=idle$' "$D/data/updater/state" || fail "init did not save its state"
rm -f "$D/data/updater/lock"
ln -s "$WORK/victim" "$D/data/updater/lock"
expect_exit 1 "$WORK/lock" upd "$D" install "$B2"
assert_one_error "$WORK/lock" "$D/data/updater/lock"
expect_exit 1 "$WORK/lock2" upd "$D" status
assert_eq "$(cat "$WORK/victim")" "precious" "lock was followed: the victim was overwritten"
rm "$D/data/updater/lock"
mv "$D/data/updater/state" "$WORK/state.away"
ln -s "$WORK/state.away" "$D/data/updater/state"
expect_exit 1 "$WORK/statelink" upd "$D" status
assert_one_error "$WORK/statelink" "$D/data/updater/state"
rm "$D/data/updater/state"
mv "$WORK/state.away" "$D/data/updater/state"

# After all that, a good install still works.
expect_exit 0 "$WORK/ok" upd "$D" install "$B2"
exit 0

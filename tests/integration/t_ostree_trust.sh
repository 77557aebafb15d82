# What the ostree backend trusts (issue 11, docs/ostree.md "Trust"): the
# target commit and its signatures are verified against ostree.gpg_keyring
# alone before any content is asked for, and nothing from the server is kept
# before that. A server without the key that serves a delta to an unsigned
# commit carrying a setuid file gets nothing stored; a delta whose superblock
# names other commits is ignored; a superblock over 16 MiB is not
# downloaded; keys in /usr/share/ostree/trusted.gpg.d, in OSTREE_GPG_HOME or
# in the repository's config are not trusted; a commit must name the
# device's board (updater.compatible) unless ostree.require_compatible is
# off, carry a clean version, match its ref binding; its
# updater.security-version is read (a malformed one refused).
. "$TOP/tests/lib/common.sh"
. "$TOP/tests/lib/ostree.sh"
set -u
ostree_fixtures
ostree_gpg_load "$OFIX/gpg" || fail "load the fixture's keys"
R=$WORK/srv/repo
# A copy of the server to add commits to (hard links: ostree writes new
# files and replaces refs, it never rewrites an object in place).
cp -al "$OFIX/srv" "$WORK/srv" 2>/dev/null || { rm -rf "$WORK/srv"; cp -a "$OFIX/srv" "$WORK/srv"; } || fail "copy the server"
LOG=$WORK/httpd.log
ostree_test_device --srv "$WORK/srv" --log "$LOG"
trap 'stop_httpd; for d in "$D" "$WORK"/d[2-6]; do ostree_rm_device "$d"; done' EXIT
DREPO=$D/sysroot/ostree/repo
ostree_snapshot "$D"
ls -A "$DREPO/tmp" >"$WORK/tmp-before"

# mkcommit BRANCH VERSION COMPAT|none [ARGS...]: a commit of v4's tree on
# BRANCH, signed with the release key, with updater.compatible=COMPAT.
mkcommit() {
	local branch=$1 version=$2 compat=$3 c
	local -a meta=(--add-metadata-string=version="$version")
	shift 3
	[ "$compat" = none ] || meta+=(--add-metadata-string=updater.compatible="$compat")
	_ostree_sign_args "$OSTREE_GPG_KEYID"
	c=$(ostree --repo="$R" commit --branch="$branch" --tree=ref="$C4" --subject="test $version" \
		"${meta[@]}" "${_OSTREE_SIGN[@]}" "$@") || { ostree_gpg_stop; fail "commit $branch"; }
	ostree_gpg_stop
	echo "$c"
}
# no_content N0: no request for content (objects other than the commit and
# its signatures, static deltas) after log line N0
no_content() {
	! tail -n +"$(($1 + 1))" "$LOG" | grep -E '\.(dirtree|dirmeta|filez) |/deltas/' >&2 ||
		fail "content was requested: ${2:-}"
}
# refused OUT PATTERN ARGS...: exit 3 with PATTERN, no content asked for,
# the device untouched
refused() {
	local out=$1 pat=$2 n0
	shift 2
	n0=$(ostree_log_lines "$LOG")
	expect_exit 3 "$WORK/$out" ostree_upd "$D" "$@"
	ostree_assert_error "$WORK/$out" "$pat"
	no_content "$n0" "$out"
	ostree_assert_untouched "$D" "$out"
}
has_object() { [ -e "$DREPO/objects/${1:0:2}/${1:2}.$2" ]; }

# --- keys outside ostree.gpg_keyring ---------------------------------------
# sim/badsig (CB) is signed with the other key; each place libostree would
# look for keys gets it, and the commit stays refused, `check` included.
mkdir -p "$WORK/globalkeys" && cp "$OSTREE_GPG_OTHER_KEYRING" "$WORK/globalkeys/other.gpg" || fail "global keys"
export OSTREE_GPG_HOME=$WORK/globalkeys
refused env-check "public key not found" check sim/badsig
refused env-install "public key not found" install sim/badsig
unset OSTREE_GPG_HOME
ostree --repo="$DREPO" remote gpg-import origin -k "$OSTREE_GPG_OTHER_KEYRING" >/dev/null 2>&1 ||
	fail "import the other key into the device repository's remote"
[ -s "$DREPO/origin.trustedkeys.gpg" ] || fail "no origin.trustedkeys.gpg"
refused remote-check "public key not found" check sim/badsig
rm -f "$DREPO/origin.trustedkeys.gpg"
if [ "$(id -u)" = 0 ] && [ -d /usr/share/ostree/trusted.gpg.d ]; then
	# In a mount namespace of its own: nothing else on the machine sees it.
	export -f ostree_upd ostree_nofreeze
	export UPDATER
	expect_exit 3 "$WORK/global-check" unshare -m -- bash -c \
		'mount --bind "$1" /usr/share/ostree/trusted.gpg.d && ostree_upd "$2" check sim/badsig' _ \
		"$WORK/globalkeys" "$D"
	ostree_assert_error "$WORK/global-check" "public key not found"
	ostree_assert_untouched "$D" "key in trusted.gpg.d"
else
	echo "SKIP: not root: the /usr/share/ostree/trusted.gpg.d case needs a mount namespace" >&2
fi
# The unsigned commit: `check` refuses it too.
refused unsigned-check "no signatures found" check sim/unsigned

# --- the attack: an unsigned commit with a setuid file, through a delta -----
mkdir -p "$WORK/evil/usr/bin" && printf '#!/bin/sh\nid\n' >"$WORK/evil/usr/bin/evil" &&
	chmod 4755 "$WORK/evil/usr/bin/evil" || fail "evil tree"
X=$(ostree --repo="$R" commit --branch=sim/evil --tree=ref="$C1" --tree=dir="$WORK/evil" \
	--owner-uid=0 --owner-gid=0 --add-metadata-string=version=6.0 \
	--add-metadata-string=updater.compatible=sim-board) || fail "commit the unsigned release"
SUID=$(ostree --repo="$R" ls -C "$X" /usr/bin/evil | awk '{ print $5 }')
ostree --repo="$R" ls "$X" /usr/bin/evil | grep -q '^-04755 0 0 ' || fail "the file is not setuid root"
XDELTA=$(ostree_server_delta "$R" "$C1" "$X")
refused evil-install "no signatures found" install sim/evil
! has_object "$X" commit || fail "the unsigned commit was stored"
! has_object "$SUID" file || fail "the setuid object was stored"
ls -A "$DREPO/tmp" | diff -u "$WORK/tmp-before" - >&2 || fail "files left in the repository's tmp"

# --- the staging area: kept only to resume the same target -------------------
ostree_clone_device "$OFIX/device" "$WORK/d4" "$URL/repo"
S4=$WORK/d4/sysroot/ostree/repo/tmp/updater-staging
DL=$(ostree_server_delta "$R" "$C1" "$C4")
mv "$DL/0" "$DL/0.away" || fail "hide the part"
expect_exit 4 "$WORK/part-missing" ostree_upd "$WORK/d4" install "$C4"
assert_grep "HTTP 404" "$WORK/part-missing"
[ "$(stat -c "%a %u" "$S4")" = "700 0" ] || fail "the staging area is not root's, 0700"
assert_eq "$(cat "$S4/target")" "$C1 $C4" "the staging area's target"
[ -s "$S4/delta/superblock" ] || fail "the superblock was not kept for a resume"
mv "$DL/0.away" "$DL/0" || fail "restore the part"
n0=$(ostree_log_lines "$LOG")
expect_exit 0 "$WORK/resumed" ostree_upd "$WORK/d4" install "$C4"
assert_grep "applied static delta" "$WORK/resumed"
! tail -n +"$((n0 + 1))" "$LOG" | grep -q "^GET .*/$(ostree_delta_path "$C1" "$C4")/superblock" ||
	fail "the kept superblock was downloaded again"
[ ! -e "$S4" ] || fail "the staging area was left after the install"
# One for another target is removed (here: the install has no delta).
ostree_clone_device "$OFIX/device" "$WORK/d5" "$URL/repo"
S5=$WORK/d5/sysroot/ostree/repo/tmp/updater-staging
mkdir -p "$S5/delta" && chmod 700 "$S5" && echo "$C1 $C2" >"$S5/target" && echo junk >"$S5/delta/superblock" ||
	fail "plant a staging area"
expect_exit 0 "$WORK/other-target" ostree_upd "$WORK/d5" install "$C3"
assert_grep "removing the staging area of another target" "$WORK/other-target"
[ ! -e "$S5" ] || fail "another target's staging area was left"
# One for this target but not 0700 is not trusted: its (damaged) part is not used.
ostree_clone_device "$OFIX/device" "$WORK/d6" "$URL/repo"
S6=$WORK/d6/sysroot/ostree/repo/tmp/updater-staging
mkdir -p "$S6/delta" && chmod 755 "$S6" && echo "$C1 $C4" >"$S6/target" &&
	cp "$DL/superblock" "$S6/delta/" && head -c "$(stat -c %s "$DL/0")" /dev/zero >"$S6/delta/0" ||
	fail "plant a staging area"
expect_exit 0 "$WORK/not-ours" ostree_upd "$WORK/d6" install "$C4"
assert_grep "applied static delta" "$WORK/not-ours"
[ ! -e "$S6" ] || fail "the staging area was left after the install"

# --- the commit's metadata ---------------------------------------------------
NC=$(mkcommit sim/nocompat 5.0 none)
refused nocompat "names no compatible board" install sim/nocompat
OB=$(mkcommit sim/otherboard 5.1 other-board)
refused otherboard "other-board" install sim/otherboard
VC=$(mkcommit sim/ctl $'5.2\tbeta' sim-board)
refused ctl "control character" check sim/ctl
# A commit bound to sim/elsewhere (and sim/other), served as sim/bound.
BR=$(mkcommit sim/elsewhere 5.3 sim-board --bind-ref=sim/other)
mkdir -p "$R/refs/heads/sim" && echo "$BR" >"$R/refs/heads/sim/bound" || fail "ref sim/bound"
refused bound-check "bound to other refs" check sim/bound
refused bound "bound to other refs" install sim/bound
SV=$(mkcommit sim/secver 5.4 sim-board --add-metadata-string=updater.security-version=7)
expect_exit 0 "$WORK/secver" ostree_upd "$D" -v check sim/secver
assert_grep "security version 7" "$WORK/secver"
for bad in 7x -1 "" 18446744073709551616; do
	mkcommit sim/badsecver "5.5$bad" sim-board --add-metadata-string=updater.security-version="$bad" >/dev/null
	refused badsecver "security-version" check sim/badsecver
done
# ostree.require_compatible = false: a commit without the key is accepted,
# one for another board still is not.
sed -i 's/^  gpg_verify = true;/  require_compatible = false; gpg_verify = true;/' "$D/updater.conf"
grep -q 'require_compatible = false' "$D/updater.conf" || fail "set require_compatible"
expect_exit 0 "$WORK/nocompat-ok" ostree_upd "$D" check sim/nocompat
refused otherboard2 "other-board" check sim/otherboard

# --- a delta to the signed target whose superblock names other commits -----
ostree_clone_device "$OFIX/device" "$WORK/d2" "$URL/repo"
GOOD=$R/$(ostree_delta_path "$C1" "$C2")
rm -rf "$GOOD" && cp -r "$XDELTA" "$GOOD" || fail "put the evil delta at C1 -> C2"
n0=$(ostree_log_lines "$LOG")
expect_exit 0 "$WORK/misnamed" ostree_upd "$WORK/d2" install "$C2"
assert_grep "names .* ignored, pulling objects" "$WORK/misnamed"
! tail -n +"$((n0 + 1))" "$LOG" | grep -q "/$(ostree_delta_path "$C1" "$C2")/[0-9]" ||
	fail "a part of the misnamed delta was downloaded"
! has_object "$X" commit && ! [ -e "$WORK/d2/sysroot/ostree/repo/objects/${SUID:0:2}/${SUID:2}.file" ] ||
	fail "objects of the misnamed delta were stored"
[ ! -e "$WORK/d2/sysroot/ostree/repo/tmp/updater-staging" ] || fail "the staging area was left"
ostree_sim_boot "$WORK/d2" >/dev/null
assert_eq "$(ostree_booted "$WORK/d2")" "$C2.0" "v2 boots after the object pull"

# --- a superblock of 300 MiB (sparse): not downloaded -------------------------
ostree_clone_device "$OFIX/device" "$WORK/d3" "$URL/repo"
BIG=$R/$(ostree_delta_path "$C1" "$C3")
mkdir -p "$BIG" && truncate -s 300M "$BIG/superblock" || fail "the big superblock"
n0=$(ostree_log_lines "$LOG")
expect_exit 0 "$WORK/big" ostree_upd "$WORK/d3" install "$C3"
assert_grep "superblock of 314572800 bytes" "$WORK/big"
tail -n +"$((n0 + 1))" "$LOG" | grep -q "^HEAD .*/$(ostree_delta_path "$C1" "$C3")/superblock" ||
	fail "the superblock's size was not asked for"
! tail -n +"$((n0 + 1))" "$LOG" | grep -q "^GET .*/$(ostree_delta_path "$C1" "$C3")/superblock" ||
	fail "the 300 MiB superblock was downloaded"
ostree --repo="$WORK/d3/sysroot/ostree/repo" fsck -q >"$WORK/fsck" 2>&1 || { cat "$WORK/fsck" >&2; fail "fsck"; }

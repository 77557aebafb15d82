# The ostree backend from a repository named on the command line (issue 14,
# docs/ostree.md "From a repository on a medium"): `check` and `install` take
# a URL or an absolute path; the release is ostree.ref there, verified exactly
# as from ostree.url (signatures against ostree.gpg_keyring before anything
# is stored). A medium signed with another key is refused and nothing of it
# is kept; a directory that holds no repository is a usage error; the good
# medium installs without one request to the server, the remote keeps
# ostree.url; the same medium again offers nothing (exit 10).
. "$TOP/tests/lib/common.sh"
. "$TOP/tests/lib/ostree.sh"
set -u
LOG=$WORK/httpd.log
ostree_test_device --log "$LOG"
DREPO=$D/sysroot/ostree/repo
ostree_snapshot "$D"
REF=sim/stable

# medium DIR COMMIT: an archive repository holding COMMIT (with its
# signatures) as the device's ref.
medium() {
	ostree init --repo="$1" --mode=archive >/dev/null &&
		ostree --repo="$1" pull-local "$OFIX/srv/repo" "$2" >/dev/null &&
		ostree --repo="$1" refs --create="$REF" "$2" || fail "medium $1"
}
medium "$WORK/bad" "$CB"
medium "$WORK/good" "$C2"
mkdir -p "$WORK/empty"
has_commit() { [ -e "$DREPO/objects/${1:0:2}/${1:2}.commit" ]; }
n0=$(ostree_log_lines "$LOG")

# A medium whose release is signed with a key the device does not trust.
expect_exit 3 "$WORK/bad-check" ostree_upd "$D" check "$WORK/bad"
ostree_assert_error "$WORK/bad-check" "public key not found"
expect_exit 3 "$WORK/bad-install" ostree_upd "$D" install "file://$WORK/bad"
ostree_assert_error "$WORK/bad-install" "public key not found"
! has_commit "$CB" || fail "the untrusted medium's commit was stored"
ostree_assert_untouched "$D" "the untrusted medium"

# No repository there: a usage error naming the path, nothing changed.
expect_exit 2 "$WORK/empty-install" ostree_upd "$D" install "$WORK/empty"
ostree_assert_error "$WORK/empty-install" "$WORK/empty: no ostree repository here"
ostree_assert_untouched "$D" "a directory without a repository"

# The good medium: offered, installed, booted; the server never asked.
expect_exit 0 "$WORK/check" ostree_upd "$D" check "$WORK/good"
assert_grep "version 2.0" "$WORK/check"
expect_exit 0 "$WORK/install" ostree_upd "$D" install "$WORK/good"
assert_grep "the release is $REF in the repository file://$WORK/good (not ostree.url)" "$WORK/install"
has_commit "$C2" || fail "the medium's commit is not in the device's repository"
assert_eq "$(ostree_log_lines "$LOG")" "$n0" "requests to the server while the media were read"
assert_eq "$(ostree --repo="$DREPO" remote show-url origin)" "$URL/repo" "the remote's URL after the install"
ostree_sim_boot "$D" >/dev/null
assert_eq "$(ostree_booted "$D")" "$(ostree_entry "$D")" "the boot after the install runs the default entry"
assert_eq "$(ostree_booted "$D" | cut -d. -f1)" "$C2" "the boot after the install runs the medium's release"
ostree_upd "$D" boot || fail "updater boot on the trial"
expect_exit 0 "$WORK/mark-good" ostree_upd "$D" mark-good

# The medium left in: nothing newer, nothing recorded.
expect_exit 10 "$WORK/again" ostree_upd "$D" check "$WORK/good"
assert_grep "up to date" "$WORK/again"
assert_eq "$(ostree_log_lines "$LOG")" "$n0" "requests to the server after the medium was read again"

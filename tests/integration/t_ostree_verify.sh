# Releases the ostree backend must not deploy (ostree.gpg_verify on): an
# unsigned commit, a commit signed with a key the device does not trust, an
# object corrupted on the server, a corrupted static delta, a commit without
# a kernel. Exit 3, one message, nothing deployed, the boot state untouched;
# afterwards a good release still installs.
. "$TOP/tests/lib/common.sh"
. "$TOP/tests/lib/ostree.sh"
set -u
ostree_fixtures
# A copy of the server to damage: hard links, and every file changed is
# first replaced by a copy of its own (the fixture must stay intact).
cp -al "$OFIX/srv" "$WORK/srv" 2>/dev/null || { rm -rf "$WORK/srv"; cp -a "$OFIX/srv" "$WORK/srv"; } || fail "copy the server"
LOG=$WORK/httpd.log
ostree_test_device --srv "$WORK/srv" --log "$LOG"
ostree_snapshot "$D"
grep -q 'gpg_verify = true' "$D/updater.conf" || fail "the device does not verify signatures"

# flip FILE: invert one byte in the middle of FILE (a copy of its own first)
flip() {
	local f=$1 off byte
	cp "$f" "$f.tmp" && mv "$f.tmp" "$f" || fail "flip: copy $f"
	off=$(($(stat -c %s "$f") / 2))
	byte=$(od -An -tu1 -j "$off" -N1 "$f" | tr -d ' ')
	printf "\\$(printf '%03o' $((byte ^ 0xff)))" | dd of="$f" bs=1 seek="$off" conv=notrunc status=none
	cmp -s "$f" "$OFIX/srv/${f#"$WORK/srv/"}" && fail "flip: $f unchanged"
	return 0
}
# no_deployment COMMIT: no deployment of COMMIT exists
no_deployment() {
	! ls "$D/sysroot/ostree/deploy/simos/deploy/" | grep -q "^$1\." || fail "a deployment of $1 exists"
}

# refused NAME REF MESSAGE COMMIT WHAT: `check REF` and `install REF` both
# exit 3 saying MESSAGE; no deployment of COMMIT, the device untouched.
refused() {
	expect_exit 3 "$WORK/$1-check" ostree_upd "$D" check "$2"
	ostree_assert_error "$WORK/$1-check" "$3"
	expect_exit 3 "$WORK/$1" ostree_upd "$D" install "$2"
	ostree_assert_error "$WORK/$1" "$3"
	no_deployment "$4"
	ostree_assert_untouched "$D" "$5"
}

# Unsigned: `check` verifies the signature too (on the commit metadata alone).
refused unsigned sim/unsigned "no signatures found" "$CU" "unsigned commit"

# Signed, but with a key the device does not have.
refused badsig sim/badsig "public key not found" "$CB" "commit signed with another key"

# The same with a static delta to it on the server: the commit is verified
# first, so neither the delta's superblock nor its parts are downloaded.
ostree static-delta generate --repo="$WORK/srv/repo" --from="$C1" --to="$CB" >/dev/null 2>&1 ||
	fail "generate a static delta to the commit signed with another key"
BDELTA=$(ostree_delta_path "$C1" "$CB")
strings "$WORK/srv/repo/$BDELTA/superblock" | grep -q "/commitmeta" || fail "the delta's superblock has no signatures"
n0=$(ostree_log_lines "$LOG")
expect_exit 3 "$WORK/badsig-delta" ostree_upd "$D" install sim/badsig
ostree_assert_error "$WORK/badsig-delta" "public key not found"
! tail -n +"$((n0 + 1))" "$LOG" | grep -q "/$BDELTA/superblock" ||
	fail "the superblock of the delta to the untrusted commit was asked for"
! tail -n +"$((n0 + 1))" "$LOG" | grep -q "/$BDELTA/[0-9]" ||
	fail "the parts of a delta to an untrusted commit were downloaded"
no_deployment "$CB"
ostree_assert_untouched "$D" "commit signed with another key, through a delta"

# No kernel: refused after the pull, before the deployment.
expect_exit 3 "$WORK/nokernel" ostree_upd "$D" install sim/nokernel
ostree_assert_error "$WORK/nokernel" "has no kernel"
no_deployment "$CN"
ostree_assert_untouched "$D" "commit without a kernel"
grep -q '^state=failed$' "$D/data/updater/state" || fail "state after the kernel-less commit is not failed"

# An object of v3 (its version-data.bin, which the device does not have) is
# corrupted on the server; there is no delta from v1 to v3, so it is fetched
# loose and its checksum does not match.
obj=$(ostree --repo="$WORK/srv/repo" ls -C "$C3" /usr/share/sim/version-data.bin | awk '{ print $5 }')
[ -n "$obj" ] || fail "no checksum for v3's version-data.bin"
flip "$WORK/srv/repo/objects/${obj:0:2}/${obj:2}.filez"
n0=$(ostree_log_lines "$LOG")
expect_exit 3 "$WORK/corrupt" ostree_upd "$D" install "$C3"
ostree_assert_error "$WORK/corrupt" "$obj"
tail -n +"$((n0 + 1))" "$LOG" | grep -q "/${obj:2}.filez .*status=200" || fail "the corrupted object was never served"
no_deployment "$C3"
ostree_assert_untouched "$D" "corrupted object"
# Again: the object is fetched again (not trusted from a previous try) and refused again.
expect_exit 3 "$WORK/corrupt2" ostree_upd "$D" install "$C3"
ostree_assert_error "$WORK/corrupt2" "$obj"
no_deployment "$C3"
ostree_assert_untouched "$D" "corrupted object, second try"

# The static delta v1 -> v2 with a corrupted part.
DELTA=$WORK/srv/repo/$(ostree_delta_path "$C1" "$C2")
flip "$DELTA/0"
expect_exit 3 "$WORK/delta" ostree_upd "$D" install "$C2"
ostree_assert_error "$WORK/delta" "delta"
no_deployment "$C2"
ostree_assert_untouched "$D" "corrupted delta"
[ ! -e "$D/sysroot/ostree/repo/tmp/updater-staging" ] || fail "the corrupted delta part was kept"

# After all that, a good release installs and verifies.
expect_exit 0 "$WORK/good" ostree_upd "$D" install "$C4"
ostree_sim_boot "$D" >/dev/null
assert_eq "$(ostree_booted "$D")" "$C4.0" "the good release boots"
ostree --repo="$D/sysroot/ostree/repo" fsck -q >"$WORK/fsck" 2>&1 || { cat "$WORK/fsck" >&2; fail "fsck at the end"; }

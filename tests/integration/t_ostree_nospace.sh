# Not enough space in the sysroot (a small ext4 filesystem, loop-mounted, a
# filler file leaving a few hundred KiB): the delta download, the plain
# object pull, the delta's application, the deployment (kernel + /etc) each
# run out. Exit 5, one message, nothing deployed, the boot state untouched;
# with the space back the same install completes. Mounts the small
# filesystem with a loop device as root, else with fuse2fs (Debian package
# fuse2fs, fusermount from fuse: scripts/deps.sh installs both); with
# neither the test fails: it never passes without having run.
# NOSPACE_MOUNT=fuse2fs takes the fuse2fs way even as root.
. "$TOP/tests/lib/common.sh"
. "$TOP/tests/lib/ostree.sh"
set -u
ostree_fixtures
D=$WORK/dev
S=$D/sysroot
IMG=$WORK/sysroot.ext4
mkdir -p "$S"
truncate -s 16M "$IMG"
mkfs.ext4 -q -F -m 0 -L sysroot "$IMG" >/dev/null 2>&1 || fail "mkfs.ext4 $IMG"
FUSE=
: >"$WORK/mount.err"
if [ "${NOSPACE_MOUNT:-}" != fuse2fs ] && [ "$(id -u)" = 0 ] &&
	mount -o loop "$IMG" "$S" 2>"$WORK/mount.err"; then
	:
elif command -v fuse2fs >/dev/null && fuse2fs -o fakeroot "$IMG" "$S" >>"$WORK/mount.err" 2>&1; then
	FUSE=1
else
	cat "$WORK/mount.err" >&2
	fail "cannot mount a small filesystem (no loop mount as root, no working fuse2fs: install fuse2fs and fuse, scripts/deps.sh)"
fi
echo "sysroot: a 16 MiB ext4 mounted with $([ -n "$FUSE" ] && echo fuse2fs || echo a loop device)"
unmount() {
	mountpoint -q "$S" || return 0
	if [ -n "$FUSE" ]; then fusermount -u "$S"; else umount "$S"; fi
}
trap 'stop_httpd; unmount; ostree_rm_device "$D"' EXIT
start_httpd "$OFIX/srv"
ostree_clone_device "$OFIX/device" "$D" "$URL/repo"
mountpoint -q "$S" || fail "$S is not a mount point"
ostree_snapshot "$D"

avail() { sync -f "$S/."; df -k --output=avail "$S" | tail -n 1 | tr -d ' '; }
# leave KIB: a filler file takes all but KIB KiB of the sysroot's filesystem
leave() {
	local a
	rm -f "$S/filler"
	a=$(avail)
	[ "$a" -gt "$1" ] || fail "only $a KiB free in $S, cannot leave $1"
	fallocate -l $(((a - $1) * 1024)) "$S/filler" || fail "fallocate the filler"
	a=$(avail)
	[ "$a" -le $(($1 + 64)) ] && [ "$a" -ge $(($1 - 64)) ] || fail "wanted $1 KiB free, got $a"
}

# The delta v1 -> v2 (356 KiB part) does not fit while it is downloaded.
leave 100
expect_exit 5 "$WORK/delta-dl" ostree_upd "$D" install "$C2"
ostree_assert_error "$WORK/delta-dl" "No space left"
ostree_assert_untouched "$D" "delta download out of space"

# No delta from v1 to v3: libostree's object pull stops at its reserve.
leave 300
expect_exit 5 "$WORK/pull" ostree_upd "$D" install "$C3"
ostree_assert_error "$WORK/pull" "pull"
ostree_assert_untouched "$D" "object pull out of space"

# The delta's part fits, applying it (writing the objects) does not.
leave 600
expect_exit 5 "$WORK/delta-apply" ostree_upd "$D" install "$C2"
ostree_assert_error "$WORK/delta-apply" "delta"
ostree_assert_untouched "$D" "delta application out of space"

# The objects fit, the deployment (kernel and initramfs in /boot, /etc) does not.
leave 1200
expect_exit 5 "$WORK/deploy" ostree_upd "$D" install "$C3"
ostree_assert_error "$WORK/deploy" "deployment needs"
ostree_assert_untouched "$D" "deployment out of space"
grep -q '^state=failed$' "$D/data/updater/state" || fail "state after running out of space is not failed"

# Space back: the same install completes and boots.
rm -f "$S/filler"
expect_exit 0 "$WORK/ok" ostree_upd "$D" install "$C3"
ostree_sim_boot "$D" >/dev/null
assert_eq "$(ostree_booted "$D")" "$C3.0" "v3 boots once there is space"

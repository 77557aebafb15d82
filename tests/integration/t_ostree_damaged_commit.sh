# A commit object already in the device's repository but damaged (here
# empty: what a power cut left when an older version wrote it without a
# sync; the QEMU power-cut scenario met it): install does not trust it,
# removes it, fetches it again and completes; nothing else is touched.
. "$TOP/tests/lib/common.sh"
. "$TOP/tests/lib/ostree.sh"
set -u
ostree_test_device
obj=$D/sysroot/ostree/repo/objects/${C2:0:2}/${C2:2}.commit
[ ! -e "$obj" ] || fail "the factory device already has commit $C2"
mkdir -p "$(dirname "$obj")"
: >"$obj"
expect_exit 0 "$WORK/install" ostree_upd "$D" install "$C2"
assert_grep "commit ${C2:0:12} in the repository is damaged: fetching it again" "$WORK/install"
[ -s "$obj" ] || fail "the commit object is still empty after the install"
ostree --repo="$D/sysroot/ostree/repo" fsck -q >"$WORK/fsck" 2>&1 || { cat "$WORK/fsck" >&2; fail "fsck after the install"; }
ostree_upd "$D" status --json | grep -q '"state":"activated"' || fail "the install did not end activated"

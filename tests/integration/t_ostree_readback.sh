# The ostree form of the read-back (docs/ostree.md): before deploying, the
# updater reads and hashes again every object the new commit adds to the
# device. libostree checks an object only as it writes it; one that was
# already in the device's repository, damaged at rest, is not fetched again
# and would be checked out as it is. Here v3's kernel sits in the device's
# repository with the wrong bytes: install refuses it (exit 3, nothing
# deployed, boot state untouched); with --no-readback (benchmarks only,
# docs/cli.md) the check is skipped and the damaged kernel is deployed.
. "$TOP/tests/lib/common.sh"
. "$TOP/tests/lib/ostree.sh"
set -u
ostree_test_device
REPO=$D/sysroot/ostree/repo
kpath=$(ostree --repo="$OFIX/srv/repo" ls -R "$C3" /usr/lib/modules | awk '$NF ~ /vmlinuz$/ { print $NF; exit }')
[ -n "$kpath" ] || fail "fixture: no kernel in $C3"
kobj=$(ostree --repo="$OFIX/srv/repo" ls -C "$C3" "$kpath" | awk '{ print $5 }')
[ ${#kobj} = 64 ] || fail "fixture: no checksum for $kpath"
[ ! -e "$REPO/objects/${kobj:0:2}/${kobj:2}.file" ] || fail "fixture: the device already has v3's kernel"
# Any other file object of the device, under the kernel's name: wrong bytes.
other=$(find "$REPO/objects" -name '*.file' -type f -size +1k | head -n1)
mkdir -p "$REPO/objects/${kobj:0:2}"
cp -a "$other" "$REPO/objects/${kobj:0:2}/${kobj:2}.file" || fail "plant the damaged object"
ostree_snapshot "$D"

expect_exit 3 "$WORK/readback" ostree_upd "$D" install "$C3"
ostree_assert_error "$WORK/readback" "verify the pulled objects"
ostree_assert_untouched "$D" "install refused by the read-back"
! ls "$D/sysroot/ostree/deploy/simos/deploy/" | grep -q "^$C3\." || fail "a deployment of v3 exists"

# Without the read-back the same install deploys the damaged kernel: the
# check above is what stopped it.
expect_exit 0 "$WORK/noreadback" ostree_upd "$D" install --no-readback "$C3"
dep=$(find "$D/sysroot/ostree/deploy/simos/deploy" -maxdepth 1 -type d -name "$C3.[0-9]*" | head -n1)
[ -n "$dep" ] || fail "no deployment of v3 with --no-readback"
cmp -s "$dep$kpath" "$other" || fail "with --no-readback the deployed kernel is not the planted bytes"

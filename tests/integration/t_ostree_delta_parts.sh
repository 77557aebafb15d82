# A static delta of several parts, which the ostree backend applies on two
# threads (backends/ostree/delta_parts.c): a release that adds three 1.5 MiB
# files of random bytes to v1, with a delta from v1 cut into parts of at most
# 1 MiB. It installs from the delta alone (no object fetched loose, no second
# pull), every file of the deployment byte for byte the release's; with one
# byte of its last part flipped on the server, exit 3 naming the delta,
# nothing deployed, the staging area gone, the boot state untouched, and
# the same install then completes from the repaired server.
. "$TOP/tests/lib/common.sh"
. "$TOP/tests/lib/ostree.sh"
set -u
ostree_fixtures
ostree_gpg_load "$OFIX/gpg" || fail "the fixture's GPG keys"
cp -al "$OFIX/srv" "$WORK/srv" 2>/dev/null || { rm -rf "$WORK/srv"; cp -a "$OFIX/srv" "$WORK/srv"; } || fail "copy the server"
REPO=$WORK/srv/repo

# The release: v1's tree (same kernel) and three incompressible files.
TREE=$WORK/tree
ostree_make_tree "$TREE" 1.5 6.1.0-sim1
mkdir -p "$TREE/usr/share/parts"
for i in 1 2 3; do head -c $((1536 * 1024)) /dev/urandom >"$TREE/usr/share/parts/blob$i"; done
CP=$(ostree_server_commit "$REPO" sim/stable "$TREE" 1.5)
DIR=$(ostree_server_delta "$REPO" "$C1" "$CP" --max-chunk-size=1)
ostree_server_summary "$REPO"
DELTA=$REPO/$(ostree_delta_path "$C1" "$CP")
# The parts are the files named by a number (the directory's own name may
# start with a digit too).
nparts=$(ls "$DELTA" | grep -cx '[0-9][0-9]*')
[ "$nparts" -ge 3 ] || fail "fixture: the delta $DIR has $nparts parts, expected at least 3"
echo "delta $C1 -> $CP: $nparts parts"

LOG=$WORK/httpd.log
ostree_test_device --srv "$WORK/srv" --log "$LOG"
ostree_snapshot "$D"

# A damaged last part: refused when its part is applied, nothing kept.
last=$DELTA/$((nparts - 1))
cp "$last" "$WORK/part.good" && cp "$last" "$last.tmp" && mv "$last.tmp" "$last" || fail "copy the last part"
off=$(($(stat -c %s "$last") / 2))
byte=$(od -An -tu1 -j "$off" -N1 "$last" | tr -d ' ')
printf "\\$(printf '%03o' $((byte ^ 0xff)))" | dd of="$last" bs=1 seek="$off" conv=notrunc status=none
cmp -s "$last" "$WORK/part.good" && fail "the part did not change"
expect_exit 3 "$WORK/damaged" ostree_upd "$D" install "$CP"
ostree_assert_error "$WORK/damaged" "delta"
! ls "$D/sysroot/ostree/deploy/simos/deploy/" | grep -q "^$CP\." || fail "a deployment of the damaged delta's commit exists"
[ ! -e "$D/sysroot/ostree/repo/tmp/updater-staging" ] || fail "the damaged delta was kept"
ostree_assert_untouched "$D" "damaged delta part"

# Repaired: the delta alone brings the release.
cp "$WORK/part.good" "$last" || fail "restore the part"
n0=$(ostree_log_lines "$LOG")
expect_exit 0 "$WORK/install" ostree_upd "$D" -v install "$CP"
assert_grep "applied static delta" "$WORK/install"
# Two threads where there are two cores (one part at a time on one).
threads=$(($(nproc) >= 2 ? 2 : 1))
assert_grep "static delta: $nparts parts, applied on $threads thread" "$WORK/install"
! grep -q "still partial after the delta" "$WORK/install" || { cat "$WORK/install" >&2; fail "the delta left objects to pull"; }
! tail -n +"$((n0 + 1))" "$LOG" | grep -q '/objects/.*\.filez' || fail "objects were fetched loose beside the delta"
for p in $(seq 0 $((nparts - 1))); do
	tail -n +"$((n0 + 1))" "$LOG" | grep -F " /repo/$(ostree_delta_path "$C1" "$CP")/$p " | grep -Eq "status=20[06]" ||
		{ tail -n +"$((n0 + 1))" "$LOG" >&2; fail "part $p of the delta was not downloaded"; }
done
dep=$(ls -d "$D/sysroot/ostree/deploy/simos/deploy/$CP".* 2>/dev/null | head -n 1)
[ -n "$dep" ] || fail "no deployment of $CP"
for i in 1 2 3; do
	cmp "$TREE/usr/share/parts/blob$i" "$dep/usr/share/parts/blob$i" || fail "blob$i differs in the deployment"
done
ostree --repo="$D/sysroot/ostree/repo" fsck --quiet >"$WORK/fsck" 2>&1 || { cat "$WORK/fsck" >&2; fail "the device's repository fails fsck"; }

# Format 5's static delta (docs/bundle-format.md "Static delta"): a frame is
# made against the source followed by the new image's blocks before it, so
# new data that repeats new data of an earlier frame is sent once. The new
# release holds the same 64 KiB of new data at blocks 100 and 600 (64 KiB
# frames: frame 1 repeats frame 0): its format 5 delta (the default) is smaller
# than format 4's (--format 4) by about that much, and a device installs it
# from the delta alone,
# decoding frame 1 against frame 0's blocks in its target slot. With blocks
# of both frames damaged in the target, both frames are fetched again and
# frame 1 is decoded against frame 0's blocks as just rewritten (what waits
# to be written goes out first). A format 4 delta of the same pair still
# installs (devices and build hosts of either generation).
. "$TOP/tests/lib/common.sh"
set -u
dualbank_test_device
OLD=$D/factory.img
SIZE=$(stat -c %s "$OLD")
NEW=$WORK/v1.1.img
cp "$OLD" "$NEW" || fail "copy the factory image"
head -c 65536 /dev/urandom >"$WORK/new-data"
dd if="$WORK/new-data" of="$NEW" bs=4096 seek=100 conv=notrunc status=none
dd if="$WORK/new-data" of="$NEW" bs=4096 seek=600 conv=notrunc status=none
NEW_SHA=$(file_sha "$NEW")
make_bundle "$NEW" 1.1 "$FIX/release.pem" "$W/v1.1.upd"
make_bundle "$OLD" 1.0 "$FIX/release.pem" "$WORK/v1.0.upd"
# make_delta OUT [ARGS]: a static delta from 1.0 (64 KiB frames, level 19).
make_delta() {
	local out=$1
	shift
	"$UPDATER" bundle create --image "$NEW" --version 1.1 --compatible sim-board \
		--key "$FIX/release.pem" --output "$out" --delta-from "$WORK/v1.0.upd" --level 19 \
		--frame-size 65536 "$@" >/dev/null 2>"$WORK/create.err" || fail "bundle create $*"
}
ID=$(file_sha "$OLD")
DELTA=v1.1.upd.from-${ID:0:16}
make_delta "$WORK/d5"
make_delta "$WORK/d4" --format 4
S5=$(stat -c %s "$WORK/d5")
S4=$(stat -c %s "$WORK/d4")
[ "$S5" -lt $((S4 - 60000)) ] ||
	fail "format 5 delta $S5 bytes, format 4 $S4: the repeated 64 KiB is not sent once"
"$UPDATER" bundle info "$WORK/d5" >"$WORK/info" 2>&1
assert_grep "^format: *5" "$WORK/info"
# frame 0 (random data) is no smaller with the blocks before it: kept against
# the source alone, as format 4 makes it
assert_grep "^frames: *1 of 2 take the new image's earlier blocks into their prefix" "$WORK/info"
cp "$WORK/d5" "$W/$DELTA"
LOG=$WORK/httpd.log
start_httpd "$W" --log "$LOG"
snapshot "$D"
cancel() { upd "$D" rollback >/dev/null 2>&1 || fail "cancel the pending update"; }
# static_only NAME: the install took the static delta alone.
static_only() {
	assert_grep "static delta: .* downloaded" "$WORK/$1.err"
	if grep -q "installing without it" "$WORK/$1.err"; then
		fail "$1: the static delta gave way: $(cat "$WORK/$1.err")"
	fi
}

# 1. The whole delta: frame 1 decoded against frame 0's blocks in slot B.
delta_install grown
static_only grown
[ "$downloaded" -gt 0 ] && [ "$downloaded" -le "$S5" ] ||
	fail "grown: $downloaded bytes downloaded (the delta is $S5 bytes)"

# 2. A block of each frame's data lost: both frames fetched again, and frame
#    1 decoded after frame 0's block is written back.
cancel
head -c 4096 /dev/urandom | dd of="$D/slots/B.img" bs=4096 seek=103 conv=notrunc status=none
head -c 4096 /dev/urandom | dd of="$D/slots/B.img" bs=4096 seek=603 conv=notrunc status=none
delta_install both
static_only both
assert_eq "$written" 8192 "both frames damaged: bytes written"

# 3. Frame 1's block alone lost: frame 1 alone fetched, decoded against the
#    blocks of frame 0 that the target held already.
cancel
head -c 4096 /dev/urandom | dd of="$D/slots/B.img" bs=4096 seek=603 conv=notrunc status=none
delta_install later
static_only later
assert_eq "$written" 4096 "frame 1 damaged: bytes written"
[ "$downloaded" -lt 4096 ] || fail "frame 1 damaged: $downloaded bytes downloaded (it repeats frame 0)"

# 4. A format 4 delta of the same pair, on a target without the new data.
cancel
cp "$WORK/d4" "$W/$DELTA"
dd if=/dev/zero of="$D/slots/B.img" bs=4096 seek=100 count=16 conv=notrunc status=none
dd if=/dev/zero of="$D/slots/B.img" bs=4096 seek=600 count=16 conv=notrunc status=none
delta_install four
static_only four
[ "$downloaded" -gt 131072 ] || fail "format 4: $downloaded bytes downloaded (both copies of the data)"
echo ok

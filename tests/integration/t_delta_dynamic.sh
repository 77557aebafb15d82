# The dual-bank dynamic delta (backends/dualbank/delta.h, docs/dualbank.md
# "Delta install"): a format-3 bundle installs by taking each block from the
# target slot in place, the active slot at any offset, then the network (only
# the frames that hold what the device lacks, by HTTP range requests); the
# result is the image, byte for byte. Also: a second run moves nothing (the
# resume rule), an active block that no longer matches is downloaded instead,
# a server that ignores ranges gets the full stream, ranges are asked for
# again one by one when a server answers a multi-range request with its first
# range only (wrong and short ranges: tests/unit's range fetcher), corrupt
# frames are refused (exit 3) with the running slot and the boot environment
# untouched, the image's check never reads ahead of the blocks written, and
# --full streams the whole bundle.
. "$TOP/tests/lib/common.sh"
set -u
dualbank_test_device
# The new release: 4 blocks of new data (one 16 KiB frame: 100..103), block
# 900 moved from where block 500 was, the rest as before.
delta_test_release 16384
PAYLOAD=$(stat -c %s "$W/v1.1.upd")
LOG=$WORK/httpd.log
start_httpd "$W" --log "$LOG"
snapshot "$D"

sent() { awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^sent=/) s += substr($i, 6) } END { print s + 0 }' "$LOG"; }
cancel() { upd "$D" rollback >/dev/null 2>&1 || fail "cancel the pending update"; }
# empty_b: slot B's image area back to zeros (as the factory left it).
empty_b() { dd if=/dev/zero of="$D/slots/B.img" bs=4096 count=$(((SIZE + 4095) / 4096)) conv=notrunc status=none; }

# 1. Onto the factory's empty slot B: only the changed frame comes over the
#    network; the moved block and the rest come from slot A.
delta_install first
[ "$downloaded" -gt 0 ] && [ "$downloaded" -le 32768 ] ||
	fail "first delta install downloaded $downloaded bytes (the one changed frame is at most 16 KiB + framing)"
assert_grep "delta: [0-9.]* KiB downloaded, .* from the active slot, .* written" "$WORK/first.err"
grep -q "delta: .* 0 bytes from the active slot" "$WORK/first.err" && fail "nothing taken from the active slot"
[ "$(sent)" -lt $((PAYLOAD / 4)) ] || fail "the server sent $(sent) bytes of a $PAYLOAD-byte bundle"
grep ' range=- ' "$LOG" | grep -q 'GET /v1.1.upd' && fail "a GET of the whole bundle: $(cat "$LOG")"
grep -q '"phase":"download"' "$WORK/first.json" || fail "no download phase in the JSON progress"

# 2. Again (as a resumed install finds it): nothing downloaded or written.
cancel
: >"$LOG"
delta_install again
assert_eq "$downloaded/$written" "0/0" "second install: bytes downloaded/written"
assert_eq "$reused" "$SIZE" "second install: bytes found in place"

# 3. Slot B emptied, and the active slot's block 500 no longer what the
#    index says block 900 is (flash that lost it): that block's frame is
#    downloaded instead, and the image is still exact. Two frames, asked
#    for in one request, from a server that answers only the first range of
#    a multi-range request (as some do): the rest is asked for again.
cancel
stop_httpd
start_httpd "$W" --fault single-range --log "$LOG"
empty_b
head -c 4096 /dev/urandom | dd of="$D/slots/A.img" bs=4096 seek=500 conv=notrunc status=none
snapshot "$D"
delta_install damaged
[ "$downloaded" -gt 16384 ] || fail "with block 500 of slot A damaged, only $downloaded bytes were downloaded"
[ "$(grep -c 'GET /v1.1.upd range=bytes=[0-9-]*,' "$LOG")" -ge 1 ] || fail "no multi-range request: $(cat "$LOG")"

# 4. A server that ignores ranges: the full stream, with a warning.
cancel
empty_b
stop_httpd
start_httpd "$W" --fault no-range --log "$LOG"
delta_install norange
assert_grep "warning: .*streaming the whole bundle instead" "$WORK/norange.err"

# 5. Corrupt frames (every frame's bytes altered under a valid signature):
#    exit 3, naming the frame; slot A and the environment untouched.
cancel
stop_httpd
python3 "$TOP/tests/lib/tamper.py" frames "$W/v1.1.upd" "$W/bad.upd" || fail "make the corrupt bundle"
start_httpd "$W"
empty_b
snapshot "$D"
expect_exit 3 "$WORK/bad" upd "$D" install "$URL/bad.upd"
assert_one_error "$WORK/bad" "corrupt payload: frame [0-9]*"
assert_untouched "$D"

# 6. The image's check may not read a block before it is written: the
#    delta-readback delay holds the install after each advance of the check
#    (the changed frame's blocks then wait in its write buffer) long enough
#    for the check to read all it was allowed to; the image is still exact
#    and verified (a check let past the buffered blocks reads the slot's old
#    bytes there: exit 3).
empty_b
UPDATER=$TOP/updater-fault UPDATER_FAULT_DELAY=delta-readback:$((300 * SLOW)) delta_install clamp

# 7. --full: the whole bundle streamed (the slot writer's install phase).
cancel
empty_b
delta_install full --full
grep -q '"phase":"install"' "$WORK/full.json" || fail "--full did not stream the bundle"
grep -q '"phase":"delta-scan"' "$WORK/full.json" && fail "--full ran the delta scan"
[ "$downloaded" -gt $((PAYLOAD / 2)) ] || fail "--full downloaded only $downloaded bytes"
echo ok

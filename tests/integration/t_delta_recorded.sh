# The recorded slot blocks (backends/dualbank/slot_blocks.h, docs/dualbank.md
# "Recorded slot blocks"): `init` records the factory image's block hashes,
# a dynamic delta install those of the image it wrote; the next install, running from that slot, reads
# only the active blocks whose recorded hash it needs instead of the whole
# slot. The record is a hint: blocks it names that no longer hold what it
# says are downloaded instead, and a record for another image, a symlink or
# a file others may write is not used (a warning; the whole slot is read);
# the image installed is exact every time. The target's record spares the
# reads of chunks it says differ throughout (a wrong one costs writes, never
# a wrong block). A slot's record goes before the slot is written.
. "$TOP/tests/lib/common.sh"
set -u
dualbank_test_device
delta_test_release 16384
LOG=$WORK/httpd.log
start_httpd "$W" --log "$LOG"
snapshot "$D"
REC_A=$D/data/updater/dualbank-A.blocks
REC_B=$D/data/updater/dualbank-B.blocks

# scanned FILE: the bytes of the active slot the install logged in FILE as read.
scanned() { sed -n 's/.*blocks found in the active slot (\([0-9]*\) bytes read.*/\1/p' "$1"; }

# record_matches REC IMAGE: REC's header names IMAGE's sha256 and size and
# its hashes are IMAGE's 4 KiB blocks' (the first 16 bytes of each SHA-256,
# the last block padded with zeros), computed here independently.
record_matches() {
	python3 - "$1" "$2" <<'PY'
import hashlib, sys
rec, img = open(sys.argv[1], "rb").read(), open(sys.argv[2], "rb").read()
head = rec[:128].split(b"\n")[0].decode().split()
want = ["updater-slot-blocks", "1", hashlib.sha256(img).hexdigest(), str(len(img)), "4096", "16"]
assert head == want, f"header {head} != {want}"
hashes = b"".join(hashlib.sha256(img[o:o + 4096].ljust(4096, b"\0")).digest()[:16]
                  for o in range(0, len(img), 4096))
assert rec[128:] == hashes, "the recorded hashes are not the image's blocks'"
PY
}

# 1. A factory device: `init` recorded slot A's image (its superblock's
#    length, hashed here) and the booted image's id, so the first install
#    reads only the blocks of slot A it needs, not the slot; afterwards slot B's image
#    is recorded.
record_matches "$REC_A" "$OLD" || fail "slot A's record after init"
assert_eq "$(grep -E '^target\.A\.(digest|size)=' "$D/data/updater/state" | sort | tr '\n' ' ')" \
	"target.A.digest=$(file_sha "$OLD") target.A.size=$SIZE " "the state's record of slot A after init"
[ -e "$REC_B" ] && fail "a record of the factory's empty slot B"
UPD_OPTS=-v delta_install first
assert_grep "blocks found in the active slot (.* bytes read, by its recorded block hashes)" "$WORK/first.err"
# (slot B is empty: every non-zero block of 1.1 comes from slot A, 1.3 MiB
# of the 8 MiB image; without a record the whole slot is read, as blocks
# 100-103 are found nowhere)
n=$(scanned "$WORK/first.err")
[ "$n" -lt $((SIZE / 4)) ] || fail "the first install read $n bytes of slot A's $SIZE"
record_matches "$REC_B" "$NEW" || fail "slot B's record after the first install"
[ "$(stat -c %a "$REC_B")" = 644 ] || fail "record mode $(stat -c %a "$REC_B")"

# 2. Slot B booted and good; release 1.2 (four blocks of new data at 300,
#    1 MiB of new data at 2 MiB, block 1000 a copy of 1.1's new block 100)
#    installs into slot A, reading only the blocks of slot B its record
#    names: a few blocks, not the slot; and of slot A (the target, whose
#    record init made) not the MiB its record says differs throughout.
assert_eq "$(sim_boot "$D")" B "booted slot"
upd "$D" mark-good || fail "mark-good"
V12=$WORK/v1.2.img
cp "$NEW" "$V12"
head -c 16384 /dev/urandom | dd of="$V12" bs=4096 seek=300 conv=notrunc status=none
head -c 1048576 /dev/urandom | dd of="$V12" bs=4096 seek=512 conv=notrunc status=none
dd if="$NEW" of="$V12" bs=4096 skip=100 seek=1000 count=1 conv=notrunc status=none
make_bundle "$V12" 1.2 "$D/keys/release.pem" "$W/v1.2.upd"
V12_SHA=$(file_sha "$V12")
A_BEFORE=$WORK/A-before.img
cp "$D/slots/A.img" "$A_BEFORE"

# install12 NAME: 1.2 into slot A (from slot B), log in WORK/NAME.err; slot A
# must then hold 1.2, slot B untouched.
install12() {
	local b
	b=$(file_sha "$D/slots/B.img")
	: >"$LOG"
	"$UPDATER" --config="$D/updater.conf" -v --progress=json install "$URL/v1.2.upd" \
		>"$WORK/$1.json" 2>"$WORK/$1.err" || { cat "$WORK/$1.err" >&2; fail "install $1"; }
	assert_eq "$(slot_sha "$D" A "$SIZE")" "$V12_SHA" "slot A after install $1"
	assert_eq "$(file_sha "$D/slots/B.img")" "$b" "running slot B after install $1"
	json_moved "$WORK/$1.json" >"$WORK/$1.moved" || fail "install $1: JSON progress"
	read -r downloaded reused written <"$WORK/$1.moved"
}
# again: slot A back as it was before 1.2, the pending update cancelled.
again() {
	upd "$D" rollback >/dev/null 2>&1 || fail "cancel the pending update"
	cp "$A_BEFORE" "$D/slots/A.img"
}

install12 recorded
assert_grep "by its recorded block hashes" "$WORK/recorded.err"
n=$(scanned "$WORK/recorded.err")
[ -n "$n" ] && [ "$n" -gt 0 ] && [ "$n" -le $((16 * 4096)) ] ||
	fail "with slot B's record the install read ${n:-?} bytes of slot B (a few blocks expected)"
assert_grep "delta: .* [1-9][0-9.]* KiB from the active slot" "$WORK/recorded.err"
unread() { sed -n 's/.*delta: target slot: .* \([0-9]*\) bytes not read (its recorded blocks differ).*/\1/p' "$1"; }
n=$(unread "$WORK/recorded.err")
[ -n "$n" ] && [ "$n" -ge 1048576 ] && [ "$n" -lt $((2 * 1048576)) ] ||
	fail "slot A's record: ${n:-?} bytes of it not read (the new MiB at 2 MiB expected)"
record_matches "$REC_A" "$V12" || fail "slot A's record after installing 1.2"
ref_downloaded=$downloaded ref_written=$written

# 2b. Slot A's record wrong the other way (every hash garbage: every chunk
#    "differs"): nothing of slot A is read, the blocks it held are written
#    again, and the image is exact all the same.
again
python3 - "$REC_A" <<'PY' || fail "garble slot A's record"
import os, sys
r = open(sys.argv[1], "rb").read()
open(sys.argv[1], "wb").write(r[:128] + os.urandom(len(r) - 128))
PY
install12 garbled
n=$(unread "$WORK/garbled.err")
[ "$n" -ge $((SIZE - 1048576)) ] || fail "a garbled target record: only $n bytes of slot A not read"
[ "$written" -gt "$ref_written" ] || fail "a garbled target record: $written bytes written, as few as with the true one"

# 3. The same without a record: the whole slot is read up to the last
#    needed block (the comparison that makes step 2 mean something).
again
mv "$REC_B" "$WORK/rec-b"
install12 norecord
n=$(scanned "$WORK/norecord.err")
[ "$n" -gt $((512 * 4096)) ] || fail "without a record only $n bytes of slot B were read"
cp "$WORK/rec-b" "$REC_B"

# 4. Slot B's blocks 100-103 changed since the record (as a running system
#    may change its slot): they fail their hash and come from the network.
again
cp "$D/slots/B.img" "$WORK/B-good.img"
head -c 16384 /dev/urandom | dd of="$D/slots/B.img" bs=4096 seek=100 conv=notrunc status=none
install12 changed
[ "$downloaded" -gt "$ref_downloaded" ] ||
	fail "changed active blocks: $downloaded bytes downloaded, as many as with them intact"
cp "$WORK/B-good.img" "$D/slots/B.img"

# 5. A record whose hashes are wrong (every block's hash moved by one
#    block): what it points at fails its hash; downloaded instead.
again
python3 - "$REC_B" <<'PY' || fail "shift the record"
import sys
p = sys.argv[1]
r = open(p, "rb").read()
h = r[128:]
open(p, "wb").write(r[:128] + h[16:] + h[:16])
PY
install12 shifted
[ "$downloaded" -gt "$ref_downloaded" ] ||
	fail "a shifted record: $downloaded bytes downloaded, no more than with the true one"
cp "$WORK/rec-b" "$REC_B"

# 6. Records not used, with a warning naming the cause: another image's,
#    a symlink, one that others may write, a truncated one.
unused() {
	again
	install12 "$1"
	assert_grep "warning: delta: .*$2.*; reading the whole active slot" "$WORK/$1.err"
	assert_grep "no record of its blocks" "$WORK/$1.err"
	rm -f "$REC_B"
	cp "$WORK/rec-b" "$REC_B"
}
sed -i "1s/$NEW_SHA/$(printf '0%.0s' $(seq 64))/" "$REC_B"
unused other "recorded for image 0000000000000000"
rm "$REC_B" && ln -s "$WORK/rec-b" "$REC_B"
unused symlink "dualbank-B.blocks: Too many levels of symbolic links"
chmod 664 "$REC_B"
unused groupwritable "not a regular file of uid 0 that only it may write"
truncate -s -16 "$REC_B"
unused truncated "bytes, the header implies"

# 7. An install into slot A that fails (corrupt frames, exit 3) removes
#    slot A's record first: the slot no longer holds what it said.
again
install12 recorded2
[ -f "$REC_A" ] || fail "no record of slot A after installing 1.2"
upd "$D" rollback >/dev/null 2>&1 || fail "cancel the pending update"
cp "$A_BEFORE" "$D/slots/A.img"
python3 "$TOP/tests/lib/tamper.py" frames "$W/v1.2.upd" "$W/bad.upd" || fail "make the corrupt bundle"
snapshot "$D"
expect_exit 3 "$WORK/bad" upd "$D" install "$URL/bad.upd"
assert_untouched "$D"
[ -e "$REC_A" ] && fail "slot A's record kept after a failed install into slot A"
record_matches "$REC_B" "$NEW" || fail "slot B's record changed by an install into slot A"
echo ok

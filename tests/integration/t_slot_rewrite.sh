# A block the target slot already holds is not written again by the full
# stream (install --full, backends/image/slot_writer.c; the delta
# install's equivalent: t_delta_dynamic.sh): the same bundle installed twice writes
# nothing the second time, and a slot with one block changed gets exactly
# that block. Proven twice, independently: by the install's own counts (the
# JSON progress and the last log line) and from outside, by the slot file's
# modification time (any write moves it; reads, fsync and the read-back do
# not) and its content.
. "$TOP/tests/lib/common.sh"
set -u
dualbank_test_device v2.0.upd
start_httpd "$W"
IMG_SIZE=$(stat -c %s "$FIX/v2.0.img")
IMG_SHA=$(file_sha "$FIX/v2.0.img")
PAYLOAD=$(stat -c %s "$W/v2.0.upd")
OLD=946684800 # 2000-01-01: an mtime no write of this test can leave

# install_json N: `install` of v2.0 with JSON progress (WORK/N.json, the log
# in WORK/N.err); sets reused and written from the install phase's last line.
install_json() {
	"$UPDATER" --config="$D/updater.conf" --progress=json install --full "$URL/v2.0.upd" \
		>"$WORK/$1.json" 2>"$WORK/$1.err" || { cat "$WORK/$1.err" >&2; fail "install $1"; }
	python3 - "$WORK/$1.json" "$IMG_SIZE" "$PAYLOAD" >"$WORK/$1.moved" <<'PY' || fail "install $1: JSON progress"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
inst = [l for l in lines if l["type"] == "progress" and l["phase"] == "install"]
last = inst[-1]
assert last["final"] and last["done"] == last["total"], last
# Every install line says what moved, and the bytes add up to the image.
assert all("written" in l and "reused" in l and "downloaded" in l for l in inst), inst
assert last["reused"] + last["written"] == int(sys.argv[2]), last
assert last["downloaded"] <= int(sys.argv[3]), last
print(last["reused"], last["written"])
PY
	read -r reused written <"$WORK/$1.moved"
}

# booted_image_sha256 (status --json): the factory image in slot A was not
# installed by the updater and is smaller than its slot; its ext4 superblock
# gives its length, so the id is the image file's sha256.
booted_image() {
	upd "$D" status --json | python3 -c 'import json, sys; print(json.load(sys.stdin)["booted_image_sha256"])'
}
[ "$(stat -c %s "$D/slots/A.img")" -gt "$(stat -c %s "$D/factory.img")" ] || fail "slot A is not larger than its image"
assert_eq "$(booted_image)" "$(file_sha "$D/factory.img")" "booted_image_sha256 of the factory image"

# The first install onto the factory's empty slot B: whatever it holds
# already (blocks of zeros) is not written; the rest is.
install_json first
[ "$written" -gt 0 ] || fail "the first install wrote nothing"
assert_eq "$(slot_sha "$D" B "$IMG_SIZE")" "$IMG_SHA" "slot B after the first install"

# The same bundle again (the pending update cancelled first): nothing written.
upd "$D" rollback >/dev/null 2>&1 || fail "cancel the pending update"
touch -d "@$OLD" "$D/slots/B.img"
install_json again
assert_eq "$reused/$written" "$IMG_SIZE/0" "second install: bytes reused/written"
assert_eq "$(stat -c %Y "$D/slots/B.img")" "$OLD" "slot B's mtime after an install that wrote nothing"
assert_eq "$(slot_sha "$D" B "$IMG_SIZE")" "$IMG_SHA" "slot B after the second install"
assert_grep "version 2.0 is installed on B ([0-9.]* MiB downloaded, [0-9.]* MiB already in the slot, 0 bytes written) and boots next" "$WORK/again.err"
assert_eq "$(envvar "$D" boot_slot)/$(envvar "$D" upgrade_available)" "B/1" "env after the second install"

# One block of the image changed in the slot (as flash that lost it, or an
# earlier attempt's leftovers): exactly that block is written.
upd "$D" rollback >/dev/null 2>&1 || fail "cancel the pending update again"
printf 'not the image%.0s' $(seq 300) | head -c 4096 |
	dd of="$D/slots/B.img" bs=4096 seek=300 conv=notrunc status=none
touch -d "@$OLD" "$D/slots/B.img"
install_json block
assert_eq "$written" 4096 "install over one changed block: bytes written"
[ "$(stat -c %Y "$D/slots/B.img")" != "$OLD" ] || fail "slot B's mtime did not move though a block was written"
assert_eq "$(slot_sha "$D" B "$IMG_SIZE")" "$IMG_SHA" "slot B after the one-block install"
assert_grep "MiB already in the slot, 4.0 KiB written) and boots next" "$WORK/block.err"

# Booted into B, the image the updater installed (and recorded) there.
assert_eq "$(sim_boot "$D")" B "boot after the install"
upd "$D" boot || fail "boot"
assert_eq "$(booted_image)" "$IMG_SHA" "booted_image_sha256 of the installed image"
echo ok

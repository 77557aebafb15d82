# The dual-bank static delta (backends/dualbank/static_delta.c, delta_static.c,
# docs/dualbank.md "Static delta"): next to the full bundle NAME.upd, the
# device asks for NAME.upd.from-HEX (HEX: the booted image's id) and, when it
# is signed, makes exactly the full bundle's release and applies to the
# active slot's bytes, installs from it alone: no byte of the full bundle's
# index or payload is fetched. Also: a second run moves nothing, a damaged
# block of the target is all that is fetched and written again, a delta for
# another source image under the device's name is ignored with a warning (the
# dynamic delta instead), as are a corrupt frame and no delta at all (404), a
# server that ignores ranges gets the whole bundle streamed after warnings,
# --full asks for none, and a delta installed by name on a device that does
# not hold its source is exit 3 with nothing changed (--full with one: exit 2).
# The frames it lacks are fetched while the scan of the target goes on.
# A device whose booted image's id is recorded does not hash the running slot
# for the delta's source; a slot changed since is caught by the delta's image
# check, and the dynamic delta makes the image.
. "$TOP/tests/lib/common.sh"
set -u
dualbank_test_device
# A device whose `init` predates the recorded factory image (no id, no
# block record in state_dir): the updater learns the id from slot A itself.
sed -i '/^target\.A\.digest=/d' "$D/data/updater/state" && rm "$D/data/updater/dualbank-A.blocks" ||
	fail "make the device an older init's"
# The new release: 64 KiB of new data at block 100 (one 64 KiB frame of the
# delta), block 900 a copy of block 500, the rest as before.
delta_test_release 65536
make_bundle "$OLD" 1.0 "$FIX/release.pem" "$WORK/v1.0.upd"
# make_delta FROM_BUNDLE OUT [IMAGE VERSION]: a static delta, level 3.
make_delta() {
	"$UPDATER" bundle create --image "${3:-$NEW}" --version "${4:-1.1}" --compatible sim-board \
		--key "$FIX/release.pem" --output "$2" --delta-from "$1" --level 3 \
		--frame-size 65536 >/dev/null || fail "bundle create --delta-from $1"
}
ID=$(upd "$D" status --json | python3 -c 'import json, sys; print(json.load(sys.stdin)["booted_image_sha256"])')
assert_eq "$ID" "$(file_sha "$OLD")" "the booted image's id"
DELTA=v1.1.upd.from-${ID:0:16}
make_delta "$WORK/v1.0.upd" "$W/$DELTA"
DSIZE=$(stat -c %s "$W/$DELTA")
LOG=$WORK/httpd.log
start_httpd "$W" --log "$LOG"
snapshot "$D"

sent() { awk -v p="$1" '$2 == p { for (i = 1; i <= NF; i++) if ($i ~ /^sent=/) s += substr($i, 6) } END { print s + 0 }' "$LOG"; }
cancel() { upd "$D" rollback >/dev/null 2>&1 || fail "cancel the pending update"; }

# 1. The static delta: the full bundle's head only (its release, for the
#    policy), then the delta; its frame and its copies make the image. This
#    device's image was not written by the updater: the id it hashed is the
#    delta's source check, the slot is not hashed a second time.
UPD_OPTS=-v delta_install static
assert_grep "debug: the active slot's image was hashed once in this run: its source" "$WORK/static.err"
assert_grep "static delta: [0-9.]* KiB downloaded, .* from the active slot, .* written" "$WORK/static.err"
[ "$downloaded" -gt 0 ] && [ "$downloaded" -le "$DSIZE" ] || fail "static delta: $downloaded bytes downloaded (the delta is $DSIZE bytes)"
assert_eq "$(grep -c "GET /v1.1.upd " "$LOG")" 1 "requests of the full bundle (its head only)"
grep "GET /v1.1.upd " "$LOG" | grep -q "range=bytes=0-" || fail "the full bundle's request is not its head: $(cat "$LOG")"
[ "$(sent "/$DELTA")" -le $((DSIZE + 20480)) ] || fail "the server sent $(sent "/$DELTA") bytes of the $DSIZE-byte delta"
echo "static delta: $downloaded bytes downloaded, $(sent /v1.1.upd) + $(sent "/$DELTA") sent (full bundle $(stat -c %s "$W/v1.1.upd"), delta $DSIZE)" >"$WORK/bytes.txt"
[ -n "${VERBOSE:-}" ] && cat "$WORK/bytes.txt" >&2

# The JSON progress: the phases in order, each ending complete.
json_phases "$WORK/static.json" delta-scan download readback ||
	fail "static delta: JSON progress phases"

# 2. Again (as a resumed install finds it): nothing downloaded or written.
cancel
delta_install again
assert_eq "$downloaded/$written" "0/0" "second install: bytes downloaded/written"
assert_eq "$reused" "$SIZE" "second install: bytes found in place"

# 3. A data block and a copied block of slot B lost: the one frame fetched
#    again, the two blocks written, nothing else.
cancel
head -c 4096 /dev/urandom | dd of="$D/slots/B.img" bs=4096 seek=103 conv=notrunc status=none
head -c 4096 /dev/urandom | dd of="$D/slots/B.img" bs=4096 seek=900 conv=notrunc status=none
delta_install resume
[ "$downloaded" -gt 0 ] && [ "$downloaded" -le "$DSIZE" ] || fail "resume: $downloaded bytes downloaded"
assert_eq "$written" 8192 "resume: bytes written"
assert_eq "$(grep -c "GET /$DELTA range=bytes=[0-9]*-[0-9]* " "$LOG")" 2 "resume: requests of the delta (the head, which brought the index, and one frame)"

# 3b. The frames come while the scan goes on: with the target slow to read
#    (each 1 MiB of the scan delayed), the frame it lacks, decided in the
#    first MiB, is downloaded before the scan's phase ends.
cancel
head -c 4096 /dev/urandom | dd of="$D/slots/B.img" bs=4096 seek=103 conv=notrunc status=none
UPDATER=$TOP/updater-fault UPDATER_FAULT_DELAY=delta-scan:250 delta_install overlap
python3 - "$WORK/overlap.json" <<'PY' || fail "the frame was not downloaded during the scan"
import json, sys
prog = [l for l in map(json.loads, open(sys.argv[1])) if l["type"] == "progress"]
scan = [p for p in prog if p["phase"] == "delta-scan"]
assert any(p["downloaded"] > 0 and not p["final"] and p["done"] < p["total"] for p in scan), scan
PY
assert_eq "$written" 4096 "overlap: bytes written"

# 4. A corrupt frame (under a valid signature): a warning, then the dynamic
#    delta, which finds the blocks in place and fetches what is missing.
cancel
cp "$W/$DELTA" "$WORK/good.delta"
python3 "$TOP/tests/lib/tamper.py" flip "$WORK/good.delta" "$W/$DELTA" 100 || fail "tamper"
dd if=/dev/zero of="$D/slots/B.img" bs=4096 seek=100 count=16 conv=notrunc status=none
PROGRESS=none delta_install corrupt
assert_grep "warning: static delta .*corrupt static delta: frame 0 .*; installing without it" "$WORK/corrupt.err"
assert_grep "(delta: .* downloaded" "$WORK/corrupt.err"
[ "$(sent /v1.1.upd)" -lt $(($(stat -c %s "$W/v1.1.upd") / 2)) ] || fail "the dynamic delta after a corrupt frame sent $(sent /v1.1.upd) bytes"

# 4b. A server that ignores ranges: the static delta's frames cannot be
#    fetched (a warning), nor the dynamic delta's: the whole bundle streamed.
cancel
cp "$WORK/good.delta" "$W/$DELTA"
dd if=/dev/zero of="$D/slots/B.img" bs=4096 seek=100 count=16 conv=notrunc status=none
stop_httpd
start_httpd "$W" --fault no-range --log "$LOG"
PROGRESS=none delta_install norange
assert_grep "warning: static delta .*; installing without it" "$WORK/norange.err"
assert_grep "warning: .*streaming the whole bundle instead" "$WORK/norange.err"
stop_httpd
start_httpd "$W" --log "$LOG"

# 5. A delta for another source image (v2.0's) under the device's name:
#    ignored with a warning, nothing written from it; the dynamic delta.
cancel
make_delta "$FIX/v2.0.upd" "$W/$DELTA"
PROGRESS=none delta_install other
assert_grep "warning: static delta .*does not hold its source image; installing without it" "$WORK/other.err"
assert_grep "(delta: " "$WORK/other.err"

# 6. No delta (404): an info line, the dynamic delta.
cancel
rm "$W/$DELTA"
PROGRESS=none delta_install none
assert_grep "info: no static delta for image ${ID:0:16}" "$WORK/none.err"
assert_grep "(delta: " "$WORK/none.err"

# 7. --full asks for no static delta.
cancel
cp "$WORK/good.delta" "$W/$DELTA"
PROGRESS=none delta_install full --full
grep -q '\.from-' "$LOG" && fail "--full asked for a static delta: $(cat "$LOG")"

# 8. A delta by name: alone. Onto a device that does not hold its source
#    (v2.0's delta): exit 3, the running slot and the environment untouched;
#    with --full: exit 2. Then the right one, by name, installs.
cancel
ID2=$(file_sha "$FIX/v2.0.img")
make_delta "$FIX/v2.0.upd" "$W/v1.1.upd.from-${ID2:0:16}"
expect_refused "$D" 3 "$WORK/byname" "does not hold its source image" \
	upd "$D" install "$URL/v1.1.upd.from-${ID2:0:16}"
expect_exit 2 "$WORK/byname-full" upd "$D" install --full "$URL/$DELTA"
assert_one_error "$WORK/byname-full" "is a static delta"
dd if=/dev/zero of="$D/slots/B.img" bs=4096 count=$(((SIZE + 4095) / 4096)) conv=notrunc status=none
: >"$LOG"
upd "$D" install "$URL/$DELTA" >"$WORK/good-byname" 2>&1 || { cat "$WORK/good-byname" >&2; fail "install the delta by name"; }
assert_eq "$(slot_sha "$D" B "$SIZE")" "$NEW_SHA" "slot B after the delta by name"
grep -q "GET /v1.1.upd " "$LOG" && fail "a delta by name fetched the full bundle: $(cat "$LOG")"

# 9. The booted image's id recorded (as init records a factory image): the
#    delta is taken on its word, the running slot not hashed. When that slot
#    has changed since (block 500, the source of two copies), the delta's
#    image check fails: a warning, then the dynamic delta makes the image.
cancel
upd "$D" init --force >/dev/null 2>&1 || fail "init --force"
grep -q "^target\.A\.digest=$ID" "$D/data/updater/state" || fail "init did not record the booted image's id"
dd if=/dev/zero of="$D/slots/B.img" bs=4096 count=$(((SIZE + 4095) / 4096)) conv=notrunc status=none
UPD_OPTS=-v delta_install byid
assert_grep "debug: the booted image's id is the static delta's source digest: the active slot is not hashed" "$WORK/byid.err"
assert_grep "static delta: [0-9.]* KiB downloaded" "$WORK/byid.err"
cancel
dd if=/dev/zero of="$D/slots/B.img" bs=4096 count=$(((SIZE + 4095) / 4096)) conv=notrunc status=none
head -c 4096 /dev/urandom | dd of="$D/slots/A.img" bs=4096 seek=500 conv=notrunc status=none
snapshot "$D"
PROGRESS=none delta_install changed
assert_grep "warning: static delta .*: .*does not match .*(the active slot may have changed since its image was recorded); installing without it" "$WORK/changed.err"
assert_grep "(delta: " "$WORK/changed.err"
echo ok

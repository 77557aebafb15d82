# What the ostree backend downloads, counted from the server's request log.
# With a static delta from the booted commit to the target on the server:
# the delta's bytes (superblock + parts) and nothing fetched twice, within
# 1.1x of the delta on disk (libostree 2022.7's own delta pull fetches loose
# objects alongside and can reach 2.4x, docs/ostree-server.md). Without a
# delta: no more than a plain `ostree pull` of the same commit into a copy of
# the device's repository, measured here as the baseline.
. "$TOP/tests/lib/common.sh"
. "$TOP/tests/lib/ostree.sh"
set -u
ostree_fixtures
LOG=$WORK/httpd.log
start_httpd "$OFIX/srv" --log "$LOG"
trap 'stop_httpd; ostree_rm_device "$WORK/a"; ostree_rm_device "$WORK/b"' EXIT
ostree_clone_device "$OFIX/device" "$WORK/a" "$URL/repo"
ostree_clone_device "$OFIX/device" "$WORK/b" "$URL/repo"

# objects FROM_LINE: the object files (.filez, .dirtree, .dirmeta) requested
# after FROM_LINE, one per line, sorted, duplicates kept.
objects() {
	tail -n +"$(($1 + 1))" "$LOG" | awk '$2 ~ /^\/repo\/objects\/.*\.(filez|dirtree|dirmeta)$/ { print $2 }' | sort
}
# size_of_dir DIR: bytes of the files in DIR
size_of_dir() { find "$1" -type f -printf '%s\n' | awk '{ n += $1 } END { print n + 0 }'; }

# --- v1 -> v2 with the delta C1 -> C2 on the server ------------------------
DELTA=$OFIX/srv/repo/$(ostree_delta_path "$C1" "$C2")
[ -f "$DELTA/superblock" ] && [ -f "$DELTA/0" ] || fail "fixture: no delta C1 -> C2 at $DELTA"
delta=$(size_of_dir "$DELTA")
n0=$(ostree_log_lines "$LOG")
expect_exit 0 "$WORK/install-delta" ostree_upd "$WORK/a" --progress=bar install "$C2"
# The bar: the download and the read-back (verify, in objects, not MiB) end at 100 %.
tr '\r' '\n' <"$WORK/install-delta" >"$WORK/bar"
grep -q '^download .* 100% ' "$WORK/bar" || { cat "$WORK/bar" >&2; fail "the download bar does not end at 100 %"; }
grep -Eq '^verify .* 100% +([0-9]+)/\1 objects [ 0-9]+ objects/s$' "$WORK/bar" ||
	{ cat "$WORK/bar" >&2; fail "the verify bar does not end at 100 % counting objects"; }
! grep -q '^verify .*MiB' "$WORK/bar" || { cat "$WORK/bar" >&2; fail "the verify bar counts MiB"; }
assert_grep "applied static delta" "$WORK/install-delta"
got=$(ostree_log_bytes "$LOG" "$n0")
echo "with delta: downloaded $got bytes, delta on disk $delta bytes" \
	"(ratio $(awk "BEGIN { printf \"%.4f\", $got / $delta }"))"
[ "$got" -ge "$delta" ] || fail "downloaded $got bytes, less than the delta ($delta): was it used?"
[ $((got * 10)) -le $((delta * 11)) ] || { tail -n +"$((n0 + 1))" "$LOG" >&2; fail "downloaded $got bytes for a delta of $delta (more than 1.1x)"; }
# Every part once, and no content object fetched loose next to the delta.
for f in "$DELTA"/*; do
	n=$(tail -n +"$((n0 + 1))" "$LOG" | grep -c " /repo/$(ostree_delta_path "$C1" "$C2")/$(basename "$f") .*status=20[06] sent=$(stat -c %s "$f")\$")
	assert_eq "$n" 1 "requests that delivered all of delta file $(basename "$f")"
done
assert_eq "$(objects "$n0" | grep -c '\.filez$')" 0 "file objects fetched loose with a delta"
ostree --repo="$WORK/a/sysroot/ostree/repo" fsck -q >"$WORK/fsck-a" 2>&1 || { cat "$WORK/fsck-a" >&2; fail "fsck after the delta install"; }

# --- v1 -> v3: no delta from C1 on the server ---------------------------------
# Baseline: a plain pull of the same commit into a copy of the device's repository.
n0=$(ostree_log_lines "$LOG")
ostree_plain_pull "$WORK/b" "sim/stable@$C3"
plain=$(ostree_log_bytes "$LOG" "$n0")
objects "$n0" >"$WORK/plain-objects"
n0=$(ostree_log_lines "$LOG")
expect_exit 0 "$WORK/install-plain" ostree_upd "$WORK/b" --progress=json install "$C3"
assert_grep "no static delta" "$WORK/install-plain"
# The download's progress counts objects besides bytes: the last line of the
# phase has fetched every object requested, and its bytes are the download's.
"$PYTHON" - "$WORK/install-plain" <<'PY' || fail "no object counts in the download's JSON progress"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
dl = [l for l in lines if l.get("type") == "progress" and l["phase"] == "download"]
last = dl[-1]
assert last["final"] and last["objects"] == last["objects_total"] > 10 and last["done"] > 100000, last
# Every line says its unit; the total is known (> 0) on every verify line, and
# the download's byte total once it ended; each phase's last line is final
# with done == total.
prog = [l for l in lines if l.get("type") == "progress"]
assert [l["phase"] for l in prog if l["final"]] == ["download", "verify"], prog
for l in prog:
    assert l["unit"] == {"download": "bytes", "verify": "objects"}[l["phase"]], l
    assert l["total"] > 0 or (l["phase"] == "download" and not l["final"]), l
    assert l["final"] == (l is [p for p in prog if p["phase"] == l["phase"]][-1]), l
for ph in ("download", "verify"):
    last = [p for p in prog if p["phase"] == ph][-1]
    assert last["final"] and last["done"] == last["total"] > 0, (ph, last)
PY
got=$(ostree_log_bytes "$LOG" "$n0")
objects "$n0" >"$WORK/upd-objects"
echo "without delta: downloaded $got bytes, plain ostree pull $plain bytes" \
	"(ratio $(awk "BEGIN { printf \"%.4f\", $got / $plain }"))"
# The same objects, each once, as the plain pull...
diff -u "$WORK/plain-objects" "$WORK/upd-objects" >&2 || fail "objects fetched differ from a plain pull"
[ -z "$(uniq -d "$WORK/upd-objects")" ] || fail "objects fetched twice: $(uniq -d "$WORK/upd-objects")"
# ...and not a byte more but the signatures once again: the updater asks for a
# delta with a HEAD request (no 404 page), fetches the commit object and its
# detached signatures before any content (they are verified first), and
# libostree's content pull fetches the signatures again (it always does, for
# a commit it holds).
sigs=$(stat -c %s "$OFIX/srv/repo/objects/${C3:0:2}/${C3:2}.commitmeta")
[ "$got" -le $((plain + sigs)) ] || { tail -n +"$((n0 + 1))" "$LOG" >&2; fail "downloaded $got bytes, a plain pull takes $plain (+ $sigs of signatures)"; }
tail -n +"$((n0 + 1))" "$LOG" | grep -q '^HEAD .*/superblock .*status=404 sent=0$' ||
	fail "the delta was not looked for with a HEAD request"
[ "$(tail -n +"$((n0 + 1))" "$LOG" | grep -c "/${C3:2}\.commitmeta ")" = 2 ] ||
	fail "the commit's signatures were not fetched exactly twice (verified first, then by the pull)"
[ "$(tail -n +"$((n0 + 1))" "$LOG" | grep -c "/${C3:2}\.commit ")" = 1 ] ||
	fail "the commit object was fetched more than once"
ostree --repo="$WORK/b/sysroot/ostree/repo" fsck -q >"$WORK/fsck-b" 2>&1 || { cat "$WORK/fsck-b" >&2; fail "fsck after the plain install"; }

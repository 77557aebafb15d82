# The ostree backend against a failing server: an unknown ref, a missing
# repository (404), a server error (500), a server that dies in the middle
# of a pull. Exit 4, one message, the booted deployment and the boot state
# untouched; after the server comes back a rerun resumes the pull (fetches
# less than a whole pull) and completes.
. "$TOP/tests/lib/common.sh"
. "$TOP/tests/lib/ostree.sh"
set -u
ostree_test_device
mkdir -p "$WORK/empty"
ostree_snapshot "$D"

# status --json's state and last_error
state() { ostree_upd "$D" status --json | "$PYTHON" -c 'import json, sys; s = json.load(sys.stdin); print(s["state"], s["last_error"] or "")'; }

# A ref the server does not have.
expect_exit 4 "$WORK/noref" ostree_upd "$D" install sim/nonexistent
ostree_assert_error "$WORK/noref" "sim/nonexistent"
expect_exit 4 "$WORK/noref-check" ostree_upd "$D" check sim/nonexistent
ostree_assert_error "$WORK/noref-check" "sim/nonexistent"
ostree_assert_untouched "$D" "unknown ref"
stop_httpd

# The repository is not on the server: every request is a 404.
start_httpd "$WORK/empty"
ostree_set_url "$D" "$URL/repo"
expect_exit 4 "$WORK/404" ostree_upd "$D" install "$C2"
ostree_assert_error "$WORK/404" "404"
expect_exit 4 "$WORK/404-default" ostree_upd "$D" install
ostree_assert_error "$WORK/404-default" "404"
ostree_assert_untouched "$D" "404"
stop_httpd

# Server errors.
start_httpd "$OFIX/srv" --fault status=500
ostree_set_url "$D" "$URL/repo"
expect_exit 4 "$WORK/500" ostree_upd "$D" install "$C2"
ostree_assert_error "$WORK/500" "500"
ostree_assert_untouched "$D" "500"
case $(state) in "failed "*500*) ;; *) fail "state after the 500: $(state)" ;; esac
stop_httpd

# The whole pull of v3 (no delta from v1 on the server), for comparison:
# a plain `ostree pull` into a copy of the device's repository.
LOG=$WORK/full.log
start_httpd "$OFIX/srv" --log "$LOG"
ostree_set_url "$D" "$URL/repo"
ostree_plain_pull "$D" "sim/stable@$C3"
full=$(ostree_log_bytes "$LOG")
stop_httpd

# A slow server that dies after some objects arrived: the updater gives up
# (exit 4) with nothing deployed; what it fetched stays in the repository.
LOG1=$WORK/first.log
# complete LOG: body bytes of the objects the server delivered whole
complete() { awk '$2 ~ /\/objects\// && / status=200 / && !/fault=/ { sub(/sent=/, "", $5); n += $5 } END { print n + 0 }' "$1"; }
start_httpd "$OFIX/srv" --fault drip=100000 --log "$LOG1"
ostree_set_url "$D" "$URL/repo"
ostree_upd "$D" install "$C3" >"$WORK/cut" 2>&1 &
pid=$!
for _ in $(seq 1 $((200 * SLOW))); do
	[ "$(complete "$LOG1")" -ge 100000 ] && break
	sleep 0.05
done
kill -9 "$HTTPD_PID"
wait "$HTTPD_PID" 2>/dev/null
HTTPD_PID=
wait $pid
assert_eq "$?" 4 "exit status of the install whose server died"
ostree_assert_error "$WORK/cut" "pull"
ostree_assert_untouched "$D" "server killed mid-pull"
case $(state) in "failed "*) ;; *) fail "state after the server died: $(state)" ;; esac
got1=$(complete "$LOG1")
[ "$got1" -ge 100000 ] || fail "only $got1 bytes of objects arrived before the server died"

# The server is back (another port): the rerun fetches only what is missing.
LOG2=$WORK/second.log
start_httpd "$OFIX/srv" --log "$LOG2"
ostree_set_url "$D" "$URL/repo"
expect_exit 0 "$WORK/resume" ostree_upd "$D" install "$C3"
second=$(ostree_log_bytes "$LOG2")
echo "whole pull $full bytes; $got1 bytes of whole objects arrived before the server died; the rerun took $second"
# What arrived whole is not fetched again: the rerun costs the whole pull
# minus that (plus the commit's metadata and the delta probe, under 2 KiB).
[ "$second" -le $((full - got1 + 2048)) ] ||
	fail "the rerun downloaded $second bytes: more than the whole pull ($full) minus what had arrived ($got1)"
awk '$2 ~ /\/objects\// && / status=200 / && !/fault=/ { print $2 }' "$LOG1" | sort -u >"$WORK/got1"
awk '$2 ~ /\.(filez|dirtree|dirmeta)$/ { print $2 }' "$LOG2" | sort -u >"$WORK/got2"
[ -z "$(comm -12 "$WORK/got1" "$WORK/got2")" ] || fail "fetched again after the cut: $(comm -12 "$WORK/got1" "$WORK/got2")"
ostree_sim_boot "$D" >/dev/null
assert_eq "$(ostree_booted "$D")" "$C3.0" "the resumed install boots"
ostree --repo="$D/sysroot/ostree/repo" fsck -q >"$WORK/fsck" 2>&1 || { cat "$WORK/fsck" >&2; fail "fsck after the resumed pull"; }

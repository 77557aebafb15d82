# Network faults: 404, 500, a server that stalls mid-body, connection resets
# (resumed with a range request, then given up after the retries), a server
# that ignores ranges. Failures exit 4 with the running system untouched.
. "$TOP/tests/lib/common.sh"
set -u
dualbank_test_device v2.0.upd
snapshot "$D"

start_httpd "$W" --fault status=404
expect_exit 4 "$WORK/404" upd "$D" install "$URL/v2.0.upd"
assert_one_error "$WORK/404" "404"
# The error names the URL once ("download URL: HTTP 404", not "fetch URL: download URL: ...").
[ "$(grep -o "$URL/v2.0.upd" "$WORK/404" | wc -l)" = 1 ] || { cat "$WORK/404" >&2; fail "404: the URL is repeated"; }
stop_httpd
assert_untouched "$D"

# A local file that does not exist is a wrong argument (exit 2), not a download error.
expect_exit 2 "$WORK/nofile" upd "$D" install "$WORK/no-such.upd"
assert_one_error "$WORK/nofile" "open $WORK/no-such.upd: No such file or directory"
grep -q download "$WORK/nofile" && fail "a missing local file is reported as a download"
assert_untouched "$D"

start_httpd "$W" --fault status=500
expect_exit 4 "$WORK/500" upd "$D" install "$URL/v2.0.upd"
assert_one_error "$WORK/500" "500"
stop_httpd
assert_untouched "$D"

# server.timeout is 5 s in the device config: a stall is given up, not waited out.
start_httpd "$W" --fault stall-after=100000
t0=$(date +%s)
expect_exit 4 "$WORK/stall" upd "$D" install "$URL/v2.0.upd"
t1=$(date +%s)
stop_httpd
assert_one_error "$WORK/stall" "stall"
[ $((t1 - t0)) -le 40 ] || fail "stall took $((t1 - t0)) s to give up"
assert_untouched "$D"

# Resets on every request: retried (server.retries = 2), then given up.
start_httpd "$W" --fault reset-after=200000
expect_exit 4 "$WORK/reset" upd "$D" install "$URL/v2.0.upd"
stop_httpd
assert_one_error "$WORK/reset" "after 2 retries"
assert_untouched "$D"

# Two resets, then a good connection: the download resumes where it stopped.
start_httpd "$W" --fault reset-after=300000:times=2 --log "$WORK/httpd.log"
expect_exit 0 "$WORK/resume" upd "$D" install "$URL/v2.0.upd"
stop_httpd
grep -q "bytes=" "$WORK/httpd.log" || fail "no range request in the server log"
assert_eq "$(slot_sha "$D" B "$(stat -c %s "$FIX/v2.0.img")")" "$(file_sha "$FIX/v2.0.img")" "slot B after resumed download"

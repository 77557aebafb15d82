# A hostile or broken server, against `updater install` (dual-bank): a
# Content-Length larger or smaller than the body, redirect loops and chains,
# an https server redirecting to http, a drip too slow to count as moving,
# an oversized header, an oversized body. Each failure is the download exit
# code (4) with one error line and the running system untouched; where the
# updater can still get every byte right (a chain within the limit, junk
# after the file) the install completes with the exact image.
# t_http_faults.sh has 404, 500, stalls and resets; tests/unit/test_source.c
# the same faults against lib/source*.c alone.
. "$TOP/tests/lib/common.sh"
set -u
dualbank_test_device v2.0.upd
snapshot "$D"
IMG_BYTES=$(stat -c %s "$FIX/v2.0.img")

# must_fail NAME WHY HTTPD-ARGS...: install from a server started with
# HTTPD-ARGS fails with exit 4, one error line mentioning WHY, nothing touched.
must_fail() {
	local name=$1 why=$2
	shift 2
	start_httpd "$W" "$@" --log "$WORK/$name.log"
	expect_exit 4 "$WORK/$name" upd "$D" install "$URL/v2.0.upd"
	stop_httpd
	assert_one_error "$WORK/$name" "$why"
	assert_untouched "$D"
}

# Content-Length larger than what is sent: every response ends early (FIN).
# Retried from where it stopped (server.retries = 2), then given up.
must_fail closed-early "connection closed early after 2 retries" --fault close-after=150000
[ "$(grep -c 'fault=close' "$WORK/closed-early.log")" = 3 ] ||
	fail "expected 3 cut responses: $(cat "$WORK/closed-early.log")"

# Content-Length smaller than the body. Kept alive, the bytes past it are
# where the next status line should be: a bad response, not retried.
must_fail long-body "bad response from server" --fault long-body=100000
# With the connection closed after each response, the bytes past the
# Content-Length are dropped, and what is missing is asked for again until
# a response brings none of it (the head's range is under 100000 bytes).
must_fail long-body-close "server sent none of the range it answered after 2 retries" \
	--fault long-body=100000:close

# Redirect loop (Location: the same URL): libcurl's limit of 5 stops it.
must_fail redirect-loop "Maximum (5) redirects followed" --fault redirect=
assert_eq "$(grep -c 'status=302' "$WORK/redirect-loop.log")" 6 "requests of the redirect loop"

# A chain one hop longer than the limit.
must_fail redirect-chain "Maximum (5) redirects followed" --fault redirect-chain=6

# Response headers past libcurl's 100 KiB limit: the server's fault, not
# the device's memory (libcurl 7.88 calls it "out of memory").
must_fail huge-header "header" --fault huge-header=200000

# A slowloris: a byte every 2 s is never "no byte for 5 s" (server.timeout),
# but it is below libcurl's 1 byte/s floor, so it counts as a stall.
t0=$(date +%s)
must_fail drip "server stalled" --fault drip=0.5
t1=$(date +%s)
[ $((t1 - t0)) -le 60 ] || fail "a 0.5 byte/s server took $((t1 - t0)) s to give up on"

# https that redirects to http: refused, and the http server never asked.
if openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
	-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
	-keyout "$WORK/tls.key" -out "$WORK/tls.pem" >/dev/null 2>&1; then
	sed -i "s|^server = { |server = { ca = \"$WORK/tls.pem\"; |" "$D/updater.conf"
	# The 5 s stall limit is not what this case tests, and a TLS handshake
	# under valgrind can take longer.
	sed -i "s|timeout = 5;|timeout = $((30 * SLOW));|" "$D/updater.conf"
	grep -q "^server = .*timeout = $((30 * SLOW));" "$D/updater.conf" ||
		fail "server.timeout not set in $D/updater.conf"
	start_httpd "$W" --log "$WORK/plain.log"
	PLAIN=$URL PLAIN_PID=$HTTPD_PID
	start_httpd "$W" --tls-cert "$WORK/tls.pem" --tls-key "$WORK/tls.key" --fault "redirect=$PLAIN"
	TLS_URL=https://127.0.0.1:$PORT
	expect_exit 4 "$WORK/downgrade" upd "$D" install "$TLS_URL/v2.0.upd"
	stop_httpd
	HTTPD_PID=$PLAIN_PID
	stop_httpd
	assert_one_error "$WORK/downgrade" "https may only redirect to https"
	[ ! -s "$WORK/plain.log" ] || fail "the http server was asked: $(cat "$WORK/plain.log")"
	assert_untouched "$D"
else
	fail "openssl could not make a self-signed certificate"
fi

# What can still be done right is: these installs complete, with the image
# exactly (each on a device of its own, so the failures above start clean).
# must_install NAME HTTPD-ARGS...
must_install() {
	local name=$1 d
	shift
	d=$(new_device "dev-$name")
	start_httpd "$W" "$@" --log "$WORK/$name.log"
	expect_exit 0 "$WORK/$name" upd "$d" install "$URL/v2.0.upd"
	stop_httpd
	assert_eq "$(slot_sha "$d" B "$IMG_BYTES")" "$(file_sha "$FIX/v2.0.img")" "slot B after $name"
}

# A chain of 5 redirects, the most that is followed.
must_install redirect-chain-5 --fault redirect-chain=5
hops=$(grep -c '^GET /hop/[0-4]/v2.0.upd .*status=302' "$WORK/redirect-chain-5.log")
ranges=$(grep -c '^GET /v2.0.upd .*status=206' "$WORK/redirect-chain-5.log")
[ "$ranges" -ge 1 ] && [ "$hops" = $((4 * ranges)) ] ||
	fail "redirect chain: $hops hops for $ranges ranges: $(cat "$WORK/redirect-chain-5.log")"

# No ranges, and 64 MiB of zeros after the file: only the bundle's bytes are
# read, and the transfer is cut once the payload is in.
must_install oversize --fault no-range,oversize=67108864
awk '/^GET / { sub(/sent=/, "", $5); if ($5 + 0 >= 67108864) bad = 1 } END { exit bad }' \
	"$WORK/oversize.log" || fail "an oversized response was read to its end: $(cat "$WORK/oversize.log")"

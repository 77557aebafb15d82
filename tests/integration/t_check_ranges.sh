# `check` reads only the manifest: a range request against lighttpd (which
# honours ranges) and against a server that ignores them; exit 0, 10 and 3.
. "$TOP/tests/lib/common.sh"
set -u
dualbank_test_device v1.0.upd v2.0.upd
make_bundle "$FIX/v2.0.img" 2.5 "$FIX/other.pem" "$W/badsig.upd"

# Our server, ignoring ranges: check still works and does not read the payload.
start_httpd "$W" --fault no-range --log "$WORK/norange.log"
expect_exit 0 "$WORK/c1" upd "$D" check "$URL/v2.0.upd"
expect_exit 10 "$WORK/c2" upd "$D" check "$URL/v1.0.upd"
expect_exit 3 "$WORK/c3" upd "$D" check "$URL/badsig.upd"
assert_one_error "$WORK/c3" "signature"
stop_httpd

if command -v lighttpd >/dev/null; then
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	cat >"$WORK/lighttpd.conf" <<CONF
server.document-root = "$W"
server.bind = "127.0.0.1"
server.port = $port
server.errorlog = "$WORK/lighttpd.err"
accesslog.filename = "$WORK/lighttpd.access"
server.modules = ("mod_accesslog")
CONF
	lighttpd -D -f "$WORK/lighttpd.conf" &
	lpid=$!
	trap 'kill $lpid 2>/dev/null' EXIT
	for _ in $(seq 1 50); do (echo >/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
	expect_exit 0 "$WORK/l1" upd "$D" check "http://127.0.0.1:$port/v2.0.upd"
	expect_exit 0 "$WORK/l2" upd "$D" install "http://127.0.0.1:$port/v2.0.upd"
	kill $lpid
	wait $lpid 2>/dev/null # lighttpd writes its access log out when it stops
	# 206: only the head was sent, not the whole bundle.
	awk '$9 == 206' "$WORK/lighttpd.access" | grep -q v2.0.upd || { cat "$WORK/lighttpd.access"; fail "no 206 range answer"; }
	# The first request is check's: at most the bundle head (16 + 16384 + 4096 bytes).
	sent=$(awk '$9 == 206 {print $10}' "$WORK/lighttpd.access" | head -1)
	[ "$sent" -le 20496 ] || fail "check downloaded $sent bytes, more than a bundle head"
else
	echo "lighttpd not installed: range test against it skipped" >&2
	exit 1
fi

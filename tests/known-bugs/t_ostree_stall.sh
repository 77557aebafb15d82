# A server that stops sending in the middle of a body (httpd.py --fault
# stall-after) with server.timeout = 2 s: the ostree backend gives up (exit 4,
# one message naming the stall) within a few timeouts, nothing changed; then
# the install completes from a healthy server. Both download paths: a static
# delta's part (the updater's own downloader) and loose objects (libostree's
# pull). Every updater run is capped, so a hang fails the test instead of
# hanging it.
. "$TOP/tests/lib/common.sh"
. "$TOP/tests/lib/ostree.sh"
set -u
ostree_fixtures
D=$WORK/dev
start_httpd "$OFIX/srv" --fault stall-after=100000
trap 'stop_httpd; ostree_rm_device "$D"' EXIT
ostree_clone_device "$OFIX/device" "$D" "$URL/repo"
sed -i 's/timeout = 5; retries = 2;/timeout = 2; retries = 1;/' "$D/updater.conf"
grep -q 'timeout = 2; retries = 1;' "$D/updater.conf" || fail "could not set server.timeout in $D/updater.conf"
ostree_snapshot "$D"
CAP=12 # s: 2 s x (1 + 1 retry) plus the rest, with a wide margin

# stalled OUT ARGS...: `updater ARGS` on the device, killed (with its process
# group) after CAP seconds; it must give up by itself with exit 4.
stalled() {
	local out=$1 t0 rc
	shift
	t0=$(date +%s)
	timeout -s KILL "$CAP" bash -c '. "$1"; shift; ostree_nofreeze "$@"' _ "$TOP/tests/lib/ostree.sh" \
		"$UPDATER" --config="$D/updater.conf" --progress=none "$@" >"$out" 2>&1
	rc=$?
	[ "$rc" != 137 ] || { cat "$out" >&2; fail "'updater $*' still ran after $CAP s against a stalled server (server.timeout = 2 s)"; }
	[ "$rc" = 4 ] || { cat "$out" >&2; fail "'updater $*' exited $rc against a stalled server, expected 4"; }
	echo "updater $*: gave up after $(($(date +%s) - t0)) s"
}

# The delta v1 -> v2: its part (356 KiB) stalls after 100 kB.
stalled "$WORK/delta" install "$C2"
ostree_assert_error "$WORK/delta" "stalled"
ostree_assert_untouched "$D" "stalled delta download"

# No delta v1 -> v3: libostree's object pull; the kernel (256 KiB) stalls.
stalled "$WORK/objects" install "$C3"
ostree_assert_error "$WORK/objects" "stalled"
ostree_assert_untouched "$D" "stalled object pull"

# A healthy server: both complete.
stop_httpd
start_httpd "$OFIX/srv"
ostree_set_url "$D" "$URL/repo"
expect_exit 0 "$WORK/ok" ostree_upd "$D" install "$C3"

# A server that stops sending in the middle of a body (httpd.py --fault
# stall-after) with server.timeout = 2 s: the ostree backend gives up (exit 4,
# one message naming the stall) within a few timeouts, nothing changed; then
# the install completes from a healthy server. Both download paths: a static
# delta's part (the updater's own downloader) and loose objects (libostree's
# pull, in a child process killed after server.timeout). Every updater run is
# capped, so a hang fails the test instead of hanging it. Last, local work
# is not a stall: a delta whose apply takes longer than server.timeout installs.
. "$TOP/tests/lib/common.sh"
. "$TOP/tests/lib/ostree.sh"
set -u
ostree_test_device --fault stall-after=100000
# server.timeout = 2 s, or 2 s x SLOW when the updater runs slowed down
# (valgrind: tests/checked/run.sh sets TEST_SLOWDOWN).
TMO=$((2 * SLOW))
sed -i "s/timeout = [0-9]*; retries = 2;/timeout = $TMO; retries = 1;/" "$D/updater.conf"
grep -q "timeout = $TMO; retries = 1;" "$D/updater.conf" || fail "could not set server.timeout in $D/updater.conf"
ostree_snapshot "$D"
CAP=$((12 * SLOW)) # s: the timeout x (1 + 1 retry) plus the rest, with a wide margin

# stalled OUT ARGS...: `updater ARGS` on the device, killed (with its process
# group) after CAP seconds; it must give up by itself with exit 4.
stalled() {
	local out=$1 t0 rc
	shift
	t0=$(date +%s)
	timeout -s KILL "$CAP" bash -c '. "$1"; shift; ostree_nofreeze "$@"' _ "$TOP/tests/lib/ostree.sh" \
		"$UPDATER" --config="$D/updater.conf" --progress=none "$@" >"$out" 2>&1
	rc=$?
	[ "$rc" != 137 ] || { cat "$out" >&2; fail "'updater $*' still ran after $CAP s against a stalled server (server.timeout = $TMO s)"; }
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

# The pull runs in a child process (backends/ostree/pull_proc.c) that must
# die with the updater, as in a power cut: kill -9 the updater alone mid-pull.
ostree_nofreeze "$UPDATER" --config="$D/updater.conf" --progress=none install "$C3" >"$WORK/killed" 2>&1 &
job=$!
child= upd=
for _ in $(seq $((100 * SLOW))); do
	# The content pull's, not the metadata's: started as "content-wait"
	# beside the metadata step, it pulls once it has its arguments.
	child=$(pgrep -f "__helper ostree [0-9]+ [0-9]+ $D/updater.conf content") &&
		upd=$(ps -o ppid= -p "$child" | tr -d ' ') && [ -n "$upd" ] && break
	sleep 0.1
done
[ -n "$upd" ] || { kill "$job"; fail "no pull child process of the updater"; }
sleep "$SLOW" # into the pull, which stalls for server.timeout (2 s)
tr '\0' ' ' <"/proc/$upd/cmdline" | grep -q -- "--config=$D/updater.conf .*install" ||
	fail "the pull process' parent $upd is not the updater"
kill -9 "$upd"
wait "$job" 2>/dev/null
for _ in $(seq $((50 * SLOW))); do kill -0 "$child" 2>/dev/null || break; sleep 0.1; done
! kill -0 "$child" 2>/dev/null || fail "the pull process $child outlived the killed updater"
ostree_assert_untouched "$D" "updater killed mid-pull"

# A healthy server: both complete.
stop_httpd
start_httpd "$OFIX/srv"
ostree_set_url "$D" "$URL/repo"

# Applying a delta is local work, not a stalled server: with the apply
# slowed to server.timeout + 2 s (the fault build's UPDATER_FAULT_DELAY, as
# on slow flash), the delta install completes and the pull process is not
# killed (it was, three times, before 2026-12-06).
slow=$(((TMO + 2) * 1000))
UPDATER_FAULT_DELAY=delta-apply:$slow expect_exit 0 "$WORK/slow-apply" \
	env UPDATER="$TOP/updater-fault" bash -c '. "$1"; shift; ostree_upd "$@"' _ "$TOP/tests/lib/ostree.sh" \
	"$D" -v install "$C2"
grep -q "applied static delta" "$WORK/slow-apply" || { cat "$WORK/slow-apply" >&2; fail "the slow-apply install did not apply the delta"; }
! grep -q "no data for" "$WORK/slow-apply" || { cat "$WORK/slow-apply" >&2; fail "applying the delta was taken for a stalled server"; }
expect_exit 0 "$WORK/ok" ostree_upd "$D" install "$C3"

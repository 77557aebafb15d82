#!/bin/bash
# kill -9 at random moments, ostree backend (part of `make powercut`).
#
# RUNS (default 50) times: a fresh factory device (1.0 booted), the real
# ./updater installing over HTTP from tests/lib/httpd.py with
# --fault drip=RATE (so the install takes about DRIP_SECONDS, default 1 s),
# SIGKILL of its whole process group (it runs under setsid) at a moment
# drawn with a seeded RNG, then the checks of the sweep
# (tests/powercut/ostree.sh: os_after_cut) and a normal install from a
# server without the drip, to the end (os_recover). Odd runs install 3.0
# (a pull of objects), even runs 2.0 (a static delta the updater downloads
# itself, then the pull).
#
# The moments (what SEED reproduces), two kinds in turn:
#   t:MS        a delay drawn uniformly over the whole install;
#   c:N:MS      once the install has made N changes under the sysroot (N
#               drawn uniformly over the changes of a whole install, counted
#               by tests/powercut/cutter.c, which tells through a FIFO when
#               change N is made and cuts nothing itself), then a delay of
#               0..C_MS ms (default 3): the deploy, which makes most of the
#               changes, takes a small part of the time. With 0..10 ms (and an
#               awk before the sleep), 10 of 24 such runs had finished before
#               their kill (measured here); C_MS keeps most of them kills.
# A run whose updater finished (exit 0) before its kill came is checked all
# the same but counted apart: the figures count the runs really killed.
# Which state the kill landed in comes from the --progress=json events:
# "activated" printed (or install exited 0) means the new deployment is the
# default; "post-install" last means it may or may not be; earlier, not.
#
# SEED=N reproduces the draw (the seed is printed; the default is random).
# Env: RK_JOBS (workers, default twice the CPUs), RUNS, DRIP_SECONDS, C_MS.
cd "$(dirname "$0")/../.." || exit 1
TOP=$PWD
export TOP
. tests/powercut/lib.sh
. tests/lib/ostree.sh
. tests/powercut/ostree.sh
set -u
# Most of a run is waiting for the kill: twice as many workers as CPUs.
PC_JOBS=${RK_JOBS:-$((PC_JOBS * 2))}
SEED=${SEED:-$(od -An -N3 -tu4 /dev/urandom | tr -d ' ')}
RUNS=${RUNS:-50}
DRIP_SECONDS=${DRIP_SECONDS:-1}
C_MS=${C_MS:-3}
[ -x "$UPDATER" ] || fail "no $UPDATER: run 'make'"
[ -f "$OS_CUTTER" ] || fail "no $OS_CUTTER: run 'make build/tests/libcutter.so'"
echo "random-kill-ostree: seed $SEED (SEED=$SEED reproduces the draw), $RUNS runs"
t0=$(date +%s.%N)
pc_workdir random-kill-ostree
cp "$OS_CUTTER" "$WORK/bin/libcutter.so"
OS_CUTTER=$WORK/bin/libcutter.so
cleanup() {
	for p in ${SLOW_PID:-} ${FAST_PID:-}; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
	[ -n "${KEEP:-}" ] || for d in "$WORK"/dev.* "$WORK"/list.* "$WORK"/osf/pristine; do ostree_rm_device "$d"; done
}
trap cleanup EXIT
ostree_fixtures
start_httpd "$OFIX/srv"
FAST_PID=$HTTPD_PID FAST_URL=$URL/repo
HTTPD_PID=
os_fixtures "$FAST_URL"
NOFREEZE=()
[ "$(id -u)" != 0 ] || NOFREEZE=(setpriv --bounding-set=-sys_admin --)

# start_install DEV COMMIT [N]: the real updater, in a process group of its own,
# in the background (sets PID). With N, the shim counts its changes (in
# DEV/ops.counter) and, at change N (0: never), writes to the FIFO
# DEV/notify, which the caller holds open (fd 7).
start_install() {
	local d=$1 c=$2
	local -a env=()
	if [ -n "${3:-}" ]; then
		head -c 24 /dev/zero >"$d/ops.counter"
		env=(LD_PRELOAD="$OS_CUTTER" CUT_ROOT="$d/sysroot" CUT_COUNTER="$d/ops.counter"
			CUT_NOTIFY="$d/notify" CUT_NOTIFY_AT="$3")
	fi
	env "${env[@]}" setsid "${NOFREEZE[@]}" "$UPDATER" --config="$d/updater.conf" --progress=json \
		install "$c" >"$d/kill.json" 2>"$d/kill.err" </dev/null &
	PID=$!
}

# The references of a whole install of each update (os_reference), its
# length in changes, then the slow server and the time an install takes
# with it, here and now.
for name in v3 v2; do
	case $name in v3) c=$C3 v=3.0 ;; v2) c=$C2 v=2.0 ;; esac
	d=$WORK/list.$name
	os_reset "$OSF/pristine" "$d"
	start_install "$d" "$c" 0
	wait "$PID" || fail "a whole install of $v failed: $(tail -n 2 "$d/kill.err")"
	os_reference "$d" "$name" "$c" "$v"
	od -An -tu8 -N8 "$d/ops.counter" | tr -d ' ' >"$WORK/$name.changes"
	[ "$(cat "$WORK/$name.changes")" -ge 300 ] || fail "only $(cat "$WORK/$name.changes") changes in an install of $v"
done
# libostree fetches objects several at a time; the largest (the kernel,
# 256 KiB) sets the pace: it takes about DRIP_SECONDS.
rate=$(awk -v t="$DRIP_SECONDS" 'BEGIN { printf "%d", 262144 / t }')
start_httpd "$OFIX/srv" --fault "drip=$rate"
SLOW_PID=$HTTPD_PID SLOW_URL=$URL/repo
HTTPD_PID=
ostree_set_url "$OSF/pristine" "$SLOW_URL"
for name in v3 v2; do
	case $name in v3) c=$C3 ;; v2) c=$C2 ;; esac
	os_reset "$OSF/pristine" "$WORK/cal"
	c0=$(date +%s%N)
	start_install "$WORK/cal" "$c"
	wait "$PID" || fail "the calibration install of $name failed: $(tail -n1 "$WORK/cal/kill.err")"
	echo $((($(date +%s%N) - c0) / 1000000)) >"$WORK/$name.ms"
	ostree_rm_device "$WORK/cal"
done
echo "  one install takes $(cat "$WORK/v3.ms") ms (3.0) and $(cat "$WORK/v2.ms") ms (2.0) here; $(cat "$WORK/v3.changes") and $(cat "$WORK/v2.changes") changes"

awk -v seed="$SEED" -v n="$RUNS" -v t3="$(cat "$WORK/v3.ms")" -v t2="$(cat "$WORK/v2.ms")" \
	-v n3="$(cat "$WORK/v3.changes")" -v n2="$(cat "$WORK/v2.changes")" -v cms="$C_MS" 'BEGIN {
	srand(seed)
	for (i = 1; i <= n; i++) {
		name = i % 2 ? "v3" : "v2"; t = i % 2 ? t3 : t2; k = i % 2 ? n3 : n2
		r = rand()
		if (i % 4 == 1 || i % 4 == 2) printf "%d:%s:t:%d\n", i, name, int(r * 1.05 * t)
		else printf "%d:%s:c:%d:%d\n", i, name, 1 + int(r * k), int(rand() * cms)
	}
}' >"$WORK/points"

# wait_notified PID: until the shim has written to the FIFO on fd 7 (or
# the install has ended).
wait_notified() {
	local line
	while kill -0 "$1" 2>/dev/null; do
		read -r -t 0.05 line <&7 && return 0
	done
}

kill_point() {
	local w=$1 point=$2 name mode a b c v rc events last act saved
	IFS=: read -r _ name mode a b <<<"$point"
	case $name in v3) c=$C3 v=3.0 ;; v2) c=$C2 v=2.0 ;; esac
	os_device "$w"
	# the delay: a read that times out on fd 8, a FIFO nobody writes (no
	# process between the moment and the kill)
	[ -p "$WORK/nap.$w" ] || mkfifo "$WORK/nap.$w" || fail "mkfifo $WORK/nap.$w"
	exec 8<>"$WORK/nap.$w"
	if [ "$mode" = c ]; then
		# Read-write: neither side's open waits for the other.
		rm -f "$DEV/notify"
		mkfifo "$DEV/notify" && exec 7<>"$DEV/notify" || fail "mkfifo $DEV/notify"
		start_install "$DEV" "$c" "$a"
		wait_notified "$PID"
		delay=$b
	else
		start_install "$DEV" "$c"
		delay=$a
	fi
	printf -v delay '%d.%03d' $((delay / 1000)) $((delay % 1000))
	read -r -t "$delay" -u 8 _
	# The whole group: a pull in a child process goes too.
	kill -9 -- "-$PID" 2>/dev/null
	wait "$PID"
	rc=$?
	[ "$mode" != c ] || exec 7>&-
	exec 8>&-
	events=$(sed -n 's/.*"type":"state","state":"\([a-z-]*\)".*/\1/p' "$DEV/kill.json" | paste -sd' ' -)
	last=${events##* }
	case $rc in
	0) last=exited ;;
	137) ;;
	*) fail "install exited $rc before the kill: $(tail -n1 "$DEV/kill.err")" ;;
	esac
	case "$last" in
	exited | activated) act=yes ;;
	post-install) act=maybe ;;
	*) act=no ;;
	esac
	# A state event is printed just before its save: a second event means
	# the first save completed.
	case "$events" in
	"") saved=no last=start ;;
	*" "*) saved=yes ;;
	*) saved=maybe ;;
	esac
	os_after_cut "$DEV" "$name" "$c" "$v" "$saved" "$act"
	ostree_set_url "$DEV" "$FAST_URL"
	os_recover "$DEV" "$name" "$c" "$v"
	echo "outcome: $name:$mode:$last->$OS_OUTCOME"
}

pc_run kill_point "$WORK/points"
pc_report "ostree random kills (seed $SEED)" "runs"
pc_kill_counts
secs=$(awk "BEGIN { printf \"%.0f\", $(date +%s.%N) - $t0 }")
echo "  outcomes: UPDATE:KIND:STATE->VERSION/STATE (kill kind t/c, the last state the install printed, what ran after the boot); $PC_JOBS workers, $secs s"
mkdir -p "$TOP/build/powercut"
{
	echo "seed $SEED, $RUNS runs, drip ${DRIP_SECONDS}s"
	echo "$PC_N runs: $PC_KILLED killed while the updater ran ($PC_KILLED_COMPLETE boots found a complete system), $PC_FINISHED finished before the kill, $PC_FAILED failures"
	echo "outcomes: $PC_BREAKDOWN"
} >"$TOP/build/powercut/random-kill-ostree.last"
if [ "$RUNS" -ge 50 ]; then
	cat >"$WORK/doc" <<EOF
Written by \`tests/powercut/random-kill-ostree.sh\` (\`make powercut\`); do not edit.
$RUNS runs of the real \`updater install\` over HTTP (a server dripping the repository so that the
kernel object alone takes about ${DRIP_SECONDS} s), 3.0 (a pull of objects) and 2.0 (a static delta, then
the pull) in turn, each killed with SIGKILL of its process group at a random moment (seeded: each
run prints its seed, \`SEED=\` repeats the draw):
$(grep -c ':t:' "$WORK/points") after a delay drawn over the whole install, $(grep -c ':c:' "$WORK/points") once a random number of the
install's changes under the sysroot had been made (then 0-$C_MS ms). Where the kills of the last run
landed: \`build/powercut/random-kill-ostree.last\`.

Result: **$PC_KILLED runs killed while the updater ran, $PC_KILLED_COMPLETE boots found a complete system, $PC_FAILED failures.**
Runs that finished (\`updater install\` exited 0) before their kill came, checked the same way but
not counted as kills: $PC_FINISHED of the $PC_N.
EOF
	[ -n "${PC_NO_DOC:-}" ] || pc_figure powercut-random-ostree "$WORK/doc"
fi
if [ "$PC_FAILED" = 0 ]; then
	[ -n "${KEEP:-}" ] || { cleanup; trap - EXIT; rm -rf "$WORK"; }
else
	echo "  kept $WORK"
	KEEP=1
	exit 1
fi

#!/bin/bash
# kill -9 at random moments, dual-bank backend (part of `make powercut`).
#
# RUNS (default 50) times: a fresh factory device, the real ./updater
# installing release 2.0 over HTTP from tests/lib/httpd.py with
# --fault drip=RATE (so the install takes about DRIP_SECONDS, default 1 s),
# SIGKILL at a random moment drawn with a seeded RNG (see "The moments"
# below), then the same checks as the sweep (tests/powercut/dualbank.sh): the
# boot U-Boot plays finds a complete system, 2.0 only if the updater had
# activated it, the environment and `status --json` are sane, and a normal
# install of 2.0 (from a server without the drip) ends with 2.0 committed.
#
# Which state the kill landed in comes from the install's --progress=json
# events: "activated" printed means the activating environment write
# returned (2.0 must boot); "post-install" last means the kill may have hit
# either side of that write (either release may boot, each checked).
#
# SEED=N reproduces the delays (the seed is printed; the default is random).
# Env: PC_JOBS, RUNS, DRIP_SECONDS, E_MS.
cd "$(dirname "$0")/../.." || exit 1
TOP=$PWD
export TOP
. tests/powercut/lib.sh
. tests/powercut/dualbank.sh
set -u
# Most of a run is waiting for the kill: twice as many workers as CPUs.
PC_JOBS=${RK_JOBS:-$((PC_JOBS * 2))}
SEED=${SEED:-$(od -An -N3 -tu4 /dev/urandom | tr -d ' ')}
RUNS=${RUNS:-50}
DRIP_SECONDS=${DRIP_SECONDS:-1}
E_MS=${E_MS:-12}
echo "random-kill-dualbank: seed $SEED (SEED=$SEED reproduces the delays), $RUNS runs"
t0=$(date +%s.%N)
pc_workdir random-kill-dualbank
db_fixtures

mkdir -p "$WORK/www"
cp "$DBF/v2.upd" "$WORK/www/"
size=$(stat -c %s "$WORK/www/v2.upd")
rate=$(awk -v s="$size" -v t="$DRIP_SECONDS" 'BEGIN { printf "%d", s / t }')
cleanup() {
	for p in ${SLOW_PID:-} ${FAST_PID:-}; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
}
trap cleanup EXIT
start_httpd "$WORK/www" --fault "drip=$rate"
SLOW_PID=$HTTPD_PID SLOW_URL=$URL
start_httpd "$WORK/www"
FAST_PID=$HTTPD_PID FAST_URL=$URL
HTTPD_PID=

# How long one install takes here, now (the drip sets most of it).
db_device cal
c0=$(date +%s%N)
"$UPDATER" --config="$DEV/updater.conf" --progress=none install "$SLOW_URL/v2.upd" >"$WORK/cal.out" 2>&1 ||
	fail "the calibration install failed: $(tail -n1 "$WORK/cal.out")"
T_MS=$((($(date +%s%N) - c0) / 1000000))
rm -rf "$DEV"

# The moments (what SEED reproduces), three kinds in turn:
#   t:MS        a delay drawn uniformly over the whole install;
#   b:BYTES:MS  once the updater has written BYTES (drawn uniformly over the
#               image; its wchar in /proc/PID/io), then a delay of 0..20 ms:
#               the writes are not uniform in time (the incompressible part
#               of the image takes most of the download);
#   e:MS        once it has written the whole image, a delay of 0..E_MS ms
#               (default 12): the fsync, the read-back and the activation, a
#               window of a few ms that a delay alone rarely hits. The wait
#               looks every millisecond and forks nothing: when it forked a
#               sleep every 5 ms (and awk, sleep before the kill), 6 of 16
#               such runs had finished before their kill (measured here).
# A run whose updater finished (exit 0) before its kill came is checked all
# the same but counted apart: the figures count the runs really killed.
awk -v seed="$SEED" -v n="$RUNS" -v t="$T_MS" -v size="$V2_SIZE" -v ems="$E_MS" 'BEGIN {
	srand(seed)
	for (i = 1; i <= n; i++) {
		r = rand()
		if (i % 3 == 1) printf "%d:t:%d\n", i, int(r * 1.05 * t)
		else if (i % 3 == 2) printf "%d:b:%d:%d\n", i, int(r * size), int(rand() * 20)
		else printf "%d:e:%d\n", i, int(r * ems)
	}
}' >"$WORK/points"
echo "  one install takes $T_MS ms here"

# nap SECONDS: a sleep without a process (a read that times out on fd 8, a
# FIFO nobody writes): forking sleep cost milliseconds, in which many an
# install reached its end.
nap() {
	read -r -t "$1" -u 8 _
}

# wait_written PID BYTES: until process PID has written BYTES (or ended),
# looking every millisecond.
wait_written() {
	local k v
	while [ -r "/proc/$1/io" ]; do
		while read -r k v; do
			[ "$k" = wchar: ] && break
		done <"/proc/$1/io" 2>/dev/null
		[ "${v:-0}" -ge "$2" ] 2>/dev/null && return 0
		nap 0.001
	done
}

kill_point() {
	local w=$1 point=$2 mode delay bytes pid rc events last act saved
	IFS=: read -r _ mode delay bytes <<<"$point"
	[ "$mode" != b ] || { local at=$delay; delay=$bytes bytes=$at; }
	db_device "$w"
	[ -p "$WORK/nap.$w" ] || mkfifo "$WORK/nap.$w" || fail "mkfifo $WORK/nap.$w"
	exec 8<>"$WORK/nap.$w"
	"$UPDATER" --config="$DEV/updater.conf" --progress=json install "$SLOW_URL/v2.upd" \
		>"$DEV/kill.json" 2>"$DEV/kill.err" &
	pid=$!
	case $mode in
	b) wait_written "$pid" "$bytes" ;;
	e) wait_written "$pid" "$V2_SIZE" ;;
	esac
	# no process between the moment and the kill (an awk and a sleep here
	# cost milliseconds, in which many an install reached its end)
	printf -v delay '%d.%03d' $((delay / 1000)) $((delay % 1000))
	nap "$delay"
	kill -9 "$pid" 2>/dev/null
	wait "$pid"
	rc=$?
	exec 8>&-
	events=$(sed -n 's/.*"type":"state","state":"\([a-z-]*\)".*/\1/p' "$DEV/kill.json" | paste -sd' ' -)
	last=${events##* }
	case $rc in
	0) last=exited act=yes ;;
	137) ;;
	*) fail "install exited $rc before the kill: $(tail -n1 "$DEV/kill.err")" ;;
	esac
	case "$last" in
	exited | activated) act=yes ;;
	post-install) act=maybe ;;
	*) act=no ;;
	esac
	# A state event is printed just before its save: a second event means the
	# first save completed.
	case "$events" in
	"") saved=no last=start ;;
	*" "*) saved=yes ;;
	*) saved=maybe ;;
	esac
	db_after_cut "$DEV" "$act" "$saved"
	db_recover "$DEV" "$FAST_URL/v2.upd"
	echo "outcome: $mode:$last->$DB_OUTCOME"
}

pc_run kill_point "$WORK/points"
pc_report "dualbank random kills (seed $SEED)" "runs"
pc_kill_counts
secs=$(awk "BEGIN { printf \"%.0f\", $(date +%s.%N) - $t0 }")
echo "  outcomes: KIND:STATE->VERSION/STATE (kill kind t/b/e, the last state the install printed, what ran after the boot); $PC_JOBS workers, $secs s"
mkdir -p "$TOP/build/powercut"
{
	echo "seed $SEED, $RUNS runs, drip ${DRIP_SECONDS}s"
	echo "$PC_N runs: $PC_KILLED killed while the updater ran ($PC_KILLED_COMPLETE boots found a complete system), $PC_FINISHED finished before the kill, $PC_FAILED failures"
	echo "outcomes: $PC_BREAKDOWN"
} >"$TOP/build/powercut/random-kill-dualbank.last"
if [ "$RUNS" -ge 50 ]; then
	cat >"$WORK/doc" <<EOF
Written by \`tests/powercut/random-kill-dualbank.sh\` (\`make powercut\`); do not edit.
$RUNS runs of the real \`updater install\` over HTTP (a server dripping the bundle in about
${DRIP_SECONDS} s), each killed with SIGKILL at a random moment (seeded: each run prints its seed,
\`SEED=\` repeats the draw): $(grep -c ':t:' "$WORK/points") after a delay drawn over the whole install,
$(grep -c ':b:' "$WORK/points") once a random number of image bytes had been written, $(grep -c ':e:' "$WORK/points") within $E_MS ms after the
last image byte was written (fsync, read-back, activation). Where the kills of the last run
landed: \`build/powercut/random-kill-dualbank.last\`.

Result: **$PC_KILLED runs killed while the updater ran, $PC_KILLED_COMPLETE boots found a complete system, $PC_FAILED failures.**
Runs that finished (\`updater install\` exited 0) before their kill came, checked the same way but
not counted as kills: $PC_FINISHED of the $PC_N.
EOF
	[ -n "${PC_NO_DOC:-}" ] || pc_figure powercut-random-dualbank "$WORK/doc"
fi
if [ "$PC_FAILED" = 0 ]; then
	rm -rf "$WORK"
else
	echo "  kept $WORK"
	exit 1
fi

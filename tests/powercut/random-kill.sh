#!/bin/bash
# kill -9 at random moments (part of `make powercut`), for any backend:
# tests/powercut/random-kill.sh BACKEND (dualbank, ostree or singlecopy;
# tests/powercut/backend-BACKEND.sh: the update, the server, the moments).
#
# RUNS (default 50) times: a fresh factory device, the real ./updater
# installing over HTTP from tests/lib/httpd.py with --fault drip=RATE (so the
# install takes about DRIP_SECONDS, default 1 s), SIGKILL (of its process
# group for ostree) at a moment drawn with a seeded RNG (be_rk_prepare says
# which kinds of moment), then the checks of the sweep (be_after_cut: the
# boot U-Boot plays finds a complete system, the new release only if the
# updater had activated it, the environment and `status --json` are sane)
# and a normal install from a server without the drip, to the end
# (be_recover).
#
# Which state the kill landed in comes from the install's --progress=json
# events: "activated" printed (or install exited 0) means the activating
# environment write returned (the new release must boot); "post-install"
# last means the kill may have hit either side of that write (either release
# may boot, each checked); earlier, not. A run whose updater finished (exit
# 0) before its kill came is checked all the same but counted apart: the
# figures count the runs really killed.
#
# SEED=N reproduces the draw (the seed is printed; the default is random).
# Env: RK_JOBS (workers, default twice the CPUs), RUNS, DRIP_SECONDS, and
# the backend's (E_MS, C_MS).
cd "$(dirname "$0")/../.." || exit 1
. tests/powercut/lib.sh
pc_backend "${1:-}" "dualbank|ostree|singlecopy"
set -u
# Most of a run is waiting for the kill: twice as many workers as CPUs.
PC_JOBS=${RK_JOBS:-$((PC_JOBS * 2))}
SEED=${SEED:-$(od -An -N3 -tu4 /dev/urandom | tr -d ' ')}
RUNS=${RUNS:-50}
# The moments are drawn at random: RUNS sets how many (make check: 10); the
# sweeps' PC_SAMPLE does not apply to them.
DRIP_SECONDS=${DRIP_SECONDS:-1}
echo "random-kill-$BACKEND: seed $SEED (SEED=$SEED reproduces the draw), $RUNS runs"
t0=$(date +%s.%N)
be_start "random-kill-$BACKEND"
be_rk_prepare

kill_point() {
	local w=$1 point=$2 rc events last act saved
	# the delay: a read that times out on fd 8, a FIFO nobody writes (no
	# process between the moment and the kill: an awk and a sleep here cost
	# milliseconds, in which many an install reached its end)
	[ -p "$WORK/nap.$w" ] || mkfifo "$WORK/nap.$w" || fail "mkfifo $WORK/nap.$w"
	exec 8<>"$WORK/nap.$w"
	be_rk_launch "$w" "$point"
	printf -v DELAY '%d.%03d' $((DELAY / 1000)) $((DELAY % 1000))
	pc_nap "$DELAY"
	kill -9 -- "$KILL" 2>/dev/null
	wait "$PID"
	rc=$?
	be_rk_done
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
	be_after_cut "$DEV" "$UNIT" "$act" "$saved"
	be_recover "$DEV" "$UNIT"
	echo "outcome: $(be_rk_label "$last")"
}

pc_run kill_point "$WORK/points"
pc_report "$BACKEND random kills (seed $SEED)" "runs"
pc_kill_counts
secs=$(awk "BEGIN { printf \"%.0f\", $(date +%s.%N) - $t0 }")
echo "  outcomes: $RK_LEGEND; $PC_JOBS workers, $secs s"
mkdir -p "$TOP/build/powercut"
{
	echo "seed $SEED, $RUNS runs, drip ${DRIP_SECONDS}s"
	echo "$PC_N runs: $PC_KILLED killed while the updater ran ($PC_KILLED_COMPLETE boots found a complete system), $PC_FINISHED finished before the kill, $PC_FAILED failures"
	echo "outcomes: $PC_BREAKDOWN"
} >"$TOP/build/powercut/random-kill-$BACKEND.last"
if [ "$RUNS" -ge 50 ] && [ -z "${PC_NO_DOC:-}" ]; then
	cat >"$WORK/doc" <<EOF2
$(be_rk_doc)

Result: **$PC_KILLED runs killed while the updater ran, $PC_KILLED_COMPLETE boots found a complete system, $PC_FAILED failures.**
Runs that finished (\`${BE_RK_CMD:-updater install}\` exited 0) before their kill came, checked the same way but
not counted as kills: $PC_FINISHED of the $PC_N.
EOF2
	pc_figure "$BE_RK_FIGURE" "$WORK/doc"
fi
pc_finish

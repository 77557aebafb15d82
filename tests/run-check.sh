#!/bin/sh
# `make check`: every stage, each with its time, and one summary at the end.
# The QEMU boots (qemu-check, a third of the run, one core of TCG) run
# alongside the other stages when the machine has two cores or more: CI must
# stay under an hour. Every stage runs even when one fails, so one run shows
# every failure; the exit status is 1 when any stage failed.
# Usage: tests/run-check.sh STAGE... (qemu-check among them runs in the background).
set -u
MAKE=${MAKE:-make}
LOG=build/check
mkdir -p "$LOG"
rm -f "$LOG"/*.rc "$LOG"/*.time

# A stage's output goes to the terminal (foreground) or to its log (background).
run_stage() {
	t0=$(date +%s)
	$MAKE --no-print-directory "$1"
	echo $? >"$LOG/$1.rc"
	echo $(($(date +%s) - t0)) >"$LOG/$1.time"
}

# Two integration tests at a time on two cores or more (tests/lib/runtests.sh):
# with the QEMU boots done early, one test at a time would leave a core idle
# for most of the run.
if [ -z "${RUN_JOBS:-}" ]; then
	RUN_JOBS=1
	[ "$(nproc)" -lt 2 ] || RUN_JOBS=2
fi
export RUN_JOBS

bg=""
fg=""
for s in "$@"; do
	if [ "$s" = qemu-check ] && [ "$(nproc)" -ge 2 ]; then bg=$s; else fg="$fg $s"; fi
done

# Everything the background stage runs is built first: two makes must never
# build in the same tree at once (the foreground stages build only their own
# test programs after this).
if [ -n "$bg" ]; then
	$MAKE --no-print-directory qemu-prep || exit 1
	echo "check: $bg runs in the background (log: $LOG/$bg.log)"
	run_stage "$bg" >"$LOG/$bg.log" 2>&1 &
	bgpid=$!
fi
for s in $fg; do
	echo "=== $s"
	run_stage "$s"
done
if [ -n "$bg" ]; then
	echo "=== $bg (waiting for the background run)"
	wait "$bgpid"
	cat "$LOG/$bg.log"
fi

echo "=== check summary"
failed=0
for s in "$@"; do
	rc=$(cat "$LOG/$s.rc" 2>/dev/null || echo 1)
	t=$(cat "$LOG/$s.time" 2>/dev/null || echo "?")
	if [ "$rc" = 0 ]; then
		printf '%-16s ok      %6s s\n' "$s" "$t"
	else
		printf '%-16s FAILED  %6s s\n' "$s" "$t"
		failed=1
	fi
done
exit $failed

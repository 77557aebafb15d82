#!/bin/bash
# Power cuts that lose what the kernel had not written, dual-bank backend
# (part of `make powercut`).
#
# A SIGKILL loses nothing the kernel already holds, so the kill sweeps cannot
# notice a missing fsync. Here one full `install` of release 2.0, and each
# command of the sweep's other scenarios (mark-good, the boot that records a
# fallback, rollback, cancel, the boot that records an interrupted install;
# tests/powercut/dualbank.sh), runs under the LD_PRELOAD shim
# build/tests/libiolog.so (tests/powercut/iolog.c), which journals every
# write, fsync, rename... to the slots, the boot environment and the state
# directory. tests/powercut/iolog-replay.py then rebuilds the device as a
# power cut would leave it after each completed fsync (only fsync'd data and
# directory entries whose directory was fsync'd survive), during each fsync
# of unsynced data (only the first, or only the second half of it reached
# the medium), before the first record and after the command exited. Each
# rebuilt device goes through the checks of tests/powercut/dualbank.sh:
# U-Boot, `updater boot`, the environment, status, then back to 2.0.
#
# The model's own expectation: the new boot state is in force exactly when
# the cut came after the first completed fsync of the environment, a state
# save exactly when it came after the first fsync of the state directory,
# and whatever the command reported done when it exited survives.
# Env: PC_JOBS, RUNS_IO="install mark-good ..." (a subset), PC_NO_DOC=1.
cd "$(dirname "$0")/../.." || exit 1
TOP=$PWD
export TOP
. tests/powercut/lib.sh
. tests/powercut/dualbank.sh
set -u
IOLOG_LIB=${IOLOG_LIB:-$TOP/build/tests/libiolog.so}
[ -f "$IOLOG_LIB" ] || fail "no $IOLOG_LIB: run 'make build/tests/libiolog.so'"
t0=$(date +%s.%N)
pc_workdir iolog-dualbank
db_fixtures
cp "$IOLOG_LIB" "$WORK/bin/libiolog.so"

# 1. Each command once, journaled; its cut points.
: >"$WORK/points"
: >"$WORK/runs"
for run in ${RUNS_IO:-install $DB_SCENARIOS}; do
	P=$WORK/pristine-$run IO=$WORK/io-$run
	if [ "$run" = install ]; then
		pc_reset "$DBF/pristine" "$P"
		cmd="install $DBF/v2.upd"
	else
		cmd=$(db_scenario_setup "$run" "$P") || exit 1
	fi
	pc_reset "$P" "$IO"
	LD_PRELOAD=$WORK/bin/libiolog.so IOLOG_FILE=$WORK/journal-$run \
		IOLOG_TRACK="$IO/slots:$IO/env/uboot.env:$IO/data/updater" \
		"$UPDATER" --config="$IO/updater.conf" --progress=none $cmd >"$WORK/io-$run.out" 2>&1 ||
		fail "the journaled '$cmd' failed: $(tail -n1 "$WORK/io-$run.out")"
	pc_iolog_list "$run" "$cmd" "$P" "$IO"
	pc_env "$P" >"$WORK/env-before-$run" && pc_env "$IO" >"$WORK/env-after-$run" || exit 1
done
pc_iolog_counts

# 2. One cut.
iolog_point() {
	local w=$1 run=${2%%|*} point=${2#*|} k kind cut act saved
	k=${point%%:*} kind=${point#*:} cut=${point%%:*}
	case $kind in torn | tail) cut=$k:$kind ;; esac
	DEV=$WORK/dev.$w
	pc_reset "$WORK/pristine-$run" "$DEV"
	"$PYTHON" "$TOP/tests/powercut/iolog-replay.py" --journal "$WORK/journal-$run" \
		--root "$WORK/io-$run" --pristine "$WORK/pristine-$run" --cut "$cut" --out "$DEV" \
		2>"$DEV/replay.err" || fail "replay of the cut $point: $(cat "$DEV/replay.err")"
	# The state file survived whole: the one before or one written completely.
	grep -q '^format=1$' "$DEV/data/updater/state" && grep -q '^state=' "$DEV/data/updater/state" ||
		fail "the state file did not survive the cut: $(head -c 200 "$DEV/data/updater/state" | tr '\n' ' ')"
	pc_iolog_durable "$run" "$k" "$kind" "$DEV" "$WORK/pristine-$run"
	act=$PC_ENVW saved=$PC_SAVED
	if [ "$run" = install ]; then
		db_after_cut "$DEV" "$act" "$saved"
		db_recover "$DEV" "$DBF/v2.upd"
	else
		db_after_scenario_cut "$DEV" "$run" "$act" "$saved" \
			"$(cat "$WORK/env-before-$run")" "$(cat "$WORK/env-after-$run")"
		db_recover_any "$DEV" "$DBF/v2.upd"
	fi
	echo "outcome: $run:$DB_OUTCOME"
}

pc_run iolog_point "$WORK/points"
pc_report "dualbank power-cut model (unsynced writes lost)"
secs=$(awk "BEGIN { printf \"%.0f\", $(date +%s.%N) - $t0 }")
echo "  $n_sync sync points, $n_torn torn fsyncs, $n_edge before/after; $PC_JOBS workers, $secs s"
if [ -z "${RUNS_IO:-}" ]; then
	cat >"$WORK/doc" <<EOF
Written by \`tests/powercut/iolog-dualbank.sh\` (\`make powercut\`); do not edit.
Each command journaled by the LD_PRELOAD shim \`tests/powercut/iolog.c\` (writes, fsyncs, renames,
directory fsyncs to the slots, the environment and the state directory), then rebuilt by
\`tests/powercut/iolog-replay.py\` as a power cut leaves it:

$(sed 's/^/- /' "$WORK/runs")

That is $n_sync cuts after a completed fsync of a file or a directory (unsynced writes and directory
entries lost; \`sync_file_range\` counts for nothing), $n_torn cuts during an fsync of unsynced data
(only its first, or only its second half reached the medium) and $n_edge cuts before the first
record or after the command exited (what it reported done must then hold).

Result: **$PC_N points cut, $PC_COMPLETE boots found a complete system, $PC_FAILED failures.**
After the boot: ${PC_BREAKDOWN:-none} (command: version booted / state).
EOF
	[ -n "${PC_NO_DOC:-}" ] || pc_figure powercut-iolog-dualbank "$WORK/doc"
fi
if [ "$PC_FAILED" = 0 ]; then
	rm -rf "$WORK"
else
	echo "  kept $WORK"
	exit 1
fi

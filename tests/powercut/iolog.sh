#!/bin/bash
# Power cuts that lose what the kernel had not written (part of `make
# powercut`), for any backend: tests/powercut/iolog.sh BACKEND (dualbank,
# ostree or singlecopy; tests/powercut/backend-BACKEND.sh: what is journaled, how a cut
# device is rebuilt, the checks).
#
# A SIGKILL loses nothing the kernel already holds, so the kill sweeps cannot
# notice a missing fsync. Here one full `install` of the backend's first
# update, and the command of each scenario of the sweep (BE_SCENARIOS), runs
# once whole under the LD_PRELOAD shim build/tests/libiolog.so
# (tests/powercut/iolog.c), which journals every write, fsync, rename... to
# the state directory and the boot environment (and, for dualbank, the
# slots). tests/powercut/iolog-replay.py lists the sync points of the journal:
# every completed fsync of a file or a directory (only fsync'd data and
# directory entries whose directory was fsync'd survive), a cut during every
# fsync of unsynced data (only its first, or only its second half reached the
# medium), before the first record and after the command exited. For each,
# be_io_cut rebuilds the device as a power cut there leaves it, then the
# checks of the sweep: the state file survived whole, U-Boot, `updater boot`,
# the environment, status, then to the update committed.
#
# The model's own expectation: the new boot state is in force exactly when
# the cut came after the first completed fsync of the environment, a state
# save exactly when it came after the first fsync of the state directory,
# and whatever the command reported done when it exited survives.
# BE_IO_INSTALLS: more installs of the backend, "install-UNIT" (dual-bank:
# install-v2d, the delta install).
# Env: PC_JOBS, RUNS_IO="install mark-good ..." (a subset), PC_NO_DOC=1.
cd "$(dirname "$0")/../.." || exit 1
. tests/powercut/lib.sh
pc_backend "${1:-}" "dualbank|ostree|singlecopy"
set -u
IOLOG_LIB=${IOLOG_LIB:-$TOP/build/tests/libiolog.so}
[ -f "$IOLOG_LIB" ] || fail "no $IOLOG_LIB: run 'make build/tests/libiolog.so'"
t0=$(date +%s.%N)
be_start "iolog-$BACKEND"
cp "$IOLOG_LIB" "$WORK/bin/libiolog.so"
be_io_prepare
UPDATE=${BE_UPDATES%% *}

# 1. Each command once, journaled; its cut points.
: >"$WORK/points"
: >"$WORK/runs"
for run in ${RUNS_IO:-install ${BE_IO_INSTALLS:-} $BE_SCENARIOS}; do
	P=$WORK/pristine-$run IO=$WORK/io-$run
	if [ "$run" = install ]; then
		be_reset "$BE_FACTORY" "$P"
		cmd=$(be_install_cmd "$UPDATE")
	elif [ "${run#install-}" != "$run" ]; then
		be_reset "$BE_FACTORY" "$P"
		cmd=$(be_install_cmd "${run#install-}")
	else
		cmd=$(be_scenario_setup "$run" "$P") || exit 1
	fi
	echo "$cmd" >"$P.cmd"
	be_reset "$P" "$IO"
	be_io_run "$IO" "$WORK/journal-$run" 0 $cmd || fail "the journaled '$cmd' failed: $(tail -n1 "$IO/cut.out")"
	pc_iolog_list "$run" "$cmd" "$P" "$IO"
	be_scenario_refs "$P" "$IO"
done
pc_iolog_counts

# 2. One cut.
iolog_point() {
	local w=$1 run=${2%%|*} point=${2#*|} k kind cut P=$WORK/pristine-${2%%|*}
	k=${point%%:*} kind=${point#*:} cut=${point%%:*}
	case $kind in torn | tail) cut=$k:$kind ;; esac
	be_io_cut "$w" "$run" "$k" "$kind" "$cut" "$P"
	# The state file survived whole: the one before or one written completely.
	if be_io_has_state "$P" "$DEV"; then
		grep -q '^format=1$' "$DEV/data/updater/state" && grep -q '^state=' "$DEV/data/updater/state" ||
			fail "the state file did not survive the cut: $(head -c 200 "$DEV/data/updater/state" | tr '\n' ' ')"
	fi
	pc_iolog_durable "$run" "$k" "$kind" "$DEV" "$P"
	if [ "${run%%-*}" = install ]; then
		be_io_install_check "$DEV"
	else
		be_after_scenario_cut "$DEV" "$run" "$PC_ENVW" "$PC_SAVED" "$P"
		be_recover_any "$DEV"
	fi
	echo "outcome: $run:$BE_OUTCOME"
}

pc_sample "$WORK/points"
pc_run iolog_point "$WORK/points"
pc_report "$BACKEND power-cut model (unsynced writes lost)"
secs=$(awk "BEGIN { printf \"%.0f\", $(date +%s.%N) - $t0 }")
echo "  $n_sync sync points, $n_torn torn fsyncs, $n_edge before/after; $PC_JOBS workers, $secs s"
if [ -z "${RUNS_IO:-}" ] && [ -z "${PC_NO_DOC:-}" ]; then
	cat >"$WORK/doc" <<EOF2
$(be_io_doc)

Result: **$PC_N points cut, $PC_COMPLETE boots found a complete system, $PC_FAILED failures.**
After the boot: ${PC_BREAKDOWN:-none} (${BE_IO_LEGEND:-command: version booted / state}).
EOF2
	pc_figure "$BE_IO_FIGURE" "$WORK/doc"
fi
pc_finish

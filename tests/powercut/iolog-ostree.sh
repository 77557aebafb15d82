#!/bin/bash
# Power cuts that lose what the kernel had not written, ostree backend (part
# of `make powercut`).
#
# One `install` of 3.0 on a factory device, and the command of each scenario
# of tests/powercut/ostree.sh (OS_SCENARIOS: mark-good, fallback, rollback,
# rollback-trial, cancel, interrupted), run once whole under the LD_PRELOAD
# shim build/tests/libiolog.so (tests/powercut/iolog.c), which journals every
# write, fsync, rename... to the state directory and the U-Boot environment
# file. tests/powercut/iolog-replay.py lists the sync points of the journal
# (every completed fsync of a file or a directory, and a cut during every
# fsync of unsynced data: only its first or only its second half reached the
# medium, plus before the first record and after the exit).
#
# The sysroot is not journaled. libostree syncs what it writes there (the
# pull's objects at the end of its transaction, the deployment's checkout,
# the boot entries) with fsync and syncfs before it swaps /boot/loader, and
# the updater checkpoints /boot after the swap: this test ASSUMES those syncs
# are right and takes the sysroot as a kill leaves it. The state directory
# and the environment are taken to be on a file system of their own, which
# a syncfs of the sysroot does not flush (the shim journals a syncfs only on
# a tracked path's file system): what the updater writes there is durable
# only through its own fsyncs.
#
# For each point K, a fresh copy of the device, the same command under the
# shim with IOLOG_KILL_AT=K (SIGKILL of its process group, started with
# setsid, right after its Kth record: the sysroot as the cut leaves it), then
# the state directory and the environment put back to what they were before
# the command and rebuilt from that run's own journal up to K, as the model
# leaves them. Then the checks of tests/powercut/ostree.sh: U-Boot, `updater
# boot`, the deployments, the environment, status, then to 3.0 committed.
#
# The pull runs in a child process (`updater __helper ostree ...`): it never
# touches the state directory or the environment, so the journal holds one
# process's records; the replay refuses a journal with records of more than
# one process (the test then fails: it does not pretend).
# Env: PC_JOBS, RUNS_IO="install mark-good ..." (a subset), PC_NO_DOC=1.
cd "$(dirname "$0")/../.." || exit 1
TOP=$PWD
export TOP
. tests/powercut/lib.sh
. tests/lib/ostree.sh
. tests/powercut/ostree.sh
set -u
IOLOG_LIB=${IOLOG_LIB:-$TOP/build/tests/libiolog.so}
[ -f "$IOLOG_LIB" ] || fail "no $IOLOG_LIB: run 'make build/tests/libiolog.so'"
t0=$(date +%s.%N)
os_start iolog-ostree
cp "$IOLOG_LIB" "$WORK/bin/libiolog.so"
os_references
PC_SLOTS=$(os_ids)

# io_run DEV JOURNAL KILL ARGS...: `updater ARGS` on DEV under os_run, the
# state directory and the environment journaled to JOURNAL; KILL: the
# record to be killed after (IOLOG_KILL_AT), or 0.
io_run() {
	local d=$1 j=$2 k=$3
	shift 3
	rm -f "$j" "$j.data"
	OS_RUN_PRELOAD=$WORK/bin/libiolog.so \
		OS_RUN_ENV="IOLOG_FILE=$j IOLOG_TRACK=$d/data/updater:$d/env/uboot.env IOLOG_KILL_AT=$k" \
		os_run "$d" "" "$@"
}

# 1. Each command once, journaled; its cut points.
: >"$WORK/points"
: >"$WORK/runs"
for run in ${RUNS_IO:-install $OS_SCENARIOS}; do
	P=$WORK/pristine-$run IO=$WORK/io-$run
	if [ "$run" = install ]; then
		os_reset "$OSF/pristine" "$P"
		cmd="install $C3"
	else
		cmd=$(os_scenario_setup "$run" "$P") || exit 1
	fi
	echo "$cmd" >"$P.cmd"
	os_reset "$P" "$IO"
	io_run "$IO" "$WORK/journal-$run" 0 $cmd || fail "the journaled '$cmd' failed: $(tail -n1 "$IO/cut.out")"
	pc_iolog_list "$run" "$cmd" "$P" "$IO"
	[ "$run" = install ] || os_scenario_refs "$P" "$IO"
done
pc_iolog_counts

# record_key JOURNAL K DIR: record K's type and what it names (its path, or
# the path its id was opened under), relative to the device DIR: to check
# that a rerun on another copy reached the same record.
record_key() {
	awk -v k="$2" '
		$1 == "O" { path[$3] = $7 }
		NR == k { if ($1 == "O") print "O", $7; else if ($1 ~ /^[WTFS]$/) print $1, path[$3]; else print $1, $3, $4; exit }
	' "$1" | sed "s#$3/##g"
}

# 2. One cut.
iolog_point() {
	local w=$1 run=${2%%|*} point=${2#*|} k kind cut envw saved sw rc cmd P
	k=${point%%:*} kind=${point#*:} cut=${point%%:*}
	case $kind in torn | tail) cut=$k:$kind ;; esac
	P=$WORK/pristine-$run
	cmd=$(cat "$P.cmd")
	os_scenario_device "$w" "$P"
	local j=$WORK/journal.$w
	if [ "$kind" != start ]; then
		# The sysroot as a cut right after record K leaves it (a whole run
		# for "end"; "start" is the device before the command).
		if [ "$kind" = end ]; then
			io_run "$DEV" "$j" 0 $cmd
		else
			io_run "$DEV" "$j" "$k" $cmd
		fi
		rc=$?
		if [ "$kind" = end ]; then
			[ "$rc" = 0 ] || fail "the whole '$cmd' exited $rc: $(tail -n1 "$DEV/cut.out")"
			[ "$(wc -l <"$j")" = "$k" ] || fail "the whole '$cmd' wrote $(wc -l <"$j") records, the reference $k"
		else
			[ "$rc" = 137 ] || fail "the cut after record $k did not happen: '$cmd' exited $rc: $(tail -n1 "$DEV/cut.out")"
			[ "$(wc -l <"$j")" = "$k" ] || fail "killed after record $k, the journal has $(wc -l <"$j")"
			[ "$(record_key "$j" "$k" "$DEV")" = "$(record_key "$WORK/journal-$run" "$k" "$WORK/io-$run")" ] ||
				fail "record $k is '$(record_key "$j" "$k" "$DEV")' here, '$(record_key "$WORK/journal-$run" "$k" "$WORK/io-$run")' in the reference"
		fi
		# The state directory and the environment as the model leaves them.
		rm -rf "$DEV/data/updater" && cp -a "$P/data/updater" "$DEV/data/updater" &&
			cp "$P/env/uboot.env" "$DEV/env/uboot.env" || fail "cannot put back the state and the environment"
		"$PYTHON" "$TOP/tests/powercut/iolog-replay.py" --journal "$j" --root "$DEV" --pristine "$P" \
			--cut "$cut" --out "$DEV" 2>"$DEV.replay.err" || fail "replay of the cut $point: $(cat "$DEV.replay.err")"
	fi
	# The state file survived whole: the one before (none on a factory
	# device) or one written completely.
	if [ -e "$P/data/updater/state" ] || [ -e "$DEV/data/updater/state" ]; then
		grep -q '^format=1$' "$DEV/data/updater/state" && grep -q '^state=' "$DEV/data/updater/state" ||
			fail "the state file did not survive the cut: $(head -c 200 "$DEV/data/updater/state" | tr '\n' ' ')"
	fi
	pc_iolog_durable "$run" "$k" "$kind" "$DEV" "$P"
	envw=$PC_ENVW saved=$PC_SAVED
	grep -q ' rename .*/sysroot/boot/loader$' "$DEV/ops.log" 2>/dev/null && sw=yes || sw=no
	if [ "$run" = install ]; then
		# The model's own expectation: the trial is on exactly when the
		# environment write became durable.
		if [ "$envw" = yes ]; then
			[ "$(pc_env "$DEV")" = "$(cat "$OSF/v3.env")" ] || fail "the environment write was durable, the environment is $(pc_env "$DEV")"
		else
			[ "$(pc_env "$DEV")" = "$(cat "$OSF/env.old")" ] || fail "the environment write was not durable, the environment is $(pc_env "$DEV")"
		fi
		os_after_cut "$DEV" v3 "$C3" 3.0 "$saved" "$sw"
		os_recover "$DEV" v3 "$C3" 3.0
	else
		os_after_scenario_cut "$DEV" "$run" "$envw" "$sw" "$saved" "$P"
		os_recover_any "$DEV"
	fi
	echo "outcome: $run:$OS_OUTCOME"
}

pc_run iolog_point "$WORK/points"
pc_report "ostree power-cut model (unsynced writes lost)"
secs=$(awk "BEGIN { printf \"%.0f\", $(date +%s.%N) - $t0 }")
echo "  $n_sync sync points, $n_torn torn fsyncs, $n_edge before/after; $PC_JOBS workers, $secs s"
if [ -z "${RUNS_IO:-}" ]; then
	cat >"$WORK/doc" <<EOF
Written by \`tests/powercut/iolog-ostree.sh\` (\`make powercut\`); do not edit.
Each command journaled by the LD_PRELOAD shim \`tests/powercut/iolog.c\` (writes, fsyncs, renames,
directory fsyncs to the state directory and the environment; the sysroot is not journaled: it is
taken as a SIGKILL at that record leaves it, libostree's own syncs assumed right), then cut again
at each sync point and rebuilt by \`tests/powercut/iolog-replay.py\` as a power cut leaves it:

$(sed 's/^/- /' "$WORK/runs")

That is $n_sync cuts after a completed fsync of a file or a directory (unsynced writes and directory
entries lost), $n_torn cuts during an fsync of unsynced data (only its first, or only its second half
reached the medium) and $n_edge cuts before the first record or after the command exited.

Result: **$PC_N points cut, $PC_COMPLETE boots found a complete system, $PC_FAILED failures.**
After the boot: ${PC_BREAKDOWN:-none} (command: version booted / state).
EOF
	[ -n "${PC_NO_DOC:-}" ] || pc_figure powercut-iolog-ostree "$WORK/doc"
fi
os_finish

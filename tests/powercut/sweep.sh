#!/bin/bash
# Power-cut sweep at the fault points (part of `make powercut`), for any
# backend: tests/powercut/sweep.sh BACKEND [PART]
#   BACKEND  dualbank, ostree or singlecopy (tests/powercut/backend-BACKEND.sh: the
#            device, the update, the cut targets and the checks)
#   PART     install, scenarios, or both (the default)
#
# install: lists what a full `install` of each update of the backend
# (BE_UPDATES) does on a factory device: the named fault points of
# ./updater-fault (UPDATER_FAULT_LOG) and the backend's other cut targets
# (be_install_points: the slot writer's byte positions for dualbank, the
# changes under the sysroot for ostree). Then it cuts the install at each
# (SIGKILL; of the whole process group for ostree) and for each: a fresh
# factory device, the cut, U-Boot, the real `updater boot`, the checks of
# be_after_cut (the boot found a complete system, the one it should; the
# environment and `status --json` say so), then a normal install to the end
# (be_recover).
#
# scenarios: the other commands that write the state, the environment or the
# boot configuration (BE_SCENARIOS: mark-good, the boot that records a
# fallback, rollback, ...): the device is brought to the state each runs in
# (be_scenario_setup), the command runs once whole to list its points
# (every hit of every named point, and be_scenario_points' others), then it
# is cut at each: a fresh copy of that device, the cut, the checks of
# be_after_scenario_cut, then back to the update committed (be_recover_any).
#
# A cut point is "UNIT|CUT": UNIT an update (install) or a scenario, CUT
# "fault:NAME:N" (the Nth hit of named point NAME), "fault:NAME@V" (progress
# point NAME at its first report >= V) or "op:N" (ostree: after the change
# the reference run made Nth).
#
# Prints one line per failed point and the summaries; writes the figures of
# the backend's blocks of docs/reliability.md (build/figures/, `make
# figures`; not for a part POINTS or SCENARIOS restrict, nor with
# PC_NO_DOC=1). Env: PC_JOBS, POINTS="UNIT|CUT ..." (only these cuts, e.g.
# "v2|fault:env-written:1" or "rollback|fault:env-write:1"),
# SCENARIOS="name ..." (only these scenarios; "" for none), and the
# backend's (its file).
cd "$(dirname "$0")/../.." || exit 1
. tests/powercut/lib.sh
pc_backend "${1:-}" "dualbank|ostree|singlecopy [install|scenarios|both]"
set -u
PART=${2:-both}
case $PART in install | scenarios | both) ;; *) fail "no part $PART: install, scenarios or both" ;; esac
t0=$(date +%s.%N)
be_start "powercut-$BACKEND"
failed=0

# sweep_cut W UNIT CUT CMD...: `updater CMD` on DEV cut at CUT; it must have
# died there. Sets ENVW and SAVED (the environment write, a state save had
# returned).
sweep_cut() {
	local w=$1 unit=$2 cut=$3 rc
	shift 3
	be_cut "$DEV" "$unit" "$cut" "$@"
	rc=$?
	[ "$rc" = 137 ] || fail "the cut at $cut did not happen: '$*' exited $rc: $(tail -n1 "$DEV/cut.out")"
	be_landed "$w" "$unit" "$cut" || exit 1
	grep -qx env-written "$DEV/cut.log" && ENVW=yes || ENVW=no
	grep -qx state-saved "$DEV/cut.log" && SAVED=yes || SAVED=no
}

# 1. The install.
install_point() {
	local w=$1 unit=${2%%|*} cut=${2#*|}
	be_device "$w"
	sweep_cut "$w" "$unit" "$cut" $(be_install_cmd "$unit")
	be_after_cut "$DEV" "$unit" "$(be_activated "$DEV")" "$SAVED"
	be_recover "$DEV" "$unit"
	echo "outcome: $(be_label "$unit" "$cut" install)"
}
# What a whole install of each update does (the checks of both parts compare
# against it).
for unit in $BE_UPDATES; do
	be_reference "$unit"
done
if [ "$PART" != scenarios ]; then
	be_install_points >"$WORK/points"
	pc_only_points "$WORK/points" $BE_UPDATES
	be_points_ready "$WORK/points"
	pc_sample "$WORK/points"
	pc_run install_point "$WORK/points"
	pc_report "$BE_NAME power-cut sweep"
	be_install_summary "$(awk "BEGIN { printf \"%.0f\", $(date +%s.%N) - $t0 }")"
	failed=$PC_FAILED
	mv "$WORK/results" "$WORK/results.install"
	INSTALL_FIG="$PC_N points cut, $PC_COMPLETE boots found a complete system, $PC_FAILED failures"
	INSTALL_BREAKDOWN=$PC_BREAKDOWN
fi

# 2. The other commands.
scenario_point() {
	local w=$1 scen=${2%%|*} cut=${2#*|} P=$WORK/pristine-${2%%|*}
	be_scenario_device "$w" "$P"
	sweep_cut "$w" "$scen" "$cut" $(cat "$P.cmd")
	be_after_scenario_cut "$DEV" "$scen" "$ENVW" "$SAVED" "$P"
	be_recover_any "$DEV"
	echo "outcome: $(be_label "$scen" "$cut" scenario)"
}
if [ "$PART" != install ]; then
	: >"$WORK/points2"
	: >"$WORK/scenarios"
	for scen in ${SCENARIOS-$BE_SCENARIOS}; do
		P=$WORK/pristine-$scen
		cmd=$(be_scenario_setup "$scen" "$P") || exit 1
		echo "$cmd" >"$P.cmd"
		be_reset "$P" "$WORK/list"
		be_cut "$WORK/list" "$scen" "" $cmd || fail "scenario $scen: a whole '$cmd' failed: $(tail -n 3 "$WORK/list/cut.out")"
		[ -s "$WORK/list/cut.log" ] || fail "scenario $scen: '$cmd' hit no fault point"
		be_scenario_refs "$P" "$WORK/list"
		pc_named_points "$WORK/list/cut.log" >"$WORK/$scen.named"
		cp "$WORK/list/cut.log" "$WORK/$scen.faultlog"
		be_scenario_points "$scen" >>"$WORK/points2"
		echo "$scen ($cmd): $(be_scenario_listing "$scen")" >>"$WORK/scenarios"
	done
	sed 's/^/  /' "$WORK/scenarios"
	pc_only_points "$WORK/points2" ${SCENARIOS-$BE_SCENARIOS}
	be_points_ready "$WORK/points2"
	if [ -s "$WORK/points2" ]; then
		pc_sample "$WORK/points2"
		pc_run scenario_point "$WORK/points2"
		pc_report "$BE_NAME power-cut sweep, other commands"
		be_scenarios_summary "$(awk "BEGIN { printf \"%.0f\", $(date +%s.%N) - $t0 }")"
		failed=$((failed + PC_FAILED))
		OTHER_FIG="$PC_N points cut, $PC_COMPLETE boots found a complete system, $PC_FAILED failures"
		OTHER_BREAKDOWN=$PC_BREAKDOWN
	fi
fi

# The figures of the parts that ran whole.
full=
[ -n "${POINTS:-}" ] || case $PART in
	install) full=install ;;
	scenarios) [ -n "${SCENARIOS+x}" ] || full=scenarios ;;
	both) [ -n "${SCENARIOS+x}" ] && full=install || full=both ;;
esac
[ -z "$full" ] || [ -n "${PC_NO_DOC:-}" ] || be_sweep_figures "$full"
PC_FAILED=$failed
pc_finish

#!/bin/bash
# Power-cut sweep, dual-bank backend (part of `make powercut`).
#
# Lists the fault points of a full `install` of release 2.0 on a factory
# device (UPDATER_FAULT_LOG of ./updater-fault), then cuts the install at
#   - every hit of every named point (state-save, state-saved, env-write,
#     env-written, ...), by NAME:N;
#   - every byte position the slot writer reports (slot-bytes, every 1 MiB)
#     and PC_OFFSETS (default 200) more offsets spread over the image: the cut
#     lands at the first report >= the offset;
# and for each: fresh device, the cut (SIGKILL), U-Boot (sim_boot), the real
# `updater boot`, then the checks of tests/powercut/dualbank.sh, then a normal
# install of 2.0 (or mark-good of the 2.0 already on trial) to the end.
#
# Then the same for the other commands that write the state or the boot
# environment (mark-good, the boot that records a fallback, rollback, the boot
# that records an interrupted install): every hit of every named point.
#
# Prints one line per failed point and the summaries; writes the figures to
# the "powercut-sweep-dualbank" block of docs/reliability.md (build/figures/, `make figures`; not when POINTS
# or SCENARIOS restrict the run, nor with PC_NO_DOC=1). Env: PC_JOBS (workers,
# default nproc), PC_OFFSETS, DB_IMAGE_MB, POINTS="spec ..." (only these
# install cuts, e.g. POINTS="env-written:1"), SCENARIOS="name ..." (only
# these other commands; "" for none).
cd "$(dirname "$0")/../.." || exit 1
TOP=$PWD
export TOP
. tests/powercut/lib.sh
. tests/powercut/dualbank.sh
set -u
[ -x "$UPDATER_FAULT_BIN" ] || fail "no $UPDATER_FAULT_BIN: run 'make updater-fault'"
[ -x "$UPDATER" ] || fail "no $UPDATER: run 'make'"
t0=$(date +%s.%N)
pc_workdir powercut-dualbank
db_fixtures

# 1. The points of a full install.
pc_reset "$DBF/pristine" "$WORK/list"
UPDATER_FAULT_LOG=$WORK/full.log "$UPDATER_FAULT_BIN" --config="$WORK/list/updater.conf" \
	--progress=none install "$DBF/v2.upd" >"$WORK/list.out" 2>&1 ||
	fail "a full install under updater-fault failed: $(cat "$WORK/list.out")"
pc_named_points "$WORK/full.log" >"$WORK/named"
pc_progress_values "$WORK/full.log" slot-bytes >"$WORK/reported"
n_named=$(wc -l <"$WORK/named")
n_reported=$(wc -l <"$WORK/reported")
grep -qx env-written:1 "$WORK/named" || fail "the fault log of an install has no env-written point"
[ "$n_reported" -ge "$DB_IMAGE_MB" ] || fail "the slot writer reported $n_reported positions for a $DB_IMAGE_MB MiB image"
[ "$(tail -n1 "$WORK/reported")" = "$V2_SIZE" ] || fail "the last slot-bytes report is not the image size"

echo "  fault points of a full install: $(pc_listing "$WORK/full.log")"
pc_sweep_points "$WORK/full.log" slot-bytes "$V2_SIZE" "${PC_OFFSETS:-200}" >"$WORK/points"
if [ -n "${POINTS:-}" ]; then
	tr ' ' '\n' <<<"$POINTS" | grep . >"$WORK/points"
fi
n_bytes=$(grep -c '^slot-bytes@' "$WORK/points")

# 2. One cut.
sweep_point() {
	local w=$1 spec=$2 rc act saved
	db_device "$w"
	UPDATER_FAULT=$spec UPDATER_FAULT_LOG=$DEV/cut.log "$UPDATER_FAULT_BIN" \
		--config="$DEV/updater.conf" --progress=none install "$DBF/v2.upd" >"$DEV/cut.out" 2>&1
	rc=$?
	[ "$rc" = 137 ] || fail "the cut at $spec did not happen: install exited $rc"
	# The cut landed where it was aimed.
	pc_cut_landed "$spec" "$DEV/cut.log" >"$DEV/landed" || exit 1
	[ ! -s "$DEV/landed" ] || cat "$DEV/landed" >>"$WORK/positions.$w"
	grep -qx env-written "$DEV/cut.log" && act=yes || act=no
	grep -qx state-saved "$DEV/cut.log" && saved=yes || saved=no
	db_after_cut "$DEV" "$act" "$saved"
	db_recover "$DEV" "$DBF/v2.upd"
	echo "outcome: $DB_OUTCOME"
}

pc_run sweep_point "$WORK/points"
positions=$(cat "$WORK"/positions.* 2>/dev/null | sort -u | wc -l)
pc_report "dualbank power-cut sweep"
secs=$(awk "BEGIN { printf \"%.0f\", $(date +%s.%N) - $t0 }")
echo "  $n_named transition points, $n_bytes byte offsets ($positions distinct write positions of $n_reported reported), $PC_JOBS workers, $secs s"
failed=$PC_FAILED
mv "$WORK/results" "$WORK/results.install"
install_fig="$PC_N points cut, $PC_COMPLETE boots found a complete system, $PC_FAILED failures"
install_breakdown=$PC_BREAKDOWN

# 3. The other commands that write the state or the environment: every hit of
# every named point of each (tests/powercut/dualbank.sh, DB_SCENARIOS).
: >"$WORK/points2"
: >"$WORK/scenarios"
for scen in ${SCENARIOS-$DB_SCENARIOS}; do
	cmd=$(db_scenario_setup "$scen" "$WORK/pristine-$scen") || exit 1
	echo "$cmd" >"$WORK/pristine-$scen.cmd"
	pc_reset "$WORK/pristine-$scen" "$WORK/list"
	UPDATER_FAULT_LOG=$WORK/$scen.log "$UPDATER_FAULT_BIN" --config="$WORK/list/updater.conf" \
		--progress=none $cmd >"$WORK/list.out" 2>&1 ||
		fail "scenario $scen: a full '$cmd' failed: $(cat "$WORK/list.out")"
	[ -s "$WORK/$scen.log" ] || fail "scenario $scen: '$cmd' hit no fault point"
	pc_env "$WORK/pristine-$scen" >"$WORK/pristine-$scen.env-before" || exit 1
	pc_env "$WORK/list" >"$WORK/pristine-$scen.env-after" || exit 1
	pc_named_points "$WORK/$scen.log" | sed "s/^/$scen|/" >>"$WORK/points2"
	echo "$scen ($cmd): $(pc_listing "$WORK/$scen.log")" >>"$WORK/scenarios"
done
sed 's/^/  /' "$WORK/scenarios"

other_point() {
	local w=$1 scen=${2%%|*} spec=${2#*|} rc cmd envw saved
	cmd=$(cat "$WORK/pristine-$scen.cmd")
	DEV=$WORK/dev.$w
	pc_reset "$WORK/pristine-$scen" "$DEV"
	UPDATER_FAULT=$spec UPDATER_FAULT_LOG=$DEV/cut.log "$UPDATER_FAULT_BIN" \
		--config="$DEV/updater.conf" --progress=none $cmd >"$DEV/cut.out" 2>&1
	rc=$?
	[ "$rc" = 137 ] || fail "the cut at $spec did not happen: $cmd exited $rc"
	pc_cut_landed "$spec" "$DEV/cut.log" >/dev/null || exit 1
	grep -qx env-written "$DEV/cut.log" && envw=yes || envw=no
	grep -qx state-saved "$DEV/cut.log" && saved=yes || saved=no
	db_after_scenario_cut "$DEV" "$scen" "$envw" "$saved" \
		"$(cat "$WORK/pristine-$scen.env-before")" "$(cat "$WORK/pristine-$scen.env-after")"
	db_recover_any "$DEV" "$DBF/v2.upd"
	echo "outcome: $scen:$DB_OUTCOME"
}
if [ -s "$WORK/points2" ]; then
	pc_run other_point "$WORK/points2"
	pc_report "dualbank power-cut sweep, other commands"
	failed=$((failed + PC_FAILED))
	other_fig="$PC_N points cut, $PC_COMPLETE boots found a complete system, $PC_FAILED failures"
	other_breakdown=$PC_BREAKDOWN
fi

if [ -z "${POINTS:-}${SCENARIOS+x}" ]; then
	cat >"$WORK/doc" <<EOF
Written by \`tests/powercut/sweep-dualbank.sh\` (\`make powercut\`); do not edit.

**Install.** An install of a $DB_IMAGE_MB MiB image (release 2.0) on a factory device (release 1.0 in
slot A), cut with SIGKILL at:

- $n_named transition points: every hit of every named point of a full install ($(pc_listing "$WORK/full.log" | sed 's/, slot-bytes x[0-9]*//'));
- $n_bytes byte offsets across the image ($positions distinct write positions: the slot writer reports
  every 1 MiB, an offset cuts at the first report at or after it).

Result: **$install_fig.**
After the boot: ${install_breakdown:-none} (version booted / state).

**Other commands.** Every hit of every named point of the other commands that write the state or
the environment, each from the device state it runs in:

$(sed 's/^/- /' "$WORK/scenarios")

Result: **${other_fig:-not run}.**
After the boot: ${other_breakdown:-none} (scenario: version booted / state).
EOF
	[ -n "${PC_NO_DOC:-}" ] || pc_figure powercut-sweep-dualbank "$WORK/doc"
fi
if [ "$failed" = 0 ]; then
	rm -rf "$WORK"
else
	echo "  kept $WORK"
	exit 1
fi

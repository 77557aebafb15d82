#!/bin/bash
# Power-cut sweep of the ostree commands after `install` (part of `make
# powercut`): mark-good (with its prune), the boot that records a fallback,
# rollback from a committed update and from a trial, the rollback that
# cancels a pending update, and the boot that records an interrupted install
# (OS_SCENARIOS, tests/powercut/ostree.sh).
#
# For each, the device is brought to the state the command runs in
# (os_scenario_setup), the command runs once whole under ./updater-fault and
# the shim tests/powercut/cutter.c to list its named fault points and its
# changes under the sysroot, then it is cut with SIGKILL of its process group
#   - at every hit of every named point (NAME:N);
#   - after every change that makes something visible at once under /boot,
#     the boot links and the repository (a rename or a symbolic link: the
#     boot entries, uEnv.txt, /boot/loader, boot.N; the repository's refs
#     and state), every change "other" (the lock), and OS_SCEN_SPREAD
#     (default 4) more spread evenly over the rest (staging files and
#     directories, a deployment's files removed, objects pruned);
# and for each cut: a fresh copy of the device, the cut, U-Boot
# (ostree_sim_boot), the real `updater boot`, the checks of
# os_after_scenario_cut, then back to 3.0 committed (os_recover_any).
#
# Prints one line per failed point and the summary; writes the figures to the
# "powercut-sweep-ostree-scenarios" block of docs/reliability.md (build/figures/, `make figures`; not when
# SCENARIOS or POINTS restrict the run, nor with PC_NO_DOC=1). Env: PC_JOBS,
# OS_SCEN_SPREAD, SCENARIOS="name ...", POINTS="scen|spec ..." (e.g.
# "rollback|fault:env-write:1 fallback|op:boot:rename:1").
cd "$(dirname "$0")/../.." || exit 1
TOP=$PWD
export TOP
. tests/powercut/lib.sh
. tests/lib/ostree.sh
. tests/powercut/ostree.sh
set -u
t0=$(date +%s.%N)
os_start powercut-ostree-scen
os_references

# 1. Each scenario once whole: its references and its cut points.
# scen_points SCEN: the points of scenario SCEN, "SCEN|fault:NAME:N" and
# "SCEN|op:N" (change N of the whole run).
scen_points() {
	sed "s/^/$1|fault:/" "$WORK/$1.named"
	awk -v n="${OS_SCEN_SPREAD:-4}" '
		$2 == "other" || ($2 ~ /^(boot|bootlink|repo)$/ && $3 ~ /^(rename|symlink|link)$/) { print $1; next }
		{ rest[++k] = $1 }
		END { for (i = 0; i < n && k > 0; i++) { j = int((i + 0.5) * k / n) + 1; if (j > k) j = k; print rest[j] } }
	' "$WORK/$1.ops" | sort -nu | sed "s/^/$1|op:/"
}
: >"$WORK/points"
: >"$WORK/scenarios"
for scen in ${SCENARIOS-$OS_SCENARIOS}; do
	P=$WORK/pristine-$scen
	cmd=$(os_scenario_setup "$scen" "$P") || exit 1
	echo "$cmd" >"$P.cmd"
	os_reset "$P" "$WORK/list"
	os_run "$WORK/list" "" $cmd || fail "scenario $scen: a whole '$cmd' failed: $(tail -n 3 "$WORK/list/cut.out")"
	os_scenario_refs "$P" "$WORK/list"
	[ -s "$WORK/list/cut.log" ] || fail "scenario $scen: '$cmd' hit no fault point"
	pc_named_points "$WORK/list/cut.log" >"$WORK/$scen.named"
	cp "$WORK/list/cut.log" "$WORK/$scen.faultlog"
	os_ops_reference "$WORK/list/ops.log" "$WORK/$scen.ops" "$scen"
	scen_points "$scen" >>"$WORK/points"
	echo "$scen ($cmd): $(pc_listing "$WORK/$scen.faultlog"); $(grep -c "^$scen|op:" "$WORK/points") of $(wc -l <"$WORK/$scen.ops") changes ($(awk '{ print $2 }' "$WORK/$scen.ops" | sort | uniq -c | sort -rn | awk '{ printf "%s%s %d", s, $2, $1; s = ", " }'))" >>"$WORK/scenarios"
done
sed 's/^/  /' "$WORK/scenarios"
os_points_ready

# 2. One cut: aimed at a named point, or at a change by its kind, operation
# and rank (as sweep-ostree.sh does: the number of changes before it may vary).
scen_point() {
	local w=$1 scen=${2%%|*} cut=${2#*|} rc cmd spec envw sw saved
	local P=$WORK/pristine-$scen
	cmd=$(cat "$P.cmd")
	os_scenario_device "$w" "$P"
	spec=$(os_aim "$WORK/$scen.ops" "$cut") || exit 1
	os_run "$DEV" "$spec" $cmd
	rc=$?
	[ "$rc" = 137 ] || fail "the cut at $cut did not happen: '$cmd' exited $rc: $(tail -n1 "$DEV/cut.out")"
	os_landed "$DEV" "$cut" "$spec" || exit 1
	grep -qx env-written "$DEV/cut.log" && envw=yes || envw=no
	grep -qx state-saved "$DEV/cut.log" && saved=yes || saved=no
	grep -q ' rename .*/sysroot/boot/loader$' "$DEV/ops.log" 2>/dev/null && sw=yes || sw=no
	os_after_scenario_cut "$DEV" "$scen" "$envw" "$sw" "$saved" "$P"
	os_recover_any "$DEV"
	case $cut in
	fault:*) echo "outcome: $scen:$OS_OUTCOME" ;;
	op:*) echo "outcome: $scen:$(awk -v n="${cut#op:}" '$1 == n { print $2 }' "$WORK/$scen.ops")->$OS_OUTCOME" ;;
	esac
}

pc_run scen_point "$WORK/points"
pc_report "ostree power-cut sweep, other commands"
secs=$(awk "BEGIN { printf \"%.0f\", $(date +%s.%N) - $t0 }")
echo "  $n_fault fault points, $n_op changes, $PC_JOBS workers, $secs s"

if [ -z "${POINTS:-}${SCENARIOS+x}" ]; then
	cat >"$WORK/doc" <<EOF
Written by \`tests/powercut/sweep-ostree-scenarios.sh\` (\`make powercut\`); do not edit.

The commands after an install, each from the device state it runs in, cut with SIGKILL of the
updater's process group at every hit of every named point and after every rename or link under
\`/boot\`, the boot links and the repository, plus changes spread over the rest (staging files, files
of a removed deployment, pruned objects):

$(sed 's/^/- /' "$WORK/scenarios")

Result: **$PC_N points cut, $PC_COMPLETE boots found a complete system, $PC_FAILED failures.**
After the boot: ${PC_BREAKDOWN:-none} (scenario:[kind of the last change->]version booted/state).
EOF
	[ -n "${PC_NO_DOC:-}" ] || pc_figure powercut-sweep-ostree-scenarios "$WORK/doc"
fi
os_finish

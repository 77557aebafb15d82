#!/bin/bash
# Power-cut sweep, ostree backend (part of `make powercut`).
#
# Lists what a full `install` of release 3.0 on a factory device (1.0
# booted) does: the named fault points of ./updater-fault (state saves,
# environment writes, deploy, deployed, set-default; UPDATER_FAULT_LOG) and
# every change to a name under the sysroot (objects pulled into the
# repository, the deployment's checkout, /boot, the boot links), counted by
# the LD_PRELOAD shim tests/powercut/cutter.c. Then cuts the install with
# SIGKILL of its whole process group
#   - at every hit of every named point (NAME:N), and every value the pull's
#     progress point reported (pull-objects@V);
#   - after change N for every change that makes pulled or deployed data
#     visible or switches the boot (objects, repository state, /boot, boot
#     links, the lock) and OS_SPREAD more spread evenly over
#     the rest (the temporary staging files of the pull, the hard links of
#     the checkout) (default 36);
# and for each: a fresh device, the cut, U-Boot (ostree_sim_boot), the real
# `updater boot`, the checks of tests/powercut/ostree.sh (os_after_cut),
# then a normal install of 3.0 (or mark-good of the 3.0 already on trial)
# to the end (os_recover).
#
# Then release 2.0, whose install applies a static delta (fetched by the
# updater, applied by libostree) before the pull: OS_DELTA_SPREAD (default
# 15) changes spread over the whole install (its named points are the same
# code as 3.0's).
#
# Prints one line per failed point and the summary; writes the figures to the
# "powercut-sweep-ostree" block of docs/reliability.md (build/figures/, `make figures`; not when POINTS
# restricts the run, nor with PC_NO_DOC=1). Env: PC_JOBS, OS_SPREAD,
# OS_DELTA_SPREAD, POINTS="spec ..." (only these cuts, e.g.
# "v3|op:135 v2|fault:deploy:1").
cd "$(dirname "$0")/../.." || exit 1
TOP=$PWD
export TOP
. tests/powercut/lib.sh
. tests/lib/ostree.sh
. tests/powercut/ostree.sh
set -u
[ -x "$UPDATER_FAULT_BIN" ] || fail "no $UPDATER_FAULT_BIN: run 'make updater-fault'"
[ -x "$UPDATER" ] || fail "no $UPDATER: run 'make'"
[ -f "$OS_CUTTER" ] || fail "no $OS_CUTTER: run 'make build/tests/libcutter.so'"
command -v setsid >/dev/null || fail "no setsid"
t0=$(date +%s.%N)
pc_workdir powercut-ostree
cp "$OS_CUTTER" "$WORK/bin/libcutter.so"
OS_CUTTER=$WORK/bin/libcutter.so
cleanup() {
	stop_httpd
	[ -n "${KEEP:-}" ] || for d in "$WORK"/dev.* "$WORK"/list.* "$WORK"/osf/pristine; do ostree_rm_device "$d"; done
}
trap cleanup EXIT
ostree_fixtures
start_httpd "$OFIX/srv"
os_fixtures "$URL/repo"

# run_install DEV COMMIT [CUT]: `install COMMIT` on DEV under os_run
# (tests/powercut/ostree.sh): its own process group, no CAP_SYS_ADMIN, the
# named points in DEV/cut.log, the changes under the sysroot in DEV/ops.log.
run_install() { os_run "$1" "${3:-}" install "$2"; }

# 1. What a full install does, for each update.
# list NAME COMMIT VERSION: the reference install; NAME.named (NAME:N per
# hit), NAME.ops (the shim's log) in $WORK.
list() {
	local name=$1 c=$2 v=$3 d=$WORK/list.$1
	os_reset "$OSF/pristine" "$d"
	run_install "$d" "$c" || fail "a full install of $v under updater-fault failed: $(tail -n 3 "$d/cut.out")"
	os_reference "$d" "$name" "$c" "$v"
	pc_named_points "$d/cut.log" >"$WORK/$name.named"
	cp "$d/cut.log" "$WORK/$name.faultlog"
	os_ops_reference "$d/ops.log" "$WORK/$name.ops" "$name"
	for p in state-saved:1 deploy:1 deployed:1 set-default:1 env-written:1; do
		grep -qx "$p" "$WORK/$name.named" || fail "the fault log of a full install of $v has no $p"
	done
	[ "$(wc -l <"$WORK/$name.ops")" -ge 300 ] || fail "the shim counted only $(wc -l <"$WORK/$name.ops") changes in an install of $v"
	echo "  $name ($v): $(pc_listing "$d/cut.log"); $(wc -l <"$WORK/$name.ops") changes ($(awk '{ print $2 }' "$WORK/$name.ops" | sort | uniq -c | awk '{ printf "%s%s %d", s, $2, $1; s = ", " }'))"
}
list v3 "$C3" 3.0
list v2 "$C2" 2.0

# ops_spread LOG COUNT [KINDS]: the change numbers to cut after: every change
# of a kind in KINDS (a regular expression), and COUNT more spread evenly
# over the others.
ops_spread() {
	awk -v n="$2" -v kinds="${3:-^$}" '
		$2 ~ kinds { print $1; next }
		{ rest[++k] = $1 }
		END { for (i = 0; i < n && k > 0; i++) { j = int((i + 0.5) * k / n) + 1; if (j > k) j = k; print rest[j] } }
	' "$1" | sort -nu
}
{
	sed 's/^/v3|fault:/' "$WORK/v3.named"
	pc_progress_values "$WORK/v3.faultlog" pull-objects | sort -nu | sed 's/^/v3|fault:pull-objects@/'
	ops_spread "$WORK/v3.ops" "${OS_SPREAD:-36}" '^(object|repo|boot|bootlink|other)$' | sed 's/^/v3|op:/'
	ops_spread "$WORK/v2.ops" "${OS_DELTA_SPREAD:-15}" | sed 's/^/v2|op:/'
} >"$WORK/points"
os_points_ready

# 2. One cut.
sweep_point() {
	local w=$1 name=${2%%|*} cut=${2#*|} c v rc saved act
	case $name in v3) c=$C3 v=3.0 ;; v2) c=$C2 v=2.0 ;; *) fail "no update $name" ;; esac
	os_device "$w"
	local spec
	spec=$(os_aim "$WORK/$name.ops" "$cut") || exit 1
	run_install "$DEV" "$c" "$spec"
	rc=$?
	[ "$rc" = 137 ] || fail "the cut at $cut did not happen: install exited $rc: $(tail -n1 "$DEV/cut.out")"
	os_landed "$DEV" "$cut" "$spec" || exit 1
	grep -qx state-saved "$DEV/cut.log" && saved=yes || saved=no
	# The default switches with the rename of boot/loader.
	grep -q ' rename .*/sysroot/boot/loader$' "$DEV/ops.log" && act=yes || act=no
	os_after_cut "$DEV" "$name" "$c" "$v" "$saved" "$act"
	os_recover "$DEV" "$name" "$c" "$v"
	case $cut in
	fault:*) echo "outcome: $name:$OS_OUTCOME" ;;
	op:*) echo "outcome: $name:$(sed -n "${cut#op:}p" "$WORK/$name.ops" | cut -d' ' -f2)->$OS_OUTCOME" ;;
	esac
}

pc_run sweep_point "$WORK/points"
pc_report "ostree power-cut sweep"
secs=$(awk "BEGIN { printf \"%.0f\", $(date +%s.%N) - $t0 }")
echo "  $n_fault fault points, $n_op changes, $PC_JOBS workers, $secs s"

if [ -z "${POINTS:-}" ]; then
	v3ops=$(wc -l <"$WORK/v3.ops")
	v2ops=$(wc -l <"$WORK/v2.ops")
	kinds() { awk '{ print $2 }' "$1" | sort | uniq -c | sort -rn | awk '{ printf "%s%s %d", s, $2, $1; s = ", " }'; }
	cat >"$WORK/doc" <<EOF
Written by \`tests/powercut/sweep-ostree.sh\` (\`make powercut\`); do not edit.

An install on a factory device (release 1.0 deployed and booted), cut with SIGKILL of the updater's
whole process group:

- **3.0, pulled object by object** (no static delta on the server): $(grep -c '^v3|fault:' "$WORK/points") fault points
  (every hit of every named point: $(pc_listing "$WORK/v3.faultlog")), and $(grep -c '^v3|op:' "$WORK/points") of the
  $v3ops changes the install makes under the sysroot ($(kinds "$WORK/v3.ops")): every one that makes an
  object, the repository state or the boot configuration visible, and the others spread evenly.
- **2.0, through a static delta** (fetched by the updater, applied by libostree), then the pull:
  $(grep -c '^v2|op:' "$WORK/points") of its $v2ops changes spread evenly.

Result: **$PC_N points cut, $PC_COMPLETE boots found a complete system, $PC_FAILED failures.**
After the boot: ${PC_BREAKDOWN:-none} (update:[where the last change landed->]version booted/state).
EOF
	[ -n "${PC_NO_DOC:-}" ] || pc_figure powercut-sweep-ostree "$WORK/doc"
fi
if [ "$PC_FAILED" = 0 ]; then
	[ -n "${KEEP:-}" ] || { cleanup; trap - EXIT; rm -rf "$WORK"; }
else
	echo "  kept $WORK"
	KEEP=1
	exit 1
fi

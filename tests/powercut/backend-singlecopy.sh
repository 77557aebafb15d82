# The single-copy backend of the power-cut drivers (sweep.sh, random-kill.sh,
# iolog.sh; sourced after lib.sh): which device, which command, where to cut,
# how the cut is made and which checks follow. The checks themselves are
# tests/powercut/singlecopy.sh.
#
# The device: running 1.0 from its one root, release 2.0 staged (`updater
# stage`). The cut command, the drivers' "install": `updater apply-staged`,
# what the ramdisk runs at boot (it rewrites the root with the kept bundle's
# image, reads it back, activates on trial). Cut targets: every hit of every
# named point (state saves, the two environment writes: recovery mode, then
# the activation; the unstaging) and every byte position the slot writer
# reports (slot-bytes, every 1 MiB: 8 for the 8 MiB image). PC_OFFSETS
# (default 0) more offsets spread over the image can be added, but a cut
# lands at the first report at or after its offset: 32 of them landed on
# the same 8 positions (measured), for 2.5 s each of CI time. Cuts between
# two reports are the random kills' (kind b). After each cut the next boot (boot.cmd's
# single-copy branch, then the ramdisk's apply-staged) must complete the
# apply, the trial boot and mark-good must commit it.
. "$TOP/tests/powercut/singlecopy.sh"
BE_NAME=single-copy
BE_UPDATES="v2"
# (no other commands: stage, mark-good and rollback are the other backends'
# scenarios; here the boot-time apply is what is cut)
BE_SCENARIOS=""

be_start() {
	[ -x "$UPDATER_FAULT_BIN" ] || fail "no $UPDATER_FAULT_BIN: run 'make updater-fault'"
	[ -x "$UPDATER" ] || fail "no $UPDATER: run 'make'"
	pc_workdir "$1"
	trap pc_cleanup EXIT
	# (pc_env checks boot_slot against these, everywhere)
	PC_SLOTS="root recovery"
	sc_fixtures
	BE_FACTORY=$SCF/pristine
}
be_cleanup() { :; }
be_reset() { pc_reset "$@"; }
be_device() { sc_device "$1"; }
be_install_cmd() { echo apply-staged; }
# The activation is the second environment write (the first names recovery
# mode before the root is written).
be_activated() { [ "$(grep -cx env-written "$1/cut.log")" -ge 2 ] && echo yes || echo no; }

# be_cut DEV UNIT CUT CMD...: ./updater-fault CMD on DEV, cut at CUT
# ("fault:SPEC"; "" for none), its fault points in DEV/cut.log.
be_cut() {
	local d=$1 cut=$3
	shift 3
	UPDATER_FAULT=${cut#fault:} UPDATER_FAULT_LOG=$d/cut.log "$UPDATER_FAULT_BIN" \
		--config="$d/updater.conf" --progress=none "$@" >"$d/cut.out" 2>&1
}

# be_landed W UNIT CUT: the cut stopped where it was aimed; the write
# positions cut at are kept (WORK/positions.W).
be_landed() {
	pc_cut_landed "${3#fault:}" "$DEV/cut.log" >"$DEV/landed" || exit 1
	[ ! -s "$DEV/landed" ] || cat "$DEV/landed" >>"$WORK/positions.$1"
}

be_after_cut() { sc_after_cut "$1" "$3"; BE_OUTCOME=$SC_OUTCOME; }
be_recover() { sc_recover "$1"; }
be_label() { echo "$BE_OUTCOME"; }

# ---- the sweep ----

# be_reference v2: a whole apply-staged under updater-fault: its fault log.
be_reference() {
	pc_reset "$SCF/pristine" "$WORK/list"
	be_cut "$WORK/list" v2 "" apply-staged ||
		fail "a whole apply-staged under updater-fault failed: $(cat "$WORK/list/cut.out")"
	cp "$WORK/list/cut.log" "$WORK/full.log"
	pc_named_points "$WORK/full.log" >"$WORK/named"
	pc_progress_values "$WORK/full.log" slot-bytes >"$WORK/reported"
	n_reported=$(wc -l <"$WORK/reported")
	grep -qx env-written:2 "$WORK/named" || fail "the fault log of apply-staged has not two env-written points"
	[ "$n_reported" -ge $((V2_SIZE / 1048576)) ] || fail "the slot writer reported $n_reported positions for a $V2_SIZE-byte image"
	[ "$(tail -n1 "$WORK/reported")" = "$V2_SIZE" ] || fail "the last slot-bytes report is not the image size"
	# (the whole run must have done what a cut run is checked against)
	sc_after_cut "$WORK/list" yes >/dev/null || exit 1
	echo "  fault points of apply-staged: $(pc_listing "$WORK/full.log")"
}
be_install_points() {
	pc_sweep_points "$WORK/full.log" slot-bytes "$V2_SIZE" "${PC_OFFSETS:-0}" | sed 's/^/v2|fault:/'
}
be_points_ready() { :; }
be_install_summary() {
	positions=$(cat "$WORK"/positions.* 2>/dev/null | sort -u | wc -l)
	n_named=$(wc -l <"$WORK/named")
	n_bytes=$(grep -c '|fault:slot-bytes@' "$WORK/points")
	echo "  $n_named transition points, $n_bytes byte offsets ($positions distinct write positions of $n_reported reported), $PC_JOBS workers, $1 s"
}
be_scenarios_summary() { :; }
be_scenario_setup() { fail "single-copy: no scenario $1"; }
be_scenario_device() { :; }
be_scenario_refs() { :; }
be_scenario_points() { :; }
be_scenario_listing() { :; }
be_after_scenario_cut() { :; }
be_recover_any() { :; }

be_sweep_figures() {
	[ "$1" = both ] || return 0
	cat >"$WORK/doc" <<EOF
Written by \`tests/powercut/sweep.sh singlecopy\` (\`make powercut\`); do not edit.

\`updater apply-staged\` of a staged release 2.0 ($((V2_SIZE / 1048576)) MiB image) on a device running 1.0
from its one root, cut with SIGKILL at:

- $n_named transition points: every hit of every named point ($(pc_listing "$WORK/full.log" | sed 's/, slot-bytes x[0-9]*//'));
- $n_bytes byte offsets across the image ($positions distinct write positions: the slot writer reports
  every 1 MiB, an offset cuts at the first report at or after it).

Result: **$INSTALL_FIG.**
After the cut: ${INSTALL_BREAKDOWN:-none} (system the next boot started:what the root held after the
cut, +apply: the ramdisk's apply-staged ran again).
EOF
	pc_figure powercut-sweep-singlecopy "$WORK/doc"
}

# ---- random kills ----
# The moments (what SEED reproduces), three kinds in turn:
#   t:MS        a delay drawn uniformly over a whole apply-staged;
#   b:BYTES:MS  once the updater has written BYTES (wchar in /proc/PID/io;
#               drawn uniformly over what a whole apply-staged writes into
#               the root), then a delay of 0..B_MS ms (default 3): the
#               writes are a short part of its time (the check of the kept
#               bundle, the read-back are reads);
#   e:MS        once its read-back has ended (its last "readback" progress
#               event), a delay of 0..E_MS ms (default 4): the activation
#               and the clean-up, a window of a few ms that a delay over the
#               whole run rarely hits. (Aimed at the last byte written, 0-150
#               ms later, 7 of 16 came after the exit and none after the
#               read-back; 0-12 ms after the read-back, 11 of 16: measured
#               here.)
# No server: apply-staged reads the kept bundle. How long it takes is
# measured with PC_JOBS of them at once, as the kills run (measured alone,
# 256 ms, every one of 25 delays drawn over it landed before the first state
# event on a loaded machine), and the t delays are drawn over 0.85 of it
# (over 1.05 of it, 6 of 17 came after the exit).
B_MS=${B_MS:-3}
E_MS=${E_MS:-4}

be_rk_prepare() {
	local c0 t_ms i written pids=()
	c0=$(date +%s%N)
	for ((i = 0; i < PC_JOBS; i++)); do
		sc_device "cal$i"
		"$UPDATER" --config="$DEV/updater.conf" --progress=json apply-staged >"$WORK/cal$i.json" 2>"$WORK/cal$i.err" &
		pids+=($!)
	done
	for i in "${!pids[@]}"; do
		wait "${pids[$i]}" || fail "the calibration apply-staged failed: $(tail -n1 "$WORK/cal$i.err")"
	done
	t_ms=$((($(date +%s%N) - c0) / 1000000))
	written=$(sed -n 's/.*"phase":"install".*"written":\([0-9]*\),"final":true.*/\1/p' "$WORK/cal0.json" | tail -n1)
	[ "${written:-0}" -gt 1048576 ] || fail "a whole apply-staged wrote ${written:-no} bytes into the root"
	rm -rf "$WORK"/dev.cal*
	awk -v seed="$SEED" -v n="$RUNS" -v t="$t_ms" -v w="$written" -v bms="$B_MS" -v ems="$E_MS" 'BEGIN {
		srand(seed)
		for (i = 1; i <= n; i++) {
			r = rand()
			if (i % 3 == 1) printf "%d:t:%d\n", i, int(r * 0.85 * t)
			else if (i % 3 == 2) printf "%d:b:%d:%d\n", i, 1 + int(r * w), int(rand() * bms)
			else printf "%d:e:%d\n", i, int(r * ems)
		}
	}' >"$WORK/points"
	RK_T_MS=$t_ms RK_WRITTEN=$written
	echo "  $PC_JOBS apply-staged at once take $t_ms ms here; each writes $written bytes into the root"
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
		pc_nap 0.001
	done
}

# wait_readback PID JSON: until the JSON progress of process PID (the file
# JSON) has the read-back's final report (or the process ended), looking
# every millisecond without forking.
wait_readback() {
	local text
	while kill -0 "$1" 2>/dev/null; do
		# (the file may not be there yet: the shell that runs it opens it)
		text=
		IFS= read -r -d '' text <"$2" 2>/dev/null
		case $text in *'"phase":"readback"'*'"final":true'*) return 0 ;; esac
		pc_nap 0.001
	done
}

be_rk_launch() {
	local a b
	IFS=: read -r _ MODE a b <<<"$2"
	sc_device "$1"
	"$UPDATER" --config="$DEV/updater.conf" --progress=json apply-staged >"$DEV/kill.json" 2>"$DEV/kill.err" &
	PID=$! KILL=$! UNIT=v2
	case $MODE in
	b) wait_written "$PID" "$a"; DELAY=$b ;;
	e) wait_readback "$PID" "$DEV/kill.json"; DELAY=$a ;;
	*) DELAY=$a ;;
	esac
}
be_rk_done() { :; }
be_rk_label() { echo "$MODE:$1->$BE_OUTCOME"; }
RK_LEGEND="KIND:STATE->SYSTEM:ROOT (kill kind t/b/e, the last state apply-staged printed, the system the next boot started and what the root held after the kill)"

be_rk_doc() {
	cat <<EOF
Written by \`tests/powercut/random-kill.sh singlecopy\` (\`make powercut\`); do not edit.
$RUNS runs of the real \`updater apply-staged\` (release 2.0 staged on a device running 1.0; $PC_JOBS runs at
once took $RK_T_MS ms here), each killed with SIGKILL at a random moment (seeded: each run prints its
seed, \`SEED=\` repeats the draw): $(grep -c ':t:' "$WORK/points") after a delay drawn over a whole apply-staged,
$(grep -c ':b:' "$WORK/points") once a random number of the $RK_WRITTEN bytes it writes into the root had been written
(then 0-$B_MS ms), $(grep -c ':e:' "$WORK/points") within $E_MS ms after the read-back of the root ended (the activation, the
clean-up). After each, the next boot's apply-staged, the trial boot and \`mark-good\`.
Where the kills of the last run landed: \`build/powercut/random-kill-singlecopy.last\`.
EOF
}
BE_RK_FIGURE=powercut-random-singlecopy
BE_RK_CMD="updater apply-staged"

# ---- the I/O journal ----
# The root, the environment and the state directory are journaled (the kept
# bundle in it is only read, then removed); every cut is replayed from the
# one journal of a whole run (no rerun killed at a record: a SIGKILL loses
# nothing the kernel holds, the model decides what the medium kept).
be_io_prepare() { :; }

be_io_run() {
	local d=$1 j=$2
	shift 3
	LD_PRELOAD=$WORK/bin/libiolog.so IOLOG_FILE=$j \
		IOLOG_TRACK="$d/slots:$d/env/uboot.env:$d/data/updater" \
		"$UPDATER" --config="$d/updater.conf" --progress=none "$@" >"$d/cut.out" 2>&1
}

be_io_cut() {
	DEV=$WORK/dev.$1
	pc_reset "$6" "$DEV"
	"$PYTHON" "$TOP/tests/powercut/iolog-replay.py" --journal "$WORK/journal-$2" \
		--root "$WORK/io-$2" --pristine "$6" --cut "$5" --out "$DEV" \
		2>"$DEV/replay.err" || fail "replay of the cut $3:$4: $(cat "$DEV/replay.err")"
}
be_io_has_state() { return 0; }

# be_io_install_check DEV: the model's expectation for the activation (the
# second environment write: the first names recovery mode; pc_iolog_durable's
# PC_ENVW is the first), then the checks. Uses iolog_point's run, k, kind.
# (Taking the second fsync of uboot.env, the first write's own second one,
# for the activation failed 9 of 30 cuts: the model can tell them apart.)
# shellcheck disable=SC2154 # run, k, kind: iolog_point's
be_io_install_check() {
	local act_k act=no
	# (each environment write is a run of fsyncs of uboot.env, 3 here: the
	# new copy, then the flags; the first makes it the one U-Boot reads, as
	# pc_iolog_durable takes it)
	act_k=$(awk '$2 != "sync" { next }
		/fsync env\/uboot.env$/ { if (!prev && ++n == 2) { print $1; exit } prev = 1; next }
		{ prev = 0 }' "$WORK/list-$run")
	[ -n "$act_k" ] || fail "no second environment fsync in the journal of apply-staged"
	if [ "$k" -gt "$act_k" ] || { [ "$k" = "$act_k" ] && [ "$kind" = sync ]; } || [ "$kind" = end ]; then
		act=yes
	elif [ "$k" = "$act_k" ]; then
		act=maybe # a torn write: the environment itself says which copy won
	fi
	sc_after_cut "$1" "$act"
	sc_recover "$1"
	BE_OUTCOME=$SC_OUTCOME
}

be_io_doc() {
	cat <<EOF
Written by \`tests/powercut/iolog.sh singlecopy\` (\`make powercut\`); do not edit.
\`updater apply-staged\` (release 2.0 staged on a device running 1.0) journaled by the LD_PRELOAD shim
\`tests/powercut/iolog.c\` (writes, fsyncs, renames, directory fsyncs to the root, the environment
and the state directory), then rebuilt by \`tests/powercut/iolog-replay.py\` as a power cut leaves it
at each point:

$(sed 's/^/- /' "$WORK/runs")

That is $n_sync cuts after a completed fsync of a file or a directory (unsynced writes and directory
entries lost), $n_torn cuts during an fsync of unsynced data (only its first, or only its second
half reached the medium) and $n_edge cuts before the first record or after the command exited.
After each, the next boot's apply-staged, the trial boot and \`mark-good\`.
EOF
}
BE_IO_FIGURE=powercut-iolog-singlecopy
BE_IO_LEGEND="command:system the next boot started:what the root held after the cut, +apply: the ramdisk's apply-staged ran again"

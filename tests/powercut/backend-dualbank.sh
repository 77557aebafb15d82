# The dual-bank backend of the power-cut drivers (sweep.sh, random-kill.sh,
# iolog.sh; sourced after lib.sh): which device, which update, where to cut,
# how the cut is made and which checks follow. The checks themselves (what
# "boots a complete, verified system" means here) are tests/powercut/dualbank.sh.
#
# The device: a factory device running 1.0 from slot A. The update: "v2",
# release 2.0 in a bundle (DB_IMAGE_MB MiB image). Install cut targets:
# every hit of every named point and every byte position the slot writer
# reports (slot-bytes, every 1 MiB), plus PC_OFFSETS (default 200) more
# offsets spread over the image (the cut lands at the first report >= it).
. "$TOP/tests/powercut/dualbank.sh"
BE_NAME=dualbank
# v2: the full stream (install --full), cut at the slot writer's offsets;
# v2d: the same bundle as a delta install, cut at offsets into what it writes;
# v2s: the same release from a static delta (s/v2.upd with the delta for the
# factory image next to it), cut at offsets into what it writes.
BE_UPDATES="v2 v2d v2s"
BE_SCENARIOS=$DB_SCENARIOS

be_start() {
	[ -x "$UPDATER_FAULT_BIN" ] || fail "no $UPDATER_FAULT_BIN: run 'make updater-fault'"
	[ -x "$UPDATER" ] || fail "no $UPDATER: run 'make'"
	pc_workdir "$1"
	trap pc_cleanup EXIT
	db_fixtures
	BE_FACTORY=$DBF/pristine
}
be_cleanup() { :; }
be_reset() { pc_reset "$@"; }
be_device() { db_device "$1"; }
be_install_cmd() {
	case $1 in
	v2d) echo "install $DBF/v2.upd" ;;
	v2s) echo "install $DBF/s/v2.upd" ;;
	*) echo "install $DB_FULL $DBF/v2.upd" ;;
	esac
}
be_activated() { grep -qx env-written "$1/cut.log" && echo yes || echo no; }

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
	[ ! -s "$DEV/landed" ] || [ "$2" != v2 ] || cat "$DEV/landed" >>"$WORK/positions.$1"
}

be_after_cut() { db_after_cut "$1" "$3" "$4"; BE_OUTCOME=$DB_OUTCOME; }
# be_recover DEV UNIT: the recovery install is of the cut one's kind: after a
# cut static delta the static delta (BE_STATIC_SOURCE), else the delta
# install of the full bundle (BE_SOURCE).
be_recover() {
	if [ "${2:-}" = v2s ]; then
		db_recover "$1" "${BE_STATIC_SOURCE:-$DBF/s/v2.upd}"
	else
		db_recover "$1" "${BE_SOURCE:-$DBF/v2.upd}"
	fi
}
# be_label UNIT CUT PART: the outcome label (the install's has no unit: one update).
be_label() { if [ "$3" = install ]; then echo "$BE_OUTCOME"; else echo "$1:$BE_OUTCOME"; fi; }

# ---- the sweep ----

# be_reference UNIT: a whole install under updater-fault: its fault log.
be_reference() {
	case $1 in
	v2d) db_delta_reference v2d delta; DELTA_WRITTEN=$DB_WRITTEN; return ;;
	v2s) db_delta_reference v2s "static delta"; STATIC_WRITTEN=$DB_WRITTEN; return ;;
	esac
	pc_reset "$DBF/pristine" "$WORK/list"
	be_cut "$WORK/list" v2 "" $(be_install_cmd v2) ||
		fail "a full install under updater-fault failed: $(cat "$WORK/list/cut.out")"
	cp "$WORK/list/cut.log" "$WORK/full.log"
	pc_named_points "$WORK/full.log" >"$WORK/named"
	pc_progress_values "$WORK/full.log" slot-bytes >"$WORK/reported"
	n_reported=$(wc -l <"$WORK/reported")
	grep -qx env-written:1 "$WORK/named" || fail "the fault log of an install has no env-written point"
	[ "$n_reported" -ge "$DB_IMAGE_MB" ] || fail "the slot writer reported $n_reported positions for a $DB_IMAGE_MB MiB image"
	[ "$(tail -n1 "$WORK/reported")" = "$V2_SIZE" ] || fail "the last slot-bytes report is not the image size"
	echo "  fault points of a full install: $(pc_listing "$WORK/full.log")"
}
# A delta install's reference (UNIT v2d or v2s, KIND how its last line
# says it ran): what it writes (DB_WRITTEN bytes, the last delta-written
# report) is where its cuts go; the named points are the engine's, as the
# full install's, and are cut there.
db_delta_reference() {
	pc_reset "$DBF/pristine" "$WORK/list-$1"
	be_cut "$WORK/list-$1" "$1" "" $(be_install_cmd "$1") ||
		fail "a $2 install under updater-fault failed: $(cat "$WORK/list-$1/cut.out")"
	cp "$WORK/list-$1/cut.log" "$WORK/$1.log"
	DB_WRITTEN=$(pc_progress_values "$WORK/$1.log" delta-written | tail -n 1)
	# (the image's zero blocks are in place on the factory's empty slot B:
	# what it writes is the data, some MiB of it)
	[ "${DB_WRITTEN:-0}" -gt 1048576 ] ||
		fail "the $2 install wrote ${DB_WRITTEN:-nothing} bytes of a $V2_SIZE-byte image into the factory's slot B"
	grep -q "($2: .* downloaded" "$WORK/list-$1/cut.out" ||
		fail "the $1 install did not run as a $2: $(tail -n1 "$WORK/list-$1/cut.out")"
	echo "  fault points of a $2 install: $(pc_listing "$WORK/$1.log")"
}
be_install_points() {
	pc_sweep_points "$WORK/full.log" slot-bytes "$V2_SIZE" "${PC_OFFSETS:-200}" | sed 's/^/v2|fault:/'
	pc_offsets "$DELTA_WRITTEN" "${PC_DELTA_OFFSETS:-40}" | sed 's/^/v2d|fault:delta-written@/'
	pc_offsets "$STATIC_WRITTEN" "${PC_STATIC_OFFSETS:-30}" | sed 's/^/v2s|fault:delta-written@/'
}
be_points_ready() { :; }
be_install_summary() {
	positions=$(cat "$WORK"/positions.* 2>/dev/null | sort -u | wc -l)
	n_named=$(wc -l <"$WORK/named")
	n_bytes=$(grep -c '|fault:slot-bytes@' "$WORK/points")
	n_delta=$(grep -c '^v2d|fault:delta-written@' "$WORK/points")
	n_static=$(grep -c '^v2s|fault:delta-written@' "$WORK/points")
	echo "  $n_named transition points, $n_bytes byte offsets ($positions distinct write positions of $n_reported reported), $n_delta delta offsets, $n_static static-delta offsets, $PC_JOBS workers, $1 s"
}
be_scenarios_summary() { :; }

be_scenario_setup() { db_scenario_setup "$@"; }
be_scenario_device() { DEV=$WORK/dev.$1; pc_reset "$2" "$DEV"; }
# be_scenario_refs P DEV: the environment before (P) and after a whole run (DEV).
be_scenario_refs() {
	pc_env "$1" >"$1.env-before" || exit 1
	pc_env "$2" >"$1.env-after" || exit 1
}
be_scenario_points() { sed "s/^/$1|fault:/" "$WORK/$1.named"; }
be_scenario_listing() { pc_listing "$WORK/$1.faultlog"; }
be_after_scenario_cut() {
	db_after_scenario_cut "$1" "$2" "$3" "$4" "$(cat "$5.env-before")" "$(cat "$5.env-after")"
	BE_OUTCOME=$DB_OUTCOME
}
be_recover_any() { db_recover_any "$1" "${BE_SOURCE:-$DBF/v2.upd}"; }

# be_sweep_figures PARTS: one block for both parts (written only when both ran whole).
be_sweep_figures() {
	[ "$1" = both ] || return 0
	cat >"$WORK/doc" <<EOF
Written by \`tests/powercut/sweep.sh dualbank\` (\`make powercut\`); do not edit.

**Install.** An install of a $DB_IMAGE_MB MiB image (release 2.0) on a factory device (release 1.0 in
slot A), cut with SIGKILL at:

- $n_named transition points: every hit of every named point of a full install ($(pc_listing "$WORK/full.log" | sed 's/, slot-bytes x[0-9]*//'));
- $n_bytes byte offsets across the image ($positions distinct write positions: the slot writer reports
  every 1 MiB, an offset cuts at the first report at or after it);
- $n_delta offsets into what the same update installed as a delta writes ($DELTA_WRITTEN bytes into the
  factory's slot B: zero blocks and frames; \`delta-written\`, reported after each block written);
- $n_static offsets into what the same release installed from a static delta for the factory image
  writes ($STATIC_WRITTEN bytes: copies from slot A and data frames).

The recovery install after each cut is the delta install (after a static delta's cut, the static
delta): it must resume from whatever the cut left in slot B.

Result: **$INSTALL_FIG.**
After the boot: ${INSTALL_BREAKDOWN:-none} (version booted / state).

**Other commands.** Every hit of every named point of the other commands that write the state or
the environment, each from the device state it runs in:

$(sed 's/^/- /' "$WORK/scenarios")

Result: **${OTHER_FIG:-not run}.**
After the boot: ${OTHER_BREAKDOWN:-none} (scenario: version booted / state).
EOF
	pc_figure powercut-sweep-dualbank "$WORK/doc"
}

# ---- random kills ----
# The moments (what SEED reproduces), four kinds in turn:
#   t:MS        a delay drawn uniformly over the whole install;
#   b:BYTES:MS  once the updater has written BYTES (drawn uniformly over the
#               image; its wchar in /proc/PID/io), then a delay of 0..20 ms:
#               the writes are not uniform in time (the incompressible part
#               of the image takes most of the download);
#   e:MS        once it has written the whole image, a delay of 0..E_MS ms
#               (default 12): the fsync, the read-back and the activation, a
#               window of a few ms that a delay alone rarely hits. The wait
#               looks every millisecond and forks nothing: when it forked a
#               sleep every 5 ms (and awk, sleep before the kill), 6 of 16
#               such runs had finished before their kill (measured here);
#   d:MS        the same update installed as a delta (no --full), a delay
#               drawn uniformly over a whole delta install;
#   s:MS        the same release installed from its static delta for the
#               factory image (s/v2.upd), a delay drawn uniformly over a
#               whole static-delta install.
E_MS=${E_MS:-12}

# rk_device W: a fresh device whose slot B holds other bytes than release
# 2.0 in every block (random, as an older release would), so the slot writer,
# which skips the blocks a slot already holds, writes the whole image: the
# kills aimed at a count of bytes written (wchar) land where they are aimed.
# On the factory's empty slot the zero blocks of the image would not be
# written and the "e" kills would come after the install ended.
rk_device() {
	db_device "$1"
	head -c "${DB_SLOT_MB}M" /dev/urandom >"$DEV/slots/B.img"
}

# be_rk_prepare: a server dripping the bundle in about DRIP_SECONDS and one
# without the drip (for the recovery); how long one install takes; the
# moments (WORK/points).
be_rk_prepare() {
	local size rate c0 t_ms
	mkdir -p "$WORK/www"
	cp "$DBF/v2.upd" "$WORK/www/"
	cp -r "$DBF/s" "$WORK/www/"
	size=$(stat -c %s "$WORK/www/v2.upd")
	rate=$(awk -v s="$size" -v t="$DRIP_SECONDS" 'BEGIN { printf "%d", s / t }')
	pc_server "$WORK/www" --fault "drip=$rate"
	SLOW_URL=$URL
	pc_server "$WORK/www"
	BE_SOURCE=$URL/v2.upd BE_STATIC_SOURCE=$URL/s/v2.upd
	rk_device cal
	c0=$(date +%s%N)
	"$UPDATER" --config="$DEV/updater.conf" --progress=none install $DB_FULL "$SLOW_URL/v2.upd" >"$WORK/cal.out" 2>&1 ||
		fail "the calibration install failed: $(tail -n1 "$WORK/cal.out")"
	t_ms=$((($(date +%s%N) - c0) / 1000000))
	rm -rf "$DEV"
	rk_device cald
	c0=$(date +%s%N)
	"$UPDATER" --config="$DEV/updater.conf" --progress=none install "$SLOW_URL/v2.upd" >"$WORK/cald.out" 2>&1 ||
		fail "the calibration delta install failed: $(tail -n1 "$WORK/cald.out")"
	grep -q "delta: .* downloaded" "$WORK/cald.out" || fail "the calibration delta install ran no delta"
	td_ms=$((($(date +%s%N) - c0) / 1000000))
	rm -rf "$DEV"
	ts_ms=$(rk_calibrate_static) || exit 1
	awk -v seed="$SEED" -v n="$RUNS" -v t="$t_ms" -v td="$td_ms" -v ts="$ts_ms" -v size="$V2_SIZE" \
		-v ems="$E_MS" 'BEGIN {
		srand(seed)
		for (i = 1; i <= n; i++) {
			r = rand()
			if (i % 5 == 1) printf "%d:t:%d\n", i, int(r * 1.05 * t)
			else if (i % 5 == 2) printf "%d:b:%d:%d\n", i, int(r * size), int(rand() * 20)
			else if (i % 5 == 3) printf "%d:e:%d\n", i, int(r * ems)
			else if (i % 5 == 4) printf "%d:d:%d\n", i, int(r * 1.05 * td)
			else printf "%d:s:%d\n", i, int(r * 1.05 * ts)
		}
	}' >"$WORK/points"
	echo "  one install takes $t_ms ms here, a delta install $td_ms ms, a static-delta install $ts_ms ms"
}

# rk_calibrate_static: how long a static-delta install from the dripping
# server takes here (ms).
rk_calibrate_static() {
	local c0
	rk_device cals
	c0=$(date +%s%N)
	"$UPDATER" --config="$DEV/updater.conf" --progress=none install "$SLOW_URL/s/v2.upd" >"$WORK/cals.out" 2>&1 ||
		fail "the calibration static-delta install failed: $(tail -n1 "$WORK/cals.out")"
	grep -q "(static delta: .* downloaded" "$WORK/cals.out" || fail "the calibration static-delta install ran no static delta"
	echo $((($(date +%s%N) - c0) / 1000000))
	rm -rf "$DEV"
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

# be_rk_launch W POINT: starts the install on a fresh device, waits for the
# moment of POINT; sets PID, KILL (what to kill), DELAY (ms still to wait),
# UNIT and MODE.
be_rk_launch() {
	local mode delay bytes
	IFS=: read -r _ mode delay bytes <<<"$2"
	[ "$mode" != b ] || { local at=$delay; delay=$bytes bytes=$at; }
	rk_device "$1"
	local full=$DB_FULL unit=v2 src=$SLOW_URL/v2.upd
	[ "$mode" != d ] || full= unit=v2d
	[ "$mode" != s ] || full= unit=v2s src=$SLOW_URL/s/v2.upd
	# shellcheck disable=SC2086 # full: an option or nothing
	"$UPDATER" --config="$DEV/updater.conf" --progress=json install $full "$src" \
		>"$DEV/kill.json" 2>"$DEV/kill.err" &
	PID=$! KILL=$! DELAY=$delay UNIT=$unit MODE=$mode
	case $mode in
	b) wait_written "$PID" "$bytes" ;;
	e) wait_written "$PID" "$V2_SIZE" ;;
	esac
}
be_rk_done() { :; }
be_rk_label() { echo "$MODE:$1->$BE_OUTCOME"; }
RK_LEGEND="KIND:STATE->VERSION/STATE (kill kind t/b/e/d/s, the last state the install printed, what ran after the boot)"

be_rk_doc() {
	cat <<EOF
Written by \`tests/powercut/random-kill.sh dualbank\` (\`make powercut\`); do not edit.
$RUNS runs of the real \`updater install\` over HTTP (a server dripping the bundle in about
${DRIP_SECONDS} s), each killed with SIGKILL at a random moment (seeded: each run prints its seed,
\`SEED=\` repeats the draw): $(grep -c ':t:' "$WORK/points") after a delay drawn over the whole install,
$(grep -c ':b:' "$WORK/points") once a random number of image bytes had been written, $(grep -c ':e:' "$WORK/points") within $E_MS ms after the
last image byte was written (fsync, read-back, activation) of an install with \`--full\`, and
$(grep -c ':d:' "$WORK/points") after a delay drawn over the whole of a delta install (no \`--full\`), $(grep -c ':s:' "$WORK/points") over the whole of
an install from a static delta for the factory image. Where the kills of the last run
landed: \`build/powercut/random-kill-dualbank.last\`.
EOF
}
BE_RK_FIGURE=powercut-random-dualbank

# ---- the I/O journal ----
be_io_prepare() { :; }
BE_IO_INSTALLS="install-v2d install-v2s"

# be_io_run DEV JOURNAL 0 CMD...: CMD on DEV under the shim, the slots, the
# environment and the state directory journaled to JOURNAL (the cuts are
# replayed from it: no rerun killed at a record, the 0).
be_io_run() {
	local d=$1 j=$2
	shift 3
	LD_PRELOAD=$WORK/bin/libiolog.so IOLOG_FILE=$j \
		IOLOG_TRACK="$d/slots:$d/env/uboot.env:$d/data/updater" \
		"$UPDATER" --config="$d/updater.conf" --progress=none "$@" >"$d/cut.out" 2>&1
}

# be_io_cut W RUN K KIND CUT P: DEV becomes the device as a cut at CUT of
# RUN's journal leaves it (rebuilt from P, the device before the command).
be_io_cut() {
	DEV=$WORK/dev.$1
	pc_reset "$6" "$DEV"
	"$PYTHON" "$TOP/tests/powercut/iolog-replay.py" --journal "$WORK/journal-$2" \
		--root "$WORK/io-$2" --pristine "$6" --cut "$5" --out "$DEV" \
		2>"$DEV/replay.err" || fail "replay of the cut $3:$4: $(cat "$DEV/replay.err")"
}
# (the factory device has a state file: it must survive every cut)
be_io_has_state() { return 0; }
# (run: iolog_point's, the journaled command: after a static delta's cut the
# recovery is the static delta)
be_io_install_check() {
	db_after_cut "$1" "$PC_ENVW" "$PC_SAVED"
	be_recover "$1" "${run#install-}"
	BE_OUTCOME=$DB_OUTCOME
}

be_io_doc() {
	cat <<EOF
Written by \`tests/powercut/iolog.sh dualbank\` (\`make powercut\`); do not edit.
Each command journaled by the LD_PRELOAD shim \`tests/powercut/iolog.c\` (writes, fsyncs, renames,
directory fsyncs to the slots, the environment and the state directory), then rebuilt by
\`tests/powercut/iolog-replay.py\` as a power cut leaves it:

$(sed 's/^/- /' "$WORK/runs")

That is $n_sync cuts after a completed fsync of a file or a directory (unsynced writes and directory
entries lost; \`sync_file_range\` counts for nothing), $n_torn cuts during an fsync of unsynced data
(only its first, or only its second half reached the medium) and $n_edge cuts before the first
record or after the command exited (what it reported done must then hold).
EOF
}
BE_IO_FIGURE=powercut-iolog-dualbank

# The ostree backend of the power-cut drivers (sweep.sh, random-kill.sh,
# iolog.sh; sourced after lib.sh): which device, which update, where to cut,
# how the cut is made and which checks follow. The checks themselves (what
# "boots a complete, verified system" means here) are tests/powercut/ostree.sh.
#
# The device: the factory ostree device (1.0 booted) and one server with the
# fixtures' repository. The updates: "v3", release 3.0 pulled object by object
# (no static delta on the server), and "v2", release 2.0 through a static
# delta the updater applies, then the pull. Every run is in a process group
# of its own; a cut kills the whole group (the pull process too).
#
# Install cut targets: every hit of every named point of 3.0 and every value
# its pull's progress point reported (pull-objects@V); after change N (a file
# created, linked or renamed, a directory made, a name removed under the
# sysroot: the shim tests/powercut/cutter.c counts them) for every change of
# 3.0 that makes pulled or deployed data visible or switches the boot
# (objects, repository state, /boot, boot links, the lock), and OS_SPREAD
# (default 36) more spread evenly over the rest (the pull's staging files,
# the hard links of the checkout); OS_DELTA_SPREAD (default 15) changes
# spread over the whole install of 2.0 (its named points are the same code).
# Scenario cut targets: every named point, every rename or link under /boot,
# the boot links and the repository, every change "other" (the lock), and
# OS_SCEN_SPREAD (default 4) more spread evenly over the rest.
. "$TOP/tests/lib/ostree.sh"
. "$TOP/tests/powercut/ostree.sh"
BE_NAME=ostree
BE_UPDATES="v3 v2"
BE_SCENARIOS=$OS_SCENARIOS

# be_start NAME: WORK (pc_workdir NAME) with its own copy of the shim; the
# fixtures, their server (BE_URL: the repository) and os_fixtures.
be_start() {
	[ -x "$UPDATER_FAULT_BIN" ] || fail "no $UPDATER_FAULT_BIN: run 'make updater-fault'"
	[ -x "$UPDATER" ] || fail "no $UPDATER: run 'make'"
	[ -f "$OS_CUTTER" ] || fail "no $OS_CUTTER: run 'make build/tests/libcutter.so'"
	command -v setsid >/dev/null || fail "no setsid"
	pc_workdir "$1"
	cp "$OS_CUTTER" "$WORK/bin/libcutter.so"
	OS_CUTTER=$WORK/bin/libcutter.so
	trap pc_cleanup EXIT
	ostree_fixtures
	pc_server "$OFIX/srv"
	BE_URL=$URL/repo
	os_fixtures "$BE_URL"
	BE_FACTORY=$OSF/pristine
}
# (the devices hold immutable deployments: ostree_rm_device; KEEP keeps them)
be_cleanup() {
	local d
	[ -n "${KEEP:-}" ] || for d in "$WORK"/dev.* "$WORK"/list "$WORK"/list.* "$WORK"/io-* \
		"$WORK"/pristine-* "$WORK"/cal "$WORK"/osf/pristine; do
		ostree_rm_device "$d"
	done
}
be_reset() { os_reset "$@"; }
be_device() { os_device "$1"; }
# be_commit UNIT: "COMMIT VERSION" of an update.
be_commit() {
	case $1 in v3) echo "$C3 3.0" ;; v2) echo "$C2 2.0" ;; *) fail "no update $1" ;; esac
}
be_install_cmd() { echo "install $(be_commit "$1" | cut -d' ' -f1)"; }
# The default switches with the rename of boot/loader.
be_activated() { grep -q ' rename .*/sysroot/boot/loader$' "$1/ops.log" 2>/dev/null && echo yes || echo no; }

# be_cut DEV UNIT CUT CMD...: CMD by ./updater-fault under os_run, cut at CUT
# ("fault:SPEC", "op:N": change N of UNIT's reference run, aimed at by
# os_aim and kept in BE_SPEC; "" for none).
be_cut() {
	local d=$1 unit=$2 cut=$3
	shift 3
	BE_SPEC=
	if [ -n "$cut" ]; then
		BE_SPEC=$(os_aim "$WORK/$unit.ops" "$cut") || exit 1
	fi
	os_run "$d" "$BE_SPEC" "$@"
}
be_landed() { os_landed "$DEV" "$3" "$BE_SPEC"; }

be_after_cut() {
	local c v
	read -r c v <<<"$(be_commit "$2")"
	os_after_cut "$1" "$2" "$c" "$v" "$4" "$3"
	BE_OUTCOME=$OS_OUTCOME
}
# be_recover DEV UNIT: to the update committed (from BE_SOURCE, a server
# without faults, when set).
be_recover() {
	local c v
	read -r c v <<<"$(be_commit "$2")"
	[ -z "${BE_SOURCE:-}" ] || ostree_set_url "$1" "$BE_SOURCE"
	os_recover "$1" "$2" "$c" "$v"
}
# be_label UNIT CUT PART: UNIT:[kind of the change cut after->]OUTCOME.
be_label() {
	case $2 in
	op:*) echo "$1:$(awk -v n="${2#op:}" '$1 == n { print $2 }' "$WORK/$1.ops")->$BE_OUTCOME" ;;
	*) echo "$1:$BE_OUTCOME" ;;
	esac
}

# ---- the sweep ----

# be_reference UNIT: what a full install of UNIT does (os_reference), its
# named points (WORK/UNIT.named, .faultlog) and its changes (WORK/UNIT.ops).
be_reference() {
	local name=$1 d=$WORK/list.$1 c v p
	read -r c v <<<"$(be_commit "$1")"
	os_reset "$OSF/pristine" "$d"
	os_run "$d" "" install "$c" || fail "a full install of $v under updater-fault failed: $(tail -n 3 "$d/cut.out")"
	os_reference "$d" "$name" "$c" "$v"
	pc_named_points "$d/cut.log" >"$WORK/$name.named"
	cp "$d/cut.log" "$WORK/$name.faultlog"
	os_ops_reference "$d/ops.log" "$WORK/$name.ops" "$name"
	for p in state-saved:1 deploy:1 deployed:1 set-default:1 env-written:1; do
		grep -qx "$p" "$WORK/$name.named" || fail "the fault log of a full install of $v has no $p"
	done
	[ "$(wc -l <"$WORK/$name.ops")" -ge 300 ] || fail "the shim counted only $(wc -l <"$WORK/$name.ops") changes in an install of $v"
	echo "  $name ($v): $(pc_listing "$d/cut.log"); $(wc -l <"$WORK/$name.ops") changes ($(os_kinds "$WORK/$name.ops" sort))"
}

# os_kinds OPS [sort]: "KIND N, ..." of a change log (by kind, or by count).
os_kinds() {
	if [ -n "${2:-}" ]; then
		awk '{ print $2 }' "$1" | sort | uniq -c
	else
		awk '{ print $2 }' "$1" | sort | uniq -c | sort -rn
	fi | awk '{ printf "%s%s %d", s, $2, $1; s = ", " }'
}

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
be_install_points() {
	sed 's/^/v3|fault:/' "$WORK/v3.named"
	pc_progress_values "$WORK/v3.faultlog" pull-objects | sort -nu | sed 's/^/v3|fault:pull-objects@/'
	ops_spread "$WORK/v3.ops" "${OS_SPREAD:-36}" '^(object|repo|boot|bootlink|other)$' | sed 's/^/v3|op:/'
	ops_spread "$WORK/v2.ops" "${OS_DELTA_SPREAD:-15}" | sed 's/^/v2|op:/'
}
be_points_ready() {
	echo "  cutting at $(grep -c '|fault:' "$1") fault points and after $(grep -c '|op:' "$1") changes"
}
be_install_summary() {
	echo "  $(grep -c '|fault:' "$WORK/points") fault points, $(grep -c '|op:' "$WORK/points") changes, $PC_JOBS workers, $1 s"
}
be_scenarios_summary() {
	echo "  $(grep -c '|fault:' "$WORK/points2") fault points, $(grep -c '|op:' "$WORK/points2") changes, $PC_JOBS workers, $1 s"
}

be_scenario_setup() { os_scenario_setup "$@"; }
be_scenario_device() { os_scenario_device "$@"; }
be_scenario_refs() { os_scenario_refs "$@"; }
# be_scenario_points SCEN: "SCEN|fault:NAME:N" and "SCEN|op:N", from the
# whole run in WORK/list (its changes: WORK/SCEN.ops).
be_scenario_points() {
	os_ops_reference "$WORK/list/ops.log" "$WORK/$1.ops" "$1"
	sed "s/^/$1|fault:/" "$WORK/$1.named"
	awk -v n="${OS_SCEN_SPREAD:-4}" '
		$2 == "other" || ($2 ~ /^(boot|bootlink|repo)$/ && $3 ~ /^(rename|symlink|link)$/) { print $1; next }
		{ rest[++k] = $1 }
		END { for (i = 0; i < n && k > 0; i++) { j = int((i + 0.5) * k / n) + 1; if (j > k) j = k; print rest[j] } }
	' "$WORK/$1.ops" | sort -nu | sed "s/^/$1|op:/"
}
be_scenario_listing() {
	echo "$(pc_listing "$WORK/$1.faultlog"); $(grep -c "^$1|op:" "$WORK/points2") of $(wc -l <"$WORK/$1.ops") changes ($(os_kinds "$WORK/$1.ops"))"
}
be_after_scenario_cut() {
	os_after_scenario_cut "$1" "$2" "$3" "$(be_activated "$1")" "$4" "$5"
	BE_OUTCOME=$OS_OUTCOME
}
be_recover_any() { os_recover_any "$1"; }

# be_sweep_figures PARTS: a block for each part that ran whole.
be_sweep_figures() {
	if [ "$1" != scenarios ]; then
		cat >"$WORK/doc" <<EOF
Written by \`tests/powercut/sweep.sh ostree install\` (\`make powercut\`); do not edit.

An install on a factory device (release 1.0 deployed and booted), cut with SIGKILL of the updater's
whole process group:

- **3.0, pulled object by object** (no static delta on the server): $(grep -c '^v3|fault:' "$WORK/points") fault points
  (every hit of every named point: $(pc_listing "$WORK/v3.faultlog")), and $(grep -c '^v3|op:' "$WORK/points") of the
  $(wc -l <"$WORK/v3.ops") changes the install makes under the sysroot ($(os_kinds "$WORK/v3.ops")): every one that makes an
  object, the repository state or the boot configuration visible, and the others spread evenly.
- **2.0, through a static delta** (fetched by the updater, applied by libostree), then the pull:
  $(grep -c '^v2|op:' "$WORK/points") of its $(wc -l <"$WORK/v2.ops") changes spread evenly.

Result: **$INSTALL_FIG.**
After the boot: ${INSTALL_BREAKDOWN:-none} (update:[where the last change landed->]version booted/state).
EOF
		pc_figure powercut-sweep-ostree "$WORK/doc"
	fi
	[ "$1" != install ] || return 0
	cat >"$WORK/doc" <<EOF
Written by \`tests/powercut/sweep.sh ostree scenarios\` (\`make powercut\`); do not edit.

The commands after an install, each from the device state it runs in, cut with SIGKILL of the
updater's process group at every hit of every named point and after every rename or link under
\`/boot\`, the boot links and the repository, plus changes spread over the rest (staging files, files
of a removed deployment, pruned objects):

$(sed 's/^/- /' "$WORK/scenarios")

Result: **$OTHER_FIG.**
After the boot: ${OTHER_BREAKDOWN:-none} (scenario:[kind of the last change->]version booted/state).
EOF
	pc_figure powercut-sweep-ostree-scenarios "$WORK/doc"
}

# ---- random kills ----
# Odd runs install 3.0, even runs 2.0. The moments (what SEED reproduces),
# two kinds in turn:
#   t:MS        a delay drawn uniformly over the whole install;
#   c:N:MS      once the install has made N changes under the sysroot (N
#               drawn uniformly over the changes of a whole install, counted
#               by tests/powercut/cutter.c, which tells through a FIFO when
#               change N is made and cuts nothing itself), then a delay of
#               0..C_MS ms (default 3): the deploy, which makes most of the
#               changes, takes a small part of the time. With 0..10 ms (and an
#               awk before the sleep), 10 of 24 such runs had finished before
#               their kill (measured here); C_MS keeps most of them kills.
C_MS=${C_MS:-3}
NOFREEZE=()
[ "$(id -u)" != 0 ] || NOFREEZE=(setpriv --bounding-set=-sys_admin --)

# start_install DEV COMMIT [N]: the real updater, in a process group of its own,
# in the background (sets PID). With N, the shim counts its changes (in
# DEV/ops.counter) and, at change N (0: never), writes to the FIFO
# DEV/notify, which the caller holds open (fd 7).
start_install() {
	local d=$1 c=$2
	local -a env=()
	if [ -n "${3:-}" ]; then
		head -c 24 /dev/zero >"$d/ops.counter"
		env=(LD_PRELOAD="$OS_CUTTER" CUT_ROOT="$d/sysroot" CUT_COUNTER="$d/ops.counter"
			CUT_NOTIFY="$d/notify" CUT_NOTIFY_AT="$3")
	fi
	env "${env[@]}" setsid "${NOFREEZE[@]}" "$UPDATER" --config="$d/updater.conf" --progress=json \
		install "$c" >"$d/kill.json" 2>"$d/kill.err" </dev/null &
	PID=$!
}

# be_rk_prepare: the references of a whole install of each update
# (os_reference) and its length in changes; then a server dripping the
# repository (libostree fetches objects several at a time; the largest, the
# kernel, 256 KiB, takes about DRIP_SECONDS), the time an install takes with
# it here and now, and the moments (WORK/points). The recovery uses the
# server without the drip (BE_SOURCE).
be_rk_prepare() {
	local name c v d rate c0
	BE_SOURCE=$BE_URL
	for name in v3 v2; do
		read -r c v <<<"$(be_commit "$name")"
		d=$WORK/list.$name
		os_reset "$OSF/pristine" "$d"
		start_install "$d" "$c" 0
		wait "$PID" || fail "a whole install of $v failed: $(tail -n 2 "$d/kill.err")"
		os_reference "$d" "$name" "$c" "$v"
		od -An -tu8 -N8 "$d/ops.counter" | tr -d ' ' >"$WORK/$name.changes"
		[ "$(cat "$WORK/$name.changes")" -ge 300 ] || fail "only $(cat "$WORK/$name.changes") changes in an install of $v"
	done
	rate=$(awk -v t="$DRIP_SECONDS" 'BEGIN { printf "%d", 262144 / t }')
	pc_server "$OFIX/srv" --fault "drip=$rate"
	ostree_set_url "$OSF/pristine" "$URL/repo"
	for name in v3 v2; do
		read -r c v <<<"$(be_commit "$name")"
		os_reset "$OSF/pristine" "$WORK/cal"
		c0=$(date +%s%N)
		start_install "$WORK/cal" "$c"
		wait "$PID" || fail "the calibration install of $name failed: $(tail -n1 "$WORK/cal/kill.err")"
		echo $((($(date +%s%N) - c0) / 1000000)) >"$WORK/$name.ms"
		ostree_rm_device "$WORK/cal"
	done
	echo "  one install takes $(cat "$WORK/v3.ms") ms (3.0) and $(cat "$WORK/v2.ms") ms (2.0) here; $(cat "$WORK/v3.changes") and $(cat "$WORK/v2.changes") changes"
	awk -v seed="$SEED" -v n="$RUNS" -v t3="$(cat "$WORK/v3.ms")" -v t2="$(cat "$WORK/v2.ms")" \
		-v n3="$(cat "$WORK/v3.changes")" -v n2="$(cat "$WORK/v2.changes")" -v cms="$C_MS" 'BEGIN {
		srand(seed)
		for (i = 1; i <= n; i++) {
			name = i % 2 ? "v3" : "v2"; t = i % 2 ? t3 : t2; k = i % 2 ? n3 : n2
			r = rand()
			if (i % 4 == 1 || i % 4 == 2) printf "%d:%s:t:%d\n", i, name, int(r * 1.05 * t)
			else printf "%d:%s:c:%d:%d\n", i, name, 1 + int(r * k), int(rand() * cms)
		}
	}' >"$WORK/points"
}

# wait_notified PID: until the shim has written to the FIFO on fd 7 (or
# the install has ended).
wait_notified() {
	local line
	while kill -0 "$1" 2>/dev/null; do
		read -r -t 0.05 line <&7 && return 0
	done
}

# be_rk_launch W POINT: starts the install on a fresh device, waits for the
# moment of POINT; sets PID, KILL (the whole group), DELAY (ms still to
# wait), UNIT and MODE.
be_rk_launch() {
	local a b c
	IFS=: read -r _ UNIT MODE a b <<<"$2"
	c=$(be_commit "$UNIT" | cut -d' ' -f1)
	os_device "$1"
	if [ "$MODE" = c ]; then
		# Read-write: neither side's open waits for the other.
		rm -f "$DEV/notify"
		mkfifo "$DEV/notify" && exec 7<>"$DEV/notify" || fail "mkfifo $DEV/notify"
		start_install "$DEV" "$c" "$a"
		wait_notified "$PID"
		DELAY=$b
	else
		start_install "$DEV" "$c"
		DELAY=$a
	fi
	KILL=-$PID
}
be_rk_done() { [ "$MODE" != c ] || exec 7>&-; }
be_rk_label() { echo "$UNIT:$MODE:$1->$BE_OUTCOME"; }
RK_LEGEND="UPDATE:KIND:STATE->VERSION/STATE (kill kind t/c, the last state the install printed, what ran after the boot)"

be_rk_doc() {
	cat <<EOF
Written by \`tests/powercut/random-kill.sh ostree\` (\`make powercut\`); do not edit.
$RUNS runs of the real \`updater install\` over HTTP (a server dripping the repository so that the
kernel object alone takes about ${DRIP_SECONDS} s), 3.0 (a pull of objects) and 2.0 (a static delta, then
the pull) in turn, each killed with SIGKILL of its process group at a random moment (seeded: each
run prints its seed, \`SEED=\` repeats the draw):
$(grep -c ':t:' "$WORK/points") after a delay drawn over the whole install, $(grep -c ':c:' "$WORK/points") once a random number of the
install's changes under the sysroot had been made (then 0-$C_MS ms). Where the kills of the last run
landed: \`build/powercut/random-kill-ostree.last\`.
EOF
}
BE_RK_FIGURE=powercut-random-ostree

# ---- the I/O journal ----
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
# leaves them.
#
# The pull runs in a child process (`updater __helper ostree ...`): it never
# touches the state directory or the environment, so the journal holds one
# process's records; the replay refuses a journal with records of more than
# one process (the test then fails: it does not pretend).
be_io_prepare() {
	os_references
	PC_SLOTS=$(os_ids)
}

# be_io_run DEV JOURNAL KILL CMD...: CMD on DEV under os_run, the state
# directory and the environment journaled to JOURNAL; KILL: the record to be
# killed after (IOLOG_KILL_AT), or 0.
be_io_run() {
	local d=$1 j=$2 k=$3
	shift 3
	rm -f "$j" "$j.data"
	OS_RUN_PRELOAD=$WORK/bin/libiolog.so \
		OS_RUN_ENV="IOLOG_FILE=$j IOLOG_TRACK=$d/data/updater:$d/env/uboot.env IOLOG_KILL_AT=$k" \
		os_run "$d" "" "$@"
}

# record_key JOURNAL K DIR: record K's type and what it names (its path, or
# the path its id was opened under), relative to the device DIR: to check
# that a rerun on another copy reached the same record.
record_key() {
	awk -v k="$2" '
		$1 == "O" { path[$3] = $7 }
		NR == k { if ($1 == "O") print "O", $7; else if ($1 ~ /^[WTFS]$/) print $1, path[$3]; else print $1, $3, $4; exit }
	' "$1" | sed "s#$3/##g"
}

# be_io_cut W RUN K KIND CUT P: DEV becomes a copy of P (the device before
# the command) as a cut at CUT leaves it: the command rerun and killed after
# record K (a whole run for "end"; nothing for "start"), then the state
# directory and the environment put back and rebuilt from this run's journal.
be_io_cut() {
	local run=$2 k=$3 kind=$4 cut=$5 P=$6 j=$WORK/journal.$1 rc cmd
	cmd=$(cat "$P.cmd")
	os_scenario_device "$1" "$P"
	[ "$kind" != start ] || return 0
	if [ "$kind" = end ]; then
		be_io_run "$DEV" "$j" 0 $cmd
		rc=$?
		[ "$rc" = 0 ] || fail "the whole '$cmd' exited $rc: $(tail -n1 "$DEV/cut.out")"
		[ "$(wc -l <"$j")" = "$k" ] || fail "the whole '$cmd' wrote $(wc -l <"$j") records, the reference $k"
	else
		be_io_run "$DEV" "$j" "$k" $cmd
		rc=$?
		[ "$rc" = 137 ] || fail "the cut after record $k did not happen: '$cmd' exited $rc: $(tail -n1 "$DEV/cut.out")"
		[ "$(wc -l <"$j")" = "$k" ] || fail "killed after record $k, the journal has $(wc -l <"$j")"
		[ "$(record_key "$j" "$k" "$DEV")" = "$(record_key "$WORK/journal-$run" "$k" "$WORK/io-$run")" ] ||
			fail "record $k is '$(record_key "$j" "$k" "$DEV")' here, '$(record_key "$WORK/journal-$run" "$k" "$WORK/io-$run")' in the reference"
	fi
	rm -rf "$DEV/data/updater" && cp -a "$P/data/updater" "$DEV/data/updater" &&
		cp "$P/env/uboot.env" "$DEV/env/uboot.env" || fail "cannot put back the state and the environment"
	"$PYTHON" "$TOP/tests/powercut/iolog-replay.py" --journal "$j" --root "$DEV" --pristine "$P" \
		--cut "$cut" --out "$DEV" 2>"$DEV.replay.err" || fail "replay of the cut $k:$kind: $(cat "$DEV.replay.err")"
}
# be_io_has_state P DEV: a state file to check (none on a factory device
# before its first save).
be_io_has_state() { [ -e "$1/data/updater/state" ] || [ -e "$2/data/updater/state" ]; }

# be_io_install_check DEV: the model's own expectation (the trial is on
# exactly when the environment write became durable), then the checks.
be_io_install_check() {
	if [ "$PC_ENVW" = yes ]; then
		[ "$(pc_env "$1")" = "$(cat "$OSF/v3.env")" ] || fail "the environment write was durable, the environment is $(pc_env "$1")"
	else
		[ "$(pc_env "$1")" = "$(cat "$OSF/env.old")" ] || fail "the environment write was not durable, the environment is $(pc_env "$1")"
	fi
	os_after_cut "$1" v3 "$C3" 3.0 "$PC_SAVED" "$(be_activated "$1")"
	os_recover "$1" v3 "$C3" 3.0
	BE_OUTCOME=$OS_OUTCOME
}

be_io_doc() {
	cat <<EOF
Written by \`tests/powercut/iolog.sh ostree\` (\`make powercut\`); do not edit.
Each command journaled by the LD_PRELOAD shim \`tests/powercut/iolog.c\` (writes, fsyncs, renames,
directory fsyncs to the state directory and the environment; the sysroot is not journaled: it is
taken as a SIGKILL at that record leaves it, libostree's own syncs assumed right), then cut again
at each sync point and rebuilt by \`tests/powercut/iolog-replay.py\` as a power cut leaves it:

$(sed 's/^/- /' "$WORK/runs")

That is $n_sync cuts after a completed fsync of a file or a directory (unsynced writes and directory
entries lost), $n_torn cuts during an fsync of unsynced data (only its first, or only its second half
reached the medium) and $n_edge cuts before the first record or after the command exited.
EOF
}
BE_IO_FIGURE=powercut-iolog-ostree

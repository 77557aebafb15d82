# Power-cut harness, the backend-neutral part (bash; sourced after TOP is set).
#
# A power-cut test is a list of "points" (a fault spec, a delay, a sync point
# of the I/O log...). Each point runs in a subshell with `set -u` as
#     FUNC WORKER POINT
# on a device of its own; it must print "outcome: LABEL" on success and fail
# (common.sh's `fail`, any non-zero exit) otherwise. It may print
# "booted-complete" once the boot it played found a complete system.
# pc_run runs the points on PC_JOBS workers and tallies them.
#
# The drivers (sweep.sh, random-kill.sh, iolog.sh) take the backend as their
# argument; tests/powercut/backend-BACKEND.sh supplies the device, the cut
# targets, how a cut is made and which checks follow (the be_* functions),
# on top of its checks (dualbank.sh, ostree.sh, singlecopy.sh). Everything
# here is shared, including pc_env: the boot-state contract in
# docs/boot-contract.md is the same five variables for every backend, with PC_SLOTS naming the values
# boot_slot may take.

TOP=${TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
export TOP
. "$TOP/tests/lib/common.sh"
UPDATER_FAULT_BIN=${UPDATER_FAULT_BIN:-$TOP/updater-fault}
PC_JOBS=${PC_JOBS:-$(nproc 2>/dev/null || echo 2)}
[ "$PC_JOBS" -ge 1 ] 2>/dev/null || PC_JOBS=2
[ "$PC_JOBS" -le 8 ] || PC_JOBS=8

# pc_backend BACKEND USAGE: the drivers' backend (BACKEND, dualbank,
# ostree or singlecopy): tests/powercut/backend-BACKEND.sh sourced (at the
# top level: its variables are global).
pc_backend() {
	[ -f "$TOP/tests/powercut/backend-$1.sh" ] || fail "usage: $0 $2"
	BACKEND=$1
	. "$TOP/tests/powercut/backend-$1.sh"
}

# pc_workdir NAME: sets WORK to a fresh directory (kept if the test fails), on
# tmpfs when there is one (PC_TMP): a SIGKILL loses nothing the kernel holds,
# so the medium does not matter for these cuts, and fsync and the O_DIRECT
# read-back cost nothing there. Copies the binaries in, so a rebuild during
# the run does not mix two programs.
pc_workdir() {
	local tmp=${PC_TMP:-}
	[ -n "$tmp" ] || { [ -d /dev/shm ] && [ -w /dev/shm ] && tmp=/dev/shm; } || tmp=${TMPDIR:-/tmp}
	WORK=$(mktemp -d "$tmp/updater-$1-XXXXXX") || exit 1
	mkdir -p "$WORK/bin"
	cp "$UPDATER" "$WORK/bin/updater" || fail "no $UPDATER: run 'make'"
	UPDATER=$WORK/bin/updater
	if [ -x "$UPDATER_FAULT_BIN" ]; then
		cp "$UPDATER_FAULT_BIN" "$WORK/bin/updater-fault"
		UPDATER_FAULT_BIN=$WORK/bin/updater-fault
	fi
}

# pc_server ROOT [--fault SPEC]...: a test server (start_httpd: sets URL),
# stopped by pc_cleanup.
PC_SERVERS=
pc_server() {
	start_httpd "$@"
	PC_SERVERS="$PC_SERVERS $HTTPD_PID"
	HTTPD_PID=
}

# pc_cleanup: on exit (the backend's be_start sets the trap): the servers
# stopped, then the backend's be_cleanup.
pc_cleanup() {
	local p
	for p in $PC_SERVERS; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
	PC_SERVERS=
	be_cleanup
}

# pc_finish: the end of a driver, PC_FAILED set: WORK removed if nothing
# failed (and KEEP is not set), else kept and named; exits 1 on failures.
pc_finish() {
	if [ "$PC_FAILED" = 0 ]; then
		[ -n "${KEEP:-}" ] || { pc_cleanup; trap - EXIT; rm -rf "$WORK"; }
	else
		echo "  kept $WORK"
		KEEP=1
		exit 1
	fi
}

# pc_nap SECONDS: a sleep without a process (a read that times out on fd 8,
# a FIFO nobody writes, which the caller opened): forking sleep cost
# milliseconds, in which many an install reached its end.
pc_nap() {
	read -r -t "$1" -u 8 _
}

# pc_only_points FILE UNIT...: with POINTS set ("UNIT|CUT ..."), FILE
# becomes the points of POINTS whose UNIT is one of these (only these cuts).
pc_only_points() {
	local file=$1
	shift
	[ -n "${POINTS:-}" ] || return 0
	tr ' ' '\n' <<<"$POINTS" | grep . | awk -v units=" $* " 'index(units, " " substr($0, 1, index($0, "|") - 1) " ")' >"$file"
}

# pc_lock_fixtures DIR: serialise fixture creation between concurrent runs.
pc_lock_fixtures() {
	mkdir -p "$(dirname "$1")"
	exec 8>"$1.lock"
	flock 8
}
pc_unlock_fixtures() { exec 8>&-; }

# pc_reset PRISTINE DEV: DEV becomes a copy of PRISTINE (a device in its
# factory state). Slot files stay sparse, so this is cheap. fw_env.config
# names the environment by absolute path: it is pointed at the copy's.
pc_reset() {
	rm -rf "$2"
	cp -a --sparse=always "$1" "$2" || fail "cannot copy $1 to $2"
	if [ -f "$2/env/fw_env.config" ]; then
		sed -i "s#^$1/#$2/#" "$2/env/fw_env.config"
		! grep -q "^$1/" "$2/env/fw_env.config" || fail "$2/env/fw_env.config still names $1"
	fi
}

# pc_named_points LOG: one "NAME:N" per hit of a named fault point, in the
# order of the hits (UPDATER_FAULT=NAME:N cuts exactly there).
pc_named_points() {
	awk '!/@/ { n[$0]++; print $0 ":" n[$0] }' "$1"
}

# pc_progress_values LOG NAME: the values progress point NAME reported.
pc_progress_values() {
	awk -F@ -v name="$2" '$1 == name { print $2 }' "$1"
}

# pc_sweep_points LOG PROGRESS MAX COUNT: the cut points of a sweep over the
# run LOG lists: every hit of every named point (NAME:N), then progress point
# PROGRESS at every value it reported and at COUNT more values spread over
# 1..MAX (PROGRESS@V: the cut lands at the first report >= V).
pc_sweep_points() {
	pc_named_points "$1"
	{ pc_progress_values "$1" "$2"; pc_offsets "$3" "$4"; } | sort -nu | sed "s/^/$2@/"
}

# pc_listing LOG: "NAME xN, ..." for the points of a run, in order of first hit.
pc_listing() {
	sed 's/@.*//' "$1" | awk '!n[$0]++ { o[++k] = $0 } END { for (i = 1; i <= k; i++) printf "%s%s x%d", (i > 1 ? ", " : ""), o[i], n[o[i]] }'
}

# pc_cut_landed SPEC LOG: the run cut at SPEC stopped where it was aimed: the
# last point in its LOG is the Nth hit of NAME, or the first report of
# PROGRESS at or above V. Prints the value reported, for PROGRESS@V.
pc_cut_landed() {
	local spec=$1 log=$2 last v x prev
	last=$(tail -n 1 "$log")
	case $spec in
	*@*)
		v=${spec#*@} x=${last#*@}
		prev=$(grep "^${spec%@*}@" "$log" | tail -n 2 | head -n 1)
		prev=${prev#*@}
		[ "${last%@*}" = "${spec%@*}" ] && [ "$x" -ge "$v" ] &&
			{ [ "$prev" = "$x" ] || [ "$prev" -lt "$v" ]; } ||
			fail "aimed at $spec, the last point hit was $last"
		echo "$x"
		;;
	*)
		[ "$last" = "${spec%:*}" ] && [ "$(grep -cx "${spec%:*}" "$log")" = "${spec#*:}" ] ||
			fail "aimed at $spec, the last point hit was $last"
		;;
	esac
}

# pc_offsets MAX COUNT: COUNT values spread evenly over 1..MAX, none of them a
# multiple of 1 MiB (those are given separately: they are what the writer reports).
pc_offsets() {
	awk -v max="$1" -v n="$2" 'BEGIN {
		for (i = 0; i < n; i++) {
			v = int((i + 0.5) * max / n); if (v < 1) v = 1
			if (v % 1048576 == 0) v++
			if (v > max) v = max
			print v
		}
	}'
}

# pc_env DEV: checks that the boot environment parses (fw_printenv) and holds
# the five contract variables with values the contract allows; prints
# "boot_slot upgrade_available bootcount bootlimit rollback".
pc_env() {
	local cfg=$1/env/fw_env.config out env
	out=$(fw_printenv -c "$cfg" 2>&1) || fail "boot environment does not parse: fw_printenv: $out"
	# (into a variable: the workers of pc_run read the same pristine device at
	# once, and a scratch file beside it raced, one worker truncating what the
	# other read)
	env=$(awk -F= -v slots="${PC_SLOTS:-A B}" '
		{ v[$1] = substr($0, length($1) + 2) }
		END {
			split(slots, s, " "); for (i in s) ok[s[i]] = 1
			if (!("boot_slot" in v)) { print "boot_slot missing"; exit 1 }
			if (!(v["boot_slot"] in ok)) { print "boot_slot=" v["boot_slot"]; exit 1 }
			split("upgrade_available rollback", f, " ")
			for (i in f) if (v[f[i]] !~ /^[01]$/) { print f[i] "=" v[f[i]]; exit 1 }
			split("bootcount bootlimit", f, " ")
			for (i in f) if (v[f[i]] !~ /^[0-9]+$/ || v[f[i]] + 0 > 999) { print f[i] "=" v[f[i]]; exit 1 }
			print v["boot_slot"], v["upgrade_available"] + 0, v["bootcount"] + 0, v["bootlimit"] + 0, v["rollback"] + 0
		}' <<<"$out") || fail "boot environment not sane: $env"
	echo "$env"
}

# pc_status DEV: `updater status --json` must work and print the documented
# JSON (docs/cli.md); prints "STATE BOOTED_SLOT BOOTED_VERSION PENDING_SLOT
# LAST_ERROR" (- for null, spaces in values become _), then one line
# "TARGET STATUS VERSION" per target record. Inside pc_run, one Python per
# worker parses (pc_json_start), not one per call.
PC_JSON_PY='
import json, sys
def fields(path):
    s = json.load(open(path))
    n = lambda v: "-" if v in (None, "") else str(v).replace(" ", "_")
    out = ["%s %s %s %s %s" % (s["state"], n(s["booted"]["slot"]), n(s["booted"]["version"]),
                               n((s["pending"] or {}).get("slot")), n(s["last_error"]))]
    out += ["%s %s %s" % (t["id"], t["status"], n(t["version"])) for t in s["targets"]]
    return out
def main(paths):
    for p in paths:
        try:
            out = fields(p.strip())
        except Exception as e:
            out = ["ERROR not the documented JSON: %r" % e]
        print("\n".join(out) + "\nEND", flush=True)
main(sys.stdin if len(sys.argv) < 2 else sys.argv[1:])
'
# (bash does not pass coproc descriptors to subshells: named pipes, on fds 5 and 6)
pc_json_start() {
	local fifo=$WORK/.json.$1
	rm -f "$fifo.in" "$fifo.out"
	mkfifo "$fifo.in" "$fifo.out" || return 0
	"$PYTHON" -S -u -c "$PC_JSON_PY" <"$fifo.in" >"$fifo.out" &
	PC_JSON_PID=$!
	exec 5>"$fifo.in" 6<"$fifo.out"
}
pc_json_stop() {
	[ -n "${PC_JSON_PID:-}" ] || return 0
	exec 5>&- 6<&-
	wait "$PC_JSON_PID"
	PC_JSON_PID=
}
pc_status() {
	local rc line
	"$UPDATER" --config="$1/updater.conf" status --json >"$1/.status.json" 2>"$1/.status.err"
	rc=$?
	[ "$rc" = 0 ] || fail "status --json exited $rc: $(cat "$1/.status.err")"
	if [ -n "${PC_JSON_PID:-}" ]; then
		echo "$1/.status.json" >&5
		while IFS= read -r line <&6 && [ "$line" != END ]; do
			echo "$line"
		done >"$1/.status.fields"
	else
		"$PYTHON" -S -c "$PC_JSON_PY" "$1/.status.json" | sed '/^END$/d' >"$1/.status.fields"
	fi
	! grep -q '^ERROR' "$1/.status.fields" ||
		fail "status --json: $(cat "$1/.status.fields"): $(cat "$1/.status.json")"
	cat "$1/.status.fields"
}

# pc_env_is DEV WANT WHAT: the environment (pc_env) is WANT.
pc_env_is() {
	local env
	env=$(pc_env "$1") || exit 1
	[ "$env" = "$2" ] || fail "$3: $env, expected $2"
}

# pc_booted_status DEV BOOTED VERSION: `status --json` after a boot (in
# DEV/status) names BOOTED, release VERSION, as running and nothing pending;
# sets the caller's st, bslot, bver, pend and lerr.
pc_booted_status() {
	pc_status "$1" >"$1/status" || exit 1
	read -r st bslot bver pend lerr <"$1/status"
	[ "$bslot $bver" = "$2 $3" ] || fail "status says booted $bslot $bver, the boot ran $2 ($3)"
	[ "$pend" = - ] || fail "status shows a pending update to $pend after the boot"
}

# pc_boot_state DEV NEW ID VERSION SAVED: the state after the boot (the
# caller's st and lerr, DEV/status): with the new release booted (NEW yes),
# its trial, ID recorded verified VERSION; else pc_state_not_activated.
pc_boot_state() {
	if [ "$2" = yes ]; then
		[ "$st" = trial ] || fail "state on the trial boot of $4 is $st"
		grep -qx "$3 verified $4" "$1/status" || fail "$3 not recorded verified $4: $(tr '\n' ' ' <"$1/status")"
	else
		pc_state_not_activated "$5" "$st" "$lerr"
	fi
}

# pc_state_not_activated SAVED ST LERR: the state after the boot of the old
# release, the new one never activated: idle when no state save of the
# command had completed (SAVED no), failed as "interrupted" when one had
# (yes); either when that is not known (maybe).
pc_state_not_activated() {
	case "$1:$2" in
	no:idle | maybe:idle) ;;
	yes:failed | maybe:failed)
		case $3 in *interrupted*) ;; *) fail "state failed, last_error is not 'interrupted': $3" ;; esac ;;
	*) fail "state after the boot of the old release is $2 (a state save had completed: $1)" ;;
	esac
}

# pc_install_after_cut DEV ON_TRIAL VERSION CMD...: the install that
# recovers a device after a cut (CMD, its output in DEV/recover.out). With
# the new release VERSION already on trial (ON_TRIAL yes) it must refuse with
# exit 7, saying why (returns 1: the trial must end first); else it must
# succeed, and DEV/status is then pc_status's (returns 0).
pc_install_after_cut() {
	local d=$1 trial=$2 v=$3 rc
	shift 3
	"$@" >"$d/recover.out" 2>&1
	rc=$?
	if [ "$trial" = yes ]; then
		[ "$rc" = 7 ] || fail "install while $v is on trial exited $rc, expected 7: $(tail -n1 "$d/recover.out")"
		grep -q 'on trial' "$d/recover.out" || fail "install refused without saying the trial is why"
		return 1
	fi
	[ "$rc" = 0 ] || fail "install of $v after the cut exited $rc: $(tail -n1 "$d/recover.out")"
	pc_status "$d" >"$d/status" || exit 1
}

# pc_state_records DEV: "ID STATUS SIZE DIGEST" per target from the state file
# (status --json does not show digests).
pc_state_records() {
	awk -F= '
		/^target\./ {
			k = substr($1, 8); dot = match(k, /\.[a-z_]+$/)
			id = substr(k, 1, dot - 1); f = substr(k, dot + 1)
			if (!(id in seen)) { seen[id] = 1; order[++n] = id }
			v[id, f] = $2
		}
		END { for (i = 1; i <= n; i++) { id = order[i]
			print id, v[id, "status"], v[id, "size"] + 0, (v[id, "digest"] == "" ? "-" : v[id, "digest"]) } }
	' "$1"
}

# pc_sample POINTS_FILE: with PC_SAMPLE=K (K > 1; `make check`), only every
# Kth point is kept, from PC_SAMPLE_OFFSET (default: the commit's hash mod K,
# so that successive commits cut different points; printed, to repeat a
# run). The full lists run in `make powercut`, which writes the figures.
pc_sample() {
	local k=${PC_SAMPLE:-1} off n
	[ "$k" -gt 1 ] 2>/dev/null || return 0
	off=${PC_SAMPLE_OFFSET:-$(($(printf '%d' "0x$(git -C "$TOP" rev-parse --short=7 HEAD 2>/dev/null || echo 0)") % k))}
	n=$(wc -l <"$1" | tr -d ' ')
	awk -v k="$k" -v off="$off" '(NR - 1) % k == off' "$1" >"$1.sample" && mv "$1.sample" "$1" ||
		fail "pc_sample: $1"
	echo "sampled: $(wc -l <"$1" | tr -d ' ') of $n points (PC_SAMPLE=$k PC_SAMPLE_OFFSET=$off)"
}

# pc_run FUNC POINTS_FILE: runs FUNC WORKER POINT for each line of POINTS_FILE
# on PC_JOBS workers (worker W owns device $WORK/dev.W). Writes
# $WORK/results ("ok POINT LABEL [complete]" / "fail POINT MESSAGE") and keeps
# the log of each failure as $WORK/fail.N.log.
pc_run() {
	local func=$1 points=$2 w pids=()
	for ((w = 0; w < PC_JOBS; w++)); do
		pc_worker "$func" "$points" "$w" >"$WORK/results.$w" &
		pids+=($!)
	done
	wait "${pids[@]}"
	cat "$WORK"/results.[0-9]* >"$WORK/results"
	rm -f "$WORK"/results.[0-9]*
}

pc_worker() {
	local func=$1 points=$2 w=$3 i=0 point log label complete msg
	log=$WORK/worker.$w.log
	pc_json_start "$w"
	while IFS= read -r point; do
		if ((i++ % PC_JOBS != w)); then continue; fi
		if (set -u; "$func" "$w" "$point") >"$log" 2>&1; then
			label=$(sed -n 's/^outcome: //p' "$log" | tail -n 1)
			complete=$(grep -qx booted-complete "$log" && echo complete)
			echo "ok $point ${label:-?} $complete"
		else
			cp "$log" "$WORK/fail.$i.log"
			complete=$(grep -qx booted-complete "$log" && echo complete)
			msg=$(grep -m1 '^FAIL: ' "$log" | cut -c7-)
			[ -n "$msg" ] || msg=$(tail -n 1 "$log")
			echo "fail $point ${complete:-incomplete} $msg (log: $WORK/fail.$i.log)"
		fi
	done <"$points"
	pc_json_stop
}

# pc_report TITLE [NOUN]: prints one line per failed point, a breakdown of
# the outcomes and the summary line "TITLE: N NOUN, N boots found a complete
# system, N failures" (NOUN: "points cut"); sets PC_N PC_COMPLETE PC_FAILED
# PC_BREAKDOWN.
pc_report() {
	local title=$1 noun=${2:-points cut}
	PC_N=$(wc -l <"$WORK/results" | tr -d ' ')
	PC_FAILED=$(grep -c '^fail ' "$WORK/results")
	PC_COMPLETE=$(grep -c ' complete$\|^fail [^ ]* complete ' "$WORK/results")
	grep '^fail ' "$WORK/results" | cut -d' ' -f2- | sed 's/^/FAIL: /'
	PC_BREAKDOWN=$(awk '$1 == "ok" { print $3 }' "$WORK/results" | sort | uniq -c |
		awk '{ printf "%s%s x%d", sep, $2, $1; sep = ", " }')
	echo "  outcomes: ${PC_BREAKDOWN:-none}"
	echo "$title: $PC_N $noun, $PC_COMPLETE boots found a complete system, $PC_FAILED failures"
}

# pc_kill_counts: for the random-kill tests, whose outcome labels say
# "exited" for a run whose updater finished (exit 0) before the kill came:
# sets PC_KILLED (runs where the SIGKILL landed while the updater ran, the
# only ones that count as cuts), PC_KILLED_COMPLETE (of those, the boots
# that found a complete system) and PC_FINISHED (runs that finished first:
# checked all the same, counted apart). Failures are in PC_FAILED.
pc_kill_counts() {
	PC_FINISHED=$(awk '$1 == "ok" && $3 ~ /:exited->/' "$WORK/results" | wc -l | tr -d ' ')
	PC_KILLED=$(awk '$1 == "ok" && $3 !~ /:exited->/' "$WORK/results" | wc -l | tr -d ' ')
	PC_KILLED_COMPLETE=$(awk '$1 == "ok" && $3 !~ /:exited->/ && $4 == "complete"' "$WORK/results" |
		wc -l | tr -d ' ')
	echo "  $PC_KILLED runs killed while the updater ran ($PC_KILLED_COMPLETE boots found a complete system)," \
		"$PC_FINISHED finished before the kill (not counted as kills), $PC_FAILED failures"
}

# pc_figure NAME TEXTFILE: the figures of the "NAME" block of
# docs/reliability.md, with the hash of the sources they measured, into
# build/figures/NAME.md (tests/lib/figures.py; `make figures` puts them into
# the page: the tests never write docs/).
pc_figure() {
	if [ "${PC_SAMPLE:-1}" -gt 1 ] 2>/dev/null; then
		echo "figures: $1 not written (a sample: PC_SAMPLE=$PC_SAMPLE)"
		return 0
	fi
	"$PYTHON" "$TOP/tests/lib/figures.py" put "$1" "$2" tests/powercut tests/lib ||
		echo "warning: could not write the figures of $1" >&2
}

# ---- the I/O journal model (iolog-*.sh) ----

# pc_iolog_list RUN CMD PRISTINE ROOT: `iolog-replay.py --list` of the journal
# WORK/journal-RUN (of `updater CMD` on ROOT, a copy of PRISTINE) into
# WORK/list-RUN (a journal the model cannot replay fails the test); writes WORK/k-RUN,
# "ENV_K STATE_K", the sync points where the environment write and the first
# state save became durable (none: never; the cut after the exit shows
# whether that is right); appends the run's points (RUN|K:KIND) to
# WORK/points and its line to WORK/runs.
pc_iolog_list() {
	local run=$1 cmd=$2 list=$WORK/list-$1 env_k state_k
	"$PYTHON" "$TOP/tests/powercut/iolog-replay.py" --journal "$WORK/journal-$run" --root "$4" \
		--pristine "$3" --list >"$list" 2>"$list.err" ||
		fail "iolog-replay cannot model '$cmd': $(cat "$list.err")"
	env_k=$(awk '$2 == "sync" && /fsync env\/uboot.env$/ { print $1; exit }' "$list")
	# The state file's first save: the directory fsync after state.tmp's (the
	# policy file beside it is written first, and is no state save).
	state_k=$(awk '$2 == "sync" && /after fsync data\/updater\/state\.tmp$/ { seen = 1 }
		seen && $2 == "sync" && /fsync of directory data\/updater$/ { print $1; exit }' "$list")
	echo "${env_k:-none} ${state_k:-none}" >"$WORK/k-$run"
	awk -v run="$run" '{ print run "|" $1 ":" $2 }' "$list" >>"$WORK/points"
	echo "$run ($(cut -d' ' -f1 <<<"$cmd")): $(wc -l <"$WORK/journal-$run") records, $(grep -c ' sync ' "$list") sync points, $(grep -c ' torn \| tail ' "$list") torn" >>"$WORK/runs"
}

# pc_iolog_counts: after every pc_iolog_list, sets n_sync, n_torn and n_edge
# (cuts after a completed sync, during one, before the first record or after
# the exit) from WORK/points, and prints the runs' lines.
pc_iolog_counts() {
	sed 's/^/  /' "$WORK/runs"
	n_sync=$(grep -c ':sync$' "$WORK/points")
	n_torn=$(grep -c ':torn$\|:tail$' "$WORK/points")
	n_edge=$(grep -c ':start$\|:end$' "$WORK/points")
}

# pc_iolog_durable RUN K KIND DEV BEFORE: what the model says survived the
# cut at point K:KIND of RUN on DEV (BEFORE: the device before the command).
# Sets PC_ENVW (yes: the environment write is in force; cut during it, the
# environment itself says which copy won) and PC_SAVED (yes: a state save is).
# After the exit, what the command reported done holds.
pc_iolog_durable() {
	local run=$1 k=$2 kind=$3 env_k state_k now was
	read -r env_k state_k <"$WORK/k-$run"
	PC_ENVW=no PC_SAVED=no
	if [ "$env_k" != none ]; then
		if [ "$k" -gt "$env_k" ] || { [ "$k" = "$env_k" ] && [ "$kind" = sync ]; }; then
			PC_ENVW=yes
		elif [ "$k" = "$env_k" ]; then
			# A torn environment write: its new copy may be complete (the
			# variables fit in its first half) or not (its header never
			# reached the medium); the environment says which, U-Boot agrees.
			now=$(pc_env "$4") || exit 1
			was=$(pc_env "$5") || exit 1
			[ "$now" = "$was" ] || PC_ENVW=yes
		fi
		[ "$kind" != end ] || PC_ENVW=yes
	fi
	if [ "$state_k" != none ]; then
		[ "$k" -lt "$state_k" ] || PC_SAVED=yes
		[ "$kind" != end ] || PC_SAVED=yes
	fi
}

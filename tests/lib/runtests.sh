# run_tests LABEL TEST...: runs each test script with bash in a fresh $WORK
# directory; one PASS/FAIL line with its time per test (the end of the log of a
# failure), then "LABEL: N passed, N failed, N skipped". Returns non-zero on
# any failure. A test that cannot run here and says so with exit 77 (common.sh's
# `skip`) is a SKIP line with its reason, counted apart, never a PASS.
#
# Each test also gets an empty TEST_REPORT_DIR. The checking wrappers of the
# updater (tests/checked/: ASan+UBSan, valgrind) write their reports there
# rather than to stderr, and a test that leaves a non-empty file in it fails:
# a test that expects the updater to exit non-zero would otherwise take a
# sanitizer's or valgrind's exit for the failure it wanted. RUN_REPORTS
# counts the tests that failed that way; RUN_PROCS the updater processes the
# wrappers ran (each leaves an empty run.PID file).

# report_check DIR: prints the reports left in DIR (non-empty files) and fails
# if there is one.
report_check() {
	local r found=1
	# valgrind 3.19 does not know userfaultfd(2) (amd64: 323): it warns in
	# five lines and fails the call with ENOSYS, which lib/fault_around.c
	# takes as "not offered here". That is valgrind's gap, not a finding:
	# those lines go, the rest of the report stays.
	find "$1" -type f -name 'valgrind.*' -size +0 -exec \
		sed -i '/WARNING: unhandled amd64-linux syscall: 323$/,+4d' {} +
	for r in $(find "$1" -type f -size +0 | sort); do
		printf '==> report %s\n' "$(basename "$r")"
		cat "$r"
		found=0
	done
	[ $found = 1 ]
}

# with_reports CMD...: runs CMD (a shell function too) in this shell with a
# TEST_REPORT_DIR of its own; fails, printing them, if it leaves reports.
with_reports() {
	local dir rc
	dir=$(mktemp -d "${TMPDIR:-/tmp}/updater-reports-XXXXXX")
	TEST_REPORT_DIR=$dir "$@"
	rc=$?
	report_check "$dir" || rc=1
	rm -rf "$dir"
	return $rc
}

# run_one T RES: runs test T and leaves in RES.out what run_tests prints for
# it, and in RES.rc "STATUS PROCS REPORTED" (STATUS PASS, SKIP or FAIL).
run_one() {
	local t=$1 res=$2 work start rc ok procs reported=0
	work=$(mktemp -d "${TMPDIR:-/tmp}/updater-$RUN_LABEL-XXXXXX")
	mkdir "$work.reports"
	start=$(date +%s.%N)
	TEST_REPORT_DIR=$work.reports WORK=$work bash "$t" >"$work.log" 2>&1
	rc=$?
	case $rc in 0) ok=PASS ;; 77) ok=SKIP ;; *) ok=FAIL ;; esac
	procs=$(find "$work.reports" -type f -name 'run.*' | wc -l)
	# GCC's libubsan is a runtime of its own beside libasan and ignores
	# log_path: its reports go to stderr, into whatever file the test
	# kept it in. Its exitcode (99) fails most tests; this catches the rest.
	if [ "$procs" -gt 0 ]; then
		grep -rIH -e 'runtime error: ' -e '==ERROR: [A-Za-z]*Sanitizer' "$work" "$work.log" 2>/dev/null | head -50 |
			sed "s/^/on stderr: /" >"$work.reports/ubsan-in-output"
	fi
	if ! report_check "$work.reports" >>"$work.log"; then
		ok=FAIL
		reported=1
	fi
	{
		printf '%s: %s (%.1f s)\n' "$ok" "$(basename "$t" .sh)" "$(awk "BEGIN{print $(date +%s.%N) - $start}")"
		case $ok in
		SKIP) grep '^SKIP: ' "$work.log" | sed 's/^/    /' ;;
		FAIL) sed 's/^/    /' "$work.log" | tail -$([ $reported = 1 ] && echo 150 || echo 40) ;;
		esac
	} >"$res.out"
	rm -rf "$work" "$work.log" "$work.reports"
	echo "$ok $procs $reported" >"$res.rc.tmp" && mv "$res.rc.tmp" "$res.rc"
}

# RUN_JOBS (default 1) tests run at once; `make check` runs two on a machine
# with two cores or more (tests/run-check.sh). Each test has its own $WORK,
# HTTP port and devices, so they do not meet; the lines come out in the
# order the tests were named, each as soon as it and those before it ended.
run_tests() {
	local label=$1 jobs=${RUN_JOBS:-1} res i n printed=0 ok procs reported
	local pass=0 failed=0 skipped=0
	shift
	RUN_REPORTS=0
	RUN_PROCS=0
	RUN_LABEL=$label
	res=$(mktemp -d "${TMPDIR:-/tmp}/updater-$label-results-XXXXXX")
	n=$#
	i=0
	for t in "$@"; do
		while [ "$(jobs -pr | wc -l)" -ge "$jobs" ]; do
			wait -n
			run_print
		done
		run_one "$t" "$res/$i" &
		i=$((i + 1))
	done
	while [ "$printed" -lt "$n" ]; do
		wait -n 2>/dev/null
		run_print
		# A runner killed before it wrote its result is a failure, not a hang.
		if [ -z "$(jobs -pr)" ] && [ "$printed" -lt "$n" ] && [ ! -f "$res/$printed.rc" ]; then
			echo "FAIL: test $((printed + 1)) of $n: its runner died" >"$res/$printed.out"
			echo "FAIL 0 0" >"$res/$printed.rc"
		fi
	done
	rm -rf "$res"
	RUN_PASSED=$pass
	RUN_FAILED=$failed
	RUN_SKIPPED=$skipped
	echo "$label: $pass passed, $failed failed, $skipped skipped"
	[ "$failed" = 0 ]
}

# run_print: prints the results of run_tests that are complete, in order
# (it shares run_tests' locals: bash scoping is dynamic).
run_print() {
	while [ "$printed" -lt "$n" ] && [ -f "$res/$printed.rc" ]; do
		cat "$res/$printed.out"
		read -r ok procs reported <"$res/$printed.rc"
		RUN_PROCS=$((RUN_PROCS + procs))
		RUN_REPORTS=$((RUN_REPORTS + reported))
		case $ok in PASS) pass=$((pass + 1)) ;; SKIP) skipped=$((skipped + 1)) ;; *) failed=$((failed + 1)) ;; esac
		printed=$((printed + 1))
	done
}

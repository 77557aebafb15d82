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

run_tests() {
	local label=$1 t work start pass=0 failed=0 skipped=0 ok rc reports procs
	shift
	RUN_REPORTS=0
	RUN_PROCS=0
	for t in "$@"; do
		work=$(mktemp -d "${TMPDIR:-/tmp}/updater-$label-XXXXXX")
		mkdir "$work.reports"
		start=$(date +%s.%N)
		TEST_REPORT_DIR=$work.reports WORK=$work bash "$t" >"$work.log" 2>&1
		rc=$?
		case $rc in 0) ok=PASS ;; 77) ok=SKIP ;; *) ok=FAIL ;; esac
		procs=$(find "$work.reports" -type f -name 'run.*' | wc -l)
		RUN_PROCS=$((RUN_PROCS + procs))
		# GCC's libubsan is a runtime of its own beside libasan and ignores
		# log_path: its reports go to stderr, into whatever file the test
		# kept it in. Its exitcode (99) fails most tests; this catches the rest.
		if [ "$procs" -gt 0 ]; then
			grep -rIH -e 'runtime error: ' -e '==ERROR: [A-Za-z]*Sanitizer' "$work" "$work.log" 2>/dev/null | head -50 |
				sed "s/^/on stderr: /" >"$work.reports/ubsan-in-output"
		fi
		reports=
		if ! report_check "$work.reports" >>"$work.log"; then
			ok=FAIL
			reports=1
			RUN_REPORTS=$((RUN_REPORTS + 1))
		fi
		printf '%s: %s (%.1f s)\n' "$ok" "$(basename "$t" .sh)" "$(awk "BEGIN{print $(date +%s.%N) - $start}")"
		if [ $ok = PASS ]; then
			pass=$((pass + 1))
		elif [ $ok = SKIP ]; then
			grep '^SKIP: ' "$work.log" | sed 's/^/    /'
			skipped=$((skipped + 1))
		else
			if [ -n "$reports" ]; then
				sed 's/^/    /' "$work.log" | tail -150
			else
				sed 's/^/    /' "$work.log" | tail -40
			fi
			failed=$((failed + 1))
		fi
		rm -rf "$work" "$work.log" "$work.reports"
	done
	RUN_PASSED=$pass
	RUN_FAILED=$failed
	RUN_SKIPPED=$skipped
	echo "$label: $pass passed, $failed failed, $skipped skipped"
	[ "$failed" = 0 ]
}

# run_tests LABEL TEST...: runs each test script with bash in a fresh $WORK
# directory; one PASS/FAIL line with its time per test (the end of the log of a
# failure), then "LABEL: N passed, N failed". Returns non-zero on any failure.
run_tests() {
	local label=$1 t work start pass=0 failed=0 ok
	shift
	for t in "$@"; do
		work=$(mktemp -d "${TMPDIR:-/tmp}/updater-$label-XXXXXX")
		start=$(date +%s.%N)
		if WORK=$work bash "$t" >"$work.log" 2>&1; then ok=PASS; else ok=FAIL; fi
		printf '%s: %s (%.1f s)\n' "$ok" "$(basename "$t" .sh)" "$(awk "BEGIN{print $(date +%s.%N) - $start}")"
		if [ $ok = PASS ]; then
			pass=$((pass + 1))
		else
			sed 's/^/    /' "$work.log" | tail -40
			failed=$((failed + 1))
		fi
		rm -rf "$work" "$work.log"
	done
	echo "$label: $pass passed, $failed failed"
	[ "$failed" = 0 ]
}

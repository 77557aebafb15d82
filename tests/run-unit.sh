#!/bin/sh
# Runs each unit test binary given; prints one line per binary and fails if any fails.
# A test that skipped itself (cmocka's skip(): "[  SKIPPED ]", e.g. the TLS
# tests of test_source when openssl cannot make their certificate) is shown
# on its binary's line and counted in the closing line, never hidden in a PASS.
# TEST_RUNNER prefixes each (make cross-check: qemu-aarch64-static).
fail=0 passed=0 failed=0 skipped=0
for t in "$@"; do
	# shellcheck disable=SC2086 # TEST_RUNNER is a command with its options
	if out=$(${TEST_RUNNER:-} "$t" 2>&1); then ok=PASS; else ok=FAIL; fi
	# cmocka's summary per group: "[  SKIPPED ] N test(s), listed below:"
	n=$(printf '%s\n' "$out" | awk '/^\[  SKIPPED \] [0-9]+ test\(s\)/ { n += $4 } END { print n + 0 }')
	names=$(printf '%s\n' "$out" | awk '/^\[  SKIPPED \] [0-9]+ test\(s\)/ { l = 1; next }
		l && /^\[  SKIPPED \] / { printf "%s%s", s, $4; s = " " } !/^\[  SKIPPED \] / { l = 0 }')
	skipped=$((skipped + n))
	if [ "$n" -gt 0 ]; then
		echo "$ok: $t ($n skipped: $names)"
	else
		echo "$ok: $t"
	fi
	if [ $ok = PASS ]; then
		passed=$((passed + 1))
	else
		echo "$out" | sed 's/^/    /'
		failed=$((failed + 1))
		fail=1
	fi
done
echo "unit: $passed passed, $failed failed; $skipped tests skipped"
exit $fail

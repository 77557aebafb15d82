#!/bin/sh
# Runs each unit test binary given; prints one line per binary and fails if any fails.
# TEST_RUNNER prefixes each (make cross-check: qemu-aarch64-static).
fail=0
for t in "$@"; do
	# shellcheck disable=SC2086 # TEST_RUNNER is a command with its options
	if out=$(${TEST_RUNNER:-} "$t" 2>&1); then
		echo "PASS: $t"
	else
		echo "FAIL: $t"
		echo "$out" | sed 's/^/    /'
		fail=1
	fi
done
exit $fail

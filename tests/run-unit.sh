#!/bin/sh
# Runs each unit test binary given; prints one line per binary and fails if any fails.
fail=0
for t in "$@"; do
	if out=$("$t" 2>&1); then
		echo "PASS: $t"
	else
		echo "FAIL: $t"
		echo "$out" | sed 's/^/    /'
		fail=1
	fi
done
exit $fail

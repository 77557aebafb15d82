#!/bin/bash
# Runs every tests/integration/t_*.sh (or those named) against the built
# ./updater with real HTTP servers on 127.0.0.1, file-backed slots and a
# file-backed two-copy U-Boot environment. One line per test, then a summary.
cd "$(dirname "$0")/../.." || exit 1
TOP=$PWD
export TOP
. tests/lib/common.sh
fixtures
export FIXTURES=$FIX
pass=0
failed=0
tests=("$@")
[ ${#tests[@]} -gt 0 ] || tests=(tests/integration/t_*.sh)
for t in "${tests[@]}"; do
	work=$(mktemp -d "${TMPDIR:-/tmp}/updater-it-XXXXXX")
	start=$(date +%s.%N)
	if WORK=$work bash "$t" >"$work.log" 2>&1; then
		printf 'PASS: %s (%.1f s)\n' "$(basename "$t" .sh)" "$(awk "BEGIN{print $(date +%s.%N) - $start}")"
		pass=$((pass + 1))
		rm -rf "$work" "$work.log"
	else
		printf 'FAIL: %s (%.1f s)\n' "$(basename "$t" .sh)" "$(awk "BEGIN{print $(date +%s.%N) - $start}")"
		sed 's/^/    /' "$work.log" | tail -40
		failed=$((failed + 1))
		rm -rf "$work"
	fi
done
echo "integration: $pass passed, $failed failed"
[ "$failed" = 0 ]

#!/bin/bash
# Runs every tests/package/t_*.sh (or those named): the staged install, the
# systemd units, the man pages, the Buildroot and Yocto recipes, the WITH_*
# builds and the health runner. One line per test, then a summary.
cd "$(dirname "$0")/../.." || exit 1
TOP=$PWD
export TOP
pass=0
failed=0
tests=("$@")
[ ${#tests[@]} -gt 0 ] || tests=(tests/package/t_*.sh)
for t in "${tests[@]}"; do
	work=$(mktemp -d "${TMPDIR:-/tmp}/updater-pkg-XXXXXX")
	start=$(date +%s.%N)
	if WORK=$work bash "$t" >"$work.log" 2>&1; then
		printf 'PASS: %s (%.1f s)\n' "$(basename "$t" .sh)" "$(awk "BEGIN{print $(date +%s.%N) - $start}")"
		pass=$((pass + 1))
		rm -rf "$work" "$work.log"
	else
		printf 'FAIL: %s (%.1f s)\n' "$(basename "$t" .sh)" "$(awk "BEGIN{print $(date +%s.%N) - $start}")"
		sed 's/^/    /' "$work.log" | tail -40
		failed=$((failed + 1))
		rm -rf "$work" "$work.log"
	fi
done
echo "package: $pass passed, $failed failed"
[ "$failed" = 0 ]

#!/bin/bash
# Runs every tests/integration/t_*.sh (or those named) against the built
# ./updater with real HTTP servers on 127.0.0.1, file-backed slots and a
# file-backed two-copy U-Boot environment. One line per test, then a summary.
cd "$(dirname "$0")/../.." || exit 1
TOP=$PWD
export TOP
. tests/lib/common.sh
. tests/lib/runtests.sh
with_reports fixtures || exit 1
export FIXTURES=$FIX
tests=("$@")
full=
[ ${#tests[@]} -gt 0 ] || { tests=(tests/integration/t_*.sh); full=1; }
# A full run counts the refusals the tests check, for docs/security.md (its
# figures go to build/figures/; `make figures` puts them into the page).
if [ -n "$full" ]; then
	mkdir -p build/figures
	export REFUSALS_LOG=$TOP/build/figures/refusals.txt
	: >"$REFUSALS_LOG"
fi
run_tests integration "${tests[@]}" || exit 1
[ -z "$full" ] || python3 tests/lib/refusals.py "$REFUSALS_LOG"

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
[ ${#tests[@]} -gt 0 ] || tests=(tests/integration/t_*.sh)
run_tests integration "${tests[@]}"

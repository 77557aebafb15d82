#!/bin/bash
# Runs every tests/package/t_*.sh (or those named): the staged install, the
# systemd units, the man pages, the Buildroot and Yocto recipes, the WITH_*
# builds and the health runner. One line per test, then a summary.
cd "$(dirname "$0")/../.." || exit 1
TOP=$PWD
export TOP
. tests/lib/runtests.sh
# One at a time whatever RUN_JOBS says: these tests run `make` in this tree.
RUN_JOBS=1
tests=("$@")
[ ${#tests[@]} -gt 0 ] || tests=(tests/package/t_*.sh)
run_tests package "${tests[@]}"

#!/bin/bash
# Runs every tests/package/t_*.sh (or those named): the staged install, the
# systemd units, the man pages, the Buildroot and Yocto recipes, the WITH_*
# builds and the health runner. One line per test, then a summary.
cd "$(dirname "$0")/../.." || exit 1
TOP=$PWD
export TOP
. tests/lib/runtests.sh
tests=("$@")
[ ${#tests[@]} -gt 0 ] || tests=(tests/package/t_*.sh)
run_tests package "${tests[@]}"

#!/bin/bash
# `make integration-san` (run.sh san) and `make valgrind` (run.sh valgrind):
# the integration tests (all, or those named) with UPDATER set to a checking
# wrapper of this directory. A test fails on its own failure or on any report
# the wrapper left (tests/lib/runtests.sh). A run of all of them writes the
# figures of docs/reliability.md's checked-MODE block under build/figures/
# (`make figures` puts them into the page; CHECKED_NO_DOC=1: none written).
cd "$(dirname "$0")/../.." || exit 1
TOP=$PWD
mode=${1:-}
shift
# TEST_SLOWDOWN scales the tests' waits for the updater to reach a point
# (tests/lib/common.sh): under valgrind it runs 10 to 50 times slower.
case $mode in
san)
	bin=updater-san wrapper=updater-san
	export TEST_SLOWDOWN=1
	what="ASan+UBSan (\`./updater-san\`, leak checking on)"
	;;
valgrind)
	bin=updater wrapper=updater-valgrind
	export TEST_SLOWDOWN=10
	what="valgrind memcheck (\`--leak-check=full\`, definite and indirect leaks are errors)"
	;;
*) echo "usage: tests/checked/run.sh san|valgrind [TEST...]" >&2; exit 2 ;;
esac
UPDATER=$TOP/tests/checked/$wrapper
# A copy: a rebuild during the run must not swap the program under the tests.
mkdir -p "build/checked-$mode"
# Renamed into place: processes of another run still executing the old copy keep it.
cp "$bin" "build/checked-$mode/$bin.tmp$$" && mv "build/checked-$mode/$bin.tmp$$" "build/checked-$mode/$bin" ||
	{ echo "run.sh: no ./$bin: run make" >&2; exit 1; }
UPDATER_BIN=$TOP/build/checked-$mode/$bin
export TOP UPDATER UPDATER_BIN
tests/checked/selftest.sh "$mode" || exit 1
. tests/lib/common.sh
. tests/lib/runtests.sh
# Fixtures of their own: bundles made by the checked program are checked too.
FIXTURES=$TOP/build/fixtures-$mode
with_reports fixtures || exit 1
export FIXTURES=$FIX
tests=("$@")
[ ${#tests[@]} -gt 0 ] || tests=(tests/integration/t_*.sh)
start=$(date +%s)
run_tests "integration-$mode" "${tests[@]}"
rc=$?
secs=$(($(date +%s) - start))
echo "integration-$mode: $RUN_PROCS updater processes checked, $RUN_REPORTS tests with a report, ${secs} s"
if [ $# = 0 ] && [ -z "${CHECKED_NO_DOC:-}" ]; then
	doc=$(mktemp)
	cat >"$doc" <<DOC
Last full run (\`tests/checked/run.sh $mode\`): the ${#tests[@]} integration tests with the updater
under $what: $RUN_PASSED passed, $RUN_FAILED failed, $RUN_REPORTS of them on a report;
$RUN_PROCS updater processes checked; $((secs / 60)) min $((secs % 60)) s on the machine that ran it
($(nproc) CPUs, ${RUN_JOBS:-1} tests at a time).
DOC
	python3 tests/lib/figures.py put "checked-$mode" "$doc" tests/checked tests/integration tests/lib ||
		echo "warning: could not write the figures of checked-$mode" >&2
	rm -f "$doc"
fi
exit $rc

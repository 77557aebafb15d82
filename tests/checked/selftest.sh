#!/bin/bash
# tests/checked/selftest.sh san|valgrind: the wrapper of that mode, given
# tests/checked/probe.c instead of the updater, must fail each test where the
# probe makes a mistake, although every test accepts the probe's exit 3; and
# must pass the one where it makes none. Run by tests/checked/run.sh first:
# a harness that cannot see a report would pass everything.
cd "$(dirname "$0")/../.." || exit 1
TOP=$PWD
mode=$1
dir=$TOP/build/checked-$mode/selftest
mkdir -p "$dir"
case $mode in
san)
	flags="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
	mistakes="leak overflow overrun" wrapper=updater-san
	;;
valgrind) flags="" mistakes="leak uninit overrun" wrapper=updater-valgrind ;;
*) echo "usage: selftest.sh san|valgrind" >&2; exit 2 ;;
esac
# shellcheck disable=SC2086 # flags are words
${CC:-gcc} -std=c11 -g -O0 $flags -o "$dir/probe" tests/checked/probe.c || exit 1
for m in none $mistakes; do
	# The probe's output kept in a file, as the integration tests do.
	printf '"$UPDATER" %s >"$WORK/out" 2>&1\n[ $? = 3 ]\n' "$m" >"$dir/t_$m.sh"
done
. tests/lib/runtests.sh
out=$(UPDATER=$TOP/tests/checked/$wrapper UPDATER_BIN=$dir/probe \
	run_tests "selftest-$mode" "$dir"/t_*.sh 2>&1)
ok=1
grep -q '^PASS: t_none ' <<<"$out" || ok=0
for m in $mistakes; do
	grep -q "^FAIL: t_$m " <<<"$out" || ok=0
done
if [ $ok = 0 ]; then
	echo "$out"
	echo "selftest-$mode: the $wrapper wrapper missed a report (or failed a clean run)"
	exit 1
fi
echo "selftest-$mode: $wrapper reported: $mistakes; passed a clean run"

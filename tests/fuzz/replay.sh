#!/bin/sh
# replay.sh BIN_DIR SEEDS TARGET...: runs every seed and every kept regression
# input once through each target (BIN_DIR/replay_TARGET, the ASan/UBSan build
# made with the default compiler), so a fixed crash stays fixed without
# libFuzzer or clang; writes the counts of the fuzz-replay block of
# docs/reliability.md under build/figures/ (`make figures` puts them there), with the case counts of the table-driven unit tests
# named in HOSTILE_UNIT (each prints "<what>: N"; run here once more to read it).
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
BIN=$1 SEEDS=$2
shift 2
export UPDATER_FUZZ_KEYS="$SEEDS/keys/ed.pub.pem:$SEEDS/keys/ec.pub.pem"
export LSAN_OPTIONS="suppressions=$TOP/tests/fuzz/lsan.supp:print_suppressions=0"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1
fail=0
lines=""
for t in "$@"; do
	reg=$TOP/tests/fuzz/regressions/$t
	n_reg=0
	[ -d "$reg" ] && n_reg=$(find "$reg" -type f ! -name '.*' | wc -l)
	n_seed=$(find "$SEEDS/$t" -type f ! -name '.*' | wc -l)
	if [ -d "$reg" ]; then
		out=$("$BIN/replay_$t" "$SEEDS/$t" "$reg" </dev/null 2>&1)
	else
		out=$("$BIN/replay_$t" "$SEEDS/$t" </dev/null 2>&1)
	fi
	rc=$?
	want="replayed $((n_seed + n_reg)) inputs"
	if [ $rc -ne 0 ] || [ "$(echo "$out" | tail -n 1)" != "$want" ]; then
		echo "FAIL: fuzz-replay $t"
		echo "$out" | tail -n 30 | sed 's/^/    /'
		fail=1
	else
		echo "PASS: fuzz-replay $t ($n_seed seeds, $n_reg regression inputs)"
	fi
	lines="$lines- \`$t\`: $n_seed seed inputs, $n_reg regression inputs
"
done
tables=""
for u in ${HOSTILE_UNIT:-}; do
	if ! out=$("$u" 2>&1); then
		echo "FAIL: $u"
		echo "$out" | tail -n 30 | sed 's/^/    /'
		fail=1
		continue
	fi
	line=$(echo "$out" | grep -E '^hostile .*: [0-9]+$')
	[ -n "$line" ] || { echo "FAIL: $u printed no case count"; fail=1; continue; }
	tables="$tables- \`tests/unit/$(basename "$u").c\`: $line
"
done
[ $fail -eq 0 ] || exit 1
doc=$(mktemp)
{
	echo "Written by \`tests/fuzz/replay.sh\` (\`make fuzz-replay\`, part of \`make check\`); do not edit."
	echo "Every input below ran once through its target built with \`$(basename "${CC:-cc}")\`, ASan and UBSan, and passed:"
	echo
	printf '%s' "$lines"
	if [ -n "$tables" ]; then
		echo
		echo "Table-driven unit tests of hostile input (ASan/UBSan build), all passing:"
		echo
		printf '%s' "$tables"
	fi
} >"$doc"
(cd "$TOP" && python3 tests/lib/figures.py put fuzz-replay "$doc" tests/fuzz tests/lib/tamper.py \
	tests/unit/test_bundle_hostile.c tests/unit/test_config.c) ||
	echo "warning: could not write the figures of fuzz-replay" >&2
rm -f "$doc"

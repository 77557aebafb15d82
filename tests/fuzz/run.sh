#!/bin/bash
# run.sh BUILD TARGET...: runs each libFuzzer target BUILD/fuzz_TARGET for
# FUZZ_SECONDS (default 60) from its seeds (BUILD/seeds/TARGET), its kept
# regression inputs (tests/fuzz/regressions/TARGET) and the corpus earlier
# runs grew (BUILD/corpus/TARGET), then writes the figures of the fuzz block
# of docs/reliability.md under build/figures/ (`make figures` puts them there). A crash, leak, timeout or broken invariant fails the
# run; its input is left in BUILD/crashes/TARGET/ to be fixed and kept under
# tests/fuzz/regressions/TARGET/.
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$1
shift
SECONDS_EACH=${FUZZ_SECONDS:-60}
SEEDS=$BUILD/seeds
[ "$SECONDS_EACH" -ge 1 ] 2>/dev/null || { echo "fuzz: FUZZ_SECONDS=$SECONDS_EACH is not a number of seconds" >&2; exit 2; }
export UPDATER_FUZZ_KEYS="$SEEDS/keys/ed.pub.pem:$SEEDS/keys/ec.pub.pem"
export LSAN_OPTIONS="suppressions=$TOP/tests/fuzz/lsan.supp:print_suppressions=0"

dict_of() {
	case $1 in
	config) echo "$TOP/tests/fuzz/config.dict" ;;
	*) echo "$TOP/tests/fuzz/manifest.dict" ;;
	esac
}

fail=0
rows=""
total_execs=0
for t in "$@"; do
	bin=$BUILD/fuzz_$t corpus=$BUILD/corpus/$t crashes=$BUILD/crashes/$t
	log=$BUILD/fuzz_$t.log
	mkdir -p "$corpus" "$crashes"
	dirs=("$corpus" "$SEEDS/$t")
	[ -d "$TOP/tests/fuzz/regressions/$t" ] && dirs+=("$TOP/tests/fuzz/regressions/$t")
	echo "fuzz: $t for ${SECONDS_EACH}s"
	# stdin from /dev/null: a config input may @include "/dev/stdin".
	"$bin" -max_total_time="$SECONDS_EACH" -print_final_stats=1 -timeout=10 \
		-rss_limit_mb=2048 -dict="$(dict_of "$t")" -artifact_prefix="$crashes/" \
		"${dirs[@]}" </dev/null >"$log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
	secs=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -n 1)
	units=$(find "$corpus" -type f | wc -l)
	found=$(find "$crashes" -type f -newer "$bin" | wc -l)
	if [ "$rc" -ne 0 ] || [ "$found" -ne 0 ] || [ -z "$execs" ]; then
		fail=1
		found=$((found > 0 ? found : 1))
		echo "FAIL: fuzz $t (exit $rc); inputs in $crashes/, log $log:"
		grep -m 20 -E 'ERROR|SUMMARY|invariant|Test unit written|==[0-9]+==' "$log" | sed 's/^/    /'
	fi
	: "${execs:=0}" "${rate:=0}" "${secs:=?}"
	total_execs=$((total_execs + execs))
	echo "  $t: $execs executions in ${secs}s ($rate/s), corpus $units inputs, $found crashes"
	rows="$rows| \`$t\` | $execs | $secs | $rate | $units | $found |
"
done

doc=$(mktemp)
{
	echo "Written by \`tests/fuzz/run.sh\` (\`make fuzz FUZZ_SECONDS=$SECONDS_EACH\`, $(date -u +%Y-%m-%d)); do not edit."
	echo "Each target ran for ${SECONDS_EACH} s with clang's libFuzzer, ASan and UBSan, from the seeds, the"
	echo "kept regression inputs and the corpus of earlier runs (machine shared with other jobs)."
	echo
	echo "| target | executions | seconds | executions/s | corpus inputs | crashes |"
	echo "|---|---|---|---|---|---|"
	printf '%s' "$rows"
	echo
	if [ "$fail" -eq 0 ]; then
		echo "Result: **$total_execs executions, 0 crashes.**"
	else
		echo "Result: **$total_execs executions, crashes found** (see \`build/fuzz/crashes/\`)."
	fi
} >"$doc"
(cd "$TOP" && python3 tests/lib/figures.py put fuzz "$doc" tests/fuzz tests/lib/tamper.py) ||
	echo "warning: could not write the figures of fuzz" >&2
rm -f "$doc"
exit $fail

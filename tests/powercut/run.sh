#!/bin/bash
# `make powercut`: the power-cut tests of the three backends, one after the other
# (each one uses every CPU), with their time. Fails if any fails. Each
# writes the figures of its block of docs/reliability.md under build/figures/
# (`make figures` puts them into the page; PC_NO_DOC=1: none written).
# Three drivers (sweep.sh, random-kill.sh, iolog.sh), each run for each
# backend (tests/powercut/backend-BACKEND.sh); the ostree sweep in two parts.
# The single-copy runs cut the boot-time `updater apply-staged` (together
# about 2.5 min here on 2 cores, under load).
cd "$(dirname "$0")/../.." || exit 1
runs=("sweep dualbank" "random-kill dualbank" "iolog dualbank" "sweep ostree install"
	"sweep ostree scenarios" "iolog ostree" "random-kill ostree"
	"sweep singlecopy" "random-kill singlecopy" "iolog singlecopy")
failed=0
for r in "${runs[@]}"; do
	TIMEFORMAT="$r: %0R s (CPU %0U s user, %0S s system)"
	# shellcheck disable=SC2086 # the driver, then its arguments
	time bash tests/powercut/${r%% *}.sh ${r#* } || failed=$((failed + 1))
done 2>&1
echo "powercut: $((${#runs[@]} - failed)) passed, $failed failed"
[ "$failed" = 0 ]

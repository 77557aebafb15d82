#!/bin/bash
# `make powercut`: the power-cut tests of both backends, one after the other
# (each one uses every CPU), with their time. Fails if any fails. Each
# writes the figures of its block of docs/reliability.md under build/figures/
# (`make figures` puts them into the page; PC_NO_DOC=1: none written).
cd "$(dirname "$0")/../.." || exit 1
tests=(sweep-dualbank random-kill-dualbank iolog-dualbank sweep-ostree sweep-ostree-scenarios iolog-ostree random-kill-ostree)
failed=0
for t in "${tests[@]}"; do
	TIMEFORMAT="$t: %0R s (CPU %0U s user, %0S s system)"
	time bash "tests/powercut/$t.sh" || failed=$((failed + 1))
done 2>&1
echo "powercut: $((${#tests[@]} - failed)) passed, $failed failed"
[ "$failed" = 0 ]

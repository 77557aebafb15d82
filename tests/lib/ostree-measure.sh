#!/bin/bash
# What does Debian's libostree (the `ostree` CLI) download for an update?
#
#   tests/lib/ostree-measure.sh [RUNS]
#
# Builds a server with three releases (tests/lib/ostree.sh: v2 changes a few
# files and the kernel, v3 a few files), serves it with tests/lib/httpd.py and
# counts, from the server's request log, the requests and body bytes of
# `ostree pull` from v1 to v2 (and v2 to v3) into a bare repository holding
# the previous release: without a static delta, with one, in the variants a
# client may use, and by fetching the delta's files alone and applying them
# with `ostree static-delta apply-offline`. Pulls that race (a delta with
# loose objects) are repeated RUNS times (default 5), min..max shown.
# Then a series with a 6 MiB kernel shows what ostree's default
# --min-fallback-size (4 MB) does to a delta. Prints Markdown; the figures
# are in docs/ostree-server.md. Needs no root (uses bare-user without it);
# everything lives in a temporary directory that is removed at the end.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
. "$(dirname "${BASH_SOURCE[0]}")/ostree.sh"

RUNS=${1:-5}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ostree-measure.XXXXXX")
LOG=$WORK/httpd.log
cleanup() {
	stop_httpd
	ostree_gpg_stop
	rm -rf "$WORK"
}
trap cleanup EXIT
MODE=bare
[ "$(id -u)" = 0 ] || MODE=bare-user

# slice FROM_LINE: requests, bytes and a per-kind breakdown of the log lines
# after FROM_LINE, as "requests bytes objects-bytes(n) delta-bytes(n) other(n)".
slice() {
	tail -n +"$(($1 + 1))" "$LOG" | awk '
	{ for (i = 1; i <= NF; i++) if ($i ~ /^sent=/) sent = substr($i, 6)
	  n++; total += sent
	  if ($2 ~ /^\/objects\//) { on++; ob += sent; split($2, a, "."); kind[a[2]]++ }
	  else if ($2 ~ /^\/deltas\//) { dn++; db += sent }
	  else { xn++; xb += sent; other[$2] = 1 }
	}
	END {
	  k = ""; for (t in kind) k = k sprintf("%s%d %s", k == "" ? "" : ", ", kind[t], t)
	  o = ""; for (p in other) { sub(/^\/delta-indexes\/.*/, "/delta-indexes/...", p); o = o (o == "" ? "" : " ") p }
	  printf "%d\t%d\t%d\t%d\t%s\t%d\t%d\t%d\t%s\n", n, total, on, ob, (k == "" ? "-" : k), dn, db, xn, o
	}'
}
loglines() { [ -f "$LOG" ] && wc -l <"$LOG" | tr -d ' ' || echo 0; }

# base_repo DIR REV: a client repository holding REV (pulled without deltas).
base_repo() {
	ostree --repo="$1" init --mode=$MODE
	ostree --repo="$1" remote add --set=gpg-verify=true --set=gpgkeypath="$OSTREE_GPG_KEYRING" \
		origin "$URL" sim/stable
	ostree --repo="$1" pull --disable-static-deltas origin "sim/stable@$2" >/dev/null ||
		fail "base pull of $2"
}

# measure LABEL BASE RUNS CMD...: copies BASE to $WORK/client, runs CMD (with
# REPO set to the copy) RUNS times, prints one table row with min..max.
measure() {
	local label=$1 base=$2 runs=$3 i start row rows="" out
	shift 3
	for i in $(seq 1 "$runs"); do
		rm -rf "$WORK/client"
		cp -a "$base" "$WORK/client"
		REPO=$WORK/client
		start=$(loglines)
		out=$("$@" 2>&1) || { printf '%s\n' "$out" >&2; fail "$label: command failed"; }
		ostree --repo="$REPO" fsck -q >/dev/null 2>&1 || fail "$label: fsck failed"
		row=$(slice "$start")
		rows="$rows$row"$'\n'
	done
	printf '%s' "$rows" | awk -F'\t' -v label="$label" '
	function rng(a, b) { return a == b ? a : a ".." b }
	function kb(a) { return sprintf("%.0f", a / 1024) }
	{ if (NR == 1) { nmin = nmax = $1; bmin = bmax = $2; onmin = onmax = $3; obmin = obmax = $4; kinds = $5; dn = $6; db = $7; xn = $8; other = $9 }
	  if ($1 < nmin) nmin = $1; if ($1 > nmax) nmax = $1
	  if ($2 < bmin) bmin = $2; if ($2 > bmax) bmax = $2
	  if ($3 < onmin) onmin = $3; if ($3 > onmax) onmax = $3
	  if ($4 < obmin) obmin = $4; if ($4 > obmax) obmax = $4 }
	END { printf "| %s | %s | %s | %s (%s) | %s (%s) | %s |\n", label, rng(nmin, nmax),
	        (bmin == bmax ? kb(bmin) : kb(bmin) ".." kb(bmax)),
	        (obmin == obmax ? kb(obmin) : kb(obmin) ".." kb(obmax)), rng(onmin, onmax),
	        kb(db), dn, xn " (" other ")" }'
}

pull() { ostree --repo="$REPO" pull "$@" origin "sim/stable@$TARGET"; }
pull_branch() { ostree --repo="$REPO" pull "$@" origin sim/stable; }
pull_two_step() {
	ostree --repo="$REPO" pull --commit-metadata-only origin "sim/stable@$TARGET" &&
		ostree --repo="$REPO" pull origin "sim/stable@$TARGET"
}
# get URL FILE (python: curl is not among the project's packages)
get() {
	"$PYTHON" -c 'import sys, urllib.request; open(sys.argv[2], "wb").write(urllib.request.urlopen(sys.argv[1]).read())' "$1" "$2"
}
# apply_offline DELTADIR: fetch superblock and parts over HTTP (as a backend
# would), apply them offline, then check the commit's signature (carried in
# the superblock) and point the remote ref at it.
apply_offline() {
	local dir=$1 rel i n fetched=$WORK/fetched
	rel=${dir#"$SRV"/}
	rm -rf "$fetched"
	mkdir -p "$fetched"
	get "$URL/$rel/superblock" "$fetched/superblock" || return 1
	# (a client reads the number of parts from the superblock)
	n=$(parts "$dir")
	for i in $(seq 0 $((n - 1))); do
		get "$URL/$rel/$i" "$fetched/$i" || return 1
	done
	ostree --repo="$REPO" static-delta apply-offline "$fetched/superblock" || return 1
	ostree --repo="$REPO" show --gpg-verify-remote=origin "$TARGET" >"$WORK/show.txt" 2>&1 ||
		{ cat "$WORK/show.txt"; return 1; }
	grep -q 'Good signature' "$WORK/show.txt" || { cat "$WORK/show.txt"; return 1; }
	ostree --repo="$REPO" refs --force --create=origin:sim/stable "$TARGET"
}
delta_size() { find "$1" -type f -printf '%s\n' | awk '{ n += $1 } END { print n }'; }
parts() { find "$1" -type f ! -name superblock | wc -l | tr -d ' '; }

header() {
	echo
	echo "| $1 | requests | KiB | loose objects KiB (n) | delta KiB (files) | other requests |"
	echo "|---|---|---|---|---|---|"
}

# --- series 1: the fixture (256 KiB kernel) ----------------------------------

ostree_gpg_init "$WORK/gpg"
SRV=$WORK/srv/repo
ostree_server_init "$SRV"
ostree_make_tree "$WORK/t1" 1.0 6.1.0-sim1
ostree_make_tree "$WORK/t2" 2.0 6.1.0-sim2
ostree_make_tree "$WORK/t3" 3.0 6.1.0-sim2
C1=$(ostree_server_commit "$SRV" sim/stable "$WORK/t1" 1.0) || exit 1
C2=$(ostree_server_commit "$SRV" sim/stable "$WORK/t2" 2.0) || exit 1
ostree_server_summary "$SRV"
start_httpd "$SRV" --log "$LOG"

echo "# ostree pull measurements ($(ostree --version | sed -n "s/^ Version: '\(.*\)'/libostree \1/p"), $MODE client repo, $RUNS runs per racing case)"
echo
echo "Release tree: $(find "$WORK/t1" -type f | wc -l) files, $(du -sk "$WORK/t1" | cut -f1) KiB;" \
	"server repo after v1+v2: $(du -sk "$SRV/objects" | cut -f1) KiB of objects."

base_repo "$WORK/base1" "$C1"
TARGET=$C2
header "v1 -> v2"
measure "no delta on the server: pull REF@C2" "$WORK/base1" 1 pull
measure "no delta: pull REF (branch head)" "$WORK/base1" 1 pull_branch

D12=$(ostree_server_delta "$SRV" "$C1" "$C2")
ostree_server_summary "$SRV"
measure "delta v1-v2: pull REF@C2" "$WORK/base1" "$RUNS" pull
measure "delta: pull REF (branch head)" "$WORK/base1" "$RUNS" pull_branch
measure "delta: --require-static-deltas" "$WORK/base1" "$RUNS" pull --require-static-deltas
measure "delta: --commit-metadata-only, then pull" "$WORK/base1" "$RUNS" pull_two_step
measure "delta: --disable-static-deltas" "$WORK/base1" 1 pull --disable-static-deltas
measure "delta files fetched + apply-offline" "$WORK/base1" 1 apply_offline "$D12"
echo
echo "Delta v1->v2 on disk: $(delta_size "$D12") bytes (superblock $(stat -c %s "$D12/superblock"), $(parts "$D12") part(s))."

C3=$(ostree_server_commit "$SRV" sim/stable "$WORK/t3" 3.0) || exit 1
ostree_server_summary "$SRV"
base_repo "$WORK/base2" "$C2"
TARGET=$C3
header "v2 -> v3"
measure "no delta: pull REF@C3" "$WORK/base2" 1 pull
D23=$(ostree_server_delta "$SRV" "$C2" "$C3")
ostree_server_summary "$SRV"
measure "delta v2-v3: pull REF@C3" "$WORK/base2" "$RUNS" pull
measure "delta files fetched + apply-offline" "$WORK/base2" 1 apply_offline "$D23"
echo
echo "Delta v2->v3 on disk: $(delta_size "$D23") bytes (superblock $(stat -c %s "$D23/superblock"), $(parts "$D23") part(s))."
stop_httpd

# --- series 2: a new 5 MiB file and ostree's default --min-fallback-size -------
# `static-delta generate` sends new (not bsdiff'ed) files above
# --min-fallback-size MB (default 4) as "fallback" objects the client fetches
# loose; a modified file (same name, e.g. a kernel) is bsdiff'ed whatever its
# size. v2 here adds usr/lib/firmware/sim-fw-2.0.bin (5 MiB, new name).

SRV=$WORK/srv2/repo
ostree_server_init "$SRV"
ostree_make_tree "$WORK/b1" 1.0 6.1.0-sim1
ostree_make_tree "$WORK/b2" 2.0 6.1.0-sim2
mkdir -p "$WORK/b2/usr/lib/firmware"
"$PYTHON" -c 'import random, sys; sys.stdout.buffer.write(random.Random("fw").randbytes(5 << 20))' \
	>"$WORK/b2/usr/lib/firmware/sim-fw-2.0.bin"
C1=$(ostree_server_commit "$SRV" sim/stable "$WORK/b1" 1.0) || exit 1
C2=$(ostree_server_commit "$SRV" sim/stable "$WORK/b2" 2.0) || exit 1
ostree_server_summary "$SRV"
start_httpd "$SRV" --log "$LOG"
base_repo "$WORK/base3" "$C1"
TARGET=$C2
header "v1 -> v2 adding a 5 MiB file"
measure "no delta: pull REF@C2" "$WORK/base3" 1 pull
DDEF=$(ostree_server_delta "$SRV" "$C1" "$C2" --min-fallback-size=4)
ostree_server_summary "$SRV"
measure "default-settings delta: pull REF@C2" "$WORK/base3" "$RUNS" pull
measure "default-settings delta: metadata first" "$WORK/base3" "$RUNS" pull_two_step
echo
echo "With ostree's default \`--min-fallback-size=4\` the delta is $(delta_size "$DDEF") bytes on disk;" \
	"\`static-delta show\`: $(ostree --repo="$SRV" static-delta show "$C1-$C2" | grep -i 'fallback' | tr '\n' ';' | sed 's/;$//; s/;/; /g')."
rm -rf "$WORK/client"
cp -a "$WORK/base3" "$WORK/client"
REPO=$WORK/client
if out=$(apply_offline "$DDEF" 2>&1); then
	echo "apply-offline of that delta: worked."
else
	echo "apply-offline of that delta: failed: \`$(printf '%s' "$out" | tail -n 1)\`."
fi
ostree --repo="$SRV" static-delta delete "$C1-$C2" >/dev/null
D0=$(ostree_server_delta "$SRV" "$C1" "$C2")
ostree_server_summary "$SRV"
echo
echo "With \`--min-fallback-size=0\` (ostree_server_delta's default) the delta is $(delta_size "$D0") bytes," \
	"$(ostree --repo="$SRV" static-delta show "$C1-$C2" | grep -i 'fallback entries' | tr 'N' 'n')."
header "v1 -> v2 adding a 5 MiB file"
measure "--min-fallback-size=0 delta: pull REF@C2" "$WORK/base3" "$RUNS" pull
measure "--min-fallback-size=0 delta: metadata first" "$WORK/base3" "$RUNS" pull_two_step
measure "delta files fetched + apply-offline" "$WORK/base3" 1 apply_offline "$D0"

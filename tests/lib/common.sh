# Shared helpers for the integration tests and the demo (bash).
# A "simulated device" is a directory: slot files A and B, a two-copy U-Boot
# environment in a file, a data partition directory holding state_dir, a
# kernel command line file and the config that points at all of it.
# Nothing here needs root except where a test says so.

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
UPDATER=${UPDATER:-$TOP/updater}
HTTPD="$TOP/tests/lib/httpd.py"
PYTHON=${PYTHON:-/usr/bin/python3}
[ -x "$PYTHON" ] || PYTHON=python3

# How much slower the updater runs than natively (tests/checked/run.sh sets
# TEST_SLOWDOWN for valgrind): waits for it to reach a point scale with it.
SLOW=${TEST_SLOWDOWN:-1}

fail() { echo "FAIL: $*" >&2; exit 1; }
# skip REASON: the test cannot run here; tests/lib/runtests.sh shows it as
# SKIP (exit 77), never as passed. For what no `make deps` machine lacks, fail.
skip() { echo "SKIP: $*" >&2; exit 77; }
note() { [ -n "${VERBOSE:-}" ] && echo "  $*" >&2; return 0; }

# --- keys and images -------------------------------------------------------

# make_key NAME DIR: Ed25519 key pair DIR/NAME.pem, DIR/NAME.pub.pem
make_key() {
	openssl genpkey -algorithm ed25519 -out "$2/$1.pem" 2>/dev/null &&
		openssl pkey -in "$2/$1.pem" -pubout -out "$2/$1.pub.pem" 2>/dev/null ||
		fail "openssl could not make key $1"
}

# make_rootfs_image OUT VERSION SIZE_MB: an ext4 root filesystem whose
# /etc/os-release says VERSION_ID=VERSION, made without root (mkfs.ext4 -d).
make_rootfs_image() {
	local out=$1 version=$2 size=${3:-8} tree
	tree=$(mktemp -d)
	mkdir -p "$tree/etc" "$tree/usr/bin" "$tree/boot"
	printf 'NAME="updater demo"\nID=updater-demo\nVERSION_ID="%s"\n' "$version" >"$tree/etc/os-release"
	printf 'release %s\n' "$version" >"$tree/etc/release-notes"
	# Some content that differs between releases, compressible like real files.
	seq 1 $((size * 2000)) | sed "s/^/v$version line /" >"$tree/usr/bin/payload.txt"
	# and some that does not compress, so bundles have a realistic size
	head -c $((size * 128))K /dev/urandom >"$tree/usr/bin/firmware.bin"
	rm -f "$out"
	mkfs.ext4 -q -F -L "rootfs-$version" -d "$tree" "$out" "${size}M" >/dev/null 2>&1 ||
		fail "mkfs.ext4 for $out"
	rm -rf "$tree"
}

# make_bundle IMG VERSION KEY OUT [COMPATIBLE]
make_bundle() {
	"$UPDATER" bundle create --image "$1" --version "$2" --compatible "${5:-sim-board}" \
		--key "$3" --output "$4" >/dev/null || fail "bundle create $4"
}

# --- the simulated device ----------------------------------------------------

# make_device DIR [SLOT_MB]: a factory device booted from slot A with release
# 1.0, made by tools/updater-sim create, the tool docs/try-it.md gives users
# (slots, the two-copy environment, updater.conf, the kernel command line,
# /etc/os-release, state_dir, then `updater init`). The signing key pair is
# DIR/keys/release.pem (kept for the tests' bundles) and release.pub.pem:
# the one placed there before, or a new one; DIR/factory.img is the image.
make_device() {
	local d=$1 slot_mb=${2:-16} src out
	src=$(mktemp -d "${d%/}.src.XXXXXX") || fail "make_device: mktemp"
	if [ -f "$d/keys/release.pem" ]; then
		cp "$d/keys/release.pem" "$d/keys/release.pub.pem" "$src/" || fail "make_device: keys"
		rm -rf "$d"
	else
		make_key release "$src"
	fi
	make_rootfs_image "$src/factory.img" 1.0 8
	out=$("$TOP/tools/updater-sim" create "$d" --backend=dualbank --image "$src/factory.img" \
		--key "$src/release.pub.pem" --slot-size "${slot_mb}M" --compatible sim-board 2>&1) ||
		fail "make_device: updater-sim create: $out"
	mv "$src/release.pem" "$d/keys/release.pem" && mv "$src/factory.img" "$d/factory.img" &&
		chmod go-w "$d/keys/release.pem" || fail "make_device: keys into $d"
	rm -rf "$src"
}

# upd DIR ARGS...: run the updater against device DIR
upd() {
	local d=$1
	shift
	"$UPDATER" --config="$d/updater.conf" --progress=none "$@"
}

envvar() { fw_printenv -c "$1/env/fw_env.config" -n "$2" 2>/dev/null; }
env_dump() { fw_printenv -c "$1/env/fw_env.config" 2>/dev/null | sort; }

# sim_boot DIR: a power-on, played by tools/updater-sim (the one shell model
# of U-Boot's side of docs/boot-contract.md, as boot/boot.cmd does it: counts
# a trial boot, saving bootcount+1 before the kernel starts; past bootlimit
# sets rollback=1 and ends the trial; boots the chosen slot: the kernel
# command line names it and its /etc/os-release becomes ours), without the
# boot service; prints the booted slot. On an unusable boot state (no valid
# environment copy, a boot_slot other than A or B, a contract variable
# missing) U-Boot boots slot A; a test fails instead: the updater must never
# leave such a state.
sim_boot() {
	local d=$1 out
	out=$("$TOP/tools/updater-sim" reboot --no-boot-service "$d" 2>&1) || fail "sim_boot: $out"
	case $out in *"no valid boot state"*) fail "sim_boot: no valid boot state in $d/env: $out" ;; esac
	booted_slot "$d"
}

booted_slot() { sed -n 's/.*updater.slot=\([AB]\).*/\1/p' "$1/cmdline"; }

# slot_sha DIR SLOT BYTES: sha256 of the first BYTES of a slot
slot_sha() { head -c "$3" "$1/slots/$2.img" | sha256sum | cut -d' ' -f1; }
file_sha() { sha256sum "$1" | cut -d' ' -f1; }

# --- HTTP server ---------------------------------------------------------------

# start_httpd ROOT [--fault SPEC]...: sets HTTPD_PID and PORT, URL
start_httpd() {
	local root=$1 pf
	shift
	pf=$(mktemp -u)
	"$PYTHON" "$HTTPD" --root "$root" --port-file "$pf" "$@" >/dev/null 2>&1 &
	HTTPD_PID=$!
	for _ in $(seq 1 100); do
		[ -s "$pf" ] && break
		sleep 0.05
	done
	[ -s "$pf" ] || fail "httpd did not start"
	PORT=$(cat "$pf")
	rm -f "$pf"
	URL="http://127.0.0.1:$PORT"
}

# stop_httpd: SIGTERM, and SIGKILL if the server is still there 10 s later: a
# test's end must never wait on its server (httpd.py bounds its own shutdown
# too; this is the last resort).
stop_httpd() {
	[ -n "${HTTPD_PID:-}" ] || return 0
	kill "$HTTPD_PID" 2>/dev/null
	for _ in $(seq 1 100); do
		kill -0 "$HTTPD_PID" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$HTTPD_PID" 2>/dev/null; then
		echo "stop_httpd: the server did not stop on SIGTERM: killed" >&2
		kill -9 "$HTTPD_PID" 2>/dev/null
	fi
	wait "$HTTPD_PID" 2>/dev/null
	HTTPD_PID=
}

# --- the delta tests ------------------------------------------------------------

# delta_next_image OLD NEW BYTES: the next release's image for the delta
# tests: OLD with BYTES of new random data from block 100 on and block 900
# a copy of block 500 (a moved block; the two differ in OLD).
delta_next_image() {
	cp "$1" "$2" || fail "copy $1"
	head -c "$3" /dev/urandom | dd of="$2" bs=4096 seek=100 conv=notrunc status=none
	dd if="$1" of="$2" bs=4096 skip=500 seek=900 count=1 conv=notrunc status=none
	cmp -s <(dd if="$1" bs=4096 skip=900 count=1 status=none) \
		<(dd if="$1" bs=4096 skip=500 count=1 status=none) && fail "blocks 500 and 900 of $1 are equal"
	return 0
}

# delta_test_release BYTES: the start of the delta tests, after
# dualbank_test_device: OLD (the factory image) and its SIZE, NEW (made by
# delta_next_image with BYTES of new data) and NEW_SHA, and W/v1.1.upd,
# release 1.1 of NEW.
delta_test_release() {
	OLD=$D/factory.img
	SIZE=$(stat -c %s "$OLD")
	NEW=$WORK/v1.1.img
	delta_next_image "$OLD" "$NEW" "$1"
	NEW_SHA=$(file_sha "$NEW")
	make_bundle "$NEW" 1.1 "$FIX/release.pem" "$W/v1.1.upd"
}

# delta_install NAME [ARGS...]: for the delta tests (after delta_test_release,
# with URL, LOG and a snapshot of D): the install of URL/v1.1.upd (ARGS
# before it; LOG emptied first), progress (PROGRESS, default json) in
# WORK/NAME.json, log in WORK/NAME.err; slot B must then hold NEW and boot
# next on trial, slot A untouched. With JSON progress it sets downloaded,
# reused and written from the last line that counts them.
# UPD_OPTS: global options before the command (e.g. -v).
delta_install() {
	local n=$1 p=${PROGRESS:-json}
	shift
	: >"$LOG"
	# shellcheck disable=SC2086 # UPD_OPTS: global options (-v), split
	"$UPDATER" --config="$D/updater.conf" ${UPD_OPTS:-} --progress="$p" install "$@" "$URL/v1.1.upd" \
		>"$WORK/$n.json" 2>"$WORK/$n.err" || { cat "$WORK/$n.err" >&2; fail "install $n"; }
	assert_eq "$(slot_sha "$D" B "$SIZE")" "$NEW_SHA" "slot B after install $n"
	assert_eq "$(envvar "$D" boot_slot)/$(envvar "$D" upgrade_available)" "B/1" "env after install $n"
	assert_eq "$(file_sha "$D/slots/A.img")" "$(cat "$D/snap.slot")" "running slot A after install $n"
	[ "$p" = json ] || return 0
	json_moved "$WORK/$n.json" >"$WORK/$n.moved" || fail "install $n: JSON progress"
	read -r downloaded reused written <"$WORK/$n.moved"
}

# json_moved FILE: "downloaded reused written" of the last line of an
# install's JSON progress (--progress=json) that counts them.
json_moved() {
	python3 - "$1" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
moved = [l for l in lines if l["type"] == "progress" and "written" in l]
assert moved, "no progress line says what moved"
last = moved[-1]
print(last["downloaded"], last["reused"], last["written"])
PY
}

# json_phases FILE PHASE...: the progress lines of an install's JSON output
# (--progress=json) have exactly these phases, in this order, each ending with
# a final line whose done equals its total (> 0).
json_phases() {
	python3 - "$@" <<'PY'
import json, sys
prog = [l for l in map(json.loads, open(sys.argv[1])) if l["type"] == "progress"]
phases = [p["phase"] for p in prog]
order = sys.argv[2:]
assert sorted(set(phases), key=order.index) == order, phases
assert phases == sorted(phases, key=order.index), phases
for ph in order:
    last = [p for p in prog if p["phase"] == ph][-1]
    assert last["final"] and last["done"] == last["total"] > 0, (ph, last)
PY
}

# --- assertions --------------------------------------------------------------

# expect_exit CODE OUTFILE CMD...: runs CMD, stderr+stdout to OUTFILE
expect_exit() {
	local want=$1 out=$2 rc
	shift 2
	"$@" >"$out" 2>&1
	rc=$?
	[ "$rc" = "$want" ] || { cat "$out" >&2; fail "'$*' exited $rc, expected $want"; }
	# Counted for docs/security.md's figures (tests/integration/run.sh).
	if [ -n "${REFUSALS_LOG:-}" ] && [ "$want" != 0 ]; then
		printf '%s %s\n' "$(basename "$0" .sh)" "$want" >>"$REFUSALS_LOG"
	fi
}

assert_grep() { grep -q -- "$1" "$2" || { cat "$2" >&2; fail "expected '$1' in $2"; }; }
assert_eq() { [ "$1" = "$2" ] || fail "${3:-values differ}: '$1' != '$2'"; }

# One "updater: " error line, exactly: the CLI prints its failure once.
assert_one_error() {
	local n
	n=$(grep -c '^updater: ' "$1" | tr -d ' ')
	local e
	e=$(grep -v '^updater: \(info\|warning\|debug\): ' "$1" | grep -c '^updater: ')
	[ "$e" = 1 ] || { cat "$1" >&2; fail "expected exactly one error line in $1 (got $e of $n)"; }
	grep '^updater: ' "$1" | grep -v '^updater: \(info\|warning\|debug\): ' | grep -q -- "$2" ||
		{ cat "$1" >&2; fail "error line does not mention '$2'"; }
}

# expect_refused DIR CODE OUT PATTERN CMD...: CMD exits CODE with one error
# line matching PATTERN (output in OUT) and changes nothing on device DIR:
# the running slot, the boot environment and the other slot are as before.
expect_refused() {
	local d=$1 code=$2 out=$3 pat=$4 other=A before
	shift 4
	[ "$(booted_slot "$d")" = A ] && other=B
	snapshot "$d"
	before=$(file_sha "$d/slots/$other.img")
	expect_exit "$code" "$out" "$@"
	assert_one_error "$out" "$pat"
	assert_untouched "$d"
	assert_eq "$(file_sha "$d/slots/$other.img")" "$before" "slot $other after a refused '$*'"
}

# snapshot DIR / assert_untouched DIR: the running slot's bytes and the boot
# environment are exactly as before.
snapshot() {
	local s
	s=$(booted_slot "$1")
	file_sha "$1/slots/$s.img" >"$1/snap.slot"
	env_dump "$1" >"$1/snap.env"
}
assert_untouched() {
	local s
	s=$(booted_slot "$1")
	assert_eq "$(file_sha "$1/slots/$s.img")" "$(cat "$1/snap.slot")" "running slot $s changed"
	env_dump "$1" | diff -u "$1/snap.env" - >&2 || fail "boot environment changed"
}

# Fixtures shared by the tests of one run (made once: mkfs and keys take time).
# Sets FIX to a directory with v1.img v2.img v3.img, keys and bundles.
fixtures() {
	FIX=${FIXTURES:-$TOP/build/fixtures}
	if [ ! -f "$FIX/.done" ]; then
		rm -rf "$FIX"
		mkdir -p "$FIX"
		make_key release "$FIX"
		make_key other "$FIX"
		for v in 1.0 2.0 3.0; do
			make_rootfs_image "$FIX/v$v.img" "$v" 8
			make_bundle "$FIX/v$v.img" "$v" "$FIX/release.pem" "$FIX/v$v.upd"
		done
		touch "$FIX/.done"
	fi
}

# new_device NAME: a fresh simulated device under $WORK using the fixture keys.
new_device() {
	local d=$WORK/$1
	mkdir -p "$d/keys"
	cp "$FIX/release.pem" "$FIX/release.pub.pem" "$d/keys/"
	make_device "$d" "${2:-16}"
	echo "$d"
}

# dualbank_test_device [FILE...]: the start most dual-bank integration tests
# share: the fixtures, D=$WORK/dev a fresh device (running 1.0 from slot A),
# W=$WORK/www holding the named fixture files (v2.0.upd, ...) for the server a
# test starts there; the server goes at exit. (tests/lib/ostree.sh has the
# ostree backend's: ostree_test_device.)
dualbank_test_device() {
	local f
	fixtures
	D=$(new_device dev)
	W=$WORK/www
	mkdir -p "$W"
	for f in "$@"; do cp "$FIX/$f" "$W/" || fail "copy $FIX/$f"; done
	trap stop_httpd EXIT
}

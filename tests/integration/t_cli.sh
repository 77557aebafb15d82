# The command line's contract: help with exit codes, bundle info, JSON progress.
. "$TOP/tests/lib/common.sh"
set -u
dualbank_test_device

"$UPDATER" --help >"$WORK/help" || fail "--help"
for c in status check install mark-good rollback boot init "bundle create" "bundle info" \
	"3 verification" "4 download" "5 no space" "6 hook failed" "7 busy" "10 check"; do
	assert_grep "$c" "$WORK/help"
done
"$UPDATER" --version | grep -q "backends: dualbank" || fail "--version lists the backends"

# Per-command help: `updater help CMD`, `CMD --help` and `CMD -h` print a Usage line and the
# command's options on stdout and exit 0, without a config file (or a device) to read.
NOCONF=(--config="$WORK/no-such.conf")
for c in status check install mark-good rollback boot init health-check "bundle create" "bundle info"; do
	# shellcheck disable=SC2086
	for how in "help $c" "$c --help" "$c -h"; do
		# shellcheck disable=SC2086
		"$UPDATER" "${NOCONF[@]}" $how >"$WORK/h.out" 2>"$WORK/h.err" || fail "'updater $how' exited $?"
		head -n 1 "$WORK/h.out" | grep -q "^Usage: updater .*$c" || fail "'updater $how': $(head -n 1 "$WORK/h.out")"
		[ -s "$WORK/h.err" ] && fail "'updater $how' wrote to stderr: $(cat "$WORK/h.err")"
	done
done
# Every option a command parses is in its help.
"$UPDATER" help install >"$WORK/h.install"
for o in --allow-downgrade --force --no-readback; do assert_grep "$o" "$WORK/h.install"; done
"$UPDATER" bundle create --help >"$WORK/h.create"
for o in --image --version --compatible --key --output --security-version --level --format --frame-size \
	--delta-from; do
	assert_grep "$o " "$WORK/h.create"
done
"$UPDATER" help bundle >"$WORK/h.bundle" || fail "help bundle"
assert_grep "bundle create" "$WORK/h.bundle"
assert_grep "bundle info" "$WORK/h.bundle"
expect_exit 2 "$WORK/h.unknown" "$UPDATER" help frobnicate
assert_one_error "$WORK/h.unknown" "unknown command 'frobnicate'"

# Extra arguments are refused by every command (exit 2, one line), and a command
# takes only its own options.
for c in "status --json" "check a" "install a" mark-good rollback boot init health-check "bundle info a"; do
	# shellcheck disable=SC2086
	expect_exit 2 "$WORK/extra" upd "$D" $c extra
	assert_one_error "$WORK/extra" "unexpected argument 'extra'"
done
expect_exit 2 "$WORK/opt" upd "$D" status --force
assert_one_error "$WORK/opt" "status: unknown option '--force'"

expect_exit 0 "$WORK/info" upd "$D" bundle info "$FIX/v2.0.upd"
assert_grep "version:        2.0" "$WORK/info"
assert_grep "signature:      valid" "$WORK/info"
make_bundle "$FIX/v2.0.img" 2.0 "$FIX/other.pem" "$WORK/other.upd"
expect_exit 3 "$WORK/info2" upd "$D" bundle info "$WORK/other.upd"
assert_grep "signature:      INVALID" "$WORK/info2"
assert_one_error "$WORK/info2" "signature"
expect_exit 2 "$WORK/create" "$UPDATER" bundle create --image "$FIX/v2.0.img"
assert_one_error "$WORK/create" "bundle create: needs --image"

# JSON progress: every stdout line is an object; the states come in order.
"$UPDATER" --config="$D/updater.conf" --progress=json install "$FIX/v2.0.upd" >"$WORK/json" 2>/dev/null ||
	fail "install with --progress=json"
python3 - "$WORK/json" <<'PY' || fail "JSON progress lines"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
states = [l["state"] for l in lines if l["type"] == "state"]
assert states == ["fetch", "verify", "pre-install", "install", "post-install", "activated"], states
# fetch comes before the version is known: null; every later event names it.
versions = [l["version"] for l in lines if l["type"] == "state"]
assert versions == [None] + ["2.0"] * 5, versions
PY
# A format-3 bundle: the delta install's phases, in order (docs/dualbank.md).
json_phases "$WORK/json" delta-scan delta-copy download readback || fail "JSON progress phases"
# A bar on request, even without a TTY; it ends with a newline.
upd "$D" rollback >/dev/null 2>&1 || fail "cancel the pending update"
"$UPDATER" --config="$D/updater.conf" --progress=bar install "$FIX/v2.0.upd" 2>"$WORK/bar" ||
	fail "install with --progress=bar"
grep -q "100%" "$WORK/bar" || fail "progress bar never reached 100%"

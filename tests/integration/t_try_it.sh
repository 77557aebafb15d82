# docs/try-it.md is copy-pastable: its ```sh blocks, in order and exactly as
# written, run from the top of the checkout in one bash (-e: every command must
# succeed), and the output the page shows (its plain ``` blocks) is what they
# print. Both backends: create, install over HTTP, reboot, mark-good, a
# fallback after fail-boot, show, remove.
. "$TOP/tests/lib/common.sh"
set -u
DOC=$TOP/docs/try-it.md
"$PYTHON" - "$DOC" "$WORK/try.sh" "$WORK/shown" <<'PY' || fail "could not read the blocks of $DOC"
import re, sys
doc = open(sys.argv[1]).read()
blocks = re.findall(r"^```(\w*)\n(.*?)^```$", doc, re.M | re.S)
sh = [b for lang, b in blocks if lang == "sh"]
shown = [b for lang, b in blocks if lang == ""]
assert len(sh) >= 10 and len(shown) >= 2, (len(sh), len(shown))
with open(sys.argv[2], "w") as f:
    # A failure half-way must not leave the server, gpg-agent or an
    # immutable deployment behind (evaluated in the page's work directory).
    f.write("trap 'rc=$?; set +e; kill $HTTPD 2>/dev/null; gpgconf --homedir gnupg --kill all 2>/dev/null; "
            "for d in dev odev; do [ ! -f $d/.updater-sim ] || updater-sim remove $d; done; exit $rc' EXIT\n")
    f.write("".join(sh))
with open(sys.argv[3], "w") as f:
    f.write("".join(shown))
PY
(cd "$TOP" && TMPDIR=$WORK UPDATER='' bash -e -o pipefail "$WORK/try.sh") >"$WORK/out" 2>&1 ||
	{ tail -40 "$WORK/out" >&2; fail "the commands of docs/try-it.md failed"; }
while IFS= read -r line; do
	grep -qxF -- "$line" "$WORK/out" || { cat "$WORK/out" >&2; fail "docs/try-it.md shows '$line', the commands did not print it"; }
done <"$WORK/shown"
# Both backends went through trial, confirmation and a fallback.
[ "$(grep -c '^ *state: *committed$' "$WORK/out")" -ge 1 ] || fail "no committed state shown"
[ "$(grep -c 'attempt 4 > bootlimit 3: the trial failed, falling back' "$WORK/out")" = 2 ] ||
	fail "expected a fallback on each backend"
[ "$(grep -c '^ *state: *rolled-back$' "$WORK/out")" = 2 ] || fail "expected rolled-back on each backend"
grep -q '^created ostree device .*/odev: booted deployment [0-9a-f]\{12\}\.0, release 1\.0$' "$WORK/out" ||
	fail "the ostree device was not created"
# The page cleans up after itself: no device, no server left.
left=$(find "$WORK" -name .updater-sim)
[ -z "$left" ] || fail "devices left behind: $left"
exit 0

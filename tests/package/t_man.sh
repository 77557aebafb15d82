# The man pages render without a warning (groff -ww) and do not drift from the
# program and the docs: updater(1) has every command and option of
# `updater --help` and every exit code of docs/cli.md; updater.conf(5) has
# every key of docs/config.md with its default.
. "$TOP/tests/package/lib.sh"

command -v groff >/dev/null || fail "groff not found (scripts/deps.sh installs groff-base)"
for m in "$TOP/man/updater.1" "$TOP/man/updater.conf.5" "$TOP/man/updater-sim.1"; do
	groff -man -Tutf8 -ww -z "$m" >"$WORK/groff" 2>&1 || fail "groff $m failed"
	[ ! -s "$WORK/groff" ] || { cat "$WORK/groff"; fail "groff warnings for $m"; }
	if command -v man >/dev/null; then
		MANWIDTH=80 man --warnings -l "$m" 2>"$WORK/man.err" >/dev/null || fail "man -l $m"
		[ ! -s "$WORK/man.err" ] || { cat "$WORK/man.err"; fail "man -l warnings for $m"; }
	fi
	# Rendered as plain ASCII for the checks below (no hyphenation: .nh).
	groff -man -Tascii -P-cbou "$m" 2>/dev/null >"$WORK/$(basename "$m").txt"
done

"$UPDATER" --help >"$WORK/help" || fail "updater --help"
python3 - "$WORK" "$TOP" <<'PY' || fail "man pages drifted"
import re, sys
work, top = sys.argv[1], sys.argv[2]
help_text = open(f"{work}/help").read()
man1 = open(f"{work}/updater.1.txt").read()
man5 = open(f"{work}/updater.conf.5.txt").read()
bad = []

# updater(1): every command of --help, every option, every exit code of docs/cli.md.
cmds = help_text.split("commands:")[1].split("exit codes:")[0]
for line in cmds.splitlines():
    m = re.match(r"  ([a-z-]+(?: (?:create|info))?)", line)
    if m and not re.search(r"^\s{7}" + re.escape(m.group(1)) + r"\b", man1, re.M):
        bad.append(f"updater.1: command '{m.group(1)}' has no entry")
for opt in sorted(set(re.findall(r"(--?[a-z][a-z-]*)", help_text))):
    if opt not in man1:
        bad.append(f"updater.1: option {opt} missing")
for opt in ["--help", "--version", "--verbose", "--quiet"]:
    if opt not in man1:
        bad.append(f"updater.1: option {opt} missing")
cli = open(f"{top}/docs/cli.md").read()
codes = re.findall(r"^\| (\d+) \|", cli.split("## Exit codes")[1], re.M)
exit_sec = man1.split("EXIT STATUS")[1].split("FILES")[0]
for c in codes:
    if not re.search(rf"^\s+{c}\s", exit_sec, re.M):
        bad.append(f"updater.1: exit code {c} missing")
if len(codes) < 9:
    bad.append(f"docs/cli.md: only {len(codes)} exit codes found")

# updater.conf(5): every key of docs/config.md, and its default next to it.
conf = open(f"{top}/docs/config.md").read()
rows = re.findall(r"^\| `([a-z_.A-Z]+)` \| ([^|]*) \| ([^|]*) \|", conf, re.M)
if len(rows) < 25:
    bad.append(f"docs/config.md: only {len(rows)} keys found")
# Entries of the rendered page: a tag line at 7 spaces, its text indented further.
entries = {}
tag = None
for line in man5.splitlines():
    m = re.match(r"^ {7}(\S.*)$", line)
    if m:
        tag = m.group(1)
        entries[tag] = ""
    elif tag is not None and line.startswith(" " * 14):
        entries[tag] += " " + line.strip()
for key, typ, default in rows:
    text = [t for tag, t in entries.items() if key in re.split(r",\s*", tag)]
    if not text:
        bad.append(f"updater.conf.5: key {key} has no entry")
        continue
    for lit in re.findall(r"`([^`]+)`", default):
        if lit not in text[0]:
            bad.append(f"updater.conf.5: {key}: default {lit} missing")
for ex in ["compatible =", "state_dir =", "dualbank = {", "hooks = {", 'backend = "ostree"']:
    if ex not in man5:
        bad.append(f"updater.conf.5: example lacks '{ex}'")
print("\n".join(bad))
sys.exit(1 if bad else 0)
PY

# updater-sim(1): every command and option of `updater-sim --help`.
"$TOP/tools/updater-sim" --help >"$WORK/sim-help" || fail "updater-sim --help"
for c in $(sed -n '/^commands:/,/^$/s/^  \([a-z][a-z-]*\) .*/\1/p' "$WORK/sim-help"); do
	grep -Eq "^ {7}$c( |\$)" "$WORK/updater-sim.1.txt" || fail "updater-sim.1: command '$c' has no entry"
done
for o in $(grep -o -- '--[a-z][a-z-]*' "$WORK/sim-help" | sort -u); do
	grep -q -- "$o" "$WORK/updater-sim.1.txt" || fail "updater-sim.1: option $o missing"
done
exit 0

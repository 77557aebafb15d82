# Backends chosen at build time: WITH_OSTREE=0 links neither libostree nor
# GLib, WITH_DUALBANK=0 builds without the dual-bank code, no backend at all
# is refused, `--version` lists what is compiled in, and asking for a backend
# that is not is a usage error (exit 2) that says so.
. "$TOP/tests/package/lib.sh"

B=build/package
pmake -j2 WITH_OSTREE=0 WITH_SINGLECOPY=0 BUILD=$B/dualbank-only $B/dualbank-only/bin/updater >"$WORK/b1.log" 2>&1 ||
	{ tail -20 "$WORK/b1.log"; fail "WITH_OSTREE=0 build"; }
pmake -j2 WITH_DUALBANK=0 WITH_SINGLECOPY=0 BUILD=$B/ostree-only $B/ostree-only/bin/updater >"$WORK/b2.log" 2>&1 ||
	{ tail -20 "$WORK/b2.log"; fail "WITH_DUALBANK=0 build"; }
DB=$TOP/$B/dualbank-only/bin/updater
OS=$TOP/$B/ostree-only/bin/updater

"$UPDATER" --version | grep -qx 'updater .* (backends: dualbank,ostree,singlecopy)' || fail "full: $("$UPDATER" --version)"
"$DB" --version | grep -qx 'updater .* (backends: dualbank)' || fail "WITH_OSTREE=0: $("$DB" --version)"
"$OS" --version | grep -qx 'updater .* (backends: ostree)' || fail "WITH_DUALBANK=0: $("$OS" --version)"

# Libraries: none of libostree/GLib in the dual-bank build, not even indirectly.
needed() { readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'; }
needed "$UPDATER" | grep -q '^libostree-1' || fail "the full build does not link libostree"
needed "$DB" | grep -E 'ostree|glib|gio|gobject' && fail "WITH_OSTREE=0 links libostree or GLib"
ldd "$DB" | grep -E 'ostree|glib|gio-2|gobject' && fail "WITH_OSTREE=0 pulls in libostree or GLib"
# The code: no dual-bank object in the ostree-only build, and no ostree one in the other.
# (readback_*: backends/image/readback.c; the ostree backend's own read-back
# is ob_readback_*.)
nm "$OS" | grep -qiE 'dualbank|slot_writer| [a-z] readback_' && fail "WITH_DUALBANK=0 contains dual-bank code"
nm "$DB" | grep -qi 'ostree_backend\|ostree_sysroot' && fail "WITH_OSTREE=0 contains ostree code"
# The bundle format is the dual-bank backend's: the ostree-only build has
# neither its code nor libzstd, and its `bundle` commands say so (exit 2).
needed "$DB" | grep -q '^libzstd' || fail "the dual-bank build does not link libzstd"
needed "$OS" | grep '^libzstd' && fail "WITH_DUALBANK=0 links libzstd"
nm "$OS" | grep -E ' [TtDdRrBb] (bundle_|manifest_|cli_bundle)' && fail "WITH_DUALBANK=0 contains the bundle code"
expect_exit 2 "$WORK/b3" "$OS" bundle info /nonexistent
assert_one_error "$WORK/b3" "bundle info: not in this build (bundles are the dualbank backend's"

# No backend at all: refused at build time.
pmake WITH_OSTREE=0 WITH_DUALBANK=0 WITH_SINGLECOPY=0 BUILD=$B/none $B/none/core/backends.o >"$WORK/none.log" 2>&1 &&
	fail "a build without any backend succeeded"
assert_grep "no backend compiled in" "$WORK/none.log"

# Asking for a missing backend: exit 2, one clear line, before anything else.
D=$WORK/dev
mkdir -p "$D"
printf 'compatible = "x";\nstate_dir = "%s/state";\n' "$D" >"$D/updater.conf"
expect_exit 2 "$WORK/o1" "$DB" --config="$D/updater.conf" --backend=ostree status
assert_one_error "$WORK/o1" "backend 'ostree': not compiled into this build (compiled in: dualbank)"
expect_exit 2 "$WORK/o2" "$OS" --config="$D/updater.conf" --backend=dualbank install /nonexistent
assert_one_error "$WORK/o2" "backend 'dualbank': not compiled into this build (compiled in: ostree)"
expect_exit 2 "$WORK/o3" "$DB" --backend=dualbnak status
assert_one_error "$WORK/o3" "backend 'dualbnak': not known (compiled in: dualbank)"
# Checked before the config is read: no config needed to learn it.
expect_exit 2 "$WORK/o4" "$DB" --config=/nonexistent --backend=ostree mark-good
assert_one_error "$WORK/o4" "not compiled into this build"
# The config's backend key: same error, exit 2.
printf 'backend = "ostree";\n' >>"$D/updater.conf"
expect_exit 2 "$WORK/o5" "$DB" --config="$D/updater.conf" status
assert_one_error "$WORK/o5" "backend 'ostree': not compiled into this build"
[ ! -e "$D/state" ] || fail "state_dir touched after a backend error"
mkdir -m 0755 "$D/state" # from here on a real state_dir: the updater never creates one
# Without a backend key an ostree-only build uses ostree, not a missing dualbank.
sed -i '/^backend/d' "$D/updater.conf"
"$OS" --config="$D/updater.conf" status >"$WORK/o6" 2>&1
grep -q "dualbank" "$WORK/o6" && { cat "$WORK/o6"; fail "WITH_DUALBANK=0 defaults to dualbank"; }
# Keys of a backend left out of the build: refused (exit 2) naming the file:line,
# the key and why, not ignored nor taken for a typo; its empty group is let
# through (config/updater.conf has one with every key commented out).
cp "$D/updater.conf" "$WORK/base.conf"
printf 'ostree = {\n  ref = "a/b";\n};\n' >>"$D/updater.conf"
expect_exit 2 "$WORK/o7" "$DB" --config="$D/updater.conf" status
assert_one_error "$WORK/o7" "updater.conf:4: ostree.ref: the ostree backend is not in this build (compiled in: dualbank)"
printf 'dualbank = { slots = { A = "/a"; }; };\n' | cat "$WORK/base.conf" - >"$D/updater.conf"
expect_exit 2 "$WORK/o8" "$OS" --config="$D/updater.conf" status
assert_one_error "$WORK/o8" "updater.conf:3: dualbank.slots: the dualbank backend is not in this build (compiled in: ostree)"
printf 'ostree = { };\n' | cat "$WORK/base.conf" - >"$D/updater.conf"
"$DB" --config="$D/updater.conf" status >"$WORK/o9" 2>&1
grep -q "not in this build" "$WORK/o9" && { cat "$WORK/o9"; fail "an empty group of a left-out backend refused"; }
exit 0

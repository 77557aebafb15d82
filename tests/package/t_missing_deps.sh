# A build on a machine without the -dev packages stops with one line that names
# the missing pkg-config modules and `make deps`, before any compiler runs
# (an empty pkg-config search path stands in for a machine without them).
. "$TOP/tests/package/lib.sh"

B=build/package/missing
rm -rf "$TOP/$B"
out=$(PKG_CONFIG_LIBDIR=/nonexistent PKG_CONFIG_PATH= pmake BUILD=$B $B/cli/main.o 2>&1) &&
	fail "the build succeeded without any pkg-config module"
printf '%s\n' "$out" | grep -q 'missing pkg-config modules: libcurl libconfig libzstd libubootenv libcrypto ostree-1: run .make deps.' ||
	fail "no one-line message naming the modules: $out"
[ "$(printf '%s\n' "$out" | wc -l)" -eq 1 ] || fail "more than one line: $out"
printf '%s\n' "$out" | grep -qE '(^| )(gcc|cc|clang) ' && fail "a compiler ran: $out"
[ -e "$B/cli/main.o" ] && fail "an object was built"

# The unit tests need cmocka too, and a dual-bank-only build does not ask for libostree.
out=$(PKG_CONFIG_LIBDIR=/nonexistent PKG_CONFIG_PATH= pmake WITH_OSTREE=0 BUILD=$B unit 2>&1) &&
	fail "make unit succeeded without any pkg-config module"
printf '%s\n' "$out" | grep -q 'missing pkg-config modules: libcurl libconfig libzstd libubootenv libcrypto cmocka:' ||
	fail "make unit: $out"

# Nor does a build without the dual-bank and single-copy backends ask for
# libzstd (the bundle format's).
out=$(PKG_CONFIG_LIBDIR=/nonexistent PKG_CONFIG_PATH= pmake WITH_DUALBANK=0 WITH_SINGLECOPY=0 BUILD=$B $B/cli/main.o 2>&1) &&
	fail "the WITH_DUALBANK=0 build succeeded without any pkg-config module"
printf '%s\n' "$out" | grep -q 'missing pkg-config modules: libcurl libconfig libubootenv libcrypto ostree-1: run .make deps.' ||
	fail "WITH_DUALBANK=0: $out"

# No pkg-config at all: said as such.
out=$(pmake PKG_CONFIG=/nonexistent/pkg-config BUILD=$B $B/cli/main.o 2>&1) && fail "built without pkg-config"
printf '%s\n' "$out" | grep -q '/nonexistent/pkg-config is not installed: run .make deps.' || fail "no pkg-config: $out"

# With the packages, the same check lets the build through (make -n: nothing runs).
pmake -n BUILD=$B $B/cli/main.o >/dev/null 2>&1 || fail "the check refused a machine with the packages"

# Helpers of the packaging tests (bash). TOP and WORK are set by run.sh.
. "$TOP/tests/lib/common.sh"
set -u
MAKE=${MAKE:-make}

# pmake ARGS...: the project's Makefile, quietly, from the top directory.
pmake() { $MAKE -C "$TOP" --no-print-directory -s "$@"; }

# stage DIR [MAKE VARS...]: `make install DESTDIR=DIR` (the native ./updater).
stage() {
	local d=$1
	shift
	pmake install DESTDIR="$d" "$@" >"$WORK/install.log" 2>&1 ||
		{ cat "$WORK/install.log" >&2; fail "make install DESTDIR=$d $*"; }
}

# files DIR: every file and symlink under DIR, relative, sorted.
files() { (cd "$1" && find . \( -type f -o -type l \) | sed 's|^\./||' | LC_ALL=C sort); }

mode_of() { stat -c %a "$1"; }

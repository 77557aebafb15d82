# The Buildroot and Yocto recipes (packaging/) do not drift from the Makefile:
# every WITH_* option and make variable they pass exists in the Makefile, their
# dependencies cover the libraries it links (pkg-config modules), and their
# build and install commands, run by stand-ins for the two build systems
# (buildroot_lite.mk, bitbake_lite.py), build the chosen backends and install
# every file and unit the recipes name. A real Buildroot or Yocto build does
# not run here (packaging/*/README.md).
. "$TOP/tests/package/lib.sh"

BRPKG=$TOP/packaging/buildroot/package/updater
BB=$TOP/packaging/yocto/recipes-support/updater/updater_git.bb
HERE=$TOP/tests/package

# A copy of the sources as a build system gets them, plus a stale host
# ./updater that the recipe's own build must replace.
copy_tree() {
	mkdir -p "$1"
	(cd "$TOP" && tar cf - --exclude=./build --exclude=./updater --exclude='./updater-*' \
		--exclude=./demo --exclude=./.git .) | tar xf - -C "$1"
	cp "$UPDATER" "$1/updater"
}
# The Makefile's pkg-config modules for a WITH_OSTREE value.
pkgs() { $MAKE -s -C "$TOP" --no-print-directory --eval 'print-pkgs: ; @echo $(PKGS)' print-pkgs WITH_OSTREE="$1"; }
# Which package provides each module: Buildroot name, Yocto name.
declare -A BR_PKG=([libcurl]=libcurl [libconfig]=libconfig [libzstd]=zstd [libubootenv]=libubootenv
	[libcrypto]=openssl [ostree-1]=libostree)
declare -A YOCTO_PKG=([libcurl]=curl [libconfig]=libconfig [libzstd]=zstd [libubootenv]=libubootenv
	[libcrypto]=openssl [ostree-1]=ostree)
# check_make_vars WHO VAR...: each is an option or variable the Makefile has.
check_make_vars() {
	local who=$1 v
	shift
	for v in "$@"; do
		case $v in
		WITH_*) grep -q "^$v ?=" "$TOP/Makefile" || fail "$who passes $v: the Makefile has no such option" ;;
		DESTDIR) ;;
		*) grep -q "\$($v)" "$TOP/Makefile" || fail "$who passes $v: the Makefile does not use it" ;;
		esac
	done
}
# check_deps WHO MAP WITH_OSTREE DEPS...: the packages cover the modules.
check_deps() {
	local who=$1 wo=$3 m p
	local -n map=$2
	shift 3
	for m in $(pkgs "$wo"); do
		p=${map[$m]:-}
		[ -n "$p" ] || fail "pkg-config module $m of the Makefile has no $who package (t_recipes.sh)"
		[[ " $* " == *" $p "* ]] || fail "$who (WITH_OSTREE=$wo) does not depend on $p (for $m): $*"
	done
}

# --- Buildroot -------------------------------------------------------------------
brl() { $MAKE -s --no-print-directory -f "$HERE/buildroot_lite.mk" SRC="$TOP" "$@"; }
[ "$(cd "$(brl print-UPDATER_SITE)" && pwd -P)" = "$(cd "$TOP" && pwd -P)" ] || fail "UPDATER_SITE is not this tree"
opts=$(brl print-UPDATER_MAKE_OPTS BR2_PACKAGE_UPDATER_DUALBANK=y BR2_INIT_SYSTEMD=y)
# shellcheck disable=SC2046
check_make_vars updater.mk $(echo "$opts" | grep -oE '(^|[[:space:]])[A-Z_]+=' | tr -d ' =')
echo "$opts" | grep -q 'WITH_DUALBANK=1' && echo "$opts" | grep -q 'WITH_OSTREE=0' ||
	fail "updater.mk: BR2_PACKAGE_UPDATER_DUALBANK=y should build WITH_DUALBANK=1 WITH_OSTREE=0: $opts"
opts2=$(brl print-UPDATER_MAKE_OPTS BR2_PACKAGE_UPDATER_OSTREE=y)
# shellcheck disable=SC2046
check_make_vars updater.mk $(echo "$opts2" | grep -oE '(^|[[:space:]])[A-Z_]+=' | tr -d ' =')
echo "$opts2" | grep -q 'WITH_DUALBANK=0' && echo "$opts2" | grep -q 'WITH_OSTREE=1' ||
	fail "updater.mk: BR2_PACKAGE_UPDATER_OSTREE=y alone: $opts2"
# shellcheck disable=SC2046
check_deps Buildroot BR_PKG 0 $(brl print-UPDATER_DEPENDENCIES BR2_PACKAGE_UPDATER_DUALBANK=y)
# shellcheck disable=SC2046
check_deps Buildroot BR_PKG 1 $(brl print-UPDATER_DEPENDENCIES BR2_PACKAGE_UPDATER_OSTREE=y)
# Config.in: the options updater.mk reads, the libraries selected.
for sym in $(grep -oE 'BR2_PACKAGE_UPDATER_[A-Z_]+' "$BRPKG/updater.mk" | sort -u); do
	grep -q "^config $sym\$" "$BRPKG/Config.in" || fail "updater.mk reads $sym, Config.in has no such option"
done
for m in $(pkgs 0); do
	sym=BR2_PACKAGE_$(echo "${BR_PKG[$m]}" | tr 'a-z-' 'A-Z_')
	grep -q "^	select $sym\$" "$BRPKG/Config.in" || fail "Config.in does not select $sym (for $m)"
done
sed -n '/^config BR2_PACKAGE_UPDATER_OSTREE$/,/^config\|^comment\|^endif/p' "$BRPKG/Config.in" |
	grep -q 'select BR2_PACKAGE_LIBOSTREE$' || fail "the ostree option does not select BR2_PACKAGE_LIBOSTREE"

# Build and install as Buildroot would: dual-bank only, systemd.
copy_tree "$WORK/br/build"
$MAKE -s -j2 --no-print-directory -f "$HERE/buildroot_lite.mk" SRC="$WORK/br/build" TARGET_DIR="$WORK/br/target" \
	BR2_PACKAGE_UPDATER=y BR2_PACKAGE_UPDATER_DUALBANK=y BR2_INIT_SYSTEMD=y >"$WORK/br.log" 2>&1 ||
	{ tail -30 "$WORK/br.log"; fail "the Buildroot package's commands failed"; }
T=$WORK/br/target
"$T/usr/bin/updater" --version | grep -qx 'updater .* (backends: dualbank)' ||
	fail "Buildroot target: $("$T/usr/bin/updater" --version)"
for f in usr/libexec/updater/health usr/libexec/updater/check-install usr/share/man/man1/updater.1 \
	etc/updater.conf.example; do
	[ -f "$T/$f" ] || fail "Buildroot target: $f missing"
done
# Every absolute path the package names is in the target.
for p in $(grep -v '^[[:space:]]*#' "$BRPKG/updater.mk" | grep -oE '=/[a-z][A-Za-z0-9_/.-]*' | cut -c2- | sort -u); do
	[ -e "$T$p" ] || fail "updater.mk names $p, the install has no such path"
done
[ ! -e "$T/usr/bin/updater-sim" ] || fail "Buildroot target: updater-sim (a build-host tool) installed"
for u in updater-boot.service updater-health.service updater-check.service updater-check.timer; do
	[ -f "$T/usr/lib/systemd/system/$u" ] || fail "Buildroot target: unit $u missing"
done

# --- Yocto ------------------------------------------------------------------------
python3 "$HERE/bitbake_lite.py" "$BB" "" - "$WORK/yocto/image" "$WORK/bb0.sh" "$WORK/bb0.json" ||
	fail "bitbake_lite could not read the recipe"
python3 "$HERE/bitbake_lite.py" "$BB" "" "dualbank ostree" "$WORK/yocto/image" "$WORK/bb.sh" "$WORK/bb.json" ||
	fail "bitbake_lite could not read the recipe"
jq() { python3 -c "import json,sys; v=json.load(open(sys.argv[1]))[sys.argv[2]]; print(' '.join(v) if isinstance(v, list) else (' '.join(v) if isinstance(v, dict) else v))" "$@"; }
# shellcheck disable=SC2046
check_make_vars updater_git.bb $(jq "$WORK/bb.json" make_vars)
for f in $(jq "$WORK/bb.json" packageconfig_flags); do
	[ "$f" = dualbank ] || [ "$f" = ostree ] || [ "$f" = singlecopy ] || fail "PACKAGECONFIG[$f]: not a backend of the Makefile"
done
grep -q 'WITH_DUALBANK=1' "$WORK/bb0.sh" && grep -q 'WITH_OSTREE=0' "$WORK/bb0.sh" ||
	fail "default PACKAGECONFIG should build dual-bank only"
# shellcheck disable=SC2046
check_deps Yocto YOCTO_PKG 0 $(jq "$WORK/bb0.json" depends)
# shellcheck disable=SC2046
check_deps Yocto YOCTO_PKG 1 $(jq "$WORK/bb.json" depends)
for c in systemd pkgconfig; do
	[[ " $(jq "$WORK/bb.json" inherits) " == *" $c "* ]] || fail "the recipe does not inherit $c"
done

# Build and install as do_compile / do_install would, with both backends.
copy_tree "$WORK/yocto/src"
(cd "$WORK/yocto/src" && sh "$WORK/bb.sh") >"$WORK/yocto.log" 2>&1 ||
	{ tail -30 "$WORK/yocto.log"; fail "the recipe's do_compile/do_install failed"; }
D=$WORK/yocto/image
"$D/usr/bin/updater" --version | grep -qx 'updater .* (backends: dualbank,ostree)' ||
	fail "Yocto image: $("$D/usr/bin/updater" --version)"
[ ! -e "$D/usr/bin/updater-sim" ] || fail "Yocto image: updater-sim (a build-host tool) installed"
unitdir=$(jq "$WORK/bb.json" systemd_system_unitdir)
for u in $(jq "$WORK/bb.json" systemd_service); do
	[ -f "$D$unitdir/$u" ] || fail "SYSTEMD_SERVICE names $u, not installed in $unitdir"
done
for u in "$D$unitdir"/*; do
	if grep -q '^\[Install\]' "$u"; then
		[[ " $(jq "$WORK/bb.json" systemd_service) " == *" $(basename "$u") "* ]] ||
			fail "$(basename "$u") has an [Install] section but is not in SYSTEMD_SERVICE"
	fi
done
for p in $(jq "$WORK/bb.json" files); do
	[ -e "$D$p" ] || fail "FILES names $p, the install has no such path"
done
exit 0

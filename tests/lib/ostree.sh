# Fixtures for the ostree backend's tests (bash). Source it after
# tests/lib/common.sh; it only defines functions (and reads $PYTHON, fail,
# envvar from common.sh). docs/ostree-server.md describes the server flow and
# what each function does.
#
#   ostree_gpg_init DIR                    throwaway GPG home, release + other key
#   ostree_gpg_load DIR                    the same exports from an existing DIR
#   ostree_gpg_stop                        stop the gpg-agent of that home
#   ostree_make_tree OUT VERSION [KVER]    a deployable root filesystem tree
#   ostree_server_init REPO                an archive repository
#   ostree_server_commit REPO BRANCH TREE VERSION [KEYID|none] [ARGS...]
#                                          commit (signed), prints its checksum
#   ostree_server_summary REPO [KEYID|none]
#   ostree_server_delta REPO FROM TO [ARGS...]
#                                          static delta, prints its directory
#   ostree_delta_path FROM TO              deltas/XX/... for two checksums
#   ostree_make_device DIR URL REF [COMMIT] a factory-flashed ostree device
#   ostree_sim_boot DIR                    U-Boot: count the trial, boot an entry
#   ostree_booted_deployment DIR           the booted deployment's directory
#   ostree_rm_device DIR                   chattr -i, then rm -rf
#   ostree_nofreeze CMD...                 run CMD without CAP_SYS_ADMIN
#
# Variables read (all optional): OSTREE_OSNAME (stateroot, default "simos"),
# OSTREE_COMPATIBLE (default "sim-board"), OSTREE_KARGS (kernel arguments of
# the factory deploy), OSTREE_KERNEL_KIB (size of the dummy vmlinuz, default
# 256), OSTREE_SHARED_FILES (number of unchanging files, default 300).
#
# Running as root: every deploy (`ostree admin deploy`, and the updater's
# ostree_sysroot_write_deployments) ends with an FIFREEZE/FITHAW cycle of
# the filesystem holding sysroot/boot, which on a test machine is the build
# host's own filesystem: every writer on it stalls for that time, for up to 30 s
# if the process is killed between freeze and thaw. Without CAP_SYS_ADMIN
# libostree falls back to syncfs(). So these functions deploy through
# ostree_nofreeze, and tests should run the updater through it too.

# ostree_nofreeze CMD...: run CMD with CAP_SYS_ADMIN dropped from the bounding
# set (a no-op for non-root users, who do not have it anyway).
ostree_nofreeze() {
	if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
		setpriv --bounding-set=-sys_admin -- "$@"
	else
		"$@"
	fi
}

# --- GPG -------------------------------------------------------------------

# ostree_gpg_init DIR: a throwaway GNUPGHOME DIR/gnupg with two unprotected
# Ed25519 signing keys. Exports
#   OSTREE_SIGN_HOME          the home directory (for --gpg-homedir); not
#                             OSTREE_GPG_HOME, which libostree (and the ostree
#                             command) would read as a directory of trusted keys
#   OSTREE_GPG_KEYID          fingerprint of the release key
#   OSTREE_GPG_OTHER_KEYID    fingerprint of a second key nobody trusts
#   OSTREE_GPG_KEYRING        DIR/trusted.gpg: the release public key, a
#                             binary keyring (gpgkeypath, ostree.gpg_keyring)
#   OSTREE_GPG_OTHER_KEYRING  DIR/other.gpg: the other public key
# No agent is left running (ostree_gpg_stop after each use).
ostree_gpg_init() {
	local d=$1 home name fpr
	mkdir -p "$d/gnupg" || fail "ostree_gpg_init: mkdir $d"
	home=$(cd "$d/gnupg" && pwd)
	chmod 700 "$home"
	[ ${#home} -lt 80 ] || echo "ostree_gpg_init: warning: $home is long; gpg-agent's socket path may not fit" >&2
	OSTREE_SIGN_HOME=$home
	for name in release other; do
		fpr=$(gpg --homedir "$home" --batch --status-fd 1 --gen-key 2>/dev/null <<KEY | sed -n 's/^\[GNUPG:\] KEY_CREATED [BP] //p'
%no-protection
Key-Type: eddsa
Key-Curve: ed25519
Key-Usage: sign
Name-Real: updater test $name key
Name-Email: $name@updater.invalid
Expire-Date: 0
%commit
KEY
)
		[ -n "$fpr" ] || { ostree_gpg_stop; fail "ostree_gpg_init: gpg could not make the $name key"; }
		if [ $name = release ]; then
			OSTREE_GPG_KEYID=$fpr
			gpg --homedir "$home" --batch --export "$fpr" >"$d/trusted.gpg" 2>/dev/null
		else
			OSTREE_GPG_OTHER_KEYID=$fpr
			gpg --homedir "$home" --batch --export "$fpr" >"$d/other.gpg" 2>/dev/null
		fi
	done
	OSTREE_GPG_KEYRING=$(cd "$d" && pwd)/trusted.gpg
	OSTREE_GPG_OTHER_KEYRING=$(cd "$d" && pwd)/other.gpg
	export OSTREE_SIGN_HOME OSTREE_GPG_KEYID OSTREE_GPG_OTHER_KEYID OSTREE_GPG_KEYRING OSTREE_GPG_OTHER_KEYRING
	ostree_gpg_stop
	[ -s "$d/trusted.gpg" ] && [ -s "$d/other.gpg" ] || fail "ostree_gpg_init: key export failed"
}

# ostree_gpg_load DIR: the same exports as ostree_gpg_init, from the keys an
# earlier ostree_gpg_init DIR made (a build that caches its keys); returns 1,
# exporting nothing, when DIR does not hold both keys. Starts no agent.
ostree_gpg_load() {
	local d home rel oth
	d=$(cd "$1" 2>/dev/null && pwd) || return 1
	home=$d/gnupg
	[ -d "$home" ] && [ -s "$d/trusted.gpg" ] && [ -s "$d/other.gpg" ] || return 1
	rel=$(gpg --homedir "$home" --batch --with-colons --show-keys "$d/trusted.gpg" 2>/dev/null |
		awk -F: '/^fpr/ { print $10; exit }')
	oth=$(gpg --homedir "$home" --batch --with-colons --show-keys "$d/other.gpg" 2>/dev/null |
		awk -F: '/^fpr/ { print $10; exit }')
	[ -n "$rel" ] && [ -n "$oth" ] || return 1
	OSTREE_SIGN_HOME=$home OSTREE_GPG_KEYID=$rel OSTREE_GPG_OTHER_KEYID=$oth
	OSTREE_GPG_KEYRING=$d/trusted.gpg OSTREE_GPG_OTHER_KEYRING=$d/other.gpg
	export OSTREE_SIGN_HOME OSTREE_GPG_KEYID OSTREE_GPG_OTHER_KEYID OSTREE_GPG_KEYRING OSTREE_GPG_OTHER_KEYRING
}

# ostree_gpg_stop: stop the gpg-agent (and any other daemon) of OSTREE_SIGN_HOME.
# Signing starts one; every function here that signs calls this afterwards.
ostree_gpg_stop() {
	[ -n "${OSTREE_SIGN_HOME:-}" ] || return 0
	gpgconf --homedir "$OSTREE_SIGN_HOME" --kill all >/dev/null 2>&1
	return 0
}

# _ostree_sign_args KEYID|none|"": sets _OSTREE_SIGN to the --gpg-sign arguments
# for ostree (none without a key; KEYID defaults to OSTREE_GPG_KEYID).
# Run in the caller's shell (sets _OSTREE_SIGN) so that fail() stops the test.
_ostree_sign_args() {
	local key=${1:-${OSTREE_GPG_KEYID:-none}}
	_OSTREE_SIGN=()
	[ "$key" = none ] && return 0
	[ -n "${OSTREE_SIGN_HOME:-}" ] || fail "signing with $key needs ostree_gpg_init first"
	_OSTREE_SIGN=("--gpg-sign=$key" "--gpg-homedir=$OSTREE_SIGN_HOME")
}

# --- release trees ---------------------------------------------------------

# ostree_make_tree OUT VERSION [KVER]: a root filesystem tree that libostree
# can deploy (OUT is replaced):
#   usr/lib/modules/KVER/{vmlinuz,initramfs.img}  content depends on KVER
#                      only, so the boot checksum changes with the kernel
#   usr/lib/modules/KVER/kernel/sim.ko           also per kernel
#   usr/lib/os-release VERSION_ID="VERSION"; usr/etc/os-release ->
#                      ../usr/lib/os-release (as Debian's /etc/os-release)
#   usr/etc/{hostname,sim.conf,sim-release,fstab}   config (sim-release per version)
#   usr/lib/sim, usr/share/sim/NN     OSTREE_SHARED_FILES (300) files, about
#                      4 MiB, identical in every version (2/3 text, 1/3 binary)
#   usr/bin/sim-app    128 KiB, the same binary with the version patched in
#                      (a small binary diff between versions)
#   usr/share/sim/version-data.bin  16 KiB of random data per version
#   usr/share/doc/sim/changelog     one line per version up to VERSION
#   sysroot/ (empty), ostree -> sysroot/ostree  what a booted deployment needs
# KVER defaults to 6.1.0-sim1. Deterministic: the same arguments give the
# same bytes, so objects are shared between releases.
ostree_make_tree() {
	local out=$1 version=$2 kver=${3:-6.1.0-sim1}
	[ -n "$out" ] && [ -n "$version" ] || fail "usage: ostree_make_tree OUT VERSION [KVER]"
	rm -rf "$out"
	mkdir -p "$out" || fail "ostree_make_tree: mkdir $out"
	"$PYTHON" - "$out" "$version" "$kver" "${OSTREE_KERNEL_KIB:-256}" "${OSTREE_SHARED_FILES:-300}" <<'PY' || fail "ostree_make_tree: $out"
import os, random, sys

out, version, kver, kernel_kib, nshared = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])

def put(rel, data, mode=0o644):
    path = os.path.join(out, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())
    os.chmod(path, mode)

def rnd(seed, n):
    return random.Random(seed).randbytes(n)

def text(seed, n):
    r = random.Random(seed)
    words = "alpha beta gamma delta kernel module update slot boot deploy commit tree".split()
    lines, size = [], 0
    while size < n:
        line = " ".join(r.choice(words) for _ in range(10)) + "\n"
        lines.append(line)
        size += len(line)
    return "".join(lines)

# Kernel, ramdisk and a module: depend on the kernel version only.
mod = f"usr/lib/modules/{kver}"
put(f"{mod}/vmlinuz", b"SIMKERNEL " + kver.encode() + b"\n" + rnd("vmlinuz-" + kver, kernel_kib * 1024))
put(f"{mod}/initramfs.img", b"SIMINITRD " + kver.encode() + b"\n" + rnd("initramfs-" + kver, 64 * 1024))
put(f"{mod}/kernel/sim.ko", rnd("module-" + kver, 16 * 1024))
put(f"{mod}/modules.dep", "kernel/sim.ko:\n")

# os-release and configuration.
put("usr/lib/os-release",
    'NAME="updater sim"\nID=updater-sim\nPRETTY_NAME="updater sim %s"\nVERSION="%s"\nVERSION_ID="%s"\n'
    % (version, version, version))
os.makedirs(os.path.join(out, "usr/etc"), exist_ok=True)
os.symlink("../usr/lib/os-release", os.path.join(out, "usr/etc/os-release"))
put("usr/etc/hostname", "sim-device\n")
put("usr/etc/fstab", "# empty: ostree-prepare-root mounts the deployment\n")
put("usr/etc/sim.conf", "# simulated device configuration\nlog_level = info\ninterval = 60\n")
put("usr/etc/sim-release", "release %s\n" % version)

# Files that never change: about 4 MiB in nshared files, in 10 directories.
for i in range(nshared):
    if i % 3 == 2:
        put("usr/lib/sim/lib%03d.so" % i, rnd("shared-bin-%d" % i, 24 * 1024 + i * 7), 0o755)
    else:
        put("usr/share/sim/%02d/doc%03d.txt" % (i % 10, i), text("shared-txt-%d" % i, 8 * 1024 + i * 13))

# Files that change with every version.
app = bytearray(rnd("sim-app", 128 * 1024))
tag = ("SIMAPP VERSION %-16s" % version).encode()
for off in (0, 40 * 1024, 100 * 1024):
    app[off:off + len(tag)] = tag
put("usr/bin/sim-app", bytes(app), 0o755)
put("usr/share/sim/version-data.bin", rnd("version-data-" + version, 16 * 1024))
put("usr/share/doc/sim/changelog", "sim (%s): release %s\n" % (version, version))

# What a deployment the updater runs from needs at its root.
os.makedirs(os.path.join(out, "sysroot"), exist_ok=True)
os.symlink("sysroot/ostree", os.path.join(out, "ostree"))
PY
}

# --- the server's repository -----------------------------------------------

# ostree_server_init REPO: a new archive repository (what a web server serves).
ostree_server_init() {
	mkdir -p "$1" && ostree --repo="$1" init --mode=archive-z2 || fail "ostree_server_init $1"
}

# ostree_server_commit REPO BRANCH TREE VERSION [KEYID|none] [ARGS...]:
# commits TREE on BRANCH (files owned by root) with subject "release VERSION"
# and metadata version=VERSION and updater.compatible=OSTREE_COMPATIBLE
# (default "sim-board", the devices' compatible; "none": no such key), signed
# with KEYID (default OSTREE_GPG_KEYID; "none", or no key set up: unsigned).
# Further ARGS go to `ostree commit` (e.g. --add-metadata-string=K=V,
# --timestamp=..., --generate-sizes). Prints the commit checksum.
ostree_server_commit() {
	local repo=$1 branch=$2 tree=$3 version=$4 key=${5:-} csum compat=${OSTREE_COMPATIBLE:-sim-board}
	local -a meta=(--add-metadata-string=version="$version")
	shift $(($# < 5 ? $# : 5))
	[ "$compat" = none ] || meta+=(--add-metadata-string=updater.compatible="$compat")
	_ostree_sign_args "$key"
	csum=$(ostree --repo="$repo" commit --branch="$branch" --tree=dir="$tree" \
		--subject="release $version" "${meta[@]}" \
		--owner-uid=0 --owner-gid=0 "${_OSTREE_SIGN[@]}" "$@")
	local rc=$?
	ostree_gpg_stop
	[ $rc = 0 ] && [ -n "$csum" ] || fail "ostree_server_commit $repo $branch $version"
	echo "$csum"
}

# ostree_server_summary REPO [KEYID|none]: regenerate the summary (refs,
# static deltas) and sign it (default key as ostree_server_commit). Run it
# after every commit and delta: clients find both through the summary.
ostree_server_summary() {
	local repo=$1 key=${2:-}
	_ostree_sign_args "$key"
	ostree --repo="$repo" summary -u "${_OSTREE_SIGN[@]}" >/dev/null
	local rc=$?
	ostree_gpg_stop
	[ $rc = 0 ] || fail "ostree_server_summary $repo"
}

# ostree_server_delta REPO FROM TO [ARGS...]: a static delta FROM -> TO (refs
# or checksums; FROM "empty" makes a from-scratch delta) generated with
# --min-fallback-size=0: no "fallback" objects left out of the delta for the
# client to fetch loose, so ostree_repo_static_delta_execute_offline (and
# `ostree static-delta apply-offline`) can apply it. ARGS go to `ostree
# static-delta generate` after that default (e.g. --min-fallback-size=4 for
# ostree's own default, --inline, --max-chunk-size=1). Generate deltas after
# signing the target commit (the delta carries its detached signature) and
# run ostree_server_summary afterwards. Prints the delta's directory
# (REPO/deltas/XX/...; it holds "superblock" and the parts 0, 1, ...).
ostree_server_delta() {
	local repo=$1 from=$2 to=$3 fromcsum="" tocsum dir out
	local -a range
	shift 3
	tocsum=$(ostree --repo="$repo" rev-parse "$to") || fail "ostree_server_delta: no commit $to"
	if [ "$from" = empty ]; then
		range=(--empty "--to=$tocsum")
	else
		fromcsum=$(ostree --repo="$repo" rev-parse "$from") || fail "ostree_server_delta: no commit $from"
		range=("--from=$fromcsum" "--to=$tocsum")
	fi
	# It reports its progress on stdout and stderr: shown only on failure.
	out=$(ostree --repo="$repo" static-delta generate "${range[@]}" --min-fallback-size=0 "$@" 2>&1) ||
		{ printf '%s\n' "$out" >&2; fail "ostree_server_delta $repo $from $to"; }
	dir=$(ostree_delta_path "$fromcsum" "$tocsum")
	[ -f "$repo/$dir/superblock" ] || fail "ostree_server_delta: no $repo/$dir/superblock"
	echo "$repo/$dir"
}

# ostree_delta_path FROM TO: the relative path of a delta's directory in a
# repository, deltas/XX/REST for checksums FROM ("" for --empty) and TO.
# (ostree's "modified base64": '/' becomes '_', no '=' padding.)
ostree_delta_path() {
	"$PYTHON" - "$1" "$2" <<'PY'
import base64, sys
def b64(c):
    return base64.b64encode(bytes.fromhex(c)).decode().rstrip("=").replace("/", "_")
frm, to = sys.argv[1], sys.argv[2]
name = (b64(frm) + "-" + b64(to)) if frm else b64(to)
print("deltas/%s/%s" % (name[:2], name[2:]))
PY
}

# --- the simulated device --------------------------------------------------

# ostree_make_device DIR REPO URL REF [COMMIT]: a factory-flashed ostree
# device in DIR, made by tools/updater-sim create (the tool docs/try-it.md
# gives users), booted into REF's head (or COMMIT, a checksum on REF) of the
# local server repository REPO, whose URL the device's remote and ostree.url
# name. Signatures are checked with OSTREE_GPG_KEYRING (ostree_gpg_init);
# without it the device has gpg verification off. Layout (updater-sim's):
#   DIR/sysroot/            the physical root, repository, deployment, boot/loader
#   DIR/env/                the two-copy U-Boot environment (`updater init`)
#   DIR/cmdline, DIR/root, DIR/etc/os-release   the booted deployment
#   DIR/keys/trusted.gpg, DIR/data/updater/, DIR/hooks/, DIR/updater.conf
# Remove it with ostree_rm_device (deployments are immutable).
ostree_make_device() {
	local d=$1 repo=$2 url=$3 ref=$4 commit=${5:-} out
	local -a args=(--backend=ostree --repo "$repo" --url "$url" --ref "$ref"
		--compatible "${OSTREE_COMPATIBLE:-sim-board}" --osname "${OSTREE_OSNAME:-simos}")
	[ -n "$d" ] && [ -n "$repo" ] && [ -n "$url" ] && [ -n "$ref" ] ||
		fail "usage: ostree_make_device DIR REPO URL REF [COMMIT]"
	[ -z "$commit" ] || args+=(--commit "$commit")
	if [ -n "${OSTREE_GPG_KEYRING:-}" ]; then
		args+=(--gpg-keyring "$OSTREE_GPG_KEYRING")
	else
		args+=(--no-gpg-verify)
	fi
	out=$("$TOP/tools/updater-sim" create "$d" "${args[@]}" 2>&1) ||
		fail "ostree_make_device: updater-sim create: $out"
}

# _ostree_uenv DIR KEY: a value from DIR/sysroot/boot/loader/uEnv.txt
_ostree_uenv() {
	sed -n "s/^$2=//p" "$1/sysroot/boot/loader/uEnv.txt" | head -n 1
}

# ostree_sim_boot DIR: a power-on of an ostree device, played by
# tools/updater-sim without the boot service (the one shell model of U-Boot's
# side of docs/boot-contract.md, as sim_boot in common.sh): counts a trial
# boot, then boots libostree's default entry (kernel_image/bootargs from
# boot/loader/uEnv.txt), or the rollback entry (kernel_image2/bootargs2) when
# rollback=1 (the default entry if there is no rollback entry). Writes
# DIR/cmdline (the entry's bootargs, then the arguments boot.cmd adds), links
# DIR/root to the deployment the ramdisk makes "/", copies its
# usr/lib/os-release to DIR/etc/os-release. Prints the ostree= path. An
# unusable boot state (U-Boot boots the default entry) fails the test.
ostree_sim_boot() {
	local d=$1 out
	out=$("$TOP/tools/updater-sim" reboot --no-boot-service "$d" 2>&1) || fail "ostree_sim_boot: $out"
	case $out in *"no valid boot state"*) fail "ostree_sim_boot: no valid boot state in $d/env: $out" ;; esac
	tr ' ' '\n' <"$d/cmdline" | sed -n 's/^ostree=//p'
}

# ostree_booted_deployment DIR: the deployment directory named by the ostree=
# argument in DIR/cmdline. A later deploy replaces the boot.N link that
# argument names, so like the updater it matches OS/BOOTCSUM/SERIAL under
# whichever boot.N exists now. Fails if the deployment is gone.
ostree_booted_deployment() {
	local arg rest b
	arg=$(tr ' ' '\n' <"$1/cmdline" | sed -n 's/^ostree=//p')
	[ -n "$arg" ] || return 1
	rest=${arg#/ostree/boot.[01]/}
	for b in "$1/sysroot$arg" "$1"/sysroot/ostree/boot.[01]/"$rest"; do
		[ -e "$b" ] && { readlink -f "$b"; return 0; }
	done
	return 1
}

# ostree_rm_device DIR: remove a simulated device; deployment directories
# carry the immutable attribute, so clear it first.
ostree_rm_device() {
	local d=$1
	[ -n "$d" ] && [ "$d" != / ] || return 0
	[ -e "$d" ] || return 0
	if [ -d "$d/sysroot/ostree/deploy" ]; then
		chattr -i "$d"/sysroot/ostree/deploy/*/deploy/* 2>/dev/null
	fi
	rm -rf "$d" 2>/dev/null && return 0
	chattr -R -i "$d" 2>/dev/null
	rm -rf "$d"
}

# --- shared fixtures and checks for the integration tests --------------------
#
#   ostree_fixtures                        cached server repository + factory device
#   ostree_clone_device SRC DST URL        a device copied from a made one
#   ostree_set_url DIR URL                 point a device at another server
#   ostree_snapshot DIR / ostree_assert_untouched DIR
#   ostree_upd DIR ARGS...                 run the updater on a device (no freeze)
#   ostree_entry DIR [2]                   deployment booted by uEnv.txt's entry
#   ostree_booted DIR                      deployment running now (DIR/root)
#   ostree_deployments DIR                 number of deployments
#   ostree_plain_pull DIR REV              a plain pull into a copy of DIR's repo
#   ostree_assert_error OUT PATTERN        assert_one_error, and nothing else printed
#   ostree_log_lines LOG / ostree_log_bytes LOG [AFTER_LINE]

# ostree_fixtures: what the ostree integration tests share, built once under
# $TOP/build/ostree-fixtures (OSTREE_FIXTURES overrides) and built again when
# this file changes (its sha256 is the key). Sets OFIX and the OSTREE_GPG_*
# variables of its keys, and C1 C2 C3 C4 CU CB CN (commit checksums):
#   OFIX/gpg/          ostree_gpg_init
#   OFIX/srv/repo      archive repository; serve OFIX/srv, the URL is $URL/repo
#       sim/stable     C1 1.0 (kernel 6.1.0-sim1) <- C2 2.0 (6.1.0-sim2) <- C3 3.0
#                      <- C4 4.0, signed; one static delta, C1 -> C2
#       sim/unsigned   CU 2.1, not signed
#       sim/badsig     CB 2.2, signed with the other key (OSTREE_GPG_OTHER_KEYID)
#       sim/nokernel   CN 2.3, signed, without usr/lib/modules
#                      (these three have v4's files; the version is metadata)
#   OFIX/device        a factory device (ostree_make_device) running C1; copy it
#                      with ostree_clone_device, never use it directly
# The summary is signed. Tests must not change anything under OFIX: copy
# what they modify.
ostree_fixtures() {
	local key lock
	OFIX=${OSTREE_FIXTURES:-$TOP/build/ostree-fixtures}
	key=$(cat "$TOP/tests/lib/ostree.sh" "$TOP/tools/updater-sim" | sha256sum | cut -d" " -f1)
	mkdir -p "$(dirname "$OFIX")" || fail "ostree_fixtures: mkdir"
	exec {lock}>"$OFIX.lock"
	flock "$lock"
	if [ "$(cat "$OFIX/.key" 2>/dev/null)" != "$key" ]; then
		ostree_rm_device "$OFIX/device"
		rm -rf "$OFIX"
		# In a subshell: the fixture's server must not replace the caller's.
		(_ostree_build_fixtures "$OFIX") || { exec {lock}>&-; fail "ostree_fixtures: build failed"; }
		echo "$key" >"$OFIX/.key"
	fi
	exec {lock}>&-
	OSTREE_SIGN_HOME=$OFIX/gpg/gnupg
	OSTREE_GPG_KEYRING=$OFIX/gpg/trusted.gpg
	OSTREE_GPG_OTHER_KEYRING=$OFIX/gpg/other.gpg
	export OSTREE_SIGN_HOME OSTREE_GPG_KEYRING OSTREE_GPG_OTHER_KEYRING
	. "$OFIX/commits.sh"
}

_ostree_build_fixtures() {
	local f=$1 v c r t
	mkdir -p "$f/srv" || exit 1
	ostree_gpg_init "$f/gpg"
	ostree_server_init "$f/srv/repo"
	r=$f/srv/repo
	t=$f/tree
	: >"$f/commits.sh"
	for v in 1 2 3 4; do
		ostree_make_tree "$t" $v.0 6.1.0-sim$((v > 1 ? 2 : 1))
		c=$(ostree_server_commit "$r" sim/stable "$t" $v.0) || exit 1
		echo "C$v=$c" >>"$f/commits.sh"
	done
	# The bad commits reuse v4's tree (their version is in the metadata).
	c=$(ostree_server_commit "$r" sim/unsigned "$t" 2.1 none) || exit 1
	echo "CU=$c" >>"$f/commits.sh"
	c=$(ostree_server_commit "$r" sim/badsig "$t" 2.2 "$OSTREE_GPG_OTHER_KEYID") || exit 1
	echo "CB=$c" >>"$f/commits.sh"
	rm -rf "$t/usr/lib/modules"
	c=$(ostree_server_commit "$r" sim/nokernel "$t" 2.3) || exit 1
	echo "CN=$c" >>"$f/commits.sh"
	rm -rf "$t"
	. "$f/commits.sh"
	ostree_server_delta "$r" "$C1" "$C2" >/dev/null
	ostree_server_summary "$r"
	start_httpd "$f/srv"
	trap stop_httpd EXIT
	ostree_make_device "$f/device" "$r" "$URL/repo" sim/stable "$C1"
	stop_httpd
	# Tests only copy the device: without the immutable attribute on its
	# deployment, `make clean` (rm -rf build) can remove it.
	chattr -i "$f"/device/sysroot/ostree/deploy/*/deploy/* 2>/dev/null
	return 0
}

# ostree_set_url DIR URL: the device's updater.conf (ostree.url) and its
# repository's remote now name URL (a restarted test server has a new port).
ostree_set_url() {
	local d=$1 url=$2 repo=$1/sysroot/ostree/repo
	sed -i "s|\\burl = \"[^\"]*\";|url = \"$url\";|" "$d/updater.conf" || fail "ostree_set_url: $d/updater.conf"
	grep -q "url = \"$url\";" "$d/updater.conf" || fail "ostree_set_url: no url in $d/updater.conf"
	ostree --repo="$repo" config set 'remote "origin".url' "$url" || fail "ostree_set_url: $repo"
}

# ostree_clone_device SRC DST URL: DST becomes a copy of the device SRC (made
# by ostree_make_device, e.g. OFIX/device), talking to URL; DST may be an
# existing (empty) mount point. Much faster than making a device: no pull,
# no deploy. The paths that name SRC (the root link, fw_env.config, the
# remote's gpgkeypath) are pointed at DST. (cp does not copy the immutable
# attribute of the factory deployment.)
ostree_clone_device() {
	local src d=$2 url=$3 t
	src=$(readlink -f "$1") && [ -d "$src/sysroot" ] || fail "ostree_clone_device: $1 is not a device"
	mkdir -p "$d" && cp -a "$src/." "$d/" || fail "ostree_clone_device: copy $src to $d"
	d=$(cd "$d" && pwd)
	# (ostree_sim_boot links it relative to DIR; an absolute link names SRC)
	t=$(readlink "$d/root") || fail "ostree_clone_device: $src/root is not a link"
	if [ "${t#/}" != "$t" ]; then
		[ "${t#"$src"/}" != "$t" ] || fail "ostree_clone_device: $src/root is not a link into $src"
		ln -sfn "$d/${t#"$src"/}" "$d/root" || fail "ostree_clone_device: $d/root"
	fi
	[ -d "$d/root/usr" ] || fail "ostree_clone_device: $d/root"
	printf '%s 0x0 0x4000\n%s 0x4000 0x4000\n' "$d/env/uboot.env" "$d/env/uboot.env" >"$d/env/fw_env.config"
	if [ -f "$d/keys/trusted.gpg" ]; then
		ostree --repo="$d/sysroot/ostree/repo" config set 'remote "origin".gpgkeypath' \
			"$d/keys/trusted.gpg" || fail "ostree_clone_device: gpgkeypath"
	fi
	ostree_set_url "$d" "$url"
	# A slowed-down updater (valgrind) must not take itself for a stalled server.
	[ "${SLOW:-1}" = 1 ] || sed -i "s/^server = { timeout = 5;/server = { timeout = $((5 * SLOW));/" "$d/updater.conf"
}

# ostree_upd DIR ARGS...: the updater on device DIR, through ostree_nofreeze.
ostree_upd() {
	local d=$1
	shift
	ostree_nofreeze "$UPDATER" --config="$d/updater.conf" --progress=none "$@"
}

# ostree_entry DIR [2]: the deployment (its directory name, COMMIT.SERIAL)
# that boot/loader/uEnv.txt's default entry (bootargs), or with 2 its rollback
# entry (bootargs2), boots; nothing when there is no such entry.
ostree_entry() {
	local arg dep
	arg=$(_ostree_uenv "$1" "bootargs${2:-}" | tr ' ' '\n' | sed -n 's/^ostree=//p')
	[ -n "$arg" ] || return 0
	dep=$(readlink -f "$1/sysroot$arg") && [ -d "$dep" ] || fail "ostree_entry: ostree=$arg resolves to no deployment"
	basename "$dep"
}

# ostree_booted DIR: the deployment running now (its directory name,
# COMMIT.SERIAL): DIR/root, which ostree_sim_boot links.
ostree_booted() {
	local dep
	dep=$(readlink -f "$1/root") && [ -d "$dep/usr" ] || fail "ostree_booted: $1/root is no deployment"
	basename "$dep"
}

# ostree_deployments DIR: how many deployments the sysroot lists.
ostree_deployments() {
	ostree admin status --sysroot="$1/sysroot" 2>/dev/null | grep -c '^[* ] [^ ]'
}

# ostree_state DIR: everything a failed install must leave alone: the boot
# environment, the deployment list, boot/loader/uEnv.txt, the deployment
# directories and the booted one (DIR/root, which must exist).
ostree_state() {
	local d=$1 dep
	echo "== env"
	env_dump "$d"
	echo "== ostree admin status"
	ostree admin status --sysroot="$d/sysroot" 2>&1
	echo "== uEnv.txt"
	cat "$d/sysroot/boot/loader/uEnv.txt"
	echo "== deployments"
	ls "$d/sysroot/ostree/deploy/${OSTREE_OSNAME:-simos}/deploy"
	echo "== booted"
	dep=$(readlink -f "$d/root") && [ -d "$dep/usr" ] && echo "$dep" || echo "booted deployment missing"
}
ostree_snapshot() { ostree_state "$1" >"$1/snap.ostree"; }
ostree_assert_untouched() {
	ostree_state "$1" | diff -u "$1/snap.ostree" - >&2 || fail "${2:-device} changed (boot state or deployments)"
}

# ostree_plain_pull DIR REV: `ostree pull --disable-static-deltas origin REV`
# into a throwaway copy of device DIR's repository as it is now (the baseline
# for what an update should download; count it in the server's log). The copy
# hard-links the objects (never written again) and is removed afterwards: the
# device's repository does not change.
ostree_plain_pull() {
	local copy=$1/plain-pull-repo out
	rm -rf "$copy"
	if ! cp -al "$1/sysroot/ostree/repo" "$copy" 2>/dev/null; then
		rm -rf "$copy"
		cp -a "$1/sysroot/ostree/repo" "$copy" || fail "ostree_plain_pull: copy $1's repository"
	fi
	out=$(ostree --repo="$copy" pull --disable-static-deltas origin "$2" 2>&1) ||
		{ printf '%s\n' "$out" >&2; rm -rf "$copy"; fail "ostree_plain_pull: pull $2"; }
	rm -rf "$copy"
}

# ostree_assert_error OUT PATTERN: assert_one_error (common.sh), and every
# line of OUT is an "updater: " line: the failure is one line, not a message
# with libostree's or gpg's text continued on further lines.
ostree_assert_error() {
	assert_one_error "$1" "$2"
	! grep -v '^updater: ' "$1" >/dev/null || { cat "$1" >&2; fail "$1 has lines that are not 'updater: ' lines"; }
}

# ostree_log_lines LOG: requests logged so far (0 without a log).
ostree_log_lines() { [ -f "$1" ] && wc -l <"$1" | tr -d ' ' || echo 0; }
# ostree_log_bytes LOG [AFTER_LINE]: body bytes the server sent (httpd.py
# --log) in the requests after line AFTER_LINE (default 0: all).
ostree_log_bytes() {
	tail -n +"$((${2:-0} + 1))" "$1" | sed -n 's/.* sent=\([0-9]*\).*/\1/p' | awk '{ n += $1 } END { print n + 0 }'
}

# ostree_test_device [--srv DIR] [HTTPD-ARG...]: the start most ostree
# integration tests share: the fixtures, their server on 127.0.0.1 (URL;
# serving DIR, by default the fixture server $OFIX/srv, started with the
# HTTPD-ARGs: --fault, --log), D=$WORK/dev cloned from the fixture device with
# the server as its remote; both go at exit.
ostree_test_device() {
	local srv
	ostree_fixtures
	srv=$OFIX/srv
	[ "${1:-}" != --srv ] || { srv=$2; shift 2; }
	D=$WORK/dev
	start_httpd "$srv" "$@"
	trap 'stop_httpd; ostree_rm_device "$D"' EXIT
	ostree_clone_device "$OFIX/device" "$D" "$URL/repo"
}

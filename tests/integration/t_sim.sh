# tools/updater-sim, the simulated device of docs/try-it.md: a dual-bank
# device made from an image, updated over HTTP, rebooted on trial and
# confirmed; a release that never confirms falls back after its trial boots;
# the tool's U-Boot plays docs/boot-contract.md exactly (the environment is
# checked after every power-on, bootlimit 0..2, and the cases where U-Boot
# writes nothing); an ostree device made from a repository, updated, rebooted
# into the new deployment, confirmed, and falling back. Images, keys and the
# HTTP server come from tests/lib/common.sh; the device only from the tool.
. "$TOP/tests/lib/common.sh"
. "$TOP/tests/lib/ostree.sh"
set -u
SIM=$TOP/tools/updater-sim
# Under valgrind (TEST_SLOWDOWN) the stall timeout of the tool's config scales, as
# tests/lib/ostree.sh does for its devices: a slow updater is not a stalled server.
slow_conf() { [ "$SLOW" = 1 ] || sed -i "s/timeout = 5;/timeout = $((5 * SLOW));/" "$1/updater.conf"; }
export UPDATER
fixtures
mkdir -p "$WORK/www"
cp "$FIX"/v*.upd "$WORK/www/"
start_httpd "$WORK/www"
trap 'stop_httpd; ostree_gpg_stop; [ -d "$WORK/odev" ] && "$SIM" remove "$WORK/odev"' EXIT

# env5 DIR: boot_slot/upgrade_available/bootcount/bootlimit/rollback
env5() {
	echo "$(envvar "$1" boot_slot)/$(envvar "$1" upgrade_available)/$(envvar "$1" bootcount)/$(envvar "$1" bootlimit)/$(envvar "$1" rollback)"
}
state_of() { upd "$1" status --json | "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["state"])'; }
version_of() { sed -n 's/^VERSION_ID="*\([^"]*\)"*$/\1/p' "$1/etc/os-release"; }

# --- usage and errors ---------------------------------------------------------------
expect_exit 0 "$WORK/help" "$SIM" --help
assert_grep '^usage: updater-sim COMMAND DIR' "$WORK/help"
for c in create reboot fail-boot show updater remove; do assert_grep "^  $c DIR" "$WORK/help"; done
expect_exit 2 "$WORK/bad" "$SIM" frobnicate
assert_grep "^updater-sim: unknown command 'frobnicate'" "$WORK/bad"
expect_exit 2 "$WORK/bad" "$SIM" create "$WORK/x" --backend=dualbank
assert_grep '^updater-sim: create: --backend=dualbank needs --image IMG' "$WORK/bad"
expect_exit 2 "$WORK/bad" "$SIM" create "$WORK/x" --backend=dualbank --image "$FIX/v1.0.img" \
	--key "$FIX/release.pub.pem" --no-gpg-verify
assert_grep '^updater-sim: create: --no-gpg-verify is an option of --backend=ostree' "$WORK/bad"
expect_exit 1 "$WORK/bad" "$SIM" reboot "$WORK"
assert_grep "^updater-sim: $WORK: not a device made by updater-sim" "$WORK/bad"
head -c 1M /dev/zero >"$WORK/blank.img"
expect_exit 1 "$WORK/bad" "$SIM" create "$WORK/x" --backend=dualbank --image "$WORK/blank.img" --key "$FIX/release.pub.pem"
assert_grep 'only ext2/ext3/ext4 images are supported' "$WORK/bad"
expect_exit 1 "$WORK/bad" "$SIM" create "$WORK/x" --backend=dualbank --image "$FIX/v1.0.img" --key "$FIX/release.pem"
assert_grep 'not a PEM public key' "$WORK/bad"
[ ! -e "$WORK/x" ] || fail "a failed create left $WORK/x behind"

# --- dual-bank: create -----------------------------------------------------------------
D=$WORK/dev
expect_exit 0 "$WORK/create" "$SIM" create "$D" --backend=dualbank --image "$FIX/v1.0.img" \
	--key "$FIX/release.pub.pem" --slot-size 16M --bootlimit 3
assert_grep "created dualbank device $D: booted slot A, release 1.0" "$WORK/create"
slow_conf "$D"
assert_eq "$(stat -c %a "$D/data/updater")" 700 "state_dir mode"
assert_eq "$(stat -c %s "$D/slots/B.img")" $((16 << 20)) "slot B size"
assert_eq "$(slot_sha "$D" A "$(stat -c %s "$FIX/v1.0.img")")" "$(file_sha "$FIX/v1.0.img")" "slot A holds the image"
assert_eq "$(booted_slot "$D")" A "booted slot after create"
assert_eq "$(version_of "$D")" 1.0 "os-release after create"
assert_eq "$(env5 "$D")" A/0/0/3/0 "environment after create (updater init)"
# (the five variables and apply_staged=0: docs/boot-contract.md)
[ "$(fw_printenv -c "$D/env/fw_env.config" 2>/dev/null | wc -l)" = 6 ] || fail "init wrote more than the contract"
assert_eq "$(fw_printenv -c "$D/env/fw_env.config" -n apply_staged 2>/dev/null)" 0 "apply_staged after init"
grep -c '0x4000$' "$D/env/fw_env.config" | grep -qx 2 || fail "fw_env.config: not two copies"
assert_eq "$(state_of "$D")" idle "status after create"
expect_exit 1 "$WORK/bad" "$SIM" create "$D" --backend=dualbank --image "$FIX/v1.0.img" --key "$FIX/release.pub.pem"
assert_grep 'directory is not empty' "$WORK/bad"

# --- dual-bank: install over HTTP, reboot on trial, mark-good --------------------------
expect_exit 0 "$WORK/install" "$SIM" updater "$D" --progress=none install "$URL/v2.0.upd"
assert_eq "$(env5 "$D")" B/1/0/3/0 "environment after install"
expect_exit 0 "$WORK/reboot" "$SIM" reboot "$D"
assert_grep '^U-Boot: boot_slot=B on trial: attempt 1 of 3' "$WORK/reboot"
assert_grep '^booted: slot B, release 2.0$' "$WORK/reboot"
assert_grep '^boot service: updater boot' "$WORK/reboot"
assert_eq "$(booted_slot "$D")" B "booted slot after reboot"
assert_eq "$(version_of "$D")" 2.0 "os-release after reboot"
assert_eq "$(env5 "$D")" B/1/1/3/0 "environment after the first trial boot"
assert_eq "$(state_of "$D")" trial "status after reboot (the boot service ran)"
upd "$D" mark-good || fail "mark-good"
assert_eq "$(env5 "$D")" B/0/0/3/0 "environment after mark-good"
assert_eq "$(state_of "$D")" committed "status after mark-good"
# A normal boot counts nothing and writes nothing (not even the same values).
sha_before=$(file_sha "$D/env/uboot.env")
expect_exit 0 "$WORK/reboot" "$SIM" reboot "$D"
assert_grep 'no trial: nothing counted, nothing written' "$WORK/reboot"
assert_eq "$(file_sha "$D/env/uboot.env")" "$sha_before" "a normal boot wrote the environment"
assert_eq "$(booted_slot "$D")" B "booted slot after a normal boot"

# --- dual-bank: a release that never confirms falls back ------------------------------
expect_exit 0 "$WORK/install" "$SIM" updater "$D" --progress=none install "$URL/v3.0.upd"
assert_eq "$(env5 "$D")" A/1/0/3/0 "environment after installing 3.0"
for n in 1 2 3; do
	expect_exit 0 "$WORK/fail$n" "$SIM" fail-boot "$D"
	assert_grep "^U-Boot: boot_slot=A on trial: attempt $n of 3" "$WORK/fail$n"
	assert_grep "hangs before its boot service: nothing confirms it (attempt $n of 3)" "$WORK/fail$n"
	! grep -q 'boot service: updater boot' "$WORK/fail$n" || fail "fail-boot $n ran the boot service"
	assert_eq "$(booted_slot "$D")/$(version_of "$D")" A/3.0 "booted system at failed boot $n"
	assert_eq "$(env5 "$D")" "A/1/$n/3/0" "environment after failed boot $n"
done
expect_exit 0 "$WORK/fail4" "$SIM" fail-boot "$D"
assert_grep '^U-Boot: boot_slot=A on trial: attempt 4 > bootlimit 3: the trial failed, falling back' "$WORK/fail4"
assert_grep '^booted: slot B, release 2.0 (fallback)$' "$WORK/fail4"
assert_grep '^boot service: updater boot' "$WORK/fail4"
assert_eq "$(booted_slot "$D")/$(version_of "$D")" B/2.0 "booted system after the fallback"
# U-Boot saved A/0/4/3/1; the boot service (updater boot) then recorded the
# fallback and pointed the environment at the running slot.
assert_eq "$(env5 "$D")" B/0/0/3/0 "environment after the fallback and updater boot"
assert_eq "$(state_of "$D")" rolled-back "status after the fallback"

# show: the booted system, the five contract variables, the next power-on, status.
expect_exit 0 "$WORK/show" "$SIM" show "$D"
assert_grep '^booted:  slot B, release 2.0$' "$WORK/show"
for v in boot_slot=B upgrade_available=0 bootcount=0 bootlimit=3 rollback=0; do
	assert_grep "^  $v\$" "$WORK/show"
done
assert_grep '^next power-on: .*boots slot B$' "$WORK/show"
assert_grep '^  state: *rolled-back' "$WORK/show"

# --- the tool's U-Boot against the contract, step by step --------------------------------
# setenv DIR NAME=VALUE...: the environment as a test wants it
setenv() {
	local d=$1
	shift
	printf '%s\n' "$@" >"$WORK/env.script"
	fw_setenv -c "$d/env/fw_env.config" -s "$WORK/env.script" || fail "fw_setenv $*"
}
# boots DIR EXPECT_SLOT EXPECT_ENV5 WHAT: one power-on without the boot service
boots() {
	"$SIM" reboot --no-boot-service "$1" >"$WORK/boot.out" 2>&1 || { cat "$WORK/boot.out" >&2; fail "reboot ($4)"; }
	assert_eq "$(booted_slot "$1")" "$2" "booted slot ($4)"
	assert_eq "$(env5 "$1")" "$3" "environment ($4)"
}
# Slot A holds 3.0, slot B 2.0: both boot.
for bl in 0 1 2; do
	setenv "$D" boot_slot=B upgrade_available=1 bootcount=0 bootlimit=$bl rollback=0
	for n in $(seq 1 "$bl"); do
		boots "$D" B "B/1/$n/$bl/0" "bootlimit $bl, trial boot $n"
		assert_grep "attempt $n of $bl" "$WORK/boot.out"
	done
	boots "$D" A "B/0/$((bl + 1))/$bl/1" "bootlimit $bl, boot $((bl + 1)) falls back"
	assert_grep "attempt $((bl + 1)) > bootlimit $bl" "$WORK/boot.out"
	# rollback=1 stays until the updater has seen it: the fallback again, nothing written.
	sha_before=$(file_sha "$D/env/uboot.env")
	boots "$D" A "B/0/$((bl + 1))/$bl/1" "bootlimit $bl, a boot with rollback=1"
	assert_eq "$(file_sha "$D/env/uboot.env")" "$sha_before" "a boot with rollback=1 wrote the environment"
done
# A bootcount the script's lookup table cannot count (leading zero) ends the trial.
setenv "$D" boot_slot=A upgrade_available=1 bootcount=05 bootlimit=3 rollback=0
boots "$D" B "A/0/05/3/1" "an uncountable bootcount"
setenv "$D" boot_slot=A upgrade_available=0 bootcount=0 bootlimit=3 rollback=0
sha_before=$(file_sha "$D/env/uboot.env")
boots "$D" A "A/0/0/3/0" "a normal boot of A"
assert_eq "$(file_sha "$D/env/uboot.env")" "$sha_before" "a normal boot of A wrote the environment"
# No usable boot state (boot_slot not A/B; then no valid copy at all): the
# factory slot A, nothing counted, nothing written.
setenv "$D" boot_slot=C upgrade_available=1 bootcount=0 bootlimit=3 rollback=0
sha_before=$(file_sha "$D/env/uboot.env")
boots "$D" A "C/1/0/3/0" "boot_slot=C"
assert_grep 'no valid boot state: booting the factory system' "$WORK/boot.out"
assert_eq "$(file_sha "$D/env/uboot.env")" "$sha_before" "U-Boot wrote an environment without a boot state"
dd if=/dev/zero of="$D/env/uboot.env" bs=1 count=64 seek=8 conv=notrunc status=none
dd if=/dev/zero of="$D/env/uboot.env" bs=1 count=64 seek=$((0x4000 + 8)) conv=notrunc status=none
sha_before=$(file_sha "$D/env/uboot.env")
"$SIM" reboot --no-boot-service "$D" >"$WORK/boot.out" 2>&1 || { cat "$WORK/boot.out" >&2; fail "reboot (corrupt environment)"; }
assert_grep 'no valid boot state: booting the factory system' "$WORK/boot.out"
assert_eq "$(booted_slot "$D")" A "booted slot (corrupt environment)"
assert_eq "$(file_sha "$D/env/uboot.env")" "$sha_before" "U-Boot wrote a corrupt environment"
expect_exit 0 "$WORK/show" "$SIM" show "$D"
assert_grep 'boot environment (env/uboot.env): no valid copy' "$WORK/show"

# --- ostree: create from a repository, install, reboot into the new deployment ----------
# Commits carry updater.compatible (the device requires it to equal its compatible).
OSTREE_SHARED_FILES=20
export OSTREE_SHARED_FILES
ostree_gpg_init "$WORK/gpg"
R=$WORK/www/repo
ostree --repo="$R" init --mode=archive || fail "ostree init"
commit() {
	ostree_make_tree "$WORK/tree" "$1" "6.1.0-sim$2"
	ostree --repo="$R" commit --branch=sim/stable --tree=dir="$WORK/tree" --subject="release $1" \
		--add-metadata-string=version="$1" --add-metadata-string=updater.compatible=sim-board \
		--owner-uid=0 --owner-gid=0 --gpg-sign="$OSTREE_GPG_KEYID" --gpg-homedir="$OSTREE_SIGN_HOME" ||
		fail "commit $1"
	ostree --repo="$R" summary -u --gpg-sign="$OSTREE_GPG_KEYID" --gpg-homedir="$OSTREE_SIGN_HOME" || fail "summary"
	ostree_gpg_stop
}
C1=$(commit 1.0 1) || fail "commit 1.0"
# The factory pull is verified with the keyring: a key that did not sign it fails, leaving nothing.
expect_exit 1 "$WORK/bad" "$SIM" create "$WORK/x" --backend=ostree --repo "$R" --ref sim/stable \
	--gpg-keyring "$OSTREE_GPG_OTHER_KEYRING"
assert_grep '^updater-sim: create: pulling sim/stable from .*: .*signature' "$WORK/bad"
[ ! -e "$WORK/x" ] || fail "a failed ostree create left $WORK/x behind"
# An unsigned commit: what to do, not libostree's advice to edit the remote.
U=$WORK/unsigned
ostree --repo="$U" init --mode=archive && ostree --repo="$U" pull-local "$R" sim/stable >/dev/null &&
	ostree --repo="$U" commit --branch=sim/stable --tree=ref="$C1" --owner-uid=0 --owner-gid=0 \
		--add-metadata-string=version=1.1 >/dev/null || fail "an unsigned commit"
expect_exit 1 "$WORK/bad" "$SIM" create "$WORK/x" --backend=ostree --repo "$U" --ref sim/stable \
	--gpg-keyring "$OSTREE_GPG_KEYRING"
assert_grep 'no signatures found: the commit is unsigned; sign it .* or create a device for tests with --no-gpg-verify' "$WORK/bad"
! grep -q 'gpg-verify=false' "$WORK/bad" || { cat "$WORK/bad" >&2; fail "libostree's gpg-verify=false advice repeated"; }
[ ! -e "$WORK/x" ] || fail "a failed ostree create left $WORK/x behind"
expect_exit 2 "$WORK/bad" "$SIM" create "$WORK/x" --backend=ostree --repo "$R" --ref sim/stable
assert_grep 'needs --gpg-keyring FILE (or --no-gpg-verify, for tests only)' "$WORK/bad"
# --no-gpg-verify: verification off in the remote and the config; the URL defaults to the repository.
expect_exit 0 "$WORK/create" "$SIM" create "$WORK/nv" --backend=ostree --repo "$R" --ref sim/stable --no-gpg-verify
grep -q 'gpg_verify = false;' "$WORK/nv/updater.conf" || fail "--no-gpg-verify: gpg_verify not false"
grep -q "url = \"file://$R\";" "$WORK/nv/updater.conf" || fail "no --url: url is not file://REPO"
expect_exit 10 "$WORK/check" "$SIM" updater "$WORK/nv" check
"$SIM" remove "$WORK/nv" || fail "remove $WORK/nv"
O=$WORK/odev
expect_exit 0 "$WORK/create" "$SIM" create "$O" --backend=ostree --repo "$R" --ref sim/stable \
	--gpg-keyring "$OSTREE_GPG_KEYRING" --url "$URL/repo"
assert_grep "created ostree device $O: booted deployment ${C1:0:12}.0, release 1.0" "$WORK/create"
slow_conf "$O"
assert_eq "$(basename "$(readlink -f "$O/root")")" "$C1.0" "the root link names the factory deployment"
assert_eq "$(stat -c %a "$O/data/updater")" 700 "state_dir mode (ostree)"
assert_eq "$(env5 "$O")" "${C1:0:12}.0/0/0/3/0" "environment after create (ostree)"
grep -q "url = \"$URL/repo\";" "$O/updater.conf" || fail "updater.conf: ostree.url"
assert_eq "$(state_of "$O")" idle "status after create (ostree)"
C2=$(commit 2.0 2) || fail "commit 2.0"
# --commit: a device flashed with an older commit of the ref, which then sees the head as an update.
expect_exit 0 "$WORK/create" "$SIM" create "$WORK/old" --backend=ostree --repo "$R" --ref sim/stable \
	--commit "$C1" --gpg-keyring "$OSTREE_GPG_KEYRING" --url "$URL/repo"
assert_eq "$(basename "$(readlink -f "$WORK/old/root")")" "$C1.0" "--commit: the booted deployment"
expect_exit 0 "$WORK/check" "$SIM" updater "$WORK/old" check
assert_grep 'version 2.0' "$WORK/check"
"$SIM" remove "$WORK/old" || fail "remove $WORK/old"
expect_exit 0 "$WORK/install" "$SIM" updater "$O" --progress=none install
assert_eq "$(env5 "$O")" "${C2:0:12}.0/1/0/3/0" "environment after install (ostree)"
assert_eq "$(basename "$(readlink -f "$O/root")")" "$C1.0" "the install changed the booted root"
assert_eq "$(state_of "$O")" activated "status after install: the new release is not booted yet"
expect_exit 0 "$WORK/reboot" "$SIM" reboot "$O"
assert_grep "^U-Boot: boot_slot=${C2:0:12}.0 on trial: attempt 1 of 3" "$WORK/reboot"
assert_grep "^booted: deployment ${C2:0:12}.0, release 2.0$" "$WORK/reboot"
assert_eq "$(basename "$(readlink -f "$O/root")")" "$C2.0" "the root link names the new deployment"
assert_eq "$(basename "$(ostree_booted_deployment "$O")")" "$C2.0" "cmdline's ostree= names the new deployment"
assert_eq "$(version_of "$O")" 2.0 "os-release after reboot (ostree)"
assert_eq "$(env5 "$O")" "${C2:0:12}.0/1/1/3/0" "environment after the trial boot (ostree)"
assert_eq "$(state_of "$O")" trial "status after reboot (ostree)"
"$SIM" updater "$O" mark-good || fail "mark-good (ostree)"
assert_eq "$(env5 "$O")" "${C2:0:12}.0/0/0/3/0" "environment after mark-good (ostree)"
assert_eq "$(state_of "$O")" committed "status after mark-good (ostree)"

# A release that never confirms: the rollback entry (2.0) after three attempts.
C3=$(commit 3.0 2) || fail "commit 3.0"
"$SIM" updater "$O" --progress=none -q install || fail "install 3.0 (ostree)"
for n in 1 2 3; do
	expect_exit 0 "$WORK/ofail$n" "$SIM" fail-boot "$O"
	assert_grep "attempt $n of 3" "$WORK/ofail$n"
	assert_eq "$(basename "$(readlink -f "$O/root")")" "$C3.0" "booted at failed boot $n (ostree)"
done
expect_exit 0 "$WORK/ofail4" "$SIM" fail-boot "$O"
assert_grep 'falling back' "$WORK/ofail4"
assert_eq "$(basename "$(readlink -f "$O/root")")" "$C2.0" "booted after the fallback (ostree)"
assert_eq "$(env5 "$O")" "${C2:0:12}.0/0/0/3/0" "environment after the fallback (ostree)"
assert_eq "$(state_of "$O")" rolled-back "status after the fallback (ostree)"
expect_exit 0 "$WORK/oshow" "$SIM" show "$O"
assert_grep "^  boot_slot=${C2:0:12}.0\$" "$WORK/oshow"
assert_grep "^  default: *deployment ${C2:0:12}.0, release 2.0" "$WORK/oshow"
"$SIM" remove "$O" || fail "remove"
[ ! -e "$O" ] || fail "remove left $O"
exit 0

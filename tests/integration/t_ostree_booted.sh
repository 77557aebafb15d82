# The booted deployment on a device whose ostree.root names no deployment
# (unset: the host's "/"): found from the ostree= argument only while the
# boot.N link it names is the one this boot went through. Right after an
# install (a deploy renumbers the boot serials, so OS/BOOTCSUM/SERIAL now
# names the new deployment) status still shows the running one and mark-good
# confirms nothing; once the link is replaced after the boot, every command
# that needs the booted deployment refuses, naming ostree.root, never guesses.
. "$TOP/tests/lib/common.sh"
. "$TOP/tests/lib/ostree.sh"
set -u
ostree_test_device
ID1=${C1:0:12}.0
sed -i 's/ root = "root";//' "$D/updater.conf"
grep -Eq '(^|[ ;{])root = ' "$D/updater.conf" && fail "ostree.root still set in $D/updater.conf"

booted_id() {
	ostree_upd "$D" status --json >"$WORK/$1.json" || { cat "$WORK/$1.json" >&2; fail "status ($1)"; }
	"$PYTHON" -c 'import json,sys; print(json.load(open(sys.argv[1]))["booted"]["slot"])' "$WORK/$1.json"
}

assert_eq "$(booted_id s0)" "$ID1" "booted before the install"
expect_exit 0 "$WORK/install" ostree_upd "$D" install "$C2"
ID2=$(envvar "$D" boot_slot)
case $ID2 in "${C2:0:12}".[0-9]*) ;; *) fail "boot_slot after install is '$ID2'" ;; esac
# Same boot serial as the factory deployment had: the argument's numbers now
# name the new one.
grep -q "ostree=/ostree/boot.[01]/simos/[0-9a-f]*/0" "$D/cmdline" || fail "cmdline: $(cat "$D/cmdline")"
assert_eq "$(booted_id s1)" "$ID1" "booted right after the install (no reboot)"
assert_eq "$(ostree_upd "$D" status | sed -n 's/^booted: *//p' | cut -d' ' -f1)" "$ID1" "status text"
expect_exit 0 "$WORK/good0" ostree_upd "$D" mark-good
assert_grep "nothing to confirm: $ID1" "$WORK/good0"
assert_eq "$(envvar "$D" boot_slot)/$(envvar "$D" upgrade_available)" "$ID2/1" "env after a refused mark-good"

ostree_sim_boot "$D" >/dev/null
ostree_upd "$D" boot || fail "updater boot on the trial"
assert_eq "$(booted_id s2)" "$ID2" "booted after the reboot"
expect_exit 0 "$WORK/good" ostree_upd "$D" mark-good
assert_eq "$(envvar "$D" upgrade_available)" 0 "mark-good on the trial boot"
assert_eq "$(booted_id s3)" "$ID2" "booted after mark-good (its own write replaced the links)"

# v3 has v2's kernel: after its install the argument's OS/BOOTCSUM/SERIAL
# (serial 0 of that kernel) names v3, the one that did not boot.
expect_exit 0 "$WORK/install3" ostree_upd "$D" install "$C3"
ID3=$(envvar "$D" boot_slot)
case $ID3 in "${C3:0:12}".[0-9]*) ;; *) fail "boot_slot after installing v3 is '$ID3'" ;; esac
assert_eq "$(booted_id s4)" "$ID2" "booted right after installing v3 (same kernel)"
expect_exit 0 "$WORK/good3" ostree_upd "$D" mark-good
assert_grep "nothing to confirm: $ID2" "$WORK/good3"
assert_eq "$(envvar "$D" boot_slot)/$(envvar "$D" upgrade_available)" "$ID3/1" "env after a refused mark-good (v3)"

# The boot.N link the argument names replaced after this boot: no telling.
arg=$(tr ' ' '\n' <"$D/cmdline" | sed -n 's/^ostree=//p')
sleep 0.05
touch -h "$D/sysroot/ostree/$(echo "$arg" | cut -d/ -f3)"
expect_exit 1 "$WORK/status_stale" ostree_upd "$D" status
assert_grep "cannot tell" "$WORK/status_stale"
assert_grep "ostree.root" "$WORK/status_stale"
expect_exit 1 "$WORK/good_stale" ostree_upd "$D" mark-good
assert_grep "ostree.root" "$WORK/good_stale"

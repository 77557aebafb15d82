# boot.cmd: the U-Boot side of the boot-state contract (docs/boot-contract.md,
# docs/boot.md). Built to boot.scr with `mkimage -T script`; U-Boot's distro
# boot finds it on the first partition of the virtio disk (dual-bank: the boot
# partition; ostree: the sysroot, as /boot/boot.scr) and sources it.
#
# This U-Boot (Debian's qemu-x86) has no environment storage of its own, no
# redundant-environment support and no setexpr. The boot state is a
# libubootenv redundant environment, two copies of 0x4000 bytes at byte
# 0x8000 and 0xc000 of virtio 0 (sectors 0x40 and 0x60); per copy:
# CRC32 (4) | flags (1) | data (0x3ffb), the CRC covering the data only.
# We read both, take the valid newer one, and save to the *other* copy with
# flags + 1, so a power cut during our write leaves the previous state valid.
#
# Temporary values are hush locals (name=value, no setenv): they never reach
# the environment and survive `env import -d`. All numbers are hex.
#
# Memory (away from kernel 0x1000000, script 0x7000000, initrd 0x8000000):
#   0x6000000 copy 0     0x6010000 copy 1     0x6020000 import scratch
#   0x6030000 new copy   0x6050000 read-back  0x6060000 the chosen flags byte
#   0x6800000 export: `env export` clears CONFIG_ENV_SIZE bytes there, far more
#             than -s asks for, so nothing of ours may live above it
#   0x6100000 ostree's uEnv.txt (loaded after the save)
# Partitions: dual-bank 1 boot, 2 slot A, 3 slot B, 4 data; ostree 1 sysroot;
# single-copy 1 boot (kernel and ramdisk, never written by an update), 2 root,
# 3 data. The backend is told by the disk: libostree's /boot/loader/uEnv.txt on
# partition 1 means ostree, a file /updater-singlecopy there single-copy.

echo "bootscript: start (updater boot.cmd)"
ub_ostree=0
if test -e virtio 0:1 /boot/loader/uEnv.txt; then ub_ostree=1; fi
ub_singlecopy=0
if test -e virtio 0:1 /updater-singlecopy; then ub_singlecopy=1; fi

# ---- read both copies ----------------------------------------------------
if virtio read 0x6000000 0x40 0x20 && virtio read 0x6010000 0x60 0x20; then
	ub_read=1
else
	echo "bootscript: cannot read the environment copies from virtio 0"
	ub_read=0
fi

# A copy is valid when its CRC matches its data: rebuild it as CRC | data
# (the CRC copied over the flags byte, in a scratch area: the copy overlaps)
# and let `env import -c` check it; importing only the absent variable
# ub_probe changes nothing else.
ub_valid0=0
ub_valid1=0
if test ${ub_read} = 1; then
	cp.b 0x6000000 0x6020000 0x4000
	cp.b 0x6000000 0x6020001 4
	if env import -c 0x6020001 0x3fff ub_probe; then ub_valid0=1; fi
	cp.b 0x6010000 0x6020000 0x4000
	cp.b 0x6010000 0x6020001 4
	if env import -c 0x6020001 0x3fff ub_probe; then ub_valid1=1; fi
fi

# The newer valid copy: higher flags byte, except that 00 beats ff; tie: copy 0.
ub_cur=none
if test ${ub_valid0} = 1 && test ${ub_valid1} = 1; then
	ub_cur=0
	if itest.b *0x6000004 == 0xff && itest.b *0x6010004 == 0x00; then
		ub_cur=1
	elif itest.b *0x6000004 == 0x00 && itest.b *0x6010004 == 0xff; then
		ub_cur=0
	elif itest.b *0x6010004 > *0x6000004; then
		ub_cur=1
	fi
elif test ${ub_valid0} = 1; then
	ub_cur=0
elif test ${ub_valid1} = 1; then
	ub_cur=1
fi

# Import the chosen copy alone (-d: U-Boot's built-in defaults go, so what we
# save later is exactly the stored environment with our changes). ub_wsec is
# where a save goes (the other copy); ub_flag the chosen copy's flags byte.
ub_env=0
if test ${ub_cur} = 0; then
	cp.b 0x6000000 0x6020000 0x4000
	cp.b 0x6000000 0x6020001 4
	cp.b 0x6000004 0x6060000 1
	ub_wsec=0x60
	if env import -d -c 0x6020001 0x3fff; then ub_env=1; fi
elif test ${ub_cur} = 1; then
	cp.b 0x6010000 0x6020000 0x4000
	cp.b 0x6010000 0x6020001 4
	cp.b 0x6010004 0x6060000 1
	ub_wsec=0x40
	if env import -d -c 0x6020001 0x3fff; then ub_env=1; fi
fi
echo "bootscript: copy 0 valid=${ub_valid0}, copy 1 valid=${ub_valid1}, using copy ${ub_cur}"

# ---- the contract ----------------------------------------------------------
ub_ok=0
if test ${ub_env} = 1; then
	# dual-bank: A or B; ostree: a deployment id, never empty
	if test "${boot_slot}" = A || test "${boot_slot}" = B; then ub_ok=1; fi
	if test ${ub_ostree} = 1 && test -n "${boot_slot}"; then ub_ok=1; fi
	# single-copy: root, or recovery (the ramdisk's recovery mode)
	if test ${ub_singlecopy} = 1; then
		ub_ok=0
		if test "${boot_slot}" = root || test "${boot_slot}" = recovery; then ub_ok=1; fi
	fi
	if test -z "${upgrade_available}" || test -z "${bootcount}" || test -z "${bootlimit}" || test -z "${rollback}"; then
		ub_ok=0
	fi
fi

ub_save=0
ub_fallback=0
if test ${ub_ok} = 0; then
	# No valid copy, or no usable boot state in it: boot the factory system,
	# count nothing, write nothing. `updater init` repairs the environment.
	echo "bootscript: no valid boot state: booting the factory system (slot A / ostree default), nothing counted"
	ub_slot=A
else
	echo "bootscript: boot_slot=${boot_slot} upgrade_available=${upgrade_available} bootcount=${bootcount} bootlimit=${bootlimit} rollback=${rollback}"
	ub_slot=${boot_slot}
	if test "${rollback}" = 1; then
		echo "bootscript: rollback=1: the trial failed earlier, booting the fallback"
		ub_fallback=1
	elif test "${upgrade_available}" = 1; then
		# bootcount + 1 without setexpr: walk 0..99 remembering the previous
		# value. A count outside 0..98 (bootlimit is 1..99) cannot be counted
		# and ends the trial like a spent one.
		ub_next=
		ub_prev=x
		for u in 0 1 2 3 4 5 6 7 8 9; do
			if test "${bootcount}" = "${ub_prev}"; then ub_next=${u}; fi
			ub_prev=${u}
		done
		for t in 1 2 3 4 5 6 7 8 9; do
			for u in 0 1 2 3 4 5 6 7 8 9; do
				if test "${bootcount}" = "${ub_prev}"; then ub_next=${t}${u}; fi
				ub_prev=${t}${u}
			done
		done
		if test -z "${ub_next}"; then
			echo "bootscript: bootcount=${bootcount} cannot be counted further: trial over"
			ub_over=1
		else
			setenv bootcount ${ub_next}
			# decimal digits read as hex keep their order, so itest compares them right
			ub_over=0
			if itest ${bootcount} > ${bootlimit}; then ub_over=1; fi
		fi
		if test ${ub_over} = 1; then
			echo "bootscript: trial boot ${bootcount} > bootlimit ${bootlimit}: falling back"
			setenv rollback 1
			setenv upgrade_available 0
			ub_fallback=1
		else
			echo "bootscript: trial boot ${bootcount} of ${bootlimit}"
		fi
		ub_save=1
	fi
fi

# ---- save (before the kernel starts) ---------------------------------------
if test ${ub_save} = 1; then
	# new copy = CRC | flags+1 | data, written over the older copy
	env export -c -s 0x3fff 0x6800000
	cp.b 0x6800000 0x6030000 4
	cp.b 0x6800004 0x6030005 0x3ffb
	# flags + 1 without setexpr: walk 00..ff remembering the previous value
	# (ff wraps to 00, which counts as newer than ff)
	ub_prev=ff
	for h in 0 1 2 3 4 5 6 7 8 9 a b c d e f; do
		for l in 0 1 2 3 4 5 6 7 8 9 a b c d e f; do
			if itest.b *0x6060000 == 0x${ub_prev}; then mw.b 0x6030004 0x${h}${l}; fi
			ub_prev=${h}${l}
		done
	done
	ub_saved=0
	if virtio write 0x6030000 ${ub_wsec} 0x20 && virtio read 0x6050000 ${ub_wsec} 0x20; then
		if cmp.b 0x6030000 0x6050000 0x4000; then ub_saved=1; fi
	fi
	if test ${ub_saved} = 1; then
		echo "bootscript: saved bootcount=${bootcount} upgrade_available=${upgrade_available} rollback=${rollback} to sector ${ub_wsec}"
	else
		# Never start a trial that was not counted: boot the old system.
		echo "bootscript: could not save the boot state: booting the fallback without a trial"
		ub_fallback=1
	fi
fi

# ---- boot ------------------------------------------------------------------
ub_args="console=ttyS0 rootwait=10 panic=1 printk.time=1"
# A staged update waits (apply_staged=1, docs/boot-contract.md): the
# ramdisk runs `updater apply-staged` when its command line says so.
if test ${ub_ok} = 1 && test "${apply_staged}" = 1; then
	echo "bootscript: apply_staged=1: the ramdisk applies the staged update"
	ub_args="${ub_args} updater.apply_staged=1"
fi
if test ${ub_ostree} = 1; then
	# libostree's entries: kernel_image/ramdisk_image/bootargs for the default
	# deployment, *2 for the rollback one. Imported after the save, so they
	# are never stored in the environment.
	if ext4load virtio 0:1 0x6100000 /boot/loader/uEnv.txt && env import -t 0x6100000 ${filesize}; then
		ub_kernel=${kernel_image}
		ub_initrd=${ramdisk_image}
		ub_bootargs=${bootargs}
		ub_entry=default
		if test ${ub_fallback} = 1; then
			if test -n "${kernel_image2}"; then
				ub_kernel=${kernel_image2}
				ub_initrd=${ramdisk_image2}
				ub_bootargs=${bootargs2}
				ub_entry=rollback
			else
				echo "bootscript: rollback wanted but uEnv.txt has no rollback entry: booting the default"
			fi
		fi
		echo "bootscript: booting the ${ub_entry} ostree deployment (${ub_kernel})"
		if ext4load virtio 0:1 0x1000000 ${ub_kernel} && ext4load virtio 0:1 0x8000000 ${ub_initrd}; then
			setenv bootargs "${ub_bootargs} root=/dev/vda1 ${ub_args}"
			echo "bootscript: starting the kernel of the ${ub_entry} deployment"
			zboot 0x1000000 0 0x8000000 ${filesize}
		fi
	fi
	echo "bootscript: the ostree deployment did not boot: resetting (the boot counter decides)"
	reset
fi
if test ${ub_singlecopy} = 1; then
	# One root: no other system to fall back to. A failed trial (and a root
	# being rewritten: boot_slot=recovery) boots the ramdisk in recovery
	# mode, which stays there (docs/singlecopy.md); no valid boot state boots
	# the factory root.
	if test ${ub_fallback} = 1 || test "${ub_slot}" = recovery; then
		ub_scargs="updater.slot=recovery"
		ub_entry=recovery
	else
		ub_scargs="root=/dev/vda2 ro updater.slot=root"
		ub_entry=root
	fi
	echo "bootscript: single-copy: booting the ${ub_entry} system"
	if ext4load virtio 0:1 0x1000000 /vmlinuz && ext4load virtio 0:1 0x8000000 /initrd.img; then
		setenv bootargs "${ub_scargs} ${ub_args}"
		echo "bootscript: starting the kernel (${ub_entry})"
		zboot 0x1000000 0 0x8000000 ${filesize}
	fi
	echo "bootscript: the single-copy kernel did not boot: resetting (the boot counter decides)"
	reset
fi
if test ${ub_fallback} = 1; then
	if test "${ub_slot}" = A; then ub_slot=B; else ub_slot=A; fi
fi
if test "${ub_slot}" = A; then ub_part=2; else ub_part=3; fi
echo "bootscript: booting slot ${ub_slot} (virtio 0:${ub_part})"
if ext4load virtio 0:${ub_part} 0x1000000 /boot/vmlinuz && ext4load virtio 0:${ub_part} 0x8000000 /boot/initrd.img; then
	setenv bootargs "root=/dev/vda${ub_part} ro updater.slot=${ub_slot} ${ub_args}"
	echo "bootscript: starting the kernel of slot ${ub_slot}"
	zboot 0x1000000 0 0x8000000 ${filesize}
fi
echo "bootscript: slot ${ub_slot} did not boot: resetting (the boot counter decides)"
reset

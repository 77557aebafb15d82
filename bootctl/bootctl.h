/* Boot control: the one place that writes the boot-state contract
 * (docs/boot-contract.md) that the bootloader acts on. The engine and the
 * backends use the verbs below (in the spirit of Android's boot_control HAL and
 * RAUC's bootchooser); the storage of the contract is a bootloader's ops table
 * (struct bootctl_ops), today U-Boot's environment through libubootenv
 * (bootctl/uboot_env.c). A second bootloader adds an ops table and a row in
 * bootctl_open_config() (bootctl/bootctl.c), nothing in the engine or backends.
 *
 * Systems are named by the backend's ids: a slot ("A", "B") or an ostree
 * deployment. The running system is the backend's booted() (the kernel command
 * line, libostree's booted deployment); which system boots next is also the
 * backend's to tell (dual-bank: the contract's boot_slot, ostree: its deployment
 * order, with boot_slot naming the deployment the trial is about), so the
 * verbs here take and report the id the contract records. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "../config/config.h"
#include "../lib/error.h"

/* The contract's variables: boot_slot, upgrade_available, bootcount,
 * bootlimit, rollback, always present with a value; and apply_staged,
 * optional (absent reads as 0: an environment from before it). */
struct bootstate {
	char boot_slot[32];    /* "A" | "B" (dual-bank); "" is stored, but U-Boot's env
				  import deletes empty variables: see docs/boot-contract.md */
	int upgrade_available; /* 1 while the new system is on trial */
	int bootcount;         /* boots spent on trial (U-Boot adds 1 per boot) */
	int bootlimit;         /* attempts before U-Boot falls back */
	int rollback;          /* U-Boot set it: booting the fallback */
	int apply_staged;      /* 1: the ramdisk runs `updater apply-staged` before it
				  mounts the root (a release is staged) */
};

/* A bootloader's storage of the contract. location is what the config names
 * (U-Boot: the fw_env.config path). priv holds a snapshot, not a lock: see
 * bootctl/uboot_env.c. */
struct bootctl_ops {
	const char *name;
	/* Messages name the storage; -ENOENT missing, -EBADMSG no valid copy,
	 * -EINVAL bad location description (UPD_EXIT_USAGE). Never repairs.
	 * On failure *priv is NULL and there is nothing to close. */
	int (*open)(void **priv, const char *location, struct error *e);
	void (*close)(void *priv);
	/* The contract as stored; a missing or invalid variable is -EBADMSG. */
	int (*read)(void *priv, struct bootstate *out, struct error *e);
	/* A variable outside the contract (malloc'd, NULL if absent). May be NULL. */
	char *(*get)(void *priv, const char *name);
	/* All variables in one atomic store, read back; -EBADMSG if the storage
	 * has no valid copy any more, -ENOSPC, -EINVAL for values out of range. */
	int (*write)(void *priv, const struct bootstate *st, struct error *e);
	/* `updater init`: a fresh contract, even over a storage without a valid
	 * copy; refuses (-EEXIST, UPD_EXIT_USAGE) a complete one unless force. */
	int (*init)(const char *location, const struct bootstate *st, bool force,
		    struct error *e);
};

extern const struct bootctl_ops bootctl_uboot;

struct bootctl;

/* On failure *out is NULL and there is nothing to close. */
int bootctl_open(struct bootctl **out, const struct bootctl_ops *ops, const char *location,
		 struct error *e);
/* The bootloader the config describes (today U-Boot's environment). The same
 * rule: on failure *out is NULL and there is nothing to close. */
int bootctl_open_config(struct bootctl **out, const struct config *cfg, struct error *e);
void bootctl_close(struct bootctl *bc);

/* The attempts a trial gets (bootlimit), written by bootctl_set_next():
 * bootctl_open_config() sets it from bootenv.bootlimit. */
void bootctl_set_bootlimit(struct bootctl *bc, int bootlimit);

/* The whole boot state: the next system (boot_slot), whether it is on trial,
 * the trial boots spent, and whether the bootloader fell back (rollback). */
int bootctl_read(struct bootctl *bc, struct bootstate *out, struct error *e);
/* A variable outside the contract (ostree's boot entries); NULL if absent or
 * bc is NULL. */
char *bootctl_get(struct bootctl *bc, const char *name);
/* The system the contract names to boot next (boot_slot). */
int bootctl_next(struct bootctl *bc, char *id, size_t size, struct error *e);

/* Boots id next, on trial (activate) or not (rollback, cancel): the trial
 * counters start afresh, rollback and apply_staged cleared, bootlimit as
 * configured. apply-staged's activation is this write: the trial starts and
 * the ramdisk's request ends in one store. */
int bootctl_set_next(struct bootctl *bc, const char *id, bool trial, struct error *e);
/* After the bootloader fell back (rollback=1): the running system id is the
 * default again, no trial. */
int bootctl_finish_fallback(struct bootctl *bc, const char *id, struct error *e);
/* The running system on trial proved itself: trial off, boot_slot kept. */
int bootctl_mark_good(struct bootctl *bc, struct error *e);
/* Points the contract at id with no trial, keeping its bootlimit: ends a
 * trial started for nothing (an interrupted install). */
int bootctl_point_at(struct bootctl *bc, const char *id, struct error *e);
/* Asks the ramdisk to apply the staged release at the next boot (staged) or
 * withdraws the request; the rest of the boot state is kept. */
int bootctl_set_staged(struct bootctl *bc, bool staged, struct error *e);
/* An apply-staged cut after its trial-starting write but before the new
 * system became the next boot: id (the running system) again with no trial,
 * and apply_staged=1, in one store: the next boot applies it again. */
int bootctl_restage(struct bootctl *bc, const char *id, struct error *e);

/* Raw write of a whole state (tests, and implementations of the verbs). */
int bootctl_write(struct bootctl *bc, const struct bootstate *st, struct error *e);
/* `updater init` on the storage ops/location describe. */
int bootctl_init(const struct bootctl_ops *ops, const char *location, const struct bootstate *st,
		 bool force, struct error *e);
int bootctl_init_config(const struct config *cfg, const struct bootstate *st, bool force,
			struct error *e);

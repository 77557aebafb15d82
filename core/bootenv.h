/* The boot-state contract in the U-Boot environment, through libubootenv.
 * Variables (docs/boot-contract.md): boot_slot, upgrade_available, bootcount,
 * bootlimit, rollback. All are always present with a value. */
#pragma once
#include <stdbool.h>

#include "error.h"

/* Opaque: a snapshot of the variables read at open (or after the last write).
 * No libubootenv context or lock is held between calls: libubootenv's flock on
 * /var/lock/fw_printenv.lock would make fw_printenv wait and a second context in
 * this process deadlock. Each read/write holds it only for its own duration. */
struct bootenv;

struct bootstate {
	char boot_slot[32];    /* "A" | "B" (dual-bank); "" is stored, but U-Boot's env
				  import deletes empty variables: see docs/boot-contract.md */
	int upgrade_available; /* 1 while the new system is on trial */
	int bootcount;         /* boots spent on trial (U-Boot adds 1 per boot) */
	int bootlimit;         /* attempts before U-Boot falls back */
	int rollback;          /* U-Boot set it: booting the fallback */
};

/* Opens the environment described by fw_env_config (libubootenv's format; one
 * line = single copy, two lines = redundant copies).
 * Returns 0, or (messages name the path; exit class UPD_EXIT_OTHER unless noted):
 *   -ENOENT  the environment device/file or the fw_env.config is missing
 *   -EBADMSG no copy has a valid CRC (corrupt or never written)
 *   -EINVAL  malformed fw_env.config (UPD_EXIT_USAGE)
 *   -EIO     a file shorter than offset + size; other negative errno on I/O errors.
 * A missing or corrupt environment is never "repaired" here: only
 * bootenv_init_write() (used by `updater init`) writes a fresh one. */
int bootenv_open(struct bootenv **out, const char *fw_env_config, struct error *e);
void bootenv_close(struct bootenv *env);

/* Parses the contract variables. A missing or non-numeric variable is an error
 * (-EBADMSG, naming the variable): the contract says they are always present.
 * Numbers are "0".."999"; boot_slot must fit boot_slot[]. */
int bootenv_read(struct bootenv *env, struct bootstate *out, struct error *e);

/* Raw access for variables outside the contract (e.g. ostree's entries). The
 * returned string is malloc'd (NULL if absent). */
char *bootenv_get(struct bootenv *env, const char *name);

/* Writes all variables of *st in ONE libubootenv store (one atomic switch with
 * a redundant environment), on top of the environment as it is on the storage
 * now (other variables are kept), then reads it back into the snapshot.
 * -EBADMSG if the storage has no valid copy any more (never repaired here),
 * -ENOSPC (UPD_EXIT_NOSPACE) if the variables do not fit, -EINVAL for values
 * outside 0..999. boot_slot "" is written as "" only for ostree. */
int bootenv_write(struct bootenv *env, const struct bootstate *st, struct error *e);

/* `updater init`: creates a fresh environment with *st even when the current
 * one is missing a valid CRC (the storage/file must exist with its full size: a
 * partition or a pre-created file; it is never created or grown: -ENOENT/-EIO).
 * Refuses (-EEXIST, UPD_EXIT_USAGE) to replace a complete boot state (all five
 * contract variables with allowed values) unless force; one with a variable
 * missing or invalid is written whole without force. Foreign variables (U-Boot's
 * own) are always kept. */
int bootenv_init_write(const char *fw_env_config, const struct bootstate *st, bool force,
		       struct error *e);

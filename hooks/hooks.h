/* Install hooks: executables in <hooks.dir>/pre-install.d/ and post-install.d/
 * (a missing phase directory means no hooks), run in name order (strcmp of the file
 * name), each with a timeout. Their stdout/stderr go to our log, line by line. */
#pragma once
#include "../lib/error.h"

struct hook_env {
	const char *backend; /* UPDATER_BACKEND */
	const char *version; /* UPDATER_VERSION: the version being installed */
	const char *slot;    /* UPDATER_SLOT: target slot or deployment name */
	const char *target;  /* UPDATER_TARGET: device or path written */
};

/* Runs every hook of `phase` ("pre-install" or "post-install"). Stops at the
 * first failure: returns a negative code with e set (exit class UPD_EXIT_HOOK)
 * naming the hook and its exit status, signal or timeout (-ECHILD for a
 * non-zero exit or a signal, -ETIMEDOUT for a timeout).
 * A hook that outlives timeout_s is killed (its whole process group, SIGTERM
 * then SIGKILL after 2 s). Hidden files and non-executables are skipped.
 * Before any hook of the phase runs, every hook, the phase directory and
 * hooks_dir are checked with lib/trust.h (owner root or our euid, not
 * writable by group/others, a symlink judged by its target and every
 * directory above it): one that fails refuses the phase (-EPERM, exit class
 * UPD_EXIT_HOOK, the message names the file). What runs is the file that was
 * checked (fexecve of the descriptor opened for the check); a script's $0 is
 * then /dev/fd/N. hooks_dir NULL means no hooks (returns 0); a hooks_dir that
 * does not exist is a config error (-ENOENT, UPD_EXIT_USAGE); a missing phase
 * directory means no hooks. timeout_s must be > 0. env may be NULL (all
 * UPDATER_* variables empty). */
int hooks_run(const char *hooks_dir, const char *phase, const struct hook_env *env,
	      int timeout_s, struct error *e);

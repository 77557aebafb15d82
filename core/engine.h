/* The update state machine, shared by every backend (docs/state-machine.md):
 *   idle -> fetch -> verify -> pre-install -> install -> post-install
 *        -> activated -> trial -> committed
 * with failed (before activation: nothing changed) and rolled-back. Every
 * transition is persisted before the work of the next state starts. */
#pragma once
#include <stdbool.h>

#include "../config/config.h"
#include "backend.h"
#include "../lib/error.h"
#include "state.h"

struct engine;

enum engine_flags {
	ENGINE_NEED_LOCK = 1 << 0, /* fail with UPD_EXIT_BUSY if another updater runs */
	ENGINE_TRY_LOCK = 1 << 1,  /* read-only view if another updater runs */
	ENGINE_NO_BOOTENV = 1 << 2,
	/* status: an unreadable boot environment is reported, not fatal */
	ENGINE_BOOTENV_OPTIONAL = 1 << 3,
};

struct engine_opts {
	bool allow_downgrade; /* older/equal versions; never below the security floor */
	bool force;           /* install a release that failed on this device */
	bool verify_readback; /* default true */
	bool full_install;    /* no delta: stream the whole bundle (install --full) */
};

/* On failure *out is NULL and there is nothing to close (the constructor
 * rule of every *_open, *_new and *_start). */
int engine_open(struct engine **out, const struct config *cfg, const char *backend_name,
		unsigned flags, const struct engine_opts *opts, struct error *e);
void engine_close(struct engine *g);

/* Brings the persisted state in line with the boot state: finishes a fallback
 * U-Boot made, notices a trial boot, cleans up an interrupted install. */
int engine_reconcile(struct engine *g, struct error *e);

int engine_install(struct engine *g, const char *source, struct error *e);
/* 0: a newer release is available (*rel filled); UPD_EXIT_UPTODATE in e->exit
 * with rc 1 when up to date or already pending; <0 on errors. */
int engine_check(struct engine *g, const char *source, struct release *rel, struct error *e);
/* `stage`: install's steps up to, not including, the write; the backend
 * keeps the release, the state becomes `staged` and the boot state asks the
 * ramdisk to apply it (apply_staged=1). A backend without a stage op: exit 2.
 * Replaces a release staged before. */
int engine_stage(struct engine *g, const char *source, struct error *e);
/* `apply-staged` (the ramdisk, before it mounts the root): the staged release
 * checked again, then install's steps from the write on; the activating
 * boot-state write also withdraws the request. Nothing staged: 0. Run again
 * after a cut, it completes. A refusal or failure: state `failed`, the
 * request withdrawn, the device boots what it had. */
int engine_apply_staged(struct engine *g, struct error *e);
int engine_mark_good(struct engine *g, struct error *e);
int engine_rollback(struct engine *g, struct error *e);

struct engine_status {
	const char *backend;
	enum upd_state state;
	bool busy;                   /* another updater holds the lock: view may lag */
	struct system_info booted;
	bool has_pending;
	struct system_info pending;  /* activated, not yet booted */
	bool has_staged;             /* state staged: the next boot applies it */
	char staged_version[64];
	char staged_source[192];     /* the backend's token (ostree: commit and ref) */
	int64_t staged_since;        /* unix time of the state's last save */
	bool boot_ok;                /* boot environment readable */
	struct bootstate boot;
	char boot_error[256];
	const struct update_state *records; /* = &view */
	/* The state's records without the systems the backend no longer has
	 * (pruned deployments), failed ones excepted: what status shows. */
	struct update_state view;
};
int engine_status(struct engine *g, struct engine_status *out, struct error *e);
/* The booted system's image id (backend_ops.booted_image): 0 and hex,
 * -ENOTSUP when the backend has none, or the backend's error. It may read
 * the whole running system: only `status --json` asks. */
int engine_booted_image(struct engine *g, char hex[65], struct error *e);

/* `updater init`: first boot state of a factory device. */
int engine_init(const struct config *cfg, const char *backend_name, bool force, struct error *e);

/* Inside the engine (core/engine.c, reconcile.c, install.c, stage.c,
 * policy.c, trial.c): its object and the steps the files share. Nothing outside these
 * files includes it. */
#pragma once
#include "engine.h"

struct engine {
	const struct config *cfg;
	const struct backend_ops *ops;
	void *priv;
	struct updater_ctx u;
	struct update_state st;
	struct bootctl *boot;
	int lock_fd;
	bool read_only; /* another updater holds the lock, or no boot env: look, do not touch */
	char env_error[256]; /* why the boot environment could not be opened */
	struct engine_opts opts;
	struct system_info booted;
};

/* engine.c: persists state s (every transition goes through here). */
int engine_save(struct engine *g, enum upd_state s, struct error *e);
/* engine.c: the running system has proven it boots. */
void engine_record_booted_good(struct engine *g);

/* policy.c: the device confirmed t; t failed its trial. */
void engine_confirm_target(struct engine *g, struct target_record *t);
void engine_record_failed(struct engine *g, struct target_record *t);
/* policy.c: the rules on a release before anything is written (<0 refused). */
int engine_check_policy(struct engine *g, const struct release *rel, struct error *e);
/* policy.c: for `check`: 1 (e set, UPD_EXIT_UPTODATE) when rel is not offered. */
int engine_check_offered(struct engine *g, const struct release *rel, struct error *e);

/* install.c: records the failure as the last error and persists state
 * `failed`, keeping the original error in e (a failing save is only logged). */
int engine_fail(struct engine *g, int rc, struct error *e);
/* install.c, after the reconciliation: the target, refused while busy (cmd
 * names the command in the message), what was staged dropped; the
 * operation's fields set for the next save. */
int engine_begin(struct engine *g, const char *cmd, struct system_info *target, struct error *e);
/* install.c: fetch, policy, download, verify (install's and stage's steps
 * before anything is written); *out the verified release. */
int engine_fetch_verified(struct engine *g, const char *source, struct system_info *target,
			  struct release *out, struct error *e);
/* install.c: pre-install hooks, write, post-install hooks, activate, state
 * `activated` (install's steps from the write on; apply-staged's too). */
int engine_write_release(struct engine *g, const struct release *rel, struct system_info *target,
			 struct error *e);

/* reconcile.c: an install or apply-staged in progress whose activating write
 * went through: next is its target, on trial, verified, and the bootloader
 * did not count a trial while booting another system (an older default read
 * from a disk whose journal was not replayed). */
bool engine_activation_landed(struct engine *g, const struct bootstate *bs, const char *next);

/* stage.c: what stage and apply-staged leave behind while reconciling: an
 * apply cut short goes back to `staged` (or carries on as activated), a
 * staged state whose request the boot state lacks gets it, a request or a
 * kept release nothing is staged for any more is dropped. 1: handled, the
 * reconciliation ends there; 0: it goes on with *bs as stored now. */
int engine_reconcile_staged(struct engine *g, struct bootstate *bs, const char *next,
			    struct error *e);
/* stage.c: withdraws the ramdisk's request (apply_staged) and drops what the
 * backend keeps (op_source); the state is saved by the caller's next save. */
int engine_drop_staged(struct engine *g, struct error *e);
/* stage.c: `rollback` with a release staged: the request withdrawn, the
 * release dropped, state `rolled-back` saying what was cancelled; the next
 * boot is not changed. */
int engine_cancel_staged(struct engine *g, struct error *e);

/* Inside the engine (core/engine.c, reconcile.c, install.c, policy.c,
 * trial.c): its object and the steps the files share. Nothing outside these
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

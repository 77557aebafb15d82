#include "engine.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../hooks/hooks.h"
#include "../lib/version.h"
#include "../lib/fault.h"
#include "../lib/fsutil.h"
#include "../lib/log.h"
#include "../lib/progress.h"
#include "../lib/sysinfo.h"
#include "../lib/trust.h"

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

static int save(struct engine *g, enum upd_state s, struct error *e)
{
	if (g->st.state != s)
		log_debug("state %s -> %s", state_name(g->st.state), state_name(s));
	g->st.state = s;
	progress_event(state_name(s), g->st.op_version);
	fault_point("state-save");
	int rc = state_save(g->cfg->state_dir, &g->st, e);
	if (rc == 0)
		fault_point("state-saved");
	return rc;
}

/* Records the failure as the last error and persists state `failed`, keeping
 * the original error in e (a failing save is only logged). */
static int fail(struct engine *g, int rc, struct error *e)
{
	struct error e2 = {0};
	snprintf(g->st.last_error, sizeof(g->st.last_error), "%s", e->msg);
	if (save(g, ST_FAILED, &e2) < 0)
		log_error("%s", e2.msg);
	return rc;
}

/* The booted version: the updater's own record for a system it installed,
 * else the version_file (factory image). */
static void fill_version(struct engine *g, struct system_info *si)
{
	struct target_record *t = state_target(&g->st, si->id, false);
	struct error e = {0};

	if (t && (t->status == TS_VERIFIED || t->status == TS_GOOD) && t->version[0]) {
		snprintf(si->version, sizeof(si->version), "%s", t->version);
		return;
	}
	if (si->version[0])
		return;
	if (os_release_version(g->cfg->version_file, si->version, sizeof(si->version), &e) < 0)
		log_debug("booted version unknown: %s", e.msg);
}

static const struct backend_ops *pick_backend(const struct config *cfg, const char *name,
					      struct error *e)
{
	if (!name)
		name = cfg->backend ? cfg->backend : backend_default();
	const struct backend_ops *ops = backend_find(name);
	if (!ops)
		backend_unknown(name, e);
	return ops;
}

static int take_lock(struct engine *g, unsigned flags, struct error *e)
{
	struct error le = {0};
	if (!(flags & (ENGINE_NEED_LOCK | ENGINE_TRY_LOCK)))
		return 0;
	int rc = state_lock(g->cfg->state_dir, &g->lock_fd, &le);
	if (rc == -EBUSY && (flags & ENGINE_TRY_LOCK)) {
		g->read_only = true;
		return 0;
	}
	if (rc < 0)
		*e = le;
	return rc;
}

/* state_dir is never created here: a data partition that failed to mount
 * must not get a fresh, empty state on the root file system. */
static int open_state(struct engine *g, unsigned flags, struct error *e)
{
	int rc = trust_own_dir(g->cfg->state_dir, "state_dir", UPD_EXIT_USAGE, e);
	if (rc == 0)
		rc = take_lock(g, flags, e);
	if (rc == 0)
		rc = state_load(g->cfg->state_dir, &g->st, e);
	if (rc < 0)
		return rc;
	if (g->st.backend[0] && strcmp(g->st.backend, g->ops->name) != 0)
		return err_set(e, UPD_EXIT_USAGE, EINVAL,
			       "backend '%s': the state in %s belongs to backend '%s'", g->ops->name,
			       g->cfg->state_dir, g->st.backend);
	snprintf(g->st.backend, sizeof(g->st.backend), "%s", g->ops->name);
	return 0;
}

int engine_open(struct engine **out, const struct config *cfg, const char *backend_name,
		unsigned flags, const struct engine_opts *opts, struct error *e)
{
	struct engine *g = calloc(1, sizeof(*g));
	int rc;

	*out = NULL;
	if (!g)
		return err_oom(e, NULL);
	g->cfg = cfg;
	g->lock_fd = -1;
	g->opts = *opts;
	g->ops = pick_backend(cfg, backend_name, e);
	rc = g->ops ? open_state(g, flags, e) : -EINVAL;
	if (rc == 0 && !(flags & ENGINE_NO_BOOTENV)) {
		struct error be = {0};
		rc = bootctl_open_config(&g->boot, cfg, &be);
		if (rc < 0 && (flags & ENGINE_BOOTENV_OPTIONAL)) {
			snprintf(g->env_error, sizeof(g->env_error), "%s", be.msg);
			g->read_only = true; /* nothing to reconcile against */
			rc = 0;
		} else if (rc < 0) {
			*e = be;
		}
	}
	g->u = (struct updater_ctx){ .cfg = cfg, .boot = g->boot,
				     .verify_readback = opts->verify_readback };
	if (rc == 0)
		rc = g->ops->open(&g->u, &g->priv, e);
	if (rc == 0)
		rc = g->ops->booted(g->priv, &g->booted, e);
	if (rc < 0) {
		engine_close(g); /* the constructor rule: nothing for the caller to close */
		return rc;
	}
	fill_version(g, &g->booted);
	*out = g;
	return 0;
}

void engine_close(struct engine *g)
{
	if (!g)
		return;
	if (g->priv)
		g->ops->close(g->priv);
	bootctl_close(g->boot);
	state_unlock(g->lock_fd);
	free(g);
}

/* ---- policy records ----------------------------------------------------- */

/* The newest version this device has confirmed: the persisted high-water
 * mark, and any system recorded good (state files older than the mark). */
static const char *highest_confirmed(const struct engine *g)
{
	const char *best = g->st.confirmed_version;

	for (int i = 0; i < g->st.n_targets; i++) {
		const struct target_record *t = &g->st.targets[i];
		if (t->status == TS_GOOD && version_compare(t->version, best) > 0)
			best = t->version;
	}
	return best;
}

/* The device confirmed this system (mark-good, or reconcile finishing one
 * that was cut): the security floor and the high-water mark only rise. */
static void confirm_target(struct engine *g, struct target_record *t)
{
	t->status = TS_GOOD;
	if (t->security_version > g->st.security_floor) {
		log_info("security floor raised from %" PRIu64 " to %" PRIu64,
			 g->st.security_floor, t->security_version);
		g->st.security_floor = t->security_version;
	}
	if (version_compare(t->version, g->st.confirmed_version) > 0)
		snprintf(g->st.confirmed_version, sizeof(g->st.confirmed_version), "%s", t->version);
}

/* t failed its trial (last_error says how): it is bad, its release is
 * remembered so it is not offered again, and the reason stays in status
 * until the next successful install. */
static void record_failed(struct engine *g, struct target_record *t)
{
	t->status = TS_BAD;
	snprintf(g->st.trial_failure, sizeof(g->st.trial_failure), "%s", g->st.last_error);
	if (t->identity[0])
		state_failed_add(&g->st, t->identity, t->version, (int64_t)time(NULL));
	else
		log_debug("%s: no release identity recorded; not remembered as failed", t->id);
}

/* ---- reconcile ---------------------------------------------------------- */

static int finish_fallback(struct engine *g, const struct bootstate *bs, const char *next,
			   struct error *e)
{
	bool pending = g->st.state == ST_ACTIVATED || g->st.state == ST_TRIAL;
	const char *failed = pending && g->st.op_target[0] ? g->st.op_target : next;
	struct target_record *t = state_target(&g->st, failed, true);
	int rc;

	snprintf(g->st.last_error, sizeof(g->st.last_error),
		 "version %s on %s was not confirmed within its %d trial boots; "
		 "the bootloader fell back to %s (version %s)",
		 t && t->version[0] ? t->version : "?", failed, bs->bootlimit,
		 g->booted.id, g->booted.version[0] ? g->booted.version : "?");
	log_warn("%s", g->st.last_error);
	if (t)
		record_failed(g, t);
	/* State first: if the boot-state write below is cut, the next start sees
	 * rollback=1 again and repeats this, which is idempotent. */
	rc = save(g, ST_ROLLED_BACK, e);
	if (rc == 0)
		rc = g->ops->finish_fallback(g->priv, &g->booted, e);
	return rc;
}

/* The process died during an install step: the target's hooks or its
 * activation never completed, so it must not be booted, by `rollback` either.
 * If the boot state already points away from the running system (a backend
 * that starts the trial before it switches, or an outside change), it is
 * pointed back; a trial started for nothing is ended. */
static int mark_interrupted(struct engine *g, const struct bootstate *bs, const char *next,
			    struct error *e)
{
	struct target_record *t = state_target(&g->st, g->st.op_target, false);
	int rc;

	snprintf(g->st.last_error, sizeof(g->st.last_error),
		 "install of version %s to %s was interrupted during %s (power cut or killed); "
		 "nothing was activated",
		 g->st.op_version[0] ? g->st.op_version : "?", g->st.op_target,
		 state_name(g->st.state));
	log_warn("%s", g->st.last_error);
	if (t && t->status != TS_GOOD)
		t->status = TS_INCOMPLETE;
	if ((rc = save(g, ST_FAILED, e)) < 0)
		return rc;
	if (strcmp(next, g->booted.id) != 0) {
		log_info("the next boot pointed at %s: pointing it back at the running %s", next,
			 g->booted.id);
		return g->ops->rollback(g->priv, &g->booted, e);
	}
	if (bs->upgrade_available || strcmp(bs->boot_slot, g->booted.id) != 0) {
		/* boot_slot too: with ostree the next boot comes from the deployment
		 * list, so a cut before the default switched leaves boot_slot naming
		 * a deployment in no boot entry (tests/powercut/sweep-ostree.sh). */
		log_info("ending the trial the interrupted install had started");
		return bootctl_point_at(g->boot, g->booted.id, e);
	}
	return 0;
}

static bool target_verified(struct engine *g, const char *id)
{
	struct target_record *t = state_target(&g->st, id, false);
	return t && (t->status == TS_VERIFIED || t->status == TS_GOOD);
}

static bool target_good(struct engine *g, const char *id)
{
	struct target_record *t = state_target(&g->st, id, false);
	return t && t->status == TS_GOOD;
}

static int note_trial(struct engine *g, const struct bootstate *bs, const char *next,
		      struct error *e)
{
	bool booted_next = strcmp(g->booted.id, next) == 0;
	enum upd_state want = booted_next ? ST_TRIAL : ST_ACTIVATED;

	/* Every trial boot, not only the first: a journal then shows a system
	 * that keeps failing to confirm before the bootloader gives up on it. */
	if (booted_next)
		log_info("trial boot of version %s on %s (attempt %d of %d)", g->booted.version,
			 g->booted.id, bs->bootcount, bs->bootlimit);
	if (g->st.state == want && strcmp(g->st.op_target, next) == 0)
		return 0;
	if (strcmp(g->st.op_target, next) != 0) {
		/* The state store lost track (or was replaced): the env is the truth. */
		snprintf(g->st.op_target, sizeof(g->st.op_target), "%s", next);
		struct target_record *t = state_target(&g->st, next, false);
		snprintf(g->st.op_version, sizeof(g->st.op_version), "%s", t ? t->version : "");
	}
	return save(g, want, e);
}

/* The env says no trial, yet our state expected one: confirmed (running the
 * target, and it boots next), or abandoned (a rollback, or an outside change). */
static int settle_pending(struct engine *g, const char *next, struct error *e)
{
	int rc;

	if (strcmp(g->booted.id, g->st.op_target) == 0 && strcmp(next, g->booted.id) == 0) {
		struct target_record *t = state_target(&g->st, g->booted.id, true);
		if (t)
			confirm_target(g, t);
		g->st.last_error[0] = '\0';
		rc = save(g, ST_COMMITTED, e);
		/* mark-good was cut after its env write: finish its work too. */
		if (rc == 0 && g->ops->confirm)
			rc = g->ops->confirm(g->priv, e);
		return rc;
	}
	snprintf(g->st.last_error, sizeof(g->st.last_error),
		 "update to version %s on %s did not become active (rolled back, or the boot "
		 "state was changed outside the updater); running %s, next boot %s",
		 g->st.op_version, g->st.op_target, g->booted.id, next);
	log_warn("%s", g->st.last_error);
	return save(g, ST_ROLLED_BACK, e);
}

int engine_reconcile(struct engine *g, struct error *e)
{
	struct bootstate bs;
	char next[32];
	int rc;

	if (g->read_only)
		return 0;
	rc = bootctl_read(g->boot, &bs, e);
	if (rc == 0)
		rc = g->ops->next_boot(g->priv, next, sizeof(next), e);
	if (rc < 0)
		return rc;
	if (bs.rollback)
		return finish_fallback(g, &bs, next, e);
	if (state_in_progress(g->st.state)) {
		/* Cut after the activating env write but before the state write? */
		bool activated = bs.upgrade_available && strcmp(next, g->st.op_target) == 0 &&
				 target_verified(g, next);
		if (!activated)
			return mark_interrupted(g, &bs, next, e);
	}
	if (strcmp(bs.boot_slot, next) != 0 && strcmp(next, g->booted.id) == 0 &&
	    state_target(&g->st, bs.boot_slot, false) && target_good(g, next)) {
		/* The boot state names a system the updater wrote, but the next boot
		 * (a backend whose boot list is not boot_slot: ostree) is the running
		 * system, confirmed good: a command that switches the list first and the
		 * boot state second (rollback, a cancel) was cut between the two, or the
		 * clean-up of an interrupted install was. A trial of a confirmed system
		 * tests nothing: the boot state follows the next boot, trial off
		 * (tests/powercut/sweep-ostree-scenarios.sh). */
		log_info("the boot state names %s, the next boot starts the running %s: pointing it "
			 "there, no trial",
			 bs.boot_slot, next);
		bs.upgrade_available = 0;
		bs.bootcount = 0;
		snprintf(bs.boot_slot, sizeof(bs.boot_slot), "%s", next);
		if ((rc = bootctl_point_at(g->boot, next, e)) < 0)
			return rc;
	}
	if (bs.upgrade_available)
		return note_trial(g, &bs, next, e);
	if (g->st.state == ST_ACTIVATED || g->st.state == ST_TRIAL)
		return settle_pending(g, next, e);
	if (g->st.state == ST_COMMITTED && g->st.op_target[0] && strcmp(next, g->st.op_target) != 0) {
		/* `rollback` writes the boot state first: cut before its state save. */
		snprintf(g->st.last_error, sizeof(g->st.last_error),
			 "rolled back from version %s on %s: the next boot starts %s",
			 g->st.op_version, g->st.op_target, next);
		log_warn("%s", g->st.last_error);
		return save(g, ST_ROLLED_BACK, e);
	}
	if (strcmp(g->booted.id, next) != 0 && g->st.state == ST_ROLLED_BACK)
		log_info("running %s; the next boot starts %s (rolled back)", g->booted.id, next);
	else if (strcmp(g->booted.id, next) != 0)
		log_warn("running %s, but the next boot is set to %s", g->booted.id, next);
	return 0;
}

/* ---- install ------------------------------------------------------------ */

static int refuse_if_busy(struct engine *g, const struct system_info *target, struct error *e)
{
	struct bootstate bs;
	char next[32];
	int rc = bootctl_read(g->boot, &bs, e);

	if (rc == 0)
		rc = g->ops->next_boot(g->priv, next, sizeof(next), e);
	if (rc < 0)
		return rc;
	if (bs.upgrade_available && strcmp(g->booted.id, next) == 0)
		return err_set(e, UPD_EXIT_BUSY, EBUSY,
			       "install: the booted system (%s, version %s) is on trial: run "
			       "'updater mark-good' or 'updater rollback' first (the other slot is "
			       "its fallback)",
			       g->booted.id, g->booted.version);
	/* Writing the system that boots next would leave a half-written system
	 * as the default if power were cut. */
	if (strcmp(next, target->id) == 0)
		return err_set(e, UPD_EXIT_BUSY, EBUSY,
			       "install: %s is set to boot next (version %s pending): reboot into it, "
			       "or 'updater rollback' to cancel it",
			       target->id, g->st.op_version[0] ? g->st.op_version : "?");
	return 0;
}

/* Nothing overrides the floor: not --allow-downgrade, not --force. */
static int check_floor(const struct engine *g, const struct release *rel, struct error *e)
{
	if (rel->security_version >= g->st.security_floor)
		return 0;
	return err_set(e, UPD_EXIT_VERIFY, EPERM,
		       "verify: release %s has security version %" PRIu64 ", below this device's "
		       "security floor %" PRIu64 " (nothing overrides the floor)",
		       rel->version, rel->security_version, g->st.security_floor);
}

static int check_failed(const struct engine *g, const struct release *rel, struct error *e)
{
	const struct failed_release *f = state_failed_find(&g->st, rel->identity);
	char when[32];

	if (!f)
		return 0;
	state_time_iso(f->when, when, sizeof(when));
	if (g->opts.force) {
		log_warn("release %s failed on this device at %s: installing it again (--force)",
			 rel->version, when);
		return 0;
	}
	return err_set(e, UPD_EXIT_BUSY, EPERM,
		       "install: release %s failed on this device at %s (identity %.12s); "
		       "--force installs it anyway",
		       rel->version, when, rel->identity);
}

/* Newer than the running version and than any version this device confirmed
 * (a rollback to an old system does not reopen the versions in between). */
static int check_downgrade(const struct engine *g, const struct release *rel, struct error *e)
{
	const char *running = g->booted.version, *highest = highest_confirmed(g);

	if (g->opts.allow_downgrade)
		return 0;
	if (!running[0])
		return err_set(e, UPD_EXIT_VERIFY, EPERM,
			       "verify: the booted version is unknown (no record, no VERSION_ID in "
			       "version_file %s): cannot check for a downgrade (--allow-downgrade "
			       "installs anyway)",
			       g->cfg->version_file);
	int cmp = version_compare(rel->version, running);
	if (cmp == 0)
		return err_set(e, UPD_EXIT_VERIFY, EPERM,
			       "verify: version %s is already running (--allow-downgrade reinstalls it)",
			       rel->version);
	if (cmp < 0)
		return err_set(e, UPD_EXIT_VERIFY, EPERM,
			       "verify: version %s is older than the running %s (downgrade refused; "
			       "--allow-downgrade overrides)",
			       rel->version, running);
	if (version_compare(rel->version, highest) <= 0)
		return err_set(e, UPD_EXIT_VERIFY, EPERM,
			       "verify: version %s is not newer than %s, the highest version confirmed "
			       "on this device (downgrade refused; --allow-downgrade overrides)",
			       rel->version, highest);
	return 0;
}

/* The core's policy, on the release's metadata (signed; the signature is
 * checked before anything is written). The order decides which refusal a
 * release that breaks several rules gets: board, floor, failed, version. */
static int check_policy(struct engine *g, const struct release *rel, struct error *e)
{
	int rc;

	if (!rel->compatible[0] && !rel->compatible_optional)
		return err_set(e, UPD_EXIT_VERIFY, EPERM,
			       "verify: release %s names no compatible board in its signed "
			       "metadata; this device is '%s'",
			       rel->version, g->cfg->compatible);
	if (rel->compatible[0] && strcmp(rel->compatible, g->cfg->compatible) != 0)
		return err_set(e, UPD_EXIT_VERIFY, EPERM,
			       "verify: release %s is for '%s', this device is '%s'", rel->version,
			       rel->compatible, g->cfg->compatible);
	if ((rc = check_floor(g, rel, e)) < 0 || (rc = check_failed(g, rel, e)) < 0)
		return rc;
	if (!g->booted.version[0] && g->opts.allow_downgrade)
		log_warn("booted version unknown (no record, no VERSION_ID in %s): installing "
			 "without a downgrade check (--allow-downgrade)",
			 g->cfg->version_file);
	return check_downgrade(g, rel, e);
}

static int run_hooks(struct engine *g, const char *phase, const struct release *rel,
		     const struct system_info *target, struct error *e)
{
	struct hook_env he = { .backend = g->ops->name, .version = rel->version,
			       .slot = target->id, .target = target->path };
	if (!g->cfg->hooks.dir)
		return 0;
	return hooks_run(g->cfg->hooks.dir, phase, &he, g->cfg->hooks.timeout, e);
}

/* The running system has proven it boots: record it so that a later rollback
 * to it is allowed. */
static void record_booted_good(struct engine *g)
{
	struct target_record *t = state_target(&g->st, g->booted.id, true);
	if (t && t->status == TS_EMPTY) {
		t->status = TS_GOOD;
		snprintf(t->version, sizeof(t->version), "%s", g->booted.version);
	}
}

static int write_and_verify(struct engine *g, const struct release *rel,
			    struct system_info *target, struct error *e)
{
	struct target_record *t = state_target(&g->st, target->id, true);
	int rc;

	if (!t)
		return err_set(e, UPD_EXIT_OTHER, ENOSPC, "state: too many records");
	*t = (struct target_record){ .status = TS_INCOMPLETE };
	snprintf(t->id, sizeof(t->id), "%s", target->id);
	snprintf(t->version, sizeof(t->version), "%s", rel->version);
	snprintf(t->identity, sizeof(t->identity), "%s", rel->identity);
	t->security_version = rel->security_version;
	rc = save(g, ST_INSTALL, e);
	if (rc == 0)
		rc = g->ops->install(g->priv, target, e);
	if (rc < 0)
		return rc;
	/* The target may only now have its real name (a new deployment); a stale
	 * record of that name (a deployment removed long ago) is dropped. */
	if (strcmp(t->id, target->id) != 0) {
		char placeholder[sizeof(t->id)];
		snprintf(placeholder, sizeof(placeholder), "%s", t->id);
		state_target_remove(&g->st, target->id);
		t = state_target(&g->st, placeholder, false);
		snprintf(t->id, sizeof(t->id), "%s", target->id);
	}
	snprintf(g->st.op_target, sizeof(g->st.op_target), "%s", target->id);
	t->status = TS_VERIFIED;
	t->size = rel->install_size;
	snprintf(t->digest, sizeof(t->digest), "%s", rel->digest);
	return save(g, ST_POST_INSTALL, e);
}

static int install_steps(struct engine *g, const char *source, struct system_info *target,
			 struct error *e)
{
	struct release rel = {0};
	int rc;

	if ((rc = g->ops->fetch(g->priv, source, &rel, e)) < 0)
		return rc;
	snprintf(g->st.op_version, sizeof(g->st.op_version), "%s", rel.version);
	/* Policy on the metadata before any bulk download: refusing early is safe
	 * even before the signature check, which alone may accept. */
	if ((rc = check_policy(g, &rel, e)) < 0)
		return rc;
	if (g->ops->download && (rc = g->ops->download(g->priv, e)) < 0)
		return rc;
	if ((rc = save(g, ST_VERIFY, e)) < 0 || (rc = g->ops->verify(g->priv, target, e)) < 0)
		return rc;
	log_info("installing version %s to %s (%s)", rel.version, target->id, target->path);
	if ((rc = save(g, ST_PRE_INSTALL, e)) < 0 ||
	    (rc = run_hooks(g, "pre-install", &rel, target, e)) < 0)
		return rc;
	if ((rc = write_and_verify(g, &rel, target, e)) < 0)
		return rc;
	if ((rc = run_hooks(g, "post-install", &rel, target, e)) < 0) {
		state_target(&g->st, target->id, true)->status = TS_BAD;
		return rc;
	}
	if ((rc = g->ops->activate(g->priv, target, e)) < 0)
		return rc;
	g->st.last_error[0] = '\0';
	g->st.trial_failure[0] = '\0';
	rc = save(g, ST_ACTIVATED, e);
	if (rc == 0)
		log_info("version %s is installed on %s and boots next, on trial: reboot, then "
			 "'updater mark-good' once healthy",
			 rel.version, target->id);
	return rc;
}

int engine_install(struct engine *g, const char *source, struct error *e)
{
	struct system_info target = {0};
	int rc;

	if ((rc = engine_reconcile(g, e)) < 0 || (rc = g->ops->target(g->priv, &target, e)) < 0 ||
	    (rc = refuse_if_busy(g, &target, e)) < 0)
		return rc;
	record_booted_good(g);
	snprintf(g->st.op_target, sizeof(g->st.op_target), "%s", target.id);
	snprintf(g->st.op_from, sizeof(g->st.op_from), "%s", g->booted.id);
	g->st.op_version[0] = '\0';
	g->st.last_error[0] = '\0';
	rc = save(g, ST_FETCH, e);
	if (rc == 0)
		rc = install_steps(g, source, &target, e);
	return rc < 0 ? fail(g, rc, e) : 0;
}

/* ---- check, mark-good, rollback ----------------------------------------- */

/* Up to date (rc 1): not newer than the running, the pending or the highest
 * confirmed version, or a release that failed on this device. */
static int check_offered(struct engine *g, const struct release *rel, struct error *e)
{
	const char *newest = g->booted.version, *why = "";
	const char *highest = highest_confirmed(g);
	const struct failed_release *f = state_failed_find(&g->st, rel->identity);
	char when[32];

	if (g->st.state == ST_ACTIVATED && version_compare(g->st.op_version, newest) > 0)
		newest = g->st.op_version, why = " (pending reboot)";
	if (version_compare(highest, newest) > 0)
		newest = highest, why = " (confirmed on this device)";
	if (newest[0] && version_compare(rel->version, newest) <= 0) {
		err_set(e, UPD_EXIT_UPTODATE, 0, "up to date: %s offers %s, newest here is %s%s",
			rel->origin, rel->version, newest, why);
		return 1;
	}
	if (!f)
		return 0;
	state_time_iso(f->when, when, sizeof(when));
	err_set(e, UPD_EXIT_UPTODATE, 0,
		"not offered: %s offers %s, which failed on this device at %s (install --force "
		"installs it anyway)",
		rel->origin, rel->version, when);
	return 1;
}

int engine_check(struct engine *g, const char *source, struct release *rel, struct error *e)
{
	struct system_info target = {0};
	int rc;

	if ((rc = engine_reconcile(g, e)) < 0 || (rc = g->ops->fetch(g->priv, source, rel, e)) < 0 ||
	    (rc = check_offered(g, rel, e)) != 0)
		return rc;
	if ((rc = g->ops->target(g->priv, &target, e)) < 0 ||
	    (rc = g->ops->verify(g->priv, &target, e)) < 0)
		return rc;
	return check_policy(g, rel, e);
}

int engine_mark_good(struct engine *g, struct error *e)
{
	struct bootstate bs;
	char next[32];
	int rc;

	if ((rc = engine_reconcile(g, e)) < 0 || (rc = bootctl_read(g->boot, &bs, e)) < 0 ||
	    (rc = g->ops->next_boot(g->priv, next, sizeof(next), e)) < 0)
		return rc;
	if (!bs.upgrade_available || strcmp(g->booted.id, next) != 0) {
		log_info("nothing to confirm: %s (version %s) is not on trial", g->booted.id,
			 g->booted.version);
		return 0;
	}
	if ((rc = bootctl_mark_good(g->boot, e)) < 0)
		return rc;
	struct target_record *t = state_target(&g->st, g->booted.id, true);
	if (t)
		confirm_target(g, t);
	g->st.last_error[0] = '\0';
	if ((rc = save(g, ST_COMMITTED, e)) < 0)
		return rc;
	log_info("version %s on %s confirmed", g->booted.version, g->booted.id);
	return g->ops->confirm ? g->ops->confirm(g->priv, e) : 0;
}

/* Only to a system the device confirmed: a verified one never confirmed is
 * an update that was cancelled or never booted, and rollback never rolls
 * forward; nor below the security floor. */
static int rollback_to(struct engine *g, struct system_info *to, struct error *e)
{
	struct target_record *t = state_target(&g->st, to->id, false);

	if (t && t->status == TS_VERIFIED)
		return err_set(e, UPD_EXIT_BUSY, EPERM,
			       "rollback: %s holds version %s, installed but never confirmed (a "
			       "cancelled update); rollback never rolls forward: install it to try it",
			       to->id, t->version);
	if (!t || t->status != TS_GOOD)
		return err_set(e, UPD_EXIT_BUSY, EPERM,
			       "rollback: %s holds nothing the updater recorded as complete and "
			       "verified (%s); refusing to boot it",
			       to->id, target_status_name(t ? t->status : TS_EMPTY));
	if (t->security_version < g->st.security_floor)
		return err_set(e, UPD_EXIT_BUSY, EPERM,
			       "rollback: %s holds version %s with security version %" PRIu64
			       ", below this device's security floor %" PRIu64 "; refusing to boot it",
			       to->id, t->version, t->security_version, g->st.security_floor);
	snprintf(to->version, sizeof(to->version), "%s", t->version);
	return g->ops->rollback(g->priv, to, e);
}

int engine_rollback(struct engine *g, struct error *e)
{
	struct system_info to = {0};
	bool cancel, trial;
	int rc;

	if ((rc = engine_reconcile(g, e)) < 0)
		return rc;
	cancel = g->st.state == ST_ACTIVATED;
	trial = g->st.state == ST_TRIAL;
	if (cancel) {
		to = g->booted; /* the pending update has not booted yet: just cancel it */
		rc = g->ops->rollback(g->priv, &to, e);
	} else {
		rc = g->ops->previous(g->priv, &to, e);
		if (rc == 0)
			rc = rollback_to(g, &to, e);
	}
	if (rc < 0)
		return rc;
	snprintf(g->st.last_error, sizeof(g->st.last_error),
		 cancel ? "pending update to version %s on %s cancelled by 'updater rollback'"
		 : trial ? "version %s on %s was rejected during its trial by 'updater rollback'"
			 : "rolled back at the user's request from %s to %s",
		 cancel || trial ? g->st.op_version : g->booted.id,
		 cancel || trial ? g->st.op_target : to.id);
	if (trial) {
		/* The health service's path when checks fail: a failed trial. */
		struct target_record *t = state_target(&g->st, g->booted.id, true);
		if (t)
			record_failed(g, t);
	}
	log_info("%s; the next boot starts %s", g->st.last_error, to.id);
	return save(g, ST_ROLLED_BACK, e);
}

/* ---- status and init ---------------------------------------------------- */

int engine_status(struct engine *g, struct engine_status *out, struct error *e)
{
	struct error be = {0};
	memset(out, 0, sizeof(*out));
	out->backend = g->ops->name;
	out->busy = g->read_only && g->boot; /* without an env, read_only says nothing of the lock */
	out->booted = g->booted;
	/* A failed system stays listed (bad) after its removal: what happened
	 * to the last update; the others are shown only while they exist. */
	out->view = g->st;
	for (int i = out->view.n_targets - 1; i >= 0; i--)
		if (g->priv && g->ops->has_system && out->view.targets[i].status != TS_BAD &&
		    !g->ops->has_system(g->priv, out->view.targets[i].id))
			state_target_remove(&out->view, out->view.targets[i].id);
	out->records = &out->view;
	out->state = g->st.state;
	if (g->st.state == ST_ACTIVATED) {
		out->has_pending = true;
		snprintf(out->pending.id, sizeof(out->pending.id), "%s", g->st.op_target);
		snprintf(out->pending.version, sizeof(out->pending.version), "%s", g->st.op_version);
	}
	out->boot_ok = g->boot && bootctl_read(g->boot, &out->boot, &be) == 0;
	if (!out->boot_ok)
		snprintf(out->boot_error, sizeof(out->boot_error), "%s", g->boot ? be.msg : g->env_error);
	(void)e;
	return 0;
}

/* Whether the environment holds a boot state this backend can act on: a
 * boot_slot that names none of its systems (garbage, or another backend's)
 * is no boot state either, and init replaces it without --force. */
static bool boot_state_usable(struct engine *g)
{
	struct error e = { 0 };
	struct bootstate bs;
	char next[32];
	bool ok = bootctl_open_config(&g->boot, g->cfg, &e) == 0 &&
		  bootctl_read(g->boot, &bs, &e) == 0;

	g->u.boot = g->boot;
	ok = ok && g->ops->next_boot(g->priv, next, sizeof(next), &e) == 0;
	if (!ok && g->boot)
		log_info("%s: writing the whole boot state", e.msg);
	bootctl_close(g->boot);
	g->boot = g->u.boot = NULL;
	return ok;
}

int engine_init(const struct config *cfg, const char *backend_name, bool force, struct error *e)
{
	struct engine_opts opts = { .verify_readback = true };
	struct engine *g = NULL;
	int rc = engine_open(&g, cfg, backend_name, ENGINE_NEED_LOCK | ENGINE_NO_BOOTENV, &opts, e);

	if (rc == 0) {
		struct bootstate bs = { .bootlimit = cfg->bootenv.bootlimit };
		snprintf(bs.boot_slot, sizeof(bs.boot_slot), "%s", g->booted.id);
		force = force || !boot_state_usable(g);
		rc = bootctl_init_config(cfg, &bs, force, e);
	}
	if (rc == 0) {
		record_booted_good(g);
		rc = save(g, ST_IDLE, e);
	}
	if (rc == 0)
		log_info("boot state initialised: %s (version %s) boots, no trial", g->booted.id,
			 g->booted.version[0] ? g->booted.version : "?");
	engine_close(g);
	return rc;
}

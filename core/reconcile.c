/* Boot-time reconciliation: the persisted state brought in line with the boot
 * state (a fallback the bootloader made, a trial boot, a trial settled, an
 * install that was cut). */
#include "engine_priv.h"

#include <stdio.h>
#include <string.h>

#include "../lib/log.h"

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
		engine_record_failed(g, t);
	/* State first: if the boot-state write below is cut, the next start sees
	 * rollback=1 again and repeats this, which is idempotent. */
	rc = engine_save(g, ST_ROLLED_BACK, e);
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
	if ((rc = engine_save(g, ST_FAILED, e)) < 0)
		return rc;
	if (strcmp(next, g->booted.id) != 0) {
		log_info("the next boot pointed at %s: pointing it back at the running %s", next,
			 g->booted.id);
		return g->ops->rollback(g->priv, &g->booted, e);
	}
	if (bs->upgrade_available || strcmp(bs->boot_slot, g->booted.id) != 0) {
		/* boot_slot too: with ostree the next boot comes from the deployment
		 * list, so a cut before the default switched leaves boot_slot naming
		 * a deployment in no boot entry (tests/powercut/sweep.sh ostree install). */
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

/* Cut after the activating env write but before the state write? Not if the
 * bootloader has counted a trial yet booted another system than the next
 * boot we read: it saw an older default (ostree: libostree's /boot/loader
 * swap still only in the ext4 journal, which U-Boot does not replay;
 * docs/boot.md). Going on would spend a trial attempt on a system that never
 * booted. */
bool engine_activation_landed(struct engine *g, const struct bootstate *bs, const char *next)
{
	return bs->upgrade_available && strcmp(next, g->st.op_target) == 0 &&
	       target_verified(g, next) && !(bs->bootcount > 0 && strcmp(g->booted.id, next) != 0);
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
	return engine_save(g, want, e);
}

/* The env says no trial, yet our state expected one: confirmed (running the
 * target, and it boots next), or abandoned (a rollback, or an outside change). */
static int settle_pending(struct engine *g, const char *next, struct error *e)
{
	int rc;

	if (strcmp(g->booted.id, g->st.op_target) == 0 && strcmp(next, g->booted.id) == 0) {
		struct target_record *t = state_target(&g->st, g->booted.id, true);
		if (t)
			engine_confirm_target(g, t);
		g->st.last_error[0] = '\0';
		rc = engine_save(g, ST_COMMITTED, e);
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
	return engine_save(g, ST_ROLLED_BACK, e);
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
	if ((rc = engine_reconcile_staged(g, &bs, next, e)) != 0)
		return rc < 0 ? rc : 0;
	if (state_in_progress(g->st.state) && !engine_activation_landed(g, &bs, next))
		return mark_interrupted(g, &bs, next, e);
	/* A backend whose next boot is not boot_slot alone may have to bring the
	 * two back in line first (backend.h, align_boot). */
	if (g->ops->align_boot &&
	    (rc = g->ops->align_boot(g->priv, &g->booted, &g->st, &bs, next, e)) < 0)
		return rc;
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
		return engine_save(g, ST_ROLLED_BACK, e);
	}
	if (strcmp(g->booted.id, next) != 0 && g->st.state == ST_ROLLED_BACK)
		log_info("running %s; the next boot starts %s (rolled back)", g->booted.id, next);
	else if (strcmp(g->booted.id, next) != 0)
		log_warn("running %s, but the next boot is set to %s", g->booted.id, next);
	return 0;
}

/* The user's end of a trial: mark-good confirms it, rollback rejects it (or
 * cancels a pending update, or boots the previous confirmed system). */
#include "engine_priv.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "../lib/log.h"

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
		engine_confirm_target(g, t);
	g->st.last_error[0] = '\0';
	if ((rc = engine_save(g, ST_COMMITTED, e)) < 0)
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

	if (to->recovery)
		return g->ops->rollback(g->priv, to, e);

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
	if (g->st.state == ST_STAGED)
		return engine_cancel_staged(g, e);
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
			engine_record_failed(g, t);
	}
	log_info("%s; the next boot starts %s", g->st.last_error, to.id);
	return engine_save(g, ST_ROLLED_BACK, e);
}

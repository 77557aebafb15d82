/* Boot-time apply: `stage` runs install's steps up to the write and leaves
 * the release with the backend; `apply-staged`, which the ramdisk runs
 * before it mounts the root, checks it again and runs install's steps from
 * the write on. The boot state's apply_staged asks the ramdisk to run it;
 * the state file's op_source names what the backend keeps
 * (docs/state-machine.md, "Staged updates"). */
#include "engine_priv.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "../lib/fault.h"
#include "../lib/log.h"

/* Withdraws the request (when the boot state holds one) and drops what the
 * backend keeps; op_source is cleared for the caller's next save. The
 * request goes first: a cut between leaves a kept release nothing asks for,
 * which the next reconciliation drops. */
static int drop(struct engine *g, bool requested, struct error *e)
{
	int rc = 0;

	if (requested)
		rc = bootctl_set_staged(g->boot, false, e);
	if (rc == 0 && g->st.op_source[0] && g->ops->unstage)
		rc = g->ops->unstage(g->priv, e);
	if (rc == 0)
		g->st.op_source[0] = '\0';
	return rc;
}

int engine_drop_staged(struct engine *g, struct error *e)
{
	struct bootstate bs;
	int rc = bootctl_read(g->boot, &bs, e);

	if (rc == 0 && (bs.apply_staged || g->st.op_source[0])) {
		log_info("dropping the staged version %s", g->st.op_version[0] ? g->st.op_version : "?");
		rc = drop(g, bs.apply_staged, e);
	}
	return rc;
}

/* apply-staged died during an install step. If its activating write went
 * through and the new system boots next, the engine carries on as after an
 * install's (0; engine_activation_landed: not when the bootloader counted a
 * trial yet booted the old system). Anything short of that goes back to
 * `staged` with the request on and no trial: the next boot's apply-staged
 * does it again (the backend removes what the cut run left half written). */
static int resume_apply(struct engine *g, struct bootstate *bs, const char *next, struct error *e)
{
	struct target_record *t = state_target(&g->st, g->st.op_target, false);
	int rc;

	if (strcmp(bs->boot_slot, g->st.op_target) == 0 && engine_activation_landed(g, bs, next))
		return 0;
	log_warn("apply-staged of version %s was interrupted during %s (power cut or killed); "
		 "the next apply-staged starts it again",
		 g->st.op_version[0] ? g->st.op_version : "?", state_name(g->st.state));
	if (t && t->status != TS_GOOD)
		t->status = TS_INCOMPLETE;
	/* State first: cut before the boot-state write, the next start finds
	 * `staged` and asks for the apply again (below). */
	if ((rc = engine_save(g, ST_STAGED, e)) < 0)
		return rc;
	if (bs->upgrade_available || bs->bootcount || strcmp(bs->boot_slot, g->booted.id) != 0 ||
	    !bs->apply_staged)
		rc = bootctl_restage(g->boot, g->booted.id, e);
	return rc < 0 ? rc : 1;
}

int engine_reconcile_staged(struct engine *g, struct bootstate *bs, const char *next,
			    struct error *e)
{
	int rc;

	if (state_in_progress(g->st.state) && g->st.op_source[0])
		return resume_apply(g, bs, next, e);
	if (g->st.state == ST_STAGED) {
		if (bs->apply_staged)
			return 0;
		/* stage was cut between its state save and the request. */
		log_info("version %s is staged, the boot state did not ask for it yet: asking now",
			 g->st.op_version);
		rc = bootctl_set_staged(g->boot, true, e);
		bs->apply_staged = rc == 0;
		return rc < 0 ? rc : 0;
	}
	if (!bs->apply_staged && !g->st.op_source[0])
		return 0;
	/* Applied, refused or cancelled, and cut before the clean-up ended. */
	if ((rc = drop(g, bs->apply_staged, e)) < 0)
		return rc;
	bs->apply_staged = 0;
	return engine_save(g, g->st.state, e);
}

int engine_stage(struct engine *g, const char *source, struct error *e)
{
	struct system_info target = {0};
	struct release rel = {0};
	int rc;

	if (!g->ops->stage)
		return err_set(e, UPD_EXIT_USAGE, ENOTSUP,
			       "stage: the %s backend cannot stage an update (backends that can: %s)",
			       g->ops->name, backend_stage_list());
	if ((rc = engine_reconcile(g, e)) < 0)
		return rc;
	/* Applied at the next boot, it would stand in for the pending one. */
	if (g->st.state == ST_ACTIVATED)
		return err_set(e, UPD_EXIT_BUSY, EBUSY,
			       "stage: version %s on %s is installed and boots next: reboot into it, "
			       "or 'updater rollback' to cancel it",
			       g->st.op_version, g->st.op_target);
	if ((rc = engine_begin(g, "stage", &target, e)) < 0)
		return rc;
	if ((rc = engine_save(g, ST_FETCH, e)) == 0 &&
	    (rc = engine_fetch_verified(g, source, &target, &rel, e)) == 0 &&
	    (rc = g->ops->stage(g->priv, g->st.op_source, sizeof(g->st.op_source), e)) == 0)
		rc = engine_save(g, ST_STAGED, e);
	if (rc < 0)
		return engine_fail(g, rc, e);
	if ((rc = bootctl_set_staged(g->boot, true, e)) < 0)
		return rc;
	log_info("version %s is staged (%s): the next boot applies it ('updater apply-staged' in "
		 "the ramdisk); 'updater rollback' cancels it",
		 rel.version, g->st.op_source);
	return 0;
}

/* The staged release again, as an install's fetch and verify would take it:
 * what the backend kept, the policy of today, the signature. */
static int reverify(struct engine *g, struct system_info *target, struct release *rel,
		    struct error *e)
{
	int rc;

	if (!g->ops->load_staged)
		return err_set(e, UPD_EXIT_USAGE, ENOTSUP, "apply-staged: the %s backend cannot stage",
			       g->ops->name);
	if ((rc = g->ops->target(g->priv, target, e)) < 0 ||
	    (rc = g->ops->load_staged(g->priv, g->st.op_source, rel, e)) < 0)
		return rc;
	if (strcmp(rel->version, g->st.op_version) != 0)
		return err_set(e, UPD_EXIT_VERIFY, EBADMSG,
			       "apply-staged: the staged release is version %s now, %s when it was "
			       "staged",
			       rel->version, g->st.op_version);
	if ((rc = engine_check_policy(g, rel, e)) < 0)
		return rc;
	return g->ops->verify(g->priv, target, e);
}

/* A refusal or a failure: `failed` with the reason first, then the request
 * withdrawn and the release dropped (a cut between: the next start drops
 * them). e keeps the original error; the clean-up's are only logged. */
static int apply_failed(struct engine *g, int rc, struct error *e)
{
	struct error e2 = {0};

	/* Not recorded, not withdrawn: the next boot tries again. */
	snprintf(g->st.last_error, sizeof(g->st.last_error), "%s", e->msg);
	if (engine_save(g, ST_FAILED, &e2) < 0 || engine_drop_staged(g, &e2) < 0 ||
	    engine_save(g, ST_FAILED, &e2) < 0)
		log_error("%s", e2.msg);
	else
		log_info("apply-staged did not apply version %s: the device boots what it had",
			 g->st.op_version);
	return rc;
}

int engine_apply_staged(struct engine *g, struct error *e)
{
	struct system_info target = {0};
	struct release rel = {0};
	int rc;

	if ((rc = engine_reconcile(g, e)) < 0)
		return rc;
	if (g->st.state != ST_STAGED) {
		/* An apply cut after its activation: what it kept goes now. */
		if (g->st.op_source[0] &&
		    ((rc = engine_drop_staged(g, e)) < 0 || (rc = engine_save(g, g->st.state, e)) < 0))
			return rc;
		log_info("apply-staged: nothing is staged (state %s)", state_name(g->st.state));
		return 0;
	}
	snprintf(g->st.op_from, sizeof(g->st.op_from), "%s", g->booted.id);
	g->st.last_error[0] = '\0';
	if ((rc = reverify(g, &target, &rel, e)) < 0)
		return apply_failed(g, rc, e);
	snprintf(g->st.op_target, sizeof(g->st.op_target), "%s", target.id);
	if ((rc = engine_write_release(g, &rel, &target, e)) < 0)
		return apply_failed(g, rc, e);
	/* The activating write withdrew the request; the kept release goes. */
	fault_point("unstage");
	if ((rc = drop(g, false, e)) == 0)
		rc = engine_save(g, ST_ACTIVATED, e);
	return rc;
}

int engine_cancel_staged(struct engine *g, struct error *e)
{
	struct bootstate bs;
	int rc;

	snprintf(g->st.last_error, sizeof(g->st.last_error),
		 "staged update to version %s (%s) cancelled by 'updater rollback'", g->st.op_version,
		 g->st.op_source);
	log_info("%s; the next boot starts %s as before", g->st.last_error, g->booted.id);
	/* State first: cut before the request is withdrawn, the next start
	 * withdraws it (engine_reconcile_staged). */
	if ((rc = engine_save(g, ST_ROLLED_BACK, e)) < 0 || (rc = bootctl_read(g->boot, &bs, e)) < 0 ||
	    (rc = drop(g, bs.apply_staged, e)) < 0)
		return rc;
	return engine_save(g, ST_ROLLED_BACK, e);
}

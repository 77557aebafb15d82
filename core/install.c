/* install and check: the steps of an install, each persisted before its work. */
#include "engine_priv.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "../hooks/hooks.h"
#include "../lib/log.h"

int engine_fail(struct engine *g, int rc, struct error *e)
{
	struct error e2 = {0};
	snprintf(g->st.last_error, sizeof(g->st.last_error), "%s", e->msg);
	if (engine_save(g, ST_FAILED, &e2) < 0)
		log_error("%s", e2.msg);
	return rc;
}

static int refuse_if_busy(struct engine *g, const char *cmd, const struct system_info *target,
			  struct error *e)
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
			       "%s: the booted system (%s, version %s) is on trial: run "
			       "'updater mark-good' or 'updater rollback' first (the other slot is "
			       "its fallback)",
			       cmd, g->booted.id, g->booted.version);
	/* Writing the system that boots next would leave a half-written system
	 * as the default if power were cut. Not when it is the running system
	 * itself (single-copy's one root): that is no pending update, and its
	 * backend points the next boot away before it writes. */
	if (strcmp(next, target->id) == 0 && strcmp(target->id, g->booted.id) != 0)
		return err_set(e, UPD_EXIT_BUSY, EBUSY,
			       "%s: %s is set to boot next (version %s pending): reboot into it, "
			       "or 'updater rollback' to cancel it",
			       cmd, target->id, g->st.op_version[0] ? g->st.op_version : "?");
	return 0;
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
	rc = engine_save(g, ST_INSTALL, e);
	g->u.install_summary[0] = '\0';
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
	return engine_save(g, ST_POST_INSTALL, e);
}

/* The booted image's id, for a backend that fetches a delta for it: where
 * it cannot be told, the install goes on without (a debug line says why). */
static void find_booted_image(struct engine *g)
{
	struct error ie = {0};

	g->u.booted_image[0] = '\0';
	if (g->u.full_install || engine_booted_image(g, g->u.booted_image, &ie) == 0)
		return;
	g->u.booted_image[0] = '\0';
	if (ie.msg[0])
		log_debug("the booted image's id: %s", ie.msg);
}

int engine_fetch_verified(struct engine *g, const char *source, struct system_info *target,
			  struct release *out, struct error *e)
{
	struct release rel = {0};
	int rc;

	if ((rc = g->ops->fetch(g->priv, source, &rel, e)) < 0)
		return rc;
	snprintf(g->st.op_version, sizeof(g->st.op_version), "%s", rel.version);
	/* Policy on the metadata before any bulk download: refusing early is safe
	 * even before the signature check, which alone may accept. */
	if ((rc = engine_check_policy(g, &rel, e)) < 0)
		return rc;
	if (g->ops->download && (rc = g->ops->download(g->priv, e)) < 0)
		return rc;
	find_booted_image(g);
	if ((rc = engine_save(g, ST_VERIFY, e)) < 0 || (rc = g->ops->verify(g->priv, target, e)) < 0)
		return rc;
	*out = rel;
	return 0;
}

int engine_write_release(struct engine *g, const struct release *r, struct system_info *target,
			 struct error *e)
{
	struct release rel = *r;
	int rc;

	log_info("installing version %s to %s (%s)", rel.version, target->id, target->path);
	if ((rc = engine_save(g, ST_PRE_INSTALL, e)) < 0 ||
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
	rc = engine_save(g, ST_ACTIVATED, e);
	if (rc == 0)
		log_info("version %s is installed on %s%s%s%s and boots next, on trial: reboot, then "
			 "'updater mark-good' once healthy",
			 rel.version, target->id, *g->u.install_summary ? " (" : "",
			 g->u.install_summary, *g->u.install_summary ? ")" : "");
	return rc;
}

static int install_steps(struct engine *g, const char *source, struct system_info *target,
			 struct error *e)
{
	struct release rel = {0};
	int rc = engine_fetch_verified(g, source, target, &rel, e);

	return rc < 0 ? rc : engine_write_release(g, &rel, target, e);
}

int engine_begin(struct engine *g, const char *cmd, struct system_info *target, struct error *e)
{
	int rc;

	if ((rc = g->ops->target(g->priv, target, e)) < 0 ||
	    (rc = refuse_if_busy(g, cmd, target, e)) < 0 || (rc = engine_drop_staged(g, e)) < 0)
		return rc;
	engine_record_booted_good(g);
	snprintf(g->st.op_target, sizeof(g->st.op_target), "%s", target->id);
	snprintf(g->st.op_from, sizeof(g->st.op_from), "%s", g->booted.id);
	g->st.op_version[0] = '\0';
	g->st.last_error[0] = '\0';
	return 0;
}

int engine_install(struct engine *g, const char *source, struct error *e)
{
	struct system_info target = {0};
	int rc;

	if ((rc = engine_reconcile(g, e)) < 0 ||
	    (g->ops->can_install && (rc = g->ops->can_install(g->priv, &g->booted, e)) < 0) ||
	    (rc = engine_begin(g, "install", &target, e)) < 0)
		return rc;
	rc = engine_save(g, ST_FETCH, e);
	if (rc == 0)
		rc = install_steps(g, source, &target, e);
	return rc < 0 ? engine_fail(g, rc, e) : 0;
}

int engine_check(struct engine *g, const char *source, struct release *rel, struct error *e)
{
	struct system_info target = {0};
	int rc;

	if ((rc = engine_reconcile(g, e)) < 0 || (rc = g->ops->fetch(g->priv, source, rel, e)) < 0 ||
	    (rc = engine_check_offered(g, rel, e)) != 0)
		return rc;
	if ((rc = g->ops->target(g->priv, &target, e)) < 0 ||
	    (rc = g->ops->verify(g->priv, &target, e)) < 0)
		return rc;
	return engine_check_policy(g, rel, e);
}

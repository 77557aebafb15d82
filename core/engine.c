/* The engine's object: opening it (backend, state lock, state, boot control),
 * the persisted state transition every step goes through, status and init.
 * The state machine itself is spread by concern: reconcile.c (boot-time
 * reconciliation), install.c (install, check), policy.c (the rules on a
 * release), trial.c (mark-good, rollback). */
#include "engine_priv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/fault.h"
#include "../lib/log.h"
#include "../lib/progress.h"
#include "../lib/sysinfo.h"
#include "../lib/trust.h"

int engine_save(struct engine *g, enum upd_state s, struct error *e)
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
				     .verify_readback = opts->verify_readback,
				     .full_install = opts->full_install };
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

/* The running system has proven it boots: record it so that a later rollback
 * to it is allowed. */
void engine_record_booted_good(struct engine *g)
{
	struct target_record *t = state_target(&g->st, g->booted.id, true);
	if (t && t->status == TS_EMPTY) {
		t->status = TS_GOOD;
		snprintf(t->version, sizeof(t->version), "%s", g->booted.version);
	}
}

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
	if (g->st.state == ST_STAGED) {
		out->has_staged = true;
		snprintf(out->staged_version, sizeof(out->staged_version), "%s", g->st.op_version);
		snprintf(out->staged_source, sizeof(out->staged_source), "%s", g->st.op_source);
		out->staged_since = g->st.updated;
	}
	out->boot_ok = g->boot && bootctl_read(g->boot, &out->boot, &be) == 0;
	if (!out->boot_ok)
		snprintf(out->boot_error, sizeof(out->boot_error), "%s", g->boot ? be.msg : g->env_error);
	(void)e;
	return 0;
}

int engine_booted_image(struct engine *g, char hex[65], struct error *e)
{
	if (!g->priv || !g->ops->booted_image || !g->booted.id[0])
		return -ENOTSUP;
	return g->ops->booted_image(g->priv, &g->booted, state_target_find(&g->st, g->booted.id),
				    hex, e);
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

/* A factory image becomes the updater's own record (backend_ops.adopt_booted),
 * unless the updater installed what runs and recorded it already. */
static void adopt_booted(struct engine *g)
{
	struct target_record *t = state_target(&g->st, g->booted.id, false);
	struct error ae = { 0 };
	uint64_t size = 0;
	char hex[65];

	if (!t || !g->priv || !g->ops->adopt_booted || strlen(t->digest) == 64)
		return;
	if (g->ops->adopt_booted(g->priv, &g->booted, hex, &size, &ae) < 0) {
		log_warn("%s; the first update reads the running system to learn its image", ae.msg);
		return;
	}
	snprintf(t->digest, sizeof(t->digest), "%s", hex);
	t->size = size;
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
		engine_record_booted_good(g);
		adopt_booted(g);
		rc = engine_save(g, ST_IDLE, e);
	}
	if (rc == 0)
		log_info("boot state initialised: %s (version %s) boots, no trial", g->booted.id,
			 g->booted.version[0] ? g->booted.version : "?");
	engine_close(g);
	return rc;
}

/* The core's policy on a release (board, security floor, failed releases,
 * downgrade) and the records it keeps (confirmed systems, failed releases). */
#include "engine_priv.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../lib/log.h"
#include "../lib/version.h"

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
void engine_confirm_target(struct engine *g, struct target_record *t)
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
void engine_record_failed(struct engine *g, struct target_record *t)
{
	t->status = TS_BAD;
	snprintf(g->st.trial_failure, sizeof(g->st.trial_failure), "%s", g->st.last_error);
	if (t->identity[0])
		state_failed_add(&g->st, t->identity, t->version, (int64_t)time(NULL));
	else
		log_debug("%s: no release identity recorded; not remembered as failed", t->id);
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
int engine_check_policy(struct engine *g, const struct release *rel, struct error *e)
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

/* Up to date (rc 1): not newer than the running, the pending or the highest
 * confirmed version, or a release that failed on this device. */
int engine_check_offered(struct engine *g, const struct release *rel, struct error *e)
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

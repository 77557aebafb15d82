/* `updater status`: for people (aligned text) and machines (--json). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "../lib/json.h"
#include "../lib/log.h"

static bool on_trial(const struct engine_status *s)
{
	return s->boot_ok && s->boot.upgrade_available && s->state == ST_TRIAL;
}

/* Every label in one column, as wide as the longest ("last failed trial:"). */
#define LABEL "%-19s"

/* The systems' ids padded to the longest: ostree's are 14 characters. */
static int id_width(const struct update_state *r)
{
	int w = 1;

	for (int i = 0; i < r->n_targets; i++)
		if ((int)strlen(r->targets[i].id) > w)
			w = (int)strlen(r->targets[i].id);
	return w;
}

static void print_records(const struct update_state *r)
{
	for (int i = 0; i < r->n_targets; i++)
		printf(LABEL "%-*s %s, version %s\n", "system:", id_width(r), r->targets[i].id,
		       target_status_name(r->targets[i].status),
		       r->targets[i].version[0] ? r->targets[i].version : "unknown");
	printf(LABEL "%s\n", "last error:", r->last_error[0] ? r->last_error : "none");
	if (r->trial_failure[0])
		printf(LABEL "%s\n", "last failed trial:", r->trial_failure);
	printf(LABEL "%" PRIu64 "\n", "security floor:", r->security_floor);
	for (int i = 0; i < r->n_failed; i++) {
		char when[32];
		state_time_iso(r->failed[i].when, when, sizeof(when));
		printf(LABEL "version %s at %s (identity %.12s)\n", "failed here:",
		       r->failed[i].version, when, r->failed[i].identity);
	}
}

static void print_text(const struct engine_status *s)
{
	printf(LABEL "%s\n", "backend:", s->backend);
	printf(LABEL "%s%s\n", "state:", state_name(s->state),
	       s->busy ? " (another updater is running; this view may lag)" : "");
	printf(LABEL "%s (version %s)\n", "booted:", s->booted.id,
	       s->booted.version[0] ? s->booted.version : "unknown");
	if (s->booted.recovery)
		printf(LABEL "this is the recovery mode: 'updater install URL|FILE' (or 'updater "
		       "stage', then 'updater apply-staged') installs a release\n", "recovery:");
	if (s->has_pending)
		printf(LABEL "%s (version %s), boots next on trial\n", "pending:", s->pending.id,
		       s->pending.version);
	else
		printf(LABEL "none\n", "pending:");
	if (s->has_staged) {
		char since[32];
		state_time_iso(s->staged_since, since, sizeof(since));
		printf(LABEL "version %s (%s) since %s; the next boot applies it\n", "staged:",
		       s->staged_version, s->staged_source, since);
	}
	if (on_trial(s))
		printf(LABEL "boot attempt %d of %d; 'updater mark-good' confirms it\n", "trial:",
		       s->boot.bootcount, s->boot.bootlimit);
	if (s->boot_ok)
		printf(LABEL "boot_slot=%s upgrade_available=%d bootcount=%d bootlimit=%d "
		       "rollback=%d apply_staged=%d\n",
		       "boot env:", s->boot.boot_slot, s->boot.upgrade_available, s->boot.bootcount,
		       s->boot.bootlimit, s->boot.rollback, s->boot.apply_staged);
	else
		printf(LABEL "unreadable: %s\n", "boot env:", s->boot_error);
	print_records(s->records);
}

static void print_system(const char *key, const struct system_info *si)
{
	printf("\"%s\":{\"slot\":", key);
	json_string(stdout, si->id);
	printf(",\"version\":");
	json_string(stdout, si->version[0] ? si->version : NULL);
	printf("}");
}

/* "staged": what the next boot applies, or null. */
static void print_staged(const struct engine_status *s)
{
	char since[32];

	if (!s->has_staged) {
		printf(",\"staged\":null");
		return;
	}
	state_time_iso(s->staged_since, since, sizeof(since));
	printf(",\"staged\":{\"version\":");
	json_string(stdout, s->staged_version);
	printf(",\"source\":");
	json_string(stdout, s->staged_source);
	printf(",\"since\":\"%s\"}", since);
}

/* image: the booted image's id, "" when it could not be read, NULL when the
 * backend has none (no key then). */
static void print_json(const struct engine_status *s, const char *image)
{
	const struct update_state *r = s->records;

	printf("{\"backend\":");
	json_string(stdout, s->backend);
	printf(",\"state\":\"%s\",\"busy\":%s,", state_name(s->state), s->busy ? "true" : "false");
	print_system("booted", &s->booted);
	if (image) {
		printf(",\"booted_image_sha256\":");
		json_string(stdout, image[0] ? image : NULL);
	}
	if (s->has_pending)
		printf(","), print_system("pending", &s->pending);
	else
		printf(",\"pending\":null");
	print_staged(s);
	printf(",\"trial\":%s,\"recovery_mode\":%s", on_trial(s) ? "true" : "false",
	       s->booted.recovery ? "true" : "false");
	if (s->boot_ok) {
		printf(",\"boot_env\":{\"boot_slot\":");
		json_string(stdout, s->boot.boot_slot);
		printf(",\"upgrade_available\":%d,\"bootcount\":%d,\"bootlimit\":%d,\"rollback\":%d,"
		       "\"apply_staged\":%d}",
		       s->boot.upgrade_available, s->boot.bootcount, s->boot.bootlimit,
		       s->boot.rollback, s->boot.apply_staged);
	} else {
		printf(",\"boot_env\":null,\"boot_env_error\":");
		json_string(stdout, s->boot_error);
	}
	printf(",\"targets\":[");
	for (int i = 0; i < r->n_targets; i++) {
		printf("%s{\"id\":", i ? "," : "");
		json_string(stdout, r->targets[i].id);
		printf(",\"status\":\"%s\",\"version\":", target_status_name(r->targets[i].status));
		json_string(stdout, r->targets[i].version[0] ? r->targets[i].version : NULL);
		printf("}");
	}
	printf("],\"last_error\":");
	json_string(stdout, r->last_error[0] ? r->last_error : NULL);
	printf(",\"trial_failure\":");
	json_string(stdout, r->trial_failure[0] ? r->trial_failure : NULL);
	printf(",\"security_floor\":%" PRIu64 ",\"confirmed_version\":", r->security_floor);
	json_string(stdout, r->confirmed_version[0] ? r->confirmed_version : NULL);
	printf(",\"failed_releases\":[");
	for (int i = 0; i < r->n_failed; i++) {
		char when[32];
		state_time_iso(r->failed[i].when, when, sizeof(when));
		printf("%s{\"identity\":", i ? "," : "");
		json_string(stdout, r->failed[i].identity);
		printf(",\"version\":");
		json_string(stdout, r->failed[i].version);
		printf(",\"time\":\"%s\"}", when);
	}
	printf("]}\n");
}

int cli_status(struct engine *g, bool json, struct error *e)
{
	struct engine_status s;
	int rc = engine_status(g, &s, e);
	if (rc < 0)
		return e->exit ? e->exit : UPD_EXIT_OTHER;
	if (json) {
		char image[65] = "";
		struct error ie = { 0 };
		int irc = engine_booted_image(g, image, &ie);
		if (irc < 0 && irc != -ENOTSUP)
			log_warn("booted image id: %s", ie.msg);
		print_json(&s, irc == -ENOTSUP ? NULL : irc < 0 ? "" : image);
	} else {
		print_text(&s);
	}
	return UPD_EXIT_OK;
}

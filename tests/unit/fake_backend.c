/* The fake backend of the engine tests (engine_fixture.h). */
#include "engine_fixture.h"

struct fake F;

static void note(const char *call)
{
	size_t n = strlen(F.calls);
	snprintf(F.calls + n, sizeof(F.calls) - n, "%s%s", n ? " " : "", call);
}

/* What <state_dir>/state says right now (the empty string if it is missing). */
static void snap_state(char *buf, size_t size)
{
	char *text = tu_read_file(F.state_file, NULL);
	snprintf(buf, size, "%s", text ? text : "");
	free(text);
}

const char *other(const char *slot)
{
	return strcmp(slot, "A") == 0 ? "B" : "A";
}

/* priv is the engine's updater_ctx: two engines may be open at once. */
static int fk_open(struct updater_ctx *u, void **priv, struct error *e)
{
	(void)e;
	F.n_open++;
	*priv = u;
	return 0;
}

static void fk_close(void *priv)
{
	(void)priv;
	F.n_close++;
}

static int fk_booted(void *priv, struct system_info *out, struct error *e)
{
	(void)priv, (void)e;
	snprintf(out->id, sizeof(out->id), "%s", F.booted);
	snprintf(out->version, sizeof(out->version), "%s", F.booted_version);
	snprintf(out->path, sizeof(out->path), "/dev/fake-%s", F.booted);
	return 0;
}

/* Like dual-bank: boot_slot from the boot environment the engine opened. */
static int fk_next_boot(void *priv, char *id, size_t size, struct error *e)
{
	struct updater_ctx *u = priv;
	char *v = bootctl_get(u->boot, "boot_slot");
	if (!v)
		return err_set(e, UPD_EXIT_OTHER, EBADMSG, "fake: boot_slot is missing");
	snprintf(id, size, "%s", v);
	free(v);
	return 0;
}

/* The scripted release, as fetch and load_staged return it. */
static void offer(struct release *out)
{
	*out = F.rel;
	/* Another version is another manifest: another identity. */
	if (!out->identity[0])
		snprintf(out->identity, sizeof(out->identity), "manifest-of-%s", out->version);
}

static int fk_fetch(void *priv, const char *source, struct release *out, struct error *e)
{
	(void)priv;
	note("fetch");
	snprintf(F.source, sizeof(F.source), "%s", source ? source : "(null)");
	if (!source)
		source = DEFAULT_URL; /* like dual-bank's server.url */
	snap_state(F.at_fetch, sizeof(F.at_fetch));
	if (F.fail_fetch)
		return F.fetch_error[0]
			       ? err_set(e, UPD_EXIT_DOWNLOAD, ENOENT, "%s", F.fetch_error)
			       : err_set(e, UPD_EXIT_DOWNLOAD, EIO, "download %s: HTTP 503 (fake)", source);
	offer(out);
	snprintf(out->origin, sizeof(out->origin), "%s", source);
	return 0;
}

static int fk_download(void *priv, struct error *e)
{
	(void)priv;
	note("download");
	if (F.fail_download)
		return err_set(e, UPD_EXIT_DOWNLOAD, ETIMEDOUT, "download %s: no data for 30 s (fake)",
			       F.source);
	return 0;
}

static int fk_verify(void *priv, const struct system_info *target, struct error *e)
{
	(void)priv;
	note("verify");
	snprintf(F.verify_target, sizeof(F.verify_target), "%s", target->id);
	snap_state(F.at_verify, sizeof(F.at_verify));
	if (F.fail_verify)
		return err_set(e, UPD_EXIT_VERIFY, EBADMSG, "verify %s: bad signature (fake)", F.source);
	return 0;
}

/* What target and previous name: the slot not booted (the fake has two). */
static int fk_other(const char *call, struct system_info *out)
{
	note(call);
	snprintf(out->id, sizeof(out->id), "%s", other(F.booted));
	snprintf(out->path, sizeof(out->path), "/dev/fake-%s", out->id);
	return 0;
}

static int fk_target(void *priv, struct system_info *out, struct error *e)
{
	(void)priv, (void)e;
	if (!F.one_system)
		return fk_other("target", out);
	note("target");
	snprintf(out->id, sizeof(out->id), "%s", F.booted);
	snprintf(out->path, sizeof(out->path), "/dev/fake-%s", out->id);
	return 0;
}

static int fk_previous(void *priv, struct system_info *out, struct error *e)
{
	(void)priv, (void)e;
	out->recovery = F.previous_recovery;
	return fk_other("previous", out);
}

static int fk_install(void *priv, struct system_info *target, struct error *e)
{
	(void)priv;
	note("install");
	snprintf(F.install_target, sizeof(F.install_target), "%s", target->id);
	snap_state(F.at_install, sizeof(F.at_install));
	if (F.cut_in_install) {
		F.cut = true; /* the process dies here: nothing after reaches the storage */
		return err_set(e, UPD_EXIT_OTHER, EIO, "power cut (fake)");
	}
	if (F.fail_install)
		return err_set(e, UPD_EXIT_NOSPACE, EFBIG,
			       "image of 9999 bytes does not fit slot %s (fake)", target->id);
	if (F.rename_to[0]) {
		snprintf(target->id, sizeof(target->id), "%s", F.rename_to);
		snprintf(target->path, sizeof(target->path), "/dev/fake-%s", F.rename_to);
	}
	return 0;
}

static int fk_activate(void *priv, const struct system_info *target, struct error *e)
{
	struct updater_ctx *u = priv;
	note("activate");
	snprintf(F.activate_target, sizeof(F.activate_target), "%s", target->id);
	snap_state(F.at_activate, sizeof(F.at_activate));
	char *slot = bootctl_get(u->boot, "boot_slot"), *ua = bootctl_get(u->boot, "upgrade_available");
	snprintf(F.env_at_activate, sizeof(F.env_at_activate), "%s %s", slot ? slot : "?",
		 ua ? ua : "?");
	free(slot);
	free(ua);
	if (F.fail_activate || (F.cut && F.cut_stops_backend))
		return err_set(e, UPD_EXIT_OTHER, EIO, "boot environment: cannot write (fake)");
	F.n_activate++;
	int rc = bootctl_set_next(u->boot, target->id, true, e);
	if (rc == 0 && F.cut_after_activate) {
		F.cut = true;
		return err_set(e, UPD_EXIT_OTHER, EIO, "power cut after the activating write (fake)");
	}
	return rc;
}

static int fk_stage(void *priv, char *token, size_t size, struct error *e)
{
	(void)priv, (void)e;
	note("stage");
	F.n_stage++;
	F.staged_held = true;
	snprintf(token, size, "fake-kept %s", F.rel.version);
	return 0;
}

static int fk_load_staged(void *priv, const char *token, struct release *out, struct error *e)
{
	char want[80];
	(void)priv;
	note("load_staged");
	F.n_load_staged++;
	snprintf(want, sizeof(want), "fake-kept %s", F.rel.version);
	if (F.fail_load_staged || !F.staged_held || strcmp(token, want) != 0)
		return err_set(e, UPD_EXIT_VERIFY, EBADMSG, "staged release changed after staging (fake)");
	offer(out);
	return 0;
}

static int fk_unstage(void *priv, struct error *e)
{
	(void)priv;
	note("unstage");
	if (F.cut_in_unstage || (F.cut && F.cut_stops_backend)) {
		F.cut = true;
		return err_set(e, UPD_EXIT_OTHER, EIO, "power cut in unstage (fake)");
	}
	F.n_unstage++;
	F.staged_held = false;
	return 0;
}

static int fk_finish_fallback(void *priv, const struct system_info *booted, struct error *e)
{
	struct updater_ctx *u = priv;
	note("finish_fallback");
	snprintf(F.finished, sizeof(F.finished), "%s", booted->id);
	if (F.fail_finish)
		return err_set(e, UPD_EXIT_OTHER, EIO, "boot environment: cannot write (fake)");
	return bootctl_finish_fallback(u->boot, booted->id, e);
}

static int fk_rollback(void *priv, const struct system_info *to, struct error *e)
{
	struct updater_ctx *u = priv;
	note("rollback");
	snprintf(F.rolled_to, sizeof(F.rolled_to), "%s", to->id);
	snprintf(F.rolled_version, sizeof(F.rolled_version), "%s", to->version);
	if (F.fail_rollback)
		return err_set(e, UPD_EXIT_OTHER, EIO, "boot environment: cannot write (fake)");
	return bootctl_set_next(u->boot, to->id, false, e);
}

static int fk_confirm(void *priv, struct error *e)
{
	(void)priv, (void)e;
	note("confirm");
	F.n_confirm++;
	return 0;
}

static const struct backend_ops fake_ops = {
	.name = "fake",
	.open = fk_open,
	.close = fk_close,
	.booted = fk_booted,
	.next_boot = fk_next_boot,
	.fetch = fk_fetch,
	.download = fk_download,
	.verify = fk_verify,
	.target = fk_target,
	.previous = fk_previous,
	.install = fk_install,
	.activate = fk_activate,
	.finish_fallback = fk_finish_fallback,
	.rollback = fk_rollback,
	.stage = fk_stage,
	.load_staged = fk_load_staged,
	.unstage = fk_unstage,
	.confirm = fk_confirm,
};


const struct backend_ops *__real_backend_find(const char *name);
const struct backend_ops *__wrap_backend_find(const char *name);
int __real_state_save(const char *dir, struct update_state *s, struct error *e);
int __wrap_state_save(const char *dir, struct update_state *s, struct error *e);

const struct backend_ops *__wrap_backend_find(const char *name)
{
	/* Like dual-bank: no stage op. */
	static struct backend_ops nostage;

	if (strcmp(name, "fake") != 0)
		return __real_backend_find(name);
	if (!F.no_stage)
		return &fake_ops;
	nostage = fake_ops;
	nostage.stage = NULL;
	nostage.load_staged = NULL;
	nostage.unstage = NULL;
	return &nostage;
}

int __wrap_state_save(const char *dir, struct update_state *s, struct error *e)
{
	if (F.cut)
		return err_set(e, UPD_EXIT_OTHER, EIO, "save update state: power cut (test)");
	int rc = __real_state_save(dir, s, e);
	if (rc < 0)
		return rc;
	char text[4096], name[32] = "?";
	snap_state(text, sizeof(text));
	const char *p = strstr(text, "\nstate=");
	if (p)
		sscanf(p + 7, "%31[^\n]", name);
	size_t n = strlen(F.saves);
	snprintf(F.saves + n, sizeof(F.saves) - n, "%s%s", n ? " " : "", name);
	F.n_saves++;
	if (F.cut_after && F.n_saves == F.cut_after)
		F.cut = true;
	return 0;
}

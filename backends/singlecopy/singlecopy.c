/* Single-copy backend: one root partition, rewritten whole from the ramdisk
 * (`apply-staged`) with a signed dual-bank bundle that `stage` downloaded and
 * verified into state_dir. There is no second system to fall back to: a root
 * that is being written or failed its trial is never booted, the boot state
 * names the ramdisk's recovery mode instead (docs/singlecopy.md). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../lib/fsutil.h"
#include "../../lib/log.h"
#include "../../lib/sysinfo.h"
#include "../image/bundle_image.h"
#include "singlecopy_priv.h"

static bool valid_id(const char *id)
{
	return strcmp(id, SC_ROOT) == 0 || strcmp(id, SC_RECOVERY) == 0;
}

void sc_path(const struct singlecopy *d, const char *name, char *out, size_t size)
{
	snprintf(out, size, "%s/%s", d->cfg->state_dir, name);
}

void sc_head_drop(struct singlecopy *d)
{
	if (d->have_head)
		bundle_head_free(&d->head);
	d->have_head = false;
	d->kept = false;
}

int sc_head_read(struct singlecopy *d, const char *location, struct error *e)
{
	struct source_opts o;
	int rc;

	sc_head_drop(d);
	snprintf(d->source, sizeof(d->source), "%s", location);
	image_source_opts(d->cfg, d->source, &o);
	if ((rc = image_head_read(&o, &d->head, e)) < 0) {
		if (!strstr(e->msg, location))
			err_prefix(e, "fetch %s", location);
		return rc;
	}
	d->have_head = true;
	return 0;
}

/* sc is NULL in a config not made by config_load(): as if it set nothing. */
static int sc_open(struct updater_ctx *u, void **priv, struct error *e)
{
	const struct singlecopy_config *sc = config_section_data(u->cfg, &singlecopy_section);
	const char *missing = !sc || !sc->root		   ? "singlecopy.root"
			      : sc->n_public_keys == 0 ? "singlecopy.public_key"
						       : NULL;
	struct singlecopy *d;

	*priv = NULL;
	if (missing)
		return err_set(e, UPD_EXIT_USAGE, EINVAL,
			       "%s: %s: missing (required by the singlecopy backend)", u->cfg->path,
			       missing);
	if (!(d = calloc(1, sizeof(*d))))
		return err_oom(e, NULL);
	*d = (struct singlecopy){ .u = u, .cfg = u->cfg, .sc = sc };
	*priv = d;
	return 0;
}

static void sc_close(void *priv)
{
	struct singlecopy *d = priv;
	sc_head_drop(d);
	free(d);
}

/* The kernel command line names the system: updater.slot=root (the root,
 * or the ramdisk on its way to it) or updater.slot=recovery (the ramdisk in
 * recovery mode, boot/boot.cmd). Recovery's version counts as 0: any release
 * newer than the highest confirmed here installs from it. */
static int sc_booted(void *priv, struct system_info *out, struct error *e)
{
	static const char *const ids[] = { SC_ROOT, SC_RECOVERY, NULL };
	struct singlecopy *d = priv;
	int rc = cmdline_system(d->cfg->cmdline, "booted system", ids, SC_ROOT " or " SC_RECOVERY,
				out->id, sizeof(out->id), e);

	if (rc < 0)
		return rc;
	if (strcmp(out->id, SC_ROOT) == 0) {
		snprintf(out->path, sizeof(out->path), "%s", d->sc->root);
	} else {
		snprintf(out->version, sizeof(out->version), "0");
		out->recovery = true;
	}
	return 0;
}

static int sc_next_boot(void *priv, char *id, size_t size, struct error *e)
{
	struct singlecopy *d = priv;
	int rc = bootctl_next(d->u->boot, id, size, e);

	if (rc == 0 && !valid_id(id))
		rc = err_set(e, UPD_EXIT_OTHER, EBADMSG,
			     "boot environment: boot_slot=%s is not " SC_ROOT " or " SC_RECOVERY
			     " (run 'updater init' on a factory device)", id);
	return rc;
}

static int sc_target(void *priv, struct system_info *out, struct error *e)
{
	struct singlecopy *d = priv;

	(void)e;
	snprintf(out->id, sizeof(out->id), SC_ROOT);
	snprintf(out->path, sizeof(out->path), "%s", d->sc->root);
	return 0;
}

/* One root: what a rollback boots is recovery mode (a trial rejected by the
 * health checks, or a person), never an older root. */
static int sc_previous(void *priv, struct system_info *out, struct error *e)
{
	(void)priv;
	(void)e;
	*out = (struct system_info){ .recovery = true };
	snprintf(out->id, sizeof(out->id), SC_RECOVERY);
	return 0;
}

/* To recovery mode: the root's release (failed, or rejected) is not booted
 * again and its kept bundle goes. Never to the root itself: cancelling an
 * applied update would boot the new root without a trial. */
static int sc_rollback(void *priv, const struct system_info *to, struct error *e)
{
	struct singlecopy *d = priv;
	int rc;

	if (strcmp(to->id, SC_RECOVERY) != 0)
		return err_set(e, UPD_EXIT_BUSY, EPERM,
			       "rollback: the root already holds the new release; the singlecopy "
			       "backend cannot un-write it: reboot into its trial");
	if ((rc = bootctl_set_next(d->u->boot, SC_RECOVERY, false, e)) < 0)
		return rc;
	return sc_drop_kept(d, e);
}

static int sc_fetch(void *priv, const char *source, struct release *out, struct error *e)
{
	struct singlecopy *d = priv;
	int rc;

	if ((rc = image_source_default(d->cfg, &source, e)) < 0)
		return rc;
	if ((rc = sc_head_read(d, source, e)) < 0)
		return rc;
	/* Deltas written in place over their own source come later. */
	if (bundle_format_is_delta(d->head.manifest.format))
		return err_set(e, UPD_EXIT_VERIFY, EINVAL,
			       "fetch %s: a static delta; the singlecopy backend writes full images",
			       source);
	image_release_fill(&d->head, out);
	snprintf(out->origin, sizeof(out->origin), "%s", source);
	return 0;
}

/* The signature, and that the image fits the root at root_path. */
int sc_check_release(struct singlecopy *d, const char *root_path, struct error *e)
{
	uint64_t size = 0;
	size_t which = 0;
	int rc = bundle_verify_signature(&d->head, d->sc->public_keys, d->sc->n_public_keys,
					 &which, e);
	int fd;

	if (rc < 0) {
		err_prefix(e, "verify %s", d->source);
		return rc;
	}
	if ((fd = open(root_path, O_RDONLY | O_CLOEXEC)) < 0)
		return err_set(e, UPD_EXIT_OTHER, errno, "root %s: %s", root_path, strerror(errno));
	rc = file_or_blockdev_size(fd, &size);
	close(fd);
	if (rc < 0)
		return err_set(e, UPD_EXIT_OTHER, -rc, "root %s: size: %s", root_path,
			       strerror(-rc));
	if (d->head.manifest.image_size > size)
		return err_set(e, UPD_EXIT_NOSPACE, EFBIG,
			       "image of %llu bytes does not fit the root %s (%llu bytes)",
			       (unsigned long long)d->head.manifest.image_size, root_path,
			       (unsigned long long)size);
	return 0;
}

/* stage's copy that fails verification is not kept (apply-staged's goes
 * with the failure's unstage). */
static int sc_verify(void *priv, const struct system_info *target, struct error *e)
{
	struct singlecopy *d = priv;
	struct error re = {0};
	int rc = sc_check_release(d, target->path, e);

	if (rc < 0 && d->kept && !d->staged_loaded && sc_remove(d, SC_BUNDLE_TMP, &re) < 0)
		log_warn("%s", re.msg);
	return rc;
}

/* The new root boots next, on trial (and the request ends, one store). The
 * kept bundle stays until the new system is confirmed (sc_confirm). */
static int sc_activate(void *priv, const struct system_info *t, struct error *e)
{
	struct singlecopy *d = priv;
	int rc = bootctl_set_next(d->u->boot, t->id, true, e);

	if (rc == 0)
		d->activated = true;
	return rc;
}

/* U-Boot gave up on the trial: the root holds a release that failed, so the
 * next boots stay in recovery mode until a new release is installed. */
static int sc_finish_fallback(void *priv, const struct system_info *booted, struct error *e)
{
	struct singlecopy *d = priv;
	int rc;

	(void)booted;
	log_warn("the root failed its trial: the device stays in recovery mode until a release "
		 "is staged and applied");
	if ((rc = bootctl_finish_fallback(d->u->boot, SC_RECOVERY, e)) < 0)
		return rc;
	return sc_drop_kept(d, e);
}

static int sc_can_install(void *priv, const struct system_info *booted, struct error *e)
{
	(void)priv;
	if (strcmp(booted->id, SC_RECOVERY) == 0)
		return 0;
	return err_set(e, UPD_EXIT_USAGE, ENOTSUP,
		       "install: the singlecopy backend writes its root only from the ramdisk: "
		       "'updater stage' (the next boot applies it), or 'updater install' in "
		       "recovery mode");
}

static int sc_confirm(void *priv, struct error *e)
{
	struct singlecopy *d = priv;
	int rc = sc_drop_kept(d, e);

	return rc < 0 ? rc : sc_remove(d, SC_REWRITE, e);
}

static bool sc_has_system(void *priv, const char *id)
{
	(void)priv;
	return valid_id(id);
}

const struct backend_ops singlecopy_backend = {
	.name = "singlecopy",
	.open = sc_open,
	.close = sc_close,
	.booted = sc_booted,
	.next_boot = sc_next_boot,
	.fetch = sc_fetch,
	.download = sc_download,
	.verify = sc_verify,
	.target = sc_target,
	.previous = sc_previous,
	.install = sc_install,
	.activate = sc_activate,
	.finish_fallback = sc_finish_fallback,
	.rollback = sc_rollback,
	.stage = sc_stage,
	.load_staged = sc_load_staged,
	.unstage = sc_unstage,
	.can_install = sc_can_install,
	.confirm = sc_confirm,
	.has_system = sc_has_system,
};

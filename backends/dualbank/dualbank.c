/* Dual-bank (A/B) backend: a signed bundle streamed into the slot that is not
 * running; the U-Boot environment's boot_slot switches slots. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../core/backend.h"
#include "../../bundle/bundle.h"
#include "../../bundle/index.h"
#include "../../lib/digest.h"
#include "../../lib/fsutil.h"
#include "../../lib/log.h"
#include "../../lib/progress.h"
#include "../../lib/source.h"
#include "../../lib/sysinfo.h"
#include "../image/bundle_image.h"
#include "dualbank_priv.h"
#include "image_id.h"
#include "slot_blocks.h"


static const char *slot_path(const struct dualbank *d, const char *id)
{
	return strcmp(id, "A") == 0 ? d->dc->slot_a : d->dc->slot_b;
}

static bool valid_slot(const char *id)
{
	return strcmp(id, "A") == 0 || strcmp(id, "B") == 0;
}

/* dc is NULL in a config not made by config_load(): as if it set nothing. */
static int check_config(const struct config *c, const struct dualbank_config *dc, struct error *e)
{
	const char *missing = !dc || !dc->slot_a ? "dualbank.slots.A"
			      : !dc->slot_b ? "dualbank.slots.B"
			      : dc->n_public_keys == 0 ? "dualbank.public_key"
						       : NULL;
	if (missing)
		return err_set(e, UPD_EXIT_USAGE, EINVAL, "%s: %s: missing (required by the dualbank backend)",
			       c->path, missing);
	return 0;
}

static int db_open(struct updater_ctx *u, void **priv, struct error *e)
{
	const struct dualbank_config *dc = config_section_data(u->cfg, &dualbank_section);
	int rc = check_config(u->cfg, dc, e);

	*priv = NULL;
	if (rc < 0)
		return rc;
	struct dualbank *d = calloc(1, sizeof(*d));
	if (!d)
		return err_oom(e, NULL);
	d->u = u;
	d->cfg = u->cfg;
	d->dc = dc;
	d->target_fd = -1;
	*priv = d;
	return 0;
}

static void db_close(void *priv)
{
	struct dualbank *d = priv;
	if (d->have_head)
		bundle_head_free(&d->head);
	bundle_index_free(&d->index);
	static_delta_close(&d->sd);
	if (d->target_fd >= 0)
		close(d->target_fd);
	free(d);
}

int db_booted(void *priv, struct system_info *out, struct error *e)
{
	static const char *const slots[] = { "A", "B", NULL };
	struct dualbank *d = priv;
	int rc = cmdline_system(d->cfg->cmdline, "booted slot", slots, "A or B", out->id,
				sizeof(out->id), e);
	if (rc < 0)
		return rc;
	snprintf(out->path, sizeof(out->path), "%s", slot_path(d, out->id));
	return 0;
}

static int db_next_boot(void *priv, char *id, size_t size, struct error *e)
{
	struct dualbank *d = priv;
	char *v = bootctl_get(d->u->boot, "boot_slot");
	int rc = 0;

	if (!v || !valid_slot(v))
		rc = err_set(e, UPD_EXIT_OTHER, EBADMSG,
			     "boot environment: boot_slot=%s is not A or B (run 'updater init' on a "
			     "factory device)",
			     v ? v : "(missing)");
	else
		snprintf(id, size, "%s", v);
	free(v);
	return rc;
}

static int db_target(void *priv, struct system_info *out, struct error *e)
{
	struct dualbank *d = priv;
	struct system_info booted;
	struct stat a, b;
	int rc = db_booted(d, &booted, e);

	if (rc < 0)
		return rc;
	snprintf(out->id, sizeof(out->id), "%s", strcmp(booted.id, "A") == 0 ? "B" : "A");
	snprintf(out->path, sizeof(out->path), "%s", slot_path(d, out->id));
	/* Two config keys naming the same device would make us write the running system. */
	if (stat(out->path, &a) == 0 && stat(booted.path, &b) == 0 &&
	    ((a.st_dev == b.st_dev && a.st_ino == b.st_ino) ||
	     (S_ISBLK(a.st_mode) && a.st_rdev == b.st_rdev)))
		return err_set(e, UPD_EXIT_USAGE, EINVAL,
			       "target slot %s (%s) is the running slot %s's storage", out->id,
			       out->path, booted.id);
	return 0;
}

void db_source_opts(const struct dualbank *d, const char *location, struct source_opts *o)
{
	image_source_opts(d->cfg, location, o);
}

/* A static delta by name (NAME.upd.from-HEX, or any format-4 bundle)
 * installs only as a delta: install --full cannot use it. */
static int refuse_full_delta(const char *source, struct error *e)
{
	return err_set(e, UPD_EXIT_USAGE, EINVAL,
		       "install --full: %s is a static delta, which installs only as a delta: give "
		       "the full bundle (without --full, a static delta for this device is used when "
		       "there is one)", source);
}

static int db_fetch(void *priv, const char *source, struct release *out, struct error *e)
{
	struct dualbank *d = priv;
	struct source_opts o;
	int rc;

	if (d->have_head) {
		bundle_head_free(&d->head);
		d->have_head = false;
	}
	bundle_index_free(&d->index);
	static_delta_close(&d->sd);
	if ((rc = image_source_default(d->cfg, &source, e)) < 0)
		return rc;
	if (d->u->full_install && static_delta_named(source))
		return refuse_full_delta(source, e);
	snprintf(d->source, sizeof(d->source), "%s", source);
	db_source_opts(d, d->source, &o);
	rc = image_head_read(&o, &d->head, e);
	if (rc < 0) {
		/* The downloader's messages name the location already. */
		if (!strstr(e->msg, source))
			err_prefix(e, "fetch %s", source);
		return rc;
	}
	d->have_head = true;
	d->delta_by_name = bundle_format_is_delta(d->head.manifest.format);
	if (d->delta_by_name && d->u->full_install)
		return refuse_full_delta(source, e);
	image_release_fill(&d->head, out);
	snprintf(out->origin, sizeof(out->origin), "%s", source);
	log_debug("bundle %s: version %s for '%s', image %llu bytes", source,
		  out->version, out->compatible, (unsigned long long)out->install_size);
	return 0;
}

int db_open_target(struct dualbank *d, const struct system_info *t, struct error *e)
{
	uint64_t size = 0;
	int rc;

	if (d->target_fd >= 0)
		close(d->target_fd);
	/* Never O_CREAT or O_TRUNC: a slot is a partition (or a file standing in for one).
	 * Read too: the slot writer writes only the blocks that differ. */
	d->target_fd = open(t->path, O_RDWR | O_CLOEXEC);
	if (d->target_fd < 0)
		return err_set(e, UPD_EXIT_OTHER, errno, "open slot %s (%s) for writing: %s", t->id,
			       t->path, strerror(errno));
	if ((rc = file_or_blockdev_size(d->target_fd, &size)) < 0)
		return err_set(e, UPD_EXIT_OTHER, -rc, "slot %s (%s): size: %s", t->id, t->path,
			       strerror(-rc));
	if (d->head.manifest.image_size > size)
		return err_set(e, UPD_EXIT_NOSPACE, EFBIG,
			       "image of %llu bytes does not fit slot %s (%s, %llu bytes)",
			       (unsigned long long)d->head.manifest.image_size, t->id, t->path,
			       (unsigned long long)size);
	return 0;
}

/* Format 3's index is read once the manifest that signs it is verified and
 * the image is known to fit the slot (which bounds the index), and before
 * anything is written: a bundle whose index does not match is refused. */
int db_verify_index(struct dualbank *d, struct error *e)
{
	struct source_opts o;
	int rc;

	bundle_index_free(&d->index);
	if (d->head.manifest.format != 3)
		return 0;
	db_source_opts(d, d->source, &o);
	rc = bundle_index_fetch(&o, &d->head, &d->index, e);
	if (rc < 0 && !strstr(e->msg, d->source))
		err_prefix(e, "verify %s", d->source);
	return rc;
}

static int db_verify(void *priv, const struct system_info *target, struct error *e)
{
	struct dualbank *d = priv;
	size_t which = 0;
	int rc = bundle_verify_signature(&d->head, d->dc->public_keys, d->dc->n_public_keys,
					 &which, e);
	if (rc < 0) {
		err_prefix(e, "verify %s", d->source);
		return rc;
	}
	log_debug("signature verified with %s", d->dc->public_keys[which]);
	rc = db_open_target(d, target, e);
	if (rc == 0 && d->delta_by_name)
		return db_verify_named_delta(d, e);
	/* The static delta for the booted image first: when it is usable, the
	 * full bundle's index is not needed (unless it fails later). */
	if (rc == 0 && !db_static_delta_find(d))
		rc = db_verify_index(d, e);
	return rc;
}

static int db_activate(void *priv, const struct system_info *t, struct error *e)
{
	struct dualbank *d = priv;
	return bootctl_set_next(d->u->boot, t->id, true, e);
}

static int db_finish_fallback(void *priv, const struct system_info *booted, struct error *e)
{
	struct dualbank *d = priv;
	return bootctl_finish_fallback(d->u->boot, booted->id, e);
}

static int db_rollback(void *priv, const struct system_info *to, struct error *e)
{
	struct dualbank *d = priv;
	return bootctl_set_next(d->u->boot, to->id, false, e);
}

static int db_booted_image(void *priv, const struct system_info *booted,
			   const struct target_record *rec, char hex[65], struct error *e)
{
	struct dualbank *d = priv;
	uint8_t sha[32];
	uint64_t len = 0;
	const char *fs = NULL;
	int rc;

	/* An image this updater wrote was read back and recorded: no need to
	 * read the slot (nor to guess its length). */
	if (rec && (rec->status == TS_GOOD || rec->status == TS_VERIFIED) &&
	    strlen(rec->digest) == 64) {
		snprintf(hex, 65, "%s", rec->digest);
		return 0;
	}
	if (!valid_slot(booted->id))
		return err_set(e, UPD_EXIT_OTHER, EINVAL, "booted slot %s is not A or B", booted->id);
	rc = image_id(slot_path(d, booted->id), sha, &len, &fs, e);
	if (rc < 0)
		return rc;
	memcpy(d->booted_hashed.sha256, sha, 32);
	d->booted_hashed.len = len;
	log_debug("booted slot %s: %s image of %llu bytes", booted->id, fs ? fs : "whole-slot",
		  (unsigned long long)len);
	hex_encode(sha, 32, hex);
	return 0;
}

/* init on a factory device: the booted slot's image id, and its blocks
 * recorded as a delta install would have (slot_blocks.h). */
static int db_adopt_booted(void *priv, const struct system_info *booted, char hex[65],
			   uint64_t *size, struct error *e)
{
	struct dualbank *d = priv;
	const char *path, *fs = NULL;
	uint8_t sha[32];
	int fd, rc;

	if (!valid_slot(booted->id))
		return err_set(e, UPD_EXIT_OTHER, EINVAL, "booted slot %s is not A or B", booted->id);
	path = slot_path(d, booted->id);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return err_set(e, UPD_EXIT_OTHER, errno, "slot %s: %s", booted->id, strerror(errno));
	if ((rc = image_length(fd, path, size, &fs)) < 0)
		err_set(e, UPD_EXIT_OTHER, -rc, "slot %s: size: %s", booted->id, strerror(-rc));
	else
		rc = slot_blocks_adopt(d->cfg->state_dir, booted->id, fd, *size, sha, e);
	close(fd);
	if (rc < 0)
		return rc;
	hex_encode(sha, 32, hex);
	log_info("slot %s: %s image %.16s of %llu bytes recorded", booted->id,
		 fs ? fs : "whole-slot", hex, (unsigned long long)*size);
	return 0;
}

const struct backend_ops dualbank_backend = {
	.name = "dualbank",
	.open = db_open,
	.close = db_close,
	.booted = db_booted,
	.next_boot = db_next_boot,
	.fetch = db_fetch,
	.verify = db_verify,
	.target = db_target,
	.previous = db_target,
	.install = db_install,
	.activate = db_activate,
	.finish_fallback = db_finish_fallback,
	.rollback = db_rollback,
	.booted_image = db_booted_image,
	.adopt_booted = db_adopt_booted,
};

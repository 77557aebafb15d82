/* The dual-bank install paths, in the order db_install tries them: the
 * static delta for the booted image (static_delta.h, delta_static.c), the
 * dynamic delta (delta.c), the full stream (../image/slot_writer.c). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "../../lib/log.h"
#include "../image/bundle_image.h"
#include "../../lib/progress.h"
#include "delta.h"
#include "dualbank_priv.h"
#include "slot_blocks.h"

/* n bytes for people: "120.1 MiB", "4.0 KiB", "0 bytes" (a small count must
 * not read as nothing). */
static const char *human(uint64_t n, char *buf, size_t size)
{
	if (n >= (1u << 20))
		snprintf(buf, size, "%.1f MiB", (double)n / 1048576.0);
	else if (n >= 1024)
		snprintf(buf, size, "%.1f KiB", (double)n / 1024.0);
	else
		snprintf(buf, size, "%llu bytes", (unsigned long long)n);
	return buf;
}

/* What an install moved, for the engine's last line: "34.9 MiB downloaded,
 * 120.1 MiB already in the slot, 8.9 MiB written". */
static void summarize(struct dualbank *d, uint64_t reused, uint64_t written)
{
	char a[32], b[32], c[32];

	snprintf(d->u->install_summary, sizeof(d->u->install_summary),
		 "%s downloaded, %s already in the slot, %s written",
		 human(d->head.manifest.payload_size, a, sizeof(a)), human(reused, b, sizeof(b)),
		 human(written, c, sizeof(c)));
}

/* The full stream: every payload byte, decoded in order (format 1 and 2,
 * install --full, and the fallback when a server ignores ranges). */
static int install_full(struct dualbank *d, struct system_info *t, struct error *e)
{
	uint64_t reused = 0, written = 0;
	struct source_opts o;
	int rc;

	/* The full stream does not read blocks by the index: its memory goes
	 * back before the stream, so the full install's peak is today's. */
	bundle_index_free(&d->index);
	db_source_opts(d, d->source, &o);
	rc = image_write_full(d->target_fd, t->id, t->path, &d->head, &o, d->u->verify_readback,
			      &reused, &written, e);
	if (rc == 0)
		summarize(d, reused, written);
	return rc;
}

static void summarize_delta(struct dualbank *d, const char *kind, const struct delta_counts *c)
{
	char a[32], b[32], x[32], w[32];

	snprintf(d->u->install_summary, sizeof(d->u->install_summary),
		 "%s: %s downloaded, %s already in the slot, %s from the active slot, %s written",
		 kind, human(c->downloaded, a, sizeof(a)), human(c->reused, b, sizeof(b)),
		 human(c->copied, x, sizeof(x)), human(c->written, w, sizeof(w)));
	log_debug("%s: %llu requests, %llu bytes received for %llu of payload", kind,
		  (unsigned long long)c->requests, (unsigned long long)c->received,
		  (unsigned long long)c->downloaded);
}

/* The active slot's recorded block hashes (slot_blocks.h), when they are
 * those of the image the core names as booted: a hint, so any trouble with
 * them only means reading the whole slot. */
static bool active_record(struct dualbank *d, const struct system_info *active,
			  struct slot_blocks *b)
{
	struct error re = { 0 };
	int rc;

	if (strlen(d->u->booted_image) != 64)
		return false;
	rc = slot_blocks_open(d->cfg->state_dir, active->id, d->u->booted_image,
			      d->index.block_size, b, &re);
	if (rc == -ENOENT)
		log_debug("delta: no recorded block hashes of slot %s", active->id);
	else if (rc < 0)
		log_warn("delta: %s; reading the whole active slot", re.msg);
	return rc == 0;
}

/* The image just installed and verified in t is recorded for the install
 * that runs from it (a record that cannot be written costs reads later). */
static void record_target(struct dualbank *d, const struct system_info *t)
{
	struct error se = { 0 };

	if (slot_blocks_save(d->cfg->state_dir, t->id, d->head.manifest.image_sha256,
			     d->head.manifest.image_size, &d->index, &se) < 0)
		log_warn("slot %s: its block hashes are not recorded: %s", t->id, se.msg);
}

/* A format-3 bundle: what the device holds is not downloaded (delta.h). */
static int install_delta(struct dualbank *d, struct system_info *t, struct error *e)
{
	struct system_info active;
	struct delta_counts c;
	struct source_opts o;
	struct slot_blocks rec;
	struct error ae = { 0 };
	bool have_active = db_booted(d, &active, &ae) == 0;
	bool have_rec = have_active && active_record(d, &active, &rec);

	db_source_opts(d, d->source, &o);
	struct delta_job j = { .fd = d->target_fd, .name = t->id, .path = t->path,
			       .active_path = have_active ? active.path : NULL,
			       .active_blocks = have_rec ? &rec : NULL,
			       .target_blocks = d->target_rec.map ? &d->target_rec : NULL,
			       .m = &d->head.manifest, .ix = &d->index, .src = &o,
			       .payload_offset = d->head.payload_offset,
			       .readback = d->u->verify_readback };
	int rc = delta_install(&j, &c, e);
	if (have_rec)
		slot_blocks_close(&rec);
	if (rc == 0) {
		summarize_delta(d, "delta", &c);
		record_target(d, t);
	}
	return rc;
}

/* The active slot (the static delta's source), NULL when unknown. */
static const char *active_path(struct dualbank *d, struct system_info *active)
{
	struct error ae = { 0 };
	return db_booted(d, active, &ae) == 0 ? active->path : NULL;
}

/* What booted_image hashed of the active slot in this run, if it did. */
static const struct source_digest *booted_hashed(const struct dualbank *d)
{
	return d->booted_hashed.len ? &d->booted_hashed : NULL;
}

bool db_static_delta_find(struct dualbank *d)
{
	const char *id = d->u->booted_image;
	struct system_info active;
	struct source_opts o;
	struct error se = { 0 };
	int rc;

	if (d->u->full_install || d->delta_by_name)
		return false;
	if (strlen(id) != 64) {
		log_debug("no static delta: the booted image's id is not known");
		return false;
	}
	db_source_opts(d, d->source, &o);
	rc = static_delta_find(&d->sd, &o, &d->head.manifest, id, d->dc->public_keys,
			       d->dc->n_public_keys, active_path(d, &active), booted_hashed(d), &se);
	if (rc == -ENOENT)
		log_info("no static delta for image %.*s", STATIC_DELTA_ID_LEN, id);
	else if (rc < 0)
		log_warn("static delta %s.from-%.*s: %s; installing without it", d->source,
			 STATIC_DELTA_ID_LEN, id, se.msg);
	else
		log_info("static delta %s: applies to the active slot's image", d->sd.location);
	return rc == 0;
}

int db_verify_named_delta(struct dualbank *d, struct error *e)
{
	struct system_info active;
	struct source_opts o;
	int rc;

	db_source_opts(d, d->source, &o);
	rc = static_delta_named_check(&d->sd, &o, &d->head, active_path(d, &active),
				      d->u->booted_image, booted_hashed(d), e);
	if (rc < 0)
		err_prefix(e, "verify %s", d->source);
	return rc;
}

/* The static delta checked by verify (d->sd). */
static int install_static(struct dualbank *d, struct system_info *t, struct error *e)
{
	const struct bundle_head *h = d->sd.h;
	struct delta_counts c;
	struct source_opts o;

	db_source_opts(d, d->sd.location, &o);
	struct delta_job j = { .fd = d->target_fd, .name = t->id, .path = t->path,
			       .m = &h->manifest, .ix = &d->sd.ix, .src = &o,
			       .payload_offset = h->payload_offset,
			       .readback = d->u->verify_readback, .source = d->sd.map,
			       .source_fd = d->sd.map_fd, .source_size = d->sd.map_len, .target_room = d->sd.map_room };
	int rc = delta_static_install(&j, &c, e);
	if (rc == 0)
		summarize_delta(d, "static delta", &c);
	return rc;
}

/* A static delta that fails on the way (a corrupt frame, a server that
 * ignores ranges) leaves only checked blocks behind: the dynamic delta
 * (or the full stream) finds them in place. */
static int after_static(struct dualbank *d, struct system_info *t, struct error *e)
{
	int rc = install_static(d, t, e);

	if (rc == 0 || (rc != -EOPNOTSUPP && e->exit != UPD_EXIT_VERIFY))
		return rc;
	log_warn("static delta %s: %s%s; installing without it", d->sd.location, e->msg,
		 d->sd.by_id ? " (the active slot may have changed since its image was recorded)" : "");
	err_clear(e);
	static_delta_close(&d->sd);
	return 1;
}

/* The target's record (what the updater last wrote there), kept mapped for
 * the delta's target scan: only a hint, like the active slot's. */
static void keep_target_record(struct dualbank *d, const struct system_info *t)
{
	struct error re = { 0 };
	int rc = slot_blocks_open(d->cfg->state_dir, t->id, NULL, BUNDLE_BLOCK_SIZE, &d->target_rec,
				  &re);

	if (rc < 0 && rc != -ENOENT)
		log_warn("delta: %s; reading the whole target slot", re.msg);
}

static int install_paths(struct dualbank *d, struct system_info *t, struct error *e);

int db_install(void *priv, struct system_info *t, struct error *e)
{
	struct dualbank *d = priv;
	int rc;

	if (d->target_fd < 0 && (rc = db_open_target(d, t, e)) < 0)
		return rc;
	keep_target_record(d, t);
	/* Before the slot is written: its record no longer says what it holds. */
	rc = slot_blocks_forget(d->cfg->state_dir, t->id, e);
	if (rc == 0)
		rc = install_paths(d, t, e);
	slot_blocks_close(&d->target_rec);
	return rc;
}

static int install_paths(struct dualbank *d, struct system_info *t, struct error *e)
{
	int rc;

	if (d->delta_by_name && !d->sd.usable && (rc = db_verify_named_delta(d, e)) < 0)
		return rc;
	if (d->delta_by_name)
		return install_static(d, t, e); /* it applies alone */
	if (d->sd.usable && (rc = after_static(d, t, e)) <= 0)
		return rc;
	if (!d->index.hashes && d->head.manifest.format == 3 && !d->u->full_install &&
	    (rc = db_verify_index(d, e)) < 0)
		return rc;
	if (d->head.manifest.format != 3 || d->u->full_install || !d->index.hashes)
		return install_full(d, t, e);
	rc = install_delta(d, t, e);
	if (rc != -EOPNOTSUPP)
		return rc;
	log_warn("%s; streaming the whole bundle instead", e->msg);
	err_clear(e);
	return install_full(d, t, e);
}

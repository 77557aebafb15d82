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
#include "config_keys.h"
#include "delta.h"
#include "image_id.h"
#include "slot_writer.h"

struct dualbank {
	struct updater_ctx *u;
	const struct config *cfg;
	const struct dualbank_config *dc; /* cfg's dualbank section */
	struct bundle_head head;  /* of the bundle fetched last */
	bool have_head;
	struct bundle_index index; /* format 3: read and checked by verify() */
	char source[4096];
	int target_fd;            /* opened for writing by verify() */
};

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
	if (d->target_fd >= 0)
		close(d->target_fd);
	free(d);
}

static int db_booted(void *priv, struct system_info *out, struct error *e)
{
	struct dualbank *d = priv;
	int rc = cmdline_get(d->cfg->cmdline, "updater.slot", out->id, sizeof(out->id), e);
	if (rc < 0) {
		err_prefix(e, "booted slot");
		return rc;
	}
	if (!valid_slot(out->id))
		return err_set(e, UPD_EXIT_OTHER, EINVAL, "booted slot: %s: updater.slot=%s is not A or B",
			       d->cfg->cmdline, out->id);
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

static void fill_release(const struct bundle_head *h, struct release *r)
{
	const struct manifest *m = &h->manifest;
	struct sha256_ctx *c = sha256_new();
	uint8_t id[32] = {0};

	/* The identity of a bundle is its signed manifest, byte for byte: it
	 * names the image (its sha256) and everything the policy looks at. */
	if (c) {
		sha256_update(c, h->manifest_text, h->manifest_len);
		sha256_final(c, id);
	}
	hex_encode(id, 32, r->identity);
	r->security_version = m->security_version;
	snprintf(r->version, sizeof(r->version), "%s", m->version);
	snprintf(r->compatible, sizeof(r->compatible), "%s", m->compatible);
	hex_encode(m->image_sha256, 32, r->digest);
	r->install_size = m->image_size;
	r->download_size = m->payload_size;
}

static void source_opts(const struct dualbank *d, struct source_opts *o)
{
	*o = (struct source_opts){ .location = d->source, .timeout_s = d->cfg->server.timeout,
				   .retries = d->cfg->server.retries, .ca = d->cfg->server.ca,
				   .cert = d->cfg->server.cert, .key = d->cfg->server.key };
}

static int parse_head(struct dualbank *d, const uint8_t *buf, size_t len, uint64_t total,
		      struct error *e)
{
	size_t need = 0;
	int rc = bundle_head_parse(buf, len, &d->head, &need, e);

	if (rc == -EAGAIN)
		return err_set(e, UPD_EXIT_VERIFY, ENODATA,
			       "bundle truncated: %zu bytes, its header needs %zu", len, need);
	if (rc < 0)
		return rc;
	d->have_head = true;
	return bundle_check_size(&d->head, total, e);
}

static int db_fetch(void *priv, const char *source, struct release *out, struct error *e)
{
	struct dualbank *d = priv;
	struct source_opts o;
	uint64_t total = UINT64_MAX;
	size_t len = 0;
	int rc;

	if (d->have_head) {
		bundle_head_free(&d->head);
		d->have_head = false;
	}
	bundle_index_free(&d->index);
	if (!source)
		source = d->cfg->server.url;
	if (!source)
		return err_set(e, UPD_EXIT_USAGE, EINVAL,
			       "no update source: give a URL or file, or set server.url in %s",
			       d->cfg->path);
	snprintf(d->source, sizeof(d->source), "%s", source);
	source_opts(d, &o);
	uint8_t *buf = malloc(BUNDLE_HEAD_MAX);
	if (!buf)
		return err_oom(e, NULL);
	rc = source_read_head(&o, buf, BUNDLE_HEAD_MAX, &len, &total, e);
	if (rc == 0)
		rc = parse_head(d, buf, len, total, e);
	free(buf);
	if (rc < 0) {
		/* The downloader's messages name the location already. */
		if (!strstr(e->msg, source))
			err_prefix(e, "fetch %s", source);
		return rc;
	}
	fill_release(&d->head, out);
	snprintf(out->origin, sizeof(out->origin), "%s", source);
	log_debug("bundle %s: version %s for '%s', image %llu bytes", source,
		  out->version, out->compatible, (unsigned long long)out->install_size);
	return 0;
}

static int open_target(struct dualbank *d, const struct system_info *t, struct error *e)
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
static int verify_index(struct dualbank *d, struct error *e)
{
	struct source_opts o;
	int rc;

	bundle_index_free(&d->index);
	if (d->head.manifest.format < 3)
		return 0;
	source_opts(d, &o);
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
	rc = open_target(d, target, e);
	if (rc == 0)
		rc = verify_index(d, e);
	return rc;
}

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
static void summarize(struct dualbank *d, const struct slot_writer *w)
{
	uint64_t reused, written;
	char a[32], b[32], c[32];

	slot_writer_counts(w, &reused, &written);
	snprintf(d->u->install_summary, sizeof(d->u->install_summary),
		 "%s downloaded, %s already in the slot, %s written",
		 human(d->head.manifest.payload_size, a, sizeof(a)), human(reused, b, sizeof(b)),
		 human(written, c, sizeof(c)));
}

/* The full stream: every payload byte, decoded in order (format 1 and 2,
 * install --full, and the fallback when a server ignores ranges). */
static int install_full(struct dualbank *d, struct system_info *t, struct error *e)
{
	const struct manifest *m = &d->head.manifest;
	struct slot_writer *w = NULL;
	struct source_opts o;
	int rc;

	/* The full stream does not read blocks by the index: its memory goes
	 * back before the stream, so the full install's peak is today's. */
	bundle_index_free(&d->index);
	source_opts(d, &o);
	rc = slot_writer_new(&w, d->target_fd, t->id, t->path, m, d->u->verify_readback, e);
	if (rc < 0)
		return rc;
	progress_begin("install", m->payload_size);
	rc = source_stream(&o, d->head.payload_offset, m->payload_size, slot_writer_feed, w, e);
	if (rc == 0)
		rc = slot_writer_finish(w, e);
	progress_end();
	if (rc == 0)
		summarize(d, w);
	slot_writer_free(w);
	return rc;
}

static void summarize_delta(struct dualbank *d, const struct delta_counts *c)
{
	char a[32], b[32], x[32], w[32];

	snprintf(d->u->install_summary, sizeof(d->u->install_summary),
		 "delta: %s downloaded, %s already in the slot, %s from the active slot, %s written",
		 human(c->downloaded, a, sizeof(a)), human(c->reused, b, sizeof(b)),
		 human(c->copied, x, sizeof(x)), human(c->written, w, sizeof(w)));
}

/* A format-3 bundle: what the device holds is not downloaded (delta.h). */
static int install_delta(struct dualbank *d, struct system_info *t, struct error *e)
{
	struct system_info active;
	struct delta_counts c;
	struct source_opts o;
	struct error ae = { 0 };
	bool have_active = db_booted(d, &active, &ae) == 0;

	source_opts(d, &o);
	struct delta_job j = { .fd = d->target_fd, .name = t->id, .path = t->path,
			       .active_path = have_active ? active.path : NULL,
			       .m = &d->head.manifest, .ix = &d->index, .src = &o,
			       .payload_offset = d->head.payload_offset,
			       .readback = d->u->verify_readback };
	int rc = delta_install(&j, &c, e);
	if (rc == 0)
		summarize_delta(d, &c);
	log_debug("delta: %llu requests, %llu bytes received for %llu of payload",
		  (unsigned long long)c.requests, (unsigned long long)c.received,
		  (unsigned long long)c.downloaded);
	return rc;
}

static int db_install(void *priv, struct system_info *t, struct error *e)
{
	struct dualbank *d = priv;
	int rc;

	if (d->target_fd < 0 && (rc = open_target(d, t, e)) < 0)
		return rc;
	if (d->head.manifest.format < 3 || d->u->full_install || !d->index.hashes)
		return install_full(d, t, e);
	rc = install_delta(d, t, e);
	if (rc != -EOPNOTSUPP)
		return rc;
	log_warn("%s; streaming the whole bundle instead", e->msg);
	err_clear(e);
	return install_full(d, t, e);
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
	log_debug("booted slot %s: %s image of %llu bytes", booted->id, fs ? fs : "whole-slot",
		  (unsigned long long)len);
	hex_encode(sha, 32, hex);
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
};

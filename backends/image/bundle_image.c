#include "bundle_image.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../bundle/index.h"
#include "../../lib/digest.h"
#include "../../lib/progress.h"
#include "slot_writer.h"

int image_head_read(const struct source_opts *o, struct bundle_head *h, struct error *e)
{
	uint64_t total = UINT64_MAX;
	int rc = bundle_head_fetch(o, h, &total, e);

	if (rc == 0 && (rc = bundle_check_size(h, total, e)) < 0)
		bundle_head_free(h);
	return rc;
}

void image_release_fill(const struct bundle_head *h, struct release *r)
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

void image_source_opts(const struct config *cfg, const char *location, struct source_opts *o)
{
	*o = (struct source_opts){ .location = location, .timeout_s = cfg->server.timeout,
				   .retries = cfg->server.retries, .ca = cfg->server.ca,
				   .cert = cfg->server.cert, .key = cfg->server.key };
}

int image_source_default(const struct config *cfg, const char **source, struct error *e)
{
	if (!*source)
		*source = cfg->server.url;
	if (!*source)
		return err_set(e, UPD_EXIT_USAGE, EINVAL,
			       "no update source: give a URL or file, or set server.url in %s",
			       cfg->path);
	return 0;
}

int image_write_full(int fd, const char *name, const char *path, const struct bundle_head *h,
		     const struct source_opts *o, bool readback, uint64_t *reused,
		     uint64_t *written, struct error *e)
{
	const struct manifest *m = &h->manifest;
	struct slot_writer *w = NULL;
	int rc = slot_writer_new(&w, fd, name, path, m, readback, e);

	if (rc < 0)
		return rc;
	progress_begin("install", m->payload_size);
	rc = source_stream(o, h->payload_offset, m->payload_size, slot_writer_feed, w, e);
	if (rc == 0)
		rc = slot_writer_finish(w, e);
	progress_end();
	if (rc == 0)
		slot_writer_counts(w, reused, written);
	slot_writer_free(w);
	return rc;
}

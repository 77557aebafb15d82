/* `updater bundle ...`: `bundle info` here, `bundle create` (build host) in
 * create_cli.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../config/config.h"
#include "../lib/digest.h"
#include "../lib/source.h"
#include "bundle.h"
#include "bundle_cli.h"
#include "create.h"
#include "index.h"

static int usage(struct error *e, const char *why)
{
	err_set(e, UPD_EXIT_USAGE, EINVAL, "bundle %s (see updater help bundle)", why);
	return UPD_EXIT_USAGE;
}

static void print_manifest(const struct bundle_head *h)
{
	const struct manifest *m = &h->manifest;
	char hex[65];

	printf("format:         %d\n", m->format);
	printf("version:        %s\ncompatible:     %s\n", m->version, m->compatible);
	printf("security version: %llu\n", (unsigned long long)m->security_version);
	printf("image size:     %llu\n", (unsigned long long)m->image_size);
	hex_encode(m->image_sha256, 32, hex);
	printf("image sha256:   %s\n", hex);
	printf("payload:        %llu bytes %s (window 2^%d)\n", (unsigned long long)m->payload_size,
	       m->compression, m->zstd_window_log);
	/* The kind: a full image, or a static delta from the image whose id it
	 * names; the image id names static deltas from this image. */
	printf("image id:       %.16s\n", hex);
	if (bundle_format_is_delta(m->format)) {
		hex_encode(m->delta_source_sha256, 32, hex);
		printf("kind:           static delta, applies to image %.16s (%llu bytes)\n", hex,
		       (unsigned long long)m->delta_source_size);
		printf("delta data:     %llu bytes (the data blocks, decoded)\n",
		       (unsigned long long)m->delta_data_size);
	} else {
		printf("kind:           full\n");
	}
	if (m->format >= 3) {
		uint64_t nblocks, nframes;
		bundle_index_counts(m, &nblocks, &nframes);
		printf("index:          %llu blocks of %u, %llu frames of %u bytes, %llu bytes\n",
		       (unsigned long long)nblocks, m->block_size, (unsigned long long)nframes,
		       m->frame_size, (unsigned long long)m->index_size);
	} else {
		printf("index:          none (format %d: full stream only)\n", m->format);
	}
}

/* By name, as the headers of the backends are not ours: the keys of the
 * backend that installs bundles here (--backend, else the config's), the
 * dual-bank backend's when that one has none (an ostree device checking a
 * bundle for another). */
static char *const *bundle_keys(const struct config *cfg, const char *backend, size_t *n)
{
	char key[64];
	char *const *keys = NULL;

	if (!backend)
		backend = cfg->backend;
	*n = 0;
	if (backend && snprintf(key, sizeof(key), "%s.public_key", backend) < (int)sizeof(key))
		keys = config_get_paths(cfg, key, n);
	if (!keys || *n == 0)
		keys = config_get_paths(cfg, "dualbank.public_key", n);
	return keys;
}

static int signature_line(const struct bundle_head *h, const char *config_path,
			  const char *backend, struct error *e)
{
	struct config cfg;
	struct error ce = {0};
	char *const *keys;
	size_t which = 0, n_keys;
	int rc;

	if (config_load(&cfg, config_path, &ce) < 0) {
		printf("signature:      not checked (%s)\n", ce.msg);
		return UPD_EXIT_OK;
	}
	if (config_check_files(&cfg, e) < 0) { /* a key anyone may replace proves nothing */
		printf("signature:      not checked (%s)\n", e->msg);
		config_free(&cfg);
		return UPD_EXIT_USAGE;
	}
	keys = bundle_keys(&cfg, backend, &n_keys);
	rc = bundle_verify_signature(h, keys, n_keys, &which, e);
	if (rc == 0)
		printf("signature:      valid (key %s)\n", keys[which]);
	else
		printf("signature:      INVALID\n");
	config_free(&cfg);
	return rc == 0 ? UPD_EXIT_OK : (e->exit ? e->exit : UPD_EXIT_VERIFY);
}

/* Reads the index section and checks it against the manifest, so a bundle
 * a device would refuse for its index is refused here too. */
static int index_line(const struct source_opts *o, const struct bundle_head *h, struct error *e)
{
	struct bundle_index ix;

	if (h->manifest.format < 3)
		return UPD_EXIT_OK;
	if (bundle_index_fetch(o, h, &ix, e) < 0) {
		printf("index check:    FAILED\n");
		return e->exit ? e->exit : UPD_EXIT_OTHER;
	}
	printf("index check:    matches the manifest\n");
	if (bundle_format_is_delta(ix.format)) {
		uint64_t zero = 0, grown = 0;
		for (uint64_t i = 0; i < ix.nblocks; i++)
			zero += ix.ops[i] == BUNDLE_OP_ZERO;
		for (uint64_t f = 0; ix.prefix_blocks && f < ix.nframes; f++)
			grown += ix.prefix_blocks[f] > 0;
		printf("blocks:         %llu data, %llu copied from the source, %llu zero\n",
		       (unsigned long long)ix.ndata,
		       (unsigned long long)(ix.nblocks - ix.ndata - zero), (unsigned long long)zero);
		if (ix.format == 5)
			printf("frames:         %llu of %llu take the new image's earlier blocks into their prefix\n",
			       (unsigned long long)grown, (unsigned long long)ix.nframes);
	}
	bundle_index_free(&ix);
	return UPD_EXIT_OK;
}

static int bundle_info_cmd(int argc, char **argv, const char *config_path, const char *backend,
			   struct error *e)
{
	struct source_opts o = { .timeout_s = 30, .retries = 2 };
	struct bundle_head h = {0};
	uint64_t total = UINT64_MAX;
	int rc;

	if (argc > 2) {
		err_set(e, UPD_EXIT_USAGE, EINVAL, "bundle info: unexpected argument '%s'", argv[2]);
		return UPD_EXIT_USAGE;
	}
	if (argc != 2)
		return usage(e, "info: needs one FILE or URL");
	o.location = argv[1];
	if ((rc = bundle_head_fetch(&o, &h, &total, e)) < 0) {
		err_prefix(e, "bundle info %s", argv[1]);
		return e->exit ? e->exit : UPD_EXIT_OTHER;
	}
	print_manifest(&h);
	rc = index_line(&o, &h, e);
	if (rc == UPD_EXIT_OK)
		rc = signature_line(&h, config_path, backend, e);
	bundle_head_free(&h);
	return rc;
}

int bundle_cli(int argc, char **argv, const char *config_path, const char *backend,
	       struct error *e)
{
	if (argc < 2)
		return usage(e, "create|info: missing");
	if (strcmp(argv[1], "create") == 0)
		return bundle_create_cmd(argc - 1, argv + 1, e);
	if (strcmp(argv[1], "info") == 0)
		return bundle_info_cmd(argc - 1, argv + 1, config_path, backend, e);
	return usage(e, "create|info: expected");
}

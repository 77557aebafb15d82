/* The manifest: "key=value" lines, every key required once, unknown keys
 * refused (bundle.h). */
#include "bundle.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/decimal.h"
#include "../lib/digest.h"
#include "../lib/version.h"
#include "index.h"

enum mkey {
	K_FORMAT,
	K_VERSION,
	K_COMPATIBLE,
	K_COMPRESSION,
	K_IMAGE_SIZE,
	K_IMAGE_SHA,
	K_PAYLOAD_SIZE,
	K_PAYLOAD_SHA,
	K_WINDOW_LOG,
	K_SECURITY, /* formats 2 and later */
	K_BLOCK_SIZE, /* formats 3 and 4, from here on */
	K_FRAME_SIZE,
	K_INDEX_SIZE,
	K_INDEX_SHA,
	K_DELTA_SOURCE_SIZE, /* format 4 only, from here on */
	K_DELTA_SOURCE_SHA,
	K_DELTA_DATA_SIZE,
	K_COUNT
};

static const char *const key_names[K_COUNT] = {
	"format",	"version",	"compatible",	  "compression",     "image-size",
	"image-sha256", "payload-size", "payload-sha256", "zstd-window-log",
	"security-version", "block-size", "frame-size", "index-size", "index-sha256",
	"delta-source-size", "delta-source-sha256", "delta-data-size",
};

static int parse_u64(const char *key, const char *v, size_t n, uint64_t *out, struct error *e)
{
	int rc = decimal_u64(v, n, out);

	if (rc == 0)
		return 0;
	return err_set(e, UPD_EXIT_VERIFY, EBADMSG, "manifest: %s %s", key,
		       n == 0 ? "is empty" : rc == -ERANGE ? "is too large" : "is not a decimal number");
}

static int parse_sha(const char *key, const char *v, size_t n, uint8_t out[32], struct error *e)
{
	if (n != 64 || hex_decode(v, out, 32) < 0)
		return err_set(e, UPD_EXIT_VERIFY, EBADMSG, "manifest: %s must be 64 hex digits", key);
	return 0;
}

static int parse_small(enum mkey k, const char *v, size_t n, struct manifest *m,
		       struct error *e)
{
	uint64_t x;
	int r = parse_u64(key_names[k], v, n, &x, e);

	if (r < 0)
		return r;
	if (k == K_FORMAT && (x < 1 || x > BUNDLE_FORMAT_MAX))
		return err_set(e, UPD_EXIT_VERIFY, EBADMSG,
			       "manifest: format %" PRIu64 " is not supported (expected 1..%d)", x,
			       BUNDLE_FORMAT_MAX);
	/* Format 4's cap here; the range of the manifest's own format is
	 * checked once that is known (manifest_check_window), in any key order. */
	if (k == K_WINDOW_LOG && x > BUNDLE_DELTA_WINDOW_LOG_MAX)
		return err_set(e, UPD_EXIT_VERIFY, EBADMSG,
			       "manifest: zstd-window-log %" PRIu64 " outside %d..%d", x,
			       BUNDLE_ZSTD_WINDOW_LOG_MIN, BUNDLE_DELTA_WINDOW_LOG_MAX);
	if (k == K_FORMAT)
		m->format = (int)x;
	else
		m->zstd_window_log = (int)x;
	return 0;
}

static int parse_u32(enum mkey k, const char *v, size_t n, struct manifest *m, struct error *e)
{
	uint64_t x;
	int r = parse_u64(key_names[k], v, n, &x, e);

	if (r < 0)
		return r;
	if (x > UINT32_MAX)
		return err_set(e, UPD_EXIT_VERIFY, EBADMSG, "manifest: %s is too large", key_names[k]);
	*(k == K_BLOCK_SIZE ? &m->block_size : &m->frame_size) = (uint32_t)x;
	return 0;
}

static int parse_text(char *dst, size_t cap, const char *key, const char *v, size_t n,
		      struct error *e)
{
	int r = check_text("manifest", key, v, n, cap, UPD_EXIT_VERIFY, e);

	if (r < 0)
		return r;
	memcpy(dst, v, n);
	dst[n] = '\0';
	return 0;
}

static int parse_value(enum mkey k, const char *v, size_t n, struct manifest *m,
		       struct error *e)
{
	switch (k) {
	case K_FORMAT:
	case K_WINDOW_LOG:
		return parse_small(k, v, n, m, e);
	case K_VERSION:
		return parse_text(m->version, sizeof(m->version), "version", v, n, e);
	case K_COMPATIBLE:
		return parse_text(m->compatible, sizeof(m->compatible), "compatible", v, n, e);
	case K_COMPRESSION:
		if (n != 4 || memcmp(v, "zstd", 4) != 0)
			return err_set(e, UPD_EXIT_VERIFY, EBADMSG,
				       "manifest: compression is not supported (only zstd)");
		memcpy(m->compression, "zstd", 5);
		return 0;
	case K_IMAGE_SIZE:
		return parse_u64("image-size", v, n, &m->image_size, e);
	case K_PAYLOAD_SIZE:
		return parse_u64("payload-size", v, n, &m->payload_size, e);
	case K_IMAGE_SHA:
		return parse_sha("image-sha256", v, n, m->image_sha256, e);
	case K_PAYLOAD_SHA:
		return parse_sha("payload-sha256", v, n, m->payload_sha256, e);
	case K_SECURITY:
		return parse_u64("security-version", v, n, &m->security_version, e);
	case K_BLOCK_SIZE:
	case K_FRAME_SIZE:
		return parse_u32(k, v, n, m, e);
	case K_INDEX_SIZE:
		return parse_u64("index-size", v, n, &m->index_size, e);
	case K_INDEX_SHA:
		return parse_sha("index-sha256", v, n, m->index_sha256, e);
	case K_DELTA_SOURCE_SIZE:
		return parse_u64("delta-source-size", v, n, &m->delta_source_size, e);
	case K_DELTA_SOURCE_SHA:
		return parse_sha("delta-source-sha256", v, n, m->delta_source_sha256, e);
	case K_DELTA_DATA_SIZE:
		return parse_u64("delta-data-size", v, n, &m->delta_data_size, e);
	case K_COUNT:
		break;
	}
	return err_set(e, UPD_EXIT_OTHER, EINVAL, "manifest: internal error");
}

static int key_lookup(const char *k, size_t n)
{
	for (int i = 0; i < K_COUNT; i++)
		if (strlen(key_names[i]) == n && memcmp(key_names[i], k, n) == 0)
			return i;
	return -1;
}

/* Only [a-z0-9-] keys are echoed in messages; anything else could be
 * terminal escapes from a hostile bundle. */
static int key_printable(const char *k, size_t n)
{
	if (n == 0 || n > 64)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((k[i] >= 'a' && k[i] <= 'z') || (k[i] >= '0' && k[i] <= '9') || k[i] == '-'))
			return 0;
	return 1;
}

static int parse_line(const char *line, size_t n, size_t lineno, unsigned *seen,
		      struct manifest *m, struct error *e)
{
	const char *eq = memchr(line, '=', n);

	if (!eq)
		return err_set(e, UPD_EXIT_VERIFY, EBADMSG, "manifest: line %zu: expected key=value",
			       lineno);
	size_t klen = (size_t)(eq - line);
	int k = key_lookup(line, klen);
	if (k < 0 && key_printable(line, klen))
		return err_set(e, UPD_EXIT_VERIFY, EBADMSG, "manifest: unknown key %.*s", (int)klen,
			       line);
	if (k < 0)
		return err_set(e, UPD_EXIT_VERIFY, EBADMSG, "manifest: line %zu: malformed key",
			       lineno);
	if (*seen & (1u << k))
		return err_set(e, UPD_EXIT_VERIFY, EBADMSG, "manifest: duplicate key %s",
			       key_names[k]);
	*seen |= 1u << k;
	return parse_value((enum mkey)k, eq + 1, n - klen - 1, m, e);
}

/* The format that introduced key k. */
static int key_since(int k)
{
	return k >= K_DELTA_SOURCE_SIZE ? 4 : k >= K_BLOCK_SIZE ? 3 : k == K_SECURITY ? 2 : 1;
}

/* Format 3's sizes, checked where the manifest is read so that no reader
 * (the index parser, a range fetcher) sees a frame or index it cannot bound. */
static int manifest_check_format3(const struct manifest *m, struct error *e)
{
	uint64_t cap = 0;
	uint32_t most = bundle_format_is_delta(m->format) ? BUNDLE_DELTA_FRAME_SIZE_MAX
							  : BUNDLE_FRAME_SIZE_MAX;

	if (m->block_size != BUNDLE_BLOCK_SIZE)
		return err_set(e, UPD_EXIT_VERIFY, EBADMSG, "manifest: block-size %" PRIu32
			       " is not supported (only %d)", m->block_size, BUNDLE_BLOCK_SIZE);
	if (m->frame_size < BUNDLE_FRAME_SIZE_MIN || m->frame_size > most ||
	    m->frame_size % m->block_size != 0)
		return err_set(e, UPD_EXIT_VERIFY, EBADMSG,
			       "manifest: frame-size %" PRIu32 " is not a multiple of block-size "
			       "within %u..%u", m->frame_size, BUNDLE_FRAME_SIZE_MIN, most);
	if (bundle_index_stored_max(m, &cap) < 0)
		return err_set(e, UPD_EXIT_VERIFY, EBADMSG,
			       "manifest: image-size %" PRIu64 " is too large for an index (at most %"
			       PRIu64 " bytes of image)", m->image_size, (uint64_t)BUNDLE_INDEX_IMAGE_MAX);
	if (m->index_size == 0 || m->index_size > cap)
		return err_set(e, UPD_EXIT_VERIFY, EBADMSG,
			       "manifest: index-size %" PRIu64 " outside 1..%" PRIu64
			       " (the bound for its image-size)", m->index_size, cap);
	return 0;
}

/* Formats 1-3 decode with at most BUNDLE_ZSTD_WINDOW_LOG_MAX; format 4's
 * window covers its source too (bundle.h). */
static int manifest_check_window(const struct manifest *m, struct error *e)
{
	int most = m->format < 4 ? BUNDLE_ZSTD_WINDOW_LOG_MAX : BUNDLE_DELTA_WINDOW_LOG_MAX;

	if (m->zstd_window_log < BUNDLE_ZSTD_WINDOW_LOG_MIN || m->zstd_window_log > most)
		return err_set(e, UPD_EXIT_VERIFY, EBADMSG, "manifest: zstd-window-log %d outside %d..%d",
			       m->zstd_window_log, BUNDLE_ZSTD_WINDOW_LOG_MIN, most);
	return 0;
}

/* Format 4: a source to apply to, data no larger than the image, and a
 * window that holds the whole source and a frame (each frame is decoded
 * with the source as its prefix). */
static int manifest_check_format4(const struct manifest *m, struct error *e)
{
	if (m->delta_source_size == 0)
		return err_set(e, UPD_EXIT_VERIFY, EBADMSG,
			       "manifest: delta-source-size is 0 (a static delta needs a source)");
	if (m->delta_data_size > m->image_size)
		return err_set(e, UPD_EXIT_VERIFY, EBADMSG,
			       "manifest: delta-data-size %" PRIu64 " exceeds image-size %" PRIu64,
			       m->delta_data_size, m->image_size);
	if (m->delta_source_size > ((uint64_t)1 << m->zstd_window_log) ||
	    ((uint64_t)1 << m->zstd_window_log) - m->delta_source_size < m->frame_size)
		return err_set(e, UPD_EXIT_VERIFY, EBADMSG,
			       "manifest: zstd-window-log %d does not hold delta-source-size %" PRIu64
			       " and frame-size %" PRIu32, m->zstd_window_log, m->delta_source_size,
			       m->frame_size);
	return 0;
}

static int manifest_parse_lines(const char *text, size_t len, struct manifest *m,
				struct error *e)
{
	unsigned seen = 0;
	size_t pos = 0, lineno = 0;

	if (memchr(text, '\0', len))
		return err_set(e, UPD_EXIT_VERIFY, EBADMSG, "manifest: contains a NUL byte");
	while (pos < len) {
		const char *line = text + pos, *nl = memchr(line, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - line) : len - pos;
		pos += n + (nl != NULL);
		int r = parse_line(line, n, ++lineno, &seen, m, e);
		if (r < 0)
			return r;
	}
	for (int k = 0; k < K_COUNT; k++)
		if (!(seen & (1u << k)) && key_since(k) <= (m->format ? m->format : 1))
			return err_set(e, UPD_EXIT_VERIFY, EBADMSG, "manifest: missing key %s",
				       key_names[k]);
	/* A key newer than the manifest's format was not written by `bundle
	 * create`, and an updater of that format's time would refuse it. */
	for (int k = 0; k < K_COUNT; k++)
		if ((seen & (1u << k)) && key_since(k) > m->format)
			return err_set(e, UPD_EXIT_VERIFY, EBADMSG,
				       "manifest: %s needs format %d (this one says %d)", key_names[k],
				       key_since(k), m->format);
	int r = manifest_check_window(m, e);
	if (r == 0 && bundle_format_is_delta(m->format))
		r = manifest_check_format4(m, e);
	return r == 0 && m->format >= 3 ? manifest_check_format3(m, e) : r;
}

int manifest_parse(const char *text, size_t len, struct manifest *m, struct error *e)
{
	memset(m, 0, sizeof(*m));
	int r = manifest_parse_lines(text, len, m, e);
	if (r < 0)
		memset(m, 0, sizeof(*m)); /* never leave a half-trusted manifest behind */
	return r;
}

char *manifest_format(const struct manifest *m)
{
	char ih[65], ph[65], xh[65], dh[65], sv[48] = "", x[320] = "", *s = NULL;

	hex_encode(m->image_sha256, 32, ih);
	hex_encode(m->payload_sha256, 32, ph);
	if (m->format >= 2)
		snprintf(sv, sizeof(sv), "security-version=%" PRIu64 "\n", m->security_version);
	if (m->format >= 3) {
		hex_encode(m->index_sha256, 32, xh);
		snprintf(x, sizeof(x),
			 "block-size=%" PRIu32 "\nframe-size=%" PRIu32 "\nindex-size=%" PRIu64
			 "\nindex-sha256=%s\n",
			 m->block_size, m->frame_size, m->index_size, xh);
	}
	if (m->format >= 4) {
		size_t at = strlen(x);
		hex_encode(m->delta_source_sha256, 32, dh);
		snprintf(x + at, sizeof(x) - at,
			 "delta-source-size=%" PRIu64 "\ndelta-source-sha256=%s\ndelta-data-size=%"
			 PRIu64 "\n", m->delta_source_size, dh, m->delta_data_size);
	}
	/* Precisions bound the reads even if a caller filled a field to the brim. */
	if (asprintf(&s,
		     "format=%d\nversion=%.*s\ncompatible=%.*s\n%scompression=%.*s\n"
		     "image-size=%" PRIu64 "\nimage-sha256=%s\n"
		     "payload-size=%" PRIu64 "\npayload-sha256=%s\nzstd-window-log=%d\n%s",
		     m->format, (int)sizeof(m->version), m->version, (int)sizeof(m->compatible),
		     m->compatible, sv, (int)sizeof(m->compression), m->compression, m->image_size,
		     ih, m->payload_size, ph, m->zstd_window_log, x) < 0)
		return NULL;
	return s;
}

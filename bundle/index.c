/* The index of formats 3 (block hashes), 4 and 5 (a static delta's ops and
 * frame hashes): bounds, parsing and look-ups (index.h). */
#include "index.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <zstd.h>

#include "../lib/digest.h"

static uint64_t ceil_div(uint64_t a, uint64_t b)
{
	return a / b + (a % b != 0);
}

/* Format 3: the image in frames, at least one (an empty image is one empty
 * frame). Format 4: the decoded data in frames, none when there is none. */
static uint64_t frames_of(const struct manifest *m)
{
	if (bundle_format_is_delta(m->format))
		return ceil_div(m->delta_data_size, m->frame_size);
	uint64_t n = ceil_div(m->image_size, m->frame_size);
	return n ? n : 1;
}

void bundle_index_counts(const struct manifest *m, uint64_t *nblocks, uint64_t *nframes)
{
	*nblocks = m->block_size ? ceil_div(m->image_size, m->block_size) : 0;
	*nframes = m->frame_size ? frames_of(m) : 0;
}

int bundle_index_raw_size(const struct manifest *m, uint64_t *raw)
{
	/* Checked first: the products below cannot overflow under this bound
	 * (format 4's data is checked against image-size by the manifest
	 * parser; checked here too for callers that fill a manifest). */
	if (m->image_size > BUNDLE_INDEX_IMAGE_MAX || m->block_size == 0 || m->frame_size == 0 ||
	    (bundle_format_is_delta(m->format) && m->delta_data_size > m->image_size))
		return -EFBIG;
	uint64_t nblocks = ceil_div(m->image_size, m->block_size);
	if (bundle_format_is_delta(m->format))
		*raw = (4 + BUNDLE_INDEX_HASH_LEN + (m->format == 5 ? 4 : 0)) * frames_of(m) +
		       4 * nblocks;
	else
		*raw = 4 * frames_of(m) + BUNDLE_INDEX_HASH_LEN * nblocks;
	return 0;
}

int bundle_index_stored_max(const struct manifest *m, uint64_t *max)
{
	uint64_t raw;
	int r = bundle_index_raw_size(m, &raw);

	if (r == 0)
		*max = ZSTD_COMPRESSBOUND(raw);
	return r;
}

void bundle_index_free(struct bundle_index *ix)
{
	if (!ix)
		return;
	free(ix->hashes);
	free(ix->ops);
	free(ix->frame_hashes);
	free(ix->frame_offset);
	free(ix->prefix_blocks);
	free(ix->frame_first);
	memset(ix, 0, sizeof(*ix));
}

static int bad(struct error *e, const char *why)
{
	return err_set(e, UPD_EXIT_VERIFY, EBADMSG, "bundle index: %s", why);
}

/* The section is trusted only once its SHA-256 is the signed one: nothing
 * of it is decoded before. */
static int check_stored(const uint8_t *buf, size_t len, const struct manifest *m,
			struct error *e)
{
	uint8_t sha[32];
	struct sha256_ctx *c;

	if (m->format < 3)
		return bad(e, "the manifest's format has no index");
	if ((uint64_t)len != m->index_size)
		return err_set(e, UPD_EXIT_VERIFY, EBADMSG,
			       "bundle index: %zu bytes, the manifest's index-size says %" PRIu64,
			       len, m->index_size);
	if (!(c = sha256_new()))
		return err_oom(e, NULL);
	sha256_update(c, buf, len);
	sha256_final(c, sha);
	if (memcmp(sha, m->index_sha256, 32) != 0)
		return bad(e, "sha256 does not match the manifest's index-sha256");
	return 0;
}

/* Decodes into a buffer of exactly the size the manifest implies: a frame
 * that declares, or decodes to, any other size is refused without
 * allocating for it. */
static int decode(const uint8_t *buf, size_t len, uint64_t raw, uint8_t **out, struct error *e)
{
	unsigned long long declared = ZSTD_getFrameContentSize(buf, len);

	*out = NULL;
	if (declared == ZSTD_CONTENTSIZE_ERROR || ZSTD_findFrameCompressedSize(buf, len) != len)
		return bad(e, "not one zstd frame");
	if (declared != raw)
		return err_set(e, UPD_EXIT_VERIFY, EBADMSG,
			       "bundle index: decodes to %llu bytes, the manifest implies %" PRIu64,
			       declared, raw);
	*out = malloc(raw ? raw : 1);
	if (!*out)
		return err_oom(e, "bundle index of %" PRIu64 " bytes", raw);
	size_t n = ZSTD_decompress(*out, raw, buf, len);
	if (ZSTD_isError(n) || n != raw) {
		free(*out);
		*out = NULL;
		return err_set(e, UPD_EXIT_VERIFY, EBADMSG, "bundle index: does not decode: %s",
			       ZSTD_isError(n) ? ZSTD_getErrorName(n) : "wrong size");
	}
	return 0;
}

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Frame i is payload bytes [off[i], off[i+1]): each non-empty (a frame of an
 * empty image still has a header), no larger than zstd's bound for
 * frame-size bytes, and together exactly the payload. */
static int frame_table(const uint8_t *raw, const struct manifest *m, struct bundle_index *ix,
		       struct error *e)
{
	uint64_t at = 0, most = ZSTD_COMPRESSBOUND(m->frame_size);

	ix->frame_offset = malloc((ix->nframes + 1) * sizeof(*ix->frame_offset));
	if (!ix->frame_offset)
		return err_oom(e, NULL);
	for (uint64_t i = 0; i < ix->nframes; i++) {
		uint32_t n = get_le32(raw + 4 * i);
		if (n == 0 || n > most)
			return err_set(e, UPD_EXIT_VERIFY, EBADMSG,
				       "bundle index: frame %" PRIu64 " has %" PRIu32
				       " compressed bytes, outside 1..%" PRIu64, i, n, most);
		ix->frame_offset[i] = at;
		at += n; /* at most 2^22 frames of < 2^24 bytes: no overflow */
		if (at > m->payload_size)
			return err_set(e, UPD_EXIT_VERIFY, EBADMSG,
				       "bundle index: frame %" PRIu64 " ends at %" PRIu64
				       ", past the payload's %" PRIu64 " bytes", i, at, m->payload_size);
	}
	if (at != m->payload_size)
		return err_set(e, UPD_EXIT_VERIFY, EBADMSG,
			       "bundle index: frames end at %" PRIu64 ", the payload has %" PRIu64
			       " bytes", at, m->payload_size);
	ix->frame_offset[ix->nframes] = at;
	return 0;
}

/* Bytes the image's block i holds: block-size, or less for a short last one. */
static uint64_t block_len(const struct manifest *m, uint64_t i)
{
	uint64_t at = i * m->block_size;
	return m->image_size - at < m->block_size ? m->image_size - at : m->block_size;
}

/* Format 4's ops: each copy from a whole block of the source, the data
 * blocks exactly delta-data-size bytes. */
static int check_ops(const struct manifest *m, struct bundle_index *ix, struct error *e)
{
	uint64_t src_blocks = m->delta_source_size / m->block_size, data = 0;
	uint64_t per = m->frame_size / m->block_size;

	for (uint64_t i = 0; i < ix->nblocks; i++) {
		uint32_t op = ix->ops[i];
		if (op == BUNDLE_OP_DATA) {
			/* BUNDLE_INDEX_IMAGE_MAX: fewer than 2^32 blocks */
			if (ix->ndata % per == 0 && ix->ndata / per < ix->nframes)
				ix->frame_first[ix->ndata / per] = (uint32_t)i;
			ix->ndata++;
			data += block_len(m, i);
			continue;
		}
		uint64_t s = bundle_op_source(op, i);
		if (op != BUNDLE_OP_ZERO && s >= src_blocks)
			return err_set(e, UPD_EXIT_VERIFY, EBADMSG,
				       "bundle index: block %" PRIu64 " copies a block outside the "
				       "source's %" PRIu64 " whole blocks (op %" PRIu32 ")", i,
				       src_blocks, op);
	}
	if (data != m->delta_data_size)
		return err_set(e, UPD_EXIT_VERIFY, EBADMSG,
			       "bundle index: the data blocks hold %" PRIu64
			       " bytes, the manifest's delta-data-size says %" PRIu64, data,
			       m->delta_data_size);
	return 0;
}

/* Format 5: frame f's prefix may take the new image's blocks before the
 * frame's first data block (final on a device by then), after the source's
 * whole blocks (so that the two map next to each other), within the window. */
static int check_prefix(const struct manifest *m, uint64_t f, uint64_t n, uint64_t first,
			struct error *e)
{
	uint64_t window = (uint64_t)1 << m->zstd_window_log;

	if (n == 0)
		return 0;
	if (n > first)
		return err_set(e, UPD_EXIT_VERIFY, EBADMSG,
			       "bundle index: frame %" PRIu64 "'s prefix takes %" PRIu64
			       " blocks of the new image, past its first data block %" PRIu64, f, n,
			       first);
	if (m->delta_source_size % m->block_size != 0)
		return err_set(e, UPD_EXIT_VERIFY, EBADMSG,
			       "bundle index: frame %" PRIu64 "'s prefix takes blocks of the new "
			       "image after a source that is not whole blocks", f);
	if (m->delta_source_size + n * m->block_size + m->frame_size > window)
		return err_set(e, UPD_EXIT_VERIFY, EBADMSG,
			       "bundle index: frame %" PRIu64 "'s prefix and the frame exceed the "
			       "window of 2^%d bytes", f, m->zstd_window_log);
	return 0;
}

static int fill_prefixes(const uint8_t *p, const struct manifest *m, struct bundle_index *ix,
			 struct error *e)
{
	ix->prefix_blocks = malloc(ix->nframes ? ix->nframes * sizeof(*ix->prefix_blocks) : 1);
	if (!ix->prefix_blocks)
		return err_oom(e, NULL);
	for (uint64_t f = 0; f < ix->nframes; f++) {
		ix->prefix_blocks[f] = get_le32(p + 4 * f);
		int r = check_prefix(m, f, ix->prefix_blocks[f], ix->frame_first[f], e);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Format 4: after the frame sizes, the frame hashes then the ops, each into
 * its own buffer (the decoded one is freed by the caller). */
static int fill_delta(const uint8_t *raw, const struct manifest *m, struct bundle_index *ix,
		      struct error *e)
{
	size_t nh = (size_t)ix->nframes * BUNDLE_INDEX_HASH_LEN;
	const uint8_t *p = raw + 4 * ix->nframes + nh;

	ix->frame_hashes = malloc(nh ? nh : 1);
	ix->ops = malloc(ix->nblocks ? ix->nblocks * sizeof(*ix->ops) : 1);
	ix->frame_first = calloc(ix->nframes ? ix->nframes : 1, sizeof(*ix->frame_first));
	if (!ix->frame_hashes || !ix->ops || !ix->frame_first)
		return err_oom(e, NULL);
	if (nh)
		memcpy(ix->frame_hashes, raw + 4 * ix->nframes, nh);
	for (uint64_t i = 0; i < ix->nblocks; i++)
		ix->ops[i] = get_le32(p + 4 * i);
	int r = check_ops(m, ix, e);
	return r == 0 && m->format == 5 ? fill_prefixes(p + 4 * ix->nblocks, m, ix, e) : r;
}

static int fill(uint8_t *raw, const struct manifest *m, struct bundle_index *ix, struct error *e)
{
	int r = frame_table(raw, m, ix, e);

	if (r == 0 && bundle_format_is_delta(m->format))
		r = fill_delta(raw, m, ix, e);
	if (r < 0 || bundle_format_is_delta(m->format))
		return r;
	/* The hashes are the tail of the decoded buffer: moved to its start and
	 * the buffer shrunk, so the index costs its own size and no more. */
	size_t n = (size_t)ix->nblocks * BUNDLE_INDEX_HASH_LEN;
	memmove(raw, raw + 4 * ix->nframes, n);
	ix->hashes = n ? realloc(raw, n) : NULL;
	if (!n)
		free(raw);
	else if (!ix->hashes) /* a shrink that failed: keep the larger buffer */
		ix->hashes = raw;
	return 0;
}

int bundle_index_parse(const uint8_t *buf, size_t len, const struct manifest *m,
		       struct bundle_index *ix, struct error *e)
{
	uint64_t raw_size;
	uint8_t *raw = NULL;
	int r;

	memset(ix, 0, sizeof(*ix));
	r = check_stored(buf, len, m, e);
	if (r == 0 && bundle_index_raw_size(m, &raw_size) < 0)
		r = bad(e, "the manifest's image-size is too large for an index");
	if (r == 0)
		r = decode(buf, len, raw_size, &raw, e);
	if (r < 0)
		return r;
	*ix = (struct bundle_index){ .format = m->format, .block_size = m->block_size,
				     .frame_size = m->frame_size };
	bundle_index_counts(m, &ix->nblocks, &ix->nframes);
	r = fill(raw, m, ix, e);
	if (r < 0 || bundle_format_is_delta(m->format))
		free(raw); /* format 3 keeps it as its hashes */
	if (r < 0)
		bundle_index_free(ix);
	return r;
}

void bundle_index_hash_block(const uint8_t *data, size_t block_size, uint8_t *out)
{
	uint8_t sha[32];
	unsigned int n = 0;

	/* A failed digest is all zeros, which no block's hash is meant to be:
	 * the block is then fetched instead, and the image check still holds. */
	if (EVP_Digest(data, block_size, sha, &n, EVP_sha256(), NULL) != 1 || n != 32)
		memset(sha, 0, sizeof(sha));
	memcpy(out, sha, BUNDLE_INDEX_HASH_LEN);
}

void bundle_index_hash_block_with(struct sha256_ctx *c, const uint8_t *data, size_t block_size,
				  uint8_t *out)
{
	uint8_t sha[32];

	sha256_oneshot(c, data, block_size, sha);
	memcpy(out, sha, BUNDLE_INDEX_HASH_LEN);
}

bool bundle_index_block_matches_with(struct sha256_ctx *c, const struct bundle_index *ix,
				     uint64_t i, const uint8_t *data)
{
	uint8_t h[BUNDLE_INDEX_HASH_LEN];

	if (i >= ix->nblocks || !ix->hashes) /* format 4 has no block hashes */
		return false;
	if (c)
		bundle_index_hash_block_with(c, data, ix->block_size, h);
	else
		bundle_index_hash_block(data, ix->block_size, h);
	return memcmp(h, ix->hashes + i * BUNDLE_INDEX_HASH_LEN, BUNDLE_INDEX_HASH_LEN) == 0;
}

bool bundle_index_block_matches(const struct bundle_index *ix, uint64_t i, const uint8_t *data)
{
	return bundle_index_block_matches_with(NULL, ix, i, data);
}

uint64_t bundle_op_source(uint32_t op, uint64_t i)
{
	if (op < BUNDLE_OP_COPY_BASE)
		return UINT64_MAX;
	uint64_t z = op - BUNDLE_OP_COPY_BASE;
	/* zigzag: even z is d = z / 2 >= 0, odd z is d = -(z + 1) / 2 */
	if (!(z & 1))
		return i + z / 2; /* i < 2^52, z < 2^32: no overflow */
	uint64_t back = (z + 1) / 2;
	return back > i ? UINT64_MAX : i - back;
}

uint32_t bundle_op_copy(uint64_t s, uint64_t i)
{
	uint64_t z = s >= i ? 2 * (s - i) : 2 * (i - s) - 1;
	/* Blocks of images within BUNDLE_INDEX_IMAGE_MAX (2^22 of them) fit. */
	return z > UINT32_MAX - BUNDLE_OP_COPY_BASE ? BUNDLE_OP_DATA
						    : (uint32_t)(z + BUNDLE_OP_COPY_BASE);
}

bool bundle_index_frame_hash_is(const struct bundle_index *ix, uint64_t f, const uint8_t *sha256)
{
	return ix->frame_hashes && f < ix->nframes &&
	       memcmp(sha256, ix->frame_hashes + f * BUNDLE_INDEX_HASH_LEN, BUNDLE_INDEX_HASH_LEN) == 0;
}

bool bundle_index_frame_matches_with(struct sha256_ctx *c, const struct bundle_index *ix,
				     uint64_t f, const uint8_t *data, size_t len)
{
	uint8_t h[BUNDLE_INDEX_HASH_LEN];

	if (c)
		bundle_index_hash_block_with(c, data, len, h);
	else
		bundle_index_hash_block(data, len, h);
	return bundle_index_frame_hash_is(ix, f, h);
}

uint64_t bundle_index_frame_of(const struct bundle_index *ix, uint64_t i)
{
	return i * ix->block_size / ix->frame_size;
}

struct collect {
	uint8_t *buf;
	size_t len, cap;
};

static int collect(void *user, const uint8_t *data, size_t len, struct error *e)
{
	struct collect *c = user;

	if (len > c->cap - c->len) /* a source never sends more than asked */
		return bad(e, "the source sent more than index-size");
	memcpy(c->buf + c->len, data, len);
	c->len += len;
	return 0;
}

/* The read that brought the head (len bytes of buf) brought the index's
 * first bytes too: kept for bundle_index_fetch (a delta install's index
 * request then starts after them). Without memory they are fetched again. */
static void keep_index_start(struct bundle_head *h, const uint8_t *buf, size_t len)
{
	uint64_t n;

	if (h->manifest.format < 3 || len <= h->index_offset)
		return;
	n = len - h->index_offset;
	if (n > h->manifest.index_size)
		n = h->manifest.index_size;
	h->index_start = malloc((size_t)n);
	if (!h->index_start)
		return;
	memcpy(h->index_start, buf + h->index_offset, (size_t)n);
	h->index_start_len = (size_t)n;
}

int bundle_head_fetch(const struct source_opts *o, struct bundle_head *h, uint64_t *total,
		      struct error *e)
{
	size_t len = 0, need = 0;
	uint8_t *buf = malloc(BUNDLE_HEAD_MAX);
	int rc;

	if (!buf)
		return err_oom(e, NULL);
	rc = source_read_head(o, buf, BUNDLE_HEAD_MAX, &len, total, e);
	if (rc == 0)
		rc = bundle_head_parse(buf, len, h, &need, e);
	if (rc == 0)
		keep_index_start(h, buf, len);
	free(buf);
	if (rc == -EAGAIN)
		return err_set(e, UPD_EXIT_VERIFY, ENODATA,
			       "bundle truncated: %zu bytes, its header needs %zu", len, need);
	return rc;
}

int bundle_index_fetch(const struct source_opts *o, const struct bundle_head *h,
		       struct bundle_index *ix, struct error *e)
{
	const struct manifest *m = &h->manifest;
	struct collect c = { .cap = (size_t)m->index_size };
	int r;

	memset(ix, 0, sizeof(*ix));
	if (m->format < 3)
		return bad(e, "the manifest's format has no index");
	/* index-size is bounded by the manifest parser (BUNDLE_INDEX_IMAGE_MAX). */
	c.buf = malloc(c.cap);
	if (!c.buf)
		return err_oom(e, "bundle index of %" PRIu64 " bytes", m->index_size);
	c.len = h->index_start_len < c.cap ? h->index_start_len : c.cap;
	if (c.len)
		memcpy(c.buf, h->index_start, c.len);
	r = c.len == c.cap ? 0
			   : source_stream(o, h->index_offset + c.len, m->index_size - c.len,
					   collect, &c, e);
	if (r == 0)
		r = bundle_index_parse(c.buf, c.len, m, ix, e);
	free(c.buf);
	return r;
}

/* Format 3 on the build host: the image cut into independently decodable
 * zstd frames, and the block index that signs each 4 KiB block's hash and
 * locates each frame (index.h, docs/bundle-format.md). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include "../lib/digest.h"
#include "../lib/io.h"
#include "create_priv.h"
#include "index.h"

/* The index compresses well where the image repeats blocks (all-zero ones
 * above all); it is small, so the strongest level costs little. */
#define INDEX_LEVEL 19

int create_grow(uint8_t **buf, size_t *cap, size_t need)
{
	if (need <= *cap)
		return 0;
	size_t n = *cap ? *cap : 4096;
	while (n < need)
		n *= 2;
	uint8_t *p = realloc(*buf, n);
	if (!p)
		return -ENOMEM;
	*buf = p;
	*cap = n;
	return 0;
}

/* One frame's 4 KiB blocks into the hash table; a short last block is
 * hashed padded with zeros, as a device reads it from a larger slot. */
static int hash_blocks(struct frames *f, const uint8_t *data, size_t n)
{
	uint8_t block[BUNDLE_BLOCK_SIZE];

	if (create_grow(&f->hashes, &f->hashes_cap,
		 f->nhashes + (n / BUNDLE_BLOCK_SIZE + 1) * BUNDLE_INDEX_HASH_LEN) < 0)
		return -ENOMEM;
	for (size_t at = 0; at < n; at += BUNDLE_BLOCK_SIZE) {
		const uint8_t *p = data + at;
		if (n - at < BUNDLE_BLOCK_SIZE) {
			memset(block, 0, sizeof(block));
			memcpy(block, p, n - at);
			p = block;
		}
		bundle_index_hash_block(p, BUNDLE_BLOCK_SIZE, f->hashes + f->nhashes);
		f->nhashes += BUNDLE_INDEX_HASH_LEN;
	}
	return 0;
}

int create_put_frame(struct creator *c, struct frames *f, size_t len, struct error *e)
{
	int r = io_write_full(c->pay_fd, c->out, len);

	if (r < 0)
		return err_set(e, create_io_exit(-r), -r,
			       "bundle create: write temp payload next to %s: %s", c->o->output,
			       strerror(-r));
	sha256_update(f->ph, c->out, len);
	c->m.payload_size += len;
	if (create_grow(&f->sizes, &f->sizes_cap, f->nsizes + 4) < 0)
		return err_oom(e, NULL);
	for (int i = 0; i < 4; i++)
		f->sizes[f->nsizes++] = (uint8_t)(len >> (8 * i));
	return 0;
}

/* Each frame alone, its size in its header, no checksum: the index's block
 * hashes check every byte a device takes from a frame. */
static int cut_frames(struct creator *c, struct frames *f, ZSTD_CCtx *z, struct error *e)
{
	for (;;) {
		ssize_t n = io_read_full(c->img_fd, c->in, c->frame_size);
		if (n < 0)
			return err_set(e, UPD_EXIT_OTHER, (int)-n, "bundle create: read image %s: %s",
				       c->o->image, strerror((int)-n));
		if (n == 0 && f->nsizes > 0)
			return 0;
		sha256_update(f->ih, c->in, (size_t)n);
		c->m.image_size += (uint64_t)n;
		if (hash_blocks(f, c->in, (size_t)n) < 0)
			return err_oom(e, NULL);
		size_t len = ZSTD_compress2(z, c->out, c->out_cap, c->in, (size_t)n);
		if (ZSTD_isError(len))
			return err_set(e, UPD_EXIT_OTHER, EIO, "bundle create: compress %s: %s",
				       c->o->image, ZSTD_getErrorName(len));
		int r = create_put_frame(c, f, len, e);
		if (r < 0 || (size_t)n < c->frame_size)
			return r;
	}
}

int create_index(struct creator *c, const struct frames *f, struct error *e)
{
	size_t raw_len = f->nsizes + f->nhashes + f->nops + f->nprefixes;
	uint8_t *raw = malloc(raw_len ? raw_len : 1);
	size_t cap = ZSTD_compressBound(raw_len);

	c->index = malloc(cap);
	if (!raw || !c->index) {
		free(raw);
		return err_oom(e, NULL);
	}
	memcpy(raw, f->sizes, f->nsizes);
	if (f->nhashes)
		memcpy(raw + f->nsizes, f->hashes, f->nhashes);
	if (f->nops)
		memcpy(raw + f->nsizes + f->nhashes, f->ops, f->nops);
	if (f->nprefixes)
		memcpy(raw + f->nsizes + f->nhashes + f->nops, f->prefixes, f->nprefixes);
	size_t n = ZSTD_compress(c->index, cap, raw, raw_len, INDEX_LEVEL);
	free(raw);
	if (ZSTD_isError(n))
		return err_set(e, UPD_EXIT_OTHER, EIO, "bundle create: compress the index: %s",
			       ZSTD_getErrorName(n));
	c->m.index_size = n;
	struct sha256_ctx *x = sha256_new();
	if (!x)
		return err_oom(e, NULL);
	sha256_update(x, c->index, n);
	sha256_final(x, c->m.index_sha256);
	return 0;
}

int create_frames_end(struct creator *c, struct frames *f, int r)
{
	if (r == 0) {
		sha256_final(f->ih, c->m.image_sha256);
		sha256_final(f->ph, c->m.payload_sha256);
		f->ih = f->ph = NULL;
	}
	sha256_free(f->ih);
	sha256_free(f->ph);
	free(f->sizes);
	free(f->hashes);
	free(f->ops);
	free(f->prefixes);
	memset(f, 0, sizeof(*f));
	return r;
}

static int zstd_frames_setup(ZSTD_CCtx *z, struct creator *c, struct error *e)
{
	int wlog = BUNDLE_ZSTD_WINDOW_LOG_MIN;

	/* A frame never needs more window than its own size: the manifest says
	 * the smallest power of two holding a frame (or less if asked). */
	while (wlog < c->wlog && ((uint32_t)1 << wlog) < c->frame_size)
		wlog++;
	c->wlog = wlog;
	size_t r = ZSTD_CCtx_setParameter(z, ZSTD_c_compressionLevel, c->level);
	if (!ZSTD_isError(r))
		r = ZSTD_CCtx_setParameter(z, ZSTD_c_windowLog, wlog);
	if (!ZSTD_isError(r))
		r = ZSTD_CCtx_setParameter(z, ZSTD_c_checksumFlag, 0);
	if (ZSTD_isError(r))
		return err_set(e, UPD_EXIT_OTHER, EINVAL, "bundle create: zstd setup: %s",
			       ZSTD_getErrorName(r));
	return 0;
}

int create_frames(struct creator *c, struct error *e)
{
	struct frames f = { .ih = sha256_new(), .ph = sha256_new() };
	ZSTD_CCtx *z = ZSTD_createCCtx();
	int r = (z && f.ih && f.ph) ? zstd_frames_setup(z, c, e) : err_oom(e, NULL);

	c->m.block_size = BUNDLE_BLOCK_SIZE;
	c->m.frame_size = c->frame_size;
	if (r == 0)
		r = cut_frames(c, &f, z, e);
	if (r == 0 && c->m.image_size > BUNDLE_INDEX_IMAGE_MAX)
		r = err_set(e, UPD_EXIT_USAGE, EFBIG,
			    "bundle create: image %s is larger than format 3's %llu bytes "
			    "(use --format 2)", c->o->image, (unsigned long long)BUNDLE_INDEX_IMAGE_MAX);
	if (r == 0)
		r = create_index(c, &f, e);
	ZSTD_freeCCtx(z);
	return create_frames_end(c, &f, r);
}

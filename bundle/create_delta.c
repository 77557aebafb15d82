/* Formats 4 and 5 on the build host: a static delta. The source is the image
 * of an older bundle, decoded and checked against its manifest; each 4 KiB
 * block of the new image becomes an op (zeros, a copy of a source block, or
 * data), and the data blocks are cut into zstd frames compressed against
 * the whole source (format 4) or the source followed by the new image's
 * blocks before the frame (format 5, create_grown.h; index.h,
 * docs/bundle-format.md, "Static delta"). */
#define ZSTD_STATIC_LINKING_ONLY /* ZSTD_createCDict_advanced2 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zstd.h>

#include "../lib/digest.h"
#include "../lib/io.h"
#include "../lib/log.h"
#include "create_grown.h"
#include "create_priv.h"
#include "index.h"

/* The source's whole blocks by content: open addressing, slot = block + 1. */
struct table {
	uint64_t *keys;
	uint32_t *slots;
	size_t mask;
};

struct delta {
	struct frames f;
	/* The source image, a private anonymous map of map_size bytes; format
	 * 5: the new image (img_size bytes) follows it there. */
	uint8_t *src;
	uint64_t src_size, src_blocks, map_size, img_size;
	uint64_t first; /* the image block of the waiting frame's first data block */
	struct grown g;
	struct creator *c;
	struct table t;
	ZSTD_CCtx *z;
	ZSTD_CDict *cd;
	ZSTD_DCtx *d;
	uint8_t *check; /* a frame decoded again, as a device decodes it */
	size_t fill;    /* data bytes waiting in c->in */
};

static const uint8_t zero_block[BUNDLE_BLOCK_SIZE];

static int src_err(struct creator *c, int exit, int err, const char *why, struct error *e)
{
	return err_set(e, exit, err, "bundle create: delta source %s: %s", c->o->delta_from, why);
}

/* The source bundle's head: a full image (formats 1-3) of at least a byte. */
static int source_head(struct creator *c, int fd, struct bundle_head *h, struct error *e)
{
	uint8_t *buf = malloc(BUNDLE_HEAD_MAX);
	size_t need = 0;

	if (!buf)
		return err_oom(e, NULL);
	ssize_t n = io_pread_full(fd, buf, BUNDLE_HEAD_MAX, 0);
	int r = n < 0 ? src_err(c, UPD_EXIT_USAGE, (int)-n, strerror((int)-n), e)
		      : bundle_head_parse(buf, (size_t)n, h, &need, e);
	free(buf);
	if (r == -EAGAIN)
		return src_err(c, UPD_EXIT_USAGE, ENODATA, "truncated (not a whole bundle head)", e);
	if (r < 0)
		return err_prefix(e, "bundle create: delta source %s", c->o->delta_from), r;
	if (h->manifest.format >= 4)
		return src_err(c, UPD_EXIT_USAGE, EINVAL,
			       "is itself a static delta (a delta applies to a full bundle's image)", e);
	if (h->manifest.image_size == 0)
		return src_err(c, UPD_EXIT_USAGE, EINVAL, "has an empty image", e);
	if (h->manifest.image_size > SIZE_MAX / 2)
		return src_err(c, UPD_EXIT_USAGE, EFBIG, "image too large", e);
	return 0;
}

/* Streams the payload through the decoder into the map, hashing both sides. */
static int decode_payload(struct creator *c, int fd, const struct bundle_head *h,
			  struct delta *d, struct sha256_ctx *ph, struct error *e)
{
	const struct manifest *m = &h->manifest;
	ZSTD_DCtx *z = ZSTD_createDCtx();
	ZSTD_outBuffer out = {d->src, (size_t)m->image_size, 0};
	uint64_t at = 0;
	size_t left = 1;
	int r = z ? 0 : err_oom(e, NULL);

	if (z)
		ZSTD_DCtx_setParameter(z, ZSTD_d_windowLogMax, m->zstd_window_log);
	while (r == 0 && at < m->payload_size) {
		uint64_t want = m->payload_size - at < CHUNK ? m->payload_size - at : CHUNK;
		ssize_t n = io_pread_full(fd, c->in, (size_t)want, h->payload_offset + at);
		if (n < (ssize_t)want) {
			r = src_err(c, UPD_EXIT_USAGE, n < 0 ? (int)-n : ENODATA,
				    n < 0 ? strerror((int)-n) : "payload truncated", e);
			break;
		}
		sha256_update(ph, c->in, (size_t)n);
		at += (uint64_t)n;
		ZSTD_inBuffer in = {c->in, (size_t)n, 0};
		while (r == 0 && in.pos < in.size) {
			left = ZSTD_decompressStream(z, &out, &in);
			if (ZSTD_isError(left) || (out.pos == out.size && in.pos < in.size && left))
				r = src_err(c, UPD_EXIT_VERIFY, EBADMSG,
					    "payload does not decode to its image (corrupt?)", e);
		}
	}
	if (r == 0 && (left != 0 || out.pos != out.size))
		r = src_err(c, UPD_EXIT_VERIFY, EBADMSG,
			    "payload does not decode to image-size bytes (corrupt?)", e);
	ZSTD_freeDCtx(z);
	return r;
}

static int check_sha(struct creator *c, struct sha256_ctx *x, const uint8_t want[32],
		     const char *what, struct error *e)
{
	uint8_t got[32];

	sha256_final(x, got);
	if (memcmp(got, want, 32) != 0)
		return err_set(e, UPD_EXIT_VERIFY, EBADMSG,
			       "bundle create: delta source %s: %s does not match its manifest's "
			       "(tampered or corrupt: refused)", c->o->delta_from, what);
	return 0;
}

/* The source image, decoded from its bundle and checked against the payload
 * and image hashes of that bundle's manifest. */
static int load_source(struct creator *c, struct delta *d, struct error *e)
{
	struct bundle_head h = {0};
	int fd = open(c->o->delta_from, O_RDONLY | O_CLOEXEC);
	int r = fd < 0 ? src_err(c, UPD_EXIT_USAGE, errno, strerror(errno), e)
		       : source_head(c, fd, &h, e);

	if (r == 0) {
		d->src_size = h.manifest.image_size;
		d->map_size = d->src_size + d->img_size;
		d->src = mmap(NULL, (size_t)d->map_size, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (d->src == MAP_FAILED) {
			d->src = NULL;
			r = err_oom(e, "delta source image of %" PRIu64 " bytes", d->src_size);
		}
	}
	struct sha256_ctx *ph = r == 0 ? sha256_new() : NULL, *ih = NULL;
	if (r == 0 && !ph)
		r = err_oom(e, NULL);
	if (r == 0)
		r = decode_payload(c, fd, &h, d, ph, e);
	if (r == 0) {
		r = check_sha(c, ph, h.manifest.payload_sha256, "payload-sha256", e);
		ph = NULL; /* check_sha finished it */
	}
	if (r == 0 && !(ih = sha256_new()))
		r = err_oom(e, NULL);
	if (r == 0) {
		sha256_update(ih, d->src, (size_t)d->src_size);
		r = check_sha(c, ih, h.manifest.image_sha256, "decoded image-sha256", e);
		memcpy(c->m.delta_source_sha256, h.manifest.image_sha256, 32);
	}
	sha256_free(ph);
	if (fd >= 0)
		close(fd);
	bundle_head_free(&h);
	return r;
}

static uint64_t block_key(const uint8_t *p)
{
	uint64_t h = 0x9e3779b97f4a7c15u, w;

	for (size_t k = 0; k < BUNDLE_BLOCK_SIZE; k += 8) {
		memcpy(&w, p + k, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdu;
		h ^= h >> 29;
	}
	return h;
}

/* Every whole, non-zero block of the source, the first of equal ones kept. */
static int build_table(struct delta *d, struct error *e)
{
	size_t n = 1024;

	while (n < 2 * d->src_blocks)
		n *= 2;
	d->t.keys = malloc(n * sizeof(*d->t.keys));
	d->t.slots = calloc(n, sizeof(*d->t.slots));
	if (!d->t.keys || !d->t.slots)
		return err_oom(e, NULL);
	d->t.mask = n - 1;
	for (uint64_t s = 0; s < d->src_blocks; s++) {
		const uint8_t *p = d->src + s * BUNDLE_BLOCK_SIZE;
		if (memcmp(p, zero_block, BUNDLE_BLOCK_SIZE) == 0)
			continue;
		uint64_t k = block_key(p);
		size_t at = (size_t)k & d->t.mask;
		while (d->t.slots[at] &&
		       !(d->t.keys[at] == k && memcmp(d->src + (uint64_t)(d->t.slots[at] - 1) *
							       BUNDLE_BLOCK_SIZE, p, BUNDLE_BLOCK_SIZE) == 0))
			at = (at + 1) & d->t.mask;
		if (!d->t.slots[at]) {
			d->t.keys[at] = k;
			d->t.slots[at] = (uint32_t)(s + 1);
		}
	}
	return 0;
}

/* Block i's op: zeros, the source's own block i, another equal source
 * block, or data. */
static uint32_t classify(const struct delta *d, const uint8_t *blk, uint64_t i)
{
	if (memcmp(blk, zero_block, BUNDLE_BLOCK_SIZE) == 0)
		return BUNDLE_OP_ZERO;
	if (i < d->src_blocks && memcmp(d->src + i * BUNDLE_BLOCK_SIZE, blk, BUNDLE_BLOCK_SIZE) == 0)
		return bundle_op_copy(i, i);
	uint64_t k = block_key(blk);
	for (size_t at = (size_t)k & d->t.mask; d->t.slots[at]; at = (at + 1) & d->t.mask) {
		uint64_t s = d->t.slots[at] - 1;
		if (d->t.keys[at] == k &&
		    memcmp(d->src + s * BUNDLE_BLOCK_SIZE, blk, BUNDLE_BLOCK_SIZE) == 0)
			return bundle_op_copy(s, i);
	}
	return BUNDLE_OP_DATA;
}

/* The window a frame needs: the whole source as its prefix, then the frame;
 * format 5: and as much of the new image as the cap leaves (create_grown.c
 * shortens a prefix that would not fit). */
static int delta_window(struct creator *c, const struct delta *d, struct error *e)
{
	int cap = BUNDLE_DELTA_WINDOW_LOG_MAX < ZSTD_WINDOWLOG_MAX ? BUNDLE_DELTA_WINDOW_LOG_MAX
								     : ZSTD_WINDOWLOG_MAX;
	uint64_t need = d->src_size + c->frame_size, most = (uint64_t)1 << cap;
	int wlog = BUNDLE_ZSTD_WINDOW_LOG_MIN;

	if (need > most)
		return src_err(c, UPD_EXIT_USAGE, EFBIG,
			       "image too large for a static delta (source + frame must fit a "
			       "window of 2^31 bytes)", e);
	if (d->g.grow)
		need = need + d->img_size > most ? most : need + d->img_size;
	while (((uint64_t)1 << wlog) < need)
		wlog++;
	c->wlog = wlog;
	return 0;
}

/* The match finder's chain table (a binary tree at level 16 and above) only
 * reaches back 2^(chainLog - 1) bytes: at the level's default (2^24 at
 * level 19) a frame could not see most of a large source except through
 * single hash heads. Grown to cover the window, up to 2^28 entries (1 GiB of
 * table on the build host): on the release series of docs/benchmark.md the
 * feature releases' deltas shrank 2.6 % and 2.7 %, for 2.4x and 2.2x the time
 * to make them (docs/dualbank.md, "Static delta"). */
#define DELTA_CHAIN_LOG_MAX 28

static unsigned delta_chain_log(const struct creator *c, const struct delta *d)
{
	unsigned dflt = ZSTD_getCParams(c->level, 0, (size_t)d->src_size).chainLog;
	unsigned want = (unsigned)c->wlog + 1;

	if (want > DELTA_CHAIN_LOG_MAX)
		want = DELTA_CHAIN_LOG_MAX;
	return want > dflt ? want : dflt;
}

/* The source indexed once as a raw-content dictionary (re-indexing it per
 * frame was measured 4x slower), referenced by every frame of format 4 and
 * shared by format 5's workers. */
static int source_dict(struct creator *c, struct delta *d, struct error *e)
{
	ZSTD_CCtx_params *p = ZSTD_createCCtxParams();
	size_t r = p ? ZSTD_CCtxParams_init(p, c->level) : 0;

	if (!p)
		return err_oom(e, NULL);
	if (!ZSTD_isError(r))
		r = ZSTD_CCtxParams_setParameter(p, ZSTD_c_windowLog, c->wlog);
	if (!ZSTD_isError(r))
		r = ZSTD_CCtxParams_setParameter(p, ZSTD_c_chainLog, (int)delta_chain_log(c, d));
	if (!ZSTD_isError(r))
		d->cd = ZSTD_createCDict_advanced2(d->src, (size_t)d->src_size, ZSTD_dlm_byRef,
						   ZSTD_dct_rawContent, p, ZSTD_defaultCMem);
	ZSTD_freeCCtxParams(p);
	if (ZSTD_isError(r) || !d->cd)
		return err_set(e, UPD_EXIT_OTHER, ZSTD_isError(r) ? EINVAL : ENOMEM,
			       "bundle create: zstd setup for the delta: %s",
			       ZSTD_isError(r) ? ZSTD_getErrorName(r) : "out of memory");
	return 0;
}

/* Format 5 compresses each frame both ways and keeps the smaller
 * (create_grown.h): the grown prefix wins on a feature release, the source
 * dictionary's longer chains on a small fix. */
static int delta_zstd_setup(struct creator *c, struct delta *d, struct error *e)
{
	int rc = source_dict(c, d, e);
	size_t r = 0;

	if (rc < 0)
		return rc;
	if (c->format == 5) {
		d->g.base = d->src;
		d->g.src_size = d->src_size;
		d->g.block_size = BUNDLE_BLOCK_SIZE;
		d->g.frame_size = c->frame_size;
		d->g.level = c->level;
		d->g.wlog = c->wlog;
		d->g.dict = d->cd;
		return grown_init(&d->g, e);
	}
	d->z = ZSTD_createCCtx();
	d->d = ZSTD_createDCtx();
	d->check = malloc(c->frame_size);
	if (!d->z || !d->d || !d->check)
		return err_oom(e, "bundle create: zstd setup for the delta");
	r = ZSTD_CCtx_setParameter(d->z, ZSTD_c_compressionLevel, c->level);
	if (!ZSTD_isError(r))
		r = ZSTD_CCtx_setParameter(d->z, ZSTD_c_windowLog, c->wlog);
	if (!ZSTD_isError(r))
		r = ZSTD_CCtx_setParameter(d->z, ZSTD_c_enableLongDistanceMatching, 1);
	if (!ZSTD_isError(r))
		r = ZSTD_CCtx_setParameter(d->z, ZSTD_c_checksumFlag, 0);
	if (!ZSTD_isError(r))
		r = ZSTD_CCtx_refCDict(d->z, d->cd);
	if (!ZSTD_isError(r))
		r = ZSTD_DCtx_setParameter(d->d, ZSTD_d_windowLogMax, c->wlog);
	if (ZSTD_isError(r))
		return err_set(e, UPD_EXIT_OTHER, EINVAL, "bundle create: zstd setup: %s",
			       ZSTD_getErrorName(r));
	return 0;
}

/* A compressed frame (c->out, len bytes) of fill data bytes kept: its hash
 * and, in format 5, its prefix into the index. */
static int keep_frame(struct creator *c, struct delta *d, const uint8_t *data, size_t fill,
		      size_t len, uint32_t prefix_blocks, struct error *e)
{
	struct frames *f = &d->f;

	if (create_grow(&f->hashes, &f->hashes_cap, f->nhashes + BUNDLE_INDEX_HASH_LEN) < 0 ||
	    (c->format == 5 && create_grow(&f->prefixes, &f->prefixes_cap, f->nprefixes + 4) < 0))
		return err_oom(e, NULL);
	bundle_index_hash_block(data, fill, f->hashes + f->nhashes);
	f->nhashes += BUNDLE_INDEX_HASH_LEN;
	c->m.delta_data_size += fill;
	for (int k = 0; c->format == 5 && k < 4; k++)
		f->prefixes[f->nprefixes++] = (uint8_t)(prefix_blocks >> (8 * k));
	return create_put_frame(c, f, len, e);
}

static int emit_grown(void *user, const struct grown_job *j, struct error *e)
{
	struct delta *d = user;

	memcpy(d->c->out, j->out, j->len);
	return keep_frame(d->c, d, j->in, j->fill, j->len, j->prefix_blocks, e);
}

/* The waiting data as one frame, decoded again with the source as prefix
 * (as a device does) before it is kept; its hash into the index. Format 5
 * queues it for create_grown.c instead. */
static int emit_frame(struct creator *c, struct delta *d, struct error *e)
{
	if (c->format == 5) {
		int r = grown_add(&d->g, c->in, d->fill, d->first, emit_grown, d, e);
		d->fill = 0;
		return r;
	}
	size_t len = ZSTD_compress2(d->z, c->out, c->out_cap, c->in, d->fill);

	if (ZSTD_isError(len))
		return err_set(e, UPD_EXIT_OTHER, EIO, "bundle create: compress %s: %s",
			       c->o->image, ZSTD_getErrorName(len));
	size_t r = ZSTD_DCtx_refPrefix(d->d, d->src, (size_t)d->src_size);
	size_t got = ZSTD_isError(r) ? r : ZSTD_decompressDCtx(d->d, d->check, c->frame_size,
							      c->out, len);
	if (ZSTD_isError(got) || got != d->fill || memcmp(d->check, c->in, d->fill) != 0)
		return err_set(e, UPD_EXIT_OTHER, EIO,
			       "bundle create: a delta frame does not decode back (%s)",
			       ZSTD_isError(got) ? ZSTD_getErrorName(got) : "other content");
	r = keep_frame(c, d, c->in, d->fill, len, 0, e);
	d->fill = 0;
	return r;
}

/* Block i (n bytes, padded) into its op, and into the data if it is some. */
static int put_block(struct creator *c, struct delta *d, const uint8_t *blk, size_t n,
		     struct error *e)
{
	uint64_t i = c->m.image_size / BUNDLE_BLOCK_SIZE;
	uint32_t op = classify(d, blk, i);
	struct frames *f = &d->f;

	if (create_grow(&f->ops, &f->ops_cap, f->nops + 4) < 0)
		return err_oom(e, NULL);
	for (int k = 0; k < 4; k++)
		f->ops[f->nops++] = (uint8_t)(op >> (8 * k));
	sha256_update(f->ih, blk, n);
	c->m.image_size += n;
	if (op != BUNDLE_OP_DATA)
		return 0;
	if (d->fill == 0)
		d->first = i;
	memcpy(c->in + d->fill, blk, n);
	d->fill += n;
	return d->fill == c->frame_size ? emit_frame(c, d, e) : 0;
}

/* The image's next block: read (format 4), or taken from the copy the
 * prefixes refer to (format 5), so that both are the same bytes. */
static ssize_t next_block(struct creator *c, const struct delta *d, uint8_t *blk)
{
	if (c->format != 5)
		return io_read_full(c->img_fd, blk, BUNDLE_BLOCK_SIZE);
	uint64_t at = c->m.image_size, n = d->img_size - at;
	n = n < BUNDLE_BLOCK_SIZE ? n : BUNDLE_BLOCK_SIZE;
	memcpy(blk, d->src + d->src_size + at, (size_t)n);
	return (ssize_t)n;
}

static int scan_image(struct creator *c, struct delta *d, struct error *e)
{
	uint8_t blk[BUNDLE_BLOCK_SIZE];

	for (;;) {
		ssize_t n = next_block(c, d, blk);
		if (n < 0)
			return err_set(e, UPD_EXIT_OTHER, (int)-n, "bundle create: read image %s: %s",
				       c->o->image, strerror((int)-n));
		if (n == 0)
			break;
		memset(blk + n, 0, sizeof(blk) - (size_t)n);
		int r = put_block(c, d, blk, (size_t)n, e);
		if (r < 0)
			return r;
		if (c->m.image_size > BUNDLE_INDEX_IMAGE_MAX)
			return err_set(e, UPD_EXIT_USAGE, EFBIG,
				       "bundle create: image %s is larger than a delta's %llu bytes",
				       c->o->image, (unsigned long long)BUNDLE_INDEX_IMAGE_MAX);
		if ((size_t)n < sizeof(blk))
			break;
	}
	int r = d->fill ? emit_frame(c, d, e) : 0;
	return r == 0 && c->format == 5 ? grown_flush(&d->g, emit_grown, d, e) : r;
}

/* Format 5: the new image's size, before the source is mapped with room for
 * it; a prefix may take its blocks only after a source of whole blocks. */
static int image_size(struct creator *c, struct delta *d, struct error *e)
{
	struct stat st;

	if (c->format != 5)
		return 0;
	if (fstat(c->img_fd, &st) < 0 || !S_ISREG(st.st_mode))
		return err_set(e, UPD_EXIT_USAGE, EINVAL,
			       "bundle create: image %s: format 5 reads a regular file whole "
			       "(--format 4 reads a stream)", c->o->image);
	if ((uint64_t)st.st_size > BUNDLE_INDEX_IMAGE_MAX)
		return err_set(e, UPD_EXIT_USAGE, EFBIG,
			       "bundle create: image %s is larger than a delta's %llu bytes",
			       c->o->image, (unsigned long long)BUNDLE_INDEX_IMAGE_MAX);
	d->img_size = (uint64_t)st.st_size;
	return 0;
}

/* Format 5: the new image read next to the source, where the prefixes are. */
static int load_image(struct creator *c, struct delta *d, struct error *e)
{
	if (c->format != 5)
		return 0;
	d->g.grow = d->src_size % BUNDLE_BLOCK_SIZE == 0;
	ssize_t n = io_pread_full(c->img_fd, d->src + d->src_size, (size_t)d->img_size, 0);
	if (n != (ssize_t)d->img_size)
		return err_set(e, UPD_EXIT_OTHER, n < 0 ? (int)-n : EIO,
			       "bundle create: read image %s: %s", c->o->image,
			       n < 0 ? strerror((int)-n) : "it changed while read");
	return 0;
}

/* Devices ask for a delta by the full bundle's name and their image's id. */
static void check_name(struct creator *c)
{
	char hex[65], want[32];
	size_t n = strlen(c->o->output);

	hex_encode(c->m.delta_source_sha256, 32, hex);
	snprintf(want, sizeof(want), ".from-%.16s", hex);
	if (n < strlen(want) || strcmp(c->o->output + n - strlen(want), want) != 0)
		log_warn("bundle create: %s does not end in %s: devices running image %.16s "
			 "ask for NAME.upd%s next to the full bundle NAME.upd", c->o->output, want,
			 hex, want);
}

static void delta_free(struct delta *d)
{
	if (d->src)
		munmap(d->src, (size_t)d->map_size);
	free(d->t.keys);
	free(d->t.slots);
	grown_free(&d->g); /* its workers share cd */
	ZSTD_freeCCtx(d->z);
	ZSTD_freeCDict(d->cd);
	ZSTD_freeDCtx(d->d);
	free(d->check);
}

int create_delta(struct creator *c, struct error *e)
{
	struct delta d = { .f = { .ih = sha256_new(), .ph = sha256_new() }, .c = c };
	int r = (d.f.ih && d.f.ph) ? image_size(c, &d, e) : err_oom(e, NULL);

	if (r == 0)
		r = load_source(c, &d, e);
	if (r == 0)
		r = load_image(c, &d, e);

	c->m.block_size = BUNDLE_BLOCK_SIZE;
	c->m.frame_size = c->frame_size;
	d.src_blocks = d.src_size / BUNDLE_BLOCK_SIZE;
	c->m.delta_source_size = d.src_size;
	if (r == 0)
		r = delta_window(c, &d, e);
	if (r == 0)
		r = build_table(&d, e);
	if (r == 0)
		r = delta_zstd_setup(c, &d, e);
	if (r == 0)
		r = scan_image(c, &d, e);
	if (r == 0)
		r = create_index(c, &d.f, e);
	if (r == 0)
		check_name(c);
	delta_free(&d);
	return create_frames_end(c, &d.f, r);
}

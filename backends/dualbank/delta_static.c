/* A static delta's install (delta.h, docs/dualbank.md "Static delta"): one
 * pass over the target (zero and copied blocks compared and written where
 * they differ, each frame's data blocks hashed against the frame's hash),
 * then the frames the target does not hold, fetched with range requests and
 * decoded with the source image as their prefix (format 5: followed by the
 * target's blocks the index names, final by then), then the whole image
 * verified. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <zstd.h>

#include "../../lib/digest.h"
#include "../../lib/io.h"
#include "../../lib/progress.h"
#include "../image/readback.h"
#include "delta.h"

struct sdelta {
	struct delta_run r;
	uint64_t per;     /* data blocks per frame */
	uint8_t *want;    /* per frame: 1 while the target does not hold it */
	uint8_t *frame;   /* one frame: the target's data blocks, or a decoded frame */
	size_t fill;      /* bytes of the scan's current frame in frame */
	uint64_t ndata;   /* data blocks the scan has seen */
	uint8_t *zeros, *blk; /* one block each */
	ZSTD_DCtx *dctx;
};

#define CORRUPT(r, e, fmt, ...)                                                             \
	err_set(e, UPD_EXIT_VERIFY, EBADMSG, "install %s: corrupt static delta: " fmt, (r)->j->name, \
		__VA_ARGS__)

/* The source is a shared read-only mapping of the active slot: dropping its
 * page table entries after each chunk and frame leaves its pages in the page
 * cache but takes them out of this process's RSS, which would otherwise grow
 * to the whole source (what the next frame refers to faults back in from the
 * cache). */
static void source_release(const struct delta_job *j)
{
	madvise((void *)(uintptr_t)j->source, (size_t)(j->source_size + j->target_room),
		MADV_DONTNEED);
}

/* Format 5: the target's first blocks mapped read-only right after the
 * source, in the room the source's mapping kept (static_delta.h); what the
 * install writes through fd shows there, as both are the page cache's. */
static int map_target(const struct delta_job *j, struct error *e)
{
	void *at = (void *)(uintptr_t)(j->source + j->source_size);

	if (!j->target_room)
		return 0;
	if (mmap(at, (size_t)j->target_room, PROT_READ, MAP_SHARED | MAP_FIXED, j->fd, 0) ==
	    MAP_FAILED)
		return err_set(e, UPD_EXIT_OTHER, errno, "install %s: map the target slot %s: %s",
			       j->name, j->path, strerror(errno));
	return 0;
}

/* Frame f's prefix: the source, then (format 5) the target's first blocks,
 * written out first so that the mapping shows them. */
static int frame_prefix(struct sdelta *s, uint64_t f, size_t *len, struct error *e)
{
	const struct delta_job *j = s->r.j;
	uint64_t n = j->ix->prefix_blocks ? j->ix->prefix_blocks[f] : 0;

	*len = (size_t)(j->source_size + n * j->ix->block_size);
	if (n * j->ix->block_size > j->target_room)
		return CORRUPT(&s->r, e, "frame %" PRIu64 "'s prefix is past the mapped target", f);
	return n ? delta_flush(&s->r, e) : 0;
}

/* Frame f's decoded length: its share of the data blocks. */
static uint64_t frame_data_len(const struct sdelta *s, uint64_t f)
{
	uint64_t fs = s->r.j->ix->frame_size, size = s->r.j->m->delta_data_size;
	return size - f * fs < fs ? size - f * fs : fs;
}

/* A data block of the target, in image order: gathered into its frame,
 * whose hash says whether the target holds the frame's data already. */
static int scan_data(struct sdelta *s, uint64_t i, const uint8_t *have, uint32_t len,
		     struct error *e)
{
	const struct bundle_index *ix = s->r.j->ix;
	uint64_t f = s->ndata / s->per;

	if (f >= ix->nframes || s->fill + len > frame_data_len(s, f))
		return CORRUPT(&s->r, e, "block %" PRIu64 " is data beyond the payload's %" PRIu64
			       " bytes", i, s->r.j->m->delta_data_size);
	memcpy(s->frame + s->fill, have, len);
	s->fill += len;
	s->ndata++;
	if (s->fill < frame_data_len(s, f))
		return 0;
	if (bundle_index_frame_matches_with(s->r.hash, ix, f, s->frame, s->fill))
		s->r.c->reused += s->fill;
	else
		s->want[f] = 1;
	s->fill = 0;
	return 0;
}

/* Block i of the target (have): a zero or copied block is written where it
 * differs from what it must hold, a data block goes to its frame's check. */
static int scan_block(struct sdelta *s, uint64_t i, const uint8_t *have, struct error *e)
{
	const struct delta_job *j = s->r.j;
	uint32_t op = j->ix->ops[i], len = delta_block_len(&s->r, i), bs = j->ix->block_size;
	const uint8_t *want = s->zeros;

	if (op == BUNDLE_OP_DATA)
		return scan_data(s, i, have, len, e);
	if (op != BUNDLE_OP_ZERO) {
		uint64_t src = bundle_op_source(op, i);
		if (src >= j->source_size / bs)
			return CORRUPT(&s->r, e, "block %" PRIu64 " copies source block %" PRIu64
				       ", beyond the source's %" PRIu64 " bytes", i, src, j->source_size);
		want = j->source + src * bs;
	}
	if (memcmp(have, want, len) == 0) {
		s->r.c->reused += len;
		return 0;
	}
	if (op == BUNDLE_OP_ZERO)
		s->r.c->zeros += len;
	else
		s->r.c->copied += len;
	return delta_write_block(&s->r, i, want, e);
}

static int scan(struct sdelta *s, struct error *e)
{
	const struct delta_job *j = s->r.j;
	uint32_t bs = j->ix->block_size, per = DELTA_CHUNK / bs;
	uint8_t *buf = malloc(DELTA_CHUNK);
	int rc = 0;

	if (!buf)
		return err_oom(e, NULL);
	progress_begin("delta-scan", j->m->image_size);
	for (uint64_t i = 0; i < j->ix->nblocks && rc == 0; i += per) {
		uint64_t n = j->ix->nblocks - i < per ? j->ix->nblocks - i : per;
		/* A target that cannot be read is rewritten: what it held does not matter. */
		if (delta_read_chunk(j->fd, buf, n * bs, i * bs) < 0)
			memset(buf, 0xff, n * bs);
		for (uint64_t k = 0; k < n && rc == 0; k++)
			rc = scan_block(s, i + k, buf + k * bs, e);
		uint64_t done = (i + n) * bs < j->m->image_size ? (i + n) * bs : j->m->image_size;
		delta_report(&s->r, done);
		source_release(j);
	}
	if (rc == 0 && (s->ndata != j->ix->ndata || s->fill != 0))
		rc = CORRUPT(&s->r, e, "%" PRIu64 " data blocks, the index counts %" PRIu64, s->ndata,
			     j->ix->ndata);
	if (rc == 0)
		rc = delta_flush(&s->r, e);
	rc == 0 ? progress_done() : progress_end();
	free(buf);
	return rc;
}

/* Frame f's data blocks (checked) written where the target differs. */
static int write_frame(struct sdelta *s, uint64_t f, struct error *e)
{
	const struct delta_job *j = s->r.j;
	uint64_t i = j->ix->frame_first[f], off = 0, len = frame_data_len(s, f);

	while (off < len) {
		while (i < j->ix->nblocks && j->ix->ops[i] != BUNDLE_OP_DATA)
			i++;
		if (i >= j->ix->nblocks)
			return CORRUPT(&s->r, e, "frame %" PRIu64 " has more data than data blocks", f);
		uint32_t n = delta_block_len(&s->r, i);
		ssize_t got = io_pread_full(j->fd, s->blk, n, i * j->ix->block_size);
		int rc = 0;
		if (got == (ssize_t)n && memcmp(s->blk, s->frame + off, n) == 0)
			s->r.c->reused += n;
		else
			rc = delta_write_block(&s->r, i, s->frame + off, e);
		if (rc < 0)
			return rc;
		off += n, i++;
	}
	return 0;
}

/* The image's check may read every block before the first data block of the
 * next frame still to come from frame f on. */
static void follow(struct sdelta *s, uint64_t f)
{
	const struct bundle_index *ix = s->r.j->ix;

	while (f < ix->nframes && !s->want[f])
		f++;
	delta_readback_upto(&s->r, f < ix->nframes ? ix->frame_first[f] : ix->nblocks);
}

/* A complete frame: decoded with the source as its prefix into one frame
 * buffer, checked against its hash, then written. */
static int frame_done(struct delta_run *r, void *user, uint64_t f, const uint8_t *in, size_t len,
		      struct error *e)
{
	struct sdelta *s = user;
	uint64_t want = frame_data_len(s, f);
	size_t plen = 0, got;
	int rc = frame_prefix(s, f, &plen, e);

	if (rc < 0)
		return rc;
	got = ZSTD_DCtx_refPrefix(s->dctx, r->j->source, plen);
	if (!ZSTD_isError(got))
		got = ZSTD_decompressDCtx(s->dctx, s->frame, r->j->ix->frame_size, in, len);
	if (ZSTD_isError(got))
		return CORRUPT(r, e, "frame %" PRIu64 " does not decode: %s", f,
			       ZSTD_getErrorName(got));
	if (got != want)
		return CORRUPT(r, e, "frame %" PRIu64 " decodes to %zu bytes, not %" PRIu64, f, got,
			       want);
	if (!bundle_index_frame_matches_with(r->hash, r->j->ix, f, s->frame, got))
		return CORRUPT(r, e, "frame %" PRIu64 " does not match the signed index", f);
	source_release(r->j);
	rc = write_frame(s, f, e);
	if (rc == 0)
		follow(s, f + 1);
	return rc;
}

static void sdelta_free(struct sdelta *s)
{
	free(s->r.wbuf), free(s->want), free(s->frame), free(s->zeros), free(s->blk);
	sha256_free(s->r.hash);
	ZSTD_freeDCtx(s->dctx);
}

static int sdelta_alloc(struct sdelta *s, struct error *e)
{
	const struct bundle_index *ix = s->r.j->ix;
	uint64_t nf = ix->nframes ? ix->nframes : 1;

	s->r.wbuf = malloc(DELTA_WBUF);
	s->r.hash = sha256_new();
	s->want = calloc(nf, 1);
	s->frame = malloc(ix->frame_size);
	s->zeros = calloc(1, ix->block_size);
	s->blk = malloc(ix->block_size);
	s->dctx = ZSTD_createDCtx();
	if (!s->r.wbuf || !s->r.hash || !s->want || !s->frame || !s->zeros ||
	    !s->blk || !s->dctx)
		return err_oom(e, NULL);
	/* The window the manifest signs bounds the decoder (the source and a frame). */
	ZSTD_DCtx_setParameter(s->dctx, ZSTD_d_windowLogMax, s->r.j->m->zstd_window_log);
	return 0;
}

int delta_static_install(const struct delta_job *j, struct delta_counts *c, struct error *e)
{
	struct sdelta s = { .r = { .j = j, .c = c } };
	const struct bundle_index *ix = j->ix;
	int rc;

	memset(c, 0, sizeof(*c));
	if (!bundle_format_is_delta(ix->format) || !ix->ops || ix->block_size == 0 ||
	    ix->frame_size == 0 ||
	    ix->frame_size % ix->block_size || !j->source)
		return err_set(e, UPD_EXIT_VERIFY, EBADMSG,
			       "install %s: not a static delta's index", j->name);
	s.per = ix->frame_size / ix->block_size;
	rc = sdelta_alloc(&s, e);
	if (rc == 0)
		rc = map_target(j, e);
	if (rc == 0)
		rc = scan(&s, e);
	/* The image's check reads what is final while the frames come in. */
	if (rc == 0 && memchr(s.want, 1, ix->nframes) && (rc = delta_check_start(j, &s.r.rb, e)) == 0)
		follow(&s, 0);
	if (rc == 0)
		rc = delta_fetch_frames(&s.r, s.want, frame_done, &s, e);
	if (rc < 0 && s.r.wlen) {
		/* What waits to be written was checked: kept for the next attempt. */
		struct error ignored = { 0 };
		delta_flush(&s.r, &ignored);
	}
	if (rc == 0)
		rc = delta_verify_image(j, s.r.rb, e);
	readback_free(s.r.rb);
	sdelta_free(&s);
	return rc;
}

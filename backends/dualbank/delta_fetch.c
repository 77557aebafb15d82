/* The delta install's last source (delta.h): the payload frames that hold
 * the blocks no device source had, fetched with range requests, each frame
 * decoded alone and each needed block of it checked against the index. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "../../lib/progress.h"
#include "delta.h"

struct fetch {
	struct delta_run *r;
	struct source_range *ranges;
	uint64_t *first_frame; /* per range: its first frame */
	size_t n;
	uint64_t total;        /* payload bytes of all ranges */
	ZSTD_DCtx *dctx;
	uint8_t *in, *out;     /* one compressed frame, one decoded frame */
	size_t in_len;         /* bytes of the current frame so far */
	uint64_t frame;        /* the frame being received */
	struct source_stats stats;
};

static uint64_t frame_len(const struct bundle_index *ix, uint64_t f)
{
	return ix->frame_offset[f + 1] - ix->frame_offset[f];
}

/* The frames with a needed block, adjacent ones joined into one range. */
static int plan_ranges(struct fetch *f, struct error *e)
{
	const struct bundle_index *ix = f->r->j->ix;
	uint64_t per = ix->frame_size / ix->block_size, last = UINT64_MAX;

	f->ranges = malloc(ix->nframes * sizeof(*f->ranges));
	f->first_frame = malloc(ix->nframes * sizeof(*f->first_frame));
	if (!f->ranges || !f->first_frame)
		return err_oom(e, NULL);
	for (uint64_t i = 0; i < ix->nblocks; i++) {
		uint64_t fr = i / per;
		if (!f->r->need[i] || fr == last)
			continue;
		if (f->n && last + 1 == fr) {
			f->ranges[f->n - 1].length += frame_len(ix, fr);
		} else {
			f->ranges[f->n] = (struct source_range){
				f->r->j->payload_offset + ix->frame_offset[fr], frame_len(ix, fr) };
			f->first_frame[f->n++] = fr;
		}
		f->total += frame_len(ix, fr);
		last = fr;
	}
	return 0;
}

#define CORRUPT(f, e, fmt, ...)                                                         \
	err_set(e, UPD_EXIT_VERIFY, EBADMSG, "install %s: corrupt payload: frame %" PRIu64 " " fmt, \
		(f)->r->j->name, (f)->frame, __VA_ARGS__)

/* A complete frame: decoded alone into exactly its share of the image, then
 * each of its needed blocks checked and written. */
static int frame_done(struct fetch *f, struct error *e)
{
	struct delta_run *r = f->r;
	const struct bundle_index *ix = r->j->ix;
	uint64_t start = f->frame * ix->frame_size, size = r->j->m->image_size;
	uint64_t want = size - start < ix->frame_size ? size - start : ix->frame_size;
	size_t got = ZSTD_decompressDCtx(f->dctx, f->out, ix->frame_size, f->in, f->in_len);

	if (ZSTD_isError(got))
		return CORRUPT(f, e, "does not decode: %s", ZSTD_getErrorName(got));
	if (got != want)
		return CORRUPT(f, e, "decodes to %zu bytes, not its %" PRIu64 " bytes of the image",
			       got, want);
	memset(f->out + got, 0, ix->frame_size - got); /* a short last block hashes padded */
	for (uint64_t k = 0; k * ix->block_size < got; k++) {
		uint64_t i = start / ix->block_size + k;
		const uint8_t *b = f->out + k * ix->block_size;
		if (!r->need[i])
			continue;
		if (!bundle_index_block_matches_with(r->hash, ix, i, b))
			return CORRUPT(f, e, "block %" PRIu64 " does not match the signed index", i);
		int rc = delta_write_block(r, i, b, e);
		if (rc < 0)
			return rc;
		r->need[i] = 0;
	}
	return 0;
}

static int on_bytes(void *user, size_t ri, uint64_t at, const uint8_t *data, size_t len,
		    struct error *e)
{
	struct fetch *f = user;
	const struct bundle_index *ix = f->r->j->ix;

	if (at == 0) {
		f->frame = f->first_frame[ri];
		f->in_len = 0;
	}
	while (len > 0) {
		size_t room = (size_t)(frame_len(ix, f->frame) - f->in_len);
		size_t n = len < room ? len : room;
		memcpy(f->in + f->in_len, data, n);
		f->in_len += n, data += n, len -= n;
		if (f->in_len == frame_len(ix, f->frame)) {
			int rc = frame_done(f, e);
			if (rc < 0)
				return rc;
			f->frame++, f->in_len = 0;
		}
	}
	f->r->c->downloaded = f->stats.payload;
	progress_transfer(f->stats.payload, f->r->c->reused + f->r->c->copied, f->r->c->written);
	progress_update(f->stats.payload);
	return 0;
}

static int fetch_frames(struct fetch *f, struct error *e)
{
	const struct delta_job *j = f->r->j;
	uint64_t most = 0;

	for (uint64_t i = 0; i < j->ix->nframes; i++)
		if (frame_len(j->ix, i) > most)
			most = frame_len(j->ix, i);
	f->in = malloc(most);
	f->out = malloc(j->ix->frame_size);
	f->dctx = ZSTD_createDCtx();
	if (!f->in || !f->out || !f->dctx)
		return err_oom(e, NULL);
	/* The window the manifest signs bounds the decoder, as in the full stream. */
	ZSTD_DCtx_setParameter(f->dctx, ZSTD_d_windowLogMax, (int)j->m->zstd_window_log);
	progress_begin("download", f->total);
	int rc = source_fetch_ranges(j->src, f->ranges, f->n, 0, on_bytes, f, &f->stats, e);
	if (rc == 0)
		rc = delta_flush(f->r, e);
	rc == 0 ? progress_done() : progress_end();
	return rc;
}

int delta_from_network(struct delta_run *r, struct error *e)
{
	struct fetch f = { .r = r };
	int rc;

	if (r->n_need == 0)
		return 0;
	rc = plan_ranges(&f, e);
	if (rc == 0)
		rc = fetch_frames(&f, e);
	r->c->downloaded = f.stats.payload;
	r->c->received = f.stats.received;
	r->c->requests = f.stats.requests;
	ZSTD_freeDCtx(f.dctx);
	free(f.in), free(f.out), free(f.ranges), free(f.first_frame);
	return rc;
}

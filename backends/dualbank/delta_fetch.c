/* The delta installs' network source (delta.h): whole payload frames fetched
 * with range requests, adjacent frames joined; for the dynamic delta, the
 * frames that hold the blocks no device source had, each decoded alone and
 * each needed block of it checked against the index. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/progress.h"
#include "delta.h"
#include "frame_decode.h"

struct fetch {
	struct delta_run *r;
	delta_frame_fn done;
	delta_tick_fn tick;
	void *user;
	struct source_range *ranges;
	uint64_t *first_frame; /* per range: its first frame */
	size_t n;
	size_t in_len;         /* bytes of the current frame so far */
	uint64_t frame;        /* the frame being received */
	uint64_t before;       /* payload bytes of earlier calls */
	struct source_stats now; /* this call's */
};

uint64_t delta_frame_len(const struct bundle_index *ix, uint64_t f)
{
	return ix->frame_offset[f + 1] - ix->frame_offset[f];
}

uint64_t delta_wanted_bytes(const struct bundle_index *ix, const uint8_t *want, uint64_t first,
			    uint64_t end)
{
	uint64_t total = 0;

	for (uint64_t fr = first; fr < end; fr++)
		total += want[fr] ? delta_frame_len(ix, fr) : 0;
	return total;
}

/* The frames [first, end) wanted, adjacent ones joined into one range: the
 * ranges counted first, so that the tables hold what is wanted, not a row
 * per frame (65536 frames of a 1 GiB image: 1.5 MiB, at the install's peak). */
static int plan_ranges(struct fetch *f, const uint8_t *want, uint64_t first, uint64_t end,
		       struct error *e)
{
	const struct bundle_index *ix = f->r->j->ix;
	size_t runs = 0;

	for (uint64_t fr = first; fr < end; fr++)
		runs += want[fr] && !(fr > first && want[fr - 1]);
	f->ranges = malloc((runs ? runs : 1) * sizeof(*f->ranges));
	f->first_frame = malloc((runs ? runs : 1) * sizeof(*f->first_frame));
	if (!f->ranges || !f->first_frame)
		return err_oom(e, NULL);
	for (uint64_t fr = first; fr < end; fr++) {
		if (!want[fr])
			continue;
		if (fr > first && want[fr - 1] && f->n) {
			f->ranges[f->n - 1].length += delta_frame_len(ix, fr);
		} else {
			f->ranges[f->n] = (struct source_range){
				f->r->j->payload_offset + ix->frame_offset[fr], delta_frame_len(ix, fr) };
			f->first_frame[f->n++] = fr;
		}
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
		size_t room = (size_t)(delta_frame_len(ix, f->frame) - f->in_len);
		struct delta_piece p = { f->frame, f->in_len, data, len < room ? len : room, false };
		p.end = p.len == room;
		int rc = f->done(f->r, f->user, &p, e);
		if (rc < 0)
			return rc;
		f->in_len += p.len, data += p.len, len -= p.len;
		if (p.end)
			f->frame++, f->in_len = 0;
	}
	f->r->c->downloaded = f->before + f->now.payload;
	if (f->tick)
		f->tick(f->r, f->user);
	return 0;
}

int delta_fetch_some(struct delta_run *r, const uint8_t *want, uint64_t first, uint64_t end,
		     delta_frame_fn done, delta_tick_fn tick, void *user,
		     struct source_stats *stats, struct error *e)
{
	struct fetch f = { .r = r, .done = done, .tick = tick, .user = user,
			   .before = stats->payload };
	int rc = plan_ranges(&f, want, first, end, e);

	if (rc == 0 && f.n > 0)
		rc = source_fetch_ranges(r->j->src, f.ranges, f.n, 0, on_bytes, &f, &f.now, e);
	stats->payload += f.now.payload;
	stats->received += f.now.received;
	stats->requests += f.now.requests;
	r->c->downloaded = stats->payload;
	r->c->received = stats->received;
	r->c->requests = stats->requests;
	free(f.ranges), free(f.first_frame);
	return rc;
}

/* The phase "download" in payload bytes, with what moved. */
static void download_tick(struct delta_run *r, void *user)
{
	(void)user;
	progress_transfer(r->c->downloaded, r->c->reused + r->c->copied, r->c->written);
	progress_update(r->c->downloaded);
}

int delta_fetch_frames(struct delta_run *r, const uint8_t *want, delta_frame_fn done, void *user,
		       struct error *e)
{
	const struct bundle_index *ix = r->j->ix;
	uint64_t total = delta_wanted_bytes(ix, want, 0, ix->nframes);
	struct source_stats stats = { 0 };
	int rc;

	if (total == 0)
		return 0;
	progress_begin("download", total);
	rc = delta_fetch_some(r, want, 0, ix->nframes, done, download_tick, user, &stats, e);
	if (rc == 0)
		rc = delta_flush(r, e);
	/* The phase's last line counts the last frame's writes too. */
	progress_transfer(r->c->downloaded, r->c->reused + r->c->copied, r->c->written);
	rc == 0 ? progress_done() : progress_end();
	return rc;
}

/* ---- the dynamic delta's frames ---- */

struct dynamic {
	struct frame_decode dec;
	uint8_t *out; /* one decoded frame */
};

#define CORRUPT(r, fr, e, fmt, ...)                                                          \
	err_set(e, UPD_EXIT_VERIFY, EBADMSG, "install %s: corrupt payload: frame %" PRIu64 " " fmt, \
		(r)->j->name, fr, __VA_ARGS__)

/* A complete frame, decoded alone into exactly its share of the image:
 * each of its needed blocks checked and written. */
static int frame_done(struct delta_run *r, struct dynamic *dy, uint64_t fr, struct error *e)
{
	const struct bundle_index *ix = r->j->ix;
	uint64_t start = fr * ix->frame_size, size = r->j->m->image_size;
	uint64_t want = size - start < ix->frame_size ? size - start : ix->frame_size;
	size_t got = 0;

	if (frame_decode_end(&dy->dec, &got) < 0)
		return CORRUPT(r, fr, e, "does not decode: %s", dy->dec.why);
	if (got != want)
		return CORRUPT(r, fr, e, "decodes to %zu bytes, not its %" PRIu64 " bytes of the image",
			       got, want);
	memset(dy->out + got, 0, ix->frame_size - got); /* a short last block hashes padded */
	for (uint64_t k = 0; k * ix->block_size < got; k++) {
		uint64_t i = start / ix->block_size + k;
		const uint8_t *b = dy->out + k * ix->block_size;
		if (!r->need[i])
			continue;
		if (!bundle_index_block_matches_with(r->hash, ix, i, b))
			return CORRUPT(r, fr, e, "block %" PRIu64 " does not match the signed index", i);
		int rc = delta_write_block(r, i, b, e);
		if (rc < 0)
			return rc;
		r->need[i] = 0;
	}
	delta_readback_follow(r);
	return 0;
}

/* A piece of a frame, decoded as it comes. */
static int frame_piece(struct delta_run *r, void *user, const struct delta_piece *p,
		       struct error *e)
{
	struct dynamic *dy = user;

	if (p->at == 0 &&
	    frame_decode_begin(&dy->dec, dy->out, r->j->ix->frame_size, NULL, 0) < 0)
		return CORRUPT(r, p->frame, e, "does not decode: %s", dy->dec.why);
	if (frame_decode_feed(&dy->dec, p->in, p->len, p->len, NULL, NULL) < 0)
		return CORRUPT(r, p->frame, e, "does not decode: %s", dy->dec.why);
	return p->end ? frame_done(r, dy, p->frame, e) : 0;
}

int delta_from_network(struct delta_run *r, struct error *e)
{
	const struct bundle_index *ix = r->j->ix;
	uint64_t per = ix->frame_size / ix->block_size;
	struct dynamic dy = { 0 };
	uint8_t *want;
	int rc;

	if (r->n_need == 0)
		return 0;
	rc = delta_decoder_init(r->j, &dy.dec, e);
	if (rc < 0)
		return rc;
	want = calloc(ix->nframes ? ix->nframes : 1, 1);
	dy.out = malloc(ix->frame_size);
	if (!want || !dy.out)
		rc = err_oom(e, NULL);
	if (rc == 0) {
		for (uint64_t i = 0; i < ix->nblocks; i++)
			want[i / per] |= r->need[i];
		rc = delta_fetch_frames(r, want, frame_piece, &dy, e);
	}
	frame_decode_free(&dy.dec);
	free(dy.out), free(want);
	return rc;
}

/* A static delta's install (delta.h, docs/dualbank.md "Static delta"): a
 * scan of the target on a thread of its own (zero and copied blocks compared
 * and written where they differ, each frame's data blocks hashed against the
 * frame's hash) while this thread fetches the frames the scan found missing,
 * as soon as it has decided them, with range requests, decodes them as they
 * come with the source image as their prefix (format 5: followed by the
 * target's blocks the index names, final by then) and writes them once
 * checked; then the whole image
 * verified. The two overlap because the scan waits on the slots and the
 * frames on the network and the decoder. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "../../lib/digest.h"
#include "../../lib/fault.h"
#include "../../lib/fault_around.h"
#include "../../lib/io.h"
#include "../../lib/log.h"
#include "../../lib/progress.h"
#include "../image/readback.h"
#include "delta.h"
#include "frame_decode.h"

/* What the scan has done, published under sdelta.mu. */
struct scan_state {
	uint64_t decided; /* frames whose want[] is final */
	uint64_t final;   /* blocks [0, final) scanned, what the scan wrote there written out */
	bool over;
	int rc;
};

struct sdelta {
	struct delta_run r;  /* the frames: this thread's writes */
	struct delta_run sr; /* the scan's writes (the same counts, added atomically) */
	uint8_t *want;       /* per frame: 1 while the target does not hold it */
	uint8_t *frame;      /* one decoded frame */
	uint8_t *chunk;      /* the scan's read buffer */
	uint64_t chunk_blocks; /* blocks chunk holds */
	/* The scan's copies: a run of source blocks read with pread, not through
	 * the mapping, whose faults map 64 KiB or more around each block and
	 * count in the process's RSS. */
	uint8_t *run;
	uint64_t run_first, run_n; /* source blocks [run_first, +run_n) in run */
	uint64_t run_cap;          /* blocks run holds */
	struct sha256_ctx *fh; /* the scan's current frame, hashed so far */
	size_t fill;         /* bytes of the scan's current frame */
	uint64_t ndata;      /* data blocks the scan has seen */
	uint64_t nframe;     /* frames the scan has decided */
	uint8_t *zeros, *blk; /* one block each */
	struct frame_decode dec; /* the frame being fetched */
	int uffd;                /* fault-around off for the source, or -errno */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct scan_state pub; /* under mu */
	struct error scan_e;   /* the scan's error, once pub.over */
	bool stop;             /* under mu: the frames failed, the scan ends */
	/* This thread's own: */
	struct scan_state seen; /* pub, as last read */
	uint64_t next;          /* the first frame neither fetched nor passed over */
	bool scanning, downloading; /* the progress phase: delta-scan, then download */
	struct source_stats st;
};

/* Compressed bytes decoded between two releases of the source's mapping.
 * zstd decodes a block (up to 128 KiB) once all of it is in, and a block
 * of matches into the source can be a few hundred bytes: on the 256 MiB
 * fixture of bench/delta_install.py (2026-12-07, each compressed frame
 * still held whole) steps of 256 bytes and of 1 KiB peaked at about 25400
 * KiB of RSS, 16 KiB at 41000, the whole frame at once at 50460. */
#define DECODE_STEP 256u
/* The scan's read of the target, in bytes (or one block, if larger): a
 * quarter of the dynamic delta's DELTA_CHUNK, for the peak RSS (the scan
 * runs beside the frames' buffers). */
#define SCAN_CHUNK (256u << 10)
/* The scan's run of source blocks, in bytes. */
#define SCAN_RUN (256u << 10)

#define CORRUPT(r, e, fmt, ...)                                                             \
	err_set(e, UPD_EXIT_VERIFY, EBADMSG, "install %s: corrupt static delta: " fmt, (r)->j->name, \
		__VA_ARGS__)

static void count(uint64_t *n, uint64_t add)
{
	__atomic_add_fetch(n, add, __ATOMIC_RELAXED);
}

static uint64_t counted(const uint64_t *n)
{
	return __atomic_load_n(n, __ATOMIC_RELAXED);
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
 * which the scan has passed (the index puts them before f's first data
 * block) and this thread writes out first so that the mapping shows them. */
static int frame_prefix(struct sdelta *s, uint64_t f, size_t *len, struct error *e)
{
	const struct delta_job *j = s->r.j;
	uint64_t n = j->ix->prefix_blocks ? j->ix->prefix_blocks[f] : 0;

	*len = (size_t)(j->source_size + n * j->ix->block_size);
	if (n * j->ix->block_size > j->target_room || n > s->seen.final)
		return CORRUPT(&s->r, e, "frame %" PRIu64 "'s prefix is past the mapped target", f);
	return n ? delta_flush(&s->r, e) : 0;
}

/* Frame f's decoded length: its share of the data blocks. */
static uint64_t frame_data_len(const struct sdelta *s, uint64_t f)
{
	uint64_t fs = s->r.j->ix->frame_size, size = s->r.j->m->delta_data_size;
	return size - f * fs < fs ? size - f * fs : fs;
}

/* A data block of the target, in image order, hashed into its frame's
 * hash, which says whether the target holds the frame's data already. */
static int scan_data(struct sdelta *s, uint64_t i, const uint8_t *have, uint32_t len,
		     struct error *e)
{
	const struct bundle_index *ix = s->sr.j->ix;
	uint64_t f = s->nframe;
	uint8_t h[32];

	if (f >= ix->nframes || s->fill + len > frame_data_len(s, f))
		return CORRUPT(&s->sr, e, "block %" PRIu64 " is data beyond the payload's %" PRIu64
			       " bytes", i, s->sr.j->m->delta_data_size);
	if (!s->fh && !(s->fh = sha256_new()))
		return err_oom(e, NULL);
	sha256_update(s->fh, have, len);
	s->fill += len;
	s->ndata++;
	if (s->fill < frame_data_len(s, f))
		return 0;
	sha256_final(s->fh, h);
	s->fh = NULL;
	if (bundle_index_frame_hash_is(ix, f, h))
		count(&s->sr.c->reused, s->fill);
	else
		s->want[f] = 1;
	s->fill = 0;
	s->nframe++;
	return 0;
}

/* Source block src, which target block i copies, from the run buffer: on a
 * miss, the copies from i on that take the blocks after src are read with
 * it, in one pread (as many as the buffer holds). */
static int source_block(struct sdelta *s, uint64_t i, uint64_t src, const uint8_t **out,
			struct error *e)
{
	const struct delta_job *j = s->sr.j;
	uint32_t bs = j->ix->block_size;
	uint64_t n = 1, limit = j->source_size / bs;

	if (src >= s->run_first && src - s->run_first < s->run_n) {
		*out = s->run + (src - s->run_first) * bs;
		return 0;
	}
	for (; n < s->run_cap && i + n < j->ix->nblocks && src + n < limit; n++) {
		uint32_t op = j->ix->ops[i + n];
		if (op == BUNDLE_OP_DATA || op == BUNDLE_OP_ZERO ||
		    bundle_op_source(op, i + n) != src + n)
			break;
	}
	s->run_n = 0;
	ssize_t got = io_pread_full(j->source_fd, s->run, n * bs, src * bs);
	if (got != (ssize_t)(n * bs)) {
		int err = got < 0 ? errno : EIO;
		return err_set(e, UPD_EXIT_OTHER, err, "install %s: read the active slot: %s",
			       j->name, strerror(err));
	}
	s->run_first = src, s->run_n = n;
	*out = s->run;
	return 0;
}

/* Block i of the target (have): a zero or copied block is written where it
 * differs from what it must hold, a data block goes to its frame's check. */
static int scan_block(struct sdelta *s, uint64_t i, const uint8_t *have, struct error *e)
{
	const struct delta_job *j = s->sr.j;
	uint32_t op = j->ix->ops[i], len = delta_block_len(&s->sr, i), bs = j->ix->block_size;
	const uint8_t *want = s->zeros;

	if (op == BUNDLE_OP_DATA)
		return scan_data(s, i, have, len, e);
	if (op != BUNDLE_OP_ZERO) {
		uint64_t src = bundle_op_source(op, i);
		if (src >= j->source_size / bs)
			return CORRUPT(&s->sr, e, "block %" PRIu64 " copies source block %" PRIu64
				       ", beyond the source's %" PRIu64 " bytes", i, src, j->source_size);
		int rc = source_block(s, i, src, &want, e);
		if (rc < 0)
			return rc;
	}
	if (memcmp(have, want, len) == 0) {
		count(&s->sr.c->reused, len);
		return 0;
	}
	count(op == BUNDLE_OP_ZERO ? &s->sr.c->zeros : &s->sr.c->copied, len);
	return delta_write_block(&s->sr, i, want, e);
}

/* Blocks [0, final) are scanned and written out: the frames decided so far
 * may be fetched. -ECANCELED when the frames failed. */
static int publish(struct sdelta *s, uint64_t final)
{
	bool stop;

	pthread_mutex_lock(&s->mu);
	s->pub.final = final;
	s->pub.decided = s->nframe;
	stop = s->stop;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
	return stop ? -ECANCELED : 0;
}

static int scan(struct sdelta *s, struct error *e)
{
	const struct delta_job *j = s->sr.j;
	uint32_t bs = j->ix->block_size;
	uint64_t per = s->chunk_blocks;
	int rc = 0;

	for (uint64_t i = 0; i < j->ix->nblocks && rc == 0; i += per) {
		uint64_t n = j->ix->nblocks - i < per ? j->ix->nblocks - i : per;
		/* A target that cannot be read is rewritten: what it held does not matter. */
		if (delta_read_chunk(j->fd, s->chunk, n * bs, i * bs) < 0)
			memset(s->chunk, 0xff, n * bs);
		for (uint64_t k = 0; k < n && rc == 0; k++)
			rc = scan_block(s, i + k, s->chunk + k * bs, e);
		if (rc == 0)
			rc = delta_flush(&s->sr, e);
		if (rc == 0)
			rc = publish(s, i + n);
		fault_delay("delta-scan"); /* tests: a slow target, the frames come meanwhile */
	}
	if (rc == 0 && (s->ndata != j->ix->ndata || s->fill != 0 || s->nframe != j->ix->nframes))
		rc = CORRUPT(&s->sr, e, "%" PRIu64 " data blocks in %" PRIu64 " frames, the index counts %"
			     PRIu64 " in %" PRIu64, s->ndata, s->nframe + (s->fill != 0), j->ix->ndata,
			     j->ix->nframes);
	return rc;
}

static void *scan_thread(void *arg)
{
	struct sdelta *s = arg;
	int rc = scan(s, &s->scan_e);

	pthread_mutex_lock(&s->mu);
	s->pub.over = true;
	s->pub.rc = rc;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
	return NULL;
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
			count(&s->r.c->reused, n);
		else
			rc = delta_write_block(&s->r, i, s->frame + off, e);
		if (rc < 0)
			return rc;
		off += n, i++;
	}
	return 0;
}

/* The image's check may read every block the scan has passed before the
 * first data block of the next frame, from frame f on, that is still to
 * come or not yet decided. */
static void follow(struct sdelta *s, uint64_t f)
{
	const struct bundle_index *ix = s->r.j->ix;
	uint64_t upto;

	while (f < s->seen.decided && !s->want[f])
		f++;
	upto = f < ix->nframes ? ix->frame_first[f] : ix->nblocks;
	delta_readback_upto(&s->r, upto < s->seen.final ? upto : s->seen.final);
}

/* The source is a shared read-only mapping of the active slot (and, format
 * 5, of the target's first blocks), which only the decoder reads (its
 * prefix): dropping its page table entries every DECODE_STEP compressed
 * bytes leaves its pages in the page cache but takes them out of this
 * process's RSS, which would otherwise grow to all the frames refer to
 * (what the next step refers to faults back in from the cache). */
static void release_source(void *job)
{
	const struct delta_job *j = job;

	madvise((void *)(uintptr_t)j->source, (size_t)(j->source_size + j->target_room),
		MADV_DONTNEED);
}

/* What the decoder has read stays mapped until release_source: with the
 * kernel's fault-around, 64 KiB for each page it read; a zstd block of
 * matches spread over a real image refers to hundreds of places. */
static void source_pages_only(struct sdelta *s)
{
	const struct delta_job *j = s->r.j;

	s->uffd = fault_around_off((void *)(uintptr_t)j->source,
				   (size_t)(j->source_size + j->target_room));
	if (s->uffd < 0)
		log_debug("install %s: the source's fault-around stays on: %s", j->name,
			  strerror(-s->uffd));
}

/* The first piece of frame f: its prefix is ready, its decoding begins. */
static int frame_begin(struct sdelta *s, uint64_t f, struct error *e)
{
	size_t plen = 0;
	int rc = frame_prefix(s, f, &plen, e);

	if (rc == 0 && frame_decode_begin(&s->dec, s->frame, s->r.j->ix->frame_size, s->r.j->source,
					  plen) < 0)
		rc = CORRUPT(&s->r, e, "frame %" PRIu64 " does not decode: %s", f, s->dec.why);
	return rc;
}

/* A whole frame, decoded: checked against its hash, then written. */
static int frame_done(struct sdelta *s, uint64_t f, struct error *e)
{
	struct delta_run *r = &s->r;
	uint64_t want = frame_data_len(s, f);
	size_t got = 0;
	int rc;

	if (frame_decode_end(&s->dec, &got) < 0)
		return CORRUPT(r, e, "frame %" PRIu64 " does not decode: %s", f, s->dec.why);
	if (got != want)
		return CORRUPT(r, e, "frame %" PRIu64 " decodes to %zu bytes, not %" PRIu64, f, got,
			       want);
	if (!bundle_index_frame_matches_with(r->hash, r->j->ix, f, s->frame, got))
		return CORRUPT(r, e, "frame %" PRIu64 " does not match the signed index", f);
	rc = write_frame(s, f, e);
	if (rc == 0)
		follow(s, f + 1);
	return rc;
}

/* A frame's compressed bytes as they come, decoded with the source as its
 * prefix, DECODE_STEP bytes at a time, the prefix's page table entries
 * dropped after each step: what one step refers to is mapped at once, not
 * what the whole frame does (a frame of a feature release refers to source
 * pages all over the image, each fault mapping 64 KiB around it). */
static int frame_piece(struct delta_run *r, void *user, const struct delta_piece *p,
		       struct error *e)
{
	struct sdelta *s = user;
	int rc = p->at == 0 ? frame_begin(s, p->frame, e) : 0;

	if (rc == 0 && frame_decode_feed(&s->dec, p->in, p->len, DECODE_STEP, release_source,
					 (void *)r->j) < 0)
		rc = CORRUPT(r, e, "frame %" PRIu64 " does not decode: %s", p->frame, s->dec.why);
	return rc == 0 && p->end ? frame_done(s, p->frame, e) : rc;
}

/* The progress line: the scan's phase in image bytes (with what the frames
 * fetched meanwhile), then the download's in payload bytes. */
static void report(struct delta_run *r, void *user)
{
	struct sdelta *s = user;
	uint64_t done = r->c->downloaded, size = r->j->m->image_size;

	progress_transfer(r->c->downloaded, counted(&r->c->reused) + counted(&r->c->copied),
			  counted(&r->c->written));
	if (s->scanning) {
		pthread_mutex_lock(&s->mu);
		done = s->pub.final * r->j->ix->block_size;
		pthread_mutex_unlock(&s->mu);
		done = done < size ? done : size;
	}
	progress_update(done);
}

/* The scan is over: its phase completes, the download's begins with what
 * came meanwhile (none when no frame is wanted). */
static void scan_over(struct sdelta *s)
{
	const struct bundle_index *ix = s->r.j->ix;
	uint64_t total = delta_wanted_bytes(ix, s->want, 0, ix->nframes);

	report(&s->r, s);
	progress_done();
	s->scanning = false;
	s->downloading = total > 0;
	if (total) {
		progress_begin("download", total);
		report(&s->r, s);
	}
}

/* Waits (a fifth of a second at most, for the progress line) for a frame
 * decided past the next one or the scan's end; seen is then pub. */
static void wait_scan(struct sdelta *s)
{
	pthread_mutex_lock(&s->mu);
	if (!s->pub.over && s->pub.decided <= s->next) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 200 * 1000000L;
		if (ts.tv_nsec >= 1000000000L)
			ts.tv_sec++, ts.tv_nsec -= 1000000000L;
		pthread_cond_timedwait(&s->cv, &s->mu, &ts);
	}
	s->seen = s->pub;
	pthread_mutex_unlock(&s->mu);
}

/* The frames the scan decides, fetched in batches of all it has decided
 * since the last one: few requests when the network is slower than the
 * scan, many small ones only where they are cheap. */
static int follow_scan(struct sdelta *s, struct error *e)
{
	int rc = 0;

	progress_begin("delta-scan", s->r.j->m->image_size);
	s->scanning = true;
	while (rc == 0 && !(s->seen.over && s->next >= s->seen.decided)) {
		wait_scan(s);
		if (s->seen.over && s->seen.rc < 0) {
			rc = err_set(e, s->scan_e.exit, -s->seen.rc, "%s", s->scan_e.msg);
			break;
		}
		if (s->seen.over && s->scanning)
			scan_over(s);
		else
			report(&s->r, s);
		if (s->seen.decided > s->next)
			rc = delta_fetch_some(&s->r, s->want, s->next, s->seen.decided, frame_piece,
					      report, s, &s->st, e);
		s->next = s->seen.decided;
		if (rc == 0)
			follow(s, s->next);
	}
	if (rc == 0)
		rc = delta_flush(&s->r, e);
	if (s->scanning || s->downloading) {
		/* The phase's last line counts the last frame's writes too. */
		report(&s->r, s);
		rc == 0 ? progress_done() : progress_end();
	}
	return rc;
}

/* The scan on a thread of its own, the frames on this one; both end here,
 * and what either still holds to write was checked: written out, for the
 * next attempt too. */
static int scan_and_fetch(struct sdelta *s, struct error *e)
{
	pthread_t t;
	int rc = pthread_create(&t, NULL, scan_thread, s);

	if (rc != 0)
		return err_set(e, UPD_EXIT_OTHER, rc, "install %s: start the scan: %s", s->r.j->name,
			       strerror(rc));
	rc = follow_scan(s, e);
	pthread_mutex_lock(&s->mu);
	s->stop = true;
	pthread_mutex_unlock(&s->mu);
	pthread_join(t, NULL);
	if (rc < 0) {
		struct error ignored = { 0 };
		delta_flush(&s->sr, &ignored);
		delta_flush(&s->r, &ignored);
	}
	return rc;
}

static void sdelta_free(struct sdelta *s)
{
	free(s->sr.wbuf), free(s->r.wbuf), free(s->want), free(s->frame), free(s->chunk);
	free(s->zeros), free(s->blk), free(s->run);
	sha256_free(s->r.hash);
	sha256_free(s->fh);
	frame_decode_free(&s->dec);
	if (s->uffd >= 0)
		close(s->uffd);
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
}

static int sdelta_alloc(struct sdelta *s, struct error *e)
{
	const struct bundle_index *ix = s->r.j->ix;
	uint64_t nf = ix->nframes ? ix->nframes : 1;

	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	s->r.wbuf = malloc(DELTA_WBUF);
	s->sr.wbuf = malloc(DELTA_WBUF);
	s->r.hash = sha256_new();
	s->want = calloc(nf, 1);
	s->frame = malloc(ix->frame_size);
	s->chunk_blocks = delta_blocks_in(SCAN_CHUNK, ix->block_size);
	s->chunk = malloc(s->chunk_blocks * ix->block_size);
	s->run_cap = delta_blocks_in(SCAN_RUN, ix->block_size);
	s->run = malloc(s->run_cap * ix->block_size);
	s->zeros = calloc(1, ix->block_size);
	s->blk = malloc(ix->block_size);
	if (!s->r.wbuf || !s->sr.wbuf || !s->r.hash || !s->want || !s->frame || !s->chunk || !s->run ||
	    !s->zeros || !s->blk)
		return err_oom(e, NULL);
	return delta_decoder_init(s->r.j, &s->dec, e);
}

int delta_static_install(const struct delta_job *j, struct delta_counts *c, struct error *e)
{
	struct sdelta s = { .r = { .j = j, .c = c }, .sr = { .j = j, .c = c }, .uffd = -1 };
	const struct bundle_index *ix = j->ix;
	int rc;

	memset(c, 0, sizeof(*c));
	if (!bundle_format_is_delta(ix->format) || !ix->ops || ix->block_size == 0 ||
	    ix->frame_size == 0 || ix->frame_size % ix->block_size ||
	    DELTA_CHUNK % ix->block_size || !j->source || j->source_fd < 0)
		return err_set(e, UPD_EXIT_VERIFY, EBADMSG,
			       "install %s: not a static delta's index", j->name);
	rc = sdelta_alloc(&s, e);
	if (rc == 0)
		rc = map_target(j, e);
	if (rc == 0)
		source_pages_only(&s);
	/* The image's check reads what is final while the scan and the frames go on. */
	if (rc == 0)
		rc = delta_check_start(j, &s.r.rb, e);
	if (rc == 0)
		rc = scan_and_fetch(&s, e);
	if (rc == 0)
		rc = delta_verify_image(j, s.r.rb, e);
	readback_free(s.r.rb);
	sdelta_free(&s);
	return rc;
}

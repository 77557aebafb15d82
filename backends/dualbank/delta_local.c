/* The delta install's device sources (delta.h): the target slot in place,
 * zero blocks, and the active slot by block hash. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../lib/fault.h"
#include "../../lib/io.h"
#include "../../lib/log.h"
#include "../../lib/progress.h"
#include "block_hasher.h"
#include "delta.h"
#include "image_id.h"

uint32_t delta_block_len(const struct delta_run *r, uint64_t i)
{
	uint64_t bs = r->j->ix->block_size, off = i * bs, size = r->j->m->image_size;
	return (uint32_t)(size - off < bs ? size - off : bs);
}

void delta_report(const struct delta_run *r, uint64_t done)
{
	progress_transfer(r->c->downloaded, r->c->reused + r->c->copied, r->c->written);
	progress_update(done);
}

int delta_flush(struct delta_run *r, struct error *e)
{
	const struct delta_job *j = r->j;
	int rc = r->wlen ? io_pwrite_full(j->fd, r->wbuf, r->wlen, r->wfirst * j->ix->block_size)
			 : 0;

	if (rc < 0)
		return err_set(e, UPD_EXIT_OTHER, -rc, "install %s: write %s: %s", j->name, j->path,
			       strerror(-rc));
	/* Atomic: a static delta's scan and frames write on two threads into
	 * one count, monotonic over the passes and the threads: the power-cut
	 * sweep's offsets into what a delta install writes
	 * (tests/powercut/backend-dualbank.sh). */
	uint64_t written = __atomic_add_fetch(&r->c->written, r->wlen, __ATOMIC_RELAXED);
	r->wlen = 0;
	fault_progress("delta-written", written);
	return 0;
}

int delta_write_block(struct delta_run *r, uint64_t i, const uint8_t *data, struct error *e)
{
	uint32_t n = delta_block_len(r, i), bs = r->j->ix->block_size;
	int rc;

	/* (only the image's last block is short: a run of blocks is contiguous) */
	if (r->wlen && (i * bs != r->wfirst * bs + r->wlen || r->wlen + n > DELTA_WBUF) &&
	    (rc = delta_flush(r, e)) < 0)
		return rc;
	if (!r->wlen)
		r->wfirst = i;
	memcpy(r->wbuf + r->wlen, data, n);
	r->wlen += n;
	return 0;
}

/* Reads up to DELTA_CHUNK bytes of fd at off into buf, zero-filling past what the
 * file holds (a slot shorter than the image reads as zeros there). */
int delta_read_chunk(int fd, uint8_t *buf, size_t n, uint64_t off)
{
	ssize_t got = io_pread_full(fd, buf, n, off);

	if (got < 0)
		return (int)got;
	memset(buf + got, 0, n - (size_t)got);
	return 0;
}

static bool is_zero_hash(const struct delta_run *r, uint64_t i, const uint8_t *zero_hash)
{
	return memcmp(r->j->ix->hashes + i * BUNDLE_INDEX_HASH_LEN, zero_hash,
		      BUNDLE_INDEX_HASH_LEN) == 0;
}

/* Block i, which the target does not hold: written from memory when it is
 * all zeros, else needed from the other sources. */
static int not_in_place(struct delta_run *r, uint64_t i, const uint8_t *zero_hash,
			const uint8_t *zeros, struct error *e)
{
	if (!is_zero_hash(r, i, zero_hash)) {
		r->need[i] = 1;
		r->n_need++;
		return 0;
	}
	r->c->zeros += delta_block_len(r, i);
	return delta_write_block(r, i, zeros, e);
}

/* One chunk of the target: blocks in place are kept, zero blocks written. */
static int target_chunk(struct delta_run *r, uint8_t *buf, uint64_t first, uint64_t n,
			const uint8_t *zero_hash, const uint8_t *zeros, struct error *e)
{
	const struct bundle_index *ix = r->j->ix;
	uint32_t bs = ix->block_size, last = delta_block_len(r, first + n - 1);
	int rc = 0;

	memset(buf + (n - 1) * bs + last, 0, bs - last); /* the index hashes a short block padded */
	/* An empty slot, or the stretch past an image, reads as zeros: those
	 * blocks' hash is known, comparing is cheaper than hashing. */
	if (buf[0] == 0 && memcmp(buf, buf + 1, n * bs - 1) == 0)
		for (uint64_t k = 0; k < n; k++)
			memcpy(r->hashes + k * BUNDLE_INDEX_HASH_LEN, zero_hash, BUNDLE_INDEX_HASH_LEN);
	else
		block_hasher_run(r->hasher, buf, n, bs, r->hashes);
	for (uint64_t k = 0; k < n && rc == 0; k++) {
		uint64_t i = first + k;
		if (memcmp(r->hashes + k * BUNDLE_INDEX_HASH_LEN,
			   ix->hashes + i * BUNDLE_INDEX_HASH_LEN, BUNDLE_INDEX_HASH_LEN) == 0)
			r->c->reused += delta_block_len(r, i);
		else
			rc = not_in_place(r, i, zero_hash, zeros, e);
	}
	return rc;
}

/* Blocks of a record walked between two releases of its mapping (256 KiB
 * of hashes): a record is a file mapping whose pages would otherwise stay
 * in the process's RSS (slot_blocks_release). */
#define RECORD_STRIDE 16384u

/* Whether the target's record covers blocks [first, first + n) and says
 * each holds something else than the new image's block there. */
static bool recorded_all_differ(const struct delta_run *r, uint64_t first, uint64_t n)
{
	const struct slot_blocks *b = r->j->target_blocks;

	if (!b || first + n > b->nblocks)
		return false;
	for (uint64_t i = first; i < first + n; i++)
		if (memcmp(b->hashes + i * BUNDLE_INDEX_HASH_LEN,
			   r->j->ix->hashes + i * BUNDLE_INDEX_HASH_LEN, BUNDLE_INDEX_HASH_LEN) == 0)
			return false;
	return true;
}

/* Per chunk of DELTA_CHUNK of the target (nchunks): 1 when its record says
 * every block there differs from the new image's (not read), else 0. NULL:
 * out of memory. */
static uint8_t *unread_chunks(const struct delta_run *r, uint64_t nchunks)
{
	uint64_t per = DELTA_CHUNK / r->j->ix->block_size, nb = r->j->ix->nblocks;
	uint8_t *u = malloc(nchunks ? nchunks : 1);

	for (uint64_t c = 0; u && c < nchunks; c++) {
		u[c] = recorded_all_differ(r, c * per, nb - c * per < per ? nb - c * per : per);
		if ((c + 1) * per % RECORD_STRIDE == 0)
			slot_blocks_release(r->j->target_blocks);
	}
	slot_blocks_release(r->j->target_blocks);
	return u;
}

/* Reads chunk c of the target ahead, unless it will not be read. */
static void prefetch_chunk(const struct delta_job *j, const uint8_t *unread, uint64_t nchunks,
			   uint64_t c)
{
	if (c < nchunks && !unread[c])
		io_prefetch(j->fd, c * DELTA_CHUNK, DELTA_CHUNK);
}

/* Chunk c of the target: its blocks in place kept, the others needed or
 * written as zeros. */
static int target_chunk_at(struct delta_run *r, const uint8_t *unread, uint64_t c, uint8_t *buf,
			   const uint8_t *zero_hash, const uint8_t *zeros, struct error *e)
{
	const struct delta_job *j = r->j;
	uint32_t bs = j->ix->block_size, per = DELTA_CHUNK / bs;
	uint64_t i = c * per, n = j->ix->nblocks - i < per ? j->ix->nblocks - i : per;
	int rc = 0;

	if (unread[c]) {
		for (uint64_t k = i; k < i + n && rc == 0; k++)
			rc = not_in_place(r, k, zero_hash, zeros, e);
		r->c->unread += n * bs;
		return rc;
	}
	/* A target that cannot be read is rewritten: what it held does not matter. */
	if (delta_read_chunk(j->fd, buf, n * bs, i * bs) < 0)
		memset(buf, 0xff, n * bs);
	return target_chunk(r, buf, i, n, zero_hash, zeros, e);
}

int delta_from_target(struct delta_run *r, struct error *e)
{
	const struct delta_job *j = r->j;
	uint32_t bs = j->ix->block_size, per = DELTA_CHUNK / bs;
	uint64_t nchunks = (j->ix->nblocks + per - 1) / per;
	uint8_t zero_hash[BUNDLE_INDEX_HASH_LEN];
	uint8_t *buf = malloc(DELTA_CHUNK), *zeros = calloc(1, bs), *unread = unread_chunks(r, nchunks);
	int rc = 0;

	if (!buf || !zeros || !unread) {
		free(buf), free(zeros), free(unread);
		return err_oom(e, NULL);
	}
	bundle_index_hash_block(zeros, bs, zero_hash);
	progress_begin("delta-scan", j->m->image_size);
	for (uint64_t c = 0; c < 8; c++)
		prefetch_chunk(j, unread, nchunks, c);
	for (uint64_t c = 0; c < nchunks && rc == 0; c++) {
		prefetch_chunk(j, unread, nchunks, c + 8);
		rc = target_chunk_at(r, unread, c, buf, zero_hash, zeros, e);
		uint64_t done = (c + 1) * DELTA_CHUNK;
		delta_report(r, done < j->m->image_size ? done : j->m->image_size);
	}
	if (rc == 0)
		rc = delta_flush(r, e);
	rc == 0 ? progress_done() : progress_end();
	log_debug("delta: target slot: %llu of %llu blocks in place, %llu bytes not read (%s)",
		  (unsigned long long)(r->c->reused / bs), (unsigned long long)j->ix->nblocks,
		  (unsigned long long)r->c->unread,
		  j->target_blocks ? "its recorded blocks differ" : "no record of its blocks");
	free(buf), free(zeros), free(unread);
	return rc;
}

/* The blocks still needed, as block numbers sorted by their hash in the
 * index (4 bytes per block: the hashes stay in the index), to be looked up
 * while the active slot is read once, front to back. */
static int by_hash(const void *a, const void *b, void *ix)
{
	const uint8_t *h = ((const struct bundle_index *)ix)->hashes;
	return memcmp(h + (uint64_t)*(const uint32_t *)a * BUNDLE_INDEX_HASH_LEN,
		      h + (uint64_t)*(const uint32_t *)b * BUNDLE_INDEX_HASH_LEN,
		      BUNDLE_INDEX_HASH_LEN);
}

static uint32_t *wanted(const struct delta_run *r)
{
	uint32_t *w = malloc((r->n_need ? r->n_need : 1) * sizeof(*w));
	uint64_t n = 0;

	if (!w)
		return NULL;
	for (uint64_t i = 0; i < r->j->ix->nblocks; i++)
		if (r->need[i])
			w[n++] = (uint32_t)i; /* BUNDLE_INDEX_IMAGE_MAX: < 2^22 blocks */
	qsort_r(w, n, sizeof(*w), by_hash, (void *)r->j->ix);
	return w;
}

/* The first entry of w (n entries) whose block has hash, or n. */
static uint64_t lower_bound(const struct bundle_index *ix, const uint32_t *w, uint64_t n,
			    const uint8_t *hash)
{
	uint64_t lo = 0, hi = n;

	while (lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2;
		if (memcmp(ix->hashes + (uint64_t)w[mid] * BUNDLE_INDEX_HASH_LEN, hash,
			   BUNDLE_INDEX_HASH_LEN) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Block data (bs bytes, read from the active slot; hash: its index hash)
 * fills every needed block with that hash. A match is a check against the
 * signed index: the data is what the release says the block holds. */
static int use_active_block(struct delta_run *r, const uint32_t *w, const uint8_t *data,
			    const uint8_t *hash, struct error *e)
{
	const struct bundle_index *ix = r->j->ix;

	for (uint64_t k = lower_bound(ix, w, r->n_need, hash);
	     k < r->n_need && memcmp(ix->hashes + (uint64_t)w[k] * BUNDLE_INDEX_HASH_LEN, hash,
				     BUNDLE_INDEX_HASH_LEN) == 0;
	     k++) {
		uint64_t i = w[k];
		if (!r->need[i])
			continue;
		int rc = delta_write_block(r, i, data, e);
		if (rc < 0)
			return rc;
		r->need[i] = 0;
		r->n_found++;
		r->c->copied += delta_block_len(r, i);
	}
	return 0;
}

/* How much of the active slot holds its image (the rest of a slot is stale
 * or empty); 0 when its size cannot be learnt. */
static uint64_t active_length(int fd, const char *path)
{
	uint64_t len = 0;
	const char *fs = NULL;

	return image_length(fd, path, &len, &fs) == 0 ? len : 0;
}

/* Whether some still needed block has hash (w: wanted()). */
static bool is_wanted(const struct delta_run *r, const uint32_t *w, const uint8_t *hash)
{
	const struct bundle_index *ix = r->j->ix;
	uint64_t k = lower_bound(ix, w, r->n_need, hash);

	return k < r->n_need &&
	       memcmp(ix->hashes + (uint64_t)w[k] * BUNDLE_INDEX_HASH_LEN, hash,
		      BUNDLE_INDEX_HASH_LEN) == 0;
}

/* A run of n blocks of the active slot, read into buf: hashed, and used
 * where their real hash is needed. */
static int use_active_run(struct delta_run *r, const uint8_t *buf, uint64_t n, const uint32_t *w,
			  struct error *e)
{
	uint32_t bs = r->j->ix->block_size;
	int rc = 0;

	r->c->scanned += n * bs;
	block_hasher_run(r->hasher, buf, n, bs, r->hashes);
	for (uint64_t k = 0; k < n && rc == 0; k++)
		rc = use_active_block(r, w, buf + k * bs, r->hashes + k * BUNDLE_INDEX_HASH_LEN, e);
	return rc;
}

/* The next run of active blocks to read, from *a on: [*first, *first + n).
 * Without a record, the slot in chunks; with one, the blocks whose recorded
 * hash is needed (j->active_blocks). 0: none left. */
static uint64_t next_run(const struct delta_run *r, const uint32_t *w, uint64_t nblocks,
			 uint64_t *a, uint64_t *first)
{
	const struct slot_blocks *b = r->j->active_blocks;
	uint64_t per = DELTA_CHUNK / r->j->ix->block_size;

	if (!b) {
		*first = *a;
		*a += nblocks - *a < per ? nblocks - *a : per;
		return *a - *first;
	}
	for (;;) {
		for (*first = *a; *a < nblocks && *a - *first < per &&
				  is_wanted(r, w, b->hashes + *a * BUNDLE_INDEX_HASH_LEN);)
			++*a;
		if (*a > *first || *a == nblocks)
			return *a - *first;
		if (++*a % RECORD_STRIDE == 0)
			slot_blocks_release(b);
	}
}

/* The active slot's blocks (nblocks, from its start) that may hold needed
 * ones, each hashed; the rest of the slot is not read once every needed
 * block is found. */
static int scan_active(struct delta_run *r, int fd, uint64_t nblocks, const uint32_t *w,
		       struct error *e)
{
	uint32_t bs = r->j->ix->block_size;
	uint8_t *buf = malloc(DELTA_CHUNK);
	uint64_t a = 0, first, n;
	int rc = 0;

	if (!buf)
		return err_oom(e, NULL);
	progress_begin("delta-copy", nblocks * bs);
	/* Without a record the slot is read front to back, 8 chunks ahead;
	 * reading a record's runs ahead as well made the 1.1 update of the
	 * series slower, not faster, on loop devices here (2026-12-06). */
	if (!r->j->active_blocks)
		io_prefetch(fd, 0, 8 * DELTA_CHUNK);
	while (rc == 0 && r->n_found < r->n_need && (n = next_run(r, w, nblocks, &a, &first))) {
		if (!r->j->active_blocks)
			io_prefetch(fd, first * bs + 8 * DELTA_CHUNK, DELTA_CHUNK);
		int rd = delta_read_chunk(fd, buf, n * bs, first * bs);
		if (rd < 0) { /* an unreadable active slot is only a source less */
			log_warn("delta: active slot %s: read: %s; its blocks are downloaded instead",
				 r->j->active_path, strerror(-rd));
			break;
		}
		rc = use_active_run(r, buf, n, w, e);
		slot_blocks_release(r->j->active_blocks);
		delta_report(r, a * bs);
	}
	if (rc == 0)
		rc = delta_flush(r, e);
	rc == 0 ? progress_done() : progress_end();
	free(buf);
	return rc;
}

int delta_from_active(struct delta_run *r, struct error *e)
{
	uint32_t bs = r->j->ix->block_size, *w;
	uint64_t before = r->n_need;
	int fd, rc;

	if (!r->j->active_path || r->n_need == 0)
		return 0;
	/* Read-only, never more: the running system is never written. */
	fd = open(r->j->active_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		log_warn("delta: active slot %s: %s; its blocks are downloaded instead",
			 r->j->active_path, strerror(errno));
		return 0;
	}
	if (!(w = wanted(r))) {
		close(fd);
		return err_oom(e, NULL);
	}
	rc = scan_active(r, fd,
			 r->j->active_blocks ? r->j->active_blocks->nblocks
					     : (active_length(fd, r->j->active_path) + bs - 1) / bs,
			 w, e);
	free(w);
	close(fd);
	r->n_need = 0;
	for (uint64_t i = 0; i < r->j->ix->nblocks; i++)
		r->n_need += r->need[i];
	log_debug("delta: %llu of %llu blocks found in the active slot (%llu bytes read, %s)",
		  (unsigned long long)(before - r->n_need), (unsigned long long)before,
		  (unsigned long long)r->c->scanned,
		  r->j->active_blocks ? "by its recorded block hashes" : "no record of its blocks");
	return rc;
}

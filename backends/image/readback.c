#include "readback.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../lib/digest.h"
#include "../../lib/progress.h"

/* Ranges are read back in steps of this size (a multiple of any block size,
 * so O_DIRECT offsets stay aligned). */
#define STEP (8ull << 20)
/* One O_DIRECT read. Two buffers of this size take turns: one is read into
 * on a second thread while the other is hashed, so the medium's read and the
 * SHA-256 overlap instead of adding up (2026-12-06: each took about as long
 * as the other on the build disk). Half of the 1 MiB read of before, so the
 * memory stays the same; 4 MiB held 3 MiB more of RSS for no gain measured
 * (bench/dualbank.py). */
#define READ_SIZE (512u << 10)

struct readback {
	int wfd, rfd;
	bool direct;
	bool cached; /* readback_start_cached: hashed as the page cache holds it */
	char path[512];
	uint64_t total;
	pthread_t tid;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	uint64_t available; /* bytes the writer has written */
	uint64_t verified;  /* bytes read back and hashed */
	bool final, cancel, started;
	bool exited;        /* the thread is done: nothing more to wait for */
	int err;            /* positive errno of the first failure */
	struct sha256_ctx *sha;
	uint8_t *buf[2];
};

/* Reads the next piece of [off, end) into buf: *got bytes (at most
 * READ_SIZE); an error as a positive errno. */
static int read_chunk(const struct readback *r, uint8_t *buf, uint64_t off, uint64_t end,
		      size_t *got)
{
	size_t need = end - off < READ_SIZE ? (size_t)(end - off) : READ_SIZE;
	/* O_DIRECT reads whole blocks: ask for a block-rounded length. */
	size_t ask = r->direct ? (need + 4095) & ~(size_t)4095 : need;
	ssize_t n;

	/* One pread, not io_pread_full: after a short O_DIRECT read (the end
	 * of a file-backed slot) a second read would start unaligned. */
	do
		n = pread(r->rfd, buf, ask, (off_t)off);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno;
	if (n == 0)
		return ENODATA;
	*got = (size_t)n < need ? (size_t)n : need;
	return 0;
}

/* A range read on a second thread into r->buf[0] and r->buf[1] in turn. */
struct chunk_pipe {
	struct readback *r;
	uint64_t off, end;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	size_t len[2]; /* bytes waiting in r->buf[i] to be hashed; 0: free */
	int err;       /* the reader's failure, a positive errno */
	bool stop;     /* the hasher is done */
};

static void *pipe_reader(void *p)
{
	struct chunk_pipe *c = p;
	uint64_t off = c->off;

	for (unsigned i = 0; off < c->end; i ^= 1) {
		size_t got = 0;
		pthread_mutex_lock(&c->lock);
		while (c->len[i] && !c->stop)
			pthread_cond_wait(&c->cond, &c->lock);
		bool stop = c->stop;
		pthread_mutex_unlock(&c->lock);
		if (stop)
			break;
		int err = read_chunk(c->r, c->r->buf[i], off, c->end, &got);
		pthread_mutex_lock(&c->lock);
		if (err)
			c->err = err;
		else
			c->len[i] = got;
		pthread_cond_broadcast(&c->cond);
		pthread_mutex_unlock(&c->lock);
		if (err)
			break;
		off += got;
	}
	return NULL;
}

/* Without a second thread: read, hash, read. */
static int read_serial(struct readback *r, uint64_t off, uint64_t end)
{
	while (off < end) {
		size_t got = 0;
		int err = read_chunk(r, r->buf[0], off, end, &got);
		if (err)
			return err;
		sha256_update(r->sha, r->buf[0], got);
		off += got;
	}
	return 0;
}

/* Hashes the pieces in order as the reader hands them over. */
static int hash_pieces(struct chunk_pipe *c)
{
	uint64_t off = c->off;
	int err = 0;

	for (unsigned i = 0; off < c->end && !err; i ^= 1) {
		pthread_mutex_lock(&c->lock);
		while (!c->len[i] && !c->err)
			pthread_cond_wait(&c->cond, &c->lock);
		size_t n = c->len[i];
		err = n ? 0 : c->err;
		pthread_mutex_unlock(&c->lock);
		if (!n)
			break;
		sha256_update(c->r->sha, c->r->buf[i], n);
		off += n;
		pthread_mutex_lock(&c->lock);
		c->len[i] = 0;
		pthread_cond_broadcast(&c->cond);
		pthread_mutex_unlock(&c->lock);
	}
	return err;
}

static int read_range(struct readback *r, uint64_t off, uint64_t end)
{
	struct chunk_pipe c = { .r = r, .off = off, .end = end };
	pthread_t reader;
	int err;

	pthread_mutex_init(&c.lock, NULL);
	pthread_cond_init(&c.cond, NULL);
	if (pthread_create(&reader, NULL, pipe_reader, &c) != 0) {
		err = read_serial(r, off, end);
	} else {
		err = hash_pieces(&c);
		pthread_mutex_lock(&c.lock);
		c.stop = true;
		pthread_cond_broadcast(&c.cond);
		pthread_mutex_unlock(&c.lock);
		pthread_join(reader, NULL);
	}
	pthread_mutex_destroy(&c.lock);
	pthread_cond_destroy(&c.cond);
	return err;
}

static int verify_range(struct readback *r, uint64_t off, uint64_t end, bool synced)
{
	if (r->cached)
		return read_range(r, off, end);
	/* Before the final fsync, push this range to the medium and wait for it. */
	if (!synced &&
	    sync_file_range(r->wfd, (off_t)off, (off_t)(end - off),
			    SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
				    SYNC_FILE_RANGE_WAIT_AFTER) < 0)
		return errno;
	if (!r->direct)
		posix_fadvise(r->rfd, (off_t)off, (off_t)(end - off), POSIX_FADV_DONTNEED);
	return read_range(r, off, end);
}

/* The next range to check, or false when there is nothing to do yet. */
static bool next_range(struct readback *r, uint64_t *end)
{
	if (r->final) {
		*end = r->total;
		return r->verified < r->total;
	}
	if (r->available - r->verified < STEP)
		return false;
	*end = r->verified + STEP;
	return true;
}

static void *readback_main(void *arg)
{
	struct readback *r = arg;
	uint64_t end = 0;

	pthread_mutex_lock(&r->lock);
	for (;;) {
		while (!r->cancel && !r->err && !next_range(r, &end) && !r->final)
			pthread_cond_wait(&r->cond, &r->lock);
		if (r->cancel || r->err || !next_range(r, &end))
			break;
		uint64_t off = r->verified;
		bool synced = r->final;
		pthread_mutex_unlock(&r->lock);
		int err = verify_range(r, off, end, synced);
		pthread_mutex_lock(&r->lock);
		if (err)
			r->err = err;
		else
			r->verified = end;
		pthread_cond_broadcast(&r->cond); /* readback_finish() reports each range */
	}
	r->exited = true;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

static int open_reader(struct readback *r)
{
	r->rfd = r->cached ? -1 : open(r->path, O_RDONLY | O_DIRECT | O_CLOEXEC);
	r->direct = r->rfd >= 0;
	if (r->rfd < 0) /* e.g. tmpfs: fall back to dropping cached pages */
		r->rfd = open(r->path, O_RDONLY | O_CLOEXEC);
	return r->rfd < 0 ? errno : 0;
}

static int start(struct readback **out, int wfd, const char *path, uint64_t total, bool cached,
		 struct error *e)
{
	struct readback *r = calloc(1, sizeof(*r));
	int err, rc = 0;

	*out = NULL;
	if (!r)
		return err_oom(e, NULL);
	r->cached = cached;
	r->wfd = wfd;
	r->total = total;
	r->rfd = -1;
	snprintf(r->path, sizeof(r->path), "%s", path);
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->cond, NULL);
	if ((err = open_reader(r)) != 0)
		rc = err_set(e, UPD_EXIT_OTHER, err, "read back %s: %s", path, strerror(err));
	else if (!(r->sha = sha256_new()) || posix_memalign((void **)&r->buf[0], 4096, READ_SIZE) ||
		 posix_memalign((void **)&r->buf[1], 4096, READ_SIZE))
		rc = err_oom(e, NULL);
	else if (pthread_create(&r->tid, NULL, readback_main, r) != 0)
		rc = err_set(e, UPD_EXIT_OTHER, EAGAIN, "read back %s: cannot start a thread", path);
	if (rc < 0) {
		readback_free(r);
		return rc;
	}
	r->started = true;
	*out = r;
	return 0;
}

int readback_start(struct readback **out, int wfd, const char *path, uint64_t total,
		   struct error *e)
{
	return start(out, wfd, path, total, false, e);
}

int readback_start_cached(struct readback **out, int wfd, const char *path, uint64_t total,
			  struct error *e)
{
	return start(out, wfd, path, total, true, e);
}

void readback_advance(struct readback *r, uint64_t written)
{
	pthread_mutex_lock(&r->lock);
	r->available = written;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
}

static void stop(struct readback *r, bool cancel)
{
	if (!r->started)
		return;
	pthread_mutex_lock(&r->lock);
	r->final = true;
	r->cancel = cancel;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->lock);
	pthread_join(r->tid, NULL);
	r->started = false;
}

/* Waits for the tail of the read-back (it ran behind the writer so far),
 * reporting its progress: after the last byte is written, a slow medium can
 * take a while to read back, and a bar that stands still looks hung. */
static void wait_reporting(struct readback *r)
{
	uint64_t seen;

	if (!r->started)
		return;
	pthread_mutex_lock(&r->lock);
	r->final = true;
	pthread_cond_broadcast(&r->cond);
	for (;;) {
		seen = r->verified;
		pthread_mutex_unlock(&r->lock);
		progress_update(seen);
		pthread_mutex_lock(&r->lock);
		if (r->exited && r->verified == seen)
			break;
		if (!r->exited && r->verified == seen)
			pthread_cond_wait(&r->cond, &r->lock);
	}
	pthread_mutex_unlock(&r->lock);
}

int readback_finish(struct readback *r, uint8_t digest[32], struct error *e)
{
	wait_reporting(r);
	stop(r, false);
	if (r->err)
		return err_set(e, UPD_EXIT_OTHER, r->err, "read back %s: %s", r->path,
			       strerror(r->err));
	sha256_final(r->sha, digest);
	r->sha = NULL;
	return 0;
}

void readback_free(struct readback *r)
{
	if (!r)
		return;
	stop(r, true);
	pthread_mutex_destroy(&r->lock);
	pthread_cond_destroy(&r->cond);
	sha256_free(r->sha);
	free(r->buf[0]);
	free(r->buf[1]);
	if (r->rfd >= 0)
		close(r->rfd);
	free(r);
}

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
/* One O_DIRECT read: 1 MiB, as large as the block layer's requests on most
 * media; 4 MiB held 3 MiB more of RSS for no gain measured (bench/dualbank.py). */
#define READ_SIZE (1u << 20)

struct readback {
	int wfd, rfd;
	bool direct;
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
	uint8_t *buf;
};

static int read_range(struct readback *r, uint64_t off, uint64_t end)
{
	while (off < end) {
		size_t need = end - off < READ_SIZE ? (size_t)(end - off) : READ_SIZE;
		/* O_DIRECT reads whole blocks: ask for a block-rounded length. */
		size_t ask = r->direct ? (need + 4095) & ~(size_t)4095 : need;
		/* One pread, not io_pread_full: after a short O_DIRECT read (the end
		 * of a file-backed slot) a second read would start unaligned. */
		ssize_t n = pread(r->rfd, r->buf, ask, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno;
		if (n == 0)
			return ENODATA;
		size_t use = (size_t)n < need ? (size_t)n : need;
		sha256_update(r->sha, r->buf, use);
		off += use;
	}
	return 0;
}

static int verify_range(struct readback *r, uint64_t off, uint64_t end, bool synced)
{
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
	r->rfd = open(r->path, O_RDONLY | O_DIRECT | O_CLOEXEC);
	r->direct = r->rfd >= 0;
	if (r->rfd < 0) /* e.g. tmpfs: fall back to dropping cached pages */
		r->rfd = open(r->path, O_RDONLY | O_CLOEXEC);
	return r->rfd < 0 ? errno : 0;
}

int readback_start(struct readback **out, int wfd, const char *path, uint64_t total,
		   struct error *e)
{
	struct readback *r = calloc(1, sizeof(*r));
	int err, rc = 0;

	*out = NULL;
	if (!r)
		return err_oom(e, NULL);
	r->wfd = wfd;
	r->total = total;
	r->rfd = -1;
	snprintf(r->path, sizeof(r->path), "%s", path);
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->cond, NULL);
	if ((err = open_reader(r)) != 0)
		rc = err_set(e, UPD_EXIT_OTHER, err, "read back %s: %s", path, strerror(err));
	else if (!(r->sha = sha256_new()) || posix_memalign((void **)&r->buf, 4096, READ_SIZE) != 0)
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
	free(r->buf);
	if (r->rfd >= 0)
		close(r->rfd);
	free(r);
}

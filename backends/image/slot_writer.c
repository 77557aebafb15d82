#include "slot_writer.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>
#include <zstd.h>

#include "../../lib/digest.h"
#include "../../lib/fault.h"
#include "../../lib/io.h"
#include "../../lib/progress.h"
#include "readback.h"

#define OUT_CHUNK (1u << 20)
/* Start write-back every few MiB so the final fsync has little left to do and
 * dirty pages stay bounded on small devices. */
#define SYNC_EVERY (8ull << 20)

/* Decoding and writing overlap: the caller's thread receives and decodes
 * into fixed buffers, a writer thread hashes the image and writes it. */
#define NBUF 4

/* The unit of "already there": a block of the slot whose bytes equal the
 * image's at the same offset is not written again (less time, less flash
 * wear; RAUC's r_pwrite_lazy does the same). */
#define BLOCK 4096u

struct buffer {
	uint8_t *data;
	size_t len;
};

struct writer_thread {
	pthread_t tid;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct buffer *full[NBUF], *free_[NBUF];
	int n_full, n_free;
	bool done;     /* no more buffers will come */
	int err;       /* first write error (positive errno), sticky */
	uint64_t pos, synced; /* image bytes handled (written or found already there) */
	/* Read by the decoding thread for progress while the writer counts. */
	_Atomic uint64_t reused, written;
	uint8_t *old;  /* the slot's current bytes under the buffer being handled */
};

struct slot_writer {
	int fd;
	const char *name, *path;
	const struct manifest *m;
	ZSTD_DCtx *dctx;
	struct sha256_ctx *payload_sha, *image_sha;
	struct buffer bufs[NBUF];
	struct buffer *cur;      /* being filled by the decoder */
	uint64_t decoded, payload_seen;
	size_t last_ret; /* ZSTD_decompressStream's last return: 0 = frame complete */
	struct writer_thread wt;
	bool started;
	struct readback *rb; /* NULL when read-back is off */
};

static int corrupt(struct slot_writer *w, struct error *e, const char *why)
{
	return err_set(e, UPD_EXIT_VERIFY, EBADMSG, "install %s: corrupt payload: %s", w->name, why);
}

/* Whether the image's bytes [i, i + n) of a buffer equal what the slot holds
 * (old, of which have bytes could be read). */
static bool already_there(const struct buffer *b, const uint8_t *old, size_t have, size_t i,
			  size_t n)
{
	return i + n <= have && memcmp(b->data + i, old + i, n) == 0;
}

/* Writes the buffer's bytes [from, to) (a run of blocks that differ). */
static int write_run(struct slot_writer *w, const struct buffer *b, uint64_t off, size_t from,
		     size_t to)
{
	int rc = to > from ? io_pwrite_full(w->fd, b->data + from, to - from, off + from) : 0;

	if (rc == 0)
		w->wt.written += to - from;
	return rc;
}

/* Writes buffer b, which goes at image offset off, skipping each 4 KiB block
 * (of the slot: counted from offset 0) the slot holds already; the blocks that
 * differ go out in as few writes as they are runs. A slot that cannot be read
 * (a read error, a short device) is simply written: what it held does not
 * matter. Durability is unchanged: a skipped block still in the page cache
 * from an earlier, interrupted attempt is covered by the final fsync and
 * the read-back reads the whole image from the medium. Returns -errno. */
static int write_differing(struct slot_writer *w, const struct buffer *b, uint64_t off)
{
	struct writer_thread *t = &w->wt;
	ssize_t got = io_pread_full(w->fd, t->old, b->len, off);
	size_t have = got > 0 ? (size_t)got : 0, i = 0, run = 0; /* run: first byte to write */
	int rc = 0;

	while (i < b->len && rc == 0) {
		size_t n = BLOCK - (size_t)((off + i) % BLOCK);
		if (n > b->len - i)
			n = b->len - i;
		if (already_there(b, t->old, have, i, n)) {
			rc = write_run(w, b, off, run, i);
			t->reused += n;
			run = i + n;
		}
		i += n;
	}
	return rc < 0 ? rc : write_run(w, b, off, run, b->len);
}

/* Runs on the writer thread: hash and write one decoded buffer. */
static int write_buffer(struct slot_writer *w, const struct buffer *b)
{
	struct writer_thread *t = &w->wt;
	int rc;

	sha256_update(w->image_sha, b->data, b->len);
	rc = write_differing(w, b, t->pos);
	if (rc < 0)
		return -rc;
	t->pos += b->len;
	/* The image offset, whether its blocks were written or already there:
	 * the power-cut sweep's byte offsets address the image, and a cut at
	 * one must happen whatever the slot held. */
	fault_progress("slot-bytes", t->pos);
	if (w->rb)
		readback_advance(w->rb, t->pos);
	if (t->pos - t->synced >= SYNC_EVERY) {
		sync_file_range(w->fd, (off_t)t->synced, (off_t)(t->pos - t->synced),
				SYNC_FILE_RANGE_WRITE);
		t->synced = t->pos;
	}
	return 0;
}

static void *writer_main(void *arg)
{
	struct slot_writer *w = arg;
	struct writer_thread *t = &w->wt;

	pthread_mutex_lock(&t->lock);
	for (;;) {
		while (t->n_full == 0 && !t->done)
			pthread_cond_wait(&t->cond, &t->lock);
		if (t->n_full == 0)
			break;
		struct buffer *b = t->full[0];
		memmove(t->full, t->full + 1, (size_t)--t->n_full * sizeof(t->full[0]));
		pthread_mutex_unlock(&t->lock);
		int err = t->err ? 0 : write_buffer(w, b);
		pthread_mutex_lock(&t->lock);
		if (err && !t->err)
			t->err = err;
		t->free_[t->n_free++] = b;
		pthread_cond_broadcast(&t->cond);
	}
	pthread_mutex_unlock(&t->lock);
	return NULL;
}

int slot_writer_new(struct slot_writer **out, int fd, const char *name, const char *path,
		    const struct manifest *m, bool readback, struct error *e)
{
	struct slot_writer *w = calloc(1, sizeof(*w));
	bool ok;

	*out = NULL;
	if (!w)
		return err_oom(e, NULL);
	*w = (struct slot_writer){ .fd = fd, .name = name, .path = path, .m = m, .last_ret = 1 };
	w->dctx = ZSTD_createDCtx();
	w->payload_sha = sha256_new();
	w->image_sha = sha256_new();
	ok = w->dctx && w->payload_sha && w->image_sha;
	ok = ok && (w->wt.old = malloc(OUT_CHUNK)) != NULL;
	for (int i = 0; i < NBUF && ok; i++) {
		ok = (w->bufs[i].data = malloc(OUT_CHUNK)) != NULL;
		w->wt.free_[w->wt.n_free++] = &w->bufs[i];
	}
	pthread_mutex_init(&w->wt.lock, NULL);
	pthread_cond_init(&w->wt.cond, NULL);
	if (ok)
		ok = pthread_create(&w->wt.tid, NULL, writer_main, w) == 0;
	w->started = ok;
	if (!ok) {
		slot_writer_free(w);
		return err_set(e, UPD_EXIT_OTHER, ENOMEM, "install: out of memory or threads");
	}
	if (readback && readback_start(&w->rb, fd, path, m->image_size, e) < 0) {
		slot_writer_free(w);
		return -EIO;
	}
	/* Refuse windows above the cap: a device must decode in bounded memory. */
	ZSTD_DCtx_setParameter(w->dctx, ZSTD_d_windowLogMax, BUNDLE_ZSTD_WINDOW_LOG_MAX);
	*out = w;
	return 0;
}

static int writer_error(struct slot_writer *w, struct error *e, int err)
{
	int ex = (err == ENOSPC || err == EDQUOT) ? UPD_EXIT_NOSPACE : UPD_EXIT_OTHER;
	return err_set(e, ex, err, "write slot %s (%s): %s", w->name, w->path, strerror(err));
}

/* Hands the current buffer to the writer and takes a free one (or none, at
 * the end). Returns the writer's first error, if any. */
static int hand_over(struct slot_writer *w, bool last, struct error *e)
{
	struct writer_thread *t = &w->wt;
	int err;

	if (w->cur && w->cur->len && w->decoded + w->cur->len > w->m->image_size)
		return corrupt(w, e, "it decodes to more than the manifest's image-size");
	pthread_mutex_lock(&t->lock);
	if (w->cur && w->cur->len) {
		w->decoded += w->cur->len;
		t->full[t->n_full++] = w->cur;
	} else if (w->cur) {
		t->free_[t->n_free++] = w->cur;
	}
	w->cur = NULL;
	if (last)
		t->done = true;
	pthread_cond_broadcast(&t->cond);
	while (!last && t->n_free == 0 && !t->err)
		pthread_cond_wait(&t->cond, &t->lock);
	if (!last && !t->err) {
		w->cur = t->free_[--t->n_free];
		w->cur->len = 0;
	}
	err = t->err;
	pthread_mutex_unlock(&t->lock);
	return err ? writer_error(w, e, err) : 0;
}

/* Decodes everything zstd can produce from *in (which may be empty, to
 * drain), handing full buffers to the writer. */
static int decode(struct slot_writer *w, ZSTD_inBuffer *in, struct error *e)
{
	int rc;

	for (;;) {
		if ((!w->cur || w->cur->len == OUT_CHUNK) && (rc = hand_over(w, false, e)) < 0)
			return rc;
		ZSTD_outBuffer out = { w->cur->data + w->cur->len, OUT_CHUNK - w->cur->len, 0 };
		size_t in_before = in->pos;
		size_t ret = ZSTD_decompressStream(w->dctx, &out, in);
		if (ZSTD_isError(ret))
			return corrupt(w, e, ZSTD_getErrorName(ret));
		w->cur->len += out.pos;
		/* A call that moved nothing says nothing about where the frame stands
		 * (after a frame's end it hints at the next frame's header). */
		if (out.pos > 0 || in->pos > in_before)
			w->last_ret = ret;
		/* Done when the input is used up and zstd has no more to flush. */
		if (in->pos == in->size && out.pos < out.size)
			return 0;
	}
}

int slot_writer_feed(void *user, const uint8_t *data, size_t len, struct error *e)
{
	struct slot_writer *w = user;
	ZSTD_inBuffer in = { data, len, 0 };
	int rc;

	sha256_update(w->payload_sha, data, len);
	w->payload_seen += len;
	if ((rc = decode(w, &in, e)) < 0)
		return rc;
	progress_transfer(w->payload_seen, w->wt.reused, w->wt.written);
	progress_update(w->payload_seen);
	return 0;
}

void slot_writer_counts(const struct slot_writer *w, uint64_t *reused, uint64_t *written)
{
	*reused = w->wt.reused;
	*written = w->wt.written;
}

static int stop_writer(struct slot_writer *w, struct error *e)
{
	int rc = hand_over(w, true, e);
	pthread_join(w->wt.tid, NULL);
	w->started = false;
	if (rc == 0 && w->wt.err)
		rc = writer_error(w, e, w->wt.err);
	return rc;
}

static int check_readback(struct slot_writer *w, struct error *e)
{
	uint8_t digest[32];
	int rc;

	/* Its own phase: the image's bytes, of which the part read back while
	 * the writer ran is done already. The caller's progress_end() ends it. */
	progress_end();
	progress_begin("readback", w->m->image_size);
	rc = readback_finish(w->rb, digest, e);

	if (rc == 0 && memcmp(digest, w->m->image_sha256, 32) != 0)
		rc = err_set(e, UPD_EXIT_VERIFY, EIO,
			     "read back slot %s (%s): sha256 differs from what was written (the "
			     "medium did not keep the data)",
			     w->name, w->path);
	return rc;
}

int slot_writer_finish(struct slot_writer *w, struct error *e)
{
	uint8_t digest[32];
	ZSTD_inBuffer in = { NULL, 0, 0 };
	int rc = decode(w, &in, e);

	if (rc == 0 && w->cur && w->decoded + w->cur->len > w->m->image_size)
		rc = corrupt(w, e, "it decodes to more than the manifest's image-size");
	if (rc == 0)
		rc = stop_writer(w, e);
	/* The install phase's last line (ended by the caller or the read-back)
	 * carries the final counts. */
	progress_transfer(w->payload_seen, w->wt.reused, w->wt.written);
	if (rc < 0)
		return rc;
	if (w->last_ret != 0)
		return corrupt(w, e, "the zstd stream ends early");
	sha256_final(w->payload_sha, digest);
	w->payload_sha = NULL;
	if (memcmp(digest, w->m->payload_sha256, 32) != 0)
		return corrupt(w, e, "payload sha256 does not match the manifest");
	if (w->decoded != w->m->image_size)
		return corrupt(w, e, "it decodes to fewer bytes than the manifest's image-size");
	sha256_final(w->image_sha, digest);
	w->image_sha = NULL;
	if (memcmp(digest, w->m->image_sha256, 32) != 0)
		return corrupt(w, e, "image sha256 does not match the manifest");
	if (fsync(w->fd) < 0)
		return writer_error(w, e, errno);
	return w->rb ? check_readback(w, e) : 0;
}

void slot_writer_free(struct slot_writer *w)
{
	if (!w)
		return;
	if (w->started) {
		/* Error path: stop the writer without waiting for a verdict. */
		pthread_mutex_lock(&w->wt.lock);
		w->wt.done = true;
		w->wt.err = w->wt.err ? w->wt.err : ECANCELED;
		pthread_cond_broadcast(&w->wt.cond);
		pthread_mutex_unlock(&w->wt.lock);
		pthread_join(w->wt.tid, NULL);
	}
	readback_free(w->rb);
	pthread_mutex_destroy(&w->wt.lock);
	pthread_cond_destroy(&w->wt.cond);
	ZSTD_freeDCtx(w->dctx);
	sha256_free(w->payload_sha);
	sha256_free(w->image_sha);
	for (int i = 0; i < NBUF; i++)
		free(w->bufs[i].data);
	free(w->wt.old);
	free(w);
}

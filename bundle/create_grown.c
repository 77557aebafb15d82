/* Format 5's frames on the build host (create_grown.h): each compressed with
 * the source followed by the new image's blocks before the frame as its
 * prefix, by a pool of workers taking frames from a ring in queue order,
 * each checked by decoding it again as a device does, emitted in order. */
#define ZSTD_STATIC_LINKING_ONLY /* ZSTD_c_forceAttachDict */
#include "create_grown.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zstd.h>

/* Workers at most: each holds its own match finder's tables over a prefix
 * of up to 2 GiB (about 115 MB at level 19 for a 300 MiB prefix). */
#define GROWN_WORKERS_MAX 16
/* Frames queued per worker: a slow frame at the head of the ring leaves
 * the other workers frames to take while it is waited for. */
#define GROWN_SLOTS_PER_WORKER 2

struct grown_worker {
	struct grown *g;
	ZSTD_CCtx *z, *zd; /* with the grown prefix; with grown.dict */
	ZSTD_DCtx *d;
	uint8_t *alt;   /* the frame compressed with grown.dict */
	uint8_t *check; /* a frame decoded again */
	pthread_t t;
	bool started;
};

static size_t grown_setup(ZSTD_CCtx *z, const struct grown *g)
{
	size_t r = ZSTD_CCtx_reset(z, ZSTD_reset_session_and_parameters);

	if (!ZSTD_isError(r))
		r = ZSTD_CCtx_setParameter(z, ZSTD_c_compressionLevel, g->level);
	if (!ZSTD_isError(r))
		r = ZSTD_CCtx_setParameter(z, ZSTD_c_windowLog, g->wlog);
	if (!ZSTD_isError(r))
		r = ZSTD_CCtx_setParameter(z, ZSTD_c_enableLongDistanceMatching, 1);
	if (!ZSTD_isError(r))
		r = ZSTD_CCtx_setParameter(z, ZSTD_c_checksumFlag, 0);
	return r;
}

static void job_fail(struct grown_job *j, const char *what, size_t r)
{
	j->failed = true;
	snprintf(j->why, sizeof(j->why), "%s: %s", what,
		 ZSTD_isError(r) ? ZSTD_getErrorName(r) : "other content");
}

/* The frame compressed again against the source dictionary, kept instead
 * where it is no larger (decoded then with the source alone as prefix). */
static bool compress_plain(struct grown_worker *w, struct grown_job *j)
{
	size_t r = ZSTD_compress2(w->zd, w->alt, ZSTD_compressBound(w->g->frame_size), j->in,
				  j->fill);

	if (ZSTD_isError(r)) {
		job_fail(j, "compress with the source dictionary", r);
		return false;
	}
	if (r <= j->len) {
		uint8_t *t = j->out; /* both hold a bound's bytes */
		j->out = w->alt;
		w->alt = t;
		j->len = r;
		j->prefix_blocks = 0;
	}
	return true;
}

static void compress_job(struct grown_worker *w, struct grown_job *j)
{
	const struct grown *g = w->g;
	size_t plen = (size_t)(g->src_size + (uint64_t)j->prefix_blocks * g->block_size);
	size_t r = grown_setup(w->z, g);

	if (!ZSTD_isError(r))
		r = ZSTD_CCtx_refPrefix(w->z, g->base, plen);
	if (!ZSTD_isError(r))
		r = ZSTD_compress2(w->z, j->out, ZSTD_compressBound(g->frame_size), j->in, j->fill);
	if (ZSTD_isError(r)) {
		job_fail(j, "compress", r);
		return;
	}
	j->len = r;
	if (w->zd && !compress_plain(w, j))
		return;
	plen = (size_t)(g->src_size + (uint64_t)j->prefix_blocks * g->block_size);
	r = ZSTD_DCtx_refPrefix(w->d, g->base, plen);
	if (!ZSTD_isError(r))
		r = ZSTD_decompressDCtx(w->d, w->check, j->fill, j->out, j->len);
	if (ZSTD_isError(r) || r != j->fill || memcmp(w->check, j->in, j->fill) != 0)
		job_fail(j, "a frame does not decode back", r);
}

static void *worker_run(void *arg)
{
	struct grown_worker *w = arg;
	struct grown *g = w->g;

	pthread_mutex_lock(&g->mu);
	for (;;) {
		while (!g->stop && g->taken == g->added)
			pthread_cond_wait(&g->work, &g->mu);
		if (g->stop)
			break;
		struct grown_job *j = &g->jobs[g->taken++ % g->nslots];
		pthread_mutex_unlock(&g->mu);
		compress_job(w, j);
		pthread_mutex_lock(&g->mu);
		j->done = true;
		pthread_cond_signal(&g->done); /* only the queueing thread waits */
	}
	pthread_mutex_unlock(&g->mu);
	return NULL;
}

/* The tables of grown.dict are shared by the workers, not copied into each
 * (a copy is over a GiB at level 19 with chainLog 28). */
static int plain_init(struct grown *g, struct grown_worker *w)
{
	w->zd = ZSTD_createCCtx();
	w->alt = malloc(ZSTD_compressBound(g->frame_size));
	if (!w->zd || !w->alt)
		return -ENOMEM;
	size_t r = grown_setup(w->zd, g);
	if (!ZSTD_isError(r))
		r = ZSTD_CCtx_setParameter(w->zd, ZSTD_c_forceAttachDict, ZSTD_dictForceAttach);
	if (!ZSTD_isError(r))
		r = ZSTD_CCtx_refCDict(w->zd, g->dict);
	return ZSTD_isError(r) ? -EINVAL : 0;
}

static int worker_init(struct grown *g, struct grown_worker *w)
{
	w->g = g;
	w->z = ZSTD_createCCtx();
	w->d = ZSTD_createDCtx();
	w->check = malloc(g->frame_size);
	if (!w->z || !w->d || !w->check)
		return -ENOMEM;
	size_t r = ZSTD_DCtx_setParameter(w->d, ZSTD_d_windowLogMax, g->wlog);
	if (ZSTD_isError(r))
		return -EINVAL;
	return g->dict ? plain_init(g, w) : 0;
}

static int jobs_init(struct grown *g)
{
	g->jobs = calloc(g->nslots, sizeof(*g->jobs));
	if (!g->jobs)
		return -ENOMEM;
	for (unsigned k = 0; k < g->nslots; k++) {
		g->jobs[k].in = malloc(g->frame_size);
		g->jobs[k].out = malloc(ZSTD_compressBound(g->frame_size));
		if (!g->jobs[k].in || !g->jobs[k].out)
			return -ENOMEM;
	}
	return 0;
}

static int start_workers(struct grown *g, struct error *e)
{
	unsigned started = 0;
	bool mu = pthread_mutex_init(&g->mu, NULL) == 0;
	bool work = mu && pthread_cond_init(&g->work, NULL) == 0;
	bool done = work && pthread_cond_init(&g->done, NULL) == 0;

	if (!done) {
		if (work)
			pthread_cond_destroy(&g->work);
		if (mu)
			pthread_mutex_destroy(&g->mu);
		return err_set(e, UPD_EXIT_OTHER, EAGAIN, "bundle create: cannot make a lock");
	}
	g->locks = true;
	for (unsigned k = 0; k < g->nworkers; k++) {
		g->workers[k].started =
			pthread_create(&g->workers[k].t, NULL, worker_run, &g->workers[k]) == 0;
		started += g->workers[k].started;
	}
	return started ? 0 : err_set(e, UPD_EXIT_OTHER, EAGAIN,
				     "bundle create: cannot start a compression thread");
}

int grown_init(struct grown *g, struct error *e)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	int r = 0;

	g->nworkers = cpus < 1 ? 1 : cpus > GROWN_WORKERS_MAX ? GROWN_WORKERS_MAX : (unsigned)cpus;
	g->nslots = g->nworkers * GROWN_SLOTS_PER_WORKER;
	g->workers = calloc(g->nworkers, sizeof(*g->workers));
	if (!g->workers)
		return err_oom(e, NULL);
	for (unsigned k = 0; k < g->nworkers && r == 0; k++)
		r = worker_init(g, &g->workers[k]);
	if (r == 0)
		r = jobs_init(g);
	if (r < 0)
		return err_set(e, UPD_EXIT_OTHER, -r, "bundle create: zstd setup for the delta: %s",
			       r == -ENOMEM ? "out of memory" : "zstd refused the parameters");
	return start_workers(g, e);
}

void grown_free(struct grown *g)
{
	if (g->locks) {
		pthread_mutex_lock(&g->mu);
		g->stop = true;
		pthread_cond_broadcast(&g->work);
		pthread_mutex_unlock(&g->mu);
	}
	for (unsigned k = 0; g->workers && k < g->nworkers; k++) {
		struct grown_worker *w = &g->workers[k];
		if (w->started)
			pthread_join(w->t, NULL);
		ZSTD_freeCCtx(w->z);
		ZSTD_freeCCtx(w->zd);
		ZSTD_freeDCtx(w->d);
		free(w->alt);
		free(w->check);
	}
	for (unsigned k = 0; g->jobs && k < g->nslots; k++)
		free(g->jobs[k].in), free(g->jobs[k].out);
	if (g->locks) {
		pthread_cond_destroy(&g->work);
		pthread_cond_destroy(&g->done);
		pthread_mutex_destroy(&g->mu);
	}
	free(g->workers);
	free(g->jobs);
	g->workers = NULL;
	g->jobs = NULL;
	g->locks = false;
}

/* The oldest queued frame, once compressed, to emit. */
static int emit_oldest(struct grown *g, grown_emit_fn emit, void *user, struct error *e)
{
	struct grown_job *j = &g->jobs[g->emitted % g->nslots];

	pthread_mutex_lock(&g->mu);
	while (!j->done)
		pthread_cond_wait(&g->done, &g->mu);
	pthread_mutex_unlock(&g->mu);
	g->emitted++;
	if (j->failed)
		return err_set(e, UPD_EXIT_OTHER, EIO, "bundle create: delta frame: %s", j->why);
	return emit(user, j, e);
}

int grown_add(struct grown *g, const uint8_t *data, size_t len, uint64_t first,
	      grown_emit_fn emit, void *user, struct error *e)
{
	uint64_t window = (uint64_t)1 << g->wlog, most = g->grow ? first : 0;

	while (g->added - g->emitted == g->nslots) {
		int r = emit_oldest(g, emit, user, e);
		if (r < 0)
			return r;
	}
	/* The window holds the source, the prefix's blocks and a frame
	 * (delta_window made it hold at least the source and a frame). */
	if (g->src_size + most * g->block_size + g->frame_size > window)
		most = (window - g->src_size - g->frame_size) / g->block_size;
	/* The slot's previous frame was emitted: no worker holds it. */
	struct grown_job *j = &g->jobs[g->added % g->nslots];
	memcpy(j->in, data, len);
	j->fill = len;
	j->prefix_blocks = (uint32_t)most;
	j->done = j->failed = false;
	pthread_mutex_lock(&g->mu);
	g->added++;
	pthread_cond_signal(&g->work);
	pthread_mutex_unlock(&g->mu);
	return 0;
}

int grown_flush(struct grown *g, grown_emit_fn emit, void *user, struct error *e)
{
	int r = 0;

	while (r == 0 && g->emitted < g->added)
		r = emit_oldest(g, emit, user, e);
	return r;
}

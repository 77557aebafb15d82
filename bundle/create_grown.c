/* Format 5's frames on the build host (create_grown.h): each compressed with
 * the source followed by the new image's blocks before the frame as its
 * prefix, several frames at once, each checked by decoding it again as a
 * device does. */
#include "create_grown.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zstd.h>

/* Workers at most: each holds its own match finder's tables over a prefix
 * of up to 2 GiB (about 115 MB at level 19 for a 300 MiB prefix). */
#define GROWN_WORKERS_MAX 16

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

static void *job_run(void *arg)
{
	struct grown_job *j = arg;
	const struct grown *g = j->g;
	size_t plen = (size_t)(g->src_size + (uint64_t)j->prefix_blocks * g->block_size);
	ZSTD_CCtx *z = ZSTD_createCCtx();
	ZSTD_DCtx *d = ZSTD_createDCtx();
	size_t r = 0;

	if (!z || !d) {
		j->failed = true;
		snprintf(j->why, sizeof(j->why), "out of memory");
		ZSTD_freeCCtx(z);
		ZSTD_freeDCtx(d);
		return NULL;
	}
	r = grown_setup(z, g);
	if (!ZSTD_isError(r))
		r = ZSTD_CCtx_refPrefix(z, g->base, plen);
	if (!ZSTD_isError(r))
		r = ZSTD_compress2(z, j->out, j->out_cap, j->in, j->fill);
	if (ZSTD_isError(r)) {
		job_fail(j, "compress", r);
	} else {
		j->len = r;
		r = ZSTD_DCtx_setParameter(d, ZSTD_d_windowLogMax, g->wlog);
		if (!ZSTD_isError(r))
			r = ZSTD_DCtx_refPrefix(d, g->base, plen);
		if (!ZSTD_isError(r))
			r = ZSTD_decompressDCtx(d, j->check, j->fill, j->out, j->len);
		if (ZSTD_isError(r) || r != j->fill || memcmp(j->check, j->in, j->fill) != 0)
			job_fail(j, "a frame does not decode back", r);
	}
	ZSTD_freeCCtx(z);
	ZSTD_freeDCtx(d);
	return NULL;
}

int grown_init(struct grown *g, size_t frame_size, struct error *e)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	g->njobs = cpus < 1 ? 1 : cpus > GROWN_WORKERS_MAX ? GROWN_WORKERS_MAX : (unsigned)cpus;
	g->jobs = calloc(g->njobs, sizeof(*g->jobs));
	if (!g->jobs)
		return err_oom(e, NULL);
	for (unsigned k = 0; k < g->njobs; k++) {
		struct grown_job *j = &g->jobs[k];
		j->g = g;
		j->out_cap = ZSTD_compressBound(frame_size);
		j->in = malloc(frame_size);
		j->check = malloc(frame_size);
		j->out = malloc(j->out_cap);
		if (!j->in || !j->check || !j->out)
			return err_oom(e, NULL);
	}
	return 0;
}

void grown_free(struct grown *g)
{
	for (unsigned k = 0; g->jobs && k < g->njobs; k++) {
		free(g->jobs[k].in);
		free(g->jobs[k].check);
		free(g->jobs[k].out);
	}
	free(g->jobs);
	g->jobs = NULL;
}

int grown_add(struct grown *g, const uint8_t *data, size_t len, uint64_t first,
	      grown_emit_fn emit, void *user, struct error *e)
{
	struct grown_job *j = &g->jobs[g->queued++];
	uint64_t window = (uint64_t)1 << g->wlog, most = g->grow ? first : 0;

	/* The window holds the source, the prefix's blocks and a frame
	 * (delta_window made it hold at least the source and a frame). */
	if (g->src_size + most * g->block_size + g->frame_size > window)
		most = (window - g->src_size - g->frame_size) / g->block_size;
	memcpy(j->in, data, len);
	j->fill = len;
	j->prefix_blocks = (uint32_t)most;
	j->failed = false;
	return g->queued == g->njobs ? grown_flush(g, emit, user, e) : 0;
}

int grown_flush(struct grown *g, grown_emit_fn emit, void *user, struct error *e)
{
	pthread_t t[GROWN_WORKERS_MAX];
	bool started[GROWN_WORKERS_MAX] = { false };
	int r = 0;

	for (unsigned k = 1; k < g->queued; k++)
		started[k] = pthread_create(&t[k], NULL, job_run, &g->jobs[k]) == 0;
	for (unsigned k = 0; k < g->queued; k++) {
		if (k == 0 || !started[k])
			job_run(&g->jobs[k]); /* the first, and any no thread took, here */
		else
			pthread_join(t[k], NULL);
	}
	for (unsigned k = 0; k < g->queued && r == 0; k++) {
		struct grown_job *j = &g->jobs[k];
		r = j->failed ? err_set(e, UPD_EXIT_OTHER, EIO, "bundle create: delta frame: %s",
					j->why)
			      : emit(user, j, e);
	}
	g->queued = 0;
	return r;
}

/* Format 5's frames on the build host (docs/bundle-format.md, "Static delta"):
 * frame f is compressed with a prefix of the source and then the new image's
 * blocks before f's first data block, which a device has made final before
 * it decodes f. One indexing of that prefix per frame is what this costs
 * (docs/dualbank.md, "Static delta"), so frames are compressed in parallel,
 * one worker thread per CPU taking frames from a queue, and handed back in
 * order. Each frame is also compressed against the source alone, indexed
 * once with longer match chains (format 4's dictionary), and the smaller of
 * the two is kept (that one with a prefix of no new blocks). */
#pragma once
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <zstd.h>

#include "../lib/error.h"

struct grown;
struct grown_worker;

struct grown_job {
	uint8_t *in, *out;      /* the frame's data, then compressed */
	size_t fill, len;
	uint32_t prefix_blocks; /* the new image's blocks in its prefix */
	bool done, failed;      /* under grown.mu */
	char why[128];
};

struct grown {
	/* Set by the caller before grown_init: */
	const uint8_t *base; /* the source image, then the new image, contiguous */
	uint64_t src_size;
	uint32_t block_size, frame_size;
	bool grow;           /* false: every prefix is the source alone */
	int level, wlog;
	const ZSTD_CDict *dict; /* the source alone; NULL: grown prefixes only */
	/* grown_init's: a ring of nslots jobs; job s (in queue order) is
	 * jobs[s % nslots]; [emitted, taken) are being compressed, [taken,
	 * added) wait for a worker. */
	unsigned nworkers, nslots;
	struct grown_worker *workers;
	struct grown_job *jobs;
	uint64_t added, taken, emitted;
	bool stop, locks;
	pthread_mutex_t mu;
	pthread_cond_t work, done;
};

/* Called for each compressed frame, in order: j->out (j->len bytes) decodes
 * to j->in (j->fill bytes) with j->prefix_blocks. */
typedef int (*grown_emit_fn)(void *user, const struct grown_job *j, struct error *e);

/* Starts the workers (each with its own compression and decompression
 * contexts) and the jobs' buffers. On failure grown_free is still called. */
int grown_init(struct grown *g, struct error *e);
/* Stops the workers (what they compress is dropped) and frees all. */
void grown_free(struct grown *g);
/* Queues a frame (data copied) whose first data block is the new image's
 * block first, emitting the oldest frames first while the ring is full. */
int grown_add(struct grown *g, const uint8_t *data, size_t len, uint64_t first,
	      grown_emit_fn emit, void *user, struct error *e);
/* Waits for every queued frame and emits them in order. */
int grown_flush(struct grown *g, grown_emit_fn emit, void *user, struct error *e);

/* Format 5's frames on the build host (docs/bundle-format.md, "Static delta"):
 * frame f is compressed with a prefix of the source and then the new image's
 * blocks before f's first data block, which a device has made final before
 * it decodes f. One indexing of that prefix per frame is what this costs
 * (docs/dualbank.md, "Static delta"), so frames are compressed in parallel,
 * one worker per CPU, and handed back in order. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../lib/error.h"

struct grown;

struct grown_job {
	const struct grown *g;
	uint8_t *in, *out, *check; /* the frame's data, compressed, decoded again */
	size_t fill, len, out_cap;
	uint32_t prefix_blocks;    /* the new image's blocks in its prefix */
	bool failed;
	char why[128];
};

struct grown {
	const uint8_t *base; /* the source image, then the new image, contiguous */
	uint64_t src_size;
	uint32_t block_size, frame_size;
	bool grow;           /* false: every prefix is the source alone */
	int level, wlog;
	unsigned njobs, queued;
	struct grown_job *jobs;
};

/* Called for each compressed frame, in order: j->out (j->len bytes) decodes
 * to j->in (j->fill bytes) with j->prefix_blocks. */
typedef int (*grown_emit_fn)(void *user, const struct grown_job *j, struct error *e);

/* g's base, sizes, level, wlog and grow set by the caller; allocates the
 * workers' buffers. On failure grown_free is still called. */
int grown_init(struct grown *g, size_t frame_size, struct error *e);
void grown_free(struct grown *g);
/* Queues a frame (data copied) whose first data block is the new image's
 * block first; compresses the queue once it is full. */
int grown_add(struct grown *g, const uint8_t *data, size_t len, uint64_t first,
	      grown_emit_fn emit, void *user, struct error *e);
/* Compresses what is queued and emits it in order. */
int grown_flush(struct grown *g, grown_emit_fn emit, void *user, struct error *e);

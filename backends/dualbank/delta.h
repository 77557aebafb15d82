/* Dynamic delta install of a format-3 bundle (docs/dualbank.md, "Delta
 * install"): each 4 KiB block of the new image is taken, in this order, from
 *   1. the target slot at the same offset (already there: not written; this
 *      is also what makes an interrupted install resume),
 *   2. nothing, when the index says the block is all zeros,
 *   3. the active slot at any offset (opened read-only, never for writing),
 *   4. the network: the payload frames that hold the remaining blocks, with
 *      HTTP range requests on the same bundle file.
 * Every block is hashed against the signed index before it is written; the
 * whole image is then hashed again (read back from the medium unless
 * read-back is off) against the manifest's image-sha256.
 * The target slot is read and written only at a block's own offset: a block
 * of the target at another offset is not a source, because this install may
 * already have overwritten it. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "../../bundle/bundle.h"
#include "../../bundle/index.h"
#include "../../lib/error.h"
#include "../../lib/source.h"

struct delta_job {
	int fd;                        /* the target slot, O_RDWR */
	const char *name, *path;       /* the target slot, for messages and read-back */
	const char *active_path;       /* the running slot (NULL: not used) */
	const struct manifest *m;
	const struct bundle_index *ix; /* parsed and checked against m */
	const struct source_opts *src; /* the bundle */
	uint64_t payload_offset;       /* of the payload in the bundle */
	bool readback;
};

struct delta_counts {
	uint64_t downloaded; /* payload bytes fetched (frames) */
	uint64_t received;   /* every body byte received, multipart framing included */
	uint64_t requests;   /* HTTP requests of the range fetch */
	uint64_t reused;     /* image bytes already in place in the target */
	uint64_t copied;     /* image bytes taken from the active slot */
	uint64_t zeros;      /* image bytes of all-zero blocks written without download */
	uint64_t written;    /* image bytes written to the target */
};

/* Installs j->m's image into the target slot. 0 when the image in the slot
 * is verified; -EOPNOTSUPP (e set) when the server ignores range requests:
 * the caller streams the whole bundle instead, and what this wrote is
 * verified block by block and kept (the full stream finds it in place).
 * Other errors as a full install's. */
int delta_install(const struct delta_job *j, struct delta_counts *c, struct error *e);

/* ---- the parts of delta_install (delta_local.c, delta_fetch.c) ---- */

struct delta_run {
	const struct delta_job *j;
	struct delta_counts *c;
	uint8_t *need;   /* per block: 1 while it must still come from the network */
	uint64_t n_need;
	uint64_t n_found; /* of those, found in the active slot so far */
	struct sha256_ctx *hash; /* reused for every block's hash */
	/* Blocks to write at consecutive offsets go out as one write. */
	uint8_t *wbuf;
	uint64_t wfirst; /* the block wbuf starts with */
	size_t wlen;     /* bytes in wbuf */
};

/* The image's block i: its length (the last one may be short) and offset. */
uint32_t delta_block_len(const struct delta_run *r, uint64_t i);
/* Writes block i (data: delta_block_len bytes whose hash was checked),
 * joined with the blocks next to it into one write; delta_flush writes what
 * is pending (each pass ends with it). */
int delta_write_block(struct delta_run *r, uint64_t i, const uint8_t *data, struct error *e);
int delta_flush(struct delta_run *r, struct error *e);
#define DELTA_WBUF (256u << 10)
/* Sources 1 and 2, then 3 (needs r->need allocated, all 1). */
int delta_from_target(struct delta_run *r, struct error *e);
int delta_from_active(struct delta_run *r, struct error *e);
/* Source 4: the frames holding the blocks still needed. */
int delta_from_network(struct delta_run *r, struct error *e);

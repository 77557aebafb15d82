/* What bundle creation's files share (create.c, create_frames.c,
 * create_delta.c): the state of one `bundle create`. Build host only. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "bundle.h"
#include "create.h"

#define CHUNK ((size_t)1 << 20) /* streaming unit of bundle_create (formats 1, 2) */

struct creator {
	const struct bundle_create_opts *o;
	int level, wlog;
	int format;
	uint32_t frame_size;
	EVP_PKEY *key;
	int img_fd, pay_fd, out_fd;
	char *tmp_path; /* output.tmp, set while it exists and must be removed */
	uint8_t *in, *out;
	size_t in_cap, out_cap;
	struct manifest m;
	char *mtext;
	uint8_t *sig;
	size_t sig_len;
	uint8_t *index; /* formats 3 and 4: the index section as stored */
};

/* The index's tables as they grow (formats 3 and 4), and the image's and
 * the payload's running hashes. */
struct frames {
	uint8_t *sizes, *hashes; /* frame sizes; block (3) or frame (4) hashes */
	uint8_t *ops;            /* formats 4, 5: an op per block */
	uint8_t *prefixes;       /* format 5: each frame's prefix blocks */
	size_t nsizes, nhashes, nops, nprefixes, sizes_cap, hashes_cap, ops_cap, prefixes_cap;
	struct sha256_ctx *ih, *ph;
};

/* UPD_EXIT_NOSPACE for a full disk, else UPD_EXIT_OTHER. */
int create_io_exit(int errnum);
/* Format 3: the image cut into independent frames of frame_size bytes into
 * the payload temp file, the block hashes and the index section (c->index,
 * c->m.index_size, index_sha256); fills the manifest's sizes and hashes. */
int create_frames(struct creator *c, struct error *e);
/* Format 4: the static delta of c->o->image against the image of
 * c->o->delta_from (create_delta.c): its ops, frames and index. */
int create_delta(struct creator *c, struct error *e);

/* Shared by both: *buf grown (doubling) to hold need bytes; -ENOMEM. */
int create_grow(uint8_t **buf, size_t *cap, size_t need);
/* c->out's len bytes, one compressed frame, into the payload temp file, its
 * hash and the frame-size table. */
int create_put_frame(struct creator *c, struct frames *f, size_t len, struct error *e);
/* The index section (f's sizes, hashes, ops and prefixes, concatenated, as one zstd
 * frame) into c->index, c->m.index_size and index_sha256. */
int create_index(struct creator *c, const struct frames *f, struct error *e);
/* On r == 0 the image's and the payload's SHA-256 into c->m; frees f's
 * tables and hashes either way; returns r. */
int create_frames_end(struct creator *c, struct frames *f, int r);

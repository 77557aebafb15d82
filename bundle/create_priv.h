/* What bundle creation's files share (create.c, create_frames.c): the state
 * of one `bundle create`. Build host only. */
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
	uint8_t *index; /* format 3: the index section as stored */
};

/* UPD_EXIT_NOSPACE for a full disk, else UPD_EXIT_OTHER. */
int create_io_exit(int errnum);
/* Format 3: the image cut into independent frames of frame_size bytes into
 * the payload temp file, the block hashes and the index section (c->index,
 * c->m.index_size, index_sha256); fills the manifest's sizes and hashes. */
int create_frames(struct creator *c, struct error *e);

/* Dynamic delta install (delta.h): the sources in order, then the whole
 * image verified. */
#include "delta.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../lib/digest.h"
#include "../../lib/fault.h"
#include "../../lib/progress.h"
#include "../image/readback.h"
#include "block_hasher.h"
#include "frame_decode.h"

int delta_check_start(const struct delta_job *j, struct readback **rb, struct error *e)
{
	return j->readback ? readback_start(rb, j->fd, j->path, j->m->image_size, e)
			   : readback_start_cached(rb, j->fd, j->path, j->m->image_size, e);
}

void delta_readback_upto(struct delta_run *r, uint64_t block)
{
	uint64_t bs = r->j->ix->block_size, upto = block * bs;

	if (!r->rb)
		return;
	if (r->wlen && r->wfirst * bs < upto)
		upto = r->wfirst * bs; /* still in the write buffer */
	if (upto > r->j->m->image_size)
		upto = r->j->m->image_size;
	if (upto <= r->rb_upto)
		return;
	r->rb_upto = upto;
	readback_advance(r->rb, upto);
	fault_delay("delta-readback"); /* tests: the check gets ahead of this thread */
}

void delta_readback_follow(struct delta_run *r)
{
	while (r->rb_next < r->j->ix->nblocks && r->need[r->rb_next] == 0)
		r->rb_next++;
	delta_readback_upto(r, r->rb_next);
}

/* Durable, then the whole image against the signed image-sha256: what the
 * blocks' index hashes checked one by one, checked as one image. */
int delta_verify_image(const struct delta_job *j, struct readback *rb, struct error *e)
{
	uint8_t digest[32];
	struct readback *own = NULL;
	int rc = 0;

	if (fsync(j->fd) < 0)
		return err_set(e, UPD_EXIT_OTHER, errno, "install %s: fsync %s: %s", j->name,
			       j->path, strerror(errno));
	progress_begin("readback", j->m->image_size);
	if (!rb && (rc = delta_check_start(j, &own, e)) == 0)
		rb = own;
	if (rc == 0) {
		readback_advance(rb, j->m->image_size);
		rc = readback_finish(rb, digest, e);
	}
	readback_free(own);
	rc == 0 ? progress_done() : progress_end();
	if (rc == 0 && memcmp(digest, j->m->image_sha256, 32) != 0)
		rc = err_set(e, UPD_EXIT_VERIFY, EBADMSG,
			     "install %s: the image in %s does not match the manifest's image-sha256 "
			     "after the delta install", j->name, j->path);
	return rc;
}

int delta_decoder_init(const struct delta_job *j, struct frame_decode *d, struct error *e)
{
	/* As in the full stream: a frame asking for more fails to decode. */
	int rc = frame_decode_init(d, j->m->zstd_window_log);

	if (rc == -EINVAL)
		return err_set(e, UPD_EXIT_VERIFY, EINVAL,
			       "install %s: zstd refuses a window of 2^%d bytes", j->name,
			       j->m->zstd_window_log);
	return rc < 0 ? err_oom(e, NULL) : 0;
}

size_t delta_blocks_in(size_t bytes, uint32_t bs)
{
	return bytes > bs ? bytes / bs : 1;
}

int delta_install(const struct delta_job *j, struct delta_counts *c, struct error *e)
{
	struct delta_run r = { .j = j, .c = c };
	int rc;

	memset(c, 0, sizeof(*c));
	if (j->ix->block_size == 0 || j->ix->frame_size % j->ix->block_size ||
	    DELTA_CHUNK % j->ix->block_size || !j->ix->hashes)
		return err_set(e, UPD_EXIT_VERIFY, EBADMSG,
			       "bundle index: bad block or frame size, or no block hashes");
	r.need = calloc(j->ix->nblocks ? j->ix->nblocks : 1, 1);
	r.wbuf = malloc(DELTA_WBUF);
	r.hash = sha256_new();
	r.hashes = malloc(DELTA_CHUNK / j->ix->block_size * BUNDLE_INDEX_HASH_LEN);
	if (!r.need || !r.wbuf || !r.hash || !r.hashes || block_hasher_new(&r.hasher) < 0) {
		free(r.need), free(r.wbuf), sha256_free(r.hash), free(r.hashes);
		return err_oom(e, NULL);
	}
	rc = delta_from_target(&r, e);
	if (rc == 0)
		rc = delta_from_active(&r, e);
	/* What the device held is in place: the image's check reads it while the
	 * frames of the rest come in. */
	if (rc == 0 && r.n_need && (rc = delta_check_start(j, &r.rb, e)) == 0)
		delta_readback_follow(&r);
	if (rc == 0)
		rc = delta_from_network(&r, e);
	if (rc == 0)
		rc = delta_verify_image(j, r.rb, e);
	readback_free(r.rb);
	free(r.need), free(r.wbuf), free(r.hashes);
	sha256_free(r.hash);
	block_hasher_free(r.hasher);
	return rc;
}

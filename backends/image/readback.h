/* Read-back verification that runs while the slot is still being written:
 * each range the writer has finished is forced to the medium, then read back
 * from it (O_DIRECT, or with its cached pages dropped where O_DIRECT is not
 * supported) and hashed. What the read-back hashes is what the medium holds,
 * and the whole image is checked at little extra time. */
#pragma once
#include <stdint.h>

#include "../../lib/error.h"

struct readback;

/* wfd: the slot opened for writing (for sync_file_range); path: opened again
 * for reading; total: the image size. On failure *out is NULL and there is nothing to close. */
int readback_start(struct readback **out, int wfd, const char *path, uint64_t total,
		   struct error *e);
/* The same without the medium (read-back off): each range is hashed as the
 * page cache holds it, while the writer goes on. */
int readback_start_cached(struct readback **out, int wfd, const char *path, uint64_t total,
			  struct error *e);
/* The writer has written [0, written). */
void readback_advance(struct readback *r, uint64_t written);
/* After the final fsync: verifies what is left and returns the SHA-256 of
 * bytes [0, total) as read from the medium. */
int readback_finish(struct readback *r, uint8_t digest[32], struct error *e);
void readback_free(struct readback *r);

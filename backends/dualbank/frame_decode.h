/* One payload frame decoded as its compressed bytes arrive, into a buffer
 * the caller owns: zstd's stable output buffer, so the decoder allocates no
 * window of its own and no compressed frame is ever held whole (the delta
 * installs, delta.h). */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include <zstd.h>

struct frame_decode {
	ZSTD_DCtx *dctx;
	ZSTD_outBuffer out;
	size_t zr;          /* the decoder's last answer: 0 once the frame is whole */
	const char *why;    /* why the frame is refused (static text or zstd's) */
};

/* The decoder, bounded by the window the manifest signs (window_log_max).
 * On failure (out of memory, a bound zstd refuses) nothing is left to free
 * and -ENOMEM or -EINVAL is returned. */
int frame_decode_init(struct frame_decode *d, int window_log_max);
void frame_decode_free(struct frame_decode *d);

/* A new frame decoded into buf (cap bytes), with prefix (plen bytes; NULL:
 * none) as the data before it. */
int frame_decode_begin(struct frame_decode *d, uint8_t *buf, size_t cap, const void *prefix,
		       size_t plen);

/* The next len compressed bytes, step bytes at a time, each(arg) called
 * after each step (NULL: none). -EBADMSG (d->why set) when they do not
 * decode, or run past the frame's end. */
int frame_decode_feed(struct frame_decode *d, const uint8_t *in, size_t len, size_t step,
		      void (*each)(void *), void *arg);

/* After the frame's last byte: its decoded length, or -EBADMSG (d->why)
 * when the frame is not whole. */
int frame_decode_end(struct frame_decode *d, size_t *got);

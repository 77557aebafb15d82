/* Frames decoded piece by piece (frame_decode.h). */
#include "frame_decode.h"

#include <errno.h>

#define ZSTD_STATIC_LINKING_ONLY /* ZSTD_d_stableOutBuffer */
#include <zstd.h>

int frame_decode_init(struct frame_decode *d, int window_log_max)
{
	size_t zr;

	*d = (struct frame_decode){ .dctx = ZSTD_createDCtx() };
	if (!d->dctx)
		return -ENOMEM;
	zr = ZSTD_DCtx_setParameter(d->dctx, ZSTD_d_windowLogMax, window_log_max);
	if (!ZSTD_isError(zr))
		zr = ZSTD_DCtx_setParameter(d->dctx, ZSTD_d_stableOutBuffer, 1);
	if (ZSTD_isError(zr)) {
		frame_decode_free(d);
		return -EINVAL;
	}
	return 0;
}

void frame_decode_free(struct frame_decode *d)
{
	ZSTD_freeDCtx(d->dctx);
	d->dctx = NULL;
}

static int refuse(struct frame_decode *d, const char *why)
{
	d->why = why;
	return -EBADMSG;
}

int frame_decode_begin(struct frame_decode *d, uint8_t *buf, size_t cap, const void *prefix,
		       size_t plen)
{
	d->out = (ZSTD_outBuffer){ buf, cap, 0 };
	d->zr = ZSTD_DCtx_reset(d->dctx, ZSTD_reset_session_only);
	if (!ZSTD_isError(d->zr) && prefix)
		d->zr = ZSTD_DCtx_refPrefix(d->dctx, prefix, plen);
	if (ZSTD_isError(d->zr))
		return refuse(d, ZSTD_getErrorName(d->zr));
	d->zr = 1; /* nothing decoded yet */
	return 0;
}

int frame_decode_feed(struct frame_decode *d, const uint8_t *in, size_t len, size_t step,
		      void (*each)(void *), void *arg)
{
	ZSTD_inBuffer src = { in, 0, 0 };

	while (src.pos < len) {
		if (d->zr == 0)
			return refuse(d, "data after the frame's end");
		src.size = len - src.pos < step ? len : src.pos + step;
		d->zr = ZSTD_decompressStream(d->dctx, &d->out, &src);
		if (each)
			each(arg);
		if (ZSTD_isError(d->zr))
			return refuse(d, ZSTD_getErrorName(d->zr));
	}
	return 0;
}

int frame_decode_end(struct frame_decode *d, size_t *got)
{
	*got = d->out.pos;
	return d->zr == 0 ? 0 : refuse(d, "the frame ends early");
}

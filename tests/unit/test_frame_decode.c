/* A frame decoded piece by piece (backends/dualbank/frame_decode.c), as the
 * delta installs get it from the network: any split of its bytes decodes
 * to the data, with a prefix too; a frame cut short, bytes after its end,
 * a frame larger than its buffer and bytes that are no frame are refused,
 * each with its reason; the step callback runs once per step. */
#include "testutil.h"

#include <errno.h>
#include <string.h>

#include "../../backends/dualbank/frame_decode.h"

#define N (300u << 10) /* more than two zstd blocks */

struct fx {
	uint8_t *data, *prefix, *z, *out;
	size_t zlen;
	struct frame_decode d;
};

/* data: the prefix's bytes again (matches into it) with random runs. */
static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	f->prefix = malloc(N), f->data = malloc(N), f->out = malloc(N);
	tu_fill_random(f->prefix, N, 11);
	for (size_t k = 0; k < N; k += 8192) { /* N: a multiple of 4096 */
		memcpy(f->data + k, f->prefix + (k * 7919) % (N - 4096), 4096);
		if (k + 4096 < N)
			tu_fill_random(f->data + k + 4096, 4096, (uint32_t)k);
	}
	ZSTD_CCtx *c = ZSTD_createCCtx();
	f->z = malloc(ZSTD_compressBound(N));
	assert_true(c && f->z && f->out);
	assert_false(ZSTD_isError(ZSTD_CCtx_refPrefix(c, f->prefix, N)));
	f->zlen = ZSTD_compress2(c, f->z, ZSTD_compressBound(N), f->data, N);
	assert_false(ZSTD_isError(f->zlen));
	ZSTD_freeCCtx(c);
	assert_int_equal(frame_decode_init(&f->d, 27), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	frame_decode_free(&f->d);
	free(f->data), free(f->prefix), free(f->z), free(f->out), free(f);
	return 0;
}

static void count_step(void *arg)
{
	(*(size_t *)arg)++;
}

/* The frame in pieces of piece bytes, steps of step; 0 or the error. */
static int decode(struct fx *f, size_t len, size_t piece, size_t step, size_t cap, size_t *got,
		  size_t *steps)
{
	int rc = frame_decode_begin(&f->d, f->out, cap, f->prefix, N);
	for (size_t at = 0; rc == 0 && at < len; at += piece)
		rc = frame_decode_feed(&f->d, f->z + at, len - at < piece ? len - at : piece, step,
				       count_step, steps);
	return rc == 0 ? frame_decode_end(&f->d, got) : rc;
}

static void test_any_split(void **state)
{
	struct fx *f = *state;
	const size_t pieces[] = { 1, 7, 1000, 65536, SIZE_MAX };

	for (size_t k = 0; k < sizeof(pieces) / sizeof(*pieces); k++) {
		size_t got = 0, steps = 0;
		memset(f->out, 0, N);
		assert_int_equal(decode(f, f->zlen, pieces[k], 256, N, &got, &steps), 0);
		assert_int_equal(got, N);
		assert_memory_equal(f->out, f->data, N);
		assert_true(steps >= (f->zlen + 255) / 256);
	}
	size_t got = 0, steps = 0;
	assert_int_equal(decode(f, f->zlen, f->zlen, f->zlen, N, &got, &steps), 0);
	assert_int_equal(steps, 1);
}

static void test_refused(void **state)
{
	struct fx *f = *state;
	size_t got = 0, steps = 0;

	assert_int_equal(decode(f, f->zlen - 1, 512, 256, N, &got, &steps), -EBADMSG);
	assert_string_equal(f->d.why, "the frame ends early");
	assert_int_equal(decode(f, f->zlen / 2, 512, 256, N, &got, &steps), -EBADMSG);
	assert_string_equal(f->d.why, "the frame ends early");

	uint8_t *more = malloc(f->zlen + 1);
	assert_non_null(more);
	memcpy(more, f->z, f->zlen);
	more[f->zlen] = 0;
	uint8_t *keep = f->z;
	f->z = more;
	assert_int_equal(decode(f, f->zlen + 1, f->zlen + 1, 256, N, &got, &steps), -EBADMSG);
	assert_string_equal(f->d.why, "data after the frame's end");
	f->z = keep;
	free(more);

	assert_int_equal(decode(f, f->zlen, 4096, 256, N - 1, &got, &steps), -EBADMSG);
	assert_non_null(f->d.why);

	memset(f->z, 0x5a, 16);
	assert_int_equal(decode(f, f->zlen, 4096, 256, N, &got, &steps), -EBADMSG);
	assert_non_null(strstr(f->d.why, "Unknown frame descriptor"));
}

TU_MAIN(NULL, NULL, cmocka_unit_test_setup_teardown(test_any_split, setup, teardown),
	cmocka_unit_test_setup_teardown(test_refused, setup, teardown))

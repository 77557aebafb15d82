/* Bundle format 3: bundle_create of formats 1, 2 and 3 read back, the
 * frames decoded alone and as one stream, the block index parsed, and a
 * hostile index (wrong hash, truncated, wrong counts, frame sizes that do
 * not add up, oversized, a decompression bomb) refused with its cause. */
#include "testutil.h"
#include "tu_index.h"
#include "tu_keys.h"

#include <errno.h>
#include <inttypes.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <zstd.h>

#include "../../bundle/bundle.h"
#include "../../bundle/create.h"
#include "../../bundle/index.h"
#include "../../backends/image/bundle_image.h"

static struct tu_signer fx;
TU_SIGNER_GROUP(fx)

/* Zero blocks, random blocks and a block repeated: what an image holds. */
static uint8_t *make_image(size_t n)
{
	uint8_t *img = calloc(1, n ? n : 1);
	uint32_t x = 12345;

	assert_non_null(img);
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13, x ^= x >> 17, x ^= x << 5;
		size_t b = i / 4096;
		img[i] = b % 3 == 0 ? 0 : b % 3 == 1 ? (uint8_t)x : (uint8_t)(i % 4096);
	}
	return img;
}

struct bundle {
	uint8_t *file;
	size_t len;
	struct bundle_head h;
};

static void create(size_t n, int format, uint32_t frame, uint64_t sv, struct bundle *b,
		   uint8_t **img)
{
	char *image = path_in("img"), *out = path_in("b.upd");
	struct bundle_create_opts o = {.image = image, .version = "3.1", .compatible = "board",
				       .key = fx.key, .output = out, .format = format,
				       .frame_size = frame, .security_version = sv};
	struct error e = {0};
	size_t need = 0;

	*img = make_image(n);
	assert_int_equal(tu_write_file(image, (const char *)*img, n), 0);
	if (bundle_create(&o, &e) != 0)
		fail_msg("bundle_create: %s", e.msg);
	b->file = (uint8_t *)tu_read_file(out, &b->len);
	assert_non_null(b->file);
	assert_int_equal(bundle_head_parse(b->file, b->len, &b->h, &need, &e), 0);
	assert_true(need == b->h.index_offset);
	free(image), free(out);
}

static void bundle_free(struct bundle *b)
{
	bundle_head_free(&b->h);
	free(b->file);
}

/* Every frame decodes alone to its frame-size bytes of the image; every
 * block has its hash and its frame. */
static void check_frames(const struct bundle *b, const struct bundle_index *ix,
			 const uint8_t *img, size_t n)
{
	const uint8_t *pay = b->file + b->h.payload_offset;
	uint8_t *out = malloc(ix->frame_size), block[4096];

	for (uint64_t f = 0; f < ix->nframes; f++) {
		size_t at = (size_t)(f * ix->frame_size), want = n - at < ix->frame_size ? n - at
										   : ix->frame_size;
		size_t got = ZSTD_decompress(out, ix->frame_size, pay + ix->frame_offset[f],
					     ix->frame_offset[f + 1] - ix->frame_offset[f]);
		assert_false(ZSTD_isError(got));
		assert_int_equal(got, want);
		assert_memory_equal(out, img + at, want);
	}
	for (uint64_t i = 0; i < ix->nblocks; i++) {
		size_t at = (size_t)i * 4096, k = n - at < 4096 ? n - at : 4096;
		memset(block, 0, sizeof(block));
		memcpy(block, img + at, k);
		assert_true(bundle_index_block_matches(ix, i, block));
		block[0] ^= 1;
		assert_false(bundle_index_block_matches(ix, i, block));
		assert_int_equal(bundle_index_frame_of(ix, i), at / ix->frame_size);
	}
	assert_false(bundle_index_block_matches(ix, ix->nblocks, block));
	free(out);
}

/* The payload is also one zstd stream: today's full install reads it so. */
static void check_stream(const struct bundle *b, const uint8_t *img, size_t n)
{
	ZSTD_DCtx *d = ZSTD_createDCtx();
	uint8_t *out = malloc(n + 1);
	ZSTD_inBuffer in = {b->file + b->h.payload_offset, b->h.manifest.payload_size, 0};
	ZSTD_outBuffer o = {out, n + 1, 0};

	ZSTD_DCtx_setParameter(d, ZSTD_d_windowLogMax, b->h.manifest.zstd_window_log);
	while (in.pos < in.size)
		assert_false(ZSTD_isError(ZSTD_decompressStream(d, &o, &in)));
	assert_int_equal(o.pos, n);
	assert_memory_equal(out, img, n);
	assert_true(b->h.payload_offset + b->h.manifest.payload_size == b->len);
	ZSTD_freeDCtx(d);
	free(out);
}

static void roundtrip3(size_t n, uint32_t frame)
{
	struct bundle b;
	struct bundle_index ix;
	struct error e = {0};
	uint8_t *img;
	char *keys[] = {fx.pub};
	size_t which;

	create(n, 0, frame, 5, &b, &img);
	const struct manifest *m = &b.h.manifest;
	assert_int_equal(m->format, 3);
	assert_true(m->security_version == 5);
	assert_int_equal(m->block_size, 4096);
	assert_int_equal(m->frame_size, frame ? frame : BUNDLE_FRAME_SIZE_DEFAULT);
	assert_true(b.h.payload_offset == b.h.index_offset + m->index_size);
	assert_true((1u << m->zstd_window_log) >= m->frame_size || m->zstd_window_log == 23);
	assert_int_equal(bundle_verify_signature(&b.h, keys, 1, &which, &e), 0);
	assert_int_equal(bundle_index_parse(b.file + b.h.index_offset, m->index_size, m, &ix, &e),
			 0);
	assert_true(ix.nblocks == (n + 4095) / 4096);
	assert_true(ix.nframes == (n ? (n + m->frame_size - 1) / m->frame_size : 1));
	assert_true(ix.frame_offset[0] == 0 && ix.frame_offset[ix.nframes] == m->payload_size);
	check_frames(&b, &ix, img, n);
	check_stream(&b, img, n);
	bundle_index_free(&ix);
	assert_null(ix.hashes);
	bundle_free(&b);
	free(img);
}

static void test_roundtrip_format3(void **state)
{
	(void)state;
	roundtrip3(300000, 0);             /* default frames, a short last block */
	roundtrip3(5 * 16384, 16384);      /* frames end with the image */
	roundtrip3(40000, 4096);           /* a frame per block */
	roundtrip3(3u << 20, 1u << 20);    /* a frame larger than today's chunk */
	roundtrip3(0, 0);                  /* empty: one empty frame, no block */
	roundtrip3(100, 8u << 20);         /* the largest frame, a tiny image */
}

/* --format 1 and 2 still write the old formats, without an index. */
static void test_roundtrip_old_formats(void **state)
{
	(void)state;
	for (int f = 1; f <= 2; f++) {
		struct bundle b;
		uint8_t *img;
		create(200000, f, 0, f == 2 ? 9 : 0, &b, &img);
		assert_int_equal(b.h.manifest.format, f);
		assert_true(b.h.manifest.index_size == 0 && b.h.manifest.frame_size == 0);
		assert_true(b.h.payload_offset == b.h.index_offset);
		assert_null(strstr(b.h.manifest_text, "index"));
		check_stream(&b, img, 200000);
		bundle_free(&b);
		free(img);
	}
}

static void test_create_refuses(void **state)
{
	(void)state;
	static const struct {
		int format;
		uint32_t frame;
		uint64_t sv;
		const char *msg;
	} bad[] = {
		{1, 0, 3, "format 1 cannot carry a security version"},
		{2, 65536, 0, "a frame size needs format 3 (this one is 2)"},
		{1, 4096, 0, "a frame size needs format 3"},
		{3, 5000, 0, "frame size 5000 is not a multiple of 4096"},
		{3, 16u << 20, 0, "frame size 16777216 is not a multiple"},
		{6, 0, 0, "format 6 outside 1..5"},
		{4, 0, 0, "formats 4 and 5 need --delta-from"},
		{5, 0, 0, "formats 4 and 5 need --delta-from"},
	};
	char *image = path_in("img"), *out = path_in("refused.upd");
	assert_int_equal(tu_write_file(image, "x", 1), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct bundle_create_opts o = {.image = image, .version = "1", .compatible = "b",
					       .key = fx.key, .output = out, .format = bad[i].format,
					       .frame_size = bad[i].frame,
					       .security_version = bad[i].sv};
		struct error e = {0};
		assert_int_equal(bundle_create(&o, &e), -EINVAL);
		assert_int_equal(e.exit, UPD_EXIT_USAGE);
		if (!strstr(e.msg, bad[i].msg))
			fail_msg("case %zu: %s", i, e.msg);
		assert_int_equal(access(out, F_OK), -1);
	}
	free(image), free(out);
}

/* bundle_index_fetch reads the section from a source: the whole file, and
 * a file cut inside the index (refused as truncated, nothing kept). */
static void test_index_fetch(void **state)
{
	(void)state;
	struct bundle b;
	struct bundle_index ix;
	struct error e = {0};
	uint8_t *img;
	char *cut = path_in("cut.upd"), *whole = path_in("b.upd");
	struct source_opts o = {.location = whole};

	create(100000, 0, 4096, 0, &b, &img);
	assert_int_equal(bundle_index_fetch(&o, &b.h, &ix, &e), 0);
	assert_true(ix.nblocks == 25 && ix.nframes == 25);
	bundle_index_free(&ix);
	assert_int_equal(tu_write_file(cut, (const char *)b.file,
				       (size_t)(b.h.index_offset + b.h.manifest.index_size / 2)),
			 0);
	o.location = cut;
	assert_int_equal(bundle_index_fetch(&o, &b.h, &ix, &e), -ENODATA);
	assert_int_equal(e.exit, UPD_EXIT_VERIFY);
	assert_null(ix.hashes);
	assert_null(ix.frame_offset);
	bundle_free(&b);
	free(img), free(cut), free(whole);
}

/* The index bytes that came with the head's read are used, not fetched
 * again, and are checked like fetched ones; a part of them is completed
 * from the source. */
static void test_index_from_head_read(void **state)
{
	(void)state;
	struct bundle b;
	struct bundle_head h;
	struct bundle_index ix;
	struct error e = {0};
	uint8_t *img;
	char *head_only = path_in("head.upd"), *whole = path_in("b.upd");
	struct source_opts o = {.location = whole}, ho = {.location = head_only};

	create(100000, 0, 4096, 0, &b, &img);
	assert_int_equal(image_head_read(&o, &h, &e), 0);
	assert_int_equal(h.index_start_len, h.manifest.index_size);
	assert_memory_equal(h.index_start, b.file + h.index_offset, h.index_start_len);
	assert_int_equal(tu_write_file(head_only, (const char *)b.file, (size_t)h.index_offset), 0);
	assert_int_equal(bundle_index_fetch(&ho, &h, &ix, &e), 0);
	assert_true(ix.nblocks == 25 && ix.nframes == 25);
	bundle_index_free(&ix);

	h.index_start[h.index_start_len - 1] ^= 1;
	assert_int_equal(bundle_index_fetch(&o, &h, &ix, &e), -EBADMSG);
	assert_int_equal(e.exit, UPD_EXIT_VERIFY);
	h.index_start[h.index_start_len - 1] ^= 1;

	h.index_start_len = 10;
	assert_int_equal(bundle_index_fetch(&o, &h, &ix, &e), 0);
	assert_true(ix.nblocks == 25 && ix.nframes == 25);
	bundle_index_free(&ix);
	assert_int_equal(bundle_index_fetch(&ho, &h, &ix, &e), -ENODATA);
	bundle_head_free(&h);
	bundle_free(&b);
	free(img), free(head_only), free(whole);
}

/* ---- hostile index ------------------------------------------------------ */

/* A manifest and its index section made here, so that each test can break
 * one thing and re-sign (recompute index-sha256) the rest. */
struct fake {
	struct manifest m;
	uint8_t raw[4 * 3 + 16 * 9];
	size_t raw_len;
	uint8_t stored[16384];
	size_t stored_len;
};

static void fake_seal(struct fake *f)
{
	f->stored_len = tu_index_seal(f->raw, f->raw_len, f->stored, sizeof(f->stored), &f->m);
}

/* 9 blocks (36000 bytes) in 3 frames of 16 KiB, of 100, 200 and 50 bytes. */
static void fake_init(struct fake *f)
{
	memset(f, 0, sizeof(*f));
	f->m = (struct manifest){.format = 3, .image_size = 36000, .payload_size = 350,
				 .block_size = 4096, .frame_size = 16384, .zstd_window_log = 14};
	const uint32_t sizes[3] = {100, 200, 50};
	for (int i = 0; i < 3; i++)
		for (int k = 0; k < 4; k++)
			f->raw[4 * i + k] = (uint8_t)(sizes[i] >> (8 * k));
	for (int i = 0; i < 16 * 9; i++)
		f->raw[12 + i] = (uint8_t)(i * 7);
	f->raw_len = sizeof(f->raw);
	fake_seal(f);
}

static void expect_refused(const struct fake *f, size_t len, const char *msg)
{
	tu_index_refused(f->stored, len, &f->m, msg);
}

static void set_size(struct fake *f, int frame, uint32_t v)
{
	for (int k = 0; k < 4; k++)
		f->raw[4 * frame + k] = (uint8_t)(v >> (8 * k));
}

static void test_index_parse_good(void **state)
{
	(void)state;
	struct fake f;
	struct bundle_index ix;
	struct error e = {0};

	fake_init(&f);
	assert_int_equal(bundle_index_parse(f.stored, f.stored_len, &f.m, &ix, &e), 0);
	assert_true(ix.nblocks == 9 && ix.nframes == 3);
	assert_true(ix.frame_offset[0] == 0 && ix.frame_offset[1] == 100 &&
		    ix.frame_offset[2] == 300 && ix.frame_offset[3] == 350);
	assert_memory_equal(ix.hashes, f.raw + 12, 16 * 9);
	assert_int_equal(bundle_index_frame_of(&ix, 3), 0);
	assert_int_equal(bundle_index_frame_of(&ix, 4), 1);
	assert_int_equal(bundle_index_frame_of(&ix, 8), 2);
	bundle_index_free(&ix);
	bundle_index_free(NULL);
}

/* Frame sizes whose offsets do not increase (an empty frame), run past the
 * payload or fall short of it, or are larger than any frame of 16 KiB
 * compresses to: each refused with its message. */
static void expect_frame_sizes_refused(void)
{
	static const struct {
		int frame;
		uint32_t size;
		const char *msg;
	} bad[] = {
		{ 1, 0, "frame 1 has 0 compressed bytes" },
		{ 1, 250, "frame 2 ends at 400, past the payload's 350 bytes" },
		{ 2, 20, "frames end at 320, the payload has 350 bytes" },
		{ 0, UINT32_MAX, "frame 0 has 4294967295 compressed bytes, outside 1.." },
	};
	struct fake f;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		fake_init(&f);
		set_size(&f, bad[i].frame, bad[i].size);
		fake_seal(&f);
		expect_refused(&f, f.stored_len, bad[i].msg);
	}
}

static void test_index_hostile(void **state)
{
	(void)state;
	struct fake f;

	fake_init(&f);
	f.stored[f.stored_len / 2] ^= 1; /* not what was signed */
	expect_refused(&f, f.stored_len, "sha256 does not match the manifest's index-sha256");
	fake_init(&f);
	expect_refused(&f, f.stored_len - 1, "bytes, the manifest's index-size says");
	fake_init(&f);
	f.m.format = 2;
	expect_refused(&f, f.stored_len, "the manifest's format has no index");
	/* counts: one frame entry missing, one block too many */
	fake_init(&f);
	f.raw_len -= 4;
	fake_seal(&f);
	expect_refused(&f, f.stored_len, "decodes to 152 bytes, the manifest implies 156");
	fake_init(&f);
	f.m.image_size = 36864 + 1; /* 10 blocks */
	fake_seal(&f);
	expect_refused(&f, f.stored_len, "the manifest implies 172");
	expect_frame_sizes_refused();
	/* not one zstd frame: garbage, two frames */
	fake_init(&f);
	memset(f.stored, 'A', f.stored_len);
	SHA256(f.stored, f.stored_len, f.m.index_sha256);
	expect_refused(&f, f.stored_len, "not one zstd frame");
	fake_init(&f);
	memcpy(f.stored + f.stored_len, f.stored, f.stored_len);
	f.stored_len *= 2;
	f.m.index_size = f.stored_len;
	SHA256(f.stored, f.stored_len, f.m.index_sha256);
	expect_refused(&f, f.stored_len, "not one zstd frame");
}

/* A bomb: a few hundred bytes that decode to 64 MiB. Refused from its
 * frame header, before any allocation of its size; one that hides its size
 * (streamed, no content size) is refused the same way. */
static void test_index_bomb(void **state)
{
	(void)state;
	struct fake f;
	size_t big = 64u << 20;
	uint8_t *zeros = calloc(1, big), *dst = malloc(ZSTD_compressBound(big));
	ZSTD_CCtx *c = ZSTD_createCCtx();

	fake_init(&f);
	size_t n = ZSTD_compress(dst, ZSTD_compressBound(big), zeros, big, 1);
	assert_true(!ZSTD_isError(n) && n < sizeof(f.stored));
	memcpy(f.stored, dst, n);
	f.stored_len = f.m.index_size = n;
	SHA256(f.stored, n, f.m.index_sha256);
	expect_refused(&f, n, "decodes to 67108864 bytes, the manifest implies 156");

	ZSTD_inBuffer in = {zeros, big, 0};
	ZSTD_outBuffer out = {dst, ZSTD_compressBound(big), 0};
	ZSTD_CCtx_setParameter(c, ZSTD_c_contentSizeFlag, 0);
	while (ZSTD_compressStream2(c, &out, &in, ZSTD_e_end) != 0)
		;
	assert_true(out.pos < sizeof(f.stored));
	memcpy(f.stored, dst, out.pos);
	f.stored_len = f.m.index_size = out.pos;
	SHA256(f.stored, out.pos, f.m.index_sha256);
	expect_refused(&f, out.pos, "the manifest implies 156");
	ZSTD_freeCCtx(c);
	free(zeros), free(dst);
}

/* The manifest bounds format 3's sizes before any index is read. */
static void test_manifest_format3(void **state)
{
	(void)state;
	static const char *const base =
		"format=3\nversion=1\ncompatible=b\nsecurity-version=0\ncompression=zstd\n"
		"image-size=%s\nimage-sha256=%064d\npayload-size=9\npayload-sha256=%064d\n"
		"zstd-window-log=16\nblock-size=%s\nframe-size=%s\nindex-size=%s\n"
		"index-sha256=%064d\n";
	static const char *const cases[][5] = {
		/* image, block, frame, index size, error (NULL: accepted) */
		{"1048576", "4096", "65536", "4000", NULL},
		{"1048576", "8192", "65536", "4000", "block-size 8192 is not supported (only 4096)"},
		{"1048576", "4096", "65537", "4000", "frame-size 65537 is not a multiple"},
		{"1048576", "4096", "0", "4000", "frame-size 0 is not a multiple"},
		{"1048576", "4096", "16777216", "4000", "frame-size 16777216 is not a multiple"},
		{"1048576", "4096", "65536", "0", "index-size 0 outside 1.."},
		{"1048576", "4096", "65536", "999999", "index-size 999999 outside 1..4"},
		{"18446744073709551615", "4096", "65536", "10", "is too large for an index"},
		{"1048576", "4096", "4294967296", "10", "frame-size is too large"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char t[1024];
		struct manifest m;
		struct error e = {0};
		snprintf(t, sizeof(t), base, cases[i][0], 0, 0, cases[i][1], cases[i][2],
			 cases[i][3], 0);
		int r = manifest_parse(t, strlen(t), &m, &e);
		if (!cases[i][4]) {
			assert_int_equal(r, 0);
			char *again = manifest_format(&m);
			assert_string_equal(again, t);
			free(again);
			continue;
		}
		/* (-EBADMSG for every refusal: the parser's contract, which the
		 * manifest fuzz target checks) */
		if (r != -EBADMSG || e.exit != UPD_EXIT_VERIFY || !strstr(e.msg, cases[i][4]))
			fail_msg("case %zu: want %s (-EBADMSG), got %d: %s", i, cases[i][4], r,
				 e.msg);
	}
	/* The keys of format 3 are refused in older formats, and required in it. */
	struct manifest m;
	struct error e = {0};
	const char *t2 = "format=2\nversion=1\ncompatible=b\nsecurity-version=0\ncompression=zstd\n"
			 "image-size=1\nimage-sha256=" "0000000000000000000000000000000000000000"
			 "000000000000000000000000\npayload-size=9\npayload-sha256="
			 "0000000000000000000000000000000000000000000000000000000000000000\n"
			 "zstd-window-log=16\nframe-size=65536\n";
	assert_int_equal(manifest_parse(t2, strlen(t2), &m, &e), -EBADMSG);
	assert_non_null(strstr(e.msg, "frame-size needs format 3 (this one says 2)"));
	char t3[1024];
	snprintf(t3, sizeof(t3), "%s", t2);
	memcpy(t3, "format=3", 8);
	err_clear(&e);
	assert_int_equal(manifest_parse(t3, strlen(t3), &m, &e), -EBADMSG);
	assert_non_null(strstr(e.msg, "missing key block-size"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_format3),
		cmocka_unit_test(test_roundtrip_old_formats),
		cmocka_unit_test(test_create_refuses),
		cmocka_unit_test(test_index_fetch),
		cmocka_unit_test(test_index_from_head_read),
		cmocka_unit_test(test_index_parse_good),
		cmocka_unit_test(test_index_hostile),
		cmocka_unit_test(test_index_bomb),
		cmocka_unit_test(test_manifest_format3),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

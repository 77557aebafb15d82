/* Bundle formats 4 and 5, a static delta: bundle_create with delta_from read
 * back (the exact ops; every frame decoded with the source as prefix, and in
 * format 5 the new image's blocks before it, as a device does; the ops
 * applied give the new image byte for byte), the zigzag ops, and a hostile
 * index or manifest refused with its cause. */
#include "testutil.h"
#include "tu_index.h"
#include "tu_keys.h"

#define ZSTD_STATIC_LINKING_ONLY /* ZSTD_getFrameHeader */
#include <errno.h>
#include <inttypes.h>

#include <openssl/sha.h>
#include <zstd.h>

#include "../../bundle/bundle.h"
#include "../../bundle/create.h"
#include "../../bundle/index.h"

#define BS 4096
#define OLD_BLOCKS 48
#define OLD_SIZE (OLD_BLOCKS * BS + 100) /* a partial last source block */
#define NEW_BLOCKS 40
#define NEW_SIZE ((NEW_BLOCKS - 1) * BS + 1000) /* a short last block */

static struct tu_signer fx;
TU_SIGNER_GROUP(fx)

static void fill_random(uint8_t *p, size_t n, uint32_t seed)
{
	uint32_t x = seed * 2654435761u + 1;

	for (size_t i = 0; i < n; i++) {
		x ^= x << 13, x ^= x >> 17, x ^= x << 5;
		p[i] = (uint8_t)x;
	}
}

/* OLD: random blocks, block 7 all zeros, and a 100-byte tail. NEW: what an
 * update does to it; ops[] what the creator must say for each block. */
static void make_images(uint8_t *old, uint8_t *img, uint32_t *ops)
{
	fill_random(old, OLD_SIZE, 1);
	memset(old + 7 * BS, 0, BS);
	memset(img, 0, NEW_BLOCKS * BS);
	for (int i = 0; i < NEW_BLOCKS; i++) {
		memcpy(img + i * BS, old + i * BS, BS); /* unchanged */
		ops[i] = i == 7 ? BUNDLE_OP_ZERO : bundle_op_copy((uint64_t)i, (uint64_t)i);
	}
	memcpy(img + 3 * BS, old + 30 * BS, BS); /* moved forward: block 30 to 3 */
	ops[3] = bundle_op_copy(30, 3);
	memcpy(img + 33 * BS, old + 2 * BS, BS); /* moved back: block 2 to 33 */
	ops[33] = bundle_op_copy(2, 33);
	memcpy(img + 34 * BS, old + 40 * BS, BS); /* past the new image's end */
	ops[34] = bundle_op_copy(40, 34);
	memset(img + 10 * BS, 0, 2 * BS); /* zeroed */
	ops[10] = ops[11] = BUNDLE_OP_ZERO;
	for (int i = 20; i < 25; i++) { /* changed */
		fill_random(img + i * BS, BS, 100 + (uint32_t)i);
		ops[i] = BUNDLE_OP_DATA;
	}
	img[12 * BS + 5] ^= 1; /* one byte changed */
	ops[12] = BUNDLE_OP_DATA;
	/* the source's partial block, padded: no copy of a partial block */
	memset(img + 26 * BS, 0, BS);
	memcpy(img + 26 * BS, old + OLD_BLOCKS * BS, 100);
	ops[26] = BUNDLE_OP_DATA;
	fill_random(img + (NEW_BLOCKS - 1) * BS, 1000, 7); /* short, changed */
	memset(img + NEW_SIZE, 0, NEW_BLOCKS * BS - NEW_SIZE);
	ops[NEW_BLOCKS - 1] = BUNDLE_OP_DATA;
}

static int create_full(const char *image, const char *out, const uint8_t *data, size_t n)
{
	struct bundle_create_opts o = {.image = image, .version = "1.0", .compatible = "board",
				       .key = fx.key, .output = out, .security_version = 2};
	struct error e = {0};

	assert_int_equal(tu_write_file(image, (const char *)data, n), 0);
	int r = bundle_create(&o, &e);
	if (r < 0)
		fail_msg("bundle_create: %s", e.msg);
	return r;
}

static int create_delta(const char *from, const char *image, const char *out, int format,
			struct error *e)
{
	struct bundle_create_opts o = {.image = image, .version = "2.0", .compatible = "board",
				       .key = fx.key, .output = out, .security_version = 2,
				       .delta_from = from, .frame_size = 2 * BS, .format = format};
	return bundle_create(&o, e);
}

/* Frame f decoded as a device does it: streaming, the source as prefix,
 * the manifest's window; its hash checked against the index. */
static size_t decode_frame(const uint8_t *pay, const struct bundle_index *ix, uint64_t f,
			   const struct manifest *m, const uint8_t *old, uint8_t *out)
{
	ZSTD_DCtx *d = ZSTD_createDCtx();
	ZSTD_inBuffer in = {pay + ix->frame_offset[f],
			    ix->frame_offset[f + 1] - ix->frame_offset[f], 0};
	ZSTD_outBuffer o = {out, ix->frame_size, 0};
	size_t left = 1;
	ZSTD_frameHeader zh;

	/* Its own window is the frame (a device buffers no more than that): the
	 * source, as prefix, lies outside it. */
	assert_int_equal(ZSTD_getFrameHeader(&zh, in.src, in.size), 0);
	assert_true(zh.windowSize <= ix->frame_size && zh.frameContentSize <= ix->frame_size);
	assert_false(ZSTD_isError(ZSTD_DCtx_setParameter(d, ZSTD_d_windowLogMax,
							 m->zstd_window_log)));
	assert_false(ZSTD_isError(ZSTD_DCtx_refPrefix(d, old, m->delta_source_size)));
	while (left != 0 && (in.pos < in.size || o.pos < o.size)) {
		left = ZSTD_decompressStream(d, &o, &in);
		assert_false(ZSTD_isError(left));
		if (in.pos == in.size && left != 0 && o.pos < o.size)
			fail_msg("frame %" PRIu64 " ends early", f);
	}
	assert_int_equal(left, 0);
	assert_true(bundle_index_frame_matches_with(NULL, ix, f, out, o.pos));
	out[0] ^= 1;
	assert_false(bundle_index_frame_matches_with(NULL, ix, f, out, o.pos));
	out[0] ^= 1;
	ZSTD_freeDCtx(d);
	return o.pos;
}

/* The ops applied to OLD with the decoded data: the new image. */
static uint8_t *apply(const struct bundle_index *ix, const uint8_t *data, const uint8_t *old,
		      size_t image_size)
{
	uint8_t *img = calloc(1, ix->nblocks * BS + 1);
	size_t at = 0;

	for (uint64_t i = 0; i < ix->nblocks; i++) {
		size_t len = image_size - i * BS < BS ? image_size - i * BS : BS;
		uint32_t op = ix->ops[i];
		if (op == BUNDLE_OP_DATA) {
			memcpy(img + i * BS, data + at, len);
			at += len;
		} else if (op != BUNDLE_OP_ZERO) {
			memcpy(img + i * BS, old + bundle_op_source(op, i) * BS, len);
		}
	}
	return img;
}

struct made {
	uint8_t old[OLD_SIZE], img[NEW_BLOCKS * BS];
	uint32_t ops[NEW_BLOCKS];
	char *old_path, *out;
};

static void made_init(struct made *mk)
{
	char *image = path_in("old.img"), *newimg = path_in("new.img");

	make_images(mk->old, mk->img, mk->ops);
	mk->old_path = path_in("old.upd");
	uint8_t sha[32];
	char name[64];
	SHA256(mk->old, OLD_SIZE, sha);
	int n = snprintf(name, sizeof(name), "new.upd.from-");
	for (int i = 0; i < 8; i++)
		n += snprintf(name + n, sizeof(name) - (size_t)n, "%02x", sha[i]);
	mk->out = path_in(name); /* the name devices ask for: no warning */
	unlink(mk->out); /* an earlier test's */
	create_full(image, mk->old_path, mk->old, OLD_SIZE);
	assert_int_equal(tu_write_file(newimg, (const char *)mk->img, NEW_SIZE), 0);
	free(image), free(newimg);
}

static void made_free(struct made *mk)
{
	free(mk->old_path), free(mk->out);
}

static void check_delta(const struct made *mk, const uint8_t *file, size_t len, int format)
{
	struct bundle_head h;
	struct bundle_index ix;
	struct error e = {0};
	size_t need = 0;
	uint8_t sha[32];

	assert_int_equal(bundle_head_parse(file, len, &h, &need, &e), 0);
	const struct manifest *m = &h.manifest;
	assert_int_equal(m->format, format);
	assert_true(m->image_size == NEW_SIZE && m->delta_source_size == OLD_SIZE);
	SHA256(mk->old, OLD_SIZE, sha);
	assert_memory_equal(m->delta_source_sha256, sha, 32);
	assert_true(m->delta_data_size == 7 * BS + 1000 && m->frame_size == 2 * BS);
	/* the window: source + frame rounded up to a power of two */
	assert_int_equal(m->zstd_window_log, 18);
	assert_int_equal(bundle_index_parse(file + h.index_offset, m->index_size, m, &ix, &e), 0);
	assert_true(ix.format == format && ix.hashes == NULL && ix.nblocks == NEW_BLOCKS);
	assert_true(ix.nframes == 4 && ix.ndata == 8);
	/* A source with a partial last block: no frame takes the new image's
	 * blocks into its prefix (they could not be mapped right after it). */
	for (uint64_t f = 0; format == 5 && f < ix.nframes; f++)
		assert_int_equal(ix.prefix_blocks[f], 0);
	assert_true(format == 5 || ix.prefix_blocks == NULL);
	for (int i = 0; i < NEW_BLOCKS; i++)
		if (ix.ops[i] != mk->ops[i])
			fail_msg("block %d: op %" PRIu32 ", want %" PRIu32, i, ix.ops[i], mk->ops[i]);
	assert_true(h.payload_offset + m->payload_size == len);
	uint8_t *data = malloc(m->delta_data_size), *frame = malloc(ix.frame_size);
	size_t at = 0;
	for (uint64_t f = 0; f < ix.nframes; f++) {
		size_t n = decode_frame(file + h.payload_offset, &ix, f, m, mk->old, frame);
		assert_true(at + n <= m->delta_data_size);
		memcpy(data + at, frame, n);
		at += n;
	}
	assert_true(at == m->delta_data_size);
	uint8_t *img = apply(&ix, data, mk->old, NEW_SIZE);
	assert_memory_equal(img, mk->img, NEW_SIZE);
	SHA256(img, NEW_SIZE, sha);
	assert_memory_equal(m->image_sha256, sha, 32);
	free(img), free(data), free(frame);
	bundle_index_free(&ix);
	assert_null(ix.ops);
	bundle_head_free(&h);
}

static void test_delta_roundtrip(void **state)
{
	(void)state;
	struct made *mk = malloc(sizeof(*mk));
	char *newimg = path_in("new.img");
	struct error e = {0};
	size_t len = 0;

	made_init(mk);
	for (int format = 4; format <= 5; format++) {
		err_clear(&e);
		/* 0: the default, format 5 */
		if (create_delta(mk->old_path, newimg, mk->out, format == 4 ? 4 : 0, &e) < 0)
			fail_msg("delta: %s", e.msg);
		uint8_t *file = (uint8_t *)tu_read_file(mk->out, &len);
		assert_non_null(file);
		check_delta(mk, file, len, format);
		free(file);
	}
	free(newimg);
	made_free(mk);
	free(mk);
}

/* Format 5, a source of whole blocks: the same two blocks of new data at
 * blocks 4 and 10 (frames of two blocks). Frame 1 takes the new image's
 * first 10 blocks into its prefix and is a fraction of frame 0; decoded with
 * the source and those blocks as its prefix it gives the data, with the
 * source alone it does not. Frame 0 (random data) is no smaller with its 4
 * blocks of prefix than against the source alone: kept with none. */
#define G_BLOCKS 16
static void decode_grown(const uint8_t *file, const struct bundle_head *h,
			 const struct bundle_index *ix, const uint8_t *prefix, size_t plen,
			 uint8_t *out, size_t *got)
{
	const uint8_t *pay = file + h->payload_offset;
	ZSTD_DCtx *d = ZSTD_createDCtx();

	assert_false(ZSTD_isError(ZSTD_DCtx_setParameter(d, ZSTD_d_windowLogMax,
							 h->manifest.zstd_window_log)));
	assert_false(ZSTD_isError(ZSTD_DCtx_refPrefix(d, prefix, plen)));
	*got = ZSTD_decompressDCtx(d, out, 2 * BS, pay + ix->frame_offset[1],
				   ix->frame_offset[2] - ix->frame_offset[1]);
	ZSTD_freeDCtx(d);
}

static void test_delta_grown(void **state)
{
	(void)state;
	uint8_t *pre = malloc(2 * G_BLOCKS * BS), *out = malloc(2 * BS), *file;
	uint8_t *old = pre, *img = pre + G_BLOCKS * BS;
	char *oi = path_in("g-old.img"), *ni = path_in("g-new.img"), *ou = path_in("g-old.upd");
	char *dl = path_in("g.upd");
	struct error e = {0};
	struct bundle_head h;
	struct bundle_index ix;
	size_t len = 0, need = 0, got = 0;

	fill_random(old, G_BLOCKS * BS, 3);
	memcpy(img, old, G_BLOCKS * BS);
	fill_random(img + 4 * BS, 2 * BS, 9);
	memcpy(img + 10 * BS, img + 4 * BS, 2 * BS);
	assert_int_equal(create_full(oi, ou, old, G_BLOCKS * BS), 0);
	assert_int_equal(tu_write_file(ni, (const char *)img, G_BLOCKS * BS), 0);
	if (create_delta(ou, ni, dl, 5, &e) < 0)
		fail_msg("delta: %s", e.msg);
	assert_non_null(file = (uint8_t *)tu_read_file(dl, &len));
	assert_int_equal(bundle_head_parse(file, len, &h, &need, &e), 0);
	assert_int_equal(h.manifest.format, 5);
	assert_int_equal(bundle_index_parse(file + h.index_offset, h.manifest.index_size,
					    &h.manifest, &ix, &e), 0);
	assert_true(ix.nframes == 2 && ix.prefix_blocks[0] == 0 && ix.prefix_blocks[1] == 10);
	assert_true(ix.frame_first[0] == 4 && ix.frame_first[1] == 10);
	assert_true((ix.frame_offset[2] - ix.frame_offset[1]) * 10 < ix.frame_offset[1]);
	decode_grown(file, &h, &ix, pre, (G_BLOCKS + 10) * BS, out, &got);
	assert_int_equal(got, 2 * BS);
	assert_memory_equal(out, img + 10 * BS, 2 * BS);
	assert_true(bundle_index_frame_matches_with(NULL, &ix, 1, out, got));
	decode_grown(file, &h, &ix, pre, G_BLOCKS * BS, out, &got);
	assert_true(ZSTD_isError(got) || memcmp(out, img + 10 * BS, 2 * BS) != 0);
	bundle_index_free(&ix);
	bundle_head_free(&h);
	free(file), free(pre), free(out), free(oi), free(ni), free(ou), free(dl);
}

/* A tampered source bundle, a source that is itself a delta, and a format
 * other than 4 are refused, with no output and no temp file left. */
static void test_delta_refused(void **state)
{
	(void)state;
	struct made *mk = malloc(sizeof(*mk));
	char *newimg = path_in("new.img"), *bad = path_in("tampered.upd");
	struct error e = {0};
	size_t len = 0;

	made_init(mk);
	assert_int_equal(create_delta(mk->old_path, newimg, mk->out, 3, &e), -EINVAL);
	assert_int_equal(e.exit, UPD_EXIT_USAGE);
	assert_non_null(strstr(e.msg, "--delta-from makes format 4 or 5"));
	/* the default format reads the image whole: not from a stream */
	err_clear(&e);
	assert_int_equal(create_delta(mk->old_path, "/dev/null", mk->out, 0, &e), -EINVAL);
	assert_int_equal(e.exit, UPD_EXIT_USAGE);
	if (!strstr(e.msg, "/dev/null") || !strstr(e.msg, "--format 4 reads a stream"))
		fail_msg("%s", e.msg);
	assert_int_equal(access(mk->out, F_OK), -1);
	uint8_t *file = (uint8_t *)tu_read_file(mk->old_path, &len);
	file[len - 10] ^= 0x40; /* inside the payload's last frame */
	assert_int_equal(tu_write_file(bad, (const char *)file, len), 0);
	err_clear(&e);
	assert_true(create_delta(bad, newimg, mk->out, 0, &e) < 0);
	assert_int_equal(e.exit, UPD_EXIT_VERIFY);
	if (!strstr(e.msg, "delta source") || !strstr(e.msg, "tampered.upd"))
		fail_msg("%s", e.msg);
	assert_int_equal(access(mk->out, F_OK), -1);
	/* a delta is no source */
	err_clear(&e);
	assert_int_equal(create_delta(mk->old_path, newimg, mk->out, 0, &e), 0);
	char *second = path_in("second.upd");
	err_clear(&e);
	assert_true(create_delta(mk->out, newimg, second, 0, &e) < 0);
	assert_non_null(strstr(e.msg, "is itself a static delta"));
	assert_int_equal(access(second, F_OK), -1);
	char *cmd = NULL;
	assert_true(asprintf(&cmd, "ls '%s' | grep -q -e '\\.tmp' -e payload-", fx.dir) > 0);
	assert_int_not_equal(system(cmd), 0);
	free(cmd), free(second), free(file), free(newimg), free(bad);
	made_free(mk);
	free(mk);
}

static void test_delta_cli(void **state)
{
	(void)state;
	char *argv[] = {"create", "--delta-from", "old.upd", "--format", "3", "--image", "x",
			"--version", "1", "--compatible", "b", "--key", "k", "--output", "o", NULL};
	struct error e = {0};

	assert_int_equal(bundle_create_cmd(15, argv, &e), UPD_EXIT_USAGE);
	assert_non_null(strstr(e.msg, "--delta-from makes a static delta"));
}

static void test_ops(void **state)
{
	(void)state;
	assert_int_equal(bundle_op_copy(5, 5), 2);
	assert_int_equal(bundle_op_copy(6, 5), 4);
	assert_int_equal(bundle_op_copy(4, 5), 3);
	assert_int_equal(bundle_op_copy(0, 3), 7);
	for (uint64_t i = 0; i < 300; i += 7)
		for (uint64_t s = 0; s < 300; s += 5)
			assert_true(bundle_op_source(bundle_op_copy(s, i), i) == s);
	assert_true(bundle_op_source(BUNDLE_OP_DATA, 3) == UINT64_MAX);
	assert_true(bundle_op_source(BUNDLE_OP_ZERO, 3) == UINT64_MAX);
	assert_true(bundle_op_source(bundle_op_copy(0, 3), 2) == UINT64_MAX); /* before 0 */
	assert_true(bundle_op_source(UINT32_MAX - 1, 10) == 10 + (1ull << 31) - 2);
	assert_true(bundle_op_source(UINT32_MAX, 1u << 22) == UINT64_MAX);
}

/* ---- hostile index ------------------------------------------------------ */

/* 5 blocks (4 * 4096 + 100): copy, data, zero, copy, data (100 bytes); the
 * source 3 whole blocks and 10 bytes; one frame of 50 bytes. */
struct fake {
	struct manifest m;
	uint8_t raw[4 + 16 + 4 * 5];
	size_t raw_len;
	uint8_t stored[1024];
	size_t stored_len;
};

static void fake_seal(struct fake *f)
{
	f->stored_len = tu_index_seal(f->raw, f->raw_len, f->stored, sizeof(f->stored), &f->m);
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int k = 0; k < 4; k++)
		p[k] = (uint8_t)(v >> (8 * k));
}

static void set_op(struct fake *f, int i, uint32_t op)
{
	put32(f->raw + 20 + 4 * i, op);
}

static void fake_init(struct fake *f)
{
	memset(f, 0, sizeof(*f));
	f->m = (struct manifest){.format = 4, .image_size = 4 * BS + 100, .payload_size = 50,
				 .block_size = BS, .frame_size = 2 * BS, .zstd_window_log = 15,
				 .delta_source_size = 3 * BS + 10, .delta_data_size = BS + 100};
	put32(f->raw, 50);
	for (int i = 0; i < 16; i++)
		f->raw[4 + i] = (uint8_t)(i * 11);
	const uint32_t ops[5] = {bundle_op_copy(0, 0), BUNDLE_OP_DATA, BUNDLE_OP_ZERO,
				 bundle_op_copy(2, 3), BUNDLE_OP_DATA};
	for (int i = 0; i < 5; i++)
		set_op(f, i, ops[i]);
	f->raw_len = sizeof(f->raw);
	fake_seal(f);
}

static void expect_refused(const struct fake *f, size_t len, const char *msg)
{
	tu_index_refused(f->stored, len, &f->m, msg);
}

static void test_index_good(void **state)
{
	(void)state;
	struct fake f;
	struct bundle_index ix;
	struct error e = {0};
	uint64_t raw = 0, nb, nf;

	fake_init(&f);
	assert_int_equal(bundle_index_raw_size(&f.m, &raw), 0);
	assert_true(raw == sizeof(f.raw));
	bundle_index_counts(&f.m, &nb, &nf);
	assert_true(nb == 5 && nf == 1);
	assert_int_equal(bundle_index_parse(f.stored, f.stored_len, &f.m, &ix, &e), 0);
	assert_true(ix.format == 4 && ix.nblocks == 5 && ix.nframes == 1 && ix.ndata == 2);
	assert_true(ix.frame_offset[0] == 0 && ix.frame_offset[1] == 50 && ix.hashes == NULL);
	assert_memory_equal(ix.frame_hashes, f.raw + 4, 16);
	assert_true(ix.ops[2] == BUNDLE_OP_ZERO && bundle_op_source(ix.ops[3], 3) == 2);
	assert_int_equal(ix.frame_first[0], 1); /* blocks 1 and 4 are data */
	uint8_t block[BS] = {0};
	assert_false(bundle_index_block_matches(&ix, 0, block)); /* no block hashes */
	assert_false(bundle_index_frame_matches_with(NULL, &ix, 1, block, 10));
	bundle_index_free(&ix);
	/* no data at all: no frame, an empty payload */
	fake_init(&f);
	f.m.delta_data_size = 0, f.m.payload_size = 0;
	set_op(&f, 1, BUNDLE_OP_ZERO), set_op(&f, 4, BUNDLE_OP_ZERO);
	memmove(f.raw, f.raw + 20, 20);
	f.raw_len = 20;
	fake_seal(&f);
	assert_int_equal(bundle_index_parse(f.stored, f.stored_len, &f.m, &ix, &e), 0);
	assert_true(ix.nframes == 0 && ix.ndata == 0 && ix.frame_offset[0] == 0);
	bundle_index_free(&ix);
}

static void test_index_hostile(void **state)
{
	(void)state;
	struct fake f;

	fake_init(&f);
	set_op(&f, 3, bundle_op_copy(3, 3)); /* the source's partial block */
	fake_seal(&f);
	expect_refused(&f, f.stored_len, "block 3 copies a block outside the source's 3 whole");
	fake_init(&f);
	set_op(&f, 0, bundle_op_copy(0, 4) /* s = -4 at i = 0 */);
	fake_seal(&f);
	expect_refused(&f, f.stored_len, "block 0 copies a block outside");
	fake_init(&f);
	set_op(&f, 2, BUNDLE_OP_DATA);
	fake_seal(&f);
	expect_refused(&f, f.stored_len, "the data blocks hold 8292 bytes, the manifest's "
					 "delta-data-size says 4196");
	fake_init(&f);
	put32(f.raw, 40);
	fake_seal(&f);
	expect_refused(&f, f.stored_len, "frames end at 40, the payload has 50 bytes");
	fake_init(&f);
	put32(f.raw, 0);
	fake_seal(&f);
	expect_refused(&f, f.stored_len, "frame 0 has 0 compressed bytes");
	fake_init(&f);
	expect_refused(&f, f.stored_len - 1, "the manifest's index-size says");
	fake_init(&f);
	f.stored[f.stored_len - 2] ^= 1;
	expect_refused(&f, f.stored_len, "sha256 does not match");
	fake_init(&f);
	f.raw_len -= 4; /* an op missing */
	fake_seal(&f);
	expect_refused(&f, f.stored_len, "decodes to 36 bytes, the manifest implies 40");
	/* (not one zstd frame: the same decoder as format 3's, test_bundle_index) */
}

/* Format 5: the prefix counts after the ops. 5 blocks: copy, zero, copy,
 * data, data (100 bytes); a source of 3 whole blocks; one frame of 4 blocks
 * (first data block 3); a window of 2^15: source + frame leave room for one
 * block of the new image. */
struct fake5 {
	struct manifest m;
	uint8_t raw[4 + 16 + 4 * 5 + 4];
	uint8_t stored[1024];
	size_t stored_len;
};

static void fake5_init(struct fake5 *f, uint32_t prefix)
{
	const uint32_t ops[5] = {bundle_op_copy(0, 0), BUNDLE_OP_ZERO, bundle_op_copy(2, 2),
				 BUNDLE_OP_DATA, BUNDLE_OP_DATA};

	memset(f, 0, sizeof(*f));
	f->m = (struct manifest){.format = 5, .image_size = 4 * BS + 100, .payload_size = 50,
				 .block_size = BS, .frame_size = 4 * BS, .zstd_window_log = 15,
				 .delta_source_size = 3 * BS, .delta_data_size = BS + 100};
	put32(f->raw, 50);
	for (int i = 0; i < 5; i++)
		put32(f->raw + 20 + 4 * i, ops[i]);
	put32(f->raw + 40, prefix);
	f->stored_len = tu_index_seal(f->raw, sizeof(f->raw), f->stored, sizeof(f->stored), &f->m);
}

static void test_index_format5(void **state)
{
	(void)state;
	struct fake5 f;
	struct bundle_index ix;
	struct error e = {0};
	uint64_t raw = 0;

	fake5_init(&f, 1);
	assert_int_equal(bundle_index_raw_size(&f.m, &raw), 0);
	assert_true(raw == sizeof(f.raw));
	assert_int_equal(bundle_index_parse(f.stored, f.stored_len, &f.m, &ix, &e), 0);
	assert_true(ix.format == 5 && ix.nframes == 1 && ix.prefix_blocks[0] == 1);
	bundle_index_free(&ix);
	assert_null(ix.prefix_blocks);
	fake5_init(&f, 0);
	f.m.zstd_window_log = 14; /* no room: a source-only prefix needs none */
	f.stored_len = tu_index_seal(f.raw, sizeof(f.raw), f.stored, sizeof(f.stored), &f.m);
	assert_int_equal(bundle_index_parse(f.stored, f.stored_len, &f.m, &ix, &e), 0);
	bundle_index_free(&ix);
	fake5_init(&f, 2);
	tu_index_refused(f.stored, f.stored_len, &f.m,
			 "frame 0's prefix and the frame exceed the window of 2^15 bytes");
	fake5_init(&f, 4);
	f.m.zstd_window_log = 20;
	f.stored_len = tu_index_seal(f.raw, sizeof(f.raw), f.stored, sizeof(f.stored), &f.m);
	tu_index_refused(f.stored, f.stored_len, &f.m,
			 "frame 0's prefix takes 4 blocks of the new image, past its first data "
			 "block 3");
	fake5_init(&f, 1);
	f.m.delta_source_size = 3 * BS + 10;
	f.stored_len = tu_index_seal(f.raw, sizeof(f.raw), f.stored, sizeof(f.stored), &f.m);
	tu_index_refused(f.stored, f.stored_len, &f.m, "after a source that is not whole blocks");
	fake5_init(&f, 1);
	f.m.format = 4; /* the same bytes read as format 4: 4 bytes too many */
	f.stored_len = tu_index_seal(f.raw, sizeof(f.raw), f.stored, sizeof(f.stored), &f.m);
	tu_index_refused(f.stored, f.stored_len, &f.m, "decodes to 44 bytes, the manifest implies 40");
}

/* ---- manifest ----------------------------------------------------------- */

static const char *const head4 =
	"format=%d\nversion=1\ncompatible=b\nsecurity-version=0\ncompression=zstd\n"
	"image-size=1048576\nimage-sha256=%064d\npayload-size=9\npayload-sha256=%064d\n"
	"zstd-window-log=%d\nblock-size=4096\nframe-size=%s\nindex-size=100\n"
	"index-sha256=%064d\n%s";

static void expect_manifest(int format, int wlog, const char *frame, const char *tail,
			    const char *msg)
{
	char t[1024];
	struct manifest m;
	struct error e = {0};

	snprintf(t, sizeof(t), head4, format, 0, 0, wlog, frame, 0, tail);
	int r = manifest_parse(t, strlen(t), &m, &e);
	if (!msg) {
		if (r != 0)
			fail_msg("refused: %s\n%s", e.msg, t);
		char *again = manifest_format(&m);
		assert_string_equal(again, t);
		free(again);
		return;
	}
	if (r != -EBADMSG || e.exit != UPD_EXIT_VERIFY || !strstr(e.msg, msg))
		fail_msg("want %s, got %d: %s", msg, r, e.msg);
}

static void test_manifest_format4(void **state)
{
	(void)state;
	char tail[256];
	const char *src = "delta-source-sha256=" "0123456789abcdef0123456789abcdef"
			  "0123456789abcdef0123456789abcdef\n";
	const char *good = "delta-source-size=1048576\n%sdelta-data-size=%s\n";

	snprintf(tail, sizeof(tail), good, src, "5000");
	expect_manifest(4, 23, "4194304", tail, NULL);
	expect_manifest(5, 23, "4194304", tail, NULL);
	expect_manifest(4, 31, "16777216", tail, NULL);
	expect_manifest(5, 22, "4194304", tail, "zstd-window-log 22 does not hold");
	expect_manifest(6, 23, "4194304", tail, "format 6 is not supported (expected 1..5)");
	expect_manifest(4, 31, "16781312", tail, "frame-size 16781312 is not a multiple");
	expect_manifest(4, 22, "4194304", tail, "zstd-window-log 22 does not hold");
	expect_manifest(4, 32, "4194304", tail, "zstd-window-log 32 outside 10..31");
	expect_manifest(3, 31, "65536", "", "zstd-window-log 31 outside 10..23");
	expect_manifest(3, 23, "65536", tail, "delta-source-size needs format 4 (this one says 3)");
	expect_manifest(4, 23, "4194304", "", "missing key delta-source-size");
	snprintf(tail, sizeof(tail), "delta-source-size=1048576\n%s", src);
	expect_manifest(4, 23, "4194304", tail, "missing key delta-data-size");
	snprintf(tail, sizeof(tail), good, src, "1048577");
	expect_manifest(4, 23, "4194304", tail, "delta-data-size 1048577 exceeds image-size");
	snprintf(tail, sizeof(tail), "delta-source-size=0\n%sdelta-data-size=5\n", src);
	expect_manifest(4, 23, "4194304", tail, "delta-source-size is 0");
	snprintf(tail, sizeof(tail), "delta-source-size=1\ndelta-source-sha256=12\n"
		 "delta-data-size=5\n");
	expect_manifest(4, 23, "4194304", tail, "delta-source-sha256 must be 64 hex digits");
}

TU_MAIN(group_setup, group_teardown, cmocka_unit_test(test_ops),
	cmocka_unit_test(test_delta_roundtrip), cmocka_unit_test(test_delta_grown),
	cmocka_unit_test(test_delta_refused),
	cmocka_unit_test(test_delta_cli), cmocka_unit_test(test_index_good),
	cmocka_unit_test(test_index_hostile), cmocka_unit_test(test_index_format5),
	cmocka_unit_test(test_manifest_format4))

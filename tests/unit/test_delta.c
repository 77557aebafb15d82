/* The dual-bank dynamic delta (backends/dualbank/delta.h) on file-backed
 * slots and a bundle read from a file (the range fetcher's pread path): the
 * image comes out byte for byte from every mix of sources, with the counts
 * of what came from where; a second run moves nothing; a damaged active
 * block is downloaded instead; a corrupt frame is refused. */
#include "testutil.h"
#include "tu_keys.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "../../backends/dualbank/block_hasher.h"
#include "../../backends/dualbank/delta.h"
#include "../../bundle/create.h"

#define BS 4096u
#define FRAME 16384u

static struct tu_signer fx;
TU_SIGNER_GROUP(fx)

/* The old image: random blocks, every fourth one zeros. */
static uint8_t *old_image(size_t n)
{
	return tu_image(n, 99, BS, 4);
}

struct setup {
	char *bundle, *target, *active;
	uint8_t *old, *new_;
	size_t n;
	struct bundle_head h;
	struct bundle_index ix;
	struct source_opts src;
	struct delta_counts c; /* the last run's */
	struct error e;
	bool no_readback; /* --no-readback: the image hashed as the page cache holds it */
	char *medium;     /* what the read-back reads (NULL: the target) */
};

/* old with blocks [first, first + count) replaced by new random data, and
 * block 7 holding what old's block 9 held (a moved block). */
static uint8_t *changed(const uint8_t *old, size_t n, size_t first, size_t count)
{
	uint8_t *img = malloc(n);
	assert_non_null(img);
	memcpy(img, old, n);
	tu_fill_random(img + first * BS, count * BS, 4242);
	memcpy(img + 7 * BS, old + 9 * BS, BS);
	return img;
}

/* A bundle of the new image (format 3, 16 KiB frames) read back: head and
 * index. The new image is the old one changed(first, count), or with count
 * 0 the old one itself. The active slot holds old, twice the image's size;
 * the target, zeros. */
static void setup(struct setup *s, size_t n, size_t first, size_t count)
{
	struct error e = { 0 };
	size_t need = 0, len = 0;
	char *img = path_in("new.img");

	memset(s, 0, sizeof(*s));
	s->n = n;
	s->bundle = path_in("b.upd"), s->target = path_in("B.img"), s->active = path_in("A.img");
	s->old = old_image(n);
	s->new_ = count ? changed(s->old, n, first, count) : old_image(n);
	tu_put_file(img, s->new_, n, n);
	struct bundle_create_opts o = { .image = img, .version = "2", .compatible = "b",
					.key = fx.key, .output = s->bundle, .format = 3,
					.frame_size = FRAME };
	if (bundle_create(&o, &e) != 0)
		fail_msg("bundle_create: %s", e.msg);
	uint8_t *file = (uint8_t *)tu_read_file(s->bundle, &len);
	assert_int_equal(bundle_head_parse(file, len, &s->h, &need, &e), 0);
	free(file);
	s->src = (struct source_opts){ .location = s->bundle };
	assert_int_equal(bundle_index_fetch(&s->src, &s->h, &s->ix, &e), 0);
	tu_put_file(s->active, s->old, n, 2 * n);
	uint8_t *zeros = calloc(1, n + BS);
	tu_put_file(s->target, zeros, 0, n + BS);
	free(zeros), free(img);
}

static void teardown(struct setup *s)
{
	bundle_head_free(&s->h);
	bundle_index_free(&s->ix);
	free(s->bundle), free(s->target), free(s->active), free(s->old), free(s->new_);
}

/* delta_install onto the target, its counts and error in s->c and s->e. */
static int run(struct setup *s, bool use_active)
{
	int fd = open(s->target, O_RDWR | O_CLOEXEC);
	assert_true(fd >= 0);
	struct delta_job j = { .fd = fd, .name = "B", .path = s->medium ? s->medium : s->target,
			       .active_path = use_active ? s->active : NULL, .m = &s->h.manifest,
			       .ix = &s->ix, .src = &s->src,
			       .payload_offset = s->h.payload_offset, .readback = !s->no_readback };
	int rc = delta_install(&j, &s->c, &s->e);
	close(fd);
	return rc;
}

static void test_sources(void **state)
{
	const size_t n = 64 * BS + 1000; /* a partial last block */
	struct setup s;

	(void)state;
	setup(&s, n, 20, 4);
	assert_int_equal(run(&s, true), 0);
	tu_assert_file_starts(s.target, s.new_, s.n);
	/* Blocks 20..23 are frame 5: the one frame downloaded. */
	assert_true(s.c.downloaded == s.ix.frame_offset[6] - s.ix.frame_offset[5]);
	/* Zero blocks were in place (the target is zeros); block 7 and every other
	 * non-zero block came from the active slot. */
	assert_true(s.c.copied > 0 && s.c.reused > 0);
	assert_true(s.c.reused + s.c.copied + s.c.zeros + 4 * BS == n);
	assert_true(s.c.written == s.c.copied + 4 * BS);

	/* Run again: all in place, nothing downloaded or written. */
	assert_int_equal(run(&s, true), 0);
	assert_true(s.c.downloaded == 0 && s.c.written == 0 && s.c.copied == 0 && s.c.reused == n);
	teardown(&s);
}

/* No active slot: every non-zero block from the network, the image exact. */
static void test_network_only(void **state)
{
	struct setup s;

	(void)state;
	setup(&s, 40 * BS, 0, 0);
	assert_int_equal(run(&s, false), 0);
	tu_assert_file_starts(s.target, s.new_, s.n);
	assert_true(s.c.copied == 0 && s.c.downloaded == s.h.manifest.payload_size);
	teardown(&s);
}

/* The active slot's block 9 damaged: the frames of blocks 7 and 9 (whose
 * data only that block held) are downloaded. */
static void test_damaged_active(void **state)
{
	struct setup s;

	(void)state;
	setup(&s, 32 * BS, 28, 4);
	tu_damage(s.active, 9 * BS + 100);
	assert_int_equal(run(&s, true), 0);
	tu_assert_file_starts(s.target, s.new_, s.n);
	uint64_t f12 = s.ix.frame_offset[3] - s.ix.frame_offset[1]; /* blocks 4..11 */
	uint64_t f7 = s.ix.frame_offset[8] - s.ix.frame_offset[7];  /* blocks 28..31 */
	assert_true(s.c.downloaded == f12 + f7);
	teardown(&s);
}

/* A frame altered under the signed index: refused, naming the frame. */
static void test_corrupt_frame(void **state)
{
	struct setup s;

	(void)state;
	setup(&s, 16 * BS, 12, 4);
	tu_flip_byte(s.bundle, s.h.payload_offset + s.ix.frame_offset[3] + 20);
	assert_int_equal(run(&s, true), -EBADMSG);
	assert_int_equal(s.e.exit, UPD_EXIT_VERIFY);
	assert_non_null(strstr(s.e.msg, "corrupt payload: frame 3"));
	teardown(&s);
}

/* --no-readback: the image is still checked as one against the manifest's
 * image-sha256 (through the page cache), and a mismatch is refused. */
static void test_without_readback(void **state)
{
	struct setup s;

	(void)state;
	setup(&s, 48 * BS + 100, 10, 3);
	s.no_readback = true;
	assert_int_equal(run(&s, true), 0);
	tu_assert_file_starts(s.target, s.new_, s.n);
	s.h.manifest.image_sha256[0] ^= 1;
	assert_int_equal(run(&s, true), -EBADMSG);
	assert_int_equal(s.e.exit, UPD_EXIT_VERIFY);
	assert_non_null(strstr(s.e.msg, "does not match the manifest's image-sha256"));
	teardown(&s);
}

/* The read-back, which runs while the frames come in, reads what the medium
 * holds, and only what is final: an image of 12 MiB (larger than the
 * read-back's 8 MiB step) whose changed blocks, from the network, are in its
 * first 8 MiB. A medium that differs from what was written (here another
 * file holding the new image but for one block) is refused, exit 3; the
 * target itself, read back, is accepted. */
static void test_readback_reads_the_medium(void **state)
{
	const size_t n = 3072 * BS;
	struct setup s;

	(void)state;
	setup(&s, n, 1000, 8);
	s.medium = path_in("medium.img");
	uint8_t *bad = malloc(n), *zeros = calloc(1, n + BS);
	assert_non_null(bad);
	assert_non_null(zeros);
	memcpy(bad, s.new_, n);
	bad[100 * BS + 7] ^= 0x40;
	tu_put_file(s.medium, bad, n, n);
	assert_int_equal(run(&s, true), -EBADMSG);
	assert_int_equal(s.e.exit, UPD_EXIT_VERIFY);
	assert_non_null(strstr(s.e.msg, "does not match the manifest's image-sha256"));
	free(s.medium);
	s.medium = NULL;
	tu_put_file(s.target, zeros, 0, n + BS);
	assert_int_equal(run(&s, true), 0);
	assert_true(s.c.downloaded > 0);
	tu_assert_file_starts(s.target, s.new_, s.n);
	free(bad), free(zeros);
	teardown(&s);
}

/* The two-thread block hasher gives each block the index hash the one-thread
 * bundle_index_hash_block gives it, for runs below and above the split and
 * of odd lengths (the second thread's share then differs from the first's). */
static void test_block_hasher(void **state)
{
	(void)state;
	static const uint64_t runs[] = { 0, 1, 15, 16, 17, 255, 256 };
	uint8_t *img = old_image(256 * BS), *got = malloc(256 * BUNDLE_INDEX_HASH_LEN);
	struct block_hasher *h = NULL;

	assert_non_null(got);
	assert_int_equal(block_hasher_new(&h), 0);
	for (size_t r = 0; r < sizeof(runs) / sizeof(runs[0]); r++) {
		uint64_t n = runs[r], off = 256 - n;
		memset(got, 0xee, 256 * BUNDLE_INDEX_HASH_LEN);
		block_hasher_run(h, img + off * BS, n, BS, got);
		for (uint64_t k = 0; k < n; k++) {
			uint8_t want[BUNDLE_INDEX_HASH_LEN];
			bundle_index_hash_block(img + (off + k) * BS, BS, want);
			assert_memory_equal(got + k * BUNDLE_INDEX_HASH_LEN, want, sizeof(want));
		}
		/* nothing past the n hashes is written */
		if (n < 256)
			assert_int_equal(got[n * BUNDLE_INDEX_HASH_LEN], 0xee);
	}
	block_hasher_free(h);
	free(got);
	free(img);
}

TU_MAIN(group_setup, group_teardown, cmocka_unit_test(test_block_hasher),
	cmocka_unit_test(test_sources),
	cmocka_unit_test(test_network_only), cmocka_unit_test(test_damaged_active),
	cmocka_unit_test(test_corrupt_frame), cmocka_unit_test(test_without_readback),
	cmocka_unit_test(test_readback_reads_the_medium))

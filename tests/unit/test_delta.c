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
};

/* A bundle of new_ (format 3, 16 KiB frames) read back: head and index;
 * the active slot holds old, twice the image's size; the target, zeros. */
static void setup(struct setup *s, size_t n, const uint8_t *new_)
{
	struct error e = { 0 };
	size_t need = 0, len = 0;
	char *img = path_in("new.img");

	memset(s, 0, sizeof(*s));
	s->n = n;
	s->bundle = path_in("b.upd"), s->target = path_in("B.img"), s->active = path_in("A.img");
	s->old = old_image(n);
	s->new_ = malloc(n);
	assert_non_null(s->new_);
	memcpy(s->new_, new_, n);
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

static int run(struct setup *s, bool use_active, struct delta_counts *c, struct error *e)
{
	int fd = open(s->target, O_RDWR | O_CLOEXEC);
	assert_true(fd >= 0);
	struct delta_job j = { .fd = fd, .name = "B", .path = s->target,
			       .active_path = use_active ? s->active : NULL, .m = &s->h.manifest,
			       .ix = &s->ix, .src = &s->src,
			       .payload_offset = s->h.payload_offset, .readback = true };
	int rc = delta_install(&j, c, e);
	close(fd);
	return rc;
}

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

static void test_sources(void **state)
{
	(void)state;
	const size_t n = 64 * BS + 1000; /* a partial last block */
	struct setup s;
	struct delta_counts c;
	struct error e = { 0 };
	uint8_t *old = old_image(n), *img = changed(old, n, 20, 4);

	setup(&s, n, img);
	assert_int_equal(run(&s, true, &c, &e), 0);
	tu_assert_file_starts(s.target, s.new_, s.n);
	/* Blocks 20..23 are frame 5: the one frame downloaded. */
	assert_true(c.downloaded == s.ix.frame_offset[6] - s.ix.frame_offset[5]);
	/* Zero blocks were in place (the target is zeros); block 7 and every other
	 * non-zero block came from the active slot. */
	assert_true(c.copied > 0 && c.reused > 0);
	assert_true(c.reused + c.copied + c.zeros + 4 * BS == n);
	assert_true(c.written == c.copied + 4 * BS);

	/* Run again: all in place, nothing downloaded or written. */
	assert_int_equal(run(&s, true, &c, &e), 0);
	assert_true(c.downloaded == 0 && c.written == 0 && c.copied == 0 && c.reused == n);
	teardown(&s);
	free(old), free(img);
}

/* No active slot: every non-zero block from the network, the image exact. */
static void test_network_only(void **state)
{
	(void)state;
	const size_t n = 40 * BS;
	struct setup s;
	struct delta_counts c;
	struct error e = { 0 };
	uint8_t *img = old_image(n);

	setup(&s, n, img);
	assert_int_equal(run(&s, false, &c, &e), 0);
	tu_assert_file_starts(s.target, s.new_, s.n);
	assert_true(c.copied == 0 && c.downloaded == s.h.manifest.payload_size);
	teardown(&s);
	free(img);
}

/* The active slot's block 9 damaged: the frames of blocks 7 and 9 (whose
 * data only that block held) are downloaded. */
static void test_damaged_active(void **state)
{
	(void)state;
	const size_t n = 32 * BS;
	struct setup s;
	struct delta_counts c;
	struct error e = { 0 };
	uint8_t *old = old_image(n), *img = changed(old, n, 28, 4);

	setup(&s, n, img);
	int fd = open(s.active, O_WRONLY);
	assert_true(fd >= 0 && pwrite(fd, "damage", 6, 9 * BS + 100) == 6);
	close(fd);
	assert_int_equal(run(&s, true, &c, &e), 0);
	tu_assert_file_starts(s.target, s.new_, s.n);
	uint64_t f12 = s.ix.frame_offset[3] - s.ix.frame_offset[1]; /* blocks 4..11 */
	uint64_t f7 = s.ix.frame_offset[8] - s.ix.frame_offset[7];  /* blocks 28..31 */
	assert_true(c.downloaded == f12 + f7);
	teardown(&s);
	free(old), free(img);
}

/* A frame altered under the signed index: refused, naming the frame. */
static void test_corrupt_frame(void **state)
{
	(void)state;
	const size_t n = 16 * BS;
	struct setup s;
	struct delta_counts c;
	struct error e = { 0 };
	uint8_t *old = old_image(n), *img = changed(old, n, 12, 4);

	setup(&s, n, img);
	int fd = open(s.bundle, O_RDWR);
	uint64_t at = s.h.payload_offset + s.ix.frame_offset[3] + 20;
	uint8_t byte = 0;
	assert_true(fd >= 0 && pread(fd, &byte, 1, (off_t)at) == 1);
	byte ^= 0x55;
	assert_true(pwrite(fd, &byte, 1, (off_t)at) == 1);
	close(fd);
	assert_int_equal(run(&s, true, &c, &e), -EBADMSG);
	assert_int_equal(e.exit, UPD_EXIT_VERIFY);
	assert_non_null(strstr(e.msg, "corrupt payload: frame 3"));
	teardown(&s);
	free(old), free(img);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sources),
		cmocka_unit_test(test_network_only),
		cmocka_unit_test(test_damaged_active),
		cmocka_unit_test(test_corrupt_frame),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

/* The dual-bank static delta (backends/dualbank/delta_static.c and
 * static_delta.c) on file-backed slots, the delta read from a file (the
 * range fetcher's pread path): made by bundle_create with delta_from, it
 * turns a target of zeros into the new image byte for byte; a second run
 * moves nothing; a lost data block costs its one frame and one write, a lost
 * copied block one write and no download; an active slot that no longer
 * holds the source is -ESTALE, or, taken on the booted image's id, makes
 * the install fail its image check; a corrupt frame is refused before any
 * of it is written; an error of the scan (its own thread) ends the install
 * with what it checked written out, as does an active slot that cannot be
 * read; format 5's frames that take the new image's blocks
 * need a source of whole pages. */
#include "testutil.h"
#include "tu_keys.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "../../backends/dualbank/delta.h"
#include "../../backends/dualbank/static_delta.h"
#include "../../bundle/create.h"

#define BS 4096u
#define FRAME 16384u

static struct tu_signer fx;
TU_SIGNER_GROUP(fx)

/* n bytes: random blocks, every third one zeros. */
static uint8_t *image(size_t n, uint32_t seed)
{
	return tu_image(n, seed, BS, 3);
}

struct fixture {
	char *target, *active, *delta;
	uint8_t *old, *new_;
	size_t n;
	struct bundle_head h;
	struct static_delta sd;
	struct source_opts src;
	struct delta_counts c; /* the last run's */
	struct error e;        /* the last check's or run's */
	char *medium;          /* what the read-back reads (NULL: the target) */
};

static void create(const char *img, const char *out, const char *from, int format)
{
	struct error e = { 0 };
	struct bundle_create_opts o = { .image = img, .version = "2", .compatible = "b",
					.key = fx.key, .output = out, .format = format,
					.frame_size = FRAME, .level = 3, .delta_from = from };
	if (bundle_create(&o, &e) != 0)
		fail_msg("bundle_create %s: %s", out, e.msg);
}

/* old (the active slot's image, in a slot twice its size) and new: new is
 * old with blocks 10..21 new data (three frames of the delta), block 7 a
 * copy of old's block 9 and block 30 of old's 31; the target is zeros.
 * Format 5: blocks 24..27 repeat 10..13 as well, so that their frame
 * is smaller with the new image's earlier blocks in its prefix. */
static void setup_as(struct fixture *f, size_t n, int format)
{
	char *old_img = path_in("old.img"), *new_img = path_in("new.img"), *old_upd = path_in("old.upd");

	memset(f, 0, sizeof(*f));
	f->n = n;
	f->target = path_in("B.img"), f->active = path_in("A.img"), f->delta = path_in("d.upd");
	f->old = image(n, 7);
	f->new_ = malloc(n);
	assert_non_null(f->new_);
	memcpy(f->new_, f->old, n);
	tu_fill_random(f->new_ + 10 * BS, 12 * BS, 4242);
	memcpy(f->new_ + 7 * BS, f->old + 9 * BS, BS);
	memcpy(f->new_ + 30 * BS, f->old + 31 * BS, BS);
	if (format == 5)
		memcpy(f->new_ + 24 * BS, f->new_ + 10 * BS, 4 * BS);
	tu_put_file(old_img, f->old, n, n);
	tu_put_file(new_img, f->new_, n, n);
	create(old_img, old_upd, NULL, 3);
	create(new_img, f->delta, old_upd, format);
	tu_put_file(f->active, f->old, n, 2 * n);
	tu_put_file(f->target, f->old, 0, n + BS);
	free(old_img), free(new_img), free(old_upd);
}

static void setup(struct fixture *f, size_t n)
{
	setup_as(f, n, 4);
}

/* The delta's head and index, the source mapped: the device's checks, for
 * a booted image whose id is booted_id ("": not known). */
static int check_as(struct fixture *f, const char *booted_id)
{
	struct error *e = &f->e;
	size_t need = 0, len = 0;
	uint8_t *file = (uint8_t *)tu_read_file(f->delta, &len);

	err_clear(e);
	bundle_head_free(&f->h);
	assert_int_equal(bundle_head_parse(file, len, &f->h, &need, e), 0);
	free(file);
	f->src = (struct source_opts){ .location = f->delta };
	return static_delta_named_check(&f->sd, &f->src, &f->h, f->active, booted_id, NULL, e);
}

static int check(struct fixture *f)
{
	return check_as(f, "");
}

static void teardown(struct fixture *f)
{
	static_delta_close(&f->sd);
	bundle_head_free(&f->h);
	free(f->target), free(f->active), free(f->delta), free(f->old), free(f->new_);
}

/* delta_static_install onto the target, its counts and error in f->c and f->e. */
static int run(struct fixture *f)
{
	int fd = open(f->target, O_RDWR | O_CLOEXEC);
	assert_true(fd >= 0);
	err_clear(&f->e);
	struct delta_job j = { .fd = fd, .name = "B", .path = f->medium ? f->medium : f->target,
			       .m = &f->h.manifest,
			       .ix = &f->sd.ix, .src = &f->src, .payload_offset = f->h.payload_offset,
			       .readback = true, .source = f->sd.map, .source_fd = f->sd.map_fd,
			       .source_size = f->sd.map_len,
			       .target_room = f->sd.map_room };
	int rc = delta_static_install(&j, &f->c, &f->e);
	close(fd);
	return rc;
}

static void damage(const char *path, uint64_t block)
{
	tu_damage(path, block * BS + 100);
}

static uint64_t frame_bytes(const struct fixture *f, uint64_t fr)
{
	return f->sd.ix.frame_offset[fr + 1] - f->sd.ix.frame_offset[fr];
}

/* Onto zeros: the image; then again: nothing moves. */
static void test_apply(void **state)
{
	const size_t n = 40 * BS + 1000; /* a partial last block */
	struct fixture f;

	(void)state;
	setup(&f, n);
	assert_int_equal(check(&f), 0);
	assert_int_equal(f.h.manifest.format, 4);
	assert_true(f.sd.ix.ndata >= 12 && f.sd.ix.nframes >= 3);
	assert_int_equal(run(&f), 0);
	tu_assert_file_starts(f.target, f.new_, f.n);
	/* Every frame downloaded, once; copies from the source, zeros in place. */
	assert_true(f.c.downloaded == f.h.manifest.payload_size);
	assert_true(f.c.copied > 0 && f.c.reused > 0 && f.c.zeros == 0);
	assert_true(f.c.reused + f.c.copied + f.h.manifest.delta_data_size == n);
	assert_true(f.c.written == f.c.copied + f.h.manifest.delta_data_size);

	assert_int_equal(run(&f), 0);
	assert_true(f.c.downloaded == 0 && f.c.written == 0 && f.c.copied == 0 && f.c.reused == n);
	teardown(&f);
}

/* Lost blocks of an installed image: a data block (block 15, frame 1)
 * costs that frame and one block's write; a copied block (7) and a zero
 * block (3) one write each, no download. */
static void test_resume(void **state)
{
	struct fixture f;

	(void)state;
	setup(&f, 40 * BS);
	assert_int_equal(check(&f), 0);
	assert_int_equal(run(&f), 0);
	damage(f.target, 15);
	assert_int_equal(run(&f), 0);
	tu_assert_file_starts(f.target, f.new_, f.n);
	assert_true(f.c.downloaded == frame_bytes(&f, 1));
	assert_true(f.c.written == BS);

	damage(f.target, 7);
	damage(f.target, 3);
	assert_int_equal(run(&f), 0);
	tu_assert_file_starts(f.target, f.new_, f.n);
	assert_true(f.c.downloaded == 0 && f.c.written == 2 * BS);
	assert_true(f.c.copied + f.c.zeros == 2 * BS);
	teardown(&f);
}

/* The image's check, which runs while the frames come in, reads what the
 * medium holds: a medium that differs from what was written (another file
 * holding the new image but for one block) is refused, exit 3. */
static void test_readback_reads_the_medium(void **state)
{
	struct fixture f;

	(void)state;
	setup(&f, 40 * BS);
	assert_int_equal(check(&f), 0);
	f.medium = path_in("medium.img");
	uint8_t *bad = malloc(f.n);
	assert_non_null(bad);
	memcpy(bad, f.new_, f.n);
	bad[25 * BS + 3] ^= 0x20;
	tu_put_file(f.medium, bad, f.n, f.n);
	assert_int_equal(run(&f), -EBADMSG);
	assert_int_equal(f.e.exit, UPD_EXIT_VERIFY);
	assert_non_null(strstr(f.e.msg, "does not match the manifest's image-sha256"));
	free(f.medium), free(bad);
	teardown(&f);
}

/* An active slot that no longer holds the source: -ESTALE, a verify error. */
static void test_stale_source(void **state)
{
	struct fixture f;

	(void)state;
	setup(&f, 32 * BS);
	damage(f.active, 5);
	assert_int_equal(check(&f), -ESTALE);
	assert_int_equal(f.e.exit, UPD_EXIT_VERIFY);
	assert_non_null(strstr(f.e.msg, "does not hold its source image"));
	assert_false(f.sd.usable);
	teardown(&f);
}

/* The booted image's id names the source: the active slot is taken on its
 * word, not hashed, so a slot changed since (block 31, the source of
 * block 30's copy) passes the checks; the install's image check then refuses the
 * result (exit 3). Another image's id: refused by the id alone. */
static void test_source_by_id(void **state)
{
	struct fixture f;
	char id[65], other[65];

	(void)state;
	setup(&f, 32 * BS);
	damage(f.active, 31);
	assert_int_equal(check(&f), -ESTALE); /* id not known: the bytes hashed */
	hex_encode(f.h.manifest.delta_source_sha256, 32, id);
	assert_int_equal(check_as(&f, id), 0);
	assert_true(f.sd.usable && f.sd.by_id);
	assert_int_equal(run(&f), -EBADMSG);
	assert_int_equal(f.e.exit, UPD_EXIT_VERIFY);
	assert_non_null(strstr(f.e.msg, "does not match the manifest's image-sha256"));

	memcpy(other, id, sizeof(other));
	other[0] = other[0] == '0' ? '1' : '0';
	assert_int_equal(check_as(&f, other), -ESTALE);
	assert_non_null(strstr(f.e.msg, "does not hold its source image"));
	assert_false(f.sd.usable);
	teardown(&f);
}

/* Frame 1 altered under the signed index: refused, and none of its blocks
 * (14..17) written; frame 0's (10..13), checked before it, are kept. */
static void test_corrupt_frame(void **state)
{
	struct fixture f;
	uint8_t zeros[4 * BS] = { 0 }, got[4 * BS];

	(void)state;
	setup(&f, 32 * BS);
	assert_int_equal(check(&f), 0);
	tu_flip_byte(f.delta, f.h.payload_offset + f.sd.ix.frame_offset[1] + frame_bytes(&f, 1) / 2);
	assert_int_equal(run(&f), -EBADMSG);
	assert_int_equal(f.e.exit, UPD_EXIT_VERIFY);
	assert_non_null(strstr(f.e.msg, "corrupt static delta: frame 1 "));
	int fd = open(f.target, O_RDONLY);
	assert_true(fd >= 0 && pread(fd, got, sizeof(got), 14 * BS) == (ssize_t)sizeof(got));
	assert_memory_equal(got, zeros, sizeof(got));
	assert_true(pread(fd, got, sizeof(got), 10 * BS) == (ssize_t)sizeof(got));
	assert_memory_equal(got, f.new_ + 10 * BS, sizeof(got));
	close(fd);
	teardown(&f);
}

/* The scan, on its own thread, meets a copy from beyond the source (an
 * index altered after its check): the install ends with the scan's error,
 * nothing of the frames fetched, and the copies it had checked before
 * (blocks 22..29, the last of them still waiting to be written) written out
 * for the next attempt. */
static void test_scan_error(void **state)
{
	struct fixture f;
	uint8_t got[8 * BS];

	(void)state;
	setup(&f, 32 * BS);
	assert_int_equal(check(&f), 0);
	f.sd.ix.ops[30] = bundle_op_copy(1000, 30);
	assert_int_equal(run(&f), -EBADMSG);
	assert_int_equal(f.e.exit, UPD_EXIT_VERIFY);
	assert_non_null(strstr(f.e.msg, "corrupt static delta: block 30 copies source block 1000"));
	assert_true(f.c.downloaded == 0);
	int fd = open(f.target, O_RDONLY);
	assert_true(fd >= 0 && pread(fd, got, sizeof(got), 22 * BS) == (ssize_t)sizeof(got));
	assert_memory_equal(got, f.new_ + 22 * BS, sizeof(got));
	close(fd);
	teardown(&f);
}

/* The scan reads the source blocks of copies from the active slot's
 * descriptor, not through the mapping: one that reads nothing there ends
 * the install, exit 1, naming what failed, before any frame is fetched;
 * the next run, which can read it, completes the image. */
static void test_source_unreadable(void **state)
{
	struct fixture f;

	(void)state;
	setup(&f, 40 * BS);
	assert_int_equal(check(&f), 0);
	int keep = f.sd.map_fd, null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	assert_true(null >= 0);
	f.sd.map_fd = null;
	assert_int_equal(run(&f), -EIO);
	assert_int_equal(f.e.exit, UPD_EXIT_OTHER);
	assert_non_null(strstr(f.e.msg, "install B: read the active slot: "));
	assert_true(f.c.downloaded == 0);
	f.sd.map_fd = keep;
	close(null);
	assert_int_equal(run(&f), 0);
	tu_assert_file_starts(f.target, f.new_, f.n);
	teardown(&f);
}

/* Format 5: a frame that takes the new image's earlier blocks into its
 * prefix finds them mapped right after the source, so the source must be
 * whole pages. 40 blocks of 4 KiB are on 4 KiB pages (the install makes
 * the image) but not on 64 KiB pages (some arm64 kernels): refused there,
 * exit 3, naming both sizes, and 48 blocks (three such pages) are not. */
static void test_source_not_whole_pages(void **state)
{
	struct fixture f;
	long page = sysconf(_SC_PAGESIZE);
	uint64_t room = 0, most = 0;

	(void)state;
	setup_as(&f, 40 * BS, 5);
	assert_int_equal(check(&f), f.n % (uint64_t)page ? -EINVAL : 0);
	assert_int_equal(f.h.manifest.format, 5);
	for (uint64_t fr = 0; fr < f.sd.ix.nframes; fr++)
		if (f.sd.ix.prefix_blocks[fr] * (uint64_t)BS > most)
			most = f.sd.ix.prefix_blocks[fr] * (uint64_t)BS;
	assert_true(most > 0);
	if (f.sd.usable) {
		assert_true(f.sd.map_room == most);
		assert_int_equal(run(&f), 0);
		tu_assert_file_starts(f.target, f.new_, f.n);
	}

	assert_int_equal(static_delta_target_room(&f.sd.ix, 40 * BS, 4096, &room, &f.e), 0);
	assert_true(room == most);
	err_clear(&f.e);
	assert_int_equal(static_delta_target_room(&f.sd.ix, 40 * BS, 65536, &room, &f.e), -EINVAL);
	assert_int_equal(f.e.exit, UPD_EXIT_VERIFY);
	assert_non_null(strstr(f.e.msg, "source of 163840 bytes, which is not whole pages of 65536"));
	assert_int_equal(static_delta_target_room(&f.sd.ix, 48 * BS, 65536, &room, &f.e), 0);
	assert_true(room == most);
	teardown(&f);
}

TU_MAIN(group_setup, group_teardown, cmocka_unit_test(test_apply), cmocka_unit_test(test_resume),
	cmocka_unit_test(test_stale_source), cmocka_unit_test(test_source_by_id),
	cmocka_unit_test(test_corrupt_frame), cmocka_unit_test(test_scan_error),
	cmocka_unit_test(test_readback_reads_the_medium),
	cmocka_unit_test(test_source_not_whole_pages), cmocka_unit_test(test_source_unreadable))

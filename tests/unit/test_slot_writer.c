/* The dual-bank slot writer (backends/image/slot_writer.c) and its
 * read-back (readback.c) against real files standing in for slots: zstd
 * payload in, image bytes on the "medium", the manifest's sizes and hashes
 * checked, the read-back hashing what the file holds. No mocks: a short
 * medium is /dev/full or a file-size limit, a medium that does not keep the
 * data is a read-back path naming another file than the one written. */
#include "testutil.h"

#include <errno.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <zstd.h>

#include "../../backends/image/readback.h"
#include "../../backends/image/slot_writer.h"
#include "../../lib/digest.h"
#include "../../lib/progress.h"

#define MiB (1u << 20)
/* Larger than the read-back's step (8 MiB), so part of it is read back while
 * the writer still runs and the rest after the final fsync. */
#define BIG_IMAGE (13 * MiB + 4321)

struct fixture {
	char *dir;
	char slot[600], decoy[600];
	uint8_t *image, *payload;
	size_t image_len, payload_len;
	struct manifest m;
	uint64_t reused, written; /* the last write_slot's counts */
};

/* Bytes that compress a little but not to nothing, so the payload is a real
 * multi-block zstd stream. */
static void fill_image(uint8_t *p, size_t len, uint32_t seed)
{
	for (size_t i = 0; i < len; i++) {
		seed = seed * 1103515245u + 12345u;
		p[i] = (i % 64 < 40) ? (uint8_t)(seed >> 16) : (uint8_t)i;
	}
}

static void sha256_of(const void *p, size_t len, uint8_t out[32])
{
	struct sha256_ctx *c = sha256_new();
	assert_non_null(c);
	sha256_update(c, p, len);
	sha256_final(c, out);
}

/* An image of len bytes, its zstd payload and the manifest describing both. */
static void make_release(struct fixture *f, size_t len)
{
	size_t cap = ZSTD_compressBound(len);

	f->image_len = len;
	f->image = malloc(len ? len : 1);
	f->payload = malloc(cap);
	assert_non_null(f->image);
	assert_non_null(f->payload);
	fill_image(f->image, len, 7);
	f->payload_len = ZSTD_compress(f->payload, cap, f->image, len, 3);
	assert_false(ZSTD_isError(f->payload_len));
	memset(&f->m, 0, sizeof(f->m));
	f->m.image_size = len;
	f->m.payload_size = f->payload_len;
	sha256_of(f->image, len, f->m.image_sha256);
	sha256_of(f->payload, f->payload_len, f->m.payload_sha256);
}

/* A slot file of size bytes filled with 0xee, so what the writer did not
 * write shows. */
static void make_file(const char *path, size_t size, uint8_t fill)
{
	uint8_t *b = malloc(size ? size : 1);
	assert_non_null(b);
	memset(b, fill, size);
	assert_int_equal(tu_write_file(path, (const char *)b, size), 0);
	free(b);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	f->dir = tu_mkdtemp();
	assert_non_null(f->dir);
	snprintf(f->slot, sizeof(f->slot), "%s/B.img", f->dir);
	snprintf(f->decoy, sizeof(f->decoy), "%s/medium.img", f->dir);
	progress_init(PROGRESS_NONE);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	tu_rmtree(f->dir);
	free(f->image);
	free(f->payload);
	free(f);
	return 0;
}

/* Feeds the payload in pieces of chunk bytes (as downloads arrive), then
 * finishes; the first failure's code, 0 on success. readback_path: NULL for no
 * read-back, else the path the read-back opens. */
static int write_slot(struct fixture *f, const char *wpath, const char *readback_path,
		      size_t chunk, struct error *e)
{
	struct slot_writer *w = NULL;
	int fd = open(wpath, O_RDWR | O_CLOEXEC), rc;

	assert_true(fd >= 0);
	memset(e, 0, sizeof(*e));
	rc = slot_writer_new(&w, fd, "B", readback_path ? readback_path : wpath, &f->m,
			     readback_path != NULL, e);
	for (size_t off = 0; rc == 0 && off < f->payload_len; off += chunk) {
		size_t n = f->payload_len - off < chunk ? f->payload_len - off : chunk;
		rc = slot_writer_feed(w, f->payload + off, n, e);
	}
	if (rc == 0)
		rc = slot_writer_finish(w, e);
	if (w)
		slot_writer_counts(w, &f->reused, &f->written);
	slot_writer_free(w);
	close(fd);
	return rc;
}

/* The slot holds the image at its start and the old bytes after it. */
static void assert_slot_holds_image(struct fixture *f, size_t slot_size)
{
	size_t len = 0;
	char *got = tu_read_file(f->slot, &len);

	assert_non_null(got);
	assert_int_equal(len, slot_size);
	assert_memory_equal(got, f->image, f->image_len);
	for (size_t i = f->image_len; i < slot_size; i++)
		assert_int_equal((uint8_t)got[i], 0xee);
	free(got);
}

static void writes_the_image_without_readback(void **state)
{
	struct fixture *f = *state;
	struct error e;

	make_release(f, 3 * MiB + 17);
	make_file(f->slot, 4 * MiB, 0xee);
	assert_int_equal(write_slot(f, f->slot, NULL, 65536, &e), 0);
	assert_int_equal(e.exit, 0);
	assert_slot_holds_image(f, 4 * MiB);
}

/* The slot file holds the image (then 0xee up to size), with an old mtime:
 * whether anything was written shows in it too, not only in the counts. */
static void make_slot_holding_image(struct fixture *f, size_t size)
{
	struct timespec old[2] = { { 946684800, 0 }, { 946684800, 0 } };

	make_file(f->slot, size, 0xee);
	int fd = open(f->slot, O_WRONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, f->image, f->image_len, 0), (ssize_t)f->image_len);
	assert_int_equal(futimens(fd, old), 0);
	close(fd);
}

static bool slot_mtime_is_old(struct fixture *f)
{
	struct stat st;
	assert_int_equal(stat(f->slot, &st), 0);
	return st.st_mtim.tv_sec == 946684800;
}

/* Installing onto a slot that holds the image already writes nothing: every
 * block is read, found equal and left alone (read-back still checks all). */
static void a_slot_holding_the_image_is_not_written(void **state)
{
	struct fixture *f = *state;
	struct error e;

	make_release(f, BIG_IMAGE);
	make_slot_holding_image(f, 16 * MiB);
	assert_int_equal(write_slot(f, f->slot, f->slot, 100003, &e), 0);
	assert_int_equal(f->written, 0);
	assert_int_equal(f->reused, BIG_IMAGE);
	assert_true(slot_mtime_is_old(f));
	assert_slot_holds_image(f, 16 * MiB);
}

/* One 4 KiB block differs (in the middle of a 1 MiB buffer): exactly that
 * block is written. */
static void only_the_block_that_differs_is_written(void **state)
{
	struct fixture *f = *state;
	struct error e;
	size_t at = 2 * MiB + 37 * 4096;

	make_release(f, 3 * MiB + 17);
	f->image[at + 100] ^= 0x5a;
	make_slot_holding_image(f, 4 * MiB);
	f->image[at + 100] ^= 0x5a;
	assert_int_equal(write_slot(f, f->slot, f->slot, 65536, &e), 0);
	assert_int_equal(f->written, 4096);
	assert_int_equal(f->reused, f->image_len - 4096);
	assert_false(slot_mtime_is_old(f));
	assert_slot_holds_image(f, 4 * MiB);
}

/* An image that ends inside a block: its tail is compared on its own bytes
 * (what follows it in the slot does not count) and written when it differs. */
static void an_unaligned_tail_is_compared_alone(void **state)
{
	struct fixture *f = *state;
	struct error e;

	make_release(f, 3 * MiB + 17);
	make_slot_holding_image(f, 4 * MiB);
	assert_int_equal(write_slot(f, f->slot, NULL, 65536, &e), 0);
	assert_int_equal(f->written, 0);
	f->image[f->image_len - 3] ^= 1;
	make_slot_holding_image(f, 4 * MiB);
	f->image[f->image_len - 3] ^= 1;
	assert_int_equal(write_slot(f, f->slot, NULL, 65536, &e), 0);
	assert_int_equal(f->written, 17);
	assert_int_equal(f->reused, 3 * MiB);
	assert_slot_holds_image(f, 4 * MiB);
}

/* A slot fd that cannot be read (opened write-only): every block is
 * written, the install still succeeds. */
static void an_unreadable_slot_is_written_whole(void **state)
{
	struct fixture *f = *state;
	struct slot_writer *w = NULL;
	struct error e = { 0 };
	uint64_t reused, written;

	make_release(f, MiB + 5);
	make_slot_holding_image(f, 2 * MiB);
	int fd = open(f->slot, O_WRONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(slot_writer_new(&w, fd, "B", f->slot, &f->m, true, &e), 0);
	assert_int_equal(slot_writer_feed(w, f->payload, f->payload_len, &e), 0);
	assert_int_equal(slot_writer_finish(w, &e), 0);
	slot_writer_counts(w, &reused, &written);
	slot_writer_free(w);
	close(fd);
	assert_int_equal(written, MiB + 5);
	assert_int_equal(reused, 0);
	assert_slot_holds_image(f, 2 * MiB);
}

static void writes_and_reads_back_a_large_image(void **state)
{
	struct fixture *f = *state;
	struct error e;

	make_release(f, BIG_IMAGE);
	make_file(f->slot, 16 * MiB, 0xee);
	/* Odd-sized pieces: the decoder's buffers and the read-back's steps never
	 * line up with what arrives. */
	assert_int_equal(write_slot(f, f->slot, f->slot, 100003, &e), 0);
	assert_int_equal(e.exit, 0);
	assert_slot_holds_image(f, 16 * MiB);
}

static void an_image_of_exactly_the_slot_size_fits(void **state)
{
	struct fixture *f = *state;
	struct error e;

	make_release(f, 2 * MiB);
	make_file(f->slot, 2 * MiB, 0xee);
	assert_int_equal(write_slot(f, f->slot, f->slot, 4096, &e), 0);
	assert_slot_holds_image(f, 2 * MiB);
}

/* The medium is full from its first byte (/dev/full: every write ENOSPC):
 * the no-space exit code, naming the slot. */
static void a_full_medium_is_no_space(void **state)
{
	struct fixture *f = *state;
	struct error e;

	if (access("/dev/full", W_OK) != 0)
		skip();
	make_release(f, 2 * MiB);
	assert_true(write_slot(f, "/dev/full", NULL, 65536, &e) < 0);
	assert_int_equal(e.exit, UPD_EXIT_NOSPACE);
	assert_non_null(strstr(e.msg, "write slot B (/dev/full)"));
	assert_non_null(strstr(e.msg, strerror(ENOSPC)));
}

/* A slot shorter than the image, as a file that cannot grow past 1 MiB (a
 * file-size limit: writes past it fail with EFBIG): the install fails naming
 * the slot, and what fitted is the image's start. */
static void an_image_larger_than_the_slot_fails(void **state)
{
	struct fixture *f = *state;
	struct rlimit old, lim = { MiB, MiB };
	struct error e;
	int rc;

	make_release(f, 3 * MiB);
	make_file(f->slot, MiB, 0xee);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim.rlim_max = old.rlim_max;
	signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	rc = write_slot(f, f->slot, NULL, 65536, &e);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, SIG_DFL);
	assert_true(rc < 0);
	assert_int_equal(e.exit, UPD_EXIT_OTHER);
	assert_non_null(strstr(e.msg, "write slot B ("));
	assert_non_null(strstr(e.msg, strerror(EFBIG)));
	f->image_len = MiB; /* what fitted */
	assert_slot_holds_image(f, MiB);
}

/* The payload decodes to more than the manifest's image-size: refused as
 * corrupt before the extra bytes reach the slot. */
static void a_payload_larger_than_its_manifest_is_corrupt(void **state)
{
	struct fixture *f = *state;
	struct error e;

	make_release(f, 3 * MiB);
	make_file(f->slot, 4 * MiB, 0xee);
	f->m.image_size = 2 * MiB;
	assert_true(write_slot(f, f->slot, NULL, 65536, &e) < 0);
	assert_int_equal(e.exit, UPD_EXIT_VERIFY);
	assert_non_null(strstr(e.msg, "decodes to more than the manifest's image-size"));
	size_t len = 0;
	char *got = tu_read_file(f->slot, &len);
	assert_non_null(got);
	for (size_t i = 2 * MiB; i < len; i++)
		assert_int_equal((uint8_t)got[i], 0xee);
	free(got);
}

/* A payload cut short: the stream ends early, nothing claims success. */
static void a_truncated_payload_is_corrupt(void **state)
{
	struct fixture *f = *state;
	struct error e;

	make_release(f, 2 * MiB);
	make_file(f->slot, 4 * MiB, 0xee);
	f->payload_len -= 100;
	sha256_of(f->payload, f->payload_len, f->m.payload_sha256);
	assert_true(write_slot(f, f->slot, NULL, 65536, &e) < 0);
	assert_int_equal(e.exit, UPD_EXIT_VERIFY);
	assert_non_null(strstr(e.msg, "the zstd stream ends early"));
}

/* The image's hash in the manifest is not the image's: refused as corrupt,
 * without read-back as with. */
static void an_image_hash_mismatch_is_corrupt(void **state)
{
	struct fixture *f = *state;
	struct error e;

	make_release(f, 2 * MiB);
	make_file(f->slot, 4 * MiB, 0xee);
	f->m.image_sha256[5] ^= 1;
	assert_true(write_slot(f, f->slot, f->slot, 65536, &e) < 0);
	assert_int_equal(e.exit, UPD_EXIT_VERIFY);
	assert_non_null(strstr(e.msg, "image sha256 does not match the manifest"));
}

/* What the medium returns is not what was written (the read-back opens a
 * copy with one byte changed, past the part checked during the write): the
 * read-back catches it, with the verification exit code. */
static void a_medium_that_changed_a_byte_fails_the_readback(void **state)
{
	struct fixture *f = *state;
	struct error e;

	make_release(f, BIG_IMAGE);
	make_file(f->slot, 16 * MiB, 0xee);
	f->image[BIG_IMAGE - 5] ^= 0x40;
	assert_int_equal(tu_write_file(f->decoy, (const char *)f->image, f->image_len), 0);
	f->image[BIG_IMAGE - 5] ^= 0x40;
	assert_true(write_slot(f, f->slot, f->decoy, 100003, &e) < 0);
	assert_int_equal(e.exit, UPD_EXIT_VERIFY);
	assert_non_null(strstr(e.msg, "read back slot B ("));
	assert_non_null(strstr(e.msg, "sha256 differs from what was written"));
	/* Without read-back the same write passes: the check is the read-back's. */
	assert_int_equal(write_slot(f, f->slot, NULL, 100003, &e), 0);
}

/* The read-back failed with err: named in the message, an OTHER-class error. */
static void assert_readback_failed(const struct error *e, int err)
{
	assert_int_equal(e->exit, UPD_EXIT_OTHER);
	assert_non_null(strstr(e->msg, "read back "));
	assert_non_null(strstr(e->msg, strerror(err)));
}

/* The medium ends before the image does when read back: an error naming the
 * path, not a hash of fewer bytes. */
static void a_medium_shorter_when_read_back_fails(void **state)
{
	struct fixture *f = *state;
	struct error e;

	make_release(f, 3 * MiB);
	make_file(f->slot, 4 * MiB, 0xee);
	assert_int_equal(tu_write_file(f->decoy, (const char *)f->image, 2 * MiB), 0);
	assert_true(write_slot(f, f->slot, f->decoy, 65536, &e) < 0);
	assert_readback_failed(&e, ENODATA);
}

/* A slot the read-back cannot open: the writer refuses to start. */
static void an_unreadable_slot_stops_the_writer_at_start(void **state)
{
	struct fixture *f = *state;
	struct slot_writer *w = NULL;
	struct error e = { 0 };
	int fd;

	make_release(f, MiB);
	make_file(f->slot, 2 * MiB, 0xee);
	fd = open(f->slot, O_WRONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_true(slot_writer_new(&w, fd, "B", f->decoy, &f->m, true, &e) < 0);
	close(fd);
	assert_null(w);
	assert_readback_failed(&e, ENOENT);
}

/* The read-back alone: its digest is the SHA-256 of the file's first total
 * bytes, whether the writer reported progress in steps or not at all. */
static void readback_hashes_what_the_file_holds(void **state)
{
	struct fixture *f = *state;
	struct readback *r = NULL;
	struct error e = { 0 };
	uint8_t got[32], want[32];
	int fd;

	make_release(f, BIG_IMAGE);
	assert_int_equal(tu_write_file(f->slot, (const char *)f->image, f->image_len), 0);
	fd = open(f->slot, O_WRONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(readback_start(&r, fd, f->slot, f->image_len, &e), 0);
	for (uint64_t done = 3 * MiB; done < f->image_len; done += 3 * MiB)
		readback_advance(r, done);
	assert_int_equal(readback_finish(r, got, &e), 0);
	readback_free(r);
	close(fd);
	sha256_of(f->image, f->image_len, want);
	assert_memory_equal(got, want, 32);
	/* Only the first total bytes count. */
	fd = open(f->slot, O_WRONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(readback_start(&r, fd, f->slot, MiB, &e), 0);
	assert_int_equal(readback_finish(r, got, &e), 0);
	readback_free(r);
	close(fd);
	sha256_of(f->image, MiB, want);
	assert_memory_equal(got, want, 32);
}

/* The constructor rule (readback.h): a read-back that cannot start leaves
 * *out NULL and nothing to free (ASan: no leak). */
static void readback_start_failing_leaves_nothing(void **state)
{
	struct fixture *f = *state;
	struct readback *r = (struct readback *)f; /* not NULL: the call must clear it */
	struct error e = { 0 };
	char missing[700];

	snprintf(missing, sizeof(missing), "%s.missing", f->slot);
	assert_true(readback_start(&r, -1, missing, MiB, &e) < 0);
	assert_null(r);
	assert_non_null(strstr(e.msg, "read back "));
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
TU_MAIN(NULL, NULL, T(writes_the_image_without_readback), T(writes_and_reads_back_a_large_image),
	T(a_slot_holding_the_image_is_not_written), T(only_the_block_that_differs_is_written),
	T(an_unaligned_tail_is_compared_alone), T(an_unreadable_slot_is_written_whole),
	T(an_image_of_exactly_the_slot_size_fits), T(a_full_medium_is_no_space),
	T(an_image_larger_than_the_slot_fails), T(a_payload_larger_than_its_manifest_is_corrupt),
	T(a_truncated_payload_is_corrupt), T(an_image_hash_mismatch_is_corrupt),
	T(a_medium_that_changed_a_byte_fails_the_readback), T(a_medium_shorter_when_read_back_fails),
	T(an_unreadable_slot_stops_the_writer_at_start), T(readback_hashes_what_the_file_holds),
	T(readback_start_failing_leaves_nothing))

/* backends/dualbank/slot_blocks.c: a record written is mapped back as
 * written, one made from a slot holds its image's blocks' hashes and its
 * SHA-256, for its own image only; a record that is not exactly what the
 * updater writes (another image, another block size, a wrong length, a
 * symlink, a file others may write) is refused with the cause; forget
 * removes it; released, its pages leave the process's RSS. */
#include "testutil.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../backends/dualbank/slot_blocks.h"
#include "../../lib/digest.h"

#define NBLOCKS 3
#define IMAGE_SIZE (NBLOCKS * 4096 - 100)

struct fixture {
	char *dir;
	uint8_t sha[32], hashes[NBLOCKS * BUNDLE_INDEX_HASH_LEN];
	char id[65];
	struct bundle_index ix;
	char *path;
};

static int setup(void **state)
{
	struct fixture *f = tu_fixture_new(sizeof(*f));
	assert_non_null(f);
	tu_fill_random(f->sha, sizeof(f->sha), 1);
	tu_fill_random(f->hashes, sizeof(f->hashes), 2);
	hex_encode(f->sha, 32, f->id);
	f->ix = (struct bundle_index){ .format = 3, .block_size = 4096, .nblocks = NBLOCKS,
				       .hashes = f->hashes };
	f->path = tu_path(f->dir, "dualbank-B.blocks");
	struct error e = { 0 };
	assert_int_equal(slot_blocks_save(f->dir, "B", f->sha, IMAGE_SIZE, &f->ix, &e), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	free(f->path);
	return tu_teardown(state);
}

/* Opens B's record for id; returns the result, the message in msg. */
static int open_b(struct fixture *f, const char *id, uint32_t bs, char *msg, size_t size)
{
	struct slot_blocks b;
	struct error e = { 0 };
	int rc = slot_blocks_open(f->dir, "B", id, bs, &b, &e);

	snprintf(msg, size, "%s", e.msg);
	if (rc == 0) {
		assert_int_equal(b.nblocks, NBLOCKS);
		assert_memory_equal(b.hashes, f->hashes, sizeof(f->hashes));
		slot_blocks_close(&b);
	} else {
		assert_null(b.map);
	}
	return rc;
}

static void written_record_maps_back(void **state)
{
	struct fixture *f = *state;
	char msg[512];
	struct stat st;

	assert_int_equal(open_b(f, f->id, 4096, msg, sizeof(msg)), 0);
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_size, 128 + sizeof(f->hashes));
	assert_int_equal(st.st_mode & 0777, 0644);
}

static void another_image_or_block_size_is_refused(void **state)
{
	struct fixture *f = *state;
	char msg[512], other[65];

	memcpy(other, f->id, sizeof(other));
	other[10] = other[10] == 'a' ? 'b' : 'a';
	assert_int_equal(open_b(f, other, 4096, msg, sizeof(msg)), -ESTALE);
	assert_non_null(strstr(msg, "recorded for image"));
	assert_int_equal(open_b(f, f->id, 1024, msg, sizeof(msg)), -EBADMSG);
	assert_non_null(strstr(msg, "not this index's"));
}

static void a_wrong_length_is_refused(void **state)
{
	struct fixture *f = *state;
	char msg[512];

	assert_int_equal(truncate(f->path, 128 + sizeof(f->hashes) - 1), 0);
	assert_int_equal(open_b(f, f->id, 4096, msg, sizeof(msg)), -EBADMSG);
	assert_non_null(strstr(msg, "the header implies 176"));
	assert_int_equal(truncate(f->path, 100), 0);
	assert_int_equal(open_b(f, f->id, 4096, msg, sizeof(msg)), -EBADMSG);
	assert_non_null(strstr(msg, "short header"));
}

static void a_symlink_or_a_file_others_may_write_is_refused(void **state)
{
	struct fixture *f = *state;
	char msg[512], *moved = tu_path(f->dir, "elsewhere");

	assert_int_equal(chmod(f->path, 0666), 0);
	assert_int_equal(open_b(f, f->id, 4096, msg, sizeof(msg)), -EPERM);
	assert_non_null(strstr(msg, "only it may write"));
	assert_int_equal(chmod(f->path, 0644), 0);
	assert_int_equal(rename(f->path, moved), 0);
	assert_int_equal(symlink(moved, f->path), 0);
	assert_int_equal(open_b(f, f->id, 4096, msg, sizeof(msg)), -ELOOP);
	free(moved);
}

static void forget_removes_the_record(void **state)
{
	struct fixture *f = *state;
	struct error e = { 0 };
	char msg[512];

	assert_int_equal(slot_blocks_forget(f->dir, "B", &e), 0);
	assert_int_equal(access(f->path, F_OK), -1);
	assert_int_equal(open_b(f, f->id, 4096, msg, sizeof(msg)), -ENOENT);
	assert_int_equal(slot_blocks_forget(f->dir, "B", &e), 0); /* none: fine */
}

/* A slot larger than its image: only the image's bytes are hashed, its
 * last block padded with zeros (not with what follows in the slot); the
 * image's SHA-256 comes from the same read. */
static void adopt_hashes_the_image_s_blocks(void **state)
{
	struct fixture *f = *state;
	char *slot = tu_path(f->dir, "slot.img");
	uint8_t *img = malloc(4 * 4096), pad[4096] = { 0 };
	uint8_t sha[32], want_sha[32];
	char hex[65];
	struct error e = { 0 };
	struct slot_blocks b;

	assert_non_null(img);
	tu_fill_random(img, 4 * 4096, 3); /* the slot's bytes after the image too */
	tu_put_file(slot, img, 4 * 4096, 4 * 4096);
	int fd = open(slot, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(slot_blocks_adopt(f->dir, "A", fd, IMAGE_SIZE, sha, &e), 0);
	close(fd);
	struct sha256_ctx *c = sha256_new();
	assert_non_null(c);
	sha256_update(c, img, IMAGE_SIZE);
	sha256_final(c, want_sha);
	assert_memory_equal(sha, want_sha, 32);
	hex_encode(sha, 32, hex);
	assert_int_equal(slot_blocks_open(f->dir, "A", hex, 4096, &b, &e), 0);
	assert_int_equal(b.nblocks, NBLOCKS);
	for (uint64_t i = 0; i < NBLOCKS; i++) {
		uint8_t want[BUNDLE_INDEX_HASH_LEN];
		size_t n = i + 1 < NBLOCKS ? 4096 : IMAGE_SIZE - i * 4096;
		memset(pad, 0, sizeof(pad));
		memcpy(pad, img + i * 4096, n);
		bundle_index_hash_block(pad, 4096, want);
		assert_memory_equal(b.hashes + i * BUNDLE_INDEX_HASH_LEN, want, sizeof(want));
	}
	slot_blocks_close(&b);
	free(img), free(slot);
}

/* A walked record's pages leave the process's RSS when released (the
 * delta installs release as they walk: docs/dualbank.md, Memory), and
 * read the same when touched again. */
static void release_drops_the_record_s_pages(void **state)
{
	struct fixture *f = *state;
	struct slot_blocks b;
	struct error e = { 0 };

	assert_int_equal(slot_blocks_open(f->dir, "B", f->id, 4096, &b, &e), 0);
	assert_memory_equal(b.hashes, f->hashes, sizeof(f->hashes));
	if (tu_rss_of(b.hashes) <= 0) {
		/* No RSS for a page just read: not a kernel's smaps (qemu-user's,
		 * in make cross-check); shown as skipped. */
		slot_blocks_close(&b);
		skip();
	}
	slot_blocks_release(&b);
	assert_int_equal(tu_rss_of(b.hashes), 0);
	assert_memory_equal(b.hashes, f->hashes, sizeof(f->hashes));
	slot_blocks_release(NULL);
	slot_blocks_close(&b);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
TU_MAIN(NULL, NULL, T(written_record_maps_back), T(another_image_or_block_size_is_refused),
	T(a_wrong_length_is_refused), T(a_symlink_or_a_file_others_may_write_is_refused),
	T(forget_removes_the_record), T(adopt_hashes_the_image_s_blocks),
	T(release_drops_the_record_s_pages))

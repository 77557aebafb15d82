/* The recorded block hashes of a slot's image (slot_blocks.h). */
#include "slot_blocks.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../lib/digest.h"
#include "../../lib/fsutil.h"
#include "image_id.h"

#define MAGIC "updater-slot-blocks 1"

int slot_blocks_path(const char *state_dir, const char *slot, char *path, size_t size)
{
	if ((size_t)snprintf(path, size, "%s/dualbank-%s.blocks", state_dir, slot) >= size)
		return -ENAMETOOLONG;
	return 0;
}

int slot_blocks_save(const char *state_dir, const char *slot, const uint8_t sha256[32],
		     uint64_t image_size, const struct bundle_index *ix, struct error *e)
{
	char path[4096], head[SLOT_BLOCKS_HEAD] = { 0 }, hex[65];

	if (slot_blocks_path(state_dir, slot, path, sizeof(path)) < 0)
		return err_set(e, UPD_EXIT_OTHER, ENAMETOOLONG, "%s: path too long", state_dir);
	hex_encode(sha256, 32, hex);
	snprintf(head, sizeof(head), MAGIC " %s %" PRIu64 " %" PRIu32 " %d\n", hex, image_size,
		 ix->block_size, BUNDLE_INDEX_HASH_LEN);
	struct iovec parts[2] = {
		{ .iov_base = head, .iov_len = sizeof(head) },
		{ .iov_base = ix->hashes, .iov_len = ix->nblocks * BUNDLE_INDEX_HASH_LEN },
	};
	return atomic_write_parts(path, parts, 2, e);
}

int slot_blocks_adopt(const char *state_dir, const char *slot, int fd, uint64_t len,
		      uint8_t sha256[32], struct error *e)
{
	struct bundle_index ix = { .format = 3, .block_size = BUNDLE_BLOCK_SIZE,
				   .nblocks = (len + BUNDLE_BLOCK_SIZE - 1) / BUNDLE_BLOCK_SIZE };
	int rc;

	ix.hashes = malloc(ix.nblocks ? ix.nblocks * BUNDLE_INDEX_HASH_LEN : 1);
	if (!ix.hashes)
		return err_oom(e, NULL);
	rc = image_hash(fd, len, sha256, ix.hashes);
	if (rc == -ENOMEM)
		err_oom(e, NULL);
	else if (rc < 0)
		err_set(e, UPD_EXIT_OTHER, -rc, "slot %s: read: %s", slot, strerror(-rc));
	else
		rc = slot_blocks_save(state_dir, slot, sha256, len, &ix, e);
	free(ix.hashes);
	return rc;
}

int slot_blocks_forget(const char *state_dir, const char *slot, struct error *e)
{
	char path[4096];

	if (slot_blocks_path(state_dir, slot, path, sizeof(path)) < 0)
		return err_set(e, UPD_EXIT_OTHER, ENAMETOOLONG, "%s: path too long", state_dir);
	if (unlink(path) < 0)
		return errno == ENOENT ? 0
				       : err_set(e, UPD_EXIT_OTHER, errno, "remove %s: %s", path,
						 strerror(errno));
	return fsync_dir_of(path, e);
}

/* The header's fields; the record's expected size. */
static int parse_head(const char *head, const char *id, uint32_t block_size, uint64_t *nblocks,
		      struct error *e)
{
	char hex[65] = "", end = 0;
	uint64_t size = 0;
	uint32_t bs = 0;
	int hash_len = 0;

	if (memchr(head, '\n', SLOT_BLOCKS_HEAD) == NULL ||
	    sscanf(head, MAGIC " %64s %" SCNu64 " %" SCNu32 " %d%c", hex, &size, &bs, &hash_len,
		   &end) != 5 || end != '\n')
		return err_set(e, UPD_EXIT_OTHER, EBADMSG, "not a slot block record");
	if (id && strcasecmp(hex, id) != 0)
		return err_set(e, UPD_EXIT_OTHER, ESTALE, "recorded for image %.16s, not %.16s", hex,
			       id);
	if (bs != block_size || hash_len != BUNDLE_INDEX_HASH_LEN || size > BUNDLE_INDEX_IMAGE_MAX)
		return err_set(e, UPD_EXIT_OTHER, EBADMSG,
			       "blocks of %" PRIu32 " bytes, hashes of %d: not this index's", bs,
			       hash_len);
	*nblocks = (size + bs - 1) / bs;
	return 0;
}

/* Ours, as every file in state_dir: a regular file (not followed through a
 * symlink: O_NOFOLLOW), of our uid, that only we may write. */
static int check_file(int fd, uint64_t want, struct error *e)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return err_set(e, UPD_EXIT_OTHER, errno, "stat: %s", strerror(errno));
	if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 022))
		return err_set(e, UPD_EXIT_OTHER, EPERM,
			       "not a regular file of uid %u that only it may write",
			       (unsigned)geteuid());
	if ((uint64_t)st.st_size != want)
		return err_set(e, UPD_EXIT_OTHER, EBADMSG, "%lld bytes, the header implies %" PRIu64,
			       (long long)st.st_size, want);
	return 0;
}

static int map_record(int fd, const char *id, uint32_t block_size, struct slot_blocks *b,
		      struct error *e)
{
	char head[SLOT_BLOCKS_HEAD];
	ssize_t got = pread(fd, head, sizeof(head), 0);
	int rc;

	if (got != (ssize_t)sizeof(head))
		return err_set(e, UPD_EXIT_OTHER, got < 0 ? errno : EBADMSG, "short header");
	if ((rc = parse_head(head, id, block_size, &b->nblocks, e)) < 0 ||
	    (rc = check_file(fd, SLOT_BLOCKS_HEAD + b->nblocks * BUNDLE_INDEX_HASH_LEN, e)) < 0)
		return rc;
	b->map_len = SLOT_BLOCKS_HEAD + b->nblocks * BUNDLE_INDEX_HASH_LEN;
	b->map = mmap(NULL, b->map_len, PROT_READ, MAP_SHARED, fd, 0);
	if (b->map == MAP_FAILED)
		return err_set(e, UPD_EXIT_OTHER, errno, "mmap: %s", strerror(errno));
	b->hashes = (const uint8_t *)b->map + SLOT_BLOCKS_HEAD;
	b->block_size = block_size;
	return 0;
}

int slot_blocks_open(const char *state_dir, const char *slot, const char *id, uint32_t block_size,
		     struct slot_blocks *b, struct error *e)
{
	char path[4096];
	int fd, rc;

	memset(b, 0, sizeof(*b));
	if (slot_blocks_path(state_dir, slot, path, sizeof(path)) < 0)
		return err_set(e, UPD_EXIT_OTHER, ENAMETOOLONG, "%s: path too long", state_dir);
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ENOENT
				       : err_set(e, UPD_EXIT_OTHER, errno, "%s: %s", path,
						 strerror(errno));
	rc = map_record(fd, id, block_size, b, e);
	close(fd);
	if (rc < 0) {
		err_prefix(e, "%s", path);
		memset(b, 0, sizeof(*b));
	}
	return rc;
}

void slot_blocks_release(const struct slot_blocks *b)
{
	if (b && b->map)
		madvise(b->map, b->map_len, MADV_DONTNEED);
}

void slot_blocks_close(struct slot_blocks *b)
{
	if (b->map)
		munmap(b->map, b->map_len);
	memset(b, 0, sizeof(*b));
}

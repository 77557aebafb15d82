#include "image_id.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../bundle/index.h"
#include "../../lib/digest.h"
#include "../../lib/fsutil.h"
#include "../../lib/io.h"
#include "../../lib/log.h"
#include "block_hasher.h"

/* Every superblock looked at lies in the first 4 KiB: squashfs's at 0,
 * ext4's and erofs's at 1024. */
#define HEAD 4096
#define HASH_CHUNK (1u << 20) /* a multiple of BUNDLE_BLOCK_SIZE */

#define EXT4_MAGIC 0xEF53
#define EXT4_INCOMPAT_64BIT 0x80
#define SQUASHFS_MAGIC 0x73717368u /* "hsqs" */
#define EROFS_MAGIC 0xE0F5E1E2u
/* mksquashfs pads its image to a multiple of 4 KiB (unless -nopad). */
#define SQUASHFS_PAD 4096

static uint64_t le(const uint8_t *p, int n)
{
	uint64_t v = 0;
	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* blocks of 2^shift bytes, checked against the slot before multiplying. */
static int blocks_length(uint64_t blocks, unsigned shift, uint64_t slot_size, const char *fs,
			 uint64_t *len, struct error *e)
{
	if (blocks == 0 || blocks > (slot_size >> shift))
		return err_set(e, UPD_EXIT_OTHER, EINVAL,
			       "%s superblock: %llu blocks of %llu bytes, the slot holds %llu bytes", fs,
			       (unsigned long long)blocks, 1ull << shift,
			       (unsigned long long)slot_size);
	*len = blocks << shift;
	return 0;
}

/* ext4 (and ext2/3): s_blocks_count_lo at 4, s_log_block_size at 24,
 * s_magic at 56, s_feature_incompat at 96, s_blocks_count_hi at 0x150. */
static int ext4_length(const uint8_t *sb, uint64_t slot_size, uint64_t *len, struct error *e)
{
	uint64_t log = le(sb + 24, 4), blocks = le(sb + 4, 4);

	if (log > 6) /* 1 KiB to 64 KiB blocks */
		return err_set(e, UPD_EXIT_OTHER, EINVAL, "ext4 superblock: block size 2^%llu KiB",
			       (unsigned long long)log);
	if (le(sb + 96, 4) & EXT4_INCOMPAT_64BIT)
		blocks |= le(sb + 0x150, 4) << 32;
	return blocks_length(blocks, 10 + (unsigned)log, slot_size, "ext4", len, e);
}

/* squashfs 4: s_major at 28, bytes_used at 40 (the image without padding). */
static int squashfs_length(const uint8_t *sb, uint64_t slot_size, uint64_t *len,
			   struct error *e)
{
	uint64_t used = le(sb + 40, 8);

	if (le(sb + 28, 2) != 4)
		return err_set(e, UPD_EXIT_OTHER, EINVAL, "squashfs superblock: version %llu, not 4",
			       (unsigned long long)le(sb + 28, 2));
	if (used == 0 || used > slot_size - slot_size % SQUASHFS_PAD)
		return err_set(e, UPD_EXIT_OTHER, EINVAL,
			       "squashfs superblock: %llu bytes used, the slot holds %llu bytes",
			       (unsigned long long)used, (unsigned long long)slot_size);
	*len = (used + SQUASHFS_PAD - 1) / SQUASHFS_PAD * SQUASHFS_PAD;
	return 0;
}

/* erofs: blkszbits at 12, blocks at 36. */
static int erofs_length(const uint8_t *sb, uint64_t slot_size, uint64_t *len, struct error *e)
{
	unsigned bits = sb[12];

	if (bits < 9 || bits > 16)
		return err_set(e, UPD_EXIT_OTHER, EINVAL, "erofs superblock: block size 2^%u", bits);
	return blocks_length(le(sb + 36, 4), bits, slot_size, "erofs", len, e);
}

int image_fs_length(int fd, uint64_t slot_size, uint64_t *len, const char **fstype,
		    struct error *e)
{
	uint8_t head[HEAD] = { 0 };
	ssize_t n = io_pread_full(fd, head, sizeof(head), 0);

	if (n < 0)
		return err_set(e, UPD_EXIT_OTHER, (int)-n, "read the superblock: %s", strerror((int)-n));
	if ((uint64_t)n > slot_size)
		n = (ssize_t)slot_size;
	/* Only bytes of the slot count: a short read leaves zeros, no magic. */
	memset(head + n, 0, sizeof(head) - (size_t)n);
	*fstype = le(head, 4) == SQUASHFS_MAGIC		 ? "squashfs"
		  : le(head + 1024 + 56, 2) == EXT4_MAGIC ? "ext4"
		  : le(head + 1024, 4) == EROFS_MAGIC	 ? "erofs"
							 : NULL;
	if (!*fstype)
		return err_set(e, UPD_EXIT_OTHER, ENOENT, "no ext4, squashfs or erofs superblock");
	if (strcmp(*fstype, "squashfs") == 0)
		return squashfs_length(head, slot_size, len, e);
	if (strcmp(*fstype, "ext4") == 0)
		return ext4_length(head + 1024, slot_size, len, e);
	return erofs_length(head + 1024, slot_size, len, e);
}

int image_hash(int fd, uint64_t len, uint8_t sha256[32], uint8_t *block_hashes)
{
	const uint32_t bs = BUNDLE_BLOCK_SIZE;
	struct block_hasher *h = NULL;
	struct sha256_ctx *c = sha256_new();
	uint8_t *buf = malloc(HASH_CHUNK);
	int rc = c && buf && (!block_hashes || block_hasher_new(&h) == 0) ? 0 : -ENOMEM;

	io_prefetch(fd, 0, 8 * HASH_CHUNK);
	for (uint64_t off = 0; rc == 0 && off < len; off += HASH_CHUNK) {
		size_t n = len - off < HASH_CHUNK ? (size_t)(len - off) : HASH_CHUNK;
		ssize_t got = io_pread_full(fd, buf, n, off);
		io_prefetch(fd, off + 8 * HASH_CHUNK, HASH_CHUNK);
		if (got != (ssize_t)n) {
			rc = got < 0 ? (int)got : -ENODATA;
			break;
		}
		sha256_update(c, buf, n);
		if (!h)
			continue;
		memset(buf + n, 0, (bs - n % bs) % bs); /* the index pads a short block */
		block_hasher_run(h, buf, (n + bs - 1) / bs, bs,
				 block_hashes + off / bs * BUNDLE_INDEX_HASH_LEN);
	}
	if (rc == 0) {
		sha256_final(c, sha256);
		c = NULL;
	}
	sha256_free(c);
	block_hasher_free(h);
	free(buf);
	return rc;
}

int image_length(int fd, const char *path, uint64_t *len, const char **fstype)
{
	struct error why = { 0 };
	uint64_t size = 0;
	int rc = file_or_blockdev_size(fd, &size);

	if (rc == 0 && image_fs_length(fd, size, len, fstype, &why) < 0) {
		log_debug("%s: %s: the whole slot is the image", path, why.msg);
		*len = size;
		*fstype = NULL;
	}
	return rc;
}

int image_id(const char *path, uint8_t sha256[32], uint64_t *len, const char **fstype,
	     struct error *e)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc;

	if (fd < 0)
		return err_set(e, UPD_EXIT_OTHER, errno, "image id of %s: %s", path, strerror(errno));
	rc = image_length(fd, path, len, fstype);
	if (rc == 0)
		rc = image_hash(fd, *len, sha256, NULL);
	close(fd);
	if (rc < 0)
		return err_set(e, UPD_EXIT_OTHER, -rc, "image id of %s: %s", path, strerror(-rc));
	return 0;
}

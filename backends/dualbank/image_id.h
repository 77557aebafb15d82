/* The id of the image a slot holds (the SHA-256 of its bytes) when the
 * updater did not write it: a factory image, or a device that never ran an
 * install of this updater. A slot is often larger than its image, so the
 * image's length comes from its file system's superblock (ext4, squashfs,
 * erofs); a slot whose superblock is not recognised is hashed whole. */
#pragma once
#include <stdint.h>

#include "../../lib/error.h"

/* The length of the file system image at the start of fd, a slot of
 * slot_size bytes, read from its superblock alone: 0 with *len and *fstype
 * ("ext4", "squashfs", "erofs"); -ENOENT when no known superblock is there,
 * -EINVAL when one is but does not hold (a field out of range, a length of
 * 0 or larger than the slot), -errno when the slot cannot be read. */
int image_fs_length(int fd, uint64_t slot_size, uint64_t *len, const char **fstype,
		    struct error *e);

/* The length of the image at the start of the slot fd: image_fs_length()'s,
 * else the whole slot's (*fstype NULL then; the reason is logged at debug
 * level, path names the slot). 0 or -errno. */
int image_length(int fd, const char *path, uint64_t *len, const char **fstype);

/* SHA-256 of fd's first len bytes, read with pread ahead of a prefetch
 * (faster than faulting a mapping in, and nothing stays in this process's
 * RSS); block_hashes, when not NULL: also the index hashes (bundle/index.h)
 * of its blocks of BUNDLE_BLOCK_SIZE, the last one padded with zeros, from
 * the same read. 0, -ENODATA when fd is shorter, -ENOMEM, or -errno. */
int image_hash(int fd, uint64_t len, uint8_t sha256[32], uint8_t *block_hashes);

/* SHA-256 of the image at the start of the slot at path: of the length
 * image_fs_length() gives, else of the whole slot (*fstype NULL then).
 * *len: the bytes hashed. 0 or -errno. */
int image_id(const char *path, uint8_t sha256[32], uint64_t *len, const char **fstype,
	     struct error *e);

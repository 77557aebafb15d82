/* The block hashes of the image a slot holds, recorded when this updater
 * wrote and verified it (<state_dir>/dualbank-<slot>.blocks): when that slot
 * is the active one, a delta install reads only the active blocks whose
 * recorded hash it needs instead of the whole slot (docs/dualbank.md,
 * "Recorded slot blocks").
 *
 * A record is a hint, never a proof: every block read by it is hashed again
 * against the new release's signed index before it is used (a block the
 * running system changed since, an ext4 superblock written at mount, is
 * downloaded instead), so a stale, damaged or planted record costs
 * downloads, not correctness. It is used only for the image id the core
 * names as booted, and only when the file is a regular file of the
 * updater's own uid, not writable by group or others, of exactly the size
 * its header implies.
 *
 * File: a 128-byte text header, "updater-slot-blocks 1 <image sha256 hex>
 * <image size> <block size> <hash length>\n" padded with NULs, then the
 * image's block hashes in block order (the format-3 index's). */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "../../bundle/index.h"
#include "../../lib/error.h"

#define SLOT_BLOCKS_HEAD 128

struct slot_blocks {
	const uint8_t *hashes; /* nblocks x BUNDLE_INDEX_HASH_LEN, mapped read-only */
	uint64_t nblocks;
	uint32_t block_size;
	void *map;
	size_t map_len;
};

/* <state_dir>/dualbank-<slot>.blocks into path (size bytes). */
int slot_blocks_path(const char *state_dir, const char *slot, char *path, size_t size);

/* Records that slot holds the image of sha256 (image_size bytes) whose
 * block hashes ix holds (format 3), atomically. */
int slot_blocks_save(const char *state_dir, const char *slot, const uint8_t sha256[32],
		     uint64_t image_size, const struct bundle_index *ix, struct error *e);

/* Records the image that is fd's first len bytes (a slot the updater did
 * not write: a factory image, at init), its blocks of BUNDLE_BLOCK_SIZE
 * hashed as the index hashes them; sha256: the image's SHA-256, from the
 * same read of the slot. */
int slot_blocks_adopt(const char *state_dir, const char *slot, int fd, uint64_t len,
		      uint8_t sha256[32], struct error *e);

/* Removes slot's record (durably): called before a slot is written. 0 when
 * there is none. */
int slot_blocks_forget(const char *state_dir, const char *slot, struct error *e);

/* Maps slot's record when it describes the image of hex id (64 hex digits;
 * NULL: whichever image it names) in blocks of block_size. 0 and *b set;
 * -ENOENT when there is none; other negative errnos when it is unusable (e
 * says why). On failure *b holds nothing to close. */
int slot_blocks_open(const char *state_dir, const char *slot, const char *id, uint32_t block_size,
		     struct slot_blocks *b, struct error *e);
void slot_blocks_close(struct slot_blocks *b);

/* Drops the mapping's page table entries (b may be NULL): its pages stay
 * in the page cache, out of this process's RSS (16 bytes a block: 4 MiB
 * for a 1 GiB image once walked); what is read next faults back in. */
void slot_blocks_release(const struct slot_blocks *b);

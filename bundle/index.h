/* Format 3's block index (docs/bundle-format.md, "Index"): a section between
 * the head and the payload, signed through the manifest's index-size and
 * index-sha256. Stored as one zstd frame whose content is
 *   nframes x u32 little-endian: each frame's compressed size in the payload
 *   nblocks x 16 bytes: SHA-256 of each 4 KiB block of the image, truncated
 * where nblocks = ceil(image-size / block-size) (a short last block is hashed
 * padded with zeros to block-size) and nframes = ceil(image-size /
 * frame-size), at least 1 (an empty image is one empty frame).
 * Memory: the parsed index is 16 bytes per block plus 8 per frame, about
 * 4.5 MiB for a 1 GiB image (16 KiB frames); BUNDLE_INDEX_IMAGE_MAX bounds it.
 * Format 4 (a static delta) stores instead
 *   nframes x u32: each frame's compressed size (nframes = ceil(delta-data-size
 *                  / frame-size), 0 without data)
 *   nframes x 16 bytes: SHA-256 of each frame's decoded content, truncated
 *   nblocks x u32: an op per block of the new image (below)
 * parsed into ops (4 bytes per block) and frame hashes. Format 5 (a static
 * delta whose frames may refer to the new image) adds
 *   nframes x u32: the blocks of the new image that follow the source in
 *                  frame f's prefix (0: the source alone, as in format 4),
 *                  at most the image block of the frame's first data block
 * so that a frame refers only to blocks a device has made final before it. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../lib/digest.h"
#include "../lib/error.h"
#include "../lib/source.h"
#include "bundle.h"

#define BUNDLE_INDEX_HASH_LEN 16
/* The largest image a format-3 bundle may describe: its index stays below
 * 64 MiB decoded (16 GiB of image at 16 bytes per 4 KiB block). */
#define BUNDLE_INDEX_IMAGE_MAX ((uint64_t)16 << 30)

/* Format 4's ops, one per block of the new image (u32 little-endian). */
#define BUNDLE_OP_DATA 0u /* the next block of the decoded payload */
#define BUNDLE_OP_ZERO 1u /* all zeros */
/* 2 + zigzag(s - i): a copy of the source image's block s into block i;
 * zigzag(d) = d >= 0 ? 2d : -2d - 1. */
#define BUNDLE_OP_COPY_BASE 2u

struct bundle_index {
	int format;             /* 3, 4 or 5 */
	uint32_t block_size, frame_size;
	uint64_t nblocks, nframes;
	uint8_t *hashes;        /* format 3: nblocks x BUNDLE_INDEX_HASH_LEN; format 4: NULL */
	/* format 4 (NULL / 0 in format 3): */
	uint32_t *ops;          /* nblocks ops, host order, each checked when parsed */
	uint8_t *frame_hashes;  /* nframes x BUNDLE_INDEX_HASH_LEN: each frame's decoded content */
	uint64_t ndata;         /* blocks whose op is BUNDLE_OP_DATA */
	uint32_t *frame_first;  /* nframes: the image block of each frame's first data block */
	uint64_t *frame_offset; /* nframes + 1: frame i is payload bytes
				 * [frame_offset[i], frame_offset[i + 1]);
				 * frame_offset[nframes] = payload-size */
	/* format 5 (NULL before): per frame, the new image's blocks [0, n) that
	 * follow the source's in its prefix; n > 0 only when the source is
	 * whole blocks and the window holds source, n blocks and a frame. */
	uint32_t *prefix_blocks;
};

/* The decoded index's size for m (format 3 or 4), and the most its stored section
 * may take (the zstd bound of that); -EFBIG when m's image exceeds
 * BUNDLE_INDEX_IMAGE_MAX. */
int bundle_index_raw_size(const struct manifest *m, uint64_t *raw);
int bundle_index_stored_max(const struct manifest *m, uint64_t *max);

/* nblocks and nframes of m's index (formats 3 and 4, as the manifest parser bounds it). */
void bundle_index_counts(const struct manifest *m, uint64_t *nblocks, uint64_t *nframes);

/* Parses the index section (buf, len: exactly as stored) of the bundle whose
 * verified manifest is m: checks len against index-size and the SHA-256
 * against index-sha256 before decoding anything, then that it decodes to
 * exactly the size m implies (never allocating more: a decompression bomb
 * fails) and that the frame sizes are non-zero, within zstd's bound of
 * frame-size and sum to payload-size; format 4: every copy reads a whole
 * block of the source (s < delta-source-size / 4096, rounded down) and the
 * data blocks hold delta-data-size bytes; format 5: each frame's prefix
 * blocks as prefix_blocks says. Errors: UPD_EXIT_VERIFY (-EBADMSG)
 * naming the cause, or out of memory. On failure *ix holds nothing to free. */
int bundle_index_parse(const uint8_t *buf, size_t len, const struct manifest *m,
		       struct bundle_index *ix, struct error *e);
void bundle_index_free(struct bundle_index *ix);

/* Reads and parses the head of o's bundle (one request for its first
 * BUNDLE_HEAD_MAX bytes; *total: the file's size where the source knows it,
 * else UINT64_MAX) and keeps the index's first bytes that came with it
 * (h->index_start, unverified until bundle_index_fetch checks them). A file
 * shorter than its header says: UPD_EXIT_VERIFY. On failure *h holds nothing
 * to free; the size is not checked (bundle_check_size). */
int bundle_head_fetch(const struct source_opts *o, struct bundle_head *h, uint64_t *total,
		      struct error *e);

/* Reads the index section of h's bundle from o (one range request) and
 * parses it (bundle_index_parse), so that nothing is kept unless it matches
 * the signed manifest. Download errors as source_stream's. */
int bundle_index_fetch(const struct source_opts *o, const struct bundle_head *h,
		       struct bundle_index *ix, struct error *e);

/* Format 4: the source block op (< BUNDLE_OP_COPY_BASE: none) copies into
 * block i, and op for a copy of source block s into block i. */
uint64_t bundle_op_source(uint32_t op, uint64_t i);
uint32_t bundle_op_copy(uint64_t s, uint64_t i);
/* Format 4: whether a frame's decoded content (len bytes) has the hash the
 * index gives frame f. */
bool bundle_index_frame_matches_with(struct sha256_ctx *c, const struct bundle_index *ix,
				     uint64_t f, const uint8_t *data, size_t len);
/* Whether a frame's hash computed by the caller (its SHA-256, or at least
 * its first BUNDLE_INDEX_HASH_LEN bytes) is the one the index gives frame f. */
bool bundle_index_frame_hash_is(const struct bundle_index *ix, uint64_t f, const uint8_t *sha256);

/* Whether data (block_size bytes; the image's last block padded with zeros)
 * has the hash the index gives block i (i < nblocks). */
bool bundle_index_block_matches(const struct bundle_index *ix, uint64_t i, const uint8_t *data);
/* The frame holding block i. */
uint64_t bundle_index_frame_of(const struct bundle_index *ix, uint64_t i);
/* Hash of one block as the index stores it (out: BUNDLE_INDEX_HASH_LEN bytes). */
void bundle_index_hash_block(const uint8_t *data, size_t block_size, uint8_t *out);
/* The same two with a reusable context (sha256_new; lib/digest.h), for the
 * many blocks of a delta install: no per-block OpenSSL set-up. */
void bundle_index_hash_block_with(struct sha256_ctx *c, const uint8_t *data, size_t block_size,
				  uint8_t *out);
bool bundle_index_block_matches_with(struct sha256_ctx *c, const struct bundle_index *ix,
				     uint64_t i, const uint8_t *data);

/* The block hashes of a run of 4 KiB blocks on two threads: hashing is most
 * of a delta install's scans of the slots (docs/dualbank.md, "Delta
 * install"), and a device has more than one core. */
#pragma once
#include <stdint.h>

struct block_hasher;

/* On failure *out is NULL and there is nothing to free (-ENOMEM). */
int block_hasher_new(struct block_hasher **out);
void block_hasher_free(struct block_hasher *h);

/* out[k * BUNDLE_INDEX_HASH_LEN ...]: the index hash (bundle/index.h) of
 * block k of the n blocks of block_size bytes at buf. Never fails: when the
 * second thread cannot start, the caller's thread hashes every block. */
void block_hasher_run(struct block_hasher *h, const uint8_t *buf, uint64_t n,
		      uint32_t block_size, uint8_t *out);

/* Block hashes on two threads (block_hasher.h). A thread per call: a call
 * hashes a whole chunk (256 blocks of a MiB), so starting a thread costs
 * about a hundredth of the hashing it takes over. */
#include "block_hasher.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "../../bundle/index.h"
#include "../../lib/digest.h"

/* Below this many blocks the second thread is not worth starting. */
#define MIN_SPLIT 16

struct half {
	struct sha256_ctx *c;
	const uint8_t *buf;
	uint64_t n;
	uint32_t bs;
	uint8_t *out;
};

struct block_hasher {
	struct half part[2];
};

int block_hasher_new(struct block_hasher **out)
{
	struct block_hasher *h = calloc(1, sizeof(*h));

	*out = NULL;
	if (!h)
		return -ENOMEM;
	h->part[0].c = sha256_new();
	h->part[1].c = sha256_new();
	if (!h->part[0].c || !h->part[1].c) {
		block_hasher_free(h);
		return -ENOMEM;
	}
	*out = h;
	return 0;
}

void block_hasher_free(struct block_hasher *h)
{
	if (!h)
		return;
	sha256_free(h->part[0].c);
	sha256_free(h->part[1].c);
	free(h);
}

static void *hash_half(void *arg)
{
	struct half *p = arg;

	for (uint64_t k = 0; k < p->n; k++)
		bundle_index_hash_block_with(p->c, p->buf + k * p->bs, p->bs,
					     p->out + k * BUNDLE_INDEX_HASH_LEN);
	return NULL;
}

void block_hasher_run(struct block_hasher *h, const uint8_t *buf, uint64_t n,
		      uint32_t block_size, uint8_t *out)
{
	uint64_t first = n < MIN_SPLIT ? n : n / 2;
	pthread_t t;
	bool second;

	h->part[0] = (struct half){ h->part[0].c, buf, first, block_size, out };
	h->part[1] = (struct half){ h->part[1].c, buf + first * block_size, n - first, block_size,
				    out + first * BUNDLE_INDEX_HASH_LEN };
	second = n > first && pthread_create(&t, NULL, hash_half, &h->part[1]) == 0;
	hash_half(&h->part[0]);
	if (second)
		pthread_join(t, NULL);
	else
		hash_half(&h->part[1]);
}

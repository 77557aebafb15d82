/* Hand-made index sections (formats 3 and 4) for the tests of
 * bundle_index_parse: sealed as `bundle create` signs them, and the check
 * that a broken one is refused with its cause and nothing kept. */
#pragma once
#include <errno.h>

#include <openssl/sha.h>
#include <zstd.h>

#include "../../bundle/index.h"

/* raw (the decoded index) compressed into stored (cap bytes), and m's
 * index-size and index-sha256 set to match it; returns the stored length. */
static inline size_t tu_index_seal(const uint8_t *raw, size_t raw_len, uint8_t *stored,
				   size_t cap, struct manifest *m)
{
	size_t n = ZSTD_compress(stored, cap, raw, raw_len, 3);

	assert_false(ZSTD_isError(n));
	m->index_size = n;
	SHA256(stored, n, m->index_sha256);
	return n;
}

/* bundle_index_parse refuses stored[0..len) with -EBADMSG, UPD_EXIT_VERIFY
 * and a message holding msg, and leaves nothing in the index. */
static inline void tu_index_refused(const uint8_t *stored, size_t len, const struct manifest *m,
				    const char *msg)
{
	struct bundle_index ix;
	struct error e = {0};

	memset(&ix, 0x5a, sizeof(ix));
	int r = bundle_index_parse(stored, len, m, &ix, &e);
	if (r != -EBADMSG || e.exit != UPD_EXIT_VERIFY || !strstr(e.msg, msg))
		fail_msg("want %s, got %d: %s", msg, r, e.msg);
	assert_true(!ix.hashes && !ix.ops && !ix.frame_hashes && !ix.frame_offset);
}

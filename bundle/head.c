/* A bundle's head: the fixed header, then the manifest and signature it
 * frames (bundle.h for the layout, docs/bundle-format.md for the rationale). */
#include "bundle.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/log.h"


static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int head_want(size_t *need, size_t n)
{
	if (need)
		*need = n;
	return -EAGAIN;
}

/* Lengths are checked before anything is allocated or awaited, so a hostile
 * header can make a reader wait for at most BUNDLE_HEAD_MAX bytes. */
static int head_check_lengths(uint32_t mlen, uint32_t slen, struct error *e)
{
	if (mlen == 0)
		return err_set(e, UPD_EXIT_VERIFY, EBADMSG, "bundle manifest length is 0");
	if (mlen > BUNDLE_MANIFEST_MAX)
		return err_set(e, UPD_EXIT_VERIFY, EBADMSG, "manifest length %" PRIu32 " exceeds %d",
			       mlen, BUNDLE_MANIFEST_MAX);
	if (slen > BUNDLE_SIG_MAX)
		return err_set(e, UPD_EXIT_VERIFY, EBADMSG, "signature length %" PRIu32 " exceeds %d",
			       slen, BUNDLE_SIG_MAX);
	return 0;
}

static int head_fill(const uint8_t *buf, size_t mlen, size_t slen, struct bundle_head *h,
		     struct error *e)
{
	const uint8_t *text = buf + BUNDLE_FIXED_HEADER;
	int r = manifest_parse((const char *)text, mlen, &h->manifest, e);

	if (r < 0)
		return r;
	/* Every reader computes payload_offset + payload-size (where the bundle
	 * ends, the range to stream); a sum that wraps would make a huge payload
	 * look short and pass the checks against the file's size. */
	uint64_t offset = BUNDLE_FIXED_HEADER + mlen + slen;
	/* index-size is at most a few times 2^26 (the manifest bounds it), so
	 * the sum below cannot wrap. */
	uint64_t before = offset + h->manifest.index_size;
	if (h->manifest.payload_size > UINT64_MAX - before) {
		err_set(e, UPD_EXIT_VERIFY, EBADMSG,
			"manifest: payload-size %" PRIu64 " does not fit after the %" PRIu64
			"-byte head and index",
			h->manifest.payload_size, before);
		memset(&h->manifest, 0, sizeof(h->manifest));
		return -EBADMSG;
	}
	h->manifest_text = malloc(mlen + 1);
	h->sig = slen ? malloc(slen) : NULL;
	if (!h->manifest_text || (slen && !h->sig)) {
		bundle_head_free(h);
		return err_oom(e, NULL);
	}
	memcpy(h->manifest_text, text, mlen);
	h->manifest_text[mlen] = '\0';
	h->manifest_len = mlen;
	if (slen)
		memcpy(h->sig, text + mlen, slen);
	h->sig_len = slen;
	h->index_offset = offset;
	h->payload_offset = before;
	return 0;
}

int bundle_head_parse(const uint8_t *buf, size_t len, struct bundle_head *h, size_t *need,
		      struct error *e)
{
	memset(h, 0, sizeof(*h));
	/* Checking the magic on whatever prefix is there rejects a wrong file
	 * (an HTML error page, a raw image) on its first bytes. */
	if (len > 0 && memcmp(buf, BUNDLE_MAGIC, len < BUNDLE_MAGIC_LEN ? len : BUNDLE_MAGIC_LEN) != 0)
		return err_set(e, UPD_EXIT_VERIFY, EBADMSG, "not an updater bundle (bad magic)");
	if (len < BUNDLE_FIXED_HEADER)
		return head_want(need, BUNDLE_FIXED_HEADER);

	uint32_t mlen = get_be32(buf + 8), slen = get_be32(buf + 12);
	int r = head_check_lengths(mlen, slen, e);
	if (r < 0)
		return r;
	size_t total = BUNDLE_FIXED_HEADER + (size_t)mlen + slen;
	if (len < total)
		return head_want(need, total);
	if (need)
		*need = total;
	return head_fill(buf, mlen, slen, h, e);
}

void bundle_head_free(struct bundle_head *h)
{
	if (!h)
		return;
	free(h->manifest_text);
	free(h->sig);
	free(h->index_start);
	memset(h, 0, sizeof(*h));
}

int bundle_check_size(const struct bundle_head *h, uint64_t total, struct error *e)
{
	uint64_t end = h->payload_offset + h->manifest.payload_size;

	if (total == UINT64_MAX)
		return 0;
	if (total < end)
		return err_set(e, UPD_EXIT_VERIFY, ENODATA,
			       "bundle truncated: %" PRIu64 " bytes, its manifest needs %" PRIu64,
			       total, end);
	if (total > end)
		log_warn("bundle has %" PRIu64 " bytes after its payload; they are ignored",
			 total - end);
	return 0;
}

/* The bundle head parser (bundle_head_parse: magic, the two length fields,
 * the manifest) over the input as the first bytes of a bundle, checked
 * against the contract in bundle.h: a prefix is either refused, or asks for
 * at most BUNDLE_HEAD_MAX bytes, or yields a head that lies inside it. */
#include <errno.h>
#include <string.h>

#include "../../bundle/bundle.h"
#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	return 0;
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bundle_head h;
	struct error e = {0};
	size_t need = 0;
	int r = bundle_head_parse(data, size, &h, &need, &e);

	if (r == -EAGAIN) {
		FUZZ_CHECK(need > size && need <= BUNDLE_HEAD_MAX && !err_isset(&e));
		FUZZ_CHECK(h.manifest_text == NULL && h.sig == NULL);
		return 0;
	}
	if (r < 0) {
		FUZZ_CHECK(r == -EBADMSG && e.exit == UPD_EXIT_VERIFY && e.msg[0]);
		FUZZ_CHECK(h.manifest_text == NULL && h.sig == NULL);
		return 0;
	}
	FUZZ_CHECK(r == 0 && size >= BUNDLE_FIXED_HEADER);
	size_t mlen = be32(data + 8), slen = be32(data + 12);
	FUZZ_CHECK(h.manifest_len == mlen && h.sig_len == slen);
	FUZZ_CHECK(h.index_offset == BUNDLE_FIXED_HEADER + mlen + slen);
	FUZZ_CHECK(h.payload_offset == h.index_offset + h.manifest.index_size);
	FUZZ_CHECK(h.manifest.format >= 3 || h.manifest.index_size == 0);
	FUZZ_CHECK(need == h.index_offset && need <= size && need <= BUNDLE_HEAD_MAX);
	FUZZ_CHECK(memcmp(h.manifest_text, data + BUNDLE_FIXED_HEADER, mlen) == 0);
	FUZZ_CHECK(h.manifest_text[mlen] == '\0');
	FUZZ_CHECK(slen == 0 || memcmp(h.sig, data + BUNDLE_FIXED_HEADER + mlen, slen) == 0);
	/* The head must not run past where its payload is said to end. */
	FUZZ_CHECK(h.manifest.payload_size <= UINT64_MAX - h.payload_offset);
	/* The same head one byte short is not enough, and says how much is. */
	struct bundle_head h2;
	size_t need2 = 0;
	FUZZ_CHECK(bundle_head_parse(data, need - 1, &h2, &need2, &e) == -EAGAIN);
	FUZZ_CHECK(need2 == need);
	bundle_head_free(&h);
	FUZZ_CHECK(h.manifest_text == NULL);
	return 0;
}

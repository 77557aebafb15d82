/* SHA-256 and hex helpers. The hashing itself is OpenSSL's EVP interface, which
 * picks SHA-NI / ARMv8 crypto extensions at run time; nothing is hand-written. */
#include "digest.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

struct sha256_ctx {
	EVP_MD_CTX *md;
	/* An EVP failure (practically only allocation) is sticky: the final
	 * digest is then all zeros, which matches no real image, so a caller
	 * comparing digests fails closed instead of trusting a partial hash. */
	bool failed;
};

struct sha256_ctx *sha256_new(void)
{
	struct sha256_ctx *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->md = EVP_MD_CTX_new();
	if (!c->md || EVP_DigestInit_ex(c->md, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(c->md);
		free(c);
		return NULL;
	}
	return c;
}

void sha256_update(struct sha256_ctx *c, const void *data, size_t len)
{
	if (!c || c->failed || len == 0)
		return;
	if (EVP_DigestUpdate(c->md, data, len) != 1)
		c->failed = true;
}

void sha256_final(struct sha256_ctx *c, uint8_t out[32])
{
	unsigned int n = 0;

	memset(out, 0, 32);
	if (!c)
		return;
	if (!c->failed && (EVP_DigestFinal_ex(c->md, out, &n) != 1 || n != 32))
		memset(out, 0, 32);
	sha256_free(c);
}

void sha256_oneshot(struct sha256_ctx *c, const void *data, size_t len, uint8_t out[32])
{
	unsigned int n = 0;

	/* A NULL type re-initialises with the digest c already holds. */
	if (!c || EVP_DigestInit_ex2(c->md, NULL, NULL) != 1 ||
	    EVP_DigestUpdate(c->md, data, len) != 1 || EVP_DigestFinal_ex(c->md, out, &n) != 1 ||
	    n != 32)
		memset(out, 0, 32);
}

void sha256_free(struct sha256_ctx *c)
{
	if (!c)
		return;
	EVP_MD_CTX_free(c->md);
	free(c);
}

void hex_encode(const uint8_t *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 0x0f];
	}
	out[2 * len] = '\0';
}

static int hex_nibble(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

int hex_decode(const char *in, uint8_t *out, size_t len)
{
	/* Stops at the first non-hex character, so a short string (its NUL is
	 * not a hex digit) is refused without reading past its end. out is only
	 * written once the whole input is known to be valid. */
	for (size_t i = 0; i < 2 * len; i++)
		if (hex_nibble(in[i]) < 0)
			return -EINVAL;
	for (size_t i = 0; i < len; i++)
		out[i] = (uint8_t)(hex_nibble(in[2 * i]) << 4 | hex_nibble(in[2 * i + 1]));
	return 0;
}

/* SHA-256 through OpenSSL (uses SHA-NI where the CPU has it). */
#pragma once
#include <stddef.h>
#include <stdint.h>

struct sha256_ctx;
struct sha256_ctx *sha256_new(void);
void sha256_update(struct sha256_ctx *c, const void *data, size_t len);
/* Also frees c. Should OpenSSL fail (out of memory), out is all zeros, which
 * matches no real digest, so comparisons fail closed. */
void sha256_final(struct sha256_ctx *c, uint8_t out[32]);
void sha256_free(struct sha256_ctx *c);                   /* without a digest */
/* The digest of data alone with c (made by sha256_new, whatever it hashed
 * before), c kept for the next call: for many small buffers, without
 * OpenSSL's per-digest set-up (a context and an algorithm fetch each). All
 * zeros should OpenSSL fail. */
void sha256_oneshot(struct sha256_ctx *c, const void *data, size_t len, uint8_t out[32]);
void hex_encode(const uint8_t *in, size_t len, char *out); /* out: 2*len+1 */
/* Decodes the first 2*len characters of in (hex digits, either case) into
 * len bytes: 0, or -EINVAL if any is not a hex digit (a shorter string fails
 * at its NUL; nothing after the 2*len characters is read). out is written
 * only on success. */
int hex_decode(const char *in, uint8_t *out, size_t len);

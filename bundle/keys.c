/* Key types and OpenSSL error reasons (keys.h). */
#include "keys.h"

#include <openssl/err.h>

/* Ed25519 signs the message itself (md must be NULL); ECDSA and RSA sign a
 * SHA-256 digest. *ok is false for key types we do not accept. */
const EVP_MD *bundle_key_md(EVP_PKEY *k, int *ok)
{
	*ok = 1;
	switch (EVP_PKEY_base_id(k)) {
	case EVP_PKEY_ED25519:
		return NULL;
	case EVP_PKEY_EC:
	case EVP_PKEY_RSA:
		return EVP_sha256();
	default:
		*ok = 0;
		return NULL;
	}
}

/* The reason of the most recent OpenSSL error, and a clean queue so a later,
 * unrelated failure does not report this one. */
const char *bundle_ossl_reason(void)
{
	unsigned long code = ERR_peek_last_error();
	const char *r = code ? ERR_reason_error_string(code) : NULL;

	ERR_clear_error();
	return r ? r : "unknown OpenSSL error";
}

/* An Ed25519 key pair in PEM files, for the tests that sign bundles. */
#pragma once
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>

/* Writes a new private key to key and, unless pub is NULL, its public key
 * to pub. 0, or -1 when OpenSSL or a file fails. */
static inline int tu_ed25519_pair(const char *key, const char *pub)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	FILE *f = fopen(key, "w"), *g = pub ? fopen(pub, "w") : NULL;
	int ok = k && f && (!pub || g) && PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL) == 1 &&
		 (!pub || PEM_write_PUBKEY(g, k) == 1);
	if (f)
		fclose(f);
	if (g)
		fclose(g);
	EVP_PKEY_free(k);
	return ok ? 0 : -1;
}

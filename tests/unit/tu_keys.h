/* An Ed25519 key pair in PEM files, for the tests that sign bundles. */
#pragma once
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>

#include "testutil.h"

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

/* A group of tests that sign bundles: a fresh directory holding an Ed25519
 * key pair (key: k.pem, pub: k.pub.pem), made by tu_signer_setup and
 * removed by tu_signer_teardown (cmocka group fixtures); tu_in(name) is a
 * path in that directory (malloc'd). */
struct tu_signer {
	char *dir, *key, *pub;
};

static inline struct tu_signer *tu_signer(void)
{
	static struct tu_signer s;
	return &s;
}

static inline char *tu_in(const char *name)
{
	return tu_path(tu_signer()->dir, name);
}

static inline int tu_signer_setup(void **state)
{
	struct tu_signer *s = tu_signer();
	(void)state;
	s->dir = tu_mkdtemp();
	s->key = tu_in("k.pem");
	s->pub = tu_in("k.pub.pem");
	return tu_ed25519_pair(s->key, s->pub);
}

static inline int tu_signer_teardown(void **state)
{
	struct tu_signer *s = tu_signer();
	(void)state;
	tu_rmtree(s->dir); /* (frees dir) */
	free(s->key), free(s->pub);
	return 0;
}

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

/* A fresh directory holding an Ed25519 key pair (k.pem, k.pub.pem), for the
 * tests that create bundles; its members are freed, and the directory
 * removed, by tu_signer_free. */
struct tu_signer {
	char *dir, *key, *pub;
};

static inline int tu_signer_setup(struct tu_signer *s)
{
	s->dir = tu_mkdtemp();
	if (!s->dir)
		return -1;
	s->key = tu_path(s->dir, "k.pem");
	s->pub = tu_path(s->dir, "k.pub.pem");
	return tu_ed25519_pair(s->key, s->pub);
}

static inline void tu_signer_free(struct tu_signer *s)
{
	tu_rmtree(s->dir); /* frees s->dir */
	free(s->key), free(s->pub);
	s->dir = s->key = s->pub = NULL;
}

/* For a file whose fixture is FX (a static struct tu_signer): path_in(name),
 * a malloc'd path in its directory, and group_setup / group_teardown for
 * cmocka_run_group_tests. */
#define TU_SIGNER_GROUP(fx)                                                     \
	static char *path_in(const char *name)                                  \
	{                                                                       \
		return tu_path((fx).dir, name);                                 \
	}                                                                       \
	static int group_setup(void **state)                                    \
	{                                                                       \
		(void)state;                                                    \
		return tu_signer_setup(&(fx));                                  \
	}                                                                       \
	static int group_teardown(void **state)                                 \
	{                                                                       \
		(void)state;                                                    \
		tu_signer_free(&(fx));                                          \
		return 0;                                                       \
	}

/* The signature check: the manifest bytes against each configured public key.
 * Crypto is OpenSSL's EVP interface; nothing here implements it. */
#include "bundle.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "keys.h"


static int load_pubkey(const char *path, EVP_PKEY **out, struct error *e)
{
	FILE *f = fopen(path, "re");
	int ok;

	if (!f) {
		int err = errno;
		return err_set(e, UPD_EXIT_USAGE, err, "public key %s: %s", path, strerror(err));
	}
	EVP_PKEY *k = PEM_read_PUBKEY(f, NULL, NULL, NULL);
	fclose(f);
	if (!k)
		return err_set(e, UPD_EXIT_USAGE, EINVAL, "public key %s: not a PEM public key (%s)",
			       path, bundle_ossl_reason());
	bundle_key_md(k, &ok);
	if (!ok) {
		EVP_PKEY_free(k);
		return err_set(e, UPD_EXIT_USAGE, EINVAL,
			       "public key %s: unsupported key type (use Ed25519, ECDSA or RSA)",
			       path);
	}
	*out = k;
	return 0;
}

/* 1 when sig is a valid signature of msg under k, else 0. */
static int verify_one(EVP_PKEY *k, const struct bundle_head *h)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok, match = 0;
	const EVP_MD *md = bundle_key_md(k, &ok);

	if (ctx && EVP_DigestVerifyInit(ctx, NULL, md, NULL, k) == 1)
		match = EVP_DigestVerify(ctx, h->sig, h->sig_len,
					 (const unsigned char *)h->manifest_text,
					 h->manifest_len) == 1;
	EVP_MD_CTX_free(ctx);
	ERR_clear_error(); /* a mismatch leaves parse errors queued */
	return match;
}

static int no_match(size_t nkeys, struct error *e)
{
	if (nkeys == 1)
		return err_set(e, UPD_EXIT_VERIFY, EKEYREJECTED,
			       "signature does not match the configured key");
	return err_set(e, UPD_EXIT_VERIFY, EKEYREJECTED,
		       "signature does not match any of the %zu configured keys", nkeys);
}

int bundle_verify_signature(const struct bundle_head *h, char *const *keys, size_t nkeys,
			    size_t *which, struct error *e)
{
	if (h->sig_len == 0 || !h->sig)
		return err_set(e, UPD_EXIT_VERIFY, EKEYREJECTED, "bundle is not signed");
	if (nkeys == 0)
		return err_set(e, UPD_EXIT_USAGE, EINVAL, "no public keys configured");

	EVP_PKEY **pk = calloc(nkeys, sizeof(*pk));
	if (!pk)
		return err_oom(e, NULL);
	/* Every key is loaded before any is tried: a broken key file is a
	 * configuration error to report now, not only on the day the keys
	 * before it stop matching. */
	int r = 0;
	for (size_t i = 0; i < nkeys && r == 0; i++)
		r = load_pubkey(keys[i], &pk[i], e);
	for (size_t i = 0; i < nkeys && r == 0; i++) {
		if (verify_one(pk[i], h)) {
			if (which)
				*which = i;
			break;
		}
		if (i + 1 == nkeys)
			r = no_match(nkeys, e);
	}
	for (size_t i = 0; i < nkeys; i++)
		EVP_PKEY_free(pk[i]);
	free(pk);
	return r;
}

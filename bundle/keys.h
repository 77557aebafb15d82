/* The keys bundles are signed with (Ed25519, ECDSA, RSA): shared by the
 * signature check and by creation. */
#pragma once
#include <openssl/evp.h>

/* The digest a key type signs with: NULL for Ed25519, which signs the message
 * itself, SHA-256 for ECDSA and RSA. *ok is 0 for key types we do not accept. */
const EVP_MD *bundle_key_md(EVP_PKEY *k, int *ok);
/* The reason of the most recent OpenSSL error; the error queue is left empty. */
const char *bundle_ossl_reason(void);

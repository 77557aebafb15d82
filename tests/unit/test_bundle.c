/* Bundle format: manifest text, head parsing, signatures, bundle_create. */
#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <sys/stat.h>

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>
#include <zstd.h>

#include "../../bundle/bundle.h"
#include "../../bundle/create.h"
#include "../../lib/digest.h"

/* ---- fixtures: one temp dir and key pairs shared by all tests ----------- */

struct keypair {
	EVP_PKEY *pkey;
	char *priv, *pub; /* PEM files */
};

static struct {
	char *dir;
	struct keypair ed_a, ed_b, ec, rsa, x25519;
} fx;

static EVP_PKEY *gen_key(int type)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id(type, NULL);
	EVP_PKEY *k = NULL;

	if (!ctx || EVP_PKEY_keygen_init(ctx) != 1)
		goto out;
	if (type == EVP_PKEY_EC &&
	    EVP_PKEY_CTX_set_ec_paramgen_curve_nid(ctx, NID_X9_62_prime256v1) != 1)
		goto out;
	if (type == EVP_PKEY_RSA && EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, 2048) != 1)
		goto out;
	if (EVP_PKEY_keygen(ctx, &k) != 1)
		k = NULL;
out:
	EVP_PKEY_CTX_free(ctx);
	return k;
}

static int write_keypair(struct keypair *kp, int type, const char *name)
{
	char buf[64];
	FILE *f;
	int ok;

	kp->pkey = gen_key(type);
	if (!kp->pkey)
		return -1;
	snprintf(buf, sizeof(buf), "%s.pem", name);
	kp->priv = tu_path(fx.dir, buf);
	snprintf(buf, sizeof(buf), "%s.pub.pem", name);
	kp->pub = tu_path(fx.dir, buf);
	f = fopen(kp->priv, "w");
	ok = f && PEM_write_PrivateKey(f, kp->pkey, NULL, NULL, 0, NULL, NULL) == 1;
	if (f)
		fclose(f);
	f = fopen(kp->pub, "w");
	ok = ok && f && PEM_write_PUBKEY(f, kp->pkey) == 1;
	if (f)
		fclose(f);
	return ok ? 0 : -1;
}

static void free_keypair(struct keypair *kp)
{
	EVP_PKEY_free(kp->pkey);
	free(kp->priv);
	free(kp->pub);
}

static int group_setup(void **state)
{
	(void)state;
	fx.dir = tu_mkdtemp();
	if (!fx.dir)
		return -1;
	if (write_keypair(&fx.ed_a, EVP_PKEY_ED25519, "ed_a") ||
	    write_keypair(&fx.ed_b, EVP_PKEY_ED25519, "ed_b") ||
	    write_keypair(&fx.ec, EVP_PKEY_EC, "ec") || write_keypair(&fx.rsa, EVP_PKEY_RSA, "rsa"))
		return -1;
	/* X25519 is a key-agreement key: it cannot sign and must be refused. */
	if (write_keypair(&fx.x25519, EVP_PKEY_X25519, "x25519"))
		return -1;
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	free_keypair(&fx.ed_a);
	free_keypair(&fx.ed_b);
	free_keypair(&fx.ec);
	free_keypair(&fx.rsa);
	free_keypair(&fx.x25519);
	tu_rmtree(fx.dir);
	return 0;
}

/* ---- helpers ------------------------------------------------------------ */

static void sample_manifest(struct manifest *m)
{
	memset(m, 0, sizeof(*m));
	m->format = 1;
	strcpy(m->version, "1.2.3");
	strcpy(m->compatible, "acme-board-rev2");
	strcpy(m->compression, "zstd");
	m->image_size = 123456789;
	for (int i = 0; i < 32; i++) {
		m->image_sha256[i] = (uint8_t)i;
		m->payload_sha256[i] = (uint8_t)(0xff - i);
	}
	m->payload_size = 4242;
	m->zstd_window_log = 23;
}

static char *sample_text(void)
{
	struct manifest m;
	sample_manifest(&m);
	char *t = manifest_format(&m);
	assert_non_null(t);
	return t;
}

static uint8_t *sign_msg(EVP_PKEY *k, const void *msg, size_t len, size_t *sig_len)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	const EVP_MD *md = EVP_PKEY_base_id(k) == EVP_PKEY_ED25519 ? NULL : EVP_sha256();
	size_t n = 0;
	uint8_t *sig = NULL;

	assert_non_null(ctx);
	assert_int_equal(EVP_DigestSignInit(ctx, NULL, md, NULL, k), 1);
	assert_int_equal(EVP_DigestSign(ctx, NULL, &n, msg, len), 1);
	sig = malloc(n);
	assert_non_null(sig);
	assert_int_equal(EVP_DigestSign(ctx, sig, &n, msg, len), 1);
	EVP_MD_CTX_free(ctx);
	*sig_len = n;
	return sig;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8),
	p[3] = (uint8_t)v;
}

#define FAKE_PAYLOAD "PAYLOAD-BYTES"

/* header + manifest + signature (none when k is NULL) + a few payload bytes */
static uint8_t *make_bundle(const char *mtext, EVP_PKEY *k, size_t *len)
{
	size_t mlen = strlen(mtext), slen = 0;
	uint8_t *sig = k ? sign_msg(k, mtext, mlen, &slen) : NULL;
	size_t total = BUNDLE_FIXED_HEADER + mlen + slen + strlen(FAKE_PAYLOAD);
	uint8_t *b = malloc(total);

	assert_non_null(b);
	memcpy(b, BUNDLE_MAGIC, 8);
	put_be32(b + 8, (uint32_t)mlen);
	put_be32(b + 12, (uint32_t)slen);
	memcpy(b + 16, mtext, mlen);
	if (slen)
		memcpy(b + 16 + mlen, sig, slen);
	memcpy(b + 16 + mlen + slen, FAKE_PAYLOAD, strlen(FAKE_PAYLOAD));
	free(sig);
	*len = total;
	return b;
}

static void parse_ok(const uint8_t *b, size_t len, struct bundle_head *h)
{
	struct error e = {0};
	size_t need = 0;
	int r = bundle_head_parse(b, len, h, &need, &e);
	if (r != 0)
		fail_msg("bundle_head_parse: %d %s", r, e.msg);
	assert_int_equal(need, h->payload_offset);
}

/* Parses a bundle signed by `signer` and verifies it against pubs. */
static int verify_with(EVP_PKEY *signer, char *const *pubs, size_t n, size_t *which,
		       struct error *e)
{
	char *text = sample_text();
	size_t len;
	uint8_t *b = make_bundle(text, signer, &len);
	struct bundle_head h;

	parse_ok(b, len, &h);
	int r = bundle_verify_signature(&h, pubs, n, which, e);
	bundle_head_free(&h);
	free(b);
	free(text);
	return r;
}

static void assert_err(int r, int want_r, const struct error *e, int exit_code,
		       const char *substr)
{
	if (r != want_r || e->exit != exit_code || !strstr(e->msg, substr))
		fail_msg("got r=%d exit=%d msg=\"%s\"; want r=%d exit=%d msg containing \"%s\"", r,
			 e->exit, e->msg, want_r, exit_code, substr);
}

static size_t count_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

/* Replaces the line for `key` (or appends when key is NULL) by `line`
 * (NULL drops it) in the sample manifest. */
static char *edit_manifest(const char *key, const char *line)
{
	char *t = sample_text(), *out = calloc(1, strlen(t) + (line ? strlen(line) : 0) + 2);
	char *save = NULL;
	size_t klen = key ? strlen(key) : 0;

	assert_non_null(out);
	for (char *l = strtok_r(t, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		if (key && strncmp(l, key, klen) == 0 && l[klen] == '=') {
			if (line)
				strcat(strcat(out, line), "\n");
			continue;
		}
		strcat(strcat(out, l), "\n");
	}
	if (!key)
		strcat(strcat(out, line), "\n");
	free(t);
	return out;
}

/* ---- manifest ----------------------------------------------------------- */

static void test_manifest_roundtrip(void **state)
{
	(void)state;
	struct manifest m, back;
	struct error e = {0};
	char *t = sample_text();

	sample_manifest(&m);
	assert_string_equal(t, "format=1\n"
			       "version=1.2.3\n"
			       "compatible=acme-board-rev2\n"
			       "compression=zstd\n"
			       "image-size=123456789\n"
			       "image-sha256=000102030405060708090a0b0c0d0e0f"
			       "101112131415161718191a1b1c1d1e1f\n"
			       "payload-size=4242\n"
			       "payload-sha256=fffefdfcfbfaf9f8f7f6f5f4f3f2f1f0"
			       "efeeedecebeae9e8e7e6e5e4e3e2e1e0\n"
			       "zstd-window-log=23\n");
	assert_int_equal(manifest_parse(t, strlen(t), &back, &e), 0);
	assert_memory_equal(&m, &back, sizeof(m));
	assert_false(err_isset(&e));
	char *again = manifest_format(&back);
	assert_string_equal(again, t);
	free(again);
	free(t);
}

/* Key order does not matter to the parser, a last line without '\n' is
 * accepted, and boundary values are in range. */
static void test_manifest_accepts(void **state)
{
	(void)state;
	struct manifest m;
	struct error e = {0};
	const char *t = "zstd-window-log=10\n"
			"payload-sha256=FFFEFDFCFBFAF9F8F7F6F5F4F3F2F1F0EFEEEDECEBEAE9E8E7E6E5E4E3E2E1E0\n"
			"payload-size=0\n"
			"image-sha256=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n"
			"image-size=18446744073709551615\n"
			"compression=zstd\n"
			"compatible=board \xc3\xa9 v2\n"
			"version=2.0-rc1+build.5\n"
			"format=1";

	assert_int_equal(manifest_parse(t, strlen(t), &m, &e), 0);
	assert_int_equal(m.zstd_window_log, 10);
	assert_int_equal(m.payload_sha256[0], 0xff);
	assert_true(m.image_size == UINT64_MAX);
	assert_string_equal(m.compatible, "board \xc3\xa9 v2");
	assert_string_equal(m.version, "2.0-rc1+build.5");
	/* Upper bounds: window 23, a 63-byte version, a 127-byte compatible. */
	char *u = edit_manifest(
		"version", "version=123456789012345678901234567890123456789012345678901234567890123");
	assert_int_equal(manifest_parse(u, strlen(u), &m, &e), 0);
	assert_int_equal(strlen(m.version), 63);
	assert_int_equal(m.zstd_window_log, 23);
	free(u);
	char line[160];
	snprintf(line, sizeof(line), "compatible=%0127d", 5);
	u = edit_manifest("compatible", line);
	assert_int_equal(manifest_parse(u, strlen(u), &m, &e), 0);
	assert_int_equal(strlen(m.compatible), 127);
	free(u);
	snprintf(line, sizeof(line), "compatible=%0128d", 5);
	u = edit_manifest("compatible", line);
	assert_err(manifest_parse(u, strlen(u), &m, &e), -EBADMSG, &e, UPD_EXIT_VERIFY,
		   "compatible is longer than 127 bytes");
	free(u);
}

struct reject {
	const char *key, *line, *msg;
};

static const struct reject rejects[] = {
	{NULL, "foo=bar", "unknown key foo"},
	{NULL, "version=2.0", "duplicate key version"},
	{NULL, "format=1", "duplicate key format"},
	{NULL, "no equals sign", "line 10: expected key=value"},
	{NULL, "", "line 10: expected key=value"},
	{NULL, "\x1b[31m=1", "malformed key"},
	{NULL, "=1", "malformed key"},
	{"format", "format=6", "format 6 is not supported (expected 1..5)"},
	/* format 2 says there is a security version: the key is then required */
	{"format", "format=2", "missing key security-version"},
	/* and format 1 predates it */
	{NULL, "security-version=1", "security-version needs format 2"},
	{"format", "format=0", "format 0"},
	{"format", "format=one", "format is not a decimal number"},
	{"format", "format=1\r", "format is not a decimal number"},
	{"version", "version=", "version is empty"},
	{"version", "version=1.0\tbeta", "version contains a control character"},
	{"version", "version=1.0\r", "version contains a control character"},
	{"version", "version=1234567890123456789012345678901234567890123456789012345678901234",
	 "version is longer than 63 bytes"},
	{"compatible", "compatible=", "compatible is empty"},
	{"compatible", "compatible=a\x7f", "compatible contains a control character"},
	{"compression", "compression=gzip", "compression is not supported"},
	{"compression", "compression=zstd ", "compression is not supported"},
	{"compression", "compression=", "compression is not supported"},
	{"image-size", "image-size=12x", "image-size is not a decimal number"},
	{"image-size", "image-size=-1", "image-size is not a decimal number"},
	{"image-size", "image-size=+1", "image-size is not a decimal number"},
	{"image-size", "image-size= 1", "image-size is not a decimal number"},
	{"image-size", "image-size=0x10", "image-size is not a decimal number"},
	{"image-size", "image-size=18446744073709551616", "image-size is too large"},
	{"image-size", "image-size=99999999999999999999999", "image-size is too large"},
	{"payload-size", "payload-size=", "payload-size is empty"},
	{"image-sha256", "image-sha256=00", "image-sha256 must be 64 hex digits"},
	{"image-sha256",
	 "image-sha256=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1",
	 "image-sha256 must be 64 hex digits"},
	{"image-sha256",
	 "image-sha256=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f0",
	 "image-sha256 must be 64 hex digits"},
	{"payload-sha256",
	 "payload-sha256=g00102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1",
	 "payload-sha256 must be 64 hex digits"},
	{"zstd-window-log", "zstd-window-log=9", "zstd-window-log 9 outside 10..23"},
	{"zstd-window-log", "zstd-window-log=24", "zstd-window-log 24 outside 10..23"},
	{"zstd-window-log", "zstd-window-log=4294967306", "zstd-window-log 4294967306 outside"},
	{"zstd-window-log", "zstd-window-log=x", "zstd-window-log is not a decimal number"},
};

static void test_manifest_rejects(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(rejects) / sizeof(rejects[0]); i++) {
		const struct reject *c = &rejects[i];
		char *t = edit_manifest(c->key, c->line);
		struct manifest m;
		struct error e = {0};
		int r = manifest_parse(t, strlen(t), &m, &e);
		if (r != -EBADMSG || e.exit != UPD_EXIT_VERIFY || !strstr(e.msg, c->msg))
			fail_msg("case %zu (%s): r=%d msg=\"%s\", want \"%s\"", i, c->line, r,
				 e.msg, c->msg);
		assert_null(strchr(e.msg, '\x1b')); /* hostile bytes are not echoed */
		assert_int_equal(m.format, 0);	    /* nothing half-parsed is left */
		assert_int_equal(m.image_size, 0);
		free(t);
	}
}

static void test_manifest_missing_keys(void **state)
{
	(void)state;
	static const char *const keys[] = {
		"format",	"version",	"compatible",	  "compression",     "image-size",
		"image-sha256", "payload-size", "payload-sha256", "zstd-window-log",
	};
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		char *t = edit_manifest(keys[i], NULL);
		char want[64];
		struct manifest m;
		struct error e = {0};
		snprintf(want, sizeof(want), "missing key %s", keys[i]);
		assert_err(manifest_parse(t, strlen(t), &m, &e), -EBADMSG, &e, UPD_EXIT_VERIFY,
			   want);
		free(t);
	}
	struct manifest m;
	struct error e = {0};
	assert_err(manifest_parse("", 0, &m, &e), -EBADMSG, &e, UPD_EXIT_VERIFY,
		   "missing key format");
}

static void test_manifest_nul(void **state)
{
	(void)state;
	char *t = sample_text();
	size_t len = strlen(t);
	struct manifest m;
	struct error e = {0};

	t[20] = '\0';
	assert_err(manifest_parse(t, len, &m, &e), -EBADMSG, &e, UPD_EXIT_VERIFY, "NUL byte");
	free(t);
}

/* ---- head parsing ------------------------------------------------------- */

static void test_head_incremental(void **state)
{
	(void)state;
	char *text = sample_text();
	size_t len, mlen = strlen(text), slen = 0;
	uint8_t *b = make_bundle(text, fx.ed_a.pkey, &len);
	size_t head = len - strlen(FAKE_PAYLOAD);
	struct bundle_head h;

	slen = head - BUNDLE_FIXED_HEADER - mlen;
	assert_int_equal(slen, 64); /* Ed25519 */
	/* A reader growing its buffer one byte at a time is told exactly how
	 * many bytes it needs: the fixed header first, then the whole head. */
	for (size_t n = 0; n < head; n++) {
		struct error e = {0};
		size_t need = 0;
		int r = bundle_head_parse(b, n, &h, &need, &e);
		if (r != -EAGAIN || need != (n < BUNDLE_FIXED_HEADER ? BUNDLE_FIXED_HEADER : head))
			fail_msg("len %zu: r=%d need=%zu (%s)", n, r, need, e.msg);
		assert_false(err_isset(&e));
		assert_null(h.manifest_text);
	}
	for (size_t n = head; n <= len; n++) {
		parse_ok(b, n, &h);
		assert_int_equal(h.payload_offset, head);
		assert_int_equal(h.manifest_len, mlen);
		assert_string_equal(h.manifest_text, text);
		assert_int_equal(h.sig_len, slen);
		assert_memory_equal(h.sig, b + BUNDLE_FIXED_HEADER + mlen, slen);
		assert_string_equal(h.manifest.version, "1.2.3");
		assert_true(h.manifest.image_size == 123456789);
		assert_memory_equal(b + h.payload_offset, FAKE_PAYLOAD, 4);
		bundle_head_free(&h);
		assert_null(h.manifest_text);
	}
	struct error e = {0}; /* need may be NULL */
	assert_int_equal(bundle_head_parse(b, 3, &h, NULL, &e), -EAGAIN);
	assert_int_equal(bundle_head_parse(b, head, &h, NULL, &e), 0);
	bundle_head_free(&h);
	assert_false(err_isset(&e));
	free(b);
	free(text);
}

static void test_head_bad_magic(void **state)
{
	(void)state;
	static const char *const bad[] = {"X", "UPDBNDL2", "<html><body>404</body></html>",
					  "UPDbndl1\0\0\0\x10\0\0\0\0"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct bundle_head h;
		struct error e = {0};
		size_t need = 777;
		size_t n = i == 3 ? 16 : strlen(bad[i]);
		int r = bundle_head_parse((const uint8_t *)bad[i], n, &h, &need, &e);
		assert_err(r, -EBADMSG, &e, UPD_EXIT_VERIFY, "not an updater bundle (bad magic)");
		assert_int_equal(need, 777);
		assert_null(h.manifest_text);
	}
}

static int parse_header(uint32_t mlen, uint32_t slen, size_t *need, struct error *e)
{
	uint8_t b[BUNDLE_FIXED_HEADER];
	struct bundle_head h;

	memcpy(b, BUNDLE_MAGIC, 8);
	put_be32(b + 8, mlen);
	put_be32(b + 12, slen);
	return bundle_head_parse(b, sizeof(b), &h, need, e);
}

/* Lengths are judged from the 16 fixed bytes, before anything else arrives. */
static void test_head_lengths(void **state)
{
	(void)state;
	struct error e = {0};
	size_t need = 0;

	assert_err(parse_header(0, 64, &need, &e), -EBADMSG, &e, UPD_EXIT_VERIFY,
		   "manifest length is 0");
	err_clear(&e);
	assert_err(parse_header(99999, 64, &need, &e), -EBADMSG, &e, UPD_EXIT_VERIFY,
		   "manifest length 99999 exceeds 16384");
	err_clear(&e);
	assert_err(parse_header(UINT32_MAX, 64, &need, &e), -EBADMSG, &e, UPD_EXIT_VERIFY,
		   "manifest length 4294967295 exceeds 16384");
	err_clear(&e);
	assert_err(parse_header(100, 4097, &need, &e), -EBADMSG, &e, UPD_EXIT_VERIFY,
		   "signature length 4097 exceeds 4096");
	err_clear(&e);
	assert_err(parse_header(100, UINT32_MAX, &need, &e), -EBADMSG, &e, UPD_EXIT_VERIFY,
		   "signature length 4294967295 exceeds 4096");
	/* The maxima themselves are fine: the reader is asked for the rest. */
	err_clear(&e);
	assert_int_equal(parse_header(BUNDLE_MANIFEST_MAX, BUNDLE_SIG_MAX, &need, &e), -EAGAIN);
	assert_int_equal(need, BUNDLE_HEAD_MAX);
	assert_int_equal(parse_header(1, 0, &need, &e), -EAGAIN);
	assert_int_equal(need, BUNDLE_FIXED_HEADER + 1);
	assert_false(err_isset(&e));
}

static void test_head_bad_manifest(void **state)
{
	(void)state;
	char *text = edit_manifest("compression", "compression=xz");
	size_t len;
	uint8_t *b = make_bundle(text, fx.ed_a.pkey, &len);
	struct bundle_head h;
	struct error e = {0};

	assert_err(bundle_head_parse(b, len, &h, NULL, &e), -EBADMSG, &e, UPD_EXIT_VERIFY,
		   "compression");
	assert_null(h.manifest_text);
	assert_null(h.sig);
	free(b);
	free(text);
}

/* ---- signatures --------------------------------------------------------- */

static void test_verify_ed25519(void **state)
{
	(void)state;
	char *keys[] = {fx.ed_a.pub};
	struct error e = {0};
	size_t which = 99;

	assert_int_equal(verify_with(fx.ed_a.pkey, keys, 1, &which, &e), 0);
	assert_int_equal(which, 0);
	assert_false(err_isset(&e));
}

static void test_verify_wrong_key(void **state)
{
	(void)state;
	char *one[] = {fx.ed_b.pub};
	char *two[] = {fx.ed_b.pub, fx.ec.pub};
	struct error e = {0};
	size_t which = 99;

	assert_err(verify_with(fx.ed_a.pkey, one, 1, &which, &e), -EKEYREJECTED, &e,
		   UPD_EXIT_VERIFY, "signature does not match the configured key");
	err_clear(&e);
	assert_err(verify_with(fx.ed_a.pkey, two, 2, &which, &e), -EKEYREJECTED, &e,
		   UPD_EXIT_VERIFY, "signature does not match any of the 2 configured keys");
	assert_int_equal(which, 99);
}

/* During a key rotation devices trust old and new key; a bundle signed with
 * either verifies, and `which` tells the caller which one it was. */
/* A bundle signed by SIGNER verifies against the N keys PUBS, by key WANT. */
static void assert_verified_by(EVP_PKEY *signer, char *const *pubs, size_t n, size_t want)
{
	struct error e = {0};
	size_t which = 99;

	assert_int_equal(verify_with(signer, pubs, n, &which, &e), 0);
	assert_int_equal(which, want);
	assert_false(err_isset(&e));
}

static void test_verify_rotation(void **state)
{
	(void)state;
	char *keys[] = {fx.ed_b.pub, fx.ed_a.pub};

	assert_verified_by(fx.ed_a.pkey, keys, 2, 1);
	assert_verified_by(fx.ed_b.pkey, keys, 2, 0);
}

static void test_verify_ecdsa_rsa(void **state)
{
	(void)state;
	char *keys[] = {fx.ed_a.pub, fx.ec.pub, fx.rsa.pub};
	struct error e = {0};
	size_t which = 99;

	assert_verified_by(fx.ec.pkey, keys, 3, 1);
	assert_verified_by(fx.rsa.pkey, keys, 3, 2);
	/* An ECDSA signature does not pass for another EC key. */
	char *ed_only[] = {fx.ed_a.pub, fx.rsa.pub};
	assert_err(verify_with(fx.ec.pkey, ed_only, 2, &which, &e), -EKEYREJECTED, &e,
		   UPD_EXIT_VERIFY, "does not match any of the 2");
}

static void test_verify_unsigned(void **state)
{
	(void)state;
	char *text = sample_text();
	char *keys[] = {fx.ed_a.pub};
	size_t len, which = 99;
	uint8_t *b = make_bundle(text, NULL, &len);
	struct bundle_head h;
	struct error e = {0};

	parse_ok(b, len, &h); /* unsigned bundles parse (for `info`)... */
	assert_int_equal(h.sig_len, 0);
	assert_int_equal(h.payload_offset, BUNDLE_FIXED_HEADER + strlen(text));
	assert_err(bundle_verify_signature(&h, keys, 1, &which, &e), -EKEYREJECTED, &e,
		   UPD_EXIT_VERIFY, "bundle is not signed"); /* ...but never verify */
	assert_int_equal(which, 99);
	bundle_head_free(&h);
	free(b);
	free(text);
}

/* Every change to a manifest digit, or to any signature byte, must break
 * the signature (when the change still parses). */
static void test_verify_tampered(void **state)
{
	(void)state;
	char *text = sample_text();
	char *keys[] = {fx.ed_a.pub};
	size_t len, mlen = strlen(text), tried = 0;
	uint8_t *b = make_bundle(text, fx.ed_a.pkey, &len);

	for (size_t i = BUNDLE_FIXED_HEADER; i < len - strlen(FAKE_PAYLOAD); i++) {
		int in_sig = i >= BUNDLE_FIXED_HEADER + mlen;
		uint8_t old = b[i];
		if (!in_sig && !(old >= '0' && old <= '9'))
			continue;
		b[i] = in_sig ? old ^ 0x01 : (old == '9' ? '8' : old + 1);
		struct bundle_head h;
		struct error e = {0};
		size_t which = 99;
		if (bundle_head_parse(b, len, &h, NULL, &e) == 0) {
			tried++;
			int r = bundle_verify_signature(&h, keys, 1, &which, &e);
			if (r != -EKEYREJECTED)
				fail_msg("tampered byte %zu accepted", i);
			bundle_head_free(&h);
		}
		b[i] = old;
	}
	assert_true(tried > 100);
	free(b);
	free(text);
}

static void test_verify_key_errors(void **state)
{
	(void)state;
	char *missing = tu_path(fx.dir, "no-such-key.pem");
	char *garbage = tu_path(fx.dir, "garbage.pem");
	struct error e = {0};
	size_t which;

	assert_int_equal(tu_write_file(garbage, "hello\n", 6), 0);
	char *k1[] = {fx.ed_a.pub, missing};
	assert_err(verify_with(fx.ed_a.pkey, k1, 2, &which, &e), -ENOENT, &e, UPD_EXIT_USAGE,
		   missing);
	assert_non_null(strstr(e.msg, "No such file or directory"));
	err_clear(&e);
	char *k2[] = {garbage};
	assert_err(verify_with(fx.ed_a.pkey, k2, 1, &which, &e), -EINVAL, &e, UPD_EXIT_USAGE,
		   garbage);
	err_clear(&e);
	char *k3[] = {fx.ed_a.priv}; /* a private key where a public one belongs */
	assert_err(verify_with(fx.ed_a.pkey, k3, 1, &which, &e), -EINVAL, &e, UPD_EXIT_USAGE,
		   "not a PEM public key");
	err_clear(&e);
	char *k4[] = {fx.x25519.pub};
	assert_err(verify_with(fx.ed_a.pkey, k4, 1, &which, &e), -EINVAL, &e, UPD_EXIT_USAGE,
		   "unsupported key type");
	err_clear(&e);
	assert_err(verify_with(fx.ed_a.pkey, NULL, 0, &which, &e), -EINVAL, &e, UPD_EXIT_USAGE,
		   "no public keys");
	unlink(garbage);
	free(garbage);
	free(missing);
}

/* ---- bundle_create ------------------------------------------------------ */

/* Random bytes mixed with runs, so zstd has something to do and the
 * compressed size differs from the image size. */
static uint8_t *make_image(size_t n, unsigned seed)
{
	uint8_t *img = malloc(n ? n : 1);
	uint32_t x = seed * 2654435761u + 1;

	assert_non_null(img);
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13, x ^= x >> 17, x ^= x << 5;
		img[i] = (i / 4096) % 2 ? (uint8_t)(i / 4096) : (uint8_t)x;
	}
	return img;
}

/* Decompresses with the decoder limited to the manifest's window, as a
 * device does; NULL if the payload does not decode within it. */
static uint8_t *unzstd(const uint8_t *p, size_t n, int wlog, size_t expect, size_t *outlen)
{
	ZSTD_DCtx *d = ZSTD_createDCtx();
	uint8_t *out = malloc(expect + 1);
	ZSTD_inBuffer in = {p, n, 0};
	ZSTD_outBuffer o = {out, expect + 1, 0};
	size_t r = 1;

	assert_non_null(d);
	assert_false(ZSTD_isError(ZSTD_DCtx_setParameter(d, ZSTD_d_windowLogMax, wlog)));
	while (in.pos < in.size && r != 0) {
		r = ZSTD_decompressStream(d, &o, &in);
		if (ZSTD_isError(r) || o.pos > expect) {
			free(out);
			out = NULL;
			break;
		}
	}
	if (out && (r != 0 || in.pos != in.size)) { /* truncated or trailing bytes */
		free(out);
		out = NULL;
	}
	ZSTD_freeDCtx(d);
	*outlen = o.pos;
	return out;
}

struct created {
	uint8_t *file;
	size_t len;
	struct bundle_head h;
};

/* Reads a bundle the way the updater does: the fixed header, then exactly
 * what the parser asks for. */
static void read_bundle(const char *path, struct created *c)
{
	struct error e = {0};
	size_t need = 0;

	c->file = (uint8_t *)tu_read_file(path, &c->len);
	assert_non_null(c->file);
	assert_int_equal(bundle_head_parse(c->file, BUNDLE_FIXED_HEADER, &c->h, &need, &e),
			 -EAGAIN);
	assert_true(need > BUNDLE_FIXED_HEADER && need <= c->len);
	parse_ok(c->file, need, &c->h);
}

static void check_created(struct created *c, const uint8_t *img, size_t n, int wlog)
{
	const struct manifest *m = &c->h.manifest;
	const uint8_t *payload = c->file + c->h.payload_offset;
	uint8_t sha[32];
	size_t outlen = 0;

	assert_true(m->image_size == n);
	assert_true(m->payload_size == c->len - c->h.payload_offset);
	SHA256(img, n, sha); /* independent of digest.c */
	assert_memory_equal(m->image_sha256, sha, 32);
	SHA256(payload, m->payload_size, sha);
	assert_memory_equal(m->payload_sha256, sha, 32);
	assert_string_equal(m->compression, "zstd");
	assert_int_equal(m->zstd_window_log, wlog);

	/* Frame header (RFC 8878 3.1.1): magic, then the descriptor whose bit 2
	 * is Content_Checksum_flag, which the writer must set. */
	assert_true(m->payload_size >= 6);
	assert_int_equal(payload[0], 0x28);
	assert_int_equal(payload[4] & 0x04, 0x04);

	uint8_t *out = unzstd(payload, m->payload_size, wlog, n, &outlen);
	assert_non_null(out);
	assert_int_equal(outlen, n);
	assert_memory_equal(out, img, n);
	free(out);
	/* An image streamed in several chunks declares the full window, so the
	 * manifest value is exact: one less and the decoder refuses. (A single
	 * chunk is compressed with a known size and may use a smaller window.) */
	if (n > (1u << 20)) {
		out = unzstd(payload, m->payload_size, wlog - 1, n, &outlen);
		assert_null(out);
	}
}

static void created_free(struct created *c)
{
	bundle_head_free(&c->h);
	free(c->file);
}

static void create_and_check(size_t n, const struct keypair *kp, int level, int wlog)
{
	char *dir = tu_mkdtemp();
	char *image = tu_path(dir, "rootfs.img"), *out = tu_path(dir, "update.bundle");
	uint8_t *img = make_image(n, (unsigned)n);
	/* Format 1's single stream (format 3: test_bundle_index.c). */
	struct bundle_create_opts o = {.image = image,
				       .version = "2.1.0",
				       .compatible = "acme-board",
				       .key = kp->priv,
				       .output = out,
				       .format = 1,
				       .level = level,
				       .window_log = wlog};
	struct error e = {0};
	struct created c;
	char *keys[] = {fx.ed_b.pub, kp->pub};
	size_t which = 99;

	assert_int_equal(tu_write_file(image, (const char *)img, n), 0);
	if (bundle_create(&o, &e) != 0)
		fail_msg("bundle_create: %s", e.msg);
	read_bundle(out, &c);
	assert_string_equal(c.h.manifest.version, "2.1.0");
	assert_string_equal(c.h.manifest.compatible, "acme-board");
	assert_int_equal(bundle_verify_signature(&c.h, keys, 2, &which, &e), 0);
	assert_int_equal(which, 1);
	check_created(&c, img, n, wlog ? wlog : BUNDLE_ZSTD_WINDOW_LOG_MAX);
	assert_int_equal(count_dir(dir), 2); /* image and bundle: no temp files left */
	created_free(&c);
	free(img);
	free(image);
	free(out);
	tu_rmtree(dir);
}

/* Several 1 MiB chunks plus a partial one. */
static void test_create_roundtrip(void **state)
{
	(void)state;
	create_and_check((5u << 19) + 12345, &fx.ed_a, 0, 0);
}

static void test_create_small_window(void **state)
{
	(void)state;
	create_and_check(300000, &fx.ed_a, 1, 10);
}

static void test_create_empty_and_chunk_sized(void **state)
{
	(void)state;
	create_and_check(0, &fx.ed_a, 0, 0);
	create_and_check(1u << 20, &fx.ed_a, -5, 0); /* exactly one chunk; fast level */
}

static void test_create_ecdsa_rsa(void **state)
{
	(void)state;
	create_and_check(70000, &fx.ec, 19, 20);
	create_and_check(70000, &fx.rsa, 0, 0);
}

/* Overwriting an existing bundle replaces it. */
static void test_create_overwrites(void **state)
{
	(void)state;
	char *dir = tu_mkdtemp();
	char *image = tu_path(dir, "img"), *out = tu_path(dir, "b");
	struct bundle_create_opts o = {.image = image, .version = "1", .compatible = "c",
				       .key = fx.ed_a.priv, .output = out, .format = 1};
	struct error e = {0};
	struct created c;

	assert_int_equal(tu_write_file(out, "old junk", 8), 0);
	assert_int_equal(tu_write_file(image, "hello", 5), 0);
	assert_int_equal(bundle_create(&o, &e), 0);
	read_bundle(out, &c);
	check_created(&c, (const uint8_t *)"hello", 5, BUNDLE_ZSTD_WINDOW_LOG_MAX);
	created_free(&c);
	free(image);
	free(out);
	tu_rmtree(dir);
}

struct create_fail {
	const char *image, *key, *output, *version;
	int wlog, level;
	int exit;
	const char *msg;
};

static void test_create_errors(void **state)
{
	(void)state;
	char *dir = tu_mkdtemp();
	char *image = tu_path(dir, "img"), *out = tu_path(dir, "out.bundle");
	char *nodir = tu_path(dir, "missing-dir/out.bundle");
	char *garbage = tu_path(dir, "garbage.pem"), *enc = tu_path(dir, "enc.pem");
	char *noimg = tu_path(dir, "no-such.img");
	FILE *f = fopen(enc, "w");

	assert_non_null(f);
	assert_int_equal(PEM_write_PrivateKey(f, fx.ed_a.pkey, EVP_aes_256_cbc(),
					      (unsigned char *)"secret", 6, NULL, NULL),
			 1);
	fclose(f);
	assert_int_equal(tu_write_file(image, "data", 4), 0);
	assert_int_equal(tu_write_file(garbage, "junk", 4), 0);
	assert_int_equal(mkdir(out, 0755) == 0 ? 0 : -1, 0); /* output is a directory */
	char *outfile = tu_path(dir, "ok.bundle");

	const struct create_fail cases[] = {
		{noimg, fx.ed_a.priv, outfile, "1", 0, 0, UPD_EXIT_USAGE, "bundle create: read image "},
		{image, garbage, outfile, "1", 0, 0, UPD_EXIT_USAGE, "not an unencrypted PEM private key"},
		{image, enc, outfile, "1", 0, 0, UPD_EXIT_USAGE, "not an unencrypted PEM private key"},
		{image, fx.ed_a.pub, outfile, "1", 0, 0, UPD_EXIT_USAGE, "PEM private key"},
		{image, noimg, outfile, "1", 0, 0, UPD_EXIT_USAGE, "bundle create: read key "},
		{image, fx.x25519.priv, outfile, "1", 0, 0, UPD_EXIT_USAGE, "unsupported key type"},
		{image, fx.ed_a.priv, nodir, "1", 0, 0, UPD_EXIT_OTHER, "missing-dir/out.bundle: No such file"},
		{dir, fx.ed_a.priv, outfile, "1", 0, 0, UPD_EXIT_USAGE, "Is a directory"},
		{image, fx.ed_a.priv, out, "1", 0, 0, UPD_EXIT_OTHER, "out.bundle"},
		{image, fx.ed_a.priv, outfile, "1\n2", 0, 0, UPD_EXIT_USAGE, "version contains a control"},
		{image, fx.ed_a.priv, outfile, "", 0, 0, UPD_EXIT_USAGE, "version is empty"},
		{image, fx.ed_a.priv, outfile, "1", 24, 0, UPD_EXIT_USAGE, "window log 24 outside 10..23"},
		{image, fx.ed_a.priv, outfile, "1", 9, 0, UPD_EXIT_USAGE, "window log 9"},
		{image, fx.ed_a.priv, outfile, "1", 0, 1000, UPD_EXIT_USAGE, "zstd level 1000"},
	};
	size_t before = count_dir(dir);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct create_fail *c = &cases[i];
		struct bundle_create_opts o = {.image = c->image, .version = c->version,
					       .compatible = "board", .key = c->key,
					       .output = c->output, .level = c->level,
					       .window_log = c->wlog};
		struct error e = {0};
		int r = bundle_create(&o, &e);
		if (r >= 0 || e.exit != c->exit || !strstr(e.msg, c->msg))
			fail_msg("case %zu: r=%d exit=%d msg=\"%s\", want exit %d \"%s\"", i, r,
				 e.exit, e.msg, c->exit, c->msg);
		assert_int_equal(count_dir(dir), before); /* nothing left behind */
		assert_int_equal(count_dir(out), 0);
	}
	/* The message names the file and the cause. */
	struct bundle_create_opts o = {.image = noimg, .version = "1", .compatible = "b",
				       .key = fx.ed_a.priv, .output = outfile};
	struct error e = {0};
	assert_int_equal(bundle_create(&o, &e), -ENOENT);
	char want[512];
	snprintf(want, sizeof(want), "bundle create: read image %s: No such file or directory",
		 noimg);
	assert_string_equal(e.msg, want);

	free(image), free(out), free(nodir), free(garbage), free(enc), free(noimg),
		free(outfile);
	tu_rmtree(dir);
}

/* Format 2 carries the signed security version, right after compatible in
 * the canonical text; format 1 (every bundle made before it) means 0. */
static void test_manifest_security_version(void **state)
{
	(void)state;
	struct manifest m, back;
	struct error e = {0};

	sample_manifest(&m);
	m.format = 2;
	m.security_version = 7;
	char *t = manifest_format(&m);
	assert_non_null(t);
	assert_non_null(strstr(t, "format=2\nversion=1.2.3\ncompatible=acme-board-rev2\n"
				  "security-version=7\ncompression=zstd\n"));
	assert_int_equal(manifest_parse(t, strlen(t), &back, &e), 0);
	assert_memory_equal(&m, &back, sizeof(m));
	assert_true(back.security_version == 7);
	free(t);

	/* The largest value, and no sign, hex or spaces. */
	t = edit_manifest("format", "format=2\nsecurity-version=18446744073709551615");
	assert_int_equal(manifest_parse(t, strlen(t), &back, &e), 0);
	assert_true(back.security_version == UINT64_MAX);
	free(t);
	static const char *const bad[][2] = {
		{"security-version=-1", "security-version is not a decimal number"},
		{"security-version=0x10", "security-version is not a decimal number"},
		{"security-version=", "security-version is empty"},
		{"security-version=18446744073709551616", "security-version is too large"},
		{"security-version=1\nsecurity-version=2", "duplicate key security-version"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char line[128];
		snprintf(line, sizeof(line), "format=2\n%s", bad[i][0]);
		t = edit_manifest("format", line);
		err_clear(&e);
		assert_err(manifest_parse(t, strlen(t), &back, &e), -EBADMSG, &e, UPD_EXIT_VERIFY,
			   bad[i][1]);
		assert_int_equal(back.format, 0);
		free(t);
	}

	/* Today's format-1 text parses as before: security version 0. */
	t = sample_text();
	assert_null(strstr(t, "security-version"));
	assert_int_equal(manifest_parse(t, strlen(t), &back, &e), 0);
	assert_int_equal(back.format, 1);
	assert_true(back.security_version == 0);
	free(t);
}

/* `bundle create --format 1|2` writes the old formats: format 1 without a
 * security version (installable by updaters that predate format 2), format
 * 2 with one; either is signed as written. Format 3 (the default) carries
 * it too (test_bundle_index.c). */
static void test_create_security_version(void **state)
{
	(void)state;
	char *dir = tu_mkdtemp();
	char *image = tu_path(dir, "rootfs.img"), *out = tu_path(dir, "update.bundle");
	uint8_t *img = make_image(4096, 3);
	char *keys[] = {fx.ed_a.pub};
	struct bundle_create_opts o = {.image = image, .version = "3.0", .compatible = "b",
				       .key = fx.ed_a.priv, .output = out};
	struct error e = {0};
	struct created c;
	size_t which = 9;

	assert_int_equal(tu_write_file(image, (const char *)img, 4096), 0);
	for (int round = 0; round < 2; round++) {
		o.security_version = round ? 12 : 0;
		o.format = round ? 2 : 1;
		if (bundle_create(&o, &e) != 0)
			fail_msg("bundle_create: %s", e.msg);
		read_bundle(out, &c);
		assert_int_equal(c.h.manifest.format, round ? 2 : 1);
		assert_true(c.h.manifest.security_version == (round ? 12u : 0u));
		assert_true((strstr(c.h.manifest_text, "security-version=12\n") != NULL) == round);
		assert_int_equal(bundle_verify_signature(&c.h, keys, 1, &which, &e), 0);
		created_free(&c);
	}
	free(img);
	free(image);
	free(out);
	tu_rmtree(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_manifest_roundtrip),
		cmocka_unit_test(test_manifest_accepts),
		cmocka_unit_test(test_manifest_rejects),
		cmocka_unit_test(test_manifest_missing_keys),
		cmocka_unit_test(test_manifest_security_version),
		cmocka_unit_test(test_create_security_version),
		cmocka_unit_test(test_manifest_nul),
		cmocka_unit_test(test_head_incremental),
		cmocka_unit_test(test_head_bad_magic),
		cmocka_unit_test(test_head_lengths),
		cmocka_unit_test(test_head_bad_manifest),
		cmocka_unit_test(test_verify_ed25519),
		cmocka_unit_test(test_verify_wrong_key),
		cmocka_unit_test(test_verify_rotation),
		cmocka_unit_test(test_verify_ecdsa_rsa),
		cmocka_unit_test(test_verify_unsigned),
		cmocka_unit_test(test_verify_tampered),
		cmocka_unit_test(test_verify_key_errors),
		cmocka_unit_test(test_create_roundtrip),
		cmocka_unit_test(test_create_small_window),
		cmocka_unit_test(test_create_empty_and_chunk_sized),
		cmocka_unit_test(test_create_ecdsa_rsa),
		cmocka_unit_test(test_create_overwrites),
		cmocka_unit_test(test_create_errors),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

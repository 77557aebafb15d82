/* Bundle format: head parsing, manifest text, signature check and creation.
 * See bundle.h for the layout and docs/bundle-format.md for the rationale.
 * Crypto is OpenSSL's EVP interface and compression libzstd; nothing here
 * implements either. */
#include "bundle.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <zstd.h>

#include "decimal.h"
#include "digest.h"
#include "log.h"

#define MAGIC_LEN (sizeof(BUNDLE_MAGIC) - 1)
#define CHUNK ((size_t)1 << 20) /* streaming unit of bundle_create */
#define WINDOW_LOG_MIN 10       /* ZSTD_WINDOWLOG_MIN, stable across versions */

static int oom(struct error *e) { return err_set(e, UPD_EXIT_OTHER, ENOMEM, "out of memory"); }

/* The reason of the most recent OpenSSL error, and a clean queue so a later,
 * unrelated failure does not report this one. */
static const char *ossl_reason(void)
{
	unsigned long code = ERR_peek_last_error();
	const char *r = code ? ERR_reason_error_string(code) : NULL;

	ERR_clear_error();
	return r ? r : "unknown OpenSSL error";
}

/* ---- fixed header ------------------------------------------------------- */

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static int head_want(size_t *need, size_t n)
{
	if (need)
		*need = n;
	return -EAGAIN;
}

/* Lengths are checked before anything is allocated or awaited, so a hostile
 * header can make a reader wait for at most BUNDLE_HEAD_MAX bytes. */
static int head_check_lengths(uint32_t mlen, uint32_t slen, struct error *e)
{
	if (mlen == 0)
		return err_set(e, UPD_EXIT_VERIFY, EBADMSG, "bundle manifest length is 0");
	if (mlen > BUNDLE_MANIFEST_MAX)
		return err_set(e, UPD_EXIT_VERIFY, EBADMSG, "manifest length %" PRIu32 " exceeds %d",
			       mlen, BUNDLE_MANIFEST_MAX);
	if (slen > BUNDLE_SIG_MAX)
		return err_set(e, UPD_EXIT_VERIFY, EBADMSG, "signature length %" PRIu32 " exceeds %d",
			       slen, BUNDLE_SIG_MAX);
	return 0;
}

static int head_fill(const uint8_t *buf, size_t mlen, size_t slen, struct bundle_head *h,
		     struct error *e)
{
	const uint8_t *text = buf + BUNDLE_FIXED_HEADER;
	int r = manifest_parse((const char *)text, mlen, &h->manifest, e);

	if (r < 0)
		return r;
	/* Every reader computes payload_offset + payload-size (where the bundle
	 * ends, the range to stream); a sum that wraps would make a huge payload
	 * look short and pass the checks against the file's size. */
	uint64_t offset = BUNDLE_FIXED_HEADER + mlen + slen;
	if (h->manifest.payload_size > UINT64_MAX - offset) {
		err_set(e, UPD_EXIT_VERIFY, EBADMSG,
			"manifest: payload-size %" PRIu64 " does not fit after the %" PRIu64
			"-byte head",
			h->manifest.payload_size, offset);
		memset(&h->manifest, 0, sizeof(h->manifest));
		return -EBADMSG;
	}
	h->manifest_text = malloc(mlen + 1);
	h->sig = slen ? malloc(slen) : NULL;
	if (!h->manifest_text || (slen && !h->sig)) {
		bundle_head_free(h);
		return oom(e);
	}
	memcpy(h->manifest_text, text, mlen);
	h->manifest_text[mlen] = '\0';
	h->manifest_len = mlen;
	if (slen)
		memcpy(h->sig, text + mlen, slen);
	h->sig_len = slen;
	h->payload_offset = offset;
	return 0;
}

int bundle_head_parse(const uint8_t *buf, size_t len, struct bundle_head *h, size_t *need,
		      struct error *e)
{
	memset(h, 0, sizeof(*h));
	/* Checking the magic on whatever prefix is there rejects a wrong file
	 * (an HTML error page, a raw image) on its first bytes. */
	if (len > 0 && memcmp(buf, BUNDLE_MAGIC, len < MAGIC_LEN ? len : MAGIC_LEN) != 0)
		return err_set(e, UPD_EXIT_VERIFY, EBADMSG, "not an updater bundle (bad magic)");
	if (len < BUNDLE_FIXED_HEADER)
		return head_want(need, BUNDLE_FIXED_HEADER);

	uint32_t mlen = get_be32(buf + 8), slen = get_be32(buf + 12);
	int r = head_check_lengths(mlen, slen, e);
	if (r < 0)
		return r;
	size_t total = BUNDLE_FIXED_HEADER + (size_t)mlen + slen;
	if (len < total)
		return head_want(need, total);
	if (need)
		*need = total;
	return head_fill(buf, mlen, slen, h, e);
}

void bundle_head_free(struct bundle_head *h)
{
	if (!h)
		return;
	free(h->manifest_text);
	free(h->sig);
	memset(h, 0, sizeof(*h));
}

int bundle_check_size(const struct bundle_head *h, uint64_t total, struct error *e)
{
	uint64_t end = h->payload_offset + h->manifest.payload_size;

	if (total == UINT64_MAX)
		return 0;
	if (total < end)
		return err_set(e, UPD_EXIT_VERIFY, ENODATA,
			       "bundle truncated: %" PRIu64 " bytes, its manifest needs %" PRIu64,
			       total, end);
	if (total > end)
		log_warn("bundle has %" PRIu64 " bytes after its payload; they are ignored",
			 total - end);
	return 0;
}

/* ---- manifest ----------------------------------------------------------- */

enum mkey {
	K_FORMAT,
	K_VERSION,
	K_COMPATIBLE,
	K_COMPRESSION,
	K_IMAGE_SIZE,
	K_IMAGE_SHA,
	K_PAYLOAD_SIZE,
	K_PAYLOAD_SHA,
	K_WINDOW_LOG,
	K_SECURITY, /* format 2 only */
	K_COUNT
};

static const char *const key_names[K_COUNT] = {
	"format",	"version",	"compatible",	  "compression",     "image-size",
	"image-sha256", "payload-size", "payload-sha256", "zstd-window-log",
	"security-version",
};

/* version/compatible end up in logs, JSON progress and the state file, so
 * control characters (newlines above all) are refused rather than escaped
 * everywhere. Non-ASCII UTF-8 is allowed. */
int check_text(const char *ctx, const char *key, const char *v, size_t n, size_t cap,
	       int exit_code, struct error *e)
{
	int errnum = exit_code == UPD_EXIT_VERIFY ? EBADMSG : EINVAL;

	if (n == 0)
		return err_set(e, exit_code, errnum, "%s: %s is empty", ctx, key);
	if (n >= cap)
		return err_set(e, exit_code, errnum, "%s: %s is longer than %zu bytes", ctx, key,
			       cap - 1);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
			return err_set(e, exit_code, errnum, "%s: %s contains a control character",
				       ctx, key);
	return 0;
}

static int parse_u64(const char *key, const char *v, size_t n, uint64_t *out, struct error *e)
{
	int rc = decimal_u64(v, n, out);

	if (rc == 0)
		return 0;
	return err_set(e, UPD_EXIT_VERIFY, EBADMSG, "manifest: %s %s", key,
		       n == 0 ? "is empty" : rc == -ERANGE ? "is too large" : "is not a decimal number");
}

static int parse_sha(const char *key, const char *v, size_t n, uint8_t out[32], struct error *e)
{
	if (n != 64 || hex_decode(v, out, 32) < 0)
		return err_set(e, UPD_EXIT_VERIFY, EBADMSG, "manifest: %s must be 64 hex digits", key);
	return 0;
}

static int parse_small(enum mkey k, const char *v, size_t n, struct manifest *m,
		       struct error *e)
{
	uint64_t x;
	int r = parse_u64(key_names[k], v, n, &x, e);

	if (r < 0)
		return r;
	if (k == K_FORMAT && (x < 1 || x > BUNDLE_FORMAT_MAX))
		return err_set(e, UPD_EXIT_VERIFY, EBADMSG,
			       "manifest: format %" PRIu64 " is not supported (expected 1..%d)", x,
			       BUNDLE_FORMAT_MAX);
	if (k == K_WINDOW_LOG && (x < WINDOW_LOG_MIN || x > BUNDLE_ZSTD_WINDOW_LOG_MAX))
		return err_set(e, UPD_EXIT_VERIFY, EBADMSG,
			       "manifest: zstd-window-log %" PRIu64 " outside %d..%d", x,
			       WINDOW_LOG_MIN, BUNDLE_ZSTD_WINDOW_LOG_MAX);
	if (k == K_FORMAT)
		m->format = (int)x;
	else
		m->zstd_window_log = (int)x;
	return 0;
}

static int parse_text(char *dst, size_t cap, const char *key, const char *v, size_t n,
		      struct error *e)
{
	int r = check_text("manifest", key, v, n, cap, UPD_EXIT_VERIFY, e);

	if (r < 0)
		return r;
	memcpy(dst, v, n);
	dst[n] = '\0';
	return 0;
}

static int parse_value(enum mkey k, const char *v, size_t n, struct manifest *m,
		       struct error *e)
{
	switch (k) {
	case K_FORMAT:
	case K_WINDOW_LOG:
		return parse_small(k, v, n, m, e);
	case K_VERSION:
		return parse_text(m->version, sizeof(m->version), "version", v, n, e);
	case K_COMPATIBLE:
		return parse_text(m->compatible, sizeof(m->compatible), "compatible", v, n, e);
	case K_COMPRESSION:
		if (n != 4 || memcmp(v, "zstd", 4) != 0)
			return err_set(e, UPD_EXIT_VERIFY, EBADMSG,
				       "manifest: compression is not supported (only zstd)");
		memcpy(m->compression, "zstd", 5);
		return 0;
	case K_IMAGE_SIZE:
		return parse_u64("image-size", v, n, &m->image_size, e);
	case K_PAYLOAD_SIZE:
		return parse_u64("payload-size", v, n, &m->payload_size, e);
	case K_IMAGE_SHA:
		return parse_sha("image-sha256", v, n, m->image_sha256, e);
	case K_PAYLOAD_SHA:
		return parse_sha("payload-sha256", v, n, m->payload_sha256, e);
	case K_SECURITY:
		return parse_u64("security-version", v, n, &m->security_version, e);
	case K_COUNT:
		break;
	}
	return err_set(e, UPD_EXIT_OTHER, EINVAL, "manifest: internal error");
}

static int key_lookup(const char *k, size_t n)
{
	for (int i = 0; i < K_COUNT; i++)
		if (strlen(key_names[i]) == n && memcmp(key_names[i], k, n) == 0)
			return i;
	return -1;
}

/* Only [a-z0-9-] keys are echoed in messages; anything else could be
 * terminal escapes from a hostile bundle. */
static int key_printable(const char *k, size_t n)
{
	if (n == 0 || n > 64)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((k[i] >= 'a' && k[i] <= 'z') || (k[i] >= '0' && k[i] <= '9') || k[i] == '-'))
			return 0;
	return 1;
}

static int parse_line(const char *line, size_t n, size_t lineno, unsigned *seen,
		      struct manifest *m, struct error *e)
{
	const char *eq = memchr(line, '=', n);

	if (!eq)
		return err_set(e, UPD_EXIT_VERIFY, EBADMSG, "manifest: line %zu: expected key=value",
			       lineno);
	size_t klen = (size_t)(eq - line);
	int k = key_lookup(line, klen);
	if (k < 0 && key_printable(line, klen))
		return err_set(e, UPD_EXIT_VERIFY, EBADMSG, "manifest: unknown key %.*s", (int)klen,
			       line);
	if (k < 0)
		return err_set(e, UPD_EXIT_VERIFY, EBADMSG, "manifest: line %zu: malformed key",
			       lineno);
	if (*seen & (1u << k))
		return err_set(e, UPD_EXIT_VERIFY, EBADMSG, "manifest: duplicate key %s",
			       key_names[k]);
	*seen |= 1u << k;
	return parse_value((enum mkey)k, eq + 1, n - klen - 1, m, e);
}

static int manifest_parse_lines(const char *text, size_t len, struct manifest *m,
				struct error *e)
{
	unsigned seen = 0;
	size_t pos = 0, lineno = 0;

	if (memchr(text, '\0', len))
		return err_set(e, UPD_EXIT_VERIFY, EBADMSG, "manifest: contains a NUL byte");
	while (pos < len) {
		const char *line = text + pos, *nl = memchr(line, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - line) : len - pos;
		pos += n + (nl != NULL);
		int r = parse_line(line, n, ++lineno, &seen, m, e);
		if (r < 0)
			return r;
	}
	for (int k = 0; k < K_COUNT; k++)
		if (!(seen & (1u << k)) && (k != K_SECURITY || m->format >= 2))
			return err_set(e, UPD_EXIT_VERIFY, EBADMSG, "manifest: missing key %s",
				       key_names[k]);
	/* Format 1 predates the key: a format-1 manifest carrying it was not made
	 * by `bundle create`, and an updater of that time would refuse it. */
	if (m->format == 1 && (seen & (1u << K_SECURITY)))
		return err_set(e, UPD_EXIT_VERIFY, EBADMSG,
			       "manifest: security-version needs format 2 (this one says 1)");
	return 0;
}

int manifest_parse(const char *text, size_t len, struct manifest *m, struct error *e)
{
	memset(m, 0, sizeof(*m));
	int r = manifest_parse_lines(text, len, m, e);
	if (r < 0)
		memset(m, 0, sizeof(*m)); /* never leave a half-trusted manifest behind */
	return r;
}

char *manifest_format(const struct manifest *m)
{
	char ih[65], ph[65], sv[48] = "", *s = NULL;

	hex_encode(m->image_sha256, 32, ih);
	hex_encode(m->payload_sha256, 32, ph);
	if (m->format >= 2)
		snprintf(sv, sizeof(sv), "security-version=%" PRIu64 "\n", m->security_version);
	/* Precisions bound the reads even if a caller filled a field to the brim. */
	if (asprintf(&s,
		     "format=%d\nversion=%.*s\ncompatible=%.*s\n%scompression=%.*s\n"
		     "image-size=%" PRIu64 "\nimage-sha256=%s\n"
		     "payload-size=%" PRIu64 "\npayload-sha256=%s\nzstd-window-log=%d\n",
		     m->format, (int)sizeof(m->version), m->version, (int)sizeof(m->compatible),
		     m->compatible, sv, (int)sizeof(m->compression), m->compression, m->image_size,
		     ih, m->payload_size, ph, m->zstd_window_log) < 0)
		return NULL;
	return s;
}

/* ---- signatures --------------------------------------------------------- */

/* Ed25519 signs the message itself (md must be NULL); ECDSA and RSA sign a
 * SHA-256 digest. *ok is false for key types we do not accept. */
static const EVP_MD *key_md(EVP_PKEY *k, int *ok)
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
			       path, ossl_reason());
	key_md(k, &ok);
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
	const EVP_MD *md = key_md(k, &ok);

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
		return oom(e);
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

/* ---- creation ----------------------------------------------------------- */

struct creator {
	const struct bundle_create_opts *o;
	int level, wlog;
	EVP_PKEY *key;
	int img_fd, pay_fd, out_fd;
	char *tmp_path; /* output.tmp, set while it exists and must be removed */
	uint8_t *in, *out;
	struct manifest m;
	char *mtext;
	uint8_t *sig;
	size_t sig_len;
};

static int io_exit(int errnum)
{
	return (errnum == ENOSPC || errnum == EDQUOT) ? UPD_EXIT_NOSPACE : UPD_EXIT_OTHER;
}

/* Reads up to n bytes, short only at end of file. */
static ssize_t read_full(int fd, uint8_t *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = read(fd, buf + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

static int write_all(int fd, const void *buf, size_t n)
{
	const uint8_t *p = buf;

	while (n > 0) {
		ssize_t r = write(fd, p, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

static int create_opts(struct creator *c, const struct bundle_create_opts *o, struct error *e)
{
	if (!o->image || !o->version || !o->compatible || !o->key || !o->output)
		return err_set(e, UPD_EXIT_USAGE, EINVAL,
			       "bundle create: image, version, compatible, key and output are required");
	int r = check_text("bundle create", "version", o->version, strlen(o->version),
			   sizeof(c->m.version), UPD_EXIT_USAGE, e);
	if (r < 0)
		return r;
	r = check_text("bundle create", "compatible", o->compatible, strlen(o->compatible),
		       sizeof(c->m.compatible), UPD_EXIT_USAGE, e);
	if (r < 0)
		return r;
	c->level = o->level ? o->level : 3;
	if (c->level < ZSTD_minCLevel() || c->level > ZSTD_maxCLevel())
		return err_set(e, UPD_EXIT_USAGE, EINVAL, "bundle create: zstd level %d outside %d..%d",
			       c->level, ZSTD_minCLevel(), ZSTD_maxCLevel());
	c->wlog = o->window_log ? o->window_log : BUNDLE_ZSTD_WINDOW_LOG_MAX;
	if (c->wlog < WINDOW_LOG_MIN || c->wlog > BUNDLE_ZSTD_WINDOW_LOG_MAX)
		return err_set(e, UPD_EXIT_USAGE, EINVAL,
			       "bundle create: zstd window log %d outside %d..%d", c->wlog,
			       WINDOW_LOG_MIN, BUNDLE_ZSTD_WINDOW_LOG_MAX);
	return 0;
}

/* Refuses to prompt on the terminal for a pass phrase: bundle creation runs
 * in CI, and an encrypted key is reported instead of hanging. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf, (void)size, (void)rwflag, (void)u;
	return -1;
}

/* Loaded before the image is compressed, so a bad key fails in a second and
 * not after minutes of compression. */
static int load_private_key(struct creator *c, struct error *e)
{
	const char *path = c->o->key;
	FILE *f = fopen(path, "re");
	int ok;

	if (!f) {
		int err = errno;
		return err_set(e, UPD_EXIT_USAGE, err, "bundle create: read key %s: %s", path,
			       strerror(err));
	}
	c->key = PEM_read_PrivateKey(f, NULL, no_passphrase, NULL);
	fclose(f);
	if (!c->key)
		return err_set(e, UPD_EXIT_USAGE, EINVAL,
			       "bundle create: key %s: not an unencrypted PEM private key (%s)",
			       path, ossl_reason());
	key_md(c->key, &ok);
	if (!ok)
		return err_set(e, UPD_EXIT_USAGE, EINVAL,
			       "bundle create: key %s: unsupported key type (use Ed25519, ECDSA or RSA)",
			       path);
	return 0;
}

static int open_inputs(struct creator *c, struct error *e)
{
	struct stat st;

	c->img_fd = open(c->o->image, O_RDONLY | O_CLOEXEC);
	if (c->img_fd < 0 || fstat(c->img_fd, &st) < 0) {
		int err = errno;
		return err_set(e, UPD_EXIT_USAGE, err, "bundle create: read image %s: %s",
			       c->o->image, strerror(err));
	}
	if (S_ISDIR(st.st_mode))
		return err_set(e, UPD_EXIT_USAGE, EISDIR, "bundle create: read image %s: %s",
			       c->o->image, strerror(EISDIR));
	c->in = malloc(CHUNK);
	c->out = malloc(CHUNK);
	if (!c->in || !c->out)
		return oom(e);
	return 0;
}

/* The compressed payload goes to a temp file next to the output (same file
 * system, so no surprise ENOSPC in /tmp). It is unlinked at once: the open
 * fd keeps it alive and no error path or crash can leave it behind. */
static int open_payload_tmp(struct creator *c, struct error *e)
{
	char *tmpl = NULL;

	if (asprintf(&tmpl, "%s.payload-XXXXXX", c->o->output) < 0)
		return oom(e);
	c->pay_fd = mkostemp(tmpl, O_CLOEXEC);
	if (c->pay_fd < 0) {
		int err = errno;
		err_set(e, io_exit(err), err, "bundle create: write %s: %s", c->o->output,
			strerror(err));
		free(tmpl);
		return -err;
	}
	unlink(tmpl);
	free(tmpl);
	return 0;
}

static int zstd_setup(ZSTD_CCtx *z, const struct creator *c, struct error *e)
{
	size_t r = ZSTD_CCtx_setParameter(z, ZSTD_c_compressionLevel, c->level);

	/* An explicit window log overrides the level's own, so the payload
	 * never needs more than 2^wlog bytes of history to decode. */
	if (!ZSTD_isError(r))
		r = ZSTD_CCtx_setParameter(z, ZSTD_c_windowLog, c->wlog);
	if (!ZSTD_isError(r))
		r = ZSTD_CCtx_setParameter(z, ZSTD_c_checksumFlag, 1);
	if (ZSTD_isError(r))
		return err_set(e, UPD_EXIT_OTHER, EINVAL, "bundle create: zstd setup: %s",
			       ZSTD_getErrorName(r));
	/* A libzstd built without threads refuses this; one thread still works. */
	(void)ZSTD_CCtx_setParameter(z, ZSTD_c_nbWorkers, 2);
	return 0;
}

/* Feeds n bytes of c->in to the compressor and writes whatever comes out to
 * the payload temp file, hashing it on the way. */
static int compress_chunk(struct creator *c, ZSTD_CCtx *z, struct sha256_ctx *ph, size_t n,
			  ZSTD_EndDirective mode, struct error *e)
{
	ZSTD_inBuffer in = {c->in, n, 0};
	size_t left;

	do {
		ZSTD_outBuffer out = {c->out, CHUNK, 0};
		left = ZSTD_compressStream2(z, &out, &in, mode);
		if (ZSTD_isError(left))
			return err_set(e, UPD_EXIT_OTHER, EIO, "bundle create: compress %s: %s",
				       c->o->image, ZSTD_getErrorName(left));
		int r = write_all(c->pay_fd, c->out, out.pos);
		if (r < 0)
			return err_set(e, io_exit(-r), -r,
				       "bundle create: write temp payload next to %s: %s",
				       c->o->output, strerror(-r));
		sha256_update(ph, c->out, out.pos);
		c->m.payload_size += out.pos;
	} while (mode == ZSTD_e_end ? left != 0 : in.pos < in.size);
	return 0;
}

static int compress_loop(struct creator *c, ZSTD_CCtx *z, struct sha256_ctx *ih,
			 struct sha256_ctx *ph, struct error *e)
{
	for (;;) {
		ssize_t n = read_full(c->img_fd, c->in, CHUNK);
		if (n < 0) {
			int err = errno;
			return err_set(e, UPD_EXIT_OTHER, err, "bundle create: read image %s: %s",
				       c->o->image, strerror(err));
		}
		sha256_update(ih, c->in, (size_t)n);
		c->m.image_size += (uint64_t)n;
		int last = (size_t)n < CHUNK;
		int r = compress_chunk(c, z, ph, (size_t)n, last ? ZSTD_e_end : ZSTD_e_continue, e);
		if (r < 0 || last)
			return r;
	}
}

static int compress_image(struct creator *c, struct error *e)
{
	ZSTD_CCtx *z = ZSTD_createCCtx();
	struct sha256_ctx *ih = sha256_new(), *ph = sha256_new();
	int r = (z && ih && ph) ? zstd_setup(z, c, e) : oom(e);

	if (r == 0)
		r = compress_loop(c, z, ih, ph, e);
	if (r == 0) {
		sha256_final(ih, c->m.image_sha256);
		sha256_final(ph, c->m.payload_sha256);
		ih = ph = NULL;
	}
	sha256_free(ih);
	sha256_free(ph);
	ZSTD_freeCCtx(z);
	return r;
}

static int sign_buf(EVP_PKEY *k, const void *msg, size_t len, uint8_t **sig, size_t *sig_len,
		    struct error *e)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok, r = 0;
	size_t n = 0;
	const EVP_MD *md = key_md(k, &ok);

	*sig = NULL;
	if (!ctx || EVP_DigestSignInit(ctx, NULL, md, NULL, k) != 1 ||
	    EVP_DigestSign(ctx, NULL, &n, msg, len) != 1 || !(*sig = malloc(n)) ||
	    EVP_DigestSign(ctx, *sig, &n, msg, len) != 1)
		r = err_set(e, UPD_EXIT_OTHER, EINVAL, "bundle create: sign manifest: %s",
			    ossl_reason());
	else if (n > BUNDLE_SIG_MAX)
		r = err_set(e, UPD_EXIT_USAGE, EINVAL,
			    "bundle create: signature of %zu bytes exceeds %d (key too large)", n,
			    BUNDLE_SIG_MAX);
	EVP_MD_CTX_free(ctx);
	if (r < 0) {
		free(*sig);
		*sig = NULL;
	}
	*sig_len = n;
	return r;
}

static int sign_manifest(struct creator *c, struct error *e)
{
	struct manifest *m = &c->m;

	/* The oldest format that says it all: a bundle without a security version
	 * stays format 1, which updaters that predate format 2 still install. */
	m->format = c->o->security_version ? 2 : 1;
	m->security_version = c->o->security_version;
	snprintf(m->version, sizeof(m->version), "%s", c->o->version);
	snprintf(m->compatible, sizeof(m->compatible), "%s", c->o->compatible);
	snprintf(m->compression, sizeof(m->compression), "zstd");
	m->zstd_window_log = c->wlog;
	c->mtext = manifest_format(m);
	if (!c->mtext)
		return oom(e);
	return sign_buf(c->key, c->mtext, strlen(c->mtext), &c->sig, &c->sig_len, e);
}

static int write_head(struct creator *c, struct error *e)
{
	size_t mlen = strlen(c->mtext);
	uint8_t hdr[BUNDLE_FIXED_HEADER];

	memcpy(hdr, BUNDLE_MAGIC, MAGIC_LEN);
	put_be32(hdr + 8, (uint32_t)mlen);
	put_be32(hdr + 12, (uint32_t)c->sig_len);
	int r = write_all(c->out_fd, hdr, sizeof(hdr));
	if (r == 0)
		r = write_all(c->out_fd, c->mtext, mlen);
	if (r == 0)
		r = write_all(c->out_fd, c->sig, c->sig_len);
	if (r < 0)
		return err_set(e, io_exit(-r), -r, "bundle create: write %s: %s", c->tmp_path,
			       strerror(-r));
	return 0;
}

/* Fallback when copy_file_range cannot work across these files. */
static int copy_rw(struct creator *c, struct error *e)
{
	off_t off = 0;

	for (;;) {
		ssize_t n = pread(c->pay_fd, c->in, CHUNK, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int err = errno;
			return err_set(e, UPD_EXIT_OTHER, err,
				       "bundle create: read temp payload next to %s: %s",
				       c->o->output, strerror(err));
		}
		if (n == 0)
			break;
		int r = write_all(c->out_fd, c->in, (size_t)n);
		if (r < 0)
			return err_set(e, io_exit(-r), -r, "bundle create: write %s: %s",
				       c->tmp_path, strerror(-r));
		off += n;
	}
	if ((uint64_t)off != c->m.payload_size)
		return err_set(e, UPD_EXIT_OTHER, EIO, "bundle create: temp payload changed size");
	return 0;
}

static int copy_fallback_errno(int err)
{
	return err == ENOSYS || err == EXDEV || err == EINVAL || err == EOPNOTSUPP ||
	       err == EPERM;
}

/* copy_file_range lets the kernel copy (or reflink) without a round trip
 * through user space. */
static int copy_payload(struct creator *c, struct error *e)
{
	off_t off = 0;
	uint64_t left = c->m.payload_size;

	while (left > 0) {
		size_t want = left > (1u << 30) ? (1u << 30) : (size_t)left;
		ssize_t n = copy_file_range(c->pay_fd, &off, c->out_fd, NULL, want, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && off == 0 && copy_fallback_errno(errno))
			return copy_rw(c, e);
		if (n <= 0) {
			int err = n < 0 ? errno : EIO;
			return err_set(e, io_exit(err), err, "bundle create: copy payload to %s: %s",
				       c->tmp_path, strerror(err));
		}
		left -= (uint64_t)n;
	}
	return 0;
}

/* The rename is only durable once the directory entry is on disk. */
static int fsync_parent(const char *path, struct error *e)
{
	const char *slash = strrchr(path, '/');
	char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
	int fd, err = 0;

	if (!dir)
		return oom(e);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || (fsync(fd) < 0 && errno != EINVAL))
		err = errno;
	if (fd >= 0)
		close(fd);
	int r = err ? err_set(e, UPD_EXIT_OTHER, err, "bundle create: sync directory %s: %s",
			      dir, strerror(err))
		    : 0;
	free(dir);
	return r;
}

static int write_output(struct creator *c, struct error *e)
{
	if (asprintf(&c->tmp_path, "%s.tmp", c->o->output) < 0) {
		c->tmp_path = NULL;
		return oom(e);
	}
	c->out_fd = open(c->tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (c->out_fd < 0) {
		int err = errno;
		err_set(e, io_exit(err), err, "bundle create: create %s: %s", c->tmp_path,
			strerror(err));
		free(c->tmp_path);
		c->tmp_path = NULL; /* not ours to unlink */
		return -err;
	}
	int r = write_head(c, e);
	if (r == 0)
		r = copy_payload(c, e);
	if (r < 0)
		return r;
	int rc = fsync(c->out_fd);
	int rc2 = close(c->out_fd);
	c->out_fd = -1;
	if (rc < 0 || rc2 < 0 || rename(c->tmp_path, c->o->output) < 0) {
		int err = errno;
		return err_set(e, io_exit(err), err, "bundle create: write %s: %s", c->o->output,
			       strerror(err));
	}
	free(c->tmp_path);
	c->tmp_path = NULL;
	return fsync_parent(c->o->output, e);
}

static void creator_cleanup(struct creator *c)
{
	if (c->img_fd >= 0)
		close(c->img_fd);
	if (c->pay_fd >= 0)
		close(c->pay_fd);
	if (c->out_fd >= 0)
		close(c->out_fd);
	if (c->tmp_path)
		unlink(c->tmp_path);
	free(c->tmp_path);
	EVP_PKEY_free(c->key);
	free(c->in);
	free(c->out);
	free(c->mtext);
	free(c->sig);
}

int bundle_create(const struct bundle_create_opts *o, struct error *e)
{
	struct creator c = {.o = o, .img_fd = -1, .pay_fd = -1, .out_fd = -1};
	int r = create_opts(&c, o, e);

	if (r == 0)
		r = load_private_key(&c, e);
	if (r == 0)
		r = open_inputs(&c, e);
	if (r == 0)
		r = open_payload_tmp(&c, e);
	if (r == 0)
		r = compress_image(&c, e);
	if (r == 0)
		r = sign_manifest(&c, e);
	if (r == 0)
		r = write_output(&c, e);
	if (r == 0)
		log_debug("bundle create: %s: image %" PRIu64 " bytes, payload %" PRIu64
			  " bytes, window log %d",
			  o->output, c.m.image_size, c.m.payload_size, c.wlog);
	creator_cleanup(&c);
	return r;
}

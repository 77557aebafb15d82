/* Hostile bundles, table-driven: length fields that claim more than the file,
 * numbers that overflow the payload's offset, unexpected keys, values of the
 * wrong type, path-like values and NUL bytes. Each case is a whole file read
 * the way the dual-bank backend reads one (source_read_head, bundle_head_parse,
 * bundle_check_size); test_bundle.c covers the well-formed format and the
 * plainer manifest rejections. */
#include "testutil.h"

#include <errno.h>
#include <inttypes.h>

#include "../../bundle/bundle.h"
#include "../../lib/source.h"

#define SHA_A "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
#define SHA_B "fffefdfcfbfaf9f8f7f6f5f4f3f2f1f0efeeedecebeae9e8e7e6e5e4e3e2e1e0"

static char *dir;

static int setup(void **state)
{
	(void)state;
	dir = tu_mkdtemp();
	return dir ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	tu_rmtree(dir);
	return 0;
}

/* The manifest lines of a good bundle with a 4-byte payload; a case edits
 * one line by key (or adds one, when key is NULL). */
static const char *const good_lines[] = {
	"format=1", "version=2.0", "compatible=board", "compression=zstd",
	"image-size=10", "image-sha256=" SHA_A, "payload-size=4", "payload-sha256=" SHA_B,
	"zstd-window-log=23",
};
#define N_LINES (sizeof(good_lines) / sizeof(good_lines[0]))

struct hostile {
	const char *name;
	/* manifest: replace the line of `key` by `line` (len bytes, may hold NUL;
	 * NULL line drops it), or append it when key is NULL */
	const char *key, *line;
	size_t line_len;
	/* the fixed header's fields: 0 means the true length, else this value */
	uint32_t mlen, slen;
	size_t sig_bytes, payload_bytes; /* bytes really in the file after the manifest */
	int want;                        /* 0, -EAGAIN, -EBADMSG or -ENODATA */
	const char *msg;                 /* in the message (or NULL for 0 / -EAGAIN) */
	const char *not_in_msg;          /* hostile bytes that must not be echoed */
};

#define L(s) s, sizeof(s) - 1

static const struct hostile cases[] = {
	/* length fields that claim more than the file */
	{"manifest length past the end", NULL, NULL, 0, 5000, 0, 0, 4, -EAGAIN, NULL, NULL},
	{"signature length past the end", NULL, NULL, 0, 0, 4096, 64, 0, -EAGAIN, NULL, NULL},
	{"payload-size past the end", "payload-size", L("payload-size=5"), 0, 0, 0, 4, -ENODATA,
	 "bundle truncated: ", NULL},
	{"payload-size 2^32 past the end", "payload-size", L("payload-size=4294967296"), 0, 0, 0, 4,
	 -ENODATA, "its manifest needs 4294967", NULL},
	{"payload missing entirely", NULL, NULL, 0, 0, 0, 0, 0, -ENODATA, "bundle truncated", NULL},
	{"lengths past the maxima", NULL, NULL, 0, 16385, 4097, 0, 4, -EBADMSG,
	 "manifest length 16385 exceeds 16384", NULL},
	{"manifest length with the sign bit", NULL, NULL, 0, 0x80000010u, 0, 0, 4, -EBADMSG,
	 "manifest length 2147483664 exceeds", NULL},
	{"signature length with the sign bit", NULL, NULL, 0, 0, 0x80000000u, 0, 4, -EBADMSG,
	 "signature length 2147483648 exceeds", NULL},
	/* manifest length shorter than the text: the rest is read as signature */
	{"manifest length cuts a line", NULL, NULL, 0, 200, 0, 0, 4, -EBADMSG, "manifest: ", NULL},
	/* huge numbers: offset + payload-size beyond 2^64 */
	{"payload-size 2^64-1", "payload-size", L("payload-size=18446744073709551615"), 0, 0, 0, 4,
	 -EBADMSG, "payload-size 18446744073709551615 does not fit", NULL},
	{"payload-size 2^64-280", "payload-size", L("payload-size=18446744073709551336"), 0, 0, 0,
	 4, -EBADMSG, "payload-size 18446744073709551336 does not fit", NULL},
	{"payload-size past 2^64", "payload-size", L("payload-size=18446744073709551616"), 0, 0, 0,
	 4, -EBADMSG, "payload-size is too large", NULL},
	{"window log past 2^64", "zstd-window-log", L("zstd-window-log=18446744073709551616"), 0, 0,
	 0, 4, -EBADMSG, "zstd-window-log is too large", NULL},
	/* unexpected keys */
	{"key of another tool", NULL, L("signature=abc"), 0, 0, 0, 4, -EBADMSG,
	 "unknown key signature", NULL},
	{"key in upper case", NULL, L("Version=3.0"), 0, 0, 0, 4, -EBADMSG, "line 10: malformed key",
	 "Version"},
	{"key with an underscore", NULL, L("image_size=1"), 0, 0, 0, 4, -EBADMSG, "malformed key",
	 "image_size"},
	{"key with a space before =", "version", L("version =2.0"), 0, 0, 0, 4, -EBADMSG,
	 "line 2: malformed key", NULL},
	{"key with a space in front", "version", L(" version=2.0"), 0, 0, 0, 4, -EBADMSG,
	 "malformed key", NULL},
	{"key as a path", NULL, L("../../etc/passwd=1"), 0, 0, 0, 4, -EBADMSG, "malformed key",
	 "passwd"},
	{"key of 65 characters", NULL,
	 L("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa=1"), 0, 0, 0, 4,
	 -EBADMSG, "malformed key", "aaaa"},
	/* duplicated keys, even with the same value */
	{"image-size twice", NULL, L("image-size=10"), 0, 0, 0, 4, -EBADMSG,
	 "duplicate key image-size", NULL},
	{"payload-sha256 twice", NULL, L("payload-sha256=" SHA_A), 0, 0, 0, 4, -EBADMSG,
	 "duplicate key payload-sha256", NULL},
	{"zstd-window-log twice", NULL, L("zstd-window-log=10"), 0, 0, 0, 4, -EBADMSG,
	 "duplicate key zstd-window-log", NULL},
	/* values of the wrong type */
	{"format as a float", "format", L("format=1.0"), 0, 0, 0, 4, -EBADMSG,
	 "format is not a decimal number", NULL},
	{"window log in hex", "zstd-window-log", L("zstd-window-log=0x17"), 0, 0, 0, 4, -EBADMSG,
	 "zstd-window-log is not a decimal number", NULL},
	{"payload-size in exponent form", "payload-size", L("payload-size=4e0"), 0, 0, 0, 4,
	 -EBADMSG, "payload-size is not a decimal number", NULL},
	{"image-size quoted", "image-size", L("image-size=\"10\""), 0, 0, 0, 4, -EBADMSG,
	 "image-size is not a decimal number", NULL},
	{"sha256 as a number", "image-sha256", L("image-sha256=12345"), 0, 0, 0, 4, -EBADMSG,
	 "image-sha256 must be 64 hex digits", NULL},
	{"sha256 with a space", "image-sha256",
	 L("image-sha256=000102030405060708090a0b0c0d0e0f 101112131415161718191a1b1c1d1e1"), 0, 0,
	 0, 4, -EBADMSG, "image-sha256 must be 64 hex digits", NULL},
	{"compression as a number", "compression", L("compression=1"), 0, 0, 0, 4, -EBADMSG,
	 "compression is not supported", NULL},
	/* NUL bytes anywhere in the manifest */
	{"NUL inside version", "version", L("version=2.0\0evil"), 0, 0, 0, 4, -EBADMSG,
	 "contains a NUL byte", NULL},
	{"NUL after compatible", "compatible", L("compatible=board\0"), 0, 0, 0, 4, -EBADMSG,
	 "contains a NUL byte", NULL},
	{"NUL inside a key", "format", L("for\0mat=1"), 0, 0, 0, 4, -EBADMSG, "contains a NUL byte",
	 NULL},
	{"NUL line", NULL, L("\0"), 0, 0, 0, 4, -EBADMSG, "contains a NUL byte", NULL},
	/* terminal escapes in values are refused, not echoed */
	{"escape in compatible", "compatible", L("compatible=\x1b]0;owned\x07"), 0, 0, 0, 4,
	 -EBADMSG, "compatible contains a control character", "owned"},
	/* trailing bytes after the payload are not an error */
	{"bytes after the payload", NULL, NULL, 0, 0, 0, 0, 100, 0, NULL, NULL},
};

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8),
	p[3] = (uint8_t)v;
}

/* The manifest text of a case (NUL bytes kept), malloc'd; *len its length. */
static char *case_manifest(const struct hostile *c, size_t *len)
{
	char *m = malloc(4096);
	size_t n = 0;

	assert_non_null(m);
	for (size_t i = 0; i < N_LINES; i++) {
		const char *l = good_lines[i];
		size_t ll = strlen(l);
		if (c->key && strncmp(l, c->key, strlen(c->key)) == 0 && l[strlen(c->key)] == '=') {
			if (!c->line)
				continue;
			l = c->line, ll = c->line_len;
		}
		memcpy(m + n, l, ll);
		n += ll;
		m[n++] = '\n';
	}
	if (!c->key && c->line) {
		memcpy(m + n, c->line, c->line_len);
		n += c->line_len;
		m[n++] = '\n';
	}
	*len = n;
	return m;
}

/* Writes the case's bundle file and returns its path. */
static char *write_case(const struct hostile *c, size_t i)
{
	size_t mlen, total;
	char *m = case_manifest(c, &mlen), *path = NULL;

	total = BUNDLE_FIXED_HEADER + mlen + c->sig_bytes + c->payload_bytes;
	uint8_t *b = calloc(1, total);
	assert_non_null(b);
	memcpy(b, BUNDLE_MAGIC, 8);
	put_be32(b + 8, c->mlen ? c->mlen : (uint32_t)mlen);
	put_be32(b + 12, c->slen ? c->slen : (uint32_t)c->sig_bytes);
	memcpy(b + BUNDLE_FIXED_HEADER, m, mlen);
	memset(b + BUNDLE_FIXED_HEADER + mlen, 'S', c->sig_bytes);
	memset(b + BUNDLE_FIXED_HEADER + mlen + c->sig_bytes, 'P', c->payload_bytes);
	assert_true(asprintf(&path, "%s/case%zu.upd", dir, i) > 0);
	assert_int_equal(tu_write_file(path, (const char *)b, total), 0);
	free(b);
	free(m);
	return path;
}

/* Reads a bundle file as the dual-bank backend does before any signature
 * check; *need is what bundle_head_parse asked for. */
static int read_head(const char *path, struct bundle_head *h, size_t *need, uint64_t *total,
		     struct error *e)
{
	struct source_opts o = {.location = path};
	uint8_t *buf = malloc(BUNDLE_HEAD_MAX);
	size_t len = 0;

	assert_non_null(buf);
	assert_int_equal(source_read_head(&o, buf, BUNDLE_HEAD_MAX, &len, total, e), 0);
	int r = bundle_head_parse(buf, len, h, need, e);
	free(buf);
	if (r == 0) {
		r = bundle_check_size(h, *total, e);
		if (r < 0)
			bundle_head_free(h);
	}
	return r;
}

static void test_hostile_bundles(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct hostile *c = &cases[i];
		char *path = write_case(c, i);
		struct bundle_head h;
		struct error e = {0};
		size_t need = 0;
		uint64_t total = 0;
		int r = read_head(path, &h, &need, &total, &e);

		if (r != c->want || (c->msg && !strstr(e.msg, c->msg)))
			fail_msg("case \"%s\": r=%d msg=\"%s\"; want r=%d msg containing \"%s\"",
				 c->name, r, e.msg, c->want, c->msg ? c->msg : "");
		if (c->not_in_msg && strstr(e.msg, c->not_in_msg))
			fail_msg("case \"%s\": message echoes \"%s\": %s", c->name, c->not_in_msg,
				 e.msg);
		if (r == -EAGAIN) {
			/* The reader is told it needs more than the whole file, and
			 * never more than a head can be. */
			if (need <= total || need > BUNDLE_HEAD_MAX)
				fail_msg("case \"%s\": need %zu, file %" PRIu64, c->name, need, total);
			assert_false(err_isset(&e));
		}
		if (r < 0) {
			assert_null(h.manifest_text); /* nothing is kept from a refused head */
			assert_null(h.sig);
			if (r != -EAGAIN)
				assert_int_equal(e.exit, UPD_EXIT_VERIFY);
		} else {
			bundle_head_free(&h);
		}
		unlink(path);
		free(path);
	}
	/* tests/fuzz/replay.sh reports this count in docs/reliability.md. */
	printf("hostile bundle files handled as expected: %zu\n", sizeof(cases) / sizeof(cases[0]));
}

/* Path-like values are text: kept byte for byte, never resolved or
 * refused as paths (the manifest names no file the updater opens). */
static void test_path_like_values(void **state)
{
	(void)state;
	static const char *const values[][2] = {
		{"../../../etc/shadow", "/dev/mmcblk0p1"},
		{"..", "."},
		{"/", "C:\\boot\\..\\"},
		{"2.0/../../1.0", "board/../other-board"},
	};
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		char *text = NULL;
		struct manifest m;
		struct error e = {0};

		assert_true(asprintf(&text,
				     "format=1\nversion=%s\ncompatible=%s\ncompression=zstd\n"
				     "image-size=10\nimage-sha256=" SHA_A "\npayload-size=4\n"
				     "payload-sha256=" SHA_B "\nzstd-window-log=23\n",
				     values[i][0], values[i][1]) > 0);
		if (manifest_parse(text, strlen(text), &m, &e) != 0)
			fail_msg("\"%s\" / \"%s\": %s", values[i][0], values[i][1], e.msg);
		assert_string_equal(m.version, values[i][0]);
		assert_string_equal(m.compatible, values[i][1]);
		char *back = manifest_format(&m);
		assert_string_equal(back, text);
		free(back);
		free(text);
	}
}

/* The largest payload whose end still fits in 64 bits parses; the check
 * against the file then refuses it, and a source of unknown size lets the
 * stream find the end. */
static void test_payload_end_limit(void **state)
{
	(void)state;
	struct hostile c = {"limit", "payload-size", NULL, 0, 0, 0, 0, 4, 0, NULL, NULL};
	char line[64];
	size_t mlen;

	/* payload_offset = 16 + manifest length; the manifest holds this line. */
	for (int pass = 0; pass < 2; pass++) {
		c.line = line;
		c.line_len = (size_t)snprintf(line, sizeof(line), "payload-size=%020" PRIu64,
					      (uint64_t)0);
		char *m = case_manifest(&c, &mlen);
		free(m);
		uint64_t last = UINT64_MAX - (BUNDLE_FIXED_HEADER + mlen);
		c.line_len = (size_t)snprintf(line, sizeof(line), "payload-size=%020" PRIu64,
					      pass ? last : last + 1);
		char *path = write_case(&c, 1000);
		struct bundle_head h;
		struct error e = {0};
		size_t need;
		uint64_t total;
		int r = read_head(path, &h, &need, &total, &e);
		if (pass == 0) {
			if (r != -EBADMSG || !strstr(e.msg, "does not fit"))
				fail_msg("one past the limit: r=%d %s", r, e.msg);
		} else {
			if (r != -ENODATA)
				fail_msg("at the limit: r=%d %s", r, e.msg);
			struct error e2 = {0};
			uint8_t *buf = (uint8_t *)tu_read_file(path, &need);
			assert_int_equal(bundle_head_parse(buf, need, &h, NULL, &e2), 0);
			assert_true(h.payload_offset + h.manifest.payload_size == UINT64_MAX);
			assert_int_equal(bundle_check_size(&h, UINT64_MAX, &e2), 0);
			bundle_head_free(&h);
			free(buf);
		}
		unlink(path);
		free(path);
	}
}

TU_MAIN(setup, teardown, cmocka_unit_test(test_hostile_bundles), cmocka_unit_test(test_path_like_values),
	cmocka_unit_test(test_payload_end_limit))

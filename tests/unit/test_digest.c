/* SHA-256 against FIPS 180-2 vectors, incremental feeding, hex helpers. */
#include "testutil.h"

#include <errno.h>

#include "../../lib/digest.h"

static void sha_hex(const void *data, size_t len, char out[65])
{
	struct sha256_ctx *c = sha256_new();
	uint8_t d[32];

	assert_non_null(c);
	sha256_update(c, data, len);
	sha256_final(c, d);
	hex_encode(d, 32, out);
}

static void test_vectors(void **state)
{
	(void)state;
	char hex[65];

	sha_hex("", 0, hex);
	assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	sha_hex("abc", 3, hex);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	sha_hex(two, strlen(two), hex);
	assert_string_equal(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

/* One million 'a' fed in uneven pieces must equal the one-shot digest. */
static void test_incremental(void **state)
{
	(void)state;
	char buf[1000];
	struct sha256_ctx *c = sha256_new();
	uint8_t d[32];
	char hex[65];
	size_t done = 0, step = 1;

	memset(buf, 'a', sizeof(buf));
	assert_non_null(c);
	while (done < 1000000) {
		size_t n = step < 1000000 - done ? step : 1000000 - done;
		if (n > sizeof(buf))
			n = sizeof(buf);
		sha256_update(c, buf, n);
		sha256_update(c, buf, 0); /* empty updates are harmless */
		done += n;
		step = step * 7 % 997 + 1;
	}
	sha256_final(c, d);
	hex_encode(d, 32, hex);
	assert_string_equal(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

/* sha256_oneshot: each call the digest of its data alone, whatever the
 * context hashed before (an update left pending, earlier one-shots). */
static void test_oneshot_reuse(void **state)
{
	(void)state;
	struct sha256_ctx *c = sha256_new();
	uint8_t d[32];
	char hex[65];

	assert_non_null(c);
	sha256_update(c, "pending", 7);
	sha256_oneshot(c, "abc", 3, d);
	hex_encode(d, 32, hex);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	sha256_oneshot(c, "", 0, d);
	hex_encode(d, 32, hex);
	assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	sha256_oneshot(c, "abc", 3, d);
	hex_encode(d, 32, hex);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	sha256_free(c);
	sha256_oneshot(NULL, "abc", 3, d); /* no context: all zeros, fails closed */
	for (int i = 0; i < 32; i++)
		assert_int_equal(d[i], 0);
}

static void test_free_without_final(void **state)
{
	(void)state;
	struct sha256_ctx *c = sha256_new();

	assert_non_null(c);
	sha256_update(c, "x", 1);
	sha256_free(c); /* leak checkers (ASan, valgrind) verify this frees everything */
	sha256_free(NULL);
}

static void test_hex(void **state)
{
	(void)state;
	const uint8_t in[] = {0x00, 0x01, 0x7f, 0x80, 0xab, 0xff};
	char hex[2 * sizeof(in) + 1];
	uint8_t out[sizeof(in)];

	hex_encode(in, sizeof(in), hex);
	assert_string_equal(hex, "00017f80abff");
	assert_int_equal(hex_decode(hex, out, sizeof(in)), 0);
	assert_memory_equal(out, in, sizeof(in));
	assert_int_equal(hex_decode("00017F80ABFF", out, sizeof(in)), 0); /* either case */
	assert_memory_equal(out, in, sizeof(in));

	hex_encode(in, 0, hex);
	assert_string_equal(hex, "");
}

static void test_hex_rejects(void **state)
{
	(void)state;
	uint8_t out[3] = {0x11, 0x22, 0x33};

	assert_int_equal(hex_decode("0g0000", out, 3), -EINVAL);
	assert_int_equal(hex_decode("00 000", out, 3), -EINVAL);
	assert_int_equal(hex_decode("0000", out, 3), -EINVAL); /* too short: stops at NUL */
	assert_int_equal(hex_decode("", out, 1), -EINVAL);
	assert_int_equal(hex_decode("-1", out, 1), -EINVAL);
	/* A refused input leaves the output untouched. */
	assert_int_equal(out[0], 0x11);
	assert_int_equal(out[2], 0x33);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),	   cmocka_unit_test(test_incremental),
		cmocka_unit_test(test_free_without_final), cmocka_unit_test(test_hex),
		cmocka_unit_test(test_hex_rejects),	   cmocka_unit_test(test_oneshot_reuse),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

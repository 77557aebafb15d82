/* version_compare: the ordering used for downgrade protection. */
#include "testutil.h"

#include "../../lib/version.h"

static int sign(int x) { return (x > 0) - (x < 0); }

struct vcase {
	const char *a, *b;
	int want; /* -1, 0, 1 */
};

static const struct vcase cases[] = {
	{"1", "1", 0},
	{"2", "2.0", 0},
	{"2.0", "2.0.0.0", 0},
	{"2.0", "2.0.1", -1},
	{"2.0.1", "2.10", -1},
	{"2.9", "2.10", -1},
	{"1.2.3", "1.2.3", 0},
	{"1.2.3", "1.3", -1},
	{"10", "9", 1},
	{"1.01", "1.1", 0},			      /* leading zeros do not count */
	{"1.99999999999999999999999", "1.100000000000000000000000", -1}, /* no overflow */
	{"18446744073709551616", "18446744073709551615", 1},
	{"1.0-rc1", "1.0", -1}, /* pre-release before the release */
	{"1.0-rc1", "1.0-rc2", -1},
	{"1.0-rc2", "1.0-rc10", -1}, /* natural order within a suffix */
	{"1.0-beta", "1.0-rc1", -1},
	{"1.0~rc1", "1.0", -1},
	{"1.0-rc1", "0.9", 1},
	{"1.0.0-rc1", "1.0", -1},
	{"1.0-rc1", "1.0.1", -1},
	{"1.0.1-rc1", "1.0", 1},
	{"1.0", "1.0a", -1}, /* other suffixes after the release */
	{"1.0a", "1.0b", -1},
	{"1.0+git2", "1.0+git10", -1},
	{"1.0-rc1", "1.0a", -1},
	{"1.", "1", 0},
	{"", "0", 0},
	{"", "0.0.1", -1},
	{"abc", "abd", -1},
	{"abc", "0", 1},
	{"1..2", "1.0.2", 0},
	{"2024.06.1", "2024.6.2", -1},
};

static void test_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct vcase *c = &cases[i];
		int ab = sign(version_compare(c->a, c->b));
		int ba = sign(version_compare(c->b, c->a));
		if (ab != c->want || ba != -c->want)
			fail_msg("version_compare(\"%s\", \"%s\") = %d (reverse %d), want %d", c->a,
				 c->b, ab, ba, c->want);
	}
}

static void test_garbage(void **state)
{
	(void)state;
	assert_int_equal(version_compare(NULL, NULL), 0);
	assert_int_equal(version_compare(NULL, ""), 0);
	assert_true(version_compare(NULL, "1") < 0);
	assert_true(version_compare("\x01\xff..--~~", "1") < 0);
	assert_int_equal(version_compare("\xff\xfe", "\xff\xfe"), 0);
	assert_true(version_compare("...", "0.0.0.1") < 0);
}

/* The order must be transitive for any mix of inputs, or a list of versions
 * could not be sorted consistently: check every triple of a varied set. */
static void test_transitive(void **state)
{
	(void)state;
	static const char *const v[] = {
		"",	 "0",	  "1",	  "1.0",     "1.0-rc1", "1.0-rc10", "1.0~a", "1.0a", "1.0a1",
		"1.0+1", "1.0-1", "1.0-", "1.0.0-a", "01",	"1a",	    "1:2",   "1/2",  "a",
		"1.0-rc1a", "1.0-rc01", "2", ".", "1..", "-1", "~", "1.0-rc1.2",
	};
	size_t n = sizeof(v) / sizeof(v[0]);

	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < n; j++)
			for (size_t k = 0; k < n; k++) {
				int ij = sign(version_compare(v[i], v[j]));
				int jk = sign(version_compare(v[j], v[k]));
				int ik = sign(version_compare(v[i], v[k]));
				if (ij <= 0 && jk <= 0 && !(ik <= 0))
					fail_msg("not transitive: \"%s\" <= \"%s\" <= \"%s\"", v[i],
						 v[j], v[k]);
				if (ij == 0 && jk == 0 && ik != 0)
					fail_msg("equality not transitive: %s %s %s", v[i], v[j],
						 v[k]);
			}
}

TU_MAIN(NULL, NULL, cmocka_unit_test(test_table), cmocka_unit_test(test_garbage),
	cmocka_unit_test(test_transitive))

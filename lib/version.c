/* version_compare: ordering of release versions for downgrade protection;
 * check_text: what a release's version or compatible may hold.
 *
 * A version is split at '.' into fields; a missing field is "0", so "2" ==
 * "2.0". Each field is a run of digits (its number, compared by value with no
 * overflow however long it is; no digits means 0) followed by an optional
 * suffix:
 *   - a suffix starting with '-' or '~' marks a pre-release and sorts before
 *     the bare number: "1.0-rc1" < "1.0" (semver/Debian convention);
 *   - any other suffix sorts after it: "1.0" < "1.0a" < "1.0+git2";
 *   - two suffixes of the same kind compare "naturally": digit runs by value,
 *     everything else byte by byte, so "-rc2" < "-rc10" and "-beta" < "-rc".
 * This is a total order over all byte strings, so any garbage (even NULL,
 * treated as "") compares without crashing and consistently. */
#include "version.h"

#include <errno.h>
#include <string.h>

/* A digit run [s, s+n): compares by numeric value without converting, so a
 * 40-digit field cannot overflow. */
static int cmp_digits(const char *a, size_t na, const char *b, size_t nb)
{
	while (na > 0 && *a == '0')
		a++, na--;
	while (nb > 0 && *b == '0')
		b++, nb--;
	if (na != nb)
		return na < nb ? -1 : 1;
	int c = na ? memcmp(a, b, na) : 0;
	return c < 0 ? -1 : c > 0;
}

static size_t digit_run(const char *s, size_t n)
{
	size_t i = 0;

	while (i < n && s[i] >= '0' && s[i] <= '9')
		i++;
	return i;
}

static int is_digit(char c) { return c >= '0' && c <= '9'; }

/* Natural comparison of two suffixes. Digits and non-digits never compare
 * as runs against each other but byte-wise, which stays transitive because
 * every non-digit byte is either below '0' or above '9'. */
static int cmp_natural(const char *a, size_t na, const char *b, size_t nb)
{
	size_t i = 0, j = 0;

	while (i < na && j < nb) {
		if (is_digit(a[i]) && is_digit(b[j])) {
			size_t ra = digit_run(a + i, na - i), rb = digit_run(b + j, nb - j);
			int c = cmp_digits(a + i, ra, b + j, rb);
			if (c)
				return c;
			i += ra, j += rb;
			continue;
		}
		if (a[i] != b[j])
			return (unsigned char)a[i] < (unsigned char)b[j] ? -1 : 1;
		i++, j++;
	}
	return (i < na) - (j < nb);
}

/* -1 pre-release ("-rc1", "~beta"), 0 none, 1 anything else ("a", "+git"). */
static int suffix_rank(const char *s, size_t n)
{
	if (n == 0)
		return 0;
	return (s[0] == '-' || s[0] == '~') ? -1 : 1;
}

static int cmp_field(const char *a, size_t na, const char *b, size_t nb)
{
	size_t da = digit_run(a, na), db = digit_run(b, nb);
	int c = cmp_digits(a, da, b, db);

	if (c)
		return c;
	a += da, na -= da, b += db, nb -= db;
	int ra = suffix_rank(a, na), rb = suffix_rank(b, nb);
	if (ra != rb)
		return ra < rb ? -1 : 1;
	return cmp_natural(a, na, b, nb);
}

/* Length of the field at s (up to '.' or the end); *next is where the
 * following field starts, or NULL after the last field. */
static size_t field(const char *s, const char **next)
{
	const char *dot = strchr(s, '.');

	if (!dot) {
		*next = NULL;
		return strlen(s);
	}
	*next = dot + 1;
	return (size_t)(dot - s);
}

int version_compare(const char *a, const char *b)
{
	a = a ? a : "";
	b = b ? b : "";
	/* "" has no fields; both then compare as all-zero. */
	const char *pa = *a ? a : NULL, *pb = *b ? b : NULL;

	while (pa || pb) {
		const char *na = NULL, *nb = NULL;
		size_t la = pa ? field(pa, &na) : 0, lb = pb ? field(pb, &nb) : 0;
		int c = cmp_field(pa ? pa : "", la, pb ? pb : "", lb);
		if (c)
			return c;
		pa = na, pb = nb;
	}
	return 0;
}

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

/* The checking wrappers' own test (tests/checked/run.sh): a stand-in for the
 * updater that makes each kind of mistake the wrappers must report, and
 * exits 3 like a refused bundle, so a test that expects a failure is
 * satisfied by its exit status alone. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
	const char *what = argc > 1 ? argv[1] : "";
	volatile int big = INT_MAX - 1;

	if (strcmp(what, "leak") == 0) {
		char *volatile p = malloc(64);
		p[0] = 1;
		p = NULL;
	} else if (strcmp(what, "overflow") == 0) {
		big = big + argc; /* argc is 2: INT_MAX + 1 */
	} else if (strcmp(what, "uninit") == 0) {
		int *p = malloc(sizeof(*p));
		if (*p == 42) /* memcheck: a jump on an uninitialised value */
			big = 0;
		free(p);
	} else if (strcmp(what, "overrun") == 0) {
		char *p = malloc(8);
		p[8] = 1;
		free(p);
	}
	return big == 0 ? 4 : 3;
}

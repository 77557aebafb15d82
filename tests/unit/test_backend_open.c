/* The constructor rule (core/backend.h) for each compiled-in backend's open():
 * on failure *priv is NULL and there is nothing to close. */
#include "testutil.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../config/config.h"
#include "../../core/backend.h"

static void *const NOT_NULL = (void *)&NOT_NULL; /* what open() must overwrite */

static int open_failing(const char *name, struct config *c, void **priv, struct error *e)
{
	const struct backend_ops *ops = backend_find(name);
	struct updater_ctx u = { .cfg = c };

	if (!ops)
		skip(); /* not compiled into this build */
	*priv = NOT_NULL;
	return ops->open(&u, priv, e);
}

/* A config without the slots: refused before anything is allocated. */
static void dualbank_open_failing_leaves_nothing(void **state)
{
	struct config c = { .path = "test.conf" };
	struct error e = { 0 };
	void *priv;

	(void)state;
	assert_true(open_failing("dualbank", &c, &priv, &e) < 0);
	assert_null(priv);
	assert_non_null(strstr(e.msg, "dualbank.slots.A: missing"));
}

/* A complete config naming an empty directory as the sysroot: the backend is
 * allocated, loading the sysroot fails, and what was allocated is freed. */
static void ostree_open_failing_leaves_nothing(void **state)
{
	char *dir = tu_mkdtemp();
	struct config c = { .path = "test.conf" };
	struct error e = { 0 };
	void *priv;

	(void)state;
	c.ostree.sysroot = dir;
	c.ostree.osname = "os";
	c.ostree.ref = "os/stable";
	c.ostree.url = "http://127.0.0.1:9/repo";
	assert_true(open_failing("ostree", &c, &priv, &e) < 0);
	assert_null(priv);
	assert_non_null(strstr(e.msg, "open the ostree sysroot"));
	rmdir(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(dualbank_open_failing_leaves_nothing),
		cmocka_unit_test(ostree_open_failing_leaves_nothing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

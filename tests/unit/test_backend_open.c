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

/* Opens backend NAME with the config TEXT, loaded as the updater loads one
 * (the backends' sections are config_load()'s) from a file of its own. */
static int open_failing(const char *name, const char *text, void **priv, struct error *e)
{
	const struct backend_ops *ops = backend_find(name);
	char *dir, *path = NULL;
	struct config c;
	struct updater_ctx u = { .cfg = &c };
	int rc;

	if (!ops)
		skip(); /* not compiled into this build */
	dir = tu_mkdtemp();
	assert_true(dir && asprintf(&path, "%s/test.conf", dir) >= 0);
	tu_write_text(path, text);
	if (config_load(&c, path, e) < 0)
		fail_msg("%s", e->msg);
	*priv = NOT_NULL;
	rc = ops->open(&u, priv, e);
	config_free(&c);
	free(path);
	tu_rmtree(dir);
	return rc;
}

/* A config without the slots: refused before anything is allocated. */
static void dualbank_open_failing_leaves_nothing(void **state)
{
	struct error e = { 0 };
	void *priv;

	(void)state;
	assert_true(open_failing("dualbank", "compatible = \"x\"; state_dir = \"/s\";\n", &priv,
				 &e) < 0);
	assert_null(priv);
	assert_non_null(strstr(e.msg, "dualbank.slots.A: missing"));
}

/* A complete config naming an empty directory as the sysroot: the backend is
 * allocated, loading the sysroot fails, and what was allocated is freed. */
static void ostree_open_failing_leaves_nothing(void **state)
{
	char *dir = tu_mkdtemp(), *text = NULL;
	struct error e = { 0 };
	void *priv;

	(void)state;
	assert_true(dir && asprintf(&text, "compatible = \"x\"; state_dir = \"/s\";\n"
				    "ostree = { sysroot = \"%s\"; osname = \"os\"; ref = \"os/stable\";"
				    " url = \"http://127.0.0.1:9/repo\"; gpg_verify = false; };\n",
				    dir) >= 0);
	assert_true(open_failing("ostree", text, &priv, &e) < 0);
	assert_null(priv);
	assert_non_null(strstr(e.msg, "open the ostree sysroot"));
	free(text);
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

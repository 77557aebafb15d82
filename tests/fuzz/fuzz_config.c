/* The config loader (config_load, libconfig underneath) over the input as a
 * config file. A refusal must name the file; a config that loads must hold
 * what config.h promises (required keys, absolute paths, ranges). */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "../../config/config.h"
#include "fuzz.h"
#ifdef WITH_DUALBANK
#include "../../backends/dualbank/config_keys.h"
#endif
#ifdef WITH_OSTREE
#include "../../backends/ostree/config_keys.h"
#endif

static char *conf_path;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	char *dir = fuzz_tmpdir();

	/* Relative @include and path values resolve in this directory, which
	 * holds nothing but the input. */
	FUZZ_CHECK(asprintf(&conf_path, "%s/updater.conf", dir) > 0);
	free(dir);
	return 0;
}

static void check_path(const char *p)
{
	FUZZ_CHECK(p == NULL || p[0] == '/');
}

/* The backends' sections, for those compiled in. */
static void check_sections(const struct config *c)
{
#ifdef WITH_DUALBANK
	const struct dualbank_config *d = config_section_data(c, &dualbank_section);

	FUZZ_CHECK(d != NULL);
	check_path(d->slot_a);
	check_path(d->slot_b);
	for (size_t i = 0; i < d->n_public_keys; i++)
		check_path(d->public_keys[i]);
	FUZZ_CHECK((d->n_public_keys == 0) == (d->public_keys == NULL));
#endif
#ifdef WITH_OSTREE
	const struct ostree_config *o = config_section_data(c, &ostree_section);

	FUZZ_CHECK(o != NULL);
	check_path(o->sysroot);
	check_path(o->gpg_keyring);
	check_path(o->root);
	FUZZ_CHECK(o->keep >= 1);
#endif
	(void)c;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config c;
	struct error e = {0};

	fuzz_write(conf_path, data, size);
	int r = config_load(&c, conf_path, &e);
	if (r < 0) {
		FUZZ_CHECK(e.msg[0] && (e.exit == UPD_EXIT_USAGE || r == -ENOMEM));
		/* "<file>:<line>: ..." or "<file>: ..." of this file or one it includes. */
		FUZZ_CHECK(e.msg[0] == '/');
		FUZZ_CHECK(c.path == NULL && c.compatible == NULL);
		return 0;
	}
	FUZZ_CHECK(strcmp(c.path, conf_path) == 0 && c.compatible && c.compatible[0]);
	const char *paths[] = {c.state_dir, c.cmdline, c.version_file, c.server.ca, c.server.cert,
			       c.server.key, c.bootenv.fw_env_config, c.hooks.dir};
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		check_path(paths[i]);
	FUZZ_CHECK(c.state_dir && c.cmdline && c.version_file && c.bootenv.fw_env_config);
	check_sections(&c);
	FUZZ_CHECK(c.server.timeout >= 1 && c.server.retries >= 0 && c.hooks.timeout >= 1);
	/* bootenv.bootlimit, or the deprecated dualbank/ostree.bootlimit. */
	FUZZ_CHECK(c.bootenv.bootlimit >= 1 && c.bootenv.bootlimit <= 99);
	FUZZ_CHECK(!c.backend || !strcmp(c.backend, "dualbank") || !strcmp(c.backend, "ostree") ||
		   !strcmp(c.backend, "singlecopy"));
	config_free(&c);
	return 0;
}

/* The config loader (config_load, libconfig underneath) over the input as a
 * config file. A refusal must name the file; a config that loads must hold
 * what config.h promises (required keys, absolute paths, ranges). */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "../../config/config.h"
#include "fuzz.h"

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
			       c.server.key, c.bootenv.fw_env_config, c.dualbank.slot_a,
			       c.dualbank.slot_b, c.ostree.sysroot, c.ostree.gpg_keyring,
			       c.ostree.root, c.hooks.dir};
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		check_path(paths[i]);
	FUZZ_CHECK(c.state_dir && c.cmdline && c.version_file && c.bootenv.fw_env_config);
	for (size_t i = 0; i < c.dualbank.n_public_keys; i++)
		check_path(c.dualbank.public_keys[i]);
	FUZZ_CHECK((c.dualbank.n_public_keys == 0) == (c.dualbank.public_keys == NULL));
	FUZZ_CHECK(c.server.timeout >= 1 && c.server.retries >= 0 && c.hooks.timeout >= 1);
	/* bootenv.bootlimit, or the deprecated dualbank/ostree.bootlimit. */
	FUZZ_CHECK(c.bootenv.bootlimit >= 1 && c.bootenv.bootlimit <= 99 && c.ostree.keep >= 1);
	FUZZ_CHECK(!c.backend || !strcmp(c.backend, "dualbank") || !strcmp(c.backend, "ostree"));
	config_free(&c);
	return 0;
}

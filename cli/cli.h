/* Command implementations behind cli/main.c's option parsing. Each returns an
 * exit code (enum updater_exit) and leaves the message of a failure in e. */
#pragma once
#include <errno.h>
#include <stdbool.h>

#include "../config/config.h"
#include "../core/engine.h"
#include "../lib/error.h"

struct cli_global {
	const char *config_path;
	const char *backend;
	struct engine_opts opts;
};

int cli_status(struct engine *g, bool json, struct error *e);
/* `updater bundle ...` (bundle/cli.c): the bundle format is the dual-bank
 * backend's, so a build without that backend has neither the format nor libzstd,
 * and says so (exit 2). */
#ifdef WITH_DUALBANK
#include "../bundle/bundle_cli.h"
static inline int cli_bundle(int argc, char **argv, const struct cli_global *gl,
			     struct error *e)
{
	return bundle_cli(argc, argv, gl->config_path, gl->backend, e);
}
#else
static inline int cli_bundle(int argc, char **argv, const struct cli_global *gl,
			     struct error *e)
{
	(void)gl;
	return err_set(e, UPD_EXIT_USAGE, EINVAL,
		       "%s %s: not in this build (bundles are the dualbank backend's, which is "
		       "not compiled in)",
		       argv[0], argc > 1 ? argv[1] : ""),
	       UPD_EXIT_USAGE;
}
#endif
/* `updater health-check`: runs <hooks.dir>/health.d (docs/hooks.md). */
int cli_health_check(const struct config *cfg, const struct cli_global *gl, struct error *e);

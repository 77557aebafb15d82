/* Command implementations behind core/main.c's option parsing. Each returns an
 * exit code (enum updater_exit) and leaves the message of a failure in e. */
#pragma once
#include <stdbool.h>

#include "../config/config.h"
#include "engine.h"
#include "error.h"

struct cli_global {
	const char *config_path;
	const char *backend;
	struct engine_opts opts;
};

int cli_status(struct engine *g, bool json, struct error *e);
int cli_bundle(int argc, char **argv, const struct cli_global *gl, struct error *e);
/* `updater health-check`: runs <hooks.dir>/health.d (docs/hooks.md). */
int cli_health_check(const struct config *cfg, const struct cli_global *gl, struct error *e);

/* `updater bundle create|info ...` (bundle/cli.c): the command line (cli/)
 * dispatches to it; bundle/ knows nothing of the command line's globals but
 * the config file and the backend (NULL: the config's) whose keys `bundle
 * info` checks a signature with. */
#pragma once

#include "../lib/error.h"

/* argv[0] is "bundle". Returns an exit code (enum updater_exit), the message
 * of a failure in e. */
int bundle_cli(int argc, char **argv, const char *config_path, const char *backend,
	       struct error *e);

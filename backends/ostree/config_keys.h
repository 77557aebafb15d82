/* The ostree backend's settings (docs/config.md): the struct its config
 * section (config_keys.c) fills; the backend reads it with
 * config_section_data(cfg, &ostree_section) when it opens. */
#pragma once
#include <stdbool.h>

#include "../../config/config_keys.h"

struct ostree_config {
	char *sysroot, *osname, *remote, *url, *ref, *gpg_keyring;
	char *root;              /* the running root filesystem, default "/" */
	bool gpg_verify;         /* default true */
	bool require_compatible; /* default true: commits carry updater.compatible */
	int keep;                /* default 2 */
};

extern const struct config_section ostree_section;

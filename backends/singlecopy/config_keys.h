/* The single-copy backend's settings (docs/config.md): the struct its config
 * section (config_keys.c) fills; the backend reads it with
 * config_section_data(cfg, &singlecopy_section) when it opens. */
#pragma once
#include <stddef.h>

#include "../../config/config_keys.h"

struct singlecopy_config {
	char *root;         /* singlecopy.root: the one root partition */
	char **public_keys; /* singlecopy.public_key: string or list */
	size_t n_public_keys;
};

extern const struct config_section singlecopy_section;

/* The dual-bank backend's settings (docs/config.md): the struct its config
 * section (config_keys.c) fills; the backend reads it with
 * config_section_data(cfg, &dualbank_section) when it opens. */
#pragma once
#include <stddef.h>

#include "../../config/config_keys.h"

struct dualbank_config {
	char *slot_a, *slot_b; /* dualbank.slots.A / .B */
	char **public_keys;    /* dualbank.public_key: string or list */
	size_t n_public_keys;
};

extern const struct config_section dualbank_section;

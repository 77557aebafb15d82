/* The single-copy backend's config keys (docs/config.md), validated by the
 * config loader with the core's; their fields are in struct singlecopy_config.
 * The trial's bootlimit is the core's bootenv.bootlimit. */
#include "config_keys.h"

static const char *const groups[] = { NULL };

#define OFF(field) CONFIG_OFF(struct singlecopy_config, field)

static const struct config_key keys[] = {
	{ .name = "singlecopy.root", .kind = K_PATH, .off = OFF(root) },
	{ .name = "singlecopy.public_key", .kind = K_PATHS, .off = OFF(public_keys),
	  .count_off = OFF(n_public_keys), .key_file = 1 },
};

CONFIG_SECTION(singlecopy_section, "singlecopy", struct singlecopy_config, groups, keys);

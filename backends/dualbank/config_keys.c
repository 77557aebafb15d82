/* The dual-bank backend's config keys (docs/config.md), validated by the
 * config loader with the core's. */
#include "../../config/config_keys.h"

static const char *const groups[] = { "dualbank.slots", NULL };

static const struct config_key keys[] = {
	{ .name = "dualbank.slots.A", .kind = K_PATH, .off = CONFIG_OFF(dualbank.slot_a) },
	{ .name = "dualbank.slots.B", .kind = K_PATH, .off = CONFIG_OFF(dualbank.slot_b) },
	{ .name = "dualbank.public_key", .kind = K_PATHS, .off = CONFIG_OFF(dualbank.public_keys),
	  .count_off = CONFIG_OFF(dualbank.n_public_keys), .key_file = 1 },
	{ .name = "dualbank.bootlimit", .kind = K_INT, .off = CONFIG_OFF(bootenv.bootlimit),
	  .min = 1, .max = 99, .what = "an integer from 1 to 99",
	  .replaced_by = "bootenv.bootlimit" },
};

CONFIG_SECTION(dualbank_config, "dualbank", groups, keys);

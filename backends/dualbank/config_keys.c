/* The dual-bank backend's config keys (docs/config.md), validated by the
 * config loader with the core's; their fields are in struct dualbank_config. */
#include "config_keys.h"

static const char *const groups[] = { "dualbank.slots", NULL };

#define OFF(field) CONFIG_OFF(struct dualbank_config, field)

static const struct config_key keys[] = {
	{ .name = "dualbank.slots.A", .kind = K_PATH, .off = OFF(slot_a) },
	{ .name = "dualbank.slots.B", .kind = K_PATH, .off = OFF(slot_b) },
	{ .name = "dualbank.public_key", .kind = K_PATHS, .off = OFF(public_keys),
	  .count_off = OFF(n_public_keys), .key_file = 1 },
	{ .name = "dualbank.bootlimit", .kind = K_INT,
	  .off = CONFIG_OFF(struct config, bootenv.bootlimit), .core = 1,
	  .min = 1, .max = 99, .what = "an integer from 1 to 99",
	  .replaced_by = "bootenv.bootlimit" },
};

CONFIG_SECTION(dualbank_section, "dualbank", struct dualbank_config, groups, keys);

/* The ostree backend's config keys (docs/config.md), validated by the config
 * loader with the core's; their fields are in struct ostree_config. */
#include <limits.h>

#include "config_keys.h"

static const char *const groups[] = { NULL };

#define OFF(field) CONFIG_OFF(struct ostree_config, field)
#define STR(key, field) { .name = "ostree." key, .kind = K_STRING, .off = OFF(field) }
#define BOOL(key, field, d) { .name = "ostree." key, .kind = K_BOOL, .off = OFF(field), .idflt = (d) }

static const struct config_key keys[] = {
	{ .name = "ostree.sysroot", .kind = K_PATH, .off = OFF(sysroot) },
	STR("osname", osname),
	STR("remote", remote),
	STR("url", url),
	STR("ref", ref),
	BOOL("gpg_verify", gpg_verify, 1),
	{ .name = "ostree.gpg_keyring", .kind = K_PATH, .off = OFF(gpg_keyring), .key_file = 1 },
	BOOL("require_compatible", require_compatible, 1),
	{ .name = "ostree.root", .kind = K_PATH, .off = OFF(root), .dflt = "/" },
	{ .name = "ostree.keep", .kind = K_INT, .off = OFF(keep), .min = 1,
	  .max = INT_MAX, .what = "a positive integer", .idflt = 2 },
	{ .name = "ostree.bootlimit", .kind = K_INT,
	  .off = CONFIG_OFF(struct config, bootenv.bootlimit), .core = 1,
	  .min = 1, .max = 99, .what = "an integer from 1 to 99",
	  .replaced_by = "bootenv.bootlimit" },
};

CONFIG_SECTION(ostree_section, "ostree", struct ostree_config, groups, keys);

/* Configuration (libconfig syntax; default /etc/updater.conf).
 * Keys and defaults are documented in docs/config.md and config/updater.conf.
 * Relative paths in the file are taken relative to the file's directory;
 * after config_load() every path field is absolute (URLs are kept as written). */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "../lib/error.h"

#define CONFIG_DEFAULT_PATH "/etc/updater.conf"

struct config {
	char *path;          /* the file loaded */
	char *backend;       /* a backend's name (core/backends.c) | NULL when not set */
	char *compatible;    /* required */
	char *state_dir;     /* required */
	char *cmdline;       /* default /proc/cmdline */
	char *version_file;  /* default /etc/os-release */
	struct {
		char *url;       /* may be NULL */
		int timeout;     /* seconds without progress, default 30 */
		int retries;     /* default 3 */
		char *ca, *cert, *key; /* optional TLS */
	} server;
	struct {
		char *fw_env_config; /* default /etc/fw_env.config */
		int bootlimit;       /* trial boots before fallback, default 3; also
				      * set by the deprecated <backend>.bootlimit */
	} bootenv;
	/* The backends' sections: their keys are declared in their own folders
	 * (backends/X/config_keys.c), which write here. */
	struct {
		char *slot_a, *slot_b; /* dualbank.slots.A / .B */
		char **public_keys;    /* dualbank.public_key: string or list */
		size_t n_public_keys;
	} dualbank;
	struct {
		char *sysroot, *osname, *remote, *url, *ref, *gpg_keyring;
		char *root;          /* the running root filesystem, default "/" */
		bool gpg_verify;     /* default true */
		bool require_compatible; /* default true: commits carry updater.compatible */
		int keep;            /* default 2 */
	} ostree;
	struct {
		char *dir;           /* may be NULL: no hooks */
		int timeout;         /* seconds, default 300 */
	} hooks;
};

/* Loads and validates. On error fills e with "<file>:<line>: <key>: <why>"
 * (exit class UPD_EXIT_USAGE) and returns a negative errno; c is then empty:
 * on failure there is nothing to free (the constructor rule).
 * Unknown keys are refused (a typo must not silently fall back to a default),
 * and so are those of a backend not compiled into this build. A deprecated
 * key (config_keys.h) is logged once, as a warning, on success. */
int config_load(struct config *c, const char *path, struct error *e);
void config_free(struct config *c);

/* The files the config names, checked where they are, not where they are
 * used, so every command refuses the same config (UPD_EXIT_USAGE):
 *  - key files (server.ca, .cert, .key and the backends' marked key_file in
 *    their tables) must be trusted (lib/trust.h): "<file>: refusing <key>: ...".
 *    One that does not exist is left to whoever reads it;
 *  - a configured hooks.dir must exist: a typo or a file system that did
 *    not mount must not disable every hook silently. */
int config_check_files(const struct config *c, struct error *e);

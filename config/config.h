/* Configuration (libconfig syntax; default /etc/updater.conf).
 * Keys and defaults are documented in docs/config.md and config/updater.conf.
 * Relative paths in the file are taken relative to the file's directory;
 * after config_load() every path field is absolute (URLs are kept as written). */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "../lib/error.h"

#define CONFIG_DEFAULT_PATH "/etc/updater.conf"
/* Room for the backends' sections (core/backends.c checks it at build time). */
#define CONFIG_MAX_SECTIONS 4

struct config_section;

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
	/* The backends' own settings: one zeroed allocation per section compiled
	 * in (config_keys.h), in the order of config_section_at(), each a struct
	 * of the backend's folder (backends/X/config_keys.h). Opaque here: read
	 * with config_section_data(), or a key by name (config_get_paths()). */
	void *sections[CONFIG_MAX_SECTIONS];
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

/* The struct of section s (a backend's, in backends/X/config_keys.h) that
 * config_load() filled: zeroed, then its defaults, then the file's
 * values. NULL when s is not compiled into this build or c was not loaded. */
const void *config_section_data(const struct config *c, const struct config_section *s);
/* A K_PATHS key by its full name ("<backend>.<key>"), for code outside that
 * backend, which may not include its header (tests/docs/layers.py): the
 * paths, *n their count; NULL and *n = 0 when it is unset, of another kind,
 * or not a key of this build. */
char *const *config_get_paths(const struct config *c, const char *key, size_t *n);

/* The files the config names, checked where they are, not where they are
 * used, so every command refuses the same config (UPD_EXIT_USAGE):
 *  - key files (server.ca, .cert, .key and the backends' marked key_file in
 *    their tables) must be trusted (lib/trust.h): "<file>: refusing <key>: ...".
 *    One that does not exist is left to whoever reads it;
 *  - a configured hooks.dir must exist: a typo or a file system that did
 *    not mount must not disable every hook silently. */
int config_check_files(const struct config *c, struct error *e);

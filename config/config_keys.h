/* The tables of known config keys. The loader (config.c) owns the core keys;
 * each backend declares its own section in its folder (backends/X/config_keys.c)
 * and the backend table (core/backends.c) lists the sections compiled in, so
 * adding a backend adds its keys without touching config/. */
#pragma once
#include <stddef.h>

#include "config.h"

enum config_kind {
	K_STRING,  /* any non-empty string, kept as is (names, URLs) */
	K_PATH,    /* non-empty string, relative ones resolved against the file's dir */
	K_BACKEND, /* the name of one of the project's backends */
	K_INT,     /* integer in [min, max] */
	K_BOOL,
	K_PATHS,   /* a path or a list/array of paths (public keys: rotation) */
};

struct config_key {
	const char *name;  /* full libconfig path, e.g. "server.timeout" */
	enum config_kind kind;
	size_t off;        /* offsetof the field in struct config */
	int min, max;      /* K_INT only */
	const char *what;  /* K_INT only: wording of the constraint for messages */
	size_t count_off;  /* K_PATHS only: offsetof its size_t count */
	const char *dflt;  /* K_STRING/K_PATH: the default, or NULL for none */
	int idflt;         /* K_INT/K_BOOL: the default */
	/* A key file, checked by config_check_files() to be trusted. */
	int key_file;
	/* A deprecated name: the key that replaces it, and whose field it sets.
	 * Using it warns once per load; setting both is an error. */
	const char *replaced_by;
};

#define CONFIG_OFF(field) offsetof(struct config, field)

/* The keys of one backend: every one named "<name>.<...>". */
struct config_section {
	const char *name;              /* the backend, and its top-level group */
	const char *const *groups;     /* its sub-groups (full names), NULL-terminated */
	const struct config_key *keys;
	size_t n_keys;
};

/* Defines the section `var` of backend `bname` from static arrays groups, keys. */
#define CONFIG_SECTION(var, bname, groups_, keys_)                                        \
	const struct config_section var = { .name = (bname), .groups = (groups_),          \
					    .keys = (keys_),                                  \
					    .n_keys = sizeof(keys_) / sizeof((keys_)[0]) }

/* Provided by the backend table (core/backends.c): */
/* the section of the i-th backend compiled in, NULL past the last; */
const struct config_section *config_section_at(size_t i);
/* the name of the i-th backend of the project, compiled in or not (a group
 * of one left out of the build is refused as such, not as a typo), NULL past
 * the last. */
const char *config_backend_name_at(size_t i);

/* The tables of known config keys. The loader (config.c) owns the core keys;
 * each backend declares its own section in its folder (backends/X/config_keys.c),
 * with the struct its keys fill (backends/X/config_keys.h), and the backend
 * table (core/backends.c) lists the sections compiled in, so adding a backend
 * adds its keys and fields without touching config/. */
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
	size_t off;        /* CONFIG_OFF of the field: in struct config for the core's
			    * keys, in the section's struct for a backend's */
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
	/* A section's key whose field is the core's, in struct config (a
	 * deprecated name of a core key), not one of the section's struct. */
	int core;
};

/* The offset of a key's field (and count_off) in TYPE: struct config for the
 * core's keys and those marked core, the backend's own struct for a section's. */
#define CONFIG_OFF(type, field) offsetof(type, field)

/* The keys of one backend: every one named "<name>.<...>". */
struct config_section {
	const char *name;              /* the backend, and its top-level group */
	const char *const *groups;     /* its sub-groups (full names), NULL-terminated */
	const struct config_key *keys;
	size_t n_keys;
	size_t size; /* of the struct its keys' fields are in: config_load() makes
		      * one, zeroed, per section (config_section_data()) */
};

/* Defines the section `var` of backend `bname` from static arrays groups, keys
 * whose fields are in a struct of type `type`. */
#define CONFIG_SECTION(var, bname, type, groups_, keys_)                                  \
	const struct config_section var = { .name = (bname), .groups = (groups_),          \
					    .keys = (keys_),                                  \
					    .n_keys = sizeof(keys_) / sizeof((keys_)[0]),     \
					    .size = sizeof(type) }

/* Provided by the backend table (core/backends.c): */
/* the section of the i-th backend compiled in, NULL past the last; */
const struct config_section *config_section_at(size_t i);
/* the name of the i-th backend of the project, compiled in or not (a group
 * of one left out of the build is refused as such, not as a typo), NULL past
 * the last. */
const char *config_backend_name_at(size_t i);

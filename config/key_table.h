/* The loader's view of the known keys: the core's table (config.c) and the
 * sections of the backends compiled in (config_keys.h), as one. */
#pragma once
#include <stddef.h>

#include "config_keys.h"

/* The t-th table: 0 the core's, then one per backend compiled in. Sets *n;
 * NULL past the last. */
const struct config_key *key_table(size_t t, size_t *n);
/* The key called name, and in *t the number of its table. */
const struct config_key *key_find(const char *name, size_t *t);
/* Where the fields of k, a key of table t, are: struct config for the core's
 * and for a section's key marked core, else the section's data in c (NULL
 * when c holds none: not loaded, or freed). */
char *key_base(const struct config *c, size_t t, const struct config_key *k);
/* Whether some deprecated key names this one as its replacement. */
int key_has_old_name(const char *name);
/* Whether name is a known group: a core one, a compiled-in backend's or one
 * of its sub-groups. */
int key_is_group(const char *name);
/* The backend whose keys name (a setting's full name) would be, when that
 * backend exists but is not compiled into this build; NULL otherwise. */
const char *key_left_out(const char *name);
/* '"a", "b" or "c"': every backend of the project, for messages. */
void key_backend_names(char *buf, size_t size);
/* 'a,b': the backends compiled in, for messages. */
void key_compiled_in(char *buf, size_t size);
int key_is_backend(const char *name);

/* Defined in config.c. */
extern const struct config_key config_core_keys[];
extern const size_t config_n_core_keys;
extern const char *const config_core_groups[];

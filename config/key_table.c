/* Lookups over the union of the core's keys and the compiled-in backends',
 * and where their fields are. */
#include "key_table.h"

#include <stdio.h>
#include <string.h>

const struct config_key *key_table(size_t t, size_t *n)
{
	const struct config_section *s;

	if (t == 0) {
		*n = config_n_core_keys;
		return config_core_keys;
	}
	s = config_section_at(t - 1);
	*n = s ? s->n_keys : 0;
	return s ? s->keys : NULL;
}

const struct config_key *key_find(const char *name, size_t *t)
{
	const struct config_key *k;
	size_t n;

	for (*t = 0; (k = key_table(*t, &n)); (*t)++)
		for (size_t i = 0; i < n; i++)
			if (strcmp(k[i].name, name) == 0)
				return &k[i];
	return NULL;
}

char *key_base(const struct config *c, size_t t, const struct config_key *k)
{
	if (t == 0 || k->core)
		return (char *)c;
	return t - 1 < CONFIG_MAX_SECTIONS ? c->sections[t - 1] : NULL;
}

const void *config_section_data(const struct config *c, const struct config_section *s)
{
	for (size_t i = 0; i < CONFIG_MAX_SECTIONS && config_section_at(i); i++)
		if (config_section_at(i) == s)
			return c->sections[i];
	return NULL;
}

char *const *config_get_paths(const struct config *c, const char *key, size_t *n)
{
	size_t t;
	const struct config_key *k = key_find(key, &t);
	const char *base = k && k->kind == K_PATHS ? key_base(c, t, k) : NULL;

	*n = base ? *(const size_t *)(base + k->count_off) : 0;
	return *n ? *(char *const *const *)(base + k->off) : NULL;
}

int key_has_old_name(const char *name)
{
	const struct config_key *k;
	size_t n;

	for (size_t t = 0; (k = key_table(t, &n)); t++)
		for (size_t i = 0; i < n; i++)
			if (k[i].replaced_by && strcmp(k[i].replaced_by, name) == 0)
				return 1;
	return 0;
}

static int in_list(const char *const *list, const char *name)
{
	for (size_t i = 0; list[i]; i++)
		if (strcmp(list[i], name) == 0)
			return 1;
	return 0;
}

int key_is_group(const char *name)
{
	const struct config_section *s;

	if (in_list(config_core_groups, name))
		return 1;
	for (size_t i = 0; (s = config_section_at(i)); i++)
		if (strcmp(s->name, name) == 0 || in_list(s->groups, name))
			return 1;
	return 0;
}

static int compiled_in(const char *backend)
{
	const struct config_section *s;

	for (size_t i = 0; (s = config_section_at(i)); i++)
		if (strcmp(s->name, backend) == 0)
			return 1;
	return 0;
}

const char *key_left_out(const char *name)
{
	size_t len = strcspn(name, ".");
	const char *b;

	for (size_t i = 0; (b = config_backend_name_at(i)); i++)
		if (strlen(b) == len && strncmp(b, name, len) == 0)
			return compiled_in(b) ? NULL : b;
	return NULL;
}

int key_is_backend(const char *name)
{
	const char *b;

	for (size_t i = 0; (b = config_backend_name_at(i)); i++)
		if (strcmp(b, name) == 0)
			return 1;
	return 0;
}

void key_backend_names(char *buf, size_t size)
{
	size_t len = 0;
	const char *b;

	buf[0] = '\0';
	for (size_t i = 0; (b = config_backend_name_at(i)) && len < size; i++)
		len += (size_t)snprintf(buf + len, size - len, "%s\"%s\"",
					i == 0 ? "" : config_backend_name_at(i + 1) ? ", " : " or ", b);
}

void key_compiled_in(char *buf, size_t size)
{
	const struct config_section *s;
	size_t len = 0;

	buf[0] = '\0';
	for (size_t i = 0; (s = config_section_at(i)) && len < size; i++)
		len += (size_t)snprintf(buf + len, size - len, "%s%s", i ? "," : "", s->name);
}

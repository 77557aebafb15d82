/* The table of backends compiled in, with their config sections: adding one
 * touches its own folder and this file only. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "../config/config_keys.h"
#include "backend.h"

#if !defined(WITH_DUALBANK) && !defined(WITH_OSTREE) && !defined(WITH_SINGLECOPY)
#error "no backend compiled in: build with WITH_DUALBANK=1, WITH_OSTREE=1 and/or WITH_SINGLECOPY=1"
#endif

#ifdef WITH_DUALBANK
extern const struct backend_ops dualbank_backend;
extern const struct config_section dualbank_section;
#endif
#ifdef WITH_OSTREE
extern const struct backend_ops ostree_backend;
extern const struct config_section ostree_section;
#endif
#ifdef WITH_SINGLECOPY
extern const struct backend_ops singlecopy_backend;
extern const struct config_section singlecopy_section;
#endif

static const struct backend_ops *const backends[] = {
#ifdef WITH_DUALBANK
	&dualbank_backend,
#endif
#ifdef WITH_OSTREE
	&ostree_backend,
#endif
#ifdef WITH_SINGLECOPY
	&singlecopy_backend,
#endif
};

/* Their config keys (config/config_keys.h), in the same order. */
static const struct config_section *const sections[] = {
#ifdef WITH_DUALBANK
	&dualbank_section,
#endif
#ifdef WITH_OSTREE
	&ostree_section,
#endif
#ifdef WITH_SINGLECOPY
	&singlecopy_section,
#endif
};

#define N_BACKENDS (sizeof(backends) / sizeof(backends[0]))

/* struct config keeps one pointer per section compiled in. */
_Static_assert(N_BACKENDS <= CONFIG_MAX_SECTIONS, "raise CONFIG_MAX_SECTIONS (config/config.h)");

/* Every backend the project has, compiled in or not: a name from here that
 * backend_find() does not know was left out of this build, not mistyped. */
static const char *const all_names[] = { "dualbank", "ostree", "singlecopy" };

#define N_ALL (sizeof(all_names) / sizeof(all_names[0]))

const struct config_section *config_section_at(size_t i)
{
	return i < N_BACKENDS ? sections[i] : NULL;
}

const char *config_backend_name_at(size_t i)
{
	return i < N_ALL ? all_names[i] : NULL;
}

const char *backend_all_names(void)
{
	static char list[64];
	size_t n = 0;

	for (size_t i = 0; i < N_ALL && n < sizeof(list); i++)
		n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%s", i ? "|" : "", all_names[i]);
	return list;
}

const struct backend_ops *backend_find(const char *name)
{
	for (size_t i = 0; i < N_BACKENDS; i++)
		if (strcmp(backends[i]->name, name) == 0)
			return backends[i];
	return NULL;
}

const char *backend_list(void)
{
	static char list[64];
	size_t n = 0;

	for (size_t i = 0; i < N_BACKENDS && n < sizeof(list); i++)
		n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%s", i ? "," : "",
				      backends[i]->name);
	return list;
}

const char *backend_stage_list(void)
{
	static char list[64];
	size_t n = 0;

	list[0] = '\0';
	for (size_t i = 0; i < N_BACKENDS && n < sizeof(list); i++)
		if (backends[i]->stage)
			n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%s", n ? "," : "",
					      backends[i]->name);
	return n ? list : "none in this build";
}

const char *backend_default(void)
{
	return backends[0]->name; /* dualbank when compiled in: it comes first */
}

int backend_unknown(const char *name, struct error *e)
{
	for (size_t i = 0; i < N_ALL; i++)
		if (strcmp(all_names[i], name) == 0)
			return err_set(e, UPD_EXIT_USAGE, ENOTSUP,
				       "backend '%s': not compiled into this build (compiled in: %s)",
				       name, backend_list());
	return err_set(e, UPD_EXIT_USAGE, EINVAL, "backend '%s': not known (compiled in: %s)", name,
		       backend_list());
}

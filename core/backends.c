/* The table of backends compiled in: adding one touches this file only. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "backend.h"

#if !defined(WITH_DUALBANK) && !defined(WITH_OSTREE)
#error "no backend compiled in: build with WITH_DUALBANK=1 and/or WITH_OSTREE=1"
#endif

#ifdef WITH_DUALBANK
extern const struct backend_ops dualbank_backend;
#endif
#ifdef WITH_OSTREE
extern const struct backend_ops ostree_backend;
#endif

static const struct backend_ops *const backends[] = {
#ifdef WITH_DUALBANK
	&dualbank_backend,
#endif
#ifdef WITH_OSTREE
	&ostree_backend,
#endif
};

#define N_BACKENDS (sizeof(backends) / sizeof(backends[0]))

/* Every backend the project has, compiled in or not: a name from here that
 * backend_find() does not know was left out of this build, not mistyped. */
static const char *const all_names[] = { "dualbank", "ostree" };

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

const char *backend_default(void)
{
	return backends[0]->name; /* dualbank when compiled in: it comes first */
}

int backend_unknown(const char *name, struct error *e)
{
	for (size_t i = 0; i < sizeof(all_names) / sizeof(all_names[0]); i++)
		if (strcmp(all_names[i], name) == 0)
			return err_set(e, UPD_EXIT_USAGE, ENOTSUP,
				       "backend '%s': not compiled into this build (compiled in: %s)",
				       name, backend_list());
	return err_set(e, UPD_EXIT_USAGE, EINVAL, "backend '%s': not known (compiled in: %s)", name,
		       backend_list());
}

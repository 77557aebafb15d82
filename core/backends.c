/* The table of backends compiled in: adding one touches this file only. */
#include <stdio.h>
#include <string.h>

#include "backend.h"

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

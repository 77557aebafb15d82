/* The table of backends compiled in: adding one touches this file only. */
#include <string.h>

#include "backend.h"

extern const struct backend_ops dualbank_backend;

static const struct backend_ops *const backends[] = {
	&dualbank_backend,
};

const struct backend_ops *backend_find(const char *name)
{
	for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++)
		if (strcmp(backends[i]->name, name) == 0)
			return backends[i];
	return NULL;
}

const char *backend_list(void)
{
	return "dualbank";
}

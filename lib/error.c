#include "error.h"

#include <stdio.h>
#include <string.h>

int err_set(struct error *e, int exit_code, int errnum, const char *fmt, ...)
{
	if (e && !err_isset(e)) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
		va_end(ap);
		e->exit = exit_code;
	}
	return errnum > 0 ? -errnum : (errnum < 0 ? errnum : -1);
}

void err_prefix(struct error *e, const char *fmt, ...)
{
	char ctx[256], old[ERROR_MSG_MAX];
	va_list ap;

	if (!e || !err_isset(e))
		return;
	va_start(ap, fmt);
	vsnprintf(ctx, sizeof(ctx), fmt, ap);
	va_end(ap);
	memcpy(old, e->msg, sizeof(old));
	snprintf(e->msg, sizeof(e->msg), "%s: %s", ctx, old);
}

void err_clear(struct error *e)
{
	e->exit = 0;
	e->msg[0] = '\0';
}

#include "error.h"

#include <errno.h>
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

int err_oom(struct error *e, const char *ctx_fmt, ...)
{
	char ctx[ERROR_MSG_MAX];
	va_list ap;

	if (!ctx_fmt)
		return err_set(e, UPD_EXIT_OTHER, ENOMEM, "out of memory");
	va_start(ap, ctx_fmt);
	vsnprintf(ctx, sizeof(ctx), ctx_fmt, ap);
	va_end(ap);
	return err_set(e, UPD_EXIT_OTHER, ENOMEM, "%s: out of memory", ctx);
}

void err_clear(struct error *e)
{
	e->exit = 0;
	e->msg[0] = '\0';
}

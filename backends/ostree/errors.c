#include <errno.h>
#include <string.h>

#include "ostree_priv.h"

/* libostree reports space and signature problems through GIO and its own
 * GPG domain; the rest keeps the caller's class. */
static int classify(GError *gerr, int fallback)
{
	if (g_error_matches(gerr, G_IO_ERROR, G_IO_ERROR_NO_SPACE))
		return UPD_EXIT_NOSPACE;
	if (gerr->domain == OSTREE_GPG_ERROR || strstr(gerr->message, "Corrupted") ||
	    strstr(gerr->message, "GPG") || strstr(gerr->message, "signature"))
		return UPD_EXIT_VERIFY;
	if (strstr(gerr->message, "insufficient space") || strstr(gerr->message, "No space left"))
		return UPD_EXIT_NOSPACE;
	return fallback;
}

int ob_gerror(struct error *e, GError *gerr, int exit_code, const char *what)
{
	int rc;

	if (!gerr)
		return err_set(e, exit_code, EIO, "%s: failed", what);
	int ex = classify(gerr, exit_code);
	rc = err_set(e, ex, ex == UPD_EXIT_NOSPACE ? ENOSPC : EIO, "%s: %s", what, gerr->message);
	g_error_free(gerr);
	return rc;
}

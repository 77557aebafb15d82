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
	/* libostree's own reserve (min-free-space-percent/-size, "... would be
	 * exceeded") and a delta's "requires N free space" are G_IO_ERROR_FAILED. */
	if (strstr(gerr->message, "insufficient space") || strstr(gerr->message, "No space left") ||
	    strstr(gerr->message, "min-free-space") || strstr(gerr->message, "free space"))
		return UPD_EXIT_NOSPACE;
	return fallback;
}

int ob_gerror(struct error *e, GError *gerr, int exit_code, const char *what)
{
	int rc;

	if (!gerr)
		return err_set(e, exit_code, EIO, "%s: failed", what);
	int ex = classify(gerr, exit_code);
	/* One line: libostree's GPG results span several ("Signature made ...\n
	 * Can't check signature: public key not found"). */
	g_auto(GStrv) lines = g_strsplit(g_strstrip(gerr->message), "\n", -1);
	/* Not libostree's advice to set gpg-verify=false in the remote: the
	 * updater rewrites the remote from ostree.gpg_verify. */
	for (char **l = lines; *l; l++) {
		char *advice = strstr(*l, " (use gpg-verify=false");
		if (advice)
			*advice = '\0';
	}
	g_autofree char *msg = g_strjoinv("; ", lines);
	rc = err_set(e, ex, ex == UPD_EXIT_NOSPACE ? ENOSPC : EIO, "%s: %s", what, msg);
	g_error_free(gerr);
	return rc;
}

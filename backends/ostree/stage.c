/* Boot-time apply for ostree: `stage` keeps the pulled, verified commit
 * under a ref of the updater's own, so that no prune removes it before the
 * ramdisk deploys it; apply-staged takes it back from the repository only
 * after checking it again (docs/ostree.md, "Staged updates"). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "../../lib/log.h"
#include "ostree_priv.h"

/* A local ref (no remote): what libostree's prune keeps, and the marker
 * that a commit waits for the ramdisk. */
#define STAGED_REF "updater/staged"

int ob_stage(void *priv, char *token, size_t size, struct error *e)
{
	struct ostree_backend *b = priv;
	GError *gerr = NULL;

	if (!ostree_repo_set_ref_immediate(b->repo, NULL, STAGED_REF, b->checksum, NULL, &gerr))
		return ob_gerror(e, gerr, UPD_EXIT_OTHER, "keep the staged commit (ref " STAGED_REF ")");
	/* The commit, and the ref it was fetched for (its origin, and the ref
	 * binding checked again at apply). */
	snprintf(token, size, "%s %s", b->checksum, b->refspec);
	return 0;
}

int ob_unstage(void *priv, struct error *e)
{
	struct ostree_backend *b = priv;
	g_autofree char *now = NULL;
	GError *gerr = NULL;

	if (!ostree_repo_resolve_rev(b->repo, STAGED_REF, TRUE, &now, &gerr))
		return ob_gerror(e, gerr, UPD_EXIT_OTHER, "read the ref " STAGED_REF);
	if (now && !ostree_repo_set_ref_immediate(b->repo, NULL, STAGED_REF, NULL, NULL, &gerr))
		return ob_gerror(e, gerr, UPD_EXIT_OTHER, "remove the ref " STAGED_REF);
	return 0;
}

/* token is "COMMIT REMOTE:REF" (ob_stage); the ref must still name COMMIT. */
static int staged_commit(struct ostree_backend *b, const char *token, struct error *e)
{
	char csum[65] = "", refspec[sizeof(b->refspec)] = "";
	g_autofree char *now = NULL;
	GError *gerr = NULL;

	if (sscanf(token, "%64s %511s", csum, refspec) != 2 ||
	    !ostree_validate_checksum_string(csum, NULL) || !strchr(refspec, ':'))
		return err_set(e, UPD_EXIT_VERIFY, EBADMSG,
			       "staged release: '%.80s' is not 'COMMIT REMOTE:REF'", token);
	if (!ostree_repo_resolve_rev(b->repo, STAGED_REF, TRUE, &now, &gerr))
		return ob_gerror(e, gerr, UPD_EXIT_VERIFY, "read the ref " STAGED_REF);
	if (!now)
		return err_set(e, UPD_EXIT_VERIFY, ENOENT,
			       "staged commit %.12s: the ref " STAGED_REF " is gone from the repository",
			       csum);
	if (strcmp(now, csum) != 0)
		return err_set(e, UPD_EXIT_VERIFY, EBADMSG,
			       "staged commit %.12s: the ref " STAGED_REF " names commit %.12s now "
			       "(changed after staging)",
			       csum, now);
	snprintf(b->checksum, sizeof(b->checksum), "%s", csum);
	snprintf(b->refspec, sizeof(b->refspec), "%s", refspec);
	return 0;
}

/* What fetch and download checked before stage, checked again on what the
 * repository holds now: the commit object, that it is whole, the ref it is
 * bound to, its signed metadata, and every object it does not share with the
 * running commit (the signature: the engine's verify, ob_verify). */
int ob_load_staged(void *priv, const char *token, struct release *out, struct error *e)
{
	struct ostree_backend *b = priv;
	g_autoptr(GVariant) commit = NULL;
	int rc;

	if ((rc = staged_commit(b, token, e)) < 0)
		return rc;
	if (!ob_stored_commit_ok(b, b->checksum, &commit))
		return err_set(e, UPD_EXIT_VERIFY, EBADMSG,
			       "staged commit %.12s: the commit object is missing or does not hash "
			       "to its name (changed after staging)",
			       b->checksum);
	if (!ob_commit_complete(b))
		return err_set(e, UPD_EXIT_VERIFY, ENOENT,
			       "staged commit %.12s: its content is not complete in the repository",
			       b->checksum);
	memset(out, 0, sizeof(*out));
	if ((rc = ob_check_ref_binding(b->checksum, commit, strchr(b->refspec, ':') + 1, e)) < 0 ||
	    (rc = ob_release_meta(b, commit, out, e)) < 0)
		return rc;
	snprintf(b->version, sizeof(b->version), "%s", out->version);
	snprintf(out->digest, sizeof(out->digest), "%s", b->checksum);
	snprintf(out->identity, sizeof(out->identity), "%s", b->checksum);
	snprintf(out->origin, sizeof(out->origin), "%s (staged)", b->refspec);
	b->applying_staged = true;
	if ((rc = ob_fsck_new_objects(b, e)) < 0)
		return rc;
	b->staged_checked = true;
	log_info("staged commit %.12s (version %s) checked again", b->checksum, out->version);
	return 0;
}

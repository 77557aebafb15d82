/* The ostree form of dual-bank's read-back (docs/ostree.md): the objects an
 * install added (reachable from the new commit but not from the booted one)
 * are read and hashed again before the new deployment can boot. A corrupt
 * object must not reach a bootable deployment; objects the booted commit
 * shares were checked when they came, and are what runs now.
 *
 * The check, and the two commit walks that find what to check, run on a
 * thread while libostree checks the deployment out: they overlap on a second
 * core (in bench/ostree.py the walks alone took about as long as the
 * checkout). The deployment is not in the boot list until activate() runs,
 * which the install reaches only after the check passed (ob_readback_finish
 * joins it first). A failed check removes the unlisted deployment, so nothing
 * of the refused release can boot. */
#include <string.h>

#include "../../lib/log.h"
#include "../../lib/progress.h"
#include "ostree_priv.h"

struct ob_readback {
	OstreeRepo *repo;     /* its own: the sysroot's is busy deploying */
	char *commit;         /* the new commit */
	char *booted;         /* the booted deployment's commit, or NULL */
	GPtrArray *objects;   /* serialized object names to check */
	GThread *thread;
	struct error e;
	int rc;
};

/* The new commit's objects that the booted commit does not reach (old NULL:
 * none is booted, or it cannot be read: every object is checked). */
static int new_objects(struct ob_readback *r, struct error *e)
{
	g_autoptr(GHashTable) reachable = NULL, old = NULL;
	GError *gerr = NULL;
	GHashTableIter it;
	gpointer key;

	if (!ostree_repo_traverse_commit(r->repo, r->commit, 0, &reachable, NULL, &gerr))
		return ob_gerror(e, gerr, UPD_EXIT_VERIFY, "traverse the commit");
	if (r->booted)
		ostree_repo_traverse_commit(r->repo, r->booted, 0, &old, NULL, NULL);
	g_hash_table_iter_init(&it, reachable);
	while (g_hash_table_iter_next(&it, &key, NULL))
		if (!old || !g_hash_table_contains(old, key))
			g_ptr_array_add(r->objects, g_variant_ref(key));
	log_debug("read-back: %u objects the booted commit does not share", r->objects->len);
	return 0;
}

/* Progress is the thread's alone while it runs: the deploy reports none. */
static gpointer check_objects(gpointer p)
{
	struct ob_readback *r = p;
	GError *gerr = NULL;

	if ((r->rc = new_objects(r, &r->e)) < 0)
		return NULL;
	progress_begin_objects("verify", r->objects->len);
	for (guint i = 0; i < r->objects->len; i++) {
		const char *csum;
		OstreeObjectType type;

		ostree_object_name_deserialize(r->objects->pdata[i], &csum, &type);
		if (!ostree_repo_fsck_object(r->repo, type, csum, NULL, &gerr)) {
			progress_end();
			r->rc = ob_gerror(&r->e, gerr, UPD_EXIT_VERIFY, "verify the pulled objects");
			return NULL;
		}
		progress_update(i + 1);
	}
	progress_done();
	return NULL;
}

static void readback_free(struct ob_readback *r)
{
	if (r->repo)
		g_object_unref(r->repo);
	g_ptr_array_unref(r->objects);
	g_free(r->commit);
	g_free(r->booted);
	g_free(r);
}

int ob_readback_start(struct ostree_backend *b, struct ob_readback **out, struct error *e)
{
	struct ob_readback *r = g_new0(struct ob_readback, 1);
	OstreeDeployment *booted = NULL;
	struct error ignore = {0};
	GError *gerr = NULL;

	*out = NULL;
	r->objects = g_ptr_array_new_with_free_func((GDestroyNotify)g_variant_unref);
	r->commit = g_strdup(b->checksum);
	if (ob_booted(b, &booted, &ignore) == 0) {
		r->booted = g_strdup(ostree_deployment_get_csum(booted));
		g_object_unref(booted);
	}
	r->repo = ostree_repo_new(ostree_repo_get_path(b->repo));
	if (!ostree_repo_open(r->repo, NULL, &gerr)) {
		readback_free(r);
		return ob_gerror(e, gerr, UPD_EXIT_OTHER, "open the repository for the read-back");
	}
	r->thread = g_thread_new("updater-readback", check_objects, r);
	*out = r;
	return 0;
}

int ob_readback_finish(struct ob_readback *r, struct error *e)
{
	int rc;

	g_thread_join(r->thread);
	rc = r->rc;
	if (rc < 0)
		*e = r->e;
	readback_free(r);
	return rc;
}

int ob_fsck_new_objects(struct ostree_backend *b, struct error *e)
{
	struct ob_readback *r;
	int rc = ob_readback_start(b, &r, e);

	return rc < 0 ? rc : ob_readback_finish(r, e);
}

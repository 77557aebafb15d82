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
#include <unistd.h>

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

/* The objects are checked on two threads where there are two cores, each
 * with a repository handle of its own, taking them in turn from one counter:
 * hashing them is the read-back's time, and the deploy beside it leaves a
 * core idle for much of it. */
struct fsck_share {
	struct ob_readback *r;
	gint next;     /* the next object to take (atomic) */
	gint done;     /* objects checked (atomic) */
	gint failed;   /* set by the first failure: the others stop (atomic) */
	GMutex lock;
	struct error e; /* the first failure */
	int rc;
};

static void fsck_some(struct fsck_share *f, OstreeRepo *repo, bool report)
{
	struct ob_readback *r = f->r;

	for (;;) {
		guint i = (guint)g_atomic_int_add(&f->next, 1);
		const char *csum;
		OstreeObjectType type;
		GError *gerr = NULL;

		if (i >= r->objects->len || g_atomic_int_get(&f->failed))
			return;
		ostree_object_name_deserialize(r->objects->pdata[i], &csum, &type);
		if (!ostree_repo_fsck_object(repo, type, csum, NULL, &gerr)) {
			g_mutex_lock(&f->lock);
			if (!g_atomic_int_get(&f->failed))
				f->rc = ob_gerror(&f->e, gerr, UPD_EXIT_VERIFY, "verify the pulled objects");
			else
				g_error_free(gerr);
			g_atomic_int_set(&f->failed, 1);
			g_mutex_unlock(&f->lock);
			return;
		}
		guint done = (guint)g_atomic_int_add(&f->done, 1) + 1;
		if (report) /* progress is not thread-safe: one reporter */
			progress_update(done);
	}
}

static gpointer fsck_helper(gpointer p)
{
	struct fsck_share *f = p;
	OstreeRepo *repo = ostree_repo_new(ostree_repo_get_path(f->r->repo));

	if (ostree_repo_open(repo, NULL, NULL))
		fsck_some(f, repo, false);
	g_object_unref(repo); /* a helper that could not open leaves all to the other */
	return NULL;
}

/* Progress is the thread's alone while it runs: the deploy reports none. */
static gpointer check_objects(gpointer p)
{
	struct ob_readback *r = p;
	struct fsck_share f = { .r = r };

	if ((r->rc = new_objects(r, &r->e)) < 0)
		return NULL;
	progress_begin_objects("verify", r->objects->len);
	g_mutex_init(&f.lock);
	bool two = r->objects->len > 1 && sysconf(_SC_NPROCESSORS_ONLN) > 1;
	GThread *helper = two ? g_thread_new("updater-fsck", fsck_helper, &f) : NULL;
	fsck_some(&f, r->repo, true);
	if (helper)
		g_thread_join(helper);
	g_mutex_clear(&f.lock);
	if (f.rc < 0) {
		progress_end();
		r->rc = f.rc;
		r->e = f.e;
		return NULL;
	}
	progress_update(r->objects->len);
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

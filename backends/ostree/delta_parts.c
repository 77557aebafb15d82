/* Applying a static delta's parts on threads. libostree's offline apply
 * (ostree_repo_static_delta_execute_offline) runs the parts one after
 * another, where its own pull runs them at once, so a delta applied offline
 * took 1.3x the time of `ostree pull` on the release series' 2.0 -> 3.0
 * (docs/benchmark.md). Each part is handed to the offline apply as a delta
 * of its own: a superblock naming only that part, beside a link to the
 * part's file under the name "0". The threads share the caller's
 * transaction, as the parts of libostree's pull do; the commit they make is
 * already stored (verified, in the device's repository, the staging
 * repository's parent), so they write only the parts' objects, each
 * checked against its checksum. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../../lib/fsutil.h"
#include "../../lib/log.h"
#include "ostree_priv.h"

/* Parts applied at once, where there are cores for them: each holds its
 * decompressed payload (at most the generator's chunk size, 32 MiB by
 * default) while it runs, so two cost up to one chunk more memory. */
#define PART_THREADS 2
#define SUPERBLOCK_PARTS 6

struct part_job {
	OstreeRepo *repo;
	const char *delta_dir;
	guint nparts;
	gint next;       /* the next part to take (atomic) */
	GMutex lock;
	GError *first;   /* the first failure; the others stop taking parts */
};

/* DIR/part-K: the superblock sb with its parts list cut to part k, and the
 * part's file linked as "0", the name the offline apply opens. */
static int write_part_delta(GVariant *sb, const char *dir, guint k, struct error *e)
{
	g_autofree char *sub = g_strdup_printf("%s/part-%u", dir, k);
	g_autofree char *part = g_strdup_printf("%s/%u", dir, k);
	g_autofree char *link0 = g_build_filename(sub, "0", NULL);
	g_autofree char *sbpath = g_build_filename(sub, "superblock", NULL);
	g_autoptr(GVariant) parts = g_variant_get_child_value(sb, SUPERBLOCK_PARTS);
	g_autoptr(GVariant) one = g_variant_get_child_value(parts, k);
	GVariant *children[8];
	int rc;

	for (gsize i = 0; i < G_N_ELEMENTS(children); i++)
		children[i] = i == SUPERBLOCK_PARTS
				      ? g_variant_new_array(g_variant_get_type(one), &one, 1)
				      : g_variant_get_child_value(sb, i);
	g_autoptr(GVariant) cut = g_variant_ref_sink(g_variant_new_tuple(children, 8));
	for (gsize i = 0; i < G_N_ELEMENTS(children); i++)
		if (i != SUPERBLOCK_PARTS)
			g_variant_unref(children[i]);
	if ((rc = ob_rm_tree(sub)) < 0 || mkdir(sub, 0700) < 0 || link(part, link0) < 0)
		return err_set(e, UPD_EXIT_OTHER, rc < 0 ? -rc : errno, "prepare delta part %u: %s",
			       k, strerror(rc < 0 ? -rc : errno));
	return atomic_write_file(sbpath, g_variant_get_data(cut), g_variant_get_size(cut), e);
}

static gpointer part_worker(gpointer p)
{
	struct part_job *j = p;

	for (;;) {
		guint k = (guint)g_atomic_int_add(&j->next, 1);
		g_mutex_lock(&j->lock);
		bool stop = k >= j->nparts || j->first;
		g_mutex_unlock(&j->lock);
		if (stop)
			return NULL;
		g_autofree char *sub = g_strdup_printf("%s/part-%u", j->delta_dir, k);
		g_autoptr(GFile) f = g_file_new_for_path(sub);
		GError *gerr = NULL;
		if (ostree_repo_static_delta_execute_offline(j->repo, f, FALSE, NULL, &gerr))
			continue;
		g_mutex_lock(&j->lock);
		if (!j->first)
			j->first = gerr;
		else
			g_error_free(gerr);
		g_mutex_unlock(&j->lock);
	}
}

static guint part_threads(guint nparts)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	guint n = cpus >= PART_THREADS ? PART_THREADS : 1;

	return nparts < n ? nparts : n;
}

static int run_parts(struct part_job *j, guint n, struct error *e)
{
	GThread *t[PART_THREADS];

	for (guint i = 0; i < n; i++)
		t[i] = g_thread_new("updater-delta-part", part_worker, j);
	for (guint i = 0; i < n; i++)
		g_thread_join(t[i]);
	return j->first ? ob_gerror(e, j->first, UPD_EXIT_VERIFY, "apply static delta") : 0;
}

/* Whether the superblock carries a part inline (in its metadata, under the
 * part's path): such a part cannot be given a file of its own. */
static bool has_inline_part(GVariant *sb)
{
	g_autoptr(GVariant) meta = g_variant_get_child_value(sb, 0);
	GVariantIter it;
	const char *key;

	g_variant_iter_init(&it, meta);
	while (g_variant_iter_next(&it, "{&sv}", &key, NULL))
		if (strstr(key, "/") && !g_str_has_suffix(key, "/commitmeta"))
			return true;
	return false;
}

int ob_delta_execute(OstreeRepo *r, const char *delta_dir, struct error *e)
{
	g_autofree char *sbpath = g_build_filename(delta_dir, "superblock", NULL);
	g_autoptr(GVariant) sb = ob_load_superblock(sbpath, e);
	struct part_job j = { .repo = r, .delta_dir = delta_dir };
	int rc = 0;

	if (!sb)
		return -EBADMSG;
	g_autoptr(GVariant) parts = g_variant_get_child_value(sb, SUPERBLOCK_PARTS);
	j.nparts = (guint)g_variant_n_children(parts);
	guint threads = has_inline_part(sb) ? 1 : part_threads(j.nparts);
	log_debug("static delta: %u part%s, applied on %u thread%s", j.nparts,
		  j.nparts == 1 ? "" : "s", threads, threads == 1 ? "" : "s");
	if (threads < 2) {
		g_autoptr(GFile) f = g_file_new_for_path(delta_dir);
		GError *gerr = NULL;
		if (!ostree_repo_static_delta_execute_offline(r, f, FALSE, NULL, &gerr))
			return ob_gerror(e, gerr, UPD_EXIT_VERIFY, "apply static delta");
		return 0;
	}
	for (guint k = 0; k < j.nparts && rc == 0; k++)
		rc = write_part_delta(sb, delta_dir, k, e);
	if (rc < 0)
		return rc;
	g_mutex_init(&j.lock);
	rc = run_parts(&j, threads, e);
	g_mutex_clear(&j.lock);
	return rc;
}

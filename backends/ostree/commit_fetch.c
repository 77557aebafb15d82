/* The commit object and its detached metadata (the signatures), fetched with
 * our own downloader instead of libostree's commit-only pull. That pull
 * brings the detached metadata along with the commit, and the content pull
 * of `install` then fetches it a second time: libostree always fetches it
 * again for a commit it already holds, in case signatures were added. So
 * `install` gets the commit alone here and the signatures with its content;
 * `check`, which pulls no content, gets them with ob_pull_detached_meta.
 * Runs in the pull process (pull_proc.c). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "../../core/log.h"
#include "../../core/source.h"
#include "ostree_priv.h"

/* Larger commit metadata is not a commit we would deploy. */
#define META_MAX (16u << 20)
#define HEAD_MAX 65536u

char *ob_repo_url(const struct ostree_backend *b, const char *path)
{
	return g_strconcat(b->url, g_str_has_suffix(b->url, "/") ? "" : "/", path, NULL);
}

struct source_opts ob_source_opts(const struct ostree_backend *b, const char *url)
{
	const struct config *c = b->cfg;
	return (struct source_opts){ .location = url, .timeout_s = c->server.timeout,
				     .retries = c->server.retries, .ca = c->server.ca,
				     .cert = c->server.cert, .key = c->server.key };
}

static int append_sink(void *user, const uint8_t *data, size_t len, struct error *e)
{
	(void)e;
	g_byte_array_append(user, data, (guint)len);
	return 0;
}

/* A small file of the repository on the server (a ref, a commit), read in
 * one request when it fits HEAD_MAX bytes, else resumed past them. */
static int fetch_small(struct ostree_backend *b, const char *path, uint64_t max, GBytes **out,
		       struct error *e)
{
	g_autofree char *url = ob_repo_url(b, path);
	struct source_opts o = ob_source_opts(b, url);
	g_autoptr(GByteArray) a = g_byte_array_sized_new(HEAD_MAX);
	size_t len = 0;
	uint64_t total = 0;
	int rc;

	g_byte_array_set_size(a, HEAD_MAX);
	if ((rc = source_read_head(&o, a->data, HEAD_MAX, &len, &total, e)) < 0)
		return rc;
	g_byte_array_set_size(a, (guint)len);
	if (total == UINT64_MAX && len == HEAD_MAX)
		return err_set(e, UPD_EXIT_VERIFY, EFBIG, "%s: more than %u bytes of unknown size", url,
			       HEAD_MAX);
	if (total != UINT64_MAX && total > len) {
		if (total > max)
			return err_set(e, UPD_EXIT_VERIFY, EFBIG, "%s: %llu bytes, at most %llu expected",
				       url, (unsigned long long)total, (unsigned long long)max);
		if ((rc = source_stream(&o, len, total - len, append_sink, a, e)) < 0)
			return rc;
	}
	b->report_base += a->len;
	ob_report_progress(b, b->report_base, 0, 1, 0, 0);
	*out = g_byte_array_free_to_bytes(g_steal_pointer(&a));
	return 0;
}

/* The checksum refs/heads/REF names on the server. */
static int resolve_ref(struct ostree_backend *b, const char *ref, char *csum, struct error *e)
{
	g_autofree char *path = g_strconcat("refs/heads/", ref, NULL);
	g_autoptr(GBytes) bytes = NULL;
	gsize n = 0;
	int rc = fetch_small(b, path, 4096, &bytes, e);

	if (rc == -ENOENT)
		err_prefix(e, "no ref %s on the server", ref);
	if (rc < 0)
		return rc;
	const char *d = g_bytes_get_data(bytes, &n);
	g_autofree char *s = g_strstrip(g_strndup(d ? d : "", n));
	if (!ostree_validate_checksum_string(s, NULL))
		return err_set(e, UPD_EXIT_VERIFY, EBADMSG, "ref %s on %s does not name a commit", ref,
			       b->url);
	memcpy(csum, s, 65);
	return 0;
}

/* True when BYTES hash to CSUM; *got (may be NULL) receives their hash. */
static bool hashes_to(GBytes *bytes, const char *csum, char **got)
{
	char *h = g_compute_checksum_for_bytes(G_CHECKSUM_SHA256, bytes);
	bool ok = strcmp(h, csum) == 0;

	if (got)
		*got = h;
	else
		g_free(h);
	return ok;
}

static char *object_path(const char *csum, const char *ext)
{
	return g_strdup_printf("objects/%.2s/%s.%s", csum, csum + 2, ext);
}

/* Stores the commit object, marked partial first (libostree's order: a cut
 * between the two leaves a mark with no commit, which pulls ignore). */
static int store_commit(struct ostree_backend *b, const char *csum, GBytes *bytes, struct error *e)
{
	g_autofree char *got = NULL;
	GError *gerr = NULL;
	char what[128];

	snprintf(what, sizeof(what), "store commit %.12s", csum);
	if (!hashes_to(bytes, csum, &got))
		return err_set(e, UPD_EXIT_VERIFY, EBADMSG,
			       "commit %.12s from %s: the object's checksum is %.12s (corrupted)", csum,
			       b->url, got);
	g_autoptr(GVariant) v = g_variant_ref_sink(
		g_variant_new_from_bytes(OSTREE_COMMIT_GVARIANT_FORMAT, bytes, FALSE));
	/* In a transaction: its commit syncs the object to disk. Written
	 * outside one, a power cut can leave the object's name with no content
	 * (the QEMU power-cut scenario did), which a rerun would trust. */
	if (!ostree_repo_mark_commit_partial(b->repo, csum, TRUE, &gerr) ||
	    !ostree_repo_prepare_transaction(b->repo, NULL, NULL, &gerr))
		return ob_gerror(e, gerr, UPD_EXIT_OTHER, what);
	if (!ostree_repo_write_metadata(b->repo, OSTREE_OBJECT_TYPE_COMMIT, csum, v, NULL, NULL, &gerr) ||
	    !ostree_repo_commit_transaction(b->repo, NULL, NULL, &gerr)) {
		ostree_repo_abort_transaction(b->repo, NULL, NULL);
		return ob_gerror(e, gerr, UPD_EXIT_VERIFY, what);
	}
	return 0;
}

/* A commit object already in the repository is trusted only if it hashes to
 * its name: one left damaged (a power cut of an older version, a bad disk)
 * is removed and fetched again. */
static bool stored_commit_ok(struct ostree_backend *b, const char *csum)
{
	g_autoptr(GVariant) v = NULL;

	if (!ostree_repo_load_variant(b->repo, OSTREE_OBJECT_TYPE_COMMIT, csum, &v, NULL))
		return false;
	g_autoptr(GBytes) bytes = g_variant_get_data_as_bytes(v);
	return hashes_to(bytes, csum, NULL);
}

/* The commit object, unless the repository has it (partial or whole). */
static int fetch_commit(struct ostree_backend *b, const char *csum, struct error *e)
{
	g_autofree char *path = object_path(csum, "commit");
	g_autoptr(GBytes) bytes = NULL;
	gboolean have = FALSE;
	GError *gerr = NULL;
	int rc;

	if (!ostree_repo_has_object(b->repo, OSTREE_OBJECT_TYPE_COMMIT, csum, &have, NULL, &gerr))
		return ob_gerror(e, gerr, UPD_EXIT_OTHER, "read the repository");
	if (have && stored_commit_ok(b, csum))
		return 0;
	if (have) {
		log_warn("commit %.12s in the repository is damaged: fetching it again", csum);
		if (!ostree_repo_delete_object(b->repo, OSTREE_OBJECT_TYPE_COMMIT, csum, NULL, &gerr))
			return ob_gerror(e, gerr, UPD_EXIT_OTHER, "remove the damaged commit object");
	}
	if ((rc = fetch_small(b, path, META_MAX, &bytes, e)) < 0)
		return rc;
	return store_commit(b, csum, bytes, e);
}

int ob_pull_commit_meta(struct ostree_backend *b, const char *ref, const char *commit,
			struct error *e)
{
	char csum[65], what[600];
	GError *gerr = NULL;
	int rc = 0;

	if (commit)
		snprintf(csum, sizeof(csum), "%s", commit);
	else
		rc = resolve_ref(b, ref, csum, e);
	if (rc == 0)
		rc = fetch_commit(b, csum, e);
	/* As libostree's pull does: the remote ref names what the server offers. */
	if (rc == 0 && !commit &&
	    !ostree_repo_set_ref_immediate(b->repo, b->remote, ref, csum, NULL, &gerr))
		rc = ob_gerror(e, gerr, UPD_EXIT_OTHER, "set the remote ref");
	if (rc < 0) {
		ob_meta_what(b, ref, what, sizeof(what));
		err_prefix(e, "%s", what);
	}
	return rc;
}

int ob_pull_detached_meta(struct ostree_backend *b, const char *csum, struct error *e)
{
	g_autofree char *path = object_path(csum, "commitmeta");
	g_autoptr(GBytes) bytes = NULL;
	g_autoptr(GVariant) v = NULL;
	GError *gerr = NULL;
	int rc = fetch_small(b, path, META_MAX, &bytes, e);

	/* None on the server: an unsigned commit, which the check then refuses. */
	if (rc == -ENOENT)
		err_clear(e);
	else if (rc < 0) {
		err_prefix(e, "fetch the signatures of commit %.12s", csum);
		return rc;
	}
	else
		v = g_variant_ref_sink(g_variant_new_from_bytes(G_VARIANT_TYPE("a{sv}"), bytes, FALSE));
	if (!ostree_repo_write_commit_detached_metadata(b->repo, csum, v, NULL, &gerr))
		return ob_gerror(e, gerr, UPD_EXIT_OTHER, "store the commit's signatures");
	return 0;
}

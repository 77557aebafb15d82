/* The commit object and its detached metadata (the signatures), fetched with
 * our own downloader (capped, the object hash-checked against its name) and
 * verified (trust.c) before either is stored: nothing a server sends is
 * kept, and no content is asked for, unless it is the commit the configured
 * keyring signed, for the ref it was fetched for. Runs in the pull process
 * (pull_proc.c). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../../lib/io.h"
#include "../../lib/log.h"
#include "../../lib/source.h"
#include "ostree_priv.h"

/* Larger commit metadata is not a commit we would deploy. */
#define META_MAX (16u << 20)
#define HEAD_MAX 65536u

char *ob_repo_url(const struct ostree_backend *b, const char *path)
{
	return g_strconcat(b->url, g_str_has_suffix(b->url, "/") ? "" : "/", path, NULL);
}

bool ob_is_repo_source(const char *source)
{
	return source && (source[0] == '/' || strstr(source, "://"));
}

int ob_set_source_url(struct ostree_backend *b, const char *source, struct error *e)
{
	if (source[0] == '/') {
		g_autofree char *config = g_build_filename(source, "config", NULL);
		if (access(config, R_OK) != 0)
			return err_set(e, UPD_EXIT_USAGE, errno, "%s: no ostree repository here (%s: %s)",
				       source, config, strerror(errno));
	}
	g_free(b->source_url);
	b->source_url = source[0] == '/' ? g_strconcat("file://", source, NULL) : g_strdup(source);
	b->url = b->source_url;
	return 0;
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
	ob_report_fetching(b, true);
	rc = source_read_head(&o, a->data, HEAD_MAX, &len, &total, e);
	if (rc < 0)
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
	ob_report_fetching(b, false);
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

/* fsync of REL (a file or directory) under the repository. */
static int sync_at(struct ostree_backend *b, const char *rel, struct error *e)
{
	int rc = io_fsync_at(ostree_repo_get_dfd(b->repo), rel, O_NOFOLLOW);

	return rc < 0 ? err_set(e, UPD_EXIT_OTHER, -rc, "sync %s: %s", rel, strerror(-rc)) : 0;
}

/* The object, its directory and objects/ itself: what libostree's
 * transaction would sync, without its syncfs and its fsync of each of the
 * 256 object directories (a second or more on slow flash, for one file). */
static int sync_commit_object(struct ostree_backend *b, const char *csum, struct error *e)
{
	g_autofree char *path = object_path(csum, "commit");
	g_autofree char *dir = g_strndup(path, strlen("objects/xx"));
	int rc;

	if ((rc = sync_at(b, path, e)) < 0 || (rc = sync_at(b, dir, e)) < 0)
		return rc;
	return sync_at(b, "objects", e);
}

/* Stores the commit object, marked partial first (libostree's order: a cut
 * between the two leaves a mark with no commit, which pulls ignore). */
static int store_commit(struct ostree_backend *b, const char *csum, GVariant *v, struct error *e)
{
	GError *gerr = NULL;
	char what[128];
	gboolean ok;

	snprintf(what, sizeof(what), "store commit %.12s", csum);
	/* In a transaction, then synced: written outside one, a power cut can
	 * leave the object's name with no content (the QEMU power-cut scenario
	 * did; get_commit() also checks what it finds). */
	if (!ostree_repo_mark_commit_partial(b->repo, csum, TRUE, &gerr) ||
	    !ostree_repo_prepare_transaction(b->repo, NULL, NULL, &gerr))
		return ob_gerror(e, gerr, UPD_EXIT_OTHER, what);
	ostree_repo_set_disable_fsync(b->repo, TRUE);
	ok = ostree_repo_write_metadata(b->repo, OSTREE_OBJECT_TYPE_COMMIT, csum, v, NULL, NULL, &gerr) &&
	     ostree_repo_commit_transaction(b->repo, NULL, NULL, &gerr);
	ostree_repo_set_disable_fsync(b->repo, FALSE);
	if (!ok) {
		ostree_repo_abort_transaction(b->repo, NULL, NULL);
		return ob_gerror(e, gerr, UPD_EXIT_VERIFY, what);
	}
	return sync_commit_object(b, csum, e);
}

bool ob_commit_hashes_to(GVariant *commit, const char *csum)
{
	g_autoptr(GBytes) bytes = g_variant_get_data_as_bytes(commit);

	return hashes_to(bytes, csum, NULL);
}

/* A commit object already in the repository is trusted only if it hashes to
 * its name: one left damaged (a power cut of an older version, a bad disk)
 * is removed and fetched again. */
bool ob_stored_commit_ok(struct ostree_backend *b, const char *csum, GVariant **out)
{
	g_autoptr(GVariant) v = NULL;

	if (!ostree_repo_load_variant(b->repo, OSTREE_OBJECT_TYPE_COMMIT, csum, &v, NULL) ||
	    !ob_commit_hashes_to(v, csum))
		return false;
	*out = g_steal_pointer(&v);
	return true;
}

/* The commit object: the repository's when it holds it (partial or whole,
 * *stored set), else fetched and hash-checked, not stored yet. */
static int get_commit(struct ostree_backend *b, const char *csum, GVariant **out, bool *stored,
		      struct error *e)
{
	g_autofree char *path = object_path(csum, "commit");
	g_autofree char *got = NULL;
	g_autoptr(GBytes) bytes = NULL;
	gboolean have = FALSE;
	GError *gerr = NULL;
	int rc;

	if (!ostree_repo_has_object(b->repo, OSTREE_OBJECT_TYPE_COMMIT, csum, &have, NULL, &gerr))
		return ob_gerror(e, gerr, UPD_EXIT_OTHER, "read the repository");
	if ((*stored = have && ob_stored_commit_ok(b, csum, out)))
		return 0;
	if (have) {
		log_warn("commit %.12s in the repository is damaged: fetching it again", csum);
		if (!ostree_repo_delete_object(b->repo, OSTREE_OBJECT_TYPE_COMMIT, csum, NULL, &gerr))
			return ob_gerror(e, gerr, UPD_EXIT_OTHER, "remove the damaged commit object");
	}
	if ((rc = fetch_small(b, path, META_MAX, &bytes, e)) < 0)
		return rc;
	if (!hashes_to(bytes, csum, &got))
		return err_set(e, UPD_EXIT_VERIFY, EBADMSG,
			       "commit %.12s from %s: the object's checksum is %.12s (corrupted)", csum,
			       b->url, got);
	*out = g_variant_ref_sink(g_variant_new_from_bytes(OSTREE_COMMIT_GVARIANT_FORMAT, bytes, FALSE));
	return 0;
}

/* The commit's detached metadata on the server (NULL when it has none: an
 * unsigned commit, which the verification then refuses). */
static int get_signatures(struct ostree_backend *b, const char *csum, GVariant **out,
			  struct error *e)
{
	g_autofree char *path = object_path(csum, "commitmeta");
	g_autoptr(GBytes) bytes = NULL;
	int rc = fetch_small(b, path, META_MAX, &bytes, e);

	*out = NULL;
	if (rc == -ENOENT) {
		err_clear(e);
		return 0;
	}
	if (rc < 0)
		return rc;
	*out = g_variant_ref_sink(g_variant_new_from_bytes(G_VARIANT_TYPE("a{sv}"), bytes, FALSE));
	return 0;
}

static int fetch_verified(struct ostree_backend *b, const char *ref, const char *csum,
			  struct error *e)
{
	g_autoptr(GVariant) commit = NULL, detached = NULL;
	GError *gerr = NULL;
	bool stored = false;
	int rc;

	if ((rc = get_commit(b, csum, &commit, &stored, e)) < 0 ||
	    (b->oc->gpg_verify && (rc = get_signatures(b, csum, &detached, e)) < 0) ||
	    (rc = ob_verify_commit_signature(b, csum, commit, detached, e)) < 0 ||
	    (rc = ob_check_ref_binding(csum, commit, ref, e)) < 0)
		return rc;
	if (!stored && (rc = store_commit(b, csum, commit, e)) < 0)
		return rc;
	if (detached &&
	    !ostree_repo_write_commit_detached_metadata(b->repo, csum, detached, NULL, &gerr))
		return ob_gerror(e, gerr, UPD_EXIT_OTHER, "store the commit's signatures");
	if (detached && b->oc->gpg_verify)
		ob_report_verified(b, csum, detached);
	return 0;
}

int ob_set_remote_ref(struct ostree_backend *b, const char *ref, const char *csum,
		      struct error *e)
{
	g_autofree char *refspec = g_strdup_printf("%s:%s", b->remote, ref), *now = NULL;
	GError *gerr = NULL;
	char what[600];

	/* A ref already there is not written again: a write is a file, its
	 * directory and their fsyncs. */
	if (ostree_repo_resolve_rev(b->repo, refspec, TRUE, &now, NULL) && now &&
	    strcmp(now, csum) == 0)
		return 0;
	if (ostree_repo_set_ref_immediate(b->repo, b->remote, ref, csum, NULL, &gerr))
		return 0;
	snprintf(what, sizeof(what), "set ref %s", refspec);
	return ob_gerror(e, gerr, UPD_EXIT_OTHER, what);
}

int ob_pull_commit_meta(struct ostree_backend *b, const char *ref, const char *commit,
			struct error *e)
{
	char csum[65], what[600];
	int rc = 0;

	if (commit)
		snprintf(csum, sizeof(csum), "%s", commit);
	else
		rc = resolve_ref(b, ref, csum, e);
	if (rc == 0)
		rc = fetch_verified(b, ref, csum, e);
	/* As libostree's pull does: the remote ref names what the server offers
	 * (once it is known to be a commit this device accepts). */
	if (rc == 0 && !commit)
		rc = ob_set_remote_ref(b, ref, csum, e);
	if (rc < 0) {
		ob_meta_what(b, ref, what, sizeof(what));
		err_prefix(e, "%s", what);
	}
	return rc;
}

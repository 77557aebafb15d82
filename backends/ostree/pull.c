/* Downloads for the ostree backend: the content (the commit metadata comes
 * first, commit_fetch.c). Where the server has a static delta
 * from the booted commit, its parts are fetched with our own downloader and
 * applied offline: Debian's libostree 2022.7 fetches loose objects alongside
 * a delta and so downloads more than a plain pull (docs/ostree.md).
 * These functions run in the pull process (pull_proc.c), which reports
 * progress to the updater on b->report_fd. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../core/fsutil.h"
#include "../../core/log.h"
#include "../../core/source.h"
#include "ostree_priv.h"

/* The content pull of COMMIT, published as REF. */
static GVariant *pull_options(struct ostree_backend *b, const char *ref, const char *commit)
{
	GVariantBuilder o;
	const char *refs[] = { ref, NULL };
	const char *commits[] = { commit, NULL };

	g_variant_builder_init(&o, G_VARIANT_TYPE("a{sv}"));
	g_variant_builder_add(&o, "{s@v}", "refs", g_variant_new_variant(g_variant_new_strv(refs, 1)));
	g_variant_builder_add(&o, "{s@v}", "override-commit-ids",
			      g_variant_new_variant(g_variant_new_strv(commits, 1)));
	g_variant_builder_add(&o, "{s@v}", "flags",
			      g_variant_new_variant(g_variant_new_int32(OSTREE_REPO_PULL_FLAGS_NONE)));
	g_variant_builder_add(&o, "{s@v}", "gpg-verify",
			      g_variant_new_variant(g_variant_new_boolean(b->cfg->ostree.gpg_verify)));
	/* We apply deltas ourselves (see the top of this file). */
	g_variant_builder_add(&o, "{s@v}", "disable-static-deltas",
			      g_variant_new_variant(g_variant_new_boolean(TRUE)));
	g_variant_builder_add(&o, "{s@v}", "n-network-retries",
			      g_variant_new_variant(g_variant_new_uint32((guint32)b->cfg->server.retries)));
	return g_variant_ref_sink(g_variant_builder_end(&o));
}

static void on_pull_progress(OstreeAsyncProgress *p, gpointer user)
{
	struct ostree_backend *b = user;

	ob_report_progress(b, b->report_base + ostree_async_progress_get_uint64(p, "bytes-transferred"),
			   ostree_async_progress_get_uint(p, "fetched"),
			   ostree_async_progress_get_uint(p, "outstanding-fetches"),
			   ostree_async_progress_get_uint(p, "outstanding-writes"),
			   ostree_async_progress_get_uint(p, "requested"));
}

static int libostree_pull(struct ostree_backend *b, GVariant *opts, const char *what, struct error *e)
{
	g_autoptr(OstreeAsyncProgress) prog = ostree_async_progress_new_and_connect(on_pull_progress, b);
	GError *gerr = NULL;
	gboolean ok = ostree_repo_pull_with_options(b->repo, b->remote, opts, prog, NULL, &gerr);

	ostree_async_progress_finish(prog);
	return ok ? 0 : ob_gerror(e, gerr, UPD_EXIT_DOWNLOAD, what);
}

void ob_meta_what(const struct ostree_backend *b, const char *ref, char *out, size_t size)
{
	snprintf(out, size, "fetch commit metadata of %s:%s", b->remote, ref);
}

/* deltas/<from b64[0:2]>/<from b64[2:]>-<to b64>/<file>, as libostree lays them out. */
static char *delta_path(const char *from, const char *to, const char *file)
{
	g_autofree guchar *fb = ostree_checksum_to_bytes(from);
	g_autofree guchar *tb = ostree_checksum_to_bytes(to);
	g_autofree char *f64 = ostree_checksum_b64_from_bytes(fb);
	g_autofree char *t64 = ostree_checksum_b64_from_bytes(tb);

	return g_strdup_printf("deltas/%c%c/%s-%s/%s", f64[0], f64[1], f64 + 2, t64, file);
}

static char *delta_url(struct ostree_backend *b, const char *from, const char *to, const char *file)
{
	g_autofree char *path = delta_path(from, to, file);

	return ob_repo_url(b, path);
}

struct file_sink {
	struct ostree_backend *b;
	int fd;
	uint64_t done; /* of this file; b->report_base counts the ones before */
};

static int write_sink(void *user, const uint8_t *data, size_t len, struct error *e)
{
	struct file_sink *s = user;
	while (len) {
		ssize_t n = write(s->fd, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return err_set(e, errno == ENOSPC ? UPD_EXIT_NOSPACE : UPD_EXIT_OTHER, errno,
				       "write delta part: %s", strerror(errno));
		data += n;
		len -= (size_t)n;
		s->done += (uint64_t)n;
	}
	ob_report_progress(s->b, s->b->report_base + s->done, 0, 1, 0, 0);
	return 0;
}

static int fetch_file(struct ostree_backend *b, const char *url, const char *path, uint64_t size,
		      struct error *e)
{
	struct source_opts o = ob_source_opts(b, url);
	struct stat st;

	/* A part kept from an interrupted run is reused; applying checks it. */
	if (stat(path, &st) == 0 && (uint64_t)st.st_size == size)
		return 0;
	struct file_sink s = { .b = b, .fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644) };
	if (s.fd < 0)
		return err_set(e, UPD_EXIT_OTHER, errno, "%s: %s", path, strerror(errno));
	int rc = source_stream(&o, 0, size, write_sink, &s, e);
	if (rc == 0 && fsync(s.fd) < 0)
		rc = err_set(e, UPD_EXIT_OTHER, errno, "fsync %s: %s", path, strerror(errno));
	close(s.fd);
	if (rc < 0)
		unlink(path);
	b->report_base += s.done;
	return rc;
}

/* Reads the superblock: number of parts and their compressed sizes. */
static GVariant *load_superblock(const char *path, struct error *e)
{
	GError *gerr = NULL;
	g_autoptr(GMappedFile) mf = g_mapped_file_new(path, FALSE, &gerr);
	if (!mf) {
		ob_gerror(e, gerr, UPD_EXIT_VERIFY, "static delta superblock");
		return NULL;
	}
	g_autoptr(GBytes) bytes = g_mapped_file_get_bytes(mf);
	GVariant *sb = g_variant_new_from_bytes(
		G_VARIANT_TYPE("(a{sv}tayay(a{sv}aya(say)sstayay)aya(uayttay)a(yaytt))"), bytes, FALSE);
	return g_variant_ref_sink(sb);
}

/* Deltas record their byte order in "ostree.endianness"; without it they are
 * in the order of the machine that reads them, as libostree assumes. */
static bool needs_byteswap(GVariant *sb)
{
	g_autoptr(GVariant) meta = g_variant_get_child_value(sb, 0);
	guint8 order = 0;

	if (!g_variant_lookup(meta, "ostree.endianness", "y", &order))
		return false;
	return order == 'l' ? G_BYTE_ORDER != G_LITTLE_ENDIAN
	       : order == 'B' ? G_BYTE_ORDER != G_BIG_ENDIAN
			      : false;
}

/* The superblock carries the target's detached metadata, its signatures,
 * under the key "<its path>/commitmeta" (when the delta was made after the
 * commit was signed): a commit the device does not trust is refused before
 * the parts are downloaded, not after. */
static int verify_before_parts(struct ostree_backend *b, const char *from, GVariant *sb,
			       struct error *e)
{
	g_autofree char *key = delta_path(from, b->checksum, "commitmeta");
	g_autoptr(GVariant) meta = g_variant_get_child_value(sb, 0);
	g_autoptr(GVariant) detached = NULL;
	GError *gerr = NULL;

	if (!b->cfg->ostree.gpg_verify ||
	    !(detached = g_variant_lookup_value(meta, key, G_VARIANT_TYPE("a{sv}"))))
		return 0;
	if (!ostree_repo_write_commit_detached_metadata(b->repo, b->checksum, detached, NULL, &gerr))
		return ob_gerror(e, gerr, UPD_EXIT_OTHER, "store the commit's signatures");
	return ob_check_signature(b, e);
}

static int fetch_delta(struct ostree_backend *b, const char *from, const char *dir, uint64_t *bytes,
		       struct error *e)
{
	g_autofree char *sb_url = delta_url(b, from, b->checksum, "superblock");
	g_autofree char *sb_path = g_build_filename(dir, "superblock", NULL);
	struct source_opts o = ob_source_opts(b, sb_url);
	uint64_t total = 0;
	struct error probe = {0};
	int rc;

	/* No delta on the server is normal: the caller falls back to objects.
	 * A HEAD request asks, so that a plain pull costs no 404 page more. */
	if (source_size(&o, &total, &probe) < 0 || total == UINT64_MAX)
		return -ENOENT;
	if ((rc = fetch_file(b, sb_url, sb_path, total, e)) < 0)
		return rc;
	g_autoptr(GVariant) sb = load_superblock(sb_path, e);
	if (!sb)
		return -EBADMSG;
	if ((rc = verify_before_parts(b, from, sb, e)) < 0)
		return rc;
	g_autoptr(GVariant) parts = g_variant_get_child_value(sb, 6);
	gsize n = g_variant_n_children(parts);
	bool swap = needs_byteswap(sb);
	*bytes = total;
	for (gsize i = 0; i < n && rc == 0; i++) {
		guint64 size = 0;
		g_autoptr(GVariant) part = g_variant_get_child_value(parts, i);
		g_variant_get_child(part, 2, "t", &size);
		if (swap)
			size = GUINT64_SWAP_LE_BE(size);
		char name[32];
		snprintf(name, sizeof(name), "%zu", (size_t)i);
		g_autofree char *url = delta_url(b, from, b->checksum, name);
		g_autofree char *path = g_build_filename(dir, name, NULL);
		rc = fetch_file(b, url, path, size, e);
		*bytes += size;
	}
	return rc;
}

static int apply_delta(struct ostree_backend *b, const char *from, struct error *e)
{
	g_autofree char *dir = g_strdup_printf("%s/ostree/repo/tmp/updater-delta-%.16s",
					       b->cfg->ostree.sysroot, b->checksum);
	GError *gerr = NULL;
	uint64_t bytes = 0;
	int rc;

	if ((rc = mkdir_p(dir, 0755, e)) < 0)
		return rc;
	rc = fetch_delta(b, from, dir, &bytes, e);
	if (rc == -ENOENT) {
		log_info("no static delta from %.12s to %.12s on the server: pulling objects", from,
			 b->checksum);
		rmdir(dir);
		return 0;
	}
	if (rc == 0) {
		g_autoptr(GFile) f = g_file_new_for_path(dir);
		if (!ostree_repo_static_delta_execute_offline(b->repo, f, FALSE, NULL, &gerr))
			rc = ob_gerror(e, gerr, UPD_EXIT_VERIFY, "apply static delta");
		else
			log_info("applied static delta %.12s -> %.12s (%llu bytes downloaded)", from,
				 b->checksum, (unsigned long long)bytes);
	}
	/* Parts are kept after a failed download (a rerun resumes), not after use. */
	if (rc == 0 || e->exit == UPD_EXIT_VERIFY) {
		g_autoptr(GFile) f = g_file_new_for_path(dir);
		g_autoptr(GFileEnumerator) en = g_file_enumerate_children(f, "standard::name", 0, NULL, NULL);
		GFileInfo *info;
		while (en && (info = g_file_enumerator_next_file(en, NULL, NULL))) {
			g_autofree char *p = g_build_filename(dir, g_file_info_get_name(info), NULL);
			unlink(p);
			g_object_unref(info);
		}
		rmdir(dir);
	}
	return rc;
}

int ob_pull_content(struct ostree_backend *b, const char *from_checksum, struct error *e)
{
	char ref[512];
	int rc;

	if (from_checksum && strcmp(from_checksum, b->checksum) != 0 &&
	    (rc = apply_delta(b, from_checksum, e)) < 0)
		return rc;
	/* Fetches whatever is still missing (everything, without a delta) and
	 * marks the commit complete; resumes what an interrupted pull left. */
	snprintf(ref, sizeof(ref), "%s", strchr(b->refspec, ':') + 1);
	g_autoptr(GVariant) opts = pull_options(b, ref, b->checksum);
	return libostree_pull(b, opts, "pull", e);
}

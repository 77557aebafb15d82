/* Downloads for the ostree backend: the content of a commit already
 * verified (commit_fetch.c). Where the server has a static delta from the
 * booted commit, its parts are fetched with our own downloader and applied
 * offline: Debian's libostree 2022.7 fetches loose objects alongside a delta
 * and so downloads more than a plain pull (docs/ostree.md). A delta is
 * unsigned: it is used only when its superblock names exactly the booted
 * commit and the verified target, its files wait in a root-only staging
 * area (capped), and it is applied into a throwaway repository from which
 * only the objects the verified commit reaches are imported.
 * These functions run in the pull process (pull_proc.c), which reports
 * progress to the updater on b->report_fd. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "../../lib/fault.h"
#include "../../lib/fsutil.h"
#include "../../lib/io.h"
#include "../../lib/log.h"
#include "../../lib/source.h"
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
	/* The commit is stored already, verified against ostree.gpg_keyring
	 * alone (commit_fetch.c), and pinned by its checksum: every object
	 * pulled now is checked against that. libostree's own check would
	 * start gpg again, with keyrings we do not trust. */
	g_variant_builder_add(&o, "{s@v}", "gpg-verify",
			      g_variant_new_variant(g_variant_new_boolean(FALSE)));
	/* We apply deltas ourselves (see the top of this file). */
	g_variant_builder_add(&o, "{s@v}", "disable-static-deltas",
			      g_variant_new_variant(g_variant_new_boolean(TRUE)));
	g_variant_builder_add(&o, "{s@v}", "n-network-retries",
			      g_variant_new_variant(g_variant_new_uint32((guint32)b->cfg->server.retries)));
	/* A repository named on the command line; the remote keeps ostree.url. */
	if (b->source_url)
		g_variant_builder_add(&o, "{s@v}", "override-url",
				      g_variant_new_variant(g_variant_new_string(b->source_url)));
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
	gboolean ok;

	ob_report_fetching(b, true); /* until libostree's first report */
	ok = ostree_repo_pull_with_options(b->repo, b->remote, opts, prog, NULL, &gerr);

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
	int rc = io_write_full(s->fd, data, len);
	if (rc < 0)
		return err_set(e, rc == -ENOSPC ? UPD_EXIT_NOSPACE : UPD_EXIT_OTHER, -rc,
			       "write delta part: %s", strerror(-rc));
	s->done += (uint64_t)len;
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
	struct file_sink s = { .b = b, .fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600) };
	if (s.fd < 0)
		return err_set(e, UPD_EXIT_OTHER, errno, "%s: %s", path, strerror(errno));
	ob_report_fetching(b, true);
	int rc = source_stream(&o, 0, size, write_sink, &s, e);
	b->report_base += s.done;
	ob_report_fetching(b, false);
	if (rc == 0 && fsync(s.fd) < 0)
		rc = err_set(e, UPD_EXIT_OTHER, errno, "fsync %s: %s", path, strerror(errno));
	close(s.fd);
	if (rc < 0)
		unlink(path);
	return rc;
}


/* --- the staging area --------------------------------------------------- */

/* A superblock lists the parts and carries the target commit: 16 MiB is far
 * more than any real one (a few KiB per thousand objects). */
#define SUPERBLOCK_MAX (16u << 20)
#define SUPERBLOCK_TYPE "(a{sv}tayay(a{sv}aya(say)sstayay)aya(uayttay)a(yaytt))"

/* REPO/tmp/updater-staging: on the repository's filesystem, so that the
 * import hard-links objects instead of copying them. */
static char *staging_dir(struct ostree_backend *b)
{
	GFile *repo = ostree_repo_get_path(b->repo);
	return g_build_filename(g_file_peek_path(repo), "tmp", "updater-staging", NULL);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)ftw;
	return flag == FTW_DP ? rmdir(path) : unlink(path);
}

int ob_rm_tree(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	/* No FTW_CHDIR: nftw is then safe on a thread (pull_proc.c). */
	return nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS) < 0 ? -errno : 0;
}

static void staging_discard(struct ostree_backend *b)
{
	g_autofree char *dir = staging_dir(b);
	int rc = ob_rm_tree(dir);

	if (rc < 0)
		log_warn("cannot remove the staging area %s: %s", dir, strerror(-rc));
}

char *ob_staging_applied(struct ostree_backend *b)
{
	GFile *repo = ostree_repo_get_path(b->repo);
	return g_build_filename(g_file_peek_path(repo), "tmp", "updater-staging.applied", NULL);
}

/* After the import, what is left of the staging area (the delta's files,
 * the throwaway repository with anything the commit does not reach) is
 * renamed, one atomic step, and removed by the updater while it verifies
 * and deploys (pull_proc.c): removing a few hundred files here was on the
 * install's path. Renamed, it can no longer be taken for a resumable
 * download; still in the repository's tmp, a 0700 directory, it is used by
 * nothing. One left by a killed run is removed by the next pull. */
static void staging_retire(struct ostree_backend *b)
{
	g_autofree char *dir = staging_dir(b);
	g_autofree char *applied = ob_staging_applied(b);

	if (ob_rm_tree(applied) < 0 || rename(dir, applied) < 0)
		staging_discard(b);
}

/* The staging area for the delta FROM -> b->checksum: what is there is kept
 * only if it is ours (a 0700 directory of this user) and for this delta;
 * anything else is removed first. */
static int staging_open(struct ostree_backend *b, const char *from, struct error *e)
{
	g_autofree char *dir = staging_dir(b);
	g_autofree char *mark = g_build_filename(dir, "target", NULL);
	g_autofree char *delta = g_build_filename(dir, "delta", NULL);
	g_autofree char *want = g_strdup_printf("%s %s\n", from, b->checksum);
	g_autofree char *have = NULL;
	struct stat st;

	if (lstat(dir, &st) == 0) {
		bool ours = S_ISDIR(st.st_mode) && st.st_uid == geteuid() &&
			    (st.st_mode & 07777) == 0700 &&
			    g_file_get_contents(mark, &have, NULL, NULL) && strcmp(have, want) == 0;
		if (ours)
			return 0;
		log_info("removing the staging area of another target (%s)", dir);
		staging_discard(b);
	}
	if (mkdir(dir, 0700) < 0 || mkdir(delta, 0700) < 0)
		return err_set(e, errno == ENOSPC ? UPD_EXIT_NOSPACE : UPD_EXIT_OTHER, errno,
			       "create the staging area %s: %s", dir, strerror(errno));
	return atomic_write_file(mark, want, strlen(want), e);
}

/* Bytes that may be written to the repository's filesystem: what is free
 * above libostree's reserve (min-free-space-percent/-size). */
static uint64_t space_above_reserve(struct ostree_backend *b)
{
	GFile *repo = ostree_repo_get_path(b->repo);
	guint64 reserve = 0;
	struct statvfs sv;

	if (statvfs(g_file_peek_path(repo), &sv) < 0)
		return UINT64_MAX;
	ostree_repo_get_min_free_space_bytes(b->repo, &reserve, NULL);
	uint64_t avail = (uint64_t)sv.f_bavail * sv.f_frsize;
	return avail > reserve ? avail - reserve : 0;
}

/* --- the superblock ------------------------------------------------------- */

GVariant *ob_load_superblock(const char *path, struct error *e)
{
	GError *gerr = NULL;
	g_autoptr(GMappedFile) mf = g_mapped_file_new(path, FALSE, &gerr);
	if (!mf) {
		ob_gerror(e, gerr, UPD_EXIT_VERIFY, "static delta superblock");
		return NULL;
	}
	g_autoptr(GBytes) bytes = g_mapped_file_get_bytes(mf);
	GVariant *sb = g_variant_new_from_bytes(G_VARIANT_TYPE(SUPERBLOCK_TYPE), bytes, FALSE);
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

/* The checksum a superblock field (ay) holds, "" when it is not one. */
static void csum_field(GVariant *sb, int i, char out[65])
{
	g_autoptr(GVariant) v = g_variant_get_child_value(sb, i);

	out[0] = '\0';
	if (g_variant_n_children(v) == 32)
		ostree_checksum_inplace_from_bytes(g_variant_get_data(v), out);
}

/* Usable only if it leads from exactly the booted commit to exactly the
 * verified one, and can be applied offline (no "fallback" objects to fetch
 * loose). Anything else is ignored: the caller pulls objects. */
static bool superblock_usable(struct ostree_backend *b, const char *from, GVariant *sb)
{
	char sfrom[65], sto[65];
	g_autoptr(GVariant) fallback = g_variant_get_child_value(sb, 7);

	csum_field(sb, 2, sfrom);
	csum_field(sb, 3, sto);
	if (strcmp(sfrom, from) != 0 || strcmp(sto, b->checksum) != 0) {
		log_warn("static delta %.12s -> %.12s on the server names %.12s -> %.12s: ignored, "
			 "pulling objects",
			 from, b->checksum, sfrom[0] ? sfrom : "(none)", sto[0] ? sto : "(none)");
		return false;
	}
	if (g_variant_n_children(fallback) > 0) {
		log_warn("static delta %.12s -> %.12s has objects to fetch loose: ignored, pulling "
			 "objects",
			 from, b->checksum);
		return false;
	}
	return true;
}

/* The parts' sizes as the superblock declares them (compressed, what is
 * downloaded); false on an overflow. */
static bool part_size(GVariant *parts, gsize i, bool swap, guint64 *size)
{
	g_autoptr(GVariant) part = g_variant_get_child_value(parts, i);

	g_variant_get_child(part, 2, "t", size);
	if (swap)
		*size = GUINT64_SWAP_LE_BE(*size);
	return *size < (1ull << 62);
}

/* --- download ------------------------------------------------------------- */

/* What is still to download must fit above libostree's reserve: parts kept
 * from an interrupted run count as there. */
static int check_parts_fit(struct ostree_backend *b, GVariant *sb, const char *dir,
			   uint64_t *total, struct error *e)
{
	g_autoptr(GVariant) parts = g_variant_get_child_value(sb, 6);
	bool swap = needs_byteswap(sb);
	uint64_t need = 0, room = space_above_reserve(b);

	*total = 0;
	for (gsize i = 0; i < g_variant_n_children(parts); i++) {
		guint64 size = 0;
		char name[32];
		struct stat st;
		if (!part_size(parts, i, swap, &size))
			return err_set(e, UPD_EXIT_VERIFY, EBADMSG, "static delta: part %zu: bad size",
				       (size_t)i);
		snprintf(name, sizeof(name), "%s/%zu", dir, (size_t)i);
		*total += size;
		if (!(lstat(name, &st) == 0 && (uint64_t)st.st_size == size))
			need += size;
	}
	if (need > room)
		return err_set(e, UPD_EXIT_NOSPACE, ENOSPC,
			       "static delta %.12s: its parts need %llu bytes, %llu are free above the "
			       "repository's reserve: %s",
			       b->checksum, (unsigned long long)need, (unsigned long long)room,
			       strerror(ENOSPC));
	return 0;
}

static int fetch_parts(struct ostree_backend *b, const char *from, GVariant *sb, const char *dir,
		       struct error *e)
{
	g_autoptr(GVariant) parts = g_variant_get_child_value(sb, 6);
	bool swap = needs_byteswap(sb);
	int rc = 0;

	for (gsize i = 0; i < g_variant_n_children(parts) && rc == 0; i++) {
		guint64 size = 0;
		char name[32];
		part_size(parts, i, swap, &size);
		snprintf(name, sizeof(name), "%zu", (size_t)i);
		g_autofree char *url = delta_url(b, from, b->checksum, name);
		g_autofree char *path = g_build_filename(dir, name, NULL);
		rc = fetch_file(b, url, path, size, e);
	}
	return rc;
}

/* The superblock (at most SUPERBLOCK_MAX, by the server's HEAD answer and
 * then by the length read), checked, then the parts it declares. -ENOENT:
 * no delta on the server; -ECANCELED: one not to use (warned about). */
static int fetch_delta(struct ostree_backend *b, const char *from, const char *dir, uint64_t *bytes,
		       struct error *e)
{
	g_autofree char *sb_url = delta_url(b, from, b->checksum, "superblock");
	g_autofree char *sb_path = g_build_filename(dir, "superblock", NULL);
	struct source_opts o = ob_source_opts(b, sb_url);
	uint64_t total = 0, parts = 0;
	struct error probe = {0};
	int rc;

	/* No delta on the server is normal: the caller falls back to objects.
	 * A HEAD request asks, so that a plain pull costs no 404 page more. */
	ob_report_fetching(b, true);
	rc = source_size(&o, &total, &probe);
	ob_report_fetching(b, false);
	if (rc < 0 || total == UINT64_MAX)
		return -ENOENT;
	if (total > SUPERBLOCK_MAX) {
		log_warn("static delta %.12s -> %.12s: superblock of %llu bytes, more than %u: "
			 "ignored, pulling objects",
			 from, b->checksum, (unsigned long long)total, SUPERBLOCK_MAX);
		return -ECANCELED;
	}
	if (total > space_above_reserve(b))
		return err_set(e, UPD_EXIT_NOSPACE, ENOSPC,
			       "static delta %.12s: its superblock needs %llu bytes, more than is free "
			       "above the repository's reserve: %s",
			       b->checksum, (unsigned long long)total, strerror(ENOSPC));
	/* A file of the delta missing after the HEAD said it is there is a
	 * download error (exit 4, resumable), not "no delta". */
	if ((rc = fetch_file(b, sb_url, sb_path, total, e)) < 0)
		return rc == -ENOENT ? -EIO : rc;
	g_autoptr(GVariant) sb = ob_load_superblock(sb_path, e);
	if (!sb)
		return -EBADMSG;
	if (!superblock_usable(b, from, sb))
		return -ECANCELED;
	if ((rc = check_parts_fit(b, sb, dir, &parts, e)) < 0 ||
	    (rc = fetch_parts(b, from, sb, dir, e)) < 0)
		return rc == -ENOENT ? -EIO : rc;
	*bytes = total + parts;
	return 0;
}

/* --- apply ---------------------------------------------------------------- */

/* A throwaway repository in the staging area whose parent is the device's:
 * the delta reads the booted commit's objects from there and writes its own
 * here, each checked against its checksum. Made anew on every run (a cut may
 * have left objects unsynced in the previous one). */
static int staging_repo(struct ostree_backend *b, const char *path, OstreeRepo **out,
			struct error *e)
{
	g_autoptr(GFile) f = g_file_new_for_path(path);
	g_autoptr(OstreeRepo) r = ostree_repo_new(f);
	GKeyFile *main_conf = ostree_repo_get_config(b->repo);
	GError *gerr = NULL;

	if (!ostree_repo_create(r, ostree_repo_get_mode(b->repo), NULL, &gerr))
		return ob_gerror(e, gerr, UPD_EXIT_OTHER, "create the staging repository");
	g_autoptr(GKeyFile) conf = ostree_repo_copy_config(r);
	g_key_file_set_string(conf, "core", "parent", g_file_peek_path(ostree_repo_get_path(b->repo)));
	/* The same reserve as the device's repository (libostree's default 3 %
	 * otherwise): the staging area is on the same filesystem. */
	for (const char *const *k = (const char *const[]){ "min-free-space-size",
							    "min-free-space-percent", NULL };
	     *k; k++) {
		g_autofree char *v = g_key_file_get_string(main_conf, "core", *k, NULL);
		if (v)
			g_key_file_set_string(conf, "core", *k, v);
	}
	if (!ostree_repo_write_config(r, conf, &gerr))
		return ob_gerror(e, gerr, UPD_EXIT_OTHER, "configure the staging repository");
	g_autoptr(OstreeRepo) opened = ostree_repo_new(f);
	if (!ostree_repo_open(opened, NULL, &gerr))
		return ob_gerror(e, gerr, UPD_EXIT_OTHER, "open the staging repository");
	/* Nothing here needs to survive a cut: the import hard-links the
	 * objects into the device's repository, whose transaction syncs the
	 * file system before it moves them into objects/. Syncing here too
	 * cost a syncfs and an fsync of each of the 256 object directories. */
	ostree_repo_set_disable_fsync(opened, TRUE);
	*out = g_steal_pointer(&opened);
	return 0;
}

static int execute_staged(OstreeRepo *r, const char *delta_dir, struct error *e)
{
	GError *gerr = NULL;
	int rc;

	if (!ostree_repo_prepare_transaction(r, NULL, NULL, &gerr))
		return ob_gerror(e, gerr, UPD_EXIT_VERIFY, "apply static delta");
	if ((rc = ob_delta_execute(r, delta_dir, e)) < 0) {
		ostree_repo_abort_transaction(r, NULL, NULL);
		return rc;
	}
	if (!ostree_repo_commit_transaction(r, NULL, NULL, &gerr)) {
		ostree_repo_abort_transaction(r, NULL, NULL);
		return ob_gerror(e, gerr, UPD_EXIT_VERIFY, "apply static delta");
	}
	return 0;
}

/* Imports into the device's repository what the verified commit reaches, and
 * nothing else the delta brought: libostree's local pull walks the commit
 * (hard links from the staging repository, one transaction). */
static int import_reachable(struct ostree_backend *b, const char *staging_repo_path,
			    struct error *e)
{
	g_autofree char *url = g_strconcat("file://", staging_repo_path, NULL);
	const char *commits[] = { b->checksum, NULL };
	GVariantBuilder o;
	GError *gerr = NULL;

	g_variant_builder_init(&o, G_VARIANT_TYPE("a{sv}"));
	g_variant_builder_add(&o, "{s@v}", "refs", g_variant_new_variant(g_variant_new_strv(commits, 1)));
	/* Verified already (commit_fetch.c), and the staging repository has
	 * no keys to check with. */
	g_variant_builder_add(&o, "{s@v}", "gpg-verify", g_variant_new_variant(g_variant_new_boolean(FALSE)));
	g_variant_builder_add(&o, "{s@v}", "gpg-verify-summary",
			      g_variant_new_variant(g_variant_new_boolean(FALSE)));
	g_autoptr(GVariant) opts = g_variant_ref_sink(g_variant_builder_end(&o));
	if (!ostree_repo_pull_with_options(b->repo, url, opts, NULL, NULL, &gerr))
		return ob_gerror(e, gerr, UPD_EXIT_VERIFY, "apply static delta: import its objects");
	return 0;
}

static int apply_staged(struct ostree_backend *b, const char *dir, struct error *e)
{
	g_autofree char *path = g_build_filename(dir, "repo", NULL);
	g_autofree char *delta = g_build_filename(dir, "delta", NULL);
	g_autoptr(OstreeRepo) r = NULL;
	int rc;

	if ((rc = ob_rm_tree(path)) < 0)
		return err_set(e, UPD_EXIT_OTHER, -rc, "remove %s: %s", path, strerror(-rc));
	fault_delay("delta-apply"); /* tests: applying on slow flash */
	if ((rc = staging_repo(b, path, &r, e)) < 0 || (rc = execute_staged(r, delta, e)) < 0)
		return rc;
	return import_reachable(b, path, e);
}

/* 1: a static delta from FROM was applied; 0: the server has none (or none
 * that may be used), the objects are pulled. */
static int apply_delta(struct ostree_backend *b, const char *from, struct error *e)
{
	g_autofree char *dir = staging_dir(b);
	g_autofree char *delta = g_build_filename(dir, "delta", NULL);
	uint64_t bytes = 0;
	int rc;

	if ((rc = staging_open(b, from, e)) < 0)
		return rc;
	rc = fetch_delta(b, from, delta, &bytes, e);
	if (rc == -ENOENT)
		log_info("no static delta from %.12s to %.12s on the server: pulling objects", from,
			 b->checksum);
	if (rc == -ENOENT || rc == -ECANCELED) {
		staging_discard(b);
		return 0; /* none applied */
	}
	if (rc == 0 && (rc = apply_staged(b, dir, e)) == 0)
		log_info("applied static delta %.12s -> %.12s (%llu bytes downloaded)", from,
			 b->checksum, (unsigned long long)bytes);
	/* Kept only to resume this same target after a failed download. */
	if (rc == 0)
		staging_retire(b);
	else if (e->exit != UPD_EXIT_DOWNLOAD)
		staging_discard(b);
	return rc < 0 ? rc : 1;
}

/* After a delta's import: the import's walk of the commit found every
 * object it reaches and marked it complete. */
static int commit_complete(struct ostree_backend *b)
{
	OstreeRepoCommitState state = OSTREE_REPO_COMMIT_STATE_PARTIAL;

	return ostree_repo_load_commit(b->repo, b->checksum, NULL, &state, NULL) &&
	       !(state & OSTREE_REPO_COMMIT_STATE_PARTIAL);
}

int ob_pull_content(struct ostree_backend *b, const char *from_checksum, struct error *e)
{
	char ref[512];
	int rc;

	snprintf(ref, sizeof(ref), "%s", strchr(b->refspec, ':') + 1);
	g_autofree char *applied = ob_staging_applied(b);
	ob_rm_tree(applied); /* a killed run's */
	if (from_checksum && strcmp(from_checksum, b->checksum) != 0) {
		if ((rc = apply_delta(b, from_checksum, e)) < 0)
			return rc;
		/* A second walk and transaction would cost as much as the
		 * delta's own on a small update. */
		if (commit_complete(b))
			return ob_set_remote_ref(b, ref, b->checksum, e);
		if (rc == 1)
			log_debug("commit %.12s still partial after the delta: pulling what is missing",
				  b->checksum);
	} else {
		staging_discard(b); /* another target's */
	}
	/* Fetches whatever is still missing (everything, without a delta) and
	 * marks the commit complete; resumes what an interrupted pull left. */
	g_autoptr(GVariant) opts = pull_options(b, ref, b->checksum);
	return libostree_pull(b, opts, "pull", e);
}

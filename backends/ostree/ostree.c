/* OSTree backend: one partition; a release is a commit pulled from an
 * archive repository over HTTP and deployed next to the running system with
 * libostree (hard-linked checkouts). The booted deployment is never removed
 * or rewritten; the previous one stays bootable as the rollback entry. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "../../lib/fault.h"
#include "../../lib/log.h"
#include "../../lib/progress.h"
#include "ostree_priv.h"

#define NEW_TARGET "new-deployment"

/* oc is NULL in a config not made by config_load(): as if it set nothing. */
static int check_config(const struct config *c, const struct ostree_config *oc, struct error *e)
{
	const char *missing = !oc || !oc->sysroot ? "ostree.sysroot"
			      : !oc->osname ? "ostree.osname"
			      : !oc->ref    ? "ostree.ref"
			      : !oc->url && !c->server.url ? "ostree.url"
			      : oc->gpg_verify && !oc->gpg_keyring ? "ostree.gpg_keyring"
								    : NULL;
	if (missing)
		return err_set(e, UPD_EXIT_USAGE, EINVAL, "%s: %s: missing (required by the ostree backend)",
			       c->path, missing);
	return 0;
}

static GVariant *remote_options(const struct config *c, const struct ostree_config *oc)
{
	GVariantBuilder o;
	g_variant_builder_init(&o, G_VARIANT_TYPE("a{sv}"));
	g_variant_builder_add(&o, "{s@v}", "gpg-verify",
			      g_variant_new_variant(g_variant_new_boolean(oc->gpg_verify)));
	if (oc->gpg_keyring)
		g_variant_builder_add(&o, "{s@v}", "gpgkeypath",
				      g_variant_new_variant(g_variant_new_string(oc->gpg_keyring)));
	if (c->server.ca)
		g_variant_builder_add(&o, "{s@v}", "tls-ca-path",
				      g_variant_new_variant(g_variant_new_string(c->server.ca)));
	if (c->server.cert)
		g_variant_builder_add(&o, "{s@v}", "tls-client-cert-path",
				      g_variant_new_variant(g_variant_new_string(c->server.cert)));
	if (c->server.key)
		g_variant_builder_add(&o, "{s@v}", "tls-client-key-path",
				      g_variant_new_variant(g_variant_new_string(c->server.key)));
	return g_variant_ref_sink(g_variant_builder_end(&o));
}

static bool remote_option_is(OstreeRepo *repo, const char *remote, const char *opt, const char *want)
{
	g_autofree char *v = NULL;
	if (!ostree_repo_get_remote_option(repo, remote, opt, "", &v, NULL))
		return false;
	return strcmp(v, want ? want : "") == 0;
}

/* The remote follows the config; rewritten only when it differs, so that
 * every run does not rewrite the repository config on flash. */
static int ensure_remote(struct ostree_backend *b, struct error *e)
{
	const struct config *c = b->cfg;
	g_autofree char *url = NULL;
	GError *gerr = NULL;
	bool same = ostree_repo_remote_get_url(b->repo, b->remote, &url, NULL) &&
		    strcmp(url, b->url) == 0 &&
		    remote_option_is(b->repo, b->remote, "gpg-verify", b->oc->gpg_verify ? "true" : "false") &&
		    remote_option_is(b->repo, b->remote, "gpgkeypath", b->oc->gpg_keyring) &&
		    remote_option_is(b->repo, b->remote, "tls-ca-path", c->server.ca);
	if (same)
		return 0;
	g_autoptr(GVariant) opts = remote_options(c, b->oc);
	if (!ostree_repo_remote_change(b->repo, NULL, OSTREE_REPO_REMOTE_CHANGE_DELETE_IF_EXISTS,
				       b->remote, NULL, NULL, NULL, &gerr) ||
	    !ostree_repo_remote_change(b->repo, NULL, OSTREE_REPO_REMOTE_CHANGE_ADD, b->remote,
				       b->url, opts, NULL, &gerr))
		return ob_gerror(e, gerr, UPD_EXIT_OTHER, "configure the ostree remote");
	log_info("ostree remote '%s' set to %s", b->remote, b->url);
	return 0;
}

/* libostree reports a prune with g_print() ("Freed objects: 149.7 kB"), on
 * stdout, which belongs to --progress=json and status --json: to the log. */
static void print_to_log(const gchar *s)
{
	size_t n = strlen(s);
	log_info("%.*s", (int)(n && s[n - 1] == '\n' ? n - 1 : n), s);
}

/* quiet: the pull process, whose parent has said all this already. */
static int load_backend(struct ostree_backend *b, const struct config *c,
			const struct ostree_config *oc, bool quiet, struct error *e)
{
	GError *gerr = NULL;

	b->cfg = c;
	b->oc = oc;
	b->report_fd = -1;
	g_set_print_handler(print_to_log);
	b->remote = oc->remote ? oc->remote : "origin";
	b->osname = oc->osname;
	b->url = oc->url ? oc->url : c->server.url;
	if (quiet) {
		/* The pull process needs the repository only: loading the sysroot
		 * (its deployments) would only add to its memory. */
		g_autofree char *repo = g_build_filename(oc->sysroot, "ostree/repo", NULL);
		g_autoptr(GFile) rpath = g_file_new_for_path(repo);
		b->repo = ostree_repo_new(rpath);
		if (!ostree_repo_open(b->repo, NULL, &gerr))
			return ob_gerror(e, gerr, UPD_EXIT_OTHER, "open the ostree repository");
		return 0;
	}
	g_autoptr(GFile) path = g_file_new_for_path(oc->sysroot);
	b->sysroot = ostree_sysroot_new(path);
	if (!ostree_sysroot_load(b->sysroot, NULL, &gerr) ||
	    !ostree_sysroot_get_repo(b->sysroot, &b->repo, NULL, &gerr))
		return ob_gerror(e, gerr, UPD_EXIT_OTHER, "open the ostree sysroot");
	return ensure_remote(b, e);
}

/* On failure *out is NULL and there is nothing to close. */
static int open_backend(const struct config *c, struct ostree_backend **out, bool quiet,
			struct error *e)
{
	const struct ostree_config *oc = config_section_data(c, &ostree_section);
	int rc = check_config(c, oc, e);
	struct ostree_backend *b = NULL;

	*out = NULL;
	if (rc == 0 && !(b = calloc(1, sizeof(*b))))
		rc = err_oom(e, NULL);
	/* The program as it is now: the pull process, started later, runs this
	 * very file even if a package upgrade has replaced or removed it since
	 * (pull_proc.c). Without it (no /proc), the path is used. */
	if (b)
		b->self_fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	if (rc == 0)
		rc = load_backend(b, c, oc, quiet, e);
	if (rc < 0) {
		if (b)
			ob_free(b);
		return rc;
	}
	*out = b;
	return 0;
}

int ob_open_quiet(const struct config *c, struct ostree_backend **out, struct error *e)
{
	return open_backend(c, out, true, e);
}

static int ob_open(struct updater_ctx *u, void **priv, struct error *e)
{
	struct ostree_backend *b = NULL;
	int rc = open_backend(u->cfg, &b, false, e);

	*priv = b;
	if (b)
		b->u = u;
	return rc;
}

void ob_free(struct ostree_backend *b)
{
	if (b->locked)
		ostree_sysroot_unlock(b->sysroot);
	ob_early_finish(b);
	ob_cleanup_finish(b);
	g_clear_object(&b->new_dep);
	g_clear_object(&b->repo);
	g_clear_object(&b->sysroot);
	g_free(b->source_url);
	if (b->self_fd >= 0)
		close(b->self_fd);
	free(b);
}

static void ob_close(void *priv)
{
	if (priv)
		ob_free(priv);
}

static int ob_booted_info(void *priv, struct system_info *out, struct error *e)
{
	struct ostree_backend *b = priv;
	OstreeDeployment *d = NULL;
	int rc = ob_booted(b, &d, e);

	if (rc == 0) {
		ob_describe(b, d, out);
		g_object_unref(d);
	}
	return rc;
}

static int ob_next_boot(void *priv, char *id, size_t size, struct error *e)
{
	struct ostree_backend *b = priv;
	g_autoptr(GPtrArray) deps = ostree_sysroot_get_deployments(b->sysroot);

	if (deps->len == 0)
		return err_set(e, UPD_EXIT_OTHER, ENOENT, "ostree sysroot %s has no deployment",
			       b->oc->sysroot);
	ob_deployment_id(deps->pdata[0], id, size);
	return 0;
}

static int ob_fetch(void *priv, const char *source, struct release *out, struct error *e)
{
	struct ostree_backend *b = priv;
	const char *ref = b->oc->ref, *commit = NULL;
	g_autofree char *csum = NULL;
	GError *gerr = NULL;
	int rc;

	if (ob_is_repo_source(source)) {
		if ((rc = ob_set_source_url(b, source, e)) < 0)
			return rc;
		log_info("the release is %s in the repository %s (not ostree.url)", ref, b->url);
	} else if (source && ostree_validate_checksum_string(source, NULL)) {
		commit = source;
	} else if (source) {
		ref = source;
	}
	snprintf(b->refspec, sizeof(b->refspec), "%s:%s", b->remote, ref);
	/* Here, not at open: said by the commands that fetch (check,
	 * install), once, and not by status, boot or mark-good. */
	if (!b->oc->gpg_verify && !b->warned_unverified) {
		log_warn("ostree.gpg_verify is off: commits are installed without checking signatures");
		b->warned_unverified = true;
	}
	if ((rc = ob_fetch_meta(b, ref, commit, e)) < 0)
		return rc;
	if (!commit && !ostree_repo_resolve_rev(b->repo, b->refspec, FALSE, &csum, &gerr))
		return ob_gerror(e, gerr, UPD_EXIT_DOWNLOAD, "resolve the fetched ref");
	snprintf(b->checksum, sizeof(b->checksum), "%s", commit ? commit : csum);
	/* The pull process verified the commit before storing it (its
	 * signature, its ref); the metadata the policy reads is that commit's. */
	g_autoptr(GVariant) cv = NULL;
	if (!ostree_repo_load_variant(b->repo, OSTREE_OBJECT_TYPE_COMMIT, b->checksum, &cv, &gerr))
		return ob_gerror(e, gerr, UPD_EXIT_VERIFY, "read the fetched commit");
	memset(out, 0, sizeof(*out));
	if ((rc = ob_release_meta(b, cv, out, e)) < 0)
		return rc;
	snprintf(b->version, sizeof(b->version), "%s", out->version);
	snprintf(out->digest, sizeof(out->digest), "%s", b->checksum);
	snprintf(out->identity, sizeof(out->identity), "%s", b->checksum);
	log_debug("commit %.12s: version %s, compatible %s, security version %llu", b->checksum,
		  out->version, out->compatible[0] ? out->compatible : "(none)",
		  (unsigned long long)out->security_version);
	snprintf(out->origin, sizeof(out->origin), "%s (%s)", b->refspec, b->url);
	return 0;
}

static int ob_download(void *priv, struct error *e)
{
	struct ostree_backend *b = priv;
	OstreeDeployment *booted = NULL;
	struct error ignore = {0};
	int rc;

	/* The delta to look for starts at the running commit. */
	if (ob_booted(b, &booted, &ignore) < 0)
		booted = NULL;
	rc = ob_fetch_content(b, booted ? ostree_deployment_get_csum(booted) : NULL, e);
	g_clear_object(&booted);
	return rc;
}

bool ob_commit_complete(struct ostree_backend *b)
{
	OstreeRepoCommitState state = 0;
	return ostree_repo_load_commit(b->repo, b->checksum, NULL, &state, NULL) &&
	       !(state & OSTREE_REPO_COMMIT_STATE_PARTIAL);
}

/* Sizes of the kernel and initramfs the deployment copies into /boot, or
 * -ENOENT when the commit has no kernel. */
static int kernel_size(struct ostree_backend *b, guint64 *bytes, struct error *e)
{
	g_autoptr(GFile) root = NULL;
	GError *gerr = NULL;

	if (!ostree_repo_read_commit(b->repo, b->checksum, &root, NULL, NULL, &gerr))
		return ob_gerror(e, gerr, UPD_EXIT_VERIFY, "read the commit");
	g_autoptr(GFile) mods = g_file_resolve_relative_path(root, "usr/lib/modules");
	g_autoptr(GFileEnumerator) en = g_file_enumerate_children(mods, "standard::name", 0, NULL, NULL);
	GFileInfo *info;
	*bytes = 0;
	while (en && (info = g_file_enumerator_next_file(en, NULL, NULL))) {
		g_autoptr(GFile) dir = g_file_get_child(mods, g_file_info_get_name(info));
		g_object_unref(info);
		g_autoptr(GFile) k = g_file_get_child(dir, "vmlinuz");
		g_autoptr(GFile) i = g_file_get_child(dir, "initramfs.img");
		g_autoptr(GFileInfo) ki = g_file_query_info(k, "standard::size", 0, NULL, NULL);
		if (!ki)
			continue;
		g_autoptr(GFileInfo) ii = g_file_query_info(i, "standard::size", 0, NULL, NULL);
		*bytes = (guint64)g_file_info_get_size(ki) + (ii ? (guint64)g_file_info_get_size(ii) : 0);
		return 0;
	}
	return err_set(e, UPD_EXIT_VERIFY, ENOENT,
		       "commit %.12s (version %s) has no kernel at usr/lib/modules/<version>/vmlinuz: "
		       "it cannot be deployed",
		       b->checksum, b->version);
}

static int check_space(struct ostree_backend *b, struct error *e)
{
	struct statvfs sv;
	guint64 kernel = 0, reserve = 0;
	int rc = kernel_size(b, &kernel, e);

	if (rc < 0)
		return rc;
	ostree_repo_get_min_free_space_bytes(b->repo, &reserve, NULL);
	if (statvfs(b->oc->sysroot, &sv) < 0)
		return err_set(e, UPD_EXIT_OTHER, errno, "statvfs %s: %s", b->oc->sysroot,
			       strerror(errno));
	/* The deploy copies the kernel and initramfs into /boot and /etc into the
	 * deployment; a MiB of slack covers /etc and the boot config. */
	guint64 need = kernel + (1u << 20) + reserve;
	guint64 avail = (guint64)sv.f_bavail * sv.f_frsize;
	if (avail < need)
		return err_set(e, UPD_EXIT_NOSPACE, ENOSPC,
			       "sysroot %s: %llu bytes free, the deployment needs about %llu",
			       b->oc->sysroot, (unsigned long long)avail,
			       (unsigned long long)need);
	return 0;
}

static int ob_verify(void *priv, const struct system_info *target, struct error *e)
{
	struct ostree_backend *b = priv;
	/* Again after the content pull, which stores the signatures the server
	 * sends it: what is deployed is what the configured keyring signed. */
	int rc = ob_check_signature(b, e);
	(void)target;

	/* `check` verifies metadata only; the content is there after a pull. */
	if (rc == 0 && ob_commit_complete(b))
		rc = check_space(b, e);
	return rc;
}

static int ob_target(void *priv, struct system_info *out, struct error *e)
{
	struct ostree_backend *b = priv;
	(void)e;
	memset(out, 0, sizeof(*out));
	snprintf(out->id, sizeof(out->id), "%s", NEW_TARGET);
	snprintf(out->path, sizeof(out->path), "%s", b->oc->sysroot);
	return 0;
}

static int deploy(struct ostree_backend *b, struct error *e)
{
	g_autoptr(GKeyFile) origin = ostree_sysroot_origin_new_from_refspec(b->sysroot, b->refspec);
	g_autoptr(OstreeDeployment) merge = ostree_sysroot_get_merge_deployment(b->sysroot, b->osname);
	GError *gerr = NULL;

	/* /etc is merged from the current deployment, the way libostree does.
	 * The new deployment is not in the boot list yet (one bootloader write
	 * less): activate() adds it as the default. If the install stops before
	 * that, libostree's clean-up removes the unlisted directory. */
	if (!ostree_sysroot_deploy_tree(b->sysroot, b->osname, b->checksum, origin, merge, NULL,
					&b->new_dep, NULL, &gerr))
		return ob_gerror(e, gerr, UPD_EXIT_OTHER, "deploy");
	return 0;
}

/* The read-back found a damaged object: the deployment just checked out
 * (in no boot entry yet) goes, and the read-back's error is the install's. */
static int refuse_deployed(struct ostree_backend *b, int rc, const struct error *why,
			   struct error *e)
{
	GError *gerr = NULL;

	g_clear_object(&b->new_dep);
	if (!ostree_sysroot_prepare_cleanup(b->sysroot, NULL, &gerr)) {
		log_warn("remove the refused deployment: %s", gerr->message);
		g_error_free(gerr);
	}
	*e = *why;
	return rc;
}

static int ob_install(void *priv, struct system_info *target, struct error *e)
{
	struct ostree_backend *b = priv;
	struct ob_readback *check = NULL;
	struct error check_err = {0};
	int rc, rc_check;

	GError *gerr = NULL;

	if ((rc = ob_lock(b, e)) < 0)
		return rc;
	/* apply-staged run again after a cut: the deployment the cut run wrote
	 * (in no boot entry) goes first, or every cut would leave one more. */
	if (b->applying_staged && !ostree_sysroot_prepare_cleanup(b->sysroot, NULL, &gerr))
		return ob_gerror(e, gerr, UPD_EXIT_OTHER, "remove an interrupted deployment");
	/* The ostree form of dual-bank's read-back (--no-readback skips both):
	 * libostree checked each object as it wrote it; this reads them again,
	 * on a thread while the deployment is checked out (readback.c). */
	if (b->u->verify_readback && !b->staged_checked && (rc = ob_readback_start(b, &check, e)) < 0)
		return rc;
	fault_point("deploy");
	rc = deploy(b, e);
	if (check && (rc_check = ob_readback_finish(check, &check_err)) < 0)
		return refuse_deployed(b, rc_check, &check_err, e);
	if (rc < 0)
		return rc;
	fault_point("deployed");
	ob_describe(b, b->new_dep, target);
	log_info("deployed %s (commit %.12s) at %s", target->id, b->checksum, target->path);
	return 0;
}

/* The trial starts first, the default switches second: a power cut between
 * boots the old default on a harmless trial that the next start ends. The
 * other order could boot the new deployment with no trial and no fallback. */
static int ob_activate(void *priv, const struct system_info *target, struct error *e)
{
	struct ostree_backend *b = priv;
	int rc;

	if (!b->new_dep && !(b->new_dep = ob_find_by_id(b, target->id)))
		return err_set(e, UPD_EXIT_OTHER, ENOENT, "activate: no deployment %s", target->id);
	if ((rc = ob_lock(b, e)) < 0 || (rc = bootctl_set_next(b->u->boot, target->id, true, e)) < 0)
		return rc;
	fault_point("set-default");
	return ob_write_order(b, b->new_dep, NULL, 0, e);
}

/* U-Boot booted the rollback entries. The running deployment alone becomes
 * the list (no second entry: while rollback=1 a script with no *2 entries
 * boots the default, so a cut before the env write still boots this one),
 * then the trial ends. */
static int ob_finish_fallback(void *priv, const struct system_info *booted, struct error *e)
{
	struct ostree_backend *b = priv;
	g_autoptr(OstreeDeployment) d = ob_find_by_id(b, booted->id);
	int rc;

	GError *gerr = NULL;

	if (!d)
		return err_set(e, UPD_EXIT_OTHER, ENOENT, "no deployment %s", booted->id);
	if ((rc = ob_lock(b, e)) < 0 || (rc = ob_write_order(b, d, NULL, 1, e)) < 0 ||
	    (rc = bootctl_finish_fallback(b->u->boot, booted->id, e)) < 0)
		return rc;
	/* The failed deployment's directory goes now; its objects at the next prune. */
	if (!ostree_sysroot_prepare_cleanup(b->sysroot, NULL, &gerr))
		return ob_gerror(e, gerr, UPD_EXIT_OTHER, "remove the failed deployment");
	return 0;
}

static int ob_rollback(void *priv, const struct system_info *to, struct error *e)
{
	struct ostree_backend *b = priv;
	g_autoptr(OstreeDeployment) d = ob_find_by_id(b, to->id);
	int rc;

	if (!d)
		return err_set(e, UPD_EXIT_BUSY, ENOENT, "rollback: no deployment %s", to->id);
	/* Default first, trial off second: a cut between boots `to` with the
	 * environment still naming the other one, which the next start points
	 * at `to` (ob_align_boot, deployments.c). */
	if ((rc = ob_lock(b, e)) < 0 || (rc = ob_write_order(b, d, NULL, 0, e)) < 0)
		return rc;
	return bootctl_set_next(b->u->boot, to->id, false, e);
}

/* After mark-good: keep `ostree.keep` deployments, prune unreferenced objects. */
static int ob_confirm(void *priv, struct error *e)
{
	struct ostree_backend *b = priv;
	OstreeDeployment *booted = NULL;
	GError *gerr = NULL;
	int rc;

	if ((rc = ob_lock(b, e)) < 0 || (rc = ob_booted(b, &booted, e)) < 0)
		return rc;
	rc = ob_write_order(b, booted, NULL, b->oc->keep, e);
	g_object_unref(booted);
	if (rc == 0 && !ostree_sysroot_cleanup(b->sysroot, NULL, &gerr))
		rc = ob_gerror(e, gerr, UPD_EXIT_OTHER, "prune old deployments");
	return rc;
}

/* What `rollback` would boot: the first deployment that is not the booted one. */
static int ob_previous(void *priv, struct system_info *out, struct error *e)
{
	struct ostree_backend *b = priv;
	g_autoptr(GPtrArray) deps = ostree_sysroot_get_deployments(b->sysroot);
	OstreeDeployment *booted = NULL;
	int rc = ob_booted(b, &booted, e);

	for (guint i = 0; rc == 0 && i < deps->len; i++) {
		if (ostree_deployment_equal(deps->pdata[i], booted))
			continue;
		ob_describe(b, deps->pdata[i], out);
		g_object_unref(booted);
		return 0;
	}
	g_clear_object(&booted);
	return rc < 0 ? rc : err_set(e, UPD_EXIT_BUSY, ENOENT, "rollback: no other deployment to boot");
}

static bool ob_has_system(void *priv, const char *id)
{
	OstreeDeployment *d = ob_find_by_id(priv, id);

	if (!d)
		return false;
	g_object_unref(d);
	return true;
}

const struct backend_ops ostree_backend = {
	.name = "ostree",
	.open = ob_open,
	.close = ob_close,
	.booted = ob_booted_info,
	.next_boot = ob_next_boot,
	.fetch = ob_fetch,
	.download = ob_download,
	.verify = ob_verify,
	.target = ob_target,
	.previous = ob_previous,
	.install = ob_install,
	.activate = ob_activate,
	.finish_fallback = ob_finish_fallback,
	.rollback = ob_rollback,
	.align_boot = ob_align_boot,
	.stage = ob_stage,
	.load_staged = ob_load_staged,
	.unstage = ob_unstage,
	.confirm = ob_confirm,
	.has_system = ob_has_system,
	.helper = ob_helper,
};

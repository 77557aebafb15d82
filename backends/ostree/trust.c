/* What makes a commit acceptable before a byte of its content is fetched:
 * its GPG signature against ostree.gpg_keyring and nothing else, the ref it
 * was fetched for (ostree.ref-binding), and the signed metadata the core's
 * policy reads (version, updater.compatible, updater.security-version).
 * docs/ostree.md ("Trust") says what is checked where. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../../lib/log.h"
#include "../../lib/version.h"
#include "../../lib/decimal.h"
#include "ostree_priv.h"

#define GPG_HOME_ENV "OSTREE_GPG_HOME"

/* The signatures of a commit: the "ostree.gpgsigs" packets of its detached
 * metadata, concatenated (libostree verifies them all at once that way). */
static GBytes *signatures_of(GVariant *detached)
{
	g_autoptr(GVariant) sigs = NULL;

	if (detached)
		sigs = g_variant_lookup_value(detached, "ostree.gpgsigs", G_VARIANT_TYPE("aay"));
	if (!sigs || g_variant_n_children(sigs) == 0)
		return NULL;
	GByteArray *buf = g_byte_array_new();
	for (gsize i = 0; i < g_variant_n_children(sigs); i++) {
		g_autoptr(GVariant) one = g_variant_get_child_value(sigs, i);
		g_byte_array_append(buf, g_variant_get_data(one), (guint)g_variant_get_size(one));
	}
	return g_byte_array_free_to_bytes(buf);
}

/* libostree's verifier reads more keys than it is given: every *.gpg file
 * of the repository's directory (a remote's keyring, `ostree remote
 * gpg-import`) when no remote is named, and its "global" keyrings (the
 * directory OSTREE_GPG_HOME names, else /usr/share/ostree/trusted.gpg.d).
 * So the check runs against an empty repository made for it, with the
 * variable naming something that is never a directory (the caller sets it,
 * gpg_home_isolate): only the keyring passed explicitly is read. */
static OstreeGpgVerifyResult *verify_keyring_only(struct ostree_backend *b, GBytes *data,
						  GBytes *sigs, GError **gerr)
{
	g_autoptr(GFile) keyring = g_file_new_for_path(b->oc->gpg_keyring);
	/* In the repository's tmp: writable wherever the updater runs. */
	g_autofree char *dir = g_build_filename(g_file_peek_path(ostree_repo_get_path(b->repo)), "tmp",
						"updater-gpg-XXXXXX", NULL);
	OstreeGpgVerifyResult *res = NULL;

	if (!g_mkdtemp_full(dir, 0700)) {
		g_set_error(gerr, G_IO_ERROR, g_io_error_from_errno(errno), "mkdtemp %s: %s", dir,
			    g_strerror(errno));
		return NULL;
	}
	g_autoptr(OstreeRepo) empty =
		ostree_repo_create_at(AT_FDCWD, dir, OSTREE_REPO_MODE_BARE_USER_ONLY, NULL, NULL, gerr);
	if (empty)
		res = ostree_repo_gpg_verify_data(empty, NULL, data, sigs, NULL, keyring, NULL, gerr);
	ob_rm_tree(dir);
	return res;
}

/* OSTREE_GPG_HOME names no directory while a check runs, and is restored
 * after it: hooks and the ostree command see the environment the updater was
 * started with. Set and restored by the thread that starts the others (the
 * environment is not thread-safe). */
static char *gpg_home_isolate(void)
{
	char *saved = g_strdup(g_getenv(GPG_HOME_ENV));

	g_setenv(GPG_HOME_ENV, "/dev/null", TRUE);
	return saved;
}

static void gpg_home_restore(char *saved)
{
	if (saved)
		g_setenv(GPG_HOME_ENV, saved, TRUE);
	else
		g_unsetenv(GPG_HOME_ENV);
	g_free(saved);
}

/* The check itself; OSTREE_GPG_HOME is isolated by the caller. */
static int verify_isolated(struct ostree_backend *b, const char *csum, GVariant *commit,
			   GVariant *detached, struct error *e)
{
	g_autoptr(GBytes) sigs = signatures_of(detached);
	g_autoptr(GBytes) data = g_variant_get_data_as_bytes(commit);
	GError *gerr = NULL;
	char what[128];

	if (!b->oc->gpg_verify)
		return 0;
	snprintf(what, sizeof(what), "verify commit %.12s", csum);
	if (!sigs)
		return err_set(e, UPD_EXIT_VERIFY, EBADMSG, "%s: no signatures found", what);
	g_autoptr(OstreeGpgVerifyResult) res = verify_keyring_only(b, data, sigs, &gerr);
	if (!res || !ostree_gpg_verify_result_require_valid_signature(res, &gerr))
		return ob_gerror(e, gerr, UPD_EXIT_VERIFY, what);
	return 0;
}

int ob_verify_commit_signature(struct ostree_backend *b, const char *csum, GVariant *commit,
			       GVariant *detached, struct error *e)
{
	char *saved = gpg_home_isolate();
	int rc = verify_isolated(b, csum, commit, detached, e);

	gpg_home_restore(saved);
	return rc;
}

/* The commit b->checksum and its detached metadata as the repository holds them. */
static int load_signed(struct ostree_backend *b, GVariant **commit, GVariant **detached,
		       struct error *e)
{
	GError *gerr = NULL;

	if (!ostree_repo_load_variant(b->repo, OSTREE_OBJECT_TYPE_COMMIT, b->checksum, commit,
				      &gerr) ||
	    !ostree_repo_read_commit_detached_metadata(b->repo, b->checksum, detached, NULL, &gerr))
		return ob_gerror(e, gerr, UPD_EXIT_VERIFY, "read the commit's signatures");
	return 0;
}

/* The SHA-256 of a commit's detached metadata in normal form (the form the
 * repository stores), as the pull process reports it. */
void ob_detached_digest(GVariant *detached, char out[65])
{
	g_autoptr(GVariant) normal = g_variant_get_normal_form(detached);
	g_autoptr(GBytes) bytes = g_variant_get_data_as_bytes(normal);
	g_autofree char *h = g_compute_checksum_for_bytes(G_CHECKSUM_SHA256, bytes);

	snprintf(out, 65, "%s", h);
}

/* What the pull process verified (its "v" line) is what the repository holds:
 * the commit object still hashes to its name, and its detached metadata (a
 * content pull stores the signatures the server sends again) to the digest
 * of the signatures that were checked. */
static bool verified_by_pull(struct ostree_backend *b, GVariant *commit, GVariant *detached)
{
	char digest[65];

	if (!detached || strcmp(b->pull_verified, b->checksum) != 0 ||
	    !ob_commit_hashes_to(commit, b->checksum))
		return false;
	ob_detached_digest(detached, digest);
	return strcmp(digest, b->pull_verified_sigs) == 0;
}

/* Refused signatures are not kept: the content pull stored what the server
 * sent, and the repository is to hold no server data that failed its check
 * (an install of the commit later fetches and checks them before storing). */
static void forget_signatures(struct ostree_backend *b)
{
	GError *gerr = NULL;

	if (!ostree_repo_write_commit_detached_metadata(b->repo, b->checksum, NULL, NULL, &gerr)) {
		log_warn("commit %.12s: remove the refused signatures from the repository: %s",
			 b->checksum, gerr->message);
		g_error_free(gerr);
	}
}

int ob_check_signature(struct ostree_backend *b, struct error *e)
{
	g_autoptr(GVariant) commit = NULL, detached = NULL;
	int rc;

	if (!b->oc->gpg_verify)
		return 0;
	if ((rc = load_signed(b, &commit, &detached, e)) < 0)
		return rc;
	if (verified_by_pull(b, commit, detached)) {
		log_debug("commit %.12s: signatures checked by the pull process, unchanged since",
			  b->checksum);
		return 0;
	}
	rc = ob_verify_commit_signature(b, b->checksum, commit, detached, e);
	if (rc < 0 && detached)
		forget_signatures(b);
	return rc;
}

/* A commit that names the refs it was made for (`ostree commit --bind-ref`)
 * is refused for any other: a release of one branch served as another's. */
int ob_check_ref_binding(const char *csum, GVariant *commit, const char *ref, struct error *e)
{
	g_autoptr(GVariant) meta = g_variant_get_child_value(commit, 0);
	g_autoptr(GVariant) refs = g_variant_lookup_value(meta, "ostree.ref-binding", NULL);

	if (!refs)
		return 0;
	if (!g_variant_is_of_type(refs, G_VARIANT_TYPE_STRING_ARRAY))
		return err_set(e, UPD_EXIT_VERIFY, EBADMSG,
			       "commit %.12s: ostree.ref-binding is not a list of refs", csum);
	for (gsize i = 0; i < g_variant_n_children(refs); i++) {
		const char *r = NULL;
		g_variant_get_child(refs, i, "&s", &r);
		if (strcmp(r, ref) == 0)
			return 0;
	}
	return err_set(e, UPD_EXIT_VERIFY, EBADMSG,
		       "commit %.12s is bound to other refs than %s (ostree.ref-binding): refused",
		       csum, ref);
}

/* A string of the signed metadata: 0 and *out NULL when absent; a value of
 * another type is an error. */
static int meta_string(GVariant *meta, const char *csum, const char *key, char **out,
		       struct error *e)
{
	g_autoptr(GVariant) v = g_variant_lookup_value(meta, key, NULL);

	*out = NULL;
	if (!v)
		return 0;
	if (!g_variant_is_of_type(v, G_VARIANT_TYPE_STRING))
		return err_set(e, UPD_EXIT_VERIFY, EBADMSG, "commit %.12s: %s is not a string",
			       csum, key);
	*out = g_variant_dup_string(v, NULL);
	return 0;
}

/* Plain decimal, as a bundle's manifest (lib/decimal.h). */
static int parse_security_version(const char *csum, const char *s, uint64_t *out, struct error *e)
{
	if (decimal_u64(s, strlen(s), out) < 0)
		return err_set(e, UPD_EXIT_VERIFY, EBADMSG,
			       "commit %.12s: updater.security-version is not a decimal number",
			       csum);
	return 0;
}

int ob_release_meta(const struct ostree_backend *b, GVariant *commit, struct release *out,
		    struct error *e)
{
	const char *csum = b->checksum;
	g_autofree char *version = NULL, *compat = NULL, *secver = NULL;
	g_autoptr(GVariant) meta = g_variant_get_child_value(commit, 0);
	char ctx[96];
	int rc;

	snprintf(ctx, sizeof(ctx), "commit %.12s of %s", csum, b->refspec);
	if ((rc = meta_string(meta, csum, "version", &version, e)) < 0 ||
	    (rc = meta_string(meta, csum, "updater.compatible", &compat, e)) < 0 ||
	    (rc = meta_string(meta, csum, "updater.security-version", &secver, e)) < 0)
		return rc;
	if (!version)
		return err_set(e, UPD_EXIT_VERIFY, EBADMSG,
			       "%s has no 'version' metadata (ostree commit "
			       "--add-metadata-string=version=...)",
			       ctx);
	if ((rc = check_text(ctx, "version", version, strlen(version), sizeof(out->version),
			     UPD_EXIT_VERIFY, e)) < 0 ||
	    (compat && (rc = check_text(ctx, "updater.compatible", compat, strlen(compat),
					sizeof(out->compatible), UPD_EXIT_VERIFY, e)) < 0) ||
	    (secver && (rc = parse_security_version(csum, secver, &out->security_version, e)) < 0))
		return rc;
	snprintf(out->version, sizeof(out->version), "%s", version);
	snprintf(out->compatible, sizeof(out->compatible), "%s", compat ? compat : "");
	/* Without the key, the core refuses a commit that names no board. */
	out->compatible_optional = !b->oc->require_compatible;
	return 0;
}

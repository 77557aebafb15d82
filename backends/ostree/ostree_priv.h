/* Internal interface of the ostree backend (backends/ostree/). */
#pragma once
#include <ostree.h>

#include "../../core/backend.h"
#include "../../lib/source.h"
#include "config_keys.h"

struct ostree_backend {
	struct updater_ctx *u;
	const struct config *cfg;
	const struct ostree_config *oc; /* cfg's ostree section */
	OstreeSysroot *sysroot;
	OstreeRepo *repo;
	bool locked;
	const char *remote, *osname, *url;
	/* A repository named on the command line (check/install/stage SOURCE:
	 * a medium, a mirror): url points here for the run, the remote keeps
	 * ostree.url (commit_fetch.c). */
	char *source_url;
	/* The release fetched last. */
	char refspec[512];     /* remote:ref */
	char checksum[65];
	char version[64];
	OstreeDeployment *new_dep;
	/* The booted deployment's id, once found (deployments.c). */
	char booted_id[32];
	bool warned_unverified;
	/* apply-staged: the release came from the repository (stage.c), its
	 * new objects already read again (staged_checked). */
	bool applying_staged, staged_checked;
	/* The commit whose signatures the metadata step's pull process found
	 * valid, and the digest of the detached metadata it checked (its "v"
	 * line, pull_proc.c; empty: none). */
	char pull_verified[65], pull_verified_sigs[65];
	/* In the updater: the removal of an applied delta's staging area, on a
	 * thread (pull_proc.c). */
	GThread *cleanup;
	/* The content step's process, started while the metadata step runs
	 * and waiting for its arguments (pull_proc.c). */
	struct early_child *early;
	int self_fd; /* this program, opened at start (-1: none): the pull process runs it */
	/* In the pull process: where progress goes, and the bytes of the
	 * downloads before the current one. */
	int report_fd;
	uint64_t report_base;
};

/* ostree.c: the backend opened without the per-run messages, for the pull
 * process. On failure *out is NULL and there is nothing to close. */
int ob_open_quiet(const struct config *c, struct ostree_backend **out, struct error *e);
void ob_free(struct ostree_backend *b);

/* Maps a GError to our error: exit class by domain/code, message prefixed. */
int ob_gerror(struct error *e, GError *gerr, int exit_code, const char *what);

/* trust.c: a commit's signatures (its detached metadata) against
 * ostree.gpg_keyring alone, never libostree's global keyrings nor a key in the
 * repository's config (exit 3 when none is valid; 0 when gpg_verify is off);
 * ob_check_signature reads both from the repository (b->checksum). */
int ob_verify_commit_signature(struct ostree_backend *b, const char *csum, GVariant *commit,
			       GVariant *detached, struct error *e);
int ob_check_signature(struct ostree_backend *b, struct error *e);
/* The SHA-256 (hex) of DETACHED in normal form. */
void ob_detached_digest(GVariant *detached, char out[65]);
/* Exit 3 when the commit names refs it is bound to and REF is not one. */
int ob_check_ref_binding(const char *csum, GVariant *commit, const char *ref, struct error *e);
/* The release's version, compatible and security version from the commit's
 * signed metadata (of b->checksum), refused (exit 3) when malformed. */
int ob_release_meta(const struct ostree_backend *b, GVariant *commit, struct release *out,
		    struct error *e);

/* ostree.c: the release fetched last is whole in the repository. */
bool ob_commit_complete(struct ostree_backend *b);
/* readback.c: the objects of the release fetched last that the booted commit
 * does not share, read and hashed again (exit 3): at once (fsck_new_objects),
 * or on a thread from start until finish joins it. On failure of start *out
 * is NULL and there is nothing to finish; finish frees the check. */
struct ob_readback;
int ob_fsck_new_objects(struct ostree_backend *b, struct error *e);
int ob_readback_start(struct ostree_backend *b, struct ob_readback **out, struct error *e);
int ob_readback_finish(struct ob_readback *r, struct error *e);

/* commit_fetch.c: the commit object csum in the repository, if it hashes to
 * its name; whether a commit object already loaded does. */
bool ob_stored_commit_ok(struct ostree_backend *b, const char *csum, GVariant **out);
bool ob_commit_hashes_to(GVariant *commit, const char *csum);

/* stage.c: the backend's stage, load_staged and unstage (core/backend.h). */
int ob_stage(void *priv, char *token, size_t size, struct error *e);
int ob_load_staged(void *priv, const char *token, struct release *out, struct error *e);
int ob_unstage(void *priv, struct error *e);

/* deployments.c */
void ob_deployment_id(OstreeDeployment *d, char *out, size_t size);
OstreeDeployment *ob_find_by_id(struct ostree_backend *b, const char *id);
int ob_booted(struct ostree_backend *b, OstreeDeployment **out, struct error *e);
int ob_describe(struct ostree_backend *b, OstreeDeployment *d, struct system_info *out);
/* Writes the deployment list: first (the default), second (may be NULL: the
 * rollback entry), then the others in their order; at most max (0 = all). */
int ob_write_order(struct ostree_backend *b, OstreeDeployment *first, OstreeDeployment *second,
		   int max, struct error *e);
int ob_lock(struct ostree_backend *b, struct error *e);
/* The backend's align_boot (core/backend.h): a boot_slot left naming another
 * system than the running, confirmed deployment that boots next. */
int ob_align_boot(void *priv, const struct system_info *booted, const struct update_state *records,
		  struct bootstate *bs, const char *next, struct error *e);
char *ob_commit_version(OstreeRepo *repo, const char *checksum);

/* commit_fetch.c, run in the pull process: the commit object (COMMIT may be
 * NULL: the ref's head on the server) and its signatures, verified and bound
 * to REF before they are stored (the commit marked partial); URLs and
 * download options for the remote. */
int ob_pull_commit_meta(struct ostree_backend *b, const char *ref, const char *commit,
			struct error *e);
/* REMOTE:REF names csum, as libostree's pull leaves it; not rewritten when it
 * already does. */
int ob_set_remote_ref(struct ostree_backend *b, const char *ref, const char *csum,
		      struct error *e);
char *ob_repo_url(const struct ostree_backend *b, const char *path);
/* A SOURCE of check/install/stage that names a repository (a URL or an
 * absolute path), not a ref or a commit. */
bool ob_is_repo_source(const char *source);
/* b->url becomes that repository for this run (a path as a file:// URL; exit
 * 2 when the path holds no repository). */
int ob_set_source_url(struct ostree_backend *b, const char *source, struct error *e);
struct source_opts ob_source_opts(const struct ostree_backend *b, const char *url);

/* pull.c, run in the pull process: the content from a static delta from FROM
 * (may be NULL) when the server has one, then libostree's pull of what is
 * missing. */
int ob_pull_content(struct ostree_backend *b, const char *from_checksum, struct error *e);
/* Where the pull process leaves the staging area of an applied delta for the
 * updater to remove (REPO/tmp/updater-staging.applied). */
char *ob_staging_applied(struct ostree_backend *b);
/* rm -rf PATH (no error when it does not exist); -errno. */
int ob_rm_tree(const char *path);
/* A static delta's superblock file, typed but not yet checked (NULL: e set). */
GVariant *ob_load_superblock(const char *path, struct error *e);
/* delta_parts.c: applies the static delta in delta_dir (its superblock and
 * parts "0".."N-1", checked already against the verified commit) into r,
 * inside r's open transaction, its parts on threads. */
int ob_delta_execute(OstreeRepo *r, const char *delta_dir, struct error *e);
/* "fetch commit metadata of REMOTE:REF": the metadata step's name in messages,
 * from the updater and from the pull process alike. */
void ob_meta_what(const struct ostree_backend *b, const char *ref, char *out, size_t size);

/* pull_proc.c: the network part of fetch and download runs in a child
 * process (`updater __helper ostree ...`) that the updater kills after
 * server.timeout without progress: libostree ignores cancellation. */
int ob_fetch_meta(struct ostree_backend *b, const char *ref, const char *commit, struct error *e);
int ob_fetch_content(struct ostree_backend *b, const char *from_checksum, struct error *e);
/* In the pull process: the commit CSUM's signatures, DETACHED, were found
 * valid and stored. */
void ob_report_verified(struct ostree_backend *b, const char *csum, GVariant *detached);
/* Ends the content step's waiting process when no content step used it. */
void ob_early_finish(struct ostree_backend *b);
/* Waits for the removal of the staging area ob_fetch_content started. */
void ob_cleanup_finish(struct ostree_backend *b);
/* In the pull process: progress for the updater. fetches > 0 while a
 * download is under way: only then does time without progress count as a
 * stall (the updater kills the process after server.timeout). */
void ob_report_progress(struct ostree_backend *b, uint64_t bytes, unsigned fetched, unsigned fetches,
			unsigned writes, unsigned requested);
/* Our own downloads (a commit's files, a static delta's) say when one starts
 * and when it ended, so that the local work after it (a signature check,
 * applying a delta) is not taken for a stalled server. */
void ob_report_fetching(struct ostree_backend *b, bool fetching);
/* The pull process' entry point. */
int ob_helper(int argc, char **argv);

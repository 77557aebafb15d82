/* The bundle kept for apply-staged: `stage` copies the whole bundle into
 * state_dir (the data partition, which no update writes) and checks it there;
 * apply-staged takes it back only after checking it again, so what the ramdisk
 * writes is exactly what was verified (docs/singlecopy.md). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../../lib/digest.h"
#include "../../lib/fsutil.h"
#include "../../lib/io.h"
#include "../../lib/log.h"
#include "../image/bundle_image.h"
#include "singlecopy_priv.h"

int sc_remove(struct singlecopy *d, const char *name, struct error *e)
{
	char path[4200];

	sc_path(d, name, path, sizeof(path));
	if (unlink(path) < 0 && errno != ENOENT)
		return err_set(e, UPD_EXIT_OTHER, errno, "remove %s: %s", path, strerror(errno));
	return fsync_dir_of(path, e);
}

static int write_sink(void *user, const uint8_t *data, size_t len, struct error *e)
{
	int rc = io_write_full(*(int *)user, data, len);
	return rc < 0 ? err_set(e, rc == -ENOSPC ? UPD_EXIT_NOSPACE : UPD_EXIT_OTHER, -rc,
				"keep the bundle in state_dir: %s", strerror(-rc))
		      : 0;
}

/* Bytes [0, end of payload) of d->source into path: the whole bundle (its
 * index is in the head), fsync'd. */
static int copy_bundle(struct singlecopy *d, const char *path, struct error *e)
{
	uint64_t end = d->head.payload_offset + d->head.manifest.payload_size;
	struct source_opts o;
	int fd, rc;

	unlink(path); /* a stale one from a cut, or a link planted there */
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return err_set(e, UPD_EXIT_OTHER, errno, "create %s: %s", path, strerror(errno));
	image_source_opts(d->cfg, d->source, &o);
	rc = source_stream(&o, 0, end, write_sink, &fd, e);
	if (rc == 0 && fsync(fd) < 0)
		rc = err_set(e, UPD_EXIT_OTHER, errno, "fsync %s: %s", path, strerror(errno));
	close(fd);
	return rc;
}

static int hash_sink(void *user, const uint8_t *data, size_t len, struct error *e)
{
	(void)e;
	sha256_update(user, data, len);
	return 0;
}

/* The kept copy's payload hashes to its signed manifest's payload-sha256. */
static int check_payload(struct singlecopy *d, struct error *e)
{
	struct sha256_ctx *c = sha256_new();
	struct source_opts o;
	uint8_t sum[32];
	int rc;

	if (!c)
		return err_oom(e, NULL);
	image_source_opts(d->cfg, d->source, &o);
	rc = source_stream(&o, d->head.payload_offset, d->head.manifest.payload_size, hash_sink, c,
			   e);
	sha256_final(c, sum);
	if (rc == 0 && memcmp(sum, d->head.manifest.payload_sha256, 32) != 0)
		rc = err_set(e, UPD_EXIT_VERIFY, EBADMSG,
			     "bundle %s: its payload does not hash to its manifest's payload-sha256",
			     d->source);
	return rc;
}

/* stage's download: the bundle fetched last, copied into state_dir; from
 * here on d->head is the kept copy's, which must carry the very manifest the
 * policy was run on. Its signature is checked first (no byte of a payload
 * is downloaded for a release that is not verified), and verify checks the
 * copy's again. */
int sc_download(void *priv, struct error *e)
{
	struct singlecopy *d = priv;
	char path[4200];
	struct release was = {0}, now = {0};
	int rc;

	if ((rc = sc_check_release(d, d->sc->root, e)) < 0)
		return rc;
	sc_path(d, SC_BUNDLE_TMP, path, sizeof(path));
	image_release_fill(&d->head, &was);
	log_info("keeping %s in %s", d->source, path);
	if ((rc = copy_bundle(d, path, e)) == 0 && (rc = sc_head_read(d, path, e)) == 0) {
		image_release_fill(&d->head, &now);
		d->kept = true;
		rc = strcmp(was.identity, now.identity) != 0
			     ? err_set(e, UPD_EXIT_VERIFY, EBADMSG,
				       "bundle changed while it was downloaded (another manifest)")
			     : check_payload(d, e);
	}
	if (rc < 0) {
		struct error re = {0};
		if (sc_remove(d, SC_BUNDLE_TMP, &re) < 0)
			log_warn("%s", re.msg);
	}
	return rc;
}

/* The copy becomes the staged bundle (rename, directory fsync'd); the token
 * names it with the identity of its manifest. */
int sc_stage(void *priv, char *token, size_t size, struct error *e)
{
	struct singlecopy *d = priv;
	char tmp[4200], path[4200];
	struct release r = {0};

	if (!d->kept)
		return err_set(e, UPD_EXIT_OTHER, EINVAL, "stage: no bundle was kept");
	sc_path(d, SC_BUNDLE_TMP, tmp, sizeof(tmp));
	sc_path(d, SC_BUNDLE, path, sizeof(path));
	if (rename(tmp, path) < 0)
		return err_set(e, UPD_EXIT_OTHER, errno, "rename %s: %s", tmp, strerror(errno));
	snprintf(d->source, sizeof(d->source), "%s", path);
	image_release_fill(&d->head, &r);
	snprintf(token, size, "%s %s", SC_BUNDLE, r.identity);
	return fsync_dir_of(path, e);
}

static int staged_changed(const char *what, struct error *e)
{
	return err_set(e, UPD_EXIT_VERIFY, EBADMSG, "staged bundle: %s (changed after staging)",
		       what);
}

/* The kept bundle again, as stage checked it: its manifest is the one staged
 * (the identity in the token) and its payload hashes to it; the engine then
 * runs the policy and verify (the signature) on it. */
int sc_load_staged(void *priv, const char *token, struct release *out, struct error *e)
{
	struct singlecopy *d = priv;
	char name[64] = "", identity[72] = "", path[4200];
	int rc;

	if (sscanf(token, "%63s %71s", name, identity) != 2 || strcmp(name, SC_BUNDLE) != 0)
		return err_set(e, UPD_EXIT_VERIFY, EBADMSG,
			       "staged release: '%.80s' is not '" SC_BUNDLE " IDENTITY'", token);
	sc_path(d, SC_BUNDLE, path, sizeof(path));
	if ((rc = sc_head_read(d, path, e)) < 0) {
		e->exit = UPD_EXIT_VERIFY; /* kept, then gone or cut short: not a download */
		return rc;
	}
	memset(out, 0, sizeof(*out));
	image_release_fill(&d->head, out);
	if (strcmp(out->identity, identity) != 0)
		return staged_changed("its manifest is not the one staged", e);
	if ((rc = check_payload(d, e)) == -EBADMSG) {
		err_clear(e); /* said again, as a change since staging */
		return staged_changed("its payload does not hash to its manifest", e);
	}
	if (rc < 0)
		return rc;
	snprintf(out->origin, sizeof(out->origin), "%s (staged)", path);
	d->kept = d->staged_loaded = true;
	log_info("staged bundle (version %s) checked again", out->version);
	return 0;
}

/* Refused or cancelled: the bundle goes. Applied: it stays until the new
 * system is confirmed (sc_confirm) or fails its trial (sc_finish_fallback):
 * until then the device keeps the release its root was written from. */
int sc_unstage(void *priv, struct error *e)
{
	struct singlecopy *d = priv;

	if (d->activated) {
		log_debug("the applied bundle is kept until the new system is confirmed");
		return 0;
	}
	return sc_drop_kept(d, e);
}

int sc_drop_kept(struct singlecopy *d, struct error *e)
{
	int rc = sc_remove(d, SC_BUNDLE, e);
	return rc < 0 ? rc : sc_remove(d, SC_BUNDLE_TMP, e);
}

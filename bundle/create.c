/* Bundle creation on the build host: compress the image (libzstd), hash it,
 * sign the manifest (OpenSSL) and write the bundle atomically (create.h). */
#include "create.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <zstd.h>

#include "../lib/digest.h"
#include "../lib/io.h"
#include "../lib/log.h"
#include "../lib/version.h"
#include "bundle.h"
#include "create_priv.h"
#include "keys.h"


static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}


int create_io_exit(int errnum)
{
	return (errnum == ENOSPC || errnum == EDQUOT) ? UPD_EXIT_NOSPACE : UPD_EXIT_OTHER;
}

/* Formats 1 and 2 refuse what they cannot say rather than drop it. */
static int create_opts_format(struct creator *c, const struct bundle_create_opts *o,
			      struct error *e)
{
	c->format = o->format ? o->format : o->delta_from ? BUNDLE_FORMAT_DELTA : BUNDLE_FORMAT_CREATE;
	if (c->format < 1 || c->format > BUNDLE_FORMAT_MAX)
		return err_set(e, UPD_EXIT_USAGE, EINVAL, "bundle create: format %d outside 1..%d",
			       c->format, BUNDLE_FORMAT_MAX);
	if (bundle_format_is_delta(c->format) != (o->delta_from != NULL))
		return err_set(e, UPD_EXIT_USAGE, EINVAL,
			       "bundle create: %s", o->delta_from ? "--delta-from makes format 4 or 5 "
			       "(a static delta), not another" : "formats 4 and 5 need --delta-from");
	if (c->format == 1 && o->security_version)
		return err_set(e, UPD_EXIT_USAGE, EINVAL,
			       "bundle create: format 1 cannot carry a security version (use 2 or 3)");
	if (c->format < 3 && o->frame_size)
		return err_set(e, UPD_EXIT_USAGE, EINVAL,
			       "bundle create: a frame size needs format 3 (this one is %d)",
			       c->format);
	bool delta = bundle_format_is_delta(c->format);
	uint32_t most = delta ? BUNDLE_DELTA_FRAME_SIZE_MAX : BUNDLE_FRAME_SIZE_MAX;
	c->frame_size = o->frame_size ? o->frame_size
		      : delta ? BUNDLE_DELTA_FRAME_SIZE_DEFAULT : BUNDLE_FRAME_SIZE_DEFAULT;
	if (c->frame_size < BUNDLE_FRAME_SIZE_MIN || c->frame_size > most ||
	    c->frame_size % BUNDLE_BLOCK_SIZE != 0)
		return err_set(e, UPD_EXIT_USAGE, EINVAL,
			       "bundle create: frame size %" PRIu32 " is not a multiple of %d within "
			       "%u..%u", c->frame_size, BUNDLE_BLOCK_SIZE, BUNDLE_FRAME_SIZE_MIN, most);
	return 0;
}

static int create_opts(struct creator *c, const struct bundle_create_opts *o, struct error *e)
{
	if (!o->image || !o->version || !o->compatible || !o->key || !o->output)
		return err_set(e, UPD_EXIT_USAGE, EINVAL,
			       "bundle create: image, version, compatible, key and output are required");
	int r = check_text("bundle create", "version", o->version, strlen(o->version),
			   sizeof(c->m.version), UPD_EXIT_USAGE, e);
	if (r < 0)
		return r;
	r = check_text("bundle create", "compatible", o->compatible, strlen(o->compatible),
		       sizeof(c->m.compatible), UPD_EXIT_USAGE, e);
	if (r < 0)
		return r;
	c->level = o->level ? o->level : o->delta_from ? BUNDLE_DELTA_LEVEL_DEFAULT : 3;
	if (c->level < ZSTD_minCLevel() || c->level > ZSTD_maxCLevel())
		return err_set(e, UPD_EXIT_USAGE, EINVAL, "bundle create: zstd level %d outside %d..%d",
			       c->level, ZSTD_minCLevel(), ZSTD_maxCLevel());
	c->wlog = o->window_log ? o->window_log : BUNDLE_ZSTD_WINDOW_LOG_MAX;
	if (c->wlog < BUNDLE_ZSTD_WINDOW_LOG_MIN || c->wlog > BUNDLE_ZSTD_WINDOW_LOG_MAX)
		return err_set(e, UPD_EXIT_USAGE, EINVAL,
			       "bundle create: zstd window log %d outside %d..%d", c->wlog,
			       BUNDLE_ZSTD_WINDOW_LOG_MIN, BUNDLE_ZSTD_WINDOW_LOG_MAX);
	return create_opts_format(c, o, e);
}

/* Refuses to prompt on the terminal for a pass phrase: bundle creation runs
 * in CI, and an encrypted key is reported instead of hanging. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf, (void)size, (void)rwflag, (void)u;
	return -1;
}

/* Loaded before the image is compressed, so a bad key fails in a second and
 * not after minutes of compression. */
static int load_private_key(struct creator *c, struct error *e)
{
	const char *path = c->o->key;
	FILE *f = fopen(path, "re");
	int ok;

	if (!f) {
		int err = errno;
		return err_set(e, UPD_EXIT_USAGE, err, "bundle create: read key %s: %s", path,
			       strerror(err));
	}
	c->key = PEM_read_PrivateKey(f, NULL, no_passphrase, NULL);
	fclose(f);
	if (!c->key)
		return err_set(e, UPD_EXIT_USAGE, EINVAL,
			       "bundle create: key %s: not an unencrypted PEM private key (%s)",
			       path, bundle_ossl_reason());
	bundle_key_md(c->key, &ok);
	if (!ok)
		return err_set(e, UPD_EXIT_USAGE, EINVAL,
			       "bundle create: key %s: unsupported key type (use Ed25519, ECDSA or RSA)",
			       path);
	return 0;
}

static int open_inputs(struct creator *c, struct error *e)
{
	struct stat st;

	c->img_fd = open(c->o->image, O_RDONLY | O_CLOEXEC);
	if (c->img_fd < 0 || fstat(c->img_fd, &st) < 0) {
		int err = errno;
		return err_set(e, UPD_EXIT_USAGE, err, "bundle create: read image %s: %s",
			       c->o->image, strerror(err));
	}
	if (S_ISDIR(st.st_mode))
		return err_set(e, UPD_EXIT_USAGE, EISDIR, "bundle create: read image %s: %s",
			       c->o->image, strerror(EISDIR));
	/* Format 3 compresses a frame per call: room for a frame in and out. */
	c->in_cap = c->format >= 3 && c->frame_size > CHUNK ? c->frame_size : CHUNK;
	c->out_cap = c->format >= 3 ? ZSTD_compressBound(c->frame_size) : CHUNK;
	c->in = malloc(c->in_cap);
	c->out = malloc(c->out_cap);
	if (!c->in || !c->out)
		return err_oom(e, NULL);
	return 0;
}

/* The compressed payload goes to a temp file next to the output (same file
 * system, so no surprise ENOSPC in /tmp). It is unlinked at once: the open
 * fd keeps it alive and no error path or crash can leave it behind. */
static int open_payload_tmp(struct creator *c, struct error *e)
{
	char *tmpl = NULL;

	if (asprintf(&tmpl, "%s.payload-XXXXXX", c->o->output) < 0)
		return err_oom(e, NULL);
	c->pay_fd = mkostemp(tmpl, O_CLOEXEC);
	if (c->pay_fd < 0) {
		int err = errno;
		err_set(e, create_io_exit(err), err, "bundle create: write %s: %s", c->o->output,
			strerror(err));
		free(tmpl);
		return -err;
	}
	unlink(tmpl);
	free(tmpl);
	return 0;
}

static int zstd_setup(ZSTD_CCtx *z, const struct creator *c, struct error *e)
{
	size_t r = ZSTD_CCtx_setParameter(z, ZSTD_c_compressionLevel, c->level);

	/* An explicit window log overrides the level's own, so the payload
	 * never needs more than 2^wlog bytes of history to decode. */
	if (!ZSTD_isError(r))
		r = ZSTD_CCtx_setParameter(z, ZSTD_c_windowLog, c->wlog);
	if (!ZSTD_isError(r))
		r = ZSTD_CCtx_setParameter(z, ZSTD_c_checksumFlag, 1);
	if (ZSTD_isError(r))
		return err_set(e, UPD_EXIT_OTHER, EINVAL, "bundle create: zstd setup: %s",
			       ZSTD_getErrorName(r));
	/* A libzstd built without threads refuses this; one thread still works. */
	(void)ZSTD_CCtx_setParameter(z, ZSTD_c_nbWorkers, 2);
	return 0;
}

/* Feeds n bytes of c->in to the compressor and writes whatever comes out to
 * the payload temp file, hashing it on the way. */
static int compress_chunk(struct creator *c, ZSTD_CCtx *z, struct sha256_ctx *ph, size_t n,
			  ZSTD_EndDirective mode, struct error *e)
{
	ZSTD_inBuffer in = {c->in, n, 0};
	size_t left;

	do {
		ZSTD_outBuffer out = {c->out, CHUNK, 0};
		left = ZSTD_compressStream2(z, &out, &in, mode);
		if (ZSTD_isError(left))
			return err_set(e, UPD_EXIT_OTHER, EIO, "bundle create: compress %s: %s",
				       c->o->image, ZSTD_getErrorName(left));
		int r = io_write_full(c->pay_fd, c->out, out.pos);
		if (r < 0)
			return err_set(e, create_io_exit(-r), -r,
				       "bundle create: write temp payload next to %s: %s",
				       c->o->output, strerror(-r));
		sha256_update(ph, c->out, out.pos);
		c->m.payload_size += out.pos;
	} while (mode == ZSTD_e_end ? left != 0 : in.pos < in.size);
	return 0;
}

static int compress_loop(struct creator *c, ZSTD_CCtx *z, struct sha256_ctx *ih,
			 struct sha256_ctx *ph, struct error *e)
{
	for (;;) {
		ssize_t n = io_read_full(c->img_fd, c->in, CHUNK);
		if (n < 0)
			return err_set(e, UPD_EXIT_OTHER, (int)-n, "bundle create: read image %s: %s",
				       c->o->image, strerror((int)-n));
		sha256_update(ih, c->in, (size_t)n);
		c->m.image_size += (uint64_t)n;
		int last = (size_t)n < CHUNK;
		int r = compress_chunk(c, z, ph, (size_t)n, last ? ZSTD_e_end : ZSTD_e_continue, e);
		if (r < 0 || last)
			return r;
	}
}

static int compress_image(struct creator *c, struct error *e)
{
	ZSTD_CCtx *z = ZSTD_createCCtx();
	struct sha256_ctx *ih = sha256_new(), *ph = sha256_new();
	int r = (z && ih && ph) ? zstd_setup(z, c, e) : err_oom(e, NULL);

	if (r == 0)
		r = compress_loop(c, z, ih, ph, e);
	if (r == 0) {
		sha256_final(ih, c->m.image_sha256);
		sha256_final(ph, c->m.payload_sha256);
		ih = ph = NULL;
	}
	sha256_free(ih);
	sha256_free(ph);
	ZSTD_freeCCtx(z);
	return r;
}

static int sign_buf(EVP_PKEY *k, const void *msg, size_t len, uint8_t **sig, size_t *sig_len,
		    struct error *e)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok, r = 0;
	size_t n = 0;
	const EVP_MD *md = bundle_key_md(k, &ok);

	*sig = NULL;
	if (!ctx || EVP_DigestSignInit(ctx, NULL, md, NULL, k) != 1 ||
	    EVP_DigestSign(ctx, NULL, &n, msg, len) != 1 || !(*sig = malloc(n)) ||
	    EVP_DigestSign(ctx, *sig, &n, msg, len) != 1)
		r = err_set(e, UPD_EXIT_OTHER, EINVAL, "bundle create: sign manifest: %s",
			    bundle_ossl_reason());
	else if (n > BUNDLE_SIG_MAX)
		r = err_set(e, UPD_EXIT_USAGE, EINVAL,
			    "bundle create: signature of %zu bytes exceeds %d (key too large)", n,
			    BUNDLE_SIG_MAX);
	EVP_MD_CTX_free(ctx);
	if (r < 0) {
		free(*sig);
		*sig = NULL;
	}
	*sig_len = n;
	return r;
}

static int sign_manifest(struct creator *c, struct error *e)
{
	struct manifest *m = &c->m;

	m->format = c->format;
	m->security_version = c->o->security_version;
	snprintf(m->version, sizeof(m->version), "%s", c->o->version);
	snprintf(m->compatible, sizeof(m->compatible), "%s", c->o->compatible);
	snprintf(m->compression, sizeof(m->compression), "zstd");
	m->zstd_window_log = c->wlog;
	c->mtext = manifest_format(m);
	if (!c->mtext)
		return err_oom(e, NULL);
	return sign_buf(c->key, c->mtext, strlen(c->mtext), &c->sig, &c->sig_len, e);
}

static int write_head(struct creator *c, struct error *e)
{
	size_t mlen = strlen(c->mtext);
	uint8_t hdr[BUNDLE_FIXED_HEADER];

	memcpy(hdr, BUNDLE_MAGIC, BUNDLE_MAGIC_LEN);
	put_be32(hdr + 8, (uint32_t)mlen);
	put_be32(hdr + 12, (uint32_t)c->sig_len);
	int r = io_write_full(c->out_fd, hdr, sizeof(hdr));
	if (r == 0)
		r = io_write_full(c->out_fd, c->mtext, mlen);
	if (r == 0)
		r = io_write_full(c->out_fd, c->sig, c->sig_len);
	if (r < 0)
		return err_set(e, create_io_exit(-r), -r, "bundle create: write %s: %s", c->tmp_path,
			       strerror(-r));
	return 0;
}

/* Fallback when copy_file_range cannot work across these files. */
static int copy_rw(struct creator *c, struct error *e)
{
	off_t off = 0;

	for (;;) {
		ssize_t n = io_pread_full(c->pay_fd, c->in, CHUNK, (uint64_t)off);
		if (n < 0)
			return err_set(e, UPD_EXIT_OTHER, (int)-n,
				       "bundle create: read temp payload next to %s: %s",
				       c->o->output, strerror((int)-n));
		if (n == 0)
			break;
		int r = io_write_full(c->out_fd, c->in, (size_t)n);
		if (r < 0)
			return err_set(e, create_io_exit(-r), -r, "bundle create: write %s: %s",
				       c->tmp_path, strerror(-r));
		off += n;
	}
	if ((uint64_t)off != c->m.payload_size)
		return err_set(e, UPD_EXIT_OTHER, EIO, "bundle create: temp payload changed size");
	return 0;
}

static int copy_fallback_errno(int err)
{
	return err == ENOSYS || err == EXDEV || err == EINVAL || err == EOPNOTSUPP ||
	       err == EPERM;
}

/* copy_file_range lets the kernel copy (or reflink) without a round trip
 * through user space. */
static int copy_payload(struct creator *c, struct error *e)
{
	off_t off = 0;
	uint64_t left = c->m.payload_size;

	while (left > 0) {
		size_t want = left > (1u << 30) ? (1u << 30) : (size_t)left;
		ssize_t n = copy_file_range(c->pay_fd, &off, c->out_fd, NULL, want, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && off == 0 && copy_fallback_errno(errno))
			return copy_rw(c, e);
		if (n <= 0) {
			int err = n < 0 ? errno : EIO;
			return err_set(e, create_io_exit(err), err, "bundle create: copy payload to %s: %s",
				       c->tmp_path, strerror(err));
		}
		left -= (uint64_t)n;
	}
	return 0;
}

/* The rename is only durable once the directory entry is on disk. */
static int fsync_parent(const char *path, struct error *e)
{
	const char *slash = strrchr(path, '/');
	char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");

	if (!dir)
		return err_oom(e, NULL);
	int err = -io_fsync_at(AT_FDCWD, dir, O_DIRECTORY);
	if (err == EINVAL) /* a file system that cannot sync a directory */
		err = 0;
	int r = err ? err_set(e, UPD_EXIT_OTHER, err, "bundle create: sync directory %s: %s",
			      dir, strerror(err))
		    : 0;
	free(dir);
	return r;
}

static int write_output(struct creator *c, struct error *e)
{
	if (asprintf(&c->tmp_path, "%s.tmp", c->o->output) < 0) {
		c->tmp_path = NULL;
		return err_oom(e, NULL);
	}
	c->out_fd = open(c->tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (c->out_fd < 0) {
		int err = errno;
		err_set(e, create_io_exit(err), err, "bundle create: create %s: %s", c->tmp_path,
			strerror(err));
		free(c->tmp_path);
		c->tmp_path = NULL; /* not ours to unlink */
		return -err;
	}
	int r = write_head(c, e);
	if (r == 0 && c->index && (r = io_write_full(c->out_fd, c->index, c->m.index_size)) < 0)
		err_set(e, create_io_exit(-r), -r, "bundle create: write %s: %s", c->tmp_path,
			strerror(-r));
	if (r == 0)
		r = copy_payload(c, e);
	if (r < 0)
		return r;
	int rc = fsync(c->out_fd);
	int rc2 = close(c->out_fd);
	c->out_fd = -1;
	if (rc < 0 || rc2 < 0 || rename(c->tmp_path, c->o->output) < 0) {
		int err = errno;
		return err_set(e, create_io_exit(err), err, "bundle create: write %s: %s", c->o->output,
			       strerror(err));
	}
	free(c->tmp_path);
	c->tmp_path = NULL;
	return fsync_parent(c->o->output, e);
}

static void creator_cleanup(struct creator *c)
{
	if (c->img_fd >= 0)
		close(c->img_fd);
	if (c->pay_fd >= 0)
		close(c->pay_fd);
	if (c->out_fd >= 0)
		close(c->out_fd);
	if (c->tmp_path)
		unlink(c->tmp_path);
	free(c->tmp_path);
	EVP_PKEY_free(c->key);
	free(c->in);
	free(c->out);
	free(c->mtext);
	free(c->sig);
	free(c->index);
}

int bundle_create(const struct bundle_create_opts *o, struct error *e)
{
	struct creator c = {.o = o, .img_fd = -1, .pay_fd = -1, .out_fd = -1};
	int r = create_opts(&c, o, e);

	if (r == 0)
		r = load_private_key(&c, e);
	if (r == 0)
		r = open_inputs(&c, e);
	if (r == 0)
		r = open_payload_tmp(&c, e);
	if (r == 0)
		r = bundle_format_is_delta(c.format) ? create_delta(&c, e)
		    : c.format == 3 ? create_frames(&c, e) : compress_image(&c, e);
	if (r == 0)
		r = sign_manifest(&c, e);
	if (r == 0)
		r = write_output(&c, e);
	if (r == 0)
		log_debug("bundle create: %s: image %" PRIu64 " bytes, payload %" PRIu64
			  " bytes, window log %d",
			  o->output, c.m.image_size, c.m.payload_size, c.wlog);
	creator_cleanup(&c);
	return r;
}

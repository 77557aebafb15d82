/* Writing the one root partition (apply-staged, or install in recovery mode):
 * never while it is mounted, and never without a record, made before its first
 * byte is written, that it is being rewritten (docs/singlecopy.md). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "../../lib/digest.h"
#include "../../lib/fsutil.h"
#include "../../lib/log.h"
#include "../image/bundle_image.h"
#include "singlecopy_priv.h"

#define MOUNTINFO "/proc/self/mountinfo"

bool sc_mountinfo_has(const char *text, unsigned major, unsigned minor)
{
	for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		unsigned ma, mi;
		/* "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw": the third field */
		if (sscanf(l, "%*s %*s %u:%u", &ma, &mi) == 2 && ma == major && mi == minor)
			return true;
	}
	return false;
}

/* A block device mounted anywhere (by its device number) is the running
 * system's, or someone's: it is never written. */
static int refuse_mounted(const char *path, const struct stat *st, struct error *e)
{
	char *text = NULL;
	bool mounted;
	int rc;

	if (!S_ISBLK(st->st_mode))
		return 0;
	if ((rc = read_text_file(MOUNTINFO, 1 << 20, &text, e)) < 0)
		return rc;
	mounted = sc_mountinfo_has(text, major(st->st_rdev), minor(st->st_rdev));
	free(text);
	if (mounted)
		return err_set(e, UPD_EXIT_BUSY, EBUSY,
			       "root %s (%u:%u) is mounted: the running system is never written "
			       "(the ramdisk applies the update before it mounts the root)",
			       path, major(st->st_rdev), minor(st->st_rdev));
	return 0;
}

/* The root opened for writing: O_EXCL on a block device fails while the
 * kernel has it mounted (or another holder), whatever mountinfo said. */
static int open_root(struct singlecopy *d, const char *path, int *fd, struct error *e)
{
	struct stat st;
	uint64_t size = 0;
	int rc;

	if (stat(path, &st) < 0)
		return err_set(e, UPD_EXIT_OTHER, errno, "root %s: %s", path, strerror(errno));
	if ((rc = refuse_mounted(path, &st, e)) < 0)
		return rc;
	*fd = open(path, O_RDWR | O_CLOEXEC | (S_ISBLK(st.st_mode) ? O_EXCL : 0));
	if (*fd < 0)
		return err_set(e, errno == EBUSY ? UPD_EXIT_BUSY : UPD_EXIT_OTHER, errno,
			       "open root %s for writing: %s", path, strerror(errno));
	if ((rc = file_or_blockdev_size(*fd, &size)) == 0 && d->head.manifest.image_size > size)
		rc = -EFBIG;
	if (rc < 0) {
		close(*fd);
		*fd = -1;
		return err_set(e, rc == -EFBIG ? UPD_EXIT_NOSPACE : UPD_EXIT_OTHER, -rc,
			       "root %s: %s", path,
			       rc == -EFBIG ? "the image does not fit" : strerror(-rc));
	}
	return 0;
}

/* Before the first byte: the marker in state_dir (atomic), then the boot
 * state names recovery mode (no trial; apply_staged kept), so a cut during the
 * write never boots a partial root: the next boot is the ramdisk's, which
 * writes it again. */
static int begin_rewrite(struct singlecopy *d, struct error *e)
{
	char path[4200], text[512];
	int n;

	sc_path(d, SC_REWRITE, path, sizeof(path));
	n = snprintf(text, sizeof(text), "version=%s\nimage-sha256=", d->head.manifest.version);
	hex_encode(d->head.manifest.image_sha256, 32, text + n);
	strcat(text, "\n");
	if (atomic_write_file(path, text, strlen(text), e) < 0)
		return -EIO;
	return bootctl_point_at(d->u->boot, SC_RECOVERY, e);
}

static void summarize(struct singlecopy *d, uint64_t reused, uint64_t written)
{
	snprintf(d->u->install_summary, sizeof(d->u->install_summary),
		 "%.1f MiB already in the root, %.1f MiB written", (double)reused / 1048576.0,
		 (double)written / 1048576.0);
}

int sc_install(void *priv, struct system_info *t, struct error *e)
{
	struct singlecopy *d = priv;
	uint64_t reused = 0, written = 0;
	struct source_opts o;
	int fd = -1, rc;

	if (!d->kept)
		return err_set(e, UPD_EXIT_OTHER, EINVAL, "install: no bundle is kept in state_dir");
	if ((rc = open_root(d, t->path, &fd, e)) < 0)
		return rc;
	if ((rc = begin_rewrite(d, e)) == 0) {
		log_info("rewriting the root %s (%s marks it until it is read back)", t->path,
			 SC_REWRITE);
		image_source_opts(d->cfg, d->source, &o);
		rc = image_write_full(fd, t->id, t->path, &d->head, &o, d->u->verify_readback,
				      &reused, &written, e);
	}
	close(fd);
	if (rc < 0)
		return rc;
	summarize(d, reused, written);
	/* Whole and read back: no longer being rewritten. The boot state still
	 * names recovery mode until the activation; a cut before it rewrites. */
	return sc_remove(d, SC_REWRITE, e);
}

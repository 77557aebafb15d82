/* Which deployment is which: the booted one from the kernel command line,
 * stable names for the state store, and the ordered list that decides what
 * boots (libostree writes uEnv.txt from it: first = default, second = the
 * rollback entries kernel_image2/bootargs2). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <linux/magic.h>
#include <time.h>
#include <unistd.h>

#include "../../lib/log.h"
#include "../../lib/sysinfo.h"
#include "ostree_priv.h"

void ob_deployment_id(OstreeDeployment *d, char *out, size_t size)
{
	snprintf(out, size, "%.12s.%d", ostree_deployment_get_csum(d),
		 ostree_deployment_get_deployserial(d));
}

OstreeDeployment *ob_find_by_id(struct ostree_backend *b, const char *id)
{
	g_autoptr(GPtrArray) deps = ostree_sysroot_get_deployments(b->sysroot);
	char buf[32];

	for (guint i = 0; i < deps->len; i++) {
		OstreeDeployment *d = deps->pdata[i];
		ob_deployment_id(d, buf, sizeof(buf));
		if (strcmp(buf, id) == 0)
			return g_object_ref(d);
	}
	return NULL;
}

/* ostree=/ostree/boot.N/<osname>/<bootcsum>/<bootserial> names a chain of
 * links (boot.N -> boot.N.S, then .../SERIAL -> the deployment) that
 * libostree rewrites at a later deploy: the serials are renumbered and boot.N
 * is swapped, so the numbers in the argument identify nothing by
 * themselves. Only its form is checked here. */
static bool ostree_arg_ok(const char *arg)
{
	char tmp[512];
	char *parts[8];
	int n = 0;

	snprintf(tmp, sizeof(tmp), "%s", arg);
	for (char *save = NULL, *p = strtok_r(tmp, "/", &save); p && n < 8;
	     p = strtok_r(NULL, "/", &save))
		parts[n++] = p;
	if (strncmp(arg, "/ostree/boot.", 13) != 0 || n != 5 ||
	    (strcmp(parts[1], "boot.0") != 0 && strcmp(parts[1], "boot.1") != 0))
		return false;
	/* Followed below the sysroot: never out of it. */
	for (int i = 2; i < n; i++)
		if (strcmp(parts[i], ".") == 0 || strcmp(parts[i], "..") == 0)
			return false;
	return true;
}

/* The deployment whose directory is the inode *st, or NULL. */
static OstreeDeployment *by_inode(struct ostree_backend *b, const struct stat *want)
{
	g_autoptr(GPtrArray) deps = ostree_sysroot_get_deployments(b->sysroot);
	struct stat st;

	for (guint i = 0; i < deps->len; i++) {
		g_autofree char *rel = ostree_sysroot_get_deployment_dirpath(b->sysroot, deps->pdata[i]);
		g_autofree char *dir = g_build_filename(b->oc->sysroot, rel, NULL);
		if (stat(dir, &st) == 0 && st.st_dev == want->st_dev && st.st_ino == want->st_ino)
			return g_object_ref(deps->pdata[i]);
	}
	return NULL;
}

/* The deployment whose directory is the running root (ostree.root, "/" on a
 * device: ostree-prepare-root bind-mounts the deployment onto itself, so
 * they are the same inode). */
static OstreeDeployment *by_root(struct ostree_backend *b)
{
	struct stat root;

	if (stat(b->oc->root, &root) < 0)
		return NULL;
	return by_inode(b, &root);
}

/* When this boot began: /proc/cmdline's times are not the boot's, so the
 * kernel's boot clock; a command line file (a simulated device) is written
 * when it boots. */
static int boot_time(const char *cmdline, struct timespec *out)
{
	struct statfs fs;
	struct stat st;
	struct timespec now, up;

	if (statfs(cmdline, &fs) == 0 && fs.f_type == PROC_SUPER_MAGIC) {
		clock_gettime(CLOCK_REALTIME, &now);
		clock_gettime(CLOCK_BOOTTIME, &up);
		out->tv_sec = now.tv_sec - up.tv_sec - 1;
		out->tv_nsec = 0;
		return 0;
	}
	if (stat(cmdline, &st) < 0)
		return -errno;
	*out = st.st_mtim;
	return 0;
}

static bool before(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

/* Without the running root (ostree.root does not name a deployment): the
 * ostree= chain, followed only while its boot.N link is the one this boot
 * went through, i.e. older than the boot. A deploy that swaps boot.N makes
 * it newer, and the old link after a deploy that switched to the other
 * boot.N stays until a clean-up removes it: then there is no telling which
 * deployment runs, and the answer is a refusal, never a guess. */
static int by_cmdline(struct ostree_backend *b, OstreeDeployment **out, struct error *e)
{
	char arg[512], link[700];
	struct stat lst, st;
	struct timespec booted = {0};
	int rc = cmdline_get(b->cfg->cmdline, "ostree", arg, sizeof(arg), e);

	if (rc < 0) {
		err_prefix(e, "booted deployment");
		return rc;
	}
	if (!ostree_arg_ok(arg))
		return err_set(e, UPD_EXIT_OTHER, EINVAL,
			       "booted deployment: %s: ostree=%s is not /ostree/boot.N/OS/BOOTCSUM/SERIAL",
			       b->cfg->cmdline, arg);
	snprintf(link, sizeof(link), "%s/ostree/%.6s", b->oc->sysroot, arg + 8);
	if (boot_time(b->cfg->cmdline, &booted) < 0 || lstat(link, &lst) < 0 ||
	    !before(&lst.st_mtim, &booted))
		return err_set(e, UPD_EXIT_OTHER, ESTALE,
			       "booted deployment: cannot tell: ostree.root (%s) is not a deployment's "
			       "directory, and the boot links ostree=%s names were replaced after this "
			       "boot; set ostree.root to the running root",
			       b->oc->root, arg);
	snprintf(link, sizeof(link), "%s%s", b->oc->sysroot, arg);
	if (stat(link, &st) == 0 && (*out = by_inode(b, &st)))
		return 0;
	return err_set(e, UPD_EXIT_OTHER, ENOENT,
		       "booted deployment: ostree=%s matches no deployment in %s (ostree.root %s "
		       "is none either)", arg, b->oc->sysroot, b->oc->root);
}

/* Found once per run: the commands that write the deployment list ask again
 * after their own write, which replaces the links by_cmdline follows. */
int ob_booted(struct ostree_backend *b, OstreeDeployment **out, struct error *e)
{
	if (b->booted_id[0] && (*out = ob_find_by_id(b, b->booted_id)))
		return 0;
	if (!(*out = by_root(b))) {
		int rc = by_cmdline(b, out, e);
		if (rc < 0)
			return rc;
	}
	ob_deployment_id(*out, b->booted_id, sizeof(b->booted_id));
	return 0;
}

char *ob_commit_version(OstreeRepo *repo, const char *checksum)
{
	g_autoptr(GVariant) commit = NULL;
	g_autoptr(GVariant) meta = NULL;
	char *version = NULL;

	if (!ostree_repo_load_variant(repo, OSTREE_OBJECT_TYPE_COMMIT, checksum, &commit, NULL))
		return NULL;
	meta = g_variant_get_child_value(commit, 0);
	if (!g_variant_lookup(meta, "version", "s", &version))
		return NULL;
	return version;
}

int ob_describe(struct ostree_backend *b, OstreeDeployment *d, struct system_info *out)
{
	g_autofree char *dir = ostree_sysroot_get_deployment_dirpath(b->sysroot, d);
	g_autofree char *version = ob_commit_version(b->repo, ostree_deployment_get_csum(d));

	memset(out, 0, sizeof(*out));
	ob_deployment_id(d, out->id, sizeof(out->id));
	snprintf(out->version, sizeof(out->version), "%s", version ? version : "");
	snprintf(out->path, sizeof(out->path), "%s/%s", b->oc->sysroot, dir);
	return 0;
}

int ob_lock(struct ostree_backend *b, struct error *e)
{
	GError *gerr = NULL;

	if (b->locked)
		return 0;
	if (!ostree_sysroot_lock(b->sysroot, &gerr))
		return ob_gerror(e, gerr, UPD_EXIT_BUSY, "lock the ostree sysroot");
	b->locked = true;
	/* Another process may have changed the sysroot before we held the lock. */
	if (!ostree_sysroot_load(b->sysroot, NULL, &gerr))
		return ob_gerror(e, gerr, UPD_EXIT_OTHER, "load the ostree sysroot");
	return 0;
}

/* U-Boot's ext4 reader does not replay the journal, and libostree's
 * boot/loader rename may still sit only in it (found by the QEMU power-cut
 * harness): freeze and thaw /boot's file system, which checkpoints the
 * journal, so what U-Boot reads after a power cut is the new entry. Without
 * CAP_SYS_ADMIN (tests on a build host) a syncfs is the best there is. */
static void checkpoint_boot(struct ostree_backend *b)
{
	g_autofree char *boot = g_build_filename(b->oc->sysroot, "boot", NULL);
	int fd = open(boot, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return;
	/* The kernel ignores the argument, but FIFREEZE/FITHAW are declared
	 * _IOWR(..., int): a pointer keeps memcheck from flagging a NULL one. */
	int unused = 0;
	if (ioctl(fd, FIFREEZE, &unused) == 0)
		ioctl(fd, FITHAW, &unused);
	else
		syncfs(fd);
	close(fd);
}

int ob_write_order(struct ostree_backend *b, OstreeDeployment *first, OstreeDeployment *second,
		   int max, struct error *e)
{
	g_autoptr(GPtrArray) deps = ostree_sysroot_get_deployments(b->sysroot);
	g_autoptr(GPtrArray) order = g_ptr_array_new_with_free_func(g_object_unref);
	GError *gerr = NULL;

	g_ptr_array_add(order, g_object_ref(first));
	if (second)
		g_ptr_array_add(order, g_object_ref(second));
	for (guint i = 0; i < deps->len; i++) {
		OstreeDeployment *d = deps->pdata[i];
		if (ostree_deployment_equal(d, first) || (second && ostree_deployment_equal(d, second)))
			continue;
		if (max > 0 && (int)order->len >= max)
			break;
		g_ptr_array_add(order, g_object_ref(d));
	}
	if (max > 0 && (int)order->len > max)
		g_ptr_array_set_size(order, (guint)max);
	/* Writes boot/loader.N/uEnv.txt for this order and swaps boot/loader.
	 * No clean-up here (a prune traverses the whole repository): mark-good
	 * does it once. */
	OstreeSysrootWriteDeploymentsOpts opts = { .do_postclean = FALSE };
	if (!ostree_sysroot_write_deployments_with_options(b->sysroot, order, &opts, NULL, &gerr))
		return ob_gerror(e, gerr, UPD_EXIT_OTHER, "write the deployment list");
	checkpoint_boot(b);
	if (!ostree_sysroot_load(b->sysroot, NULL, &gerr))
		return ob_gerror(e, gerr, UPD_EXIT_OTHER, "reload the ostree sysroot");
	return 0;
}

/* The boot state names a system the updater wrote, but the next boot (the
 * deployment order, not boot_slot) is the running deployment, confirmed good:
 * a command that switches the order first and the boot state second
 * (rollback, a cancel) was cut between the two, or the clean-up of an
 * interrupted install was. A trial of a confirmed system tests nothing: the
 * boot state follows the next boot, trial off
 * (tests/powercut/sweep.sh ostree scenarios). */
int ob_align_boot(void *priv, const struct system_info *booted, const struct update_state *records,
		  struct bootstate *bs, const char *next, struct error *e)
{
	struct ostree_backend *b = priv;
	const struct target_record *t = state_target_find(records, next);

	if (strcmp(bs->boot_slot, next) == 0 || strcmp(next, booted->id) != 0 ||
	    !state_target_find(records, bs->boot_slot) || !t || t->status != TS_GOOD)
		return 0;
	log_info("the boot state names %s, the next boot starts the running %s: pointing it "
		 "there, no trial",
		 bs->boot_slot, next);
	bs->upgrade_available = 0;
	bs->bootcount = 0;
	snprintf(bs->boot_slot, sizeof(bs->boot_slot), "%s", next);
	return bootctl_point_at(b->u->boot, next, e);
}

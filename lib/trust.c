/* Is a path trusted: see trust.h for the rule. Built on realpath and lstat
 * rather than a hand-written resolver; after realpath no component is a
 * symlink, so lstat of each prefix sees the directories the kernel walks.
 * A directory that changes after it was found trusted was changed by root or
 * by us, which the rule trusts anyway. */
#include "trust.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Fills why (starting with "is ") and returns true when st is not trusted.
 * above: st is a directory on the way to the path, where a root-owned sticky
 * directory is fine (nobody else can remove or rename what is not theirs). */
static bool untrusted(const struct stat *st, bool above, char *why, size_t size)
{
	uid_t me = geteuid();

	if (st->st_uid != 0 && st->st_uid != me) {
		snprintf(why, size, "is owned by uid %u (only root or uid %u may own it)",
			 (unsigned)st->st_uid, (unsigned)me);
		return true;
	}
	if (!(st->st_mode & (S_IWGRP | S_IWOTH)))
		return false;
	if (above && S_ISDIR(st->st_mode) && (st->st_mode & S_ISVTX) && st->st_uid == 0)
		return false;
	snprintf(why, size, "is writable by group or others (mode %04o)",
		 (unsigned)(st->st_mode & 07777));
	return true;
}

/* "<path>: <refusing>: writable ..." when the path itself is the culprit,
 * "<path>: <refusing>: <bad> is writable ..." when a target or directory is. */
static int refuse(const char *path, const char *bad, const char *why, const char *refusing,
		  int exit_class, struct error *e)
{
	if (strcmp(path, bad) == 0)
		return err_set(e, exit_class, EPERM, "%s: %s: %s", path, refusing, why + 3);
	return err_set(e, exit_class, EPERM, "%s: %s: %s %s", path, refusing, bad, why);
}

/* Every directory above resolved (an absolute path without symlinks), up to /. */
static int check_above(const char *path, const char *resolved, const char *refusing,
		       int exit_class, struct error *e)
{
	char dir[PATH_MAX], why[128];
	struct stat st;

	if ((size_t)snprintf(dir, sizeof(dir), "%s", resolved) >= sizeof(dir))
		return err_set(e, exit_class, ENAMETOOLONG, "%s: path too long", path);
	for (;;) {
		char *slash = strrchr(dir, '/');

		if (!slash || (slash == dir && dir[1] == '\0'))
			return 0;
		slash[slash == dir ? 1 : 0] = '\0';
		if (lstat(dir, &st) < 0)
			return err_set(e, exit_class, errno, "%s: %s: %s", path, dir, strerror(errno));
		if (!S_ISDIR(st.st_mode)) /* replaced by a symlink since realpath */
			return err_set(e, exit_class, EPERM, "%s: %s: %s changed while being checked",
				       path, refusing, dir);
		if (untrusted(&st, true, why, sizeof(why)))
			return refuse(path, dir, why, refusing, exit_class, e);
	}
}

int trust_opened(const char *path, const char *resolved, const struct stat *st,
		 const char *refusing, int exit_class, struct error *e)
{
	char why[128];

	if (untrusted(st, false, why, sizeof(why)))
		return refuse(path, resolved, why, refusing, exit_class, e);
	return check_above(path, resolved, refusing, exit_class, e);
}

int trust_path(const char *path, const char *refusing, int exit_class, struct error *e)
{
	char *resolved = realpath(path, NULL);
	struct stat st;
	int rc;

	if (!resolved)
		return err_set(e, exit_class, errno, "%s: %s", path, strerror(errno));
	if (lstat(resolved, &st) < 0)
		rc = err_set(e, exit_class, errno, "%s: %s", path, strerror(errno));
	else
		rc = trust_opened(path, resolved, &st, refusing, exit_class, e);
	free(resolved);
	return rc;
}

int trust_own_dir(const char *path, const char *what, int exit_class, struct error *e)
{
	char refusing[96];
	struct stat st;

	if (stat(path, &st) < 0) {
		int err = errno;
		if (err == ENOENT)
			return err_set(e, exit_class, ENOENT,
				       "%s %s does not exist (the updater never creates it: create "
				       "it, or mount the file system it lives on)", what, path);
		return err_set(e, exit_class, err, "%s %s: %s", what, path, strerror(err));
	}
	if (!S_ISDIR(st.st_mode))
		return err_set(e, exit_class, ENOTDIR, "%s %s: %s", what, path, strerror(ENOTDIR));
	if (st.st_uid != geteuid())
		return err_set(e, exit_class, EPERM, "%s %s: owned by uid %u, not by the updater's "
			       "uid %u", what, path, (unsigned)st.st_uid, (unsigned)geteuid());
	snprintf(refusing, sizeof(refusing), "refusing %s", what);
	return trust_path(path, refusing, exit_class, e);
}

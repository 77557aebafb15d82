/* Who may change a file decides whether the updater may trust it: a hook it
 * runs as root, a key it verifies with, its config, its state. A path is
 * trusted when its final target and every directory above it, up to /, are
 * owned by root or by the updater's own uid (geteuid) and are not writable by
 * group or others. One exception, for the directories above only: a
 * root-owned sticky directory (/tmp) lets others create entries but not
 * replace ours, so it is fine.
 *
 * The path is resolved first (realpath), so a symlink is judged by what it
 * points to and by the directories that lead there. Messages are one line:
 * "<path>: <refusing>: <offending path> is owned by uid N ..." or
 * "... is writable by group or others (mode 0777)". */
#pragma once
#include <sys/stat.h>

#include "error.h"

/* 0 when path is trusted. -ENOENT when it (or a directory on its way) does not
 * exist, -EPERM when it is not trusted, other negative errnos for I/O errors;
 * e is set in every case, with exit class exit_class. refusing names what is
 * refused, e.g. "refusing hooks" or "refusing dualbank.public_key". */
int trust_path(const char *path, const char *refusing, int exit_class, struct error *e);

/* For a file already opened: st is its fstat, resolved its realpath. Checks st
 * and every directory above resolved. Lets a caller check exactly what it
 * will use (open once, check the descriptor, use the descriptor). */
int trust_opened(const char *path, const char *resolved, const struct stat *st,
		 const char *refusing, int exit_class, struct error *e);

/* A directory the updater writes (state_dir): must exist (never created
 * here: -ENOENT, "does not exist"), be a directory owned by the updater's
 * own uid, not writable by group or others, and trusted as above. */
int trust_own_dir(const char *path, const char *what, int exit_class, struct error *e);

/* Small file-system helpers with the durability rules of the project:
 * a file replaced is written to a temp file, fsync'd, renamed over the old
 * one, and the directory is fsync'd, so a power cut leaves old or new. */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "error.h"

/* The temp file is <path>.tmp, created afresh (a stale one from a power cut is
 * unlinked first) with O_EXCL|O_NOFOLLOW: a symlink planted there is removed,
 * never written through. */
int atomic_write_file(const char *path, const void *data, size_t len, struct error *e);
/* The same for a file written from n parts in turn (no copy into one buffer). */
int atomic_write_parts(const char *path, const struct iovec *parts, size_t n, struct error *e);
int fsync_dir_of(const char *path, struct error *e);
int mkdir_p(const char *path, int mode, struct error *e);

/* Reads a small text file (at most max bytes) into a malloc'd NUL-terminated buffer. */
int read_text_file(const char *path, size_t max, char **out, struct error *e);
/* The same with extra open(2) flags (O_NOFOLLOW for the updater's own files). */
int read_text_file_flags(const char *path, size_t max, int flags, char **out, struct error *e);

/* Size of a block device (BLKGETSIZE64) or a regular file. */
int file_or_blockdev_size(int fd, uint64_t *size);

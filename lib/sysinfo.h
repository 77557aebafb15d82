/* Facts about the running system: kernel command line and os-release. */
#pragma once
#include <stddef.h>

#include "error.h"

/* Value of `key=` on the command line in file `path` (/proc/cmdline on a
 * device). -ENOENT with a message naming the key when absent. */
int cmdline_get(const char *path, const char *key, char *out, size_t size, struct error *e);

/* The booted system, updater.slot= on the command line in file path, which
 * must be one of ids (NULL-terminated): messages start with what ("booted
 * slot") and name the ids allowed (expected: "A or B"). */
int cmdline_system(const char *path, const char *what, const char *const *ids,
		   const char *expected, char *out, size_t size, struct error *e);

/* VERSION_ID from an os-release file, quotes removed. -ENOENT when absent. */
int os_release_version(const char *path, char *out, size_t size, struct error *e);

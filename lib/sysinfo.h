/* Facts about the running system: kernel command line and os-release. */
#pragma once
#include <stddef.h>

#include "error.h"

/* Value of `key=` on the command line in file `path` (/proc/cmdline on a
 * device). -ENOENT with a message naming the key when absent. */
int cmdline_get(const char *path, const char *key, char *out, size_t size, struct error *e);

/* VERSION_ID from an os-release file, quotes removed. -ENOENT when absent. */
int os_release_version(const char *path, char *out, size_t size, struct error *e);

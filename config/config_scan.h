/* A pass over the raw text of a config file, before libconfig parses it, for
 * what libconfig 1.5 (Debian 12) gets wrong instead of reporting it. */
#pragma once
#include "../lib/error.h"

/* Checks path and, recursively, the regular files it @includes (named
 * relative to include_dir, as libconfig does). Refuses, with
 * "<file>:<line>: <key>: <why>" (UPD_EXIT_USAGE) and -EINVAL or -EISDIR:
 *  - an integer literal without an L suffix that does not fit in 32 bits,
 *    which libconfig silently truncates (4294967297 would read as 1);
 *  - an @include of a directory, on which libconfig's scanner exit()s the
 *    process;
 *  - a NUL byte, which would silently cut a string short;
 *  - a setting given twice in one file, which libconfig refuses without
 *    saying which (one repeated across an @include is still its to report).
 *  - a file (the config or an @include'd one) that is not trusted
 *    (lib/trust.h: owned by another unprivileged user, or writable by group
 *    or others, or a directory above it is): -EPERM.
 * Anything else, syntax errors included, is left to libconfig. */
int config_scan(const char *path, const char *include_dir, struct error *e);

/* Bundle creation, on the build host (`updater bundle create`, docs/cli.md):
 * nothing that runs on the device calls it. */
#pragma once
#include <stdint.h>

#include "../lib/error.h"

struct bundle_create_opts {
	const char *image, *version, *compatible, *key, *output;
	uint64_t security_version; /* 0: none (writes format 1), else format 2 */
	int level;      /* zstd level, 0 = default (3) */
	int window_log; /* 0 = BUNDLE_ZSTD_WINDOW_LOG_MAX */
};
/* Compresses, hashes and signs; writes output atomically (temp + rename).
 * Streams in 1 MiB chunks, so memory does not depend on the image size.
 * UPD_EXIT_USAGE for bad options or an unreadable image or key (an encrypted
 * key is refused, never prompted for), UPD_EXIT_NOSPACE for ENOSPC/EDQUOT,
 * else UPD_EXIT_OTHER; no temp file is left behind on any error. */
int bundle_create(const struct bundle_create_opts *o, struct error *e);

/* `updater bundle create ARGS` (argv[0] is "create"): its options, its
 * messages and its exit code. */
int bundle_create_cmd(int argc, char **argv, struct error *e);

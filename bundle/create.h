/* Bundle creation, on the build host (`updater bundle create`, docs/cli.md):
 * nothing that runs on the device calls it. */
#pragma once
#include <stdint.h>

#include "../lib/error.h"

struct bundle_create_opts {
	const char *image, *version, *compatible, *key, *output;
	uint64_t security_version; /* 0: none; format 1 cannot carry another */
	int format;          /* 1..5; 0 = 3 (BUNDLE_FORMAT_CREATE), or 5 with delta_from */
	uint32_t frame_size; /* formats 3-5: bytes per zstd frame; 0 = default */
	int level;      /* zstd level, 0 = default (3) */
	int window_log; /* 0 = BUNDLE_ZSTD_WINDOW_LOG_MAX; formats 4, 5 set their own */
	/* Formats 4 and 5: a static delta against the image of this bundle (a
	 * verified format 1-3 bundle); format, frame size and level then
	 * default to BUNDLE_FORMAT_DELTA, BUNDLE_DELTA_FRAME_SIZE_DEFAULT and
	 * BUNDLE_DELTA_LEVEL_DEFAULT. */
	const char *delta_from;
};
/* A static delta's frames: the unit a resumed install fetches again, and
 * the decoding buffer a device holds (one frame). */
#define BUNDLE_DELTA_FRAME_SIZE_DEFAULT (4u << 20)
#define BUNDLE_DELTA_LEVEL_DEFAULT 19
/* The format `bundle create` writes unless told (docs/bundle-format.md), and
 * with --delta-from: format 5, the smaller delta on the release series of
 * docs/benchmark.md (--format 4 for devices that read only up to 4, or an
 * image that is not a regular file). */
#define BUNDLE_FORMAT_CREATE 3
#define BUNDLE_FORMAT_DELTA 5
/* Format 3's frame size unless told: the measured trade-off between the
 * bundle's size and what a dynamic delta fetches (docs/bundle-format.md,
 * "Rationale"). */
#define BUNDLE_FRAME_SIZE_DEFAULT (16u << 10)
/* Compresses, hashes and signs; writes output atomically (temp + rename).
 * Streams in 1 MiB chunks, so memory does not depend on the image size.
 * UPD_EXIT_USAGE for bad options (format 1 with a security version, a frame
 * size outside format 3) or an unreadable image or key (an encrypted key is
 * refused, never prompted for), UPD_EXIT_NOSPACE for ENOSPC/EDQUOT,
 * else UPD_EXIT_OTHER; no temp file is left behind on any error. */
int bundle_create(const struct bundle_create_opts *o, struct error *e);

/* `updater bundle create ARGS` (argv[0] is "create"): its options, its
 * messages and its exit code. */
int bundle_create_cmd(int argc, char **argv, struct error *e);

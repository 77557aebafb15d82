/* Dual-bank bundle format (docs/bundle-format.md), read by the dual-bank backend
 * and `updater bundle info`; created by create.h on the build host. Nothing in
 * core/ includes it: the engine learns a bundle's facts from struct release.
 *
 *   offset 0   magic "UPDBNDL1"                 8 bytes
 *          8   manifest length, u32 big-endian  (1..BUNDLE_MANIFEST_MAX)
 *         12   signature length, u32 big-endian (0..BUNDLE_SIG_MAX; 0 = unsigned)
 *         16   manifest: UTF-8 text, "key=value\n" lines
 *              signature over the manifest bytes exactly (Ed25519, or ECDSA/RSA
 *              with SHA-256), DER/raw as OpenSSL's EVP_DigestSign produces it
 *              formats 3 and 4: the index section, index-size bytes (index.h)
 *              payload: a zstd stream of the image, payload-size bytes (format
 *              3: independent frames of frame-size image bytes each; format 4:
 *              frames of the delta's data, each against the source as prefix)
 *
 * Manifest keys (all required, unknown keys refused):
 *   format=1, 2 or 3, version=, compatible=, security-version= (formats 2 and
 *   3: required there, refused in format 1, which means security version 0),
 *   compression=zstd, image-size=, image-sha256= (64 hex), payload-size=,
 *   payload-sha256= (64 hex), zstd-window-log= (the window the payload needs);
 *   formats 3 and 4: block-size=4096, frame-size=, index-size=, index-sha256=
 *   format 4 only: delta-source-size=, delta-source-sha256=, delta-data-size=
 * The header is small and comes first, so `check` reads only it (one range
 * request), and nothing is written before its signature verifies. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../lib/error.h"

#define BUNDLE_MAGIC "UPDBNDL1"
#define BUNDLE_MAGIC_LEN (sizeof(BUNDLE_MAGIC) - 1)
#define BUNDLE_FIXED_HEADER 16
#define BUNDLE_MANIFEST_MAX 16384
#define BUNDLE_SIG_MAX 4096
#define BUNDLE_HEAD_MAX (BUNDLE_FIXED_HEADER + BUNDLE_MANIFEST_MAX + BUNDLE_SIG_MAX)
/* Payloads are compressed with at most this window so a device decodes any
 * bundle in bounded memory; the reader refuses larger ones. */
#define BUNDLE_ZSTD_WINDOW_LOG_MAX 23
#define BUNDLE_ZSTD_WINDOW_LOG_MIN 10 /* ZSTD_WINDOWLOG_MIN, stable across versions */
/* The newest manifest format this updater reads (docs/bundle-format.md). */
#define BUNDLE_FORMAT_MAX 5
/* Formats 4 and 5 are static deltas (5: frames may also refer to the new
 * image's blocks before them, index.h). */
static inline int bundle_format_is_delta(int format)
{
	return format == 4 || format == 5;
}
/* Format 4 (a static delta) decodes each frame with the whole source image as
 * its prefix (format 5: and some of the new image's blocks), so its window
 * covers source + frame: up to 2^31 (a 2 GiB source). The device maps the source read-only, so the window costs it no
 * anonymous memory. Formats 1-3 stay at BUNDLE_ZSTD_WINDOW_LOG_MAX. */
#define BUNDLE_DELTA_WINDOW_LOG_MAX 31
/* Format 3: the image's block (the unit a device finds in its own slots)
 * and the bounds of a frame (the unit fetched by a range request). A frame
 * is at most the window cap, so it never needs a larger window. */
#define BUNDLE_BLOCK_SIZE 4096
#define BUNDLE_FRAME_SIZE_MIN BUNDLE_BLOCK_SIZE
#define BUNDLE_FRAME_SIZE_MAX (1u << BUNDLE_ZSTD_WINDOW_LOG_MAX)
/* Format 4: a frame is at most this many decoded bytes (a multiple of
 * BUNDLE_BLOCK_SIZE): the buffer a device holds to decode one. */
#define BUNDLE_DELTA_FRAME_SIZE_MAX (16u << 20)

struct manifest {
	int format;
	char version[64];
	char compatible[128];
	char compression[16];
	uint64_t image_size;
	uint8_t image_sha256[32];
	uint64_t payload_size;
	uint8_t payload_sha256[32];
	int zstd_window_log;
	uint64_t security_version; /* 0 in format 1 */
	/* formats 3 and 4 (0 before): */
	uint32_t block_size;
	uint32_t frame_size;
	uint64_t index_size;
	uint8_t index_sha256[32];
	/* formats 4 and 5 only (0 before): the image the delta applies to, and how many
	 * bytes its payload decodes to (the data blocks, concatenated). */
	uint64_t delta_source_size;
	uint8_t delta_source_sha256[32];
	uint64_t delta_data_size;
};

struct bundle_head {
	struct manifest manifest;
	char *manifest_text; /* exactly the signed bytes, NUL-terminated copy */
	size_t manifest_len;
	uint8_t *sig;
	size_t sig_len;
	uint64_t index_offset;   /* where the index section starts: the head's length */
	uint64_t payload_offset; /* where the zstd stream starts: after the index */
	/* The first bytes of the index section when they came in the same read
	 * as the head (at most index-size; not verified: bundle_index_fetch
	 * checks them with the rest), so that they are not fetched twice. */
	uint8_t *index_start;
	size_t index_start_len;
};

/* Incremental parse of the first bytes of a bundle: returns 0 when buf holds the
 * whole head (fills *h), -EAGAIN with *need = total bytes required when more
 * is needed, or -EBADMSG (UPD_EXIT_VERIFY) for a bad magic, lengths or manifest.
 * *h is zeroed on entry (free a previously filled one first) and holds no
 * allocation unless 0 is returned; on 0, *need = index_offset (the head's
 * length; the index section of format 3 follows it, then the payload). need
 * may be NULL. The magic is checked on any prefix and the lengths as soon as
 * the 16 fixed bytes are there, so *need never exceeds BUNDLE_HEAD_MAX. A
 * head whose payload would end beyond 2^64 - 1 (payload_offset + payload-size)
 * is refused. */
int bundle_head_parse(const uint8_t *buf, size_t len, struct bundle_head *h, size_t *need,
		      struct error *e);
void bundle_head_free(struct bundle_head *h);
/* Checks a parsed head against the size of the whole bundle (total, or
 * UINT64_MAX when the source does not say): -ENODATA (UPD_EXIT_VERIFY,
 * "bundle truncated") when the payload the manifest claims ends beyond it.
 * Bytes after the payload are only warned about. */
int bundle_check_size(const struct bundle_head *h, uint64_t total, struct error *e);

int manifest_parse(const char *text, size_t len, struct manifest *m, struct error *e);
/* malloc'd text in canonical key order. */
char *manifest_format(const struct manifest *m);

/* Verifies h's signature against each key file in turn; on success *which is
 * the index of the key that matched. -EKEYREJECTED (UPD_EXIT_VERIFY) when the
 * bundle is unsigned or no key matches; the message says which. All key files
 * are loaded first: an unreadable or non-PEM one, an unsupported key type or
 * nkeys == 0 fails with UPD_EXIT_USAGE (a configuration error). */
int bundle_verify_signature(const struct bundle_head *h, char *const *keys, size_t nkeys,
			    size_t *which, struct error *e);

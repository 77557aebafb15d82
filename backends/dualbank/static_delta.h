/* Static deltas (formats 4 and 5, docs/dualbank.md "Static delta"): finding
 * the one for the booted image next to a full bundle (NAME.upd.from-HEX), and
 * the checks before anything is written: signed by a configured key, format 4 or 5,
 * exactly the full bundle's release, an index that parses, and a source the
 * active slot holds (mapped read-only; its bytes hashed unless the booted
 * image's id names the source). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../bundle/bundle.h"
#include "../../bundle/index.h"
#include "../../lib/error.h"
#include "../../lib/source.h"

/* The hex digits of the booted image's SHA-256 that name a static delta. */
#define STATIC_DELTA_ID_LEN 16

/* The active slot's first len bytes hashed already by this process (the
 * booted image's id of a slot the updater did not write): a source of
 * exactly that size and hash is not read and hashed a second time. */
struct source_digest {
	uint8_t sha256[32];
	uint64_t len;
};

struct static_delta {
	bool usable;              /* every check passed: apply it */
	char location[4096];      /* the delta's URL or path */
	struct bundle_head own;   /* the delta's head, when fetched here */
	bool have_own;
	const struct bundle_head *h; /* own, or the caller's (a delta by name) */
	struct bundle_index ix;
	uint8_t *map;             /* the active slot's first delta-source-size bytes, read-only */
	uint64_t map_len;
	int map_fd;               /* the active slot, O_RDONLY, open while map is set */
	/* Format 5: address space kept free right after the source, where the
	 * install maps the target slot's first blocks (0: no frame needs them). */
	uint64_t map_room;
	bool by_id;               /* the source taken on the booted image's id, not hashed */
};

/* Whether location names a static delta: it ends in ".from-" and
 * STATIC_DELTA_ID_LEN hex digits. */
bool static_delta_named(const char *location);

/* For the full bundle at o->location (its head verified, manifest full) and
 * the booted image (booted_id: 64 hex digits): fetches location.from-HEX's
 * head and checks it, its index and the active slot at active_path (known:
 * NULL, or what this process hashed of it already); s->usable on success.
 * -ENOENT when there is no such file (e set); other errors name the cause
 * (-ESTALE: the active slot does not hold the source, by its id or by its
 * bytes when its id is not known). */
int static_delta_find(struct static_delta *s, const struct source_opts *o,
		      const struct manifest *full, const char *booted_image, char *const *keys,
		      size_t nkeys, const char *active_path, const struct source_digest *known,
		      struct error *e);

/* A delta by name: h (at o->location) is its head, its signature verified:
 * checks its format, its index and the active slot, as static_delta_find
 * (booted_id: the booted image's id, or "" when it is not known). */
int static_delta_named_check(struct static_delta *s, const struct source_opts *o,
			     const struct bundle_head *h, const char *active_path,
			     const char *booted_id, const struct source_digest *known,
			     struct error *e);

/* Format 5: the most bytes of the target (room) that a frame of ix takes
 * into its prefix after a source of source_size bytes. They are mapped right
 * after the source, so a source that is not whole pages of page bytes (64
 * KiB on some arm64 kernels) cannot be followed by them: -EINVAL, e naming
 * both sizes, when any frame needs them. */
int static_delta_target_room(const struct bundle_index *ix, uint64_t source_size, long page,
			     uint64_t *room, struct error *e);

/* Unmaps the source and frees the head and index. */
void static_delta_close(struct static_delta *s);


/* Dynamic delta install of a format-3 bundle (docs/dualbank.md, "Delta
 * install"): each 4 KiB block of the new image is taken, in this order, from
 *   1. the target slot at the same offset (already there: not written; this
 *      is also what makes an interrupted install resume),
 *   2. nothing, when the index says the block is all zeros,
 *   3. the active slot at any offset (opened read-only, never for writing),
 *   4. the network: the payload frames that hold the remaining blocks, with
 *      HTTP range requests on the same bundle file.
 * Every block is hashed against the signed index before it is written; the
 * whole image is then hashed again (read back from the medium unless
 * read-back is off) against the manifest's image-sha256.
 * The target slot is read and written only at a block's own offset: a block
 * of the target at another offset is not a source, because this install may
 * already have overwritten it. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "../../bundle/bundle.h"
#include "../../bundle/index.h"
#include "../../lib/error.h"
#include "../../lib/source.h"
#include "slot_blocks.h"

struct readback;

struct delta_job {
	int fd;                        /* the target slot, O_RDWR */
	const char *name, *path;       /* the target slot, for messages and read-back */
	const char *active_path;       /* the running slot (NULL: not used) */
	/* Its image's recorded block hashes (slot_blocks.h; NULL: none): only
	 * the active blocks they say are needed are read. */
	const struct slot_blocks *active_blocks;
	/* The target's recorded block hashes (NULL: none): a chunk of the target
	 * whose every recorded block differs from the new image's is not read. */
	const struct slot_blocks *target_blocks;
	const struct manifest *m;
	const struct bundle_index *ix; /* parsed and checked against m */
	const struct source_opts *src; /* the bundle */
	uint64_t payload_offset;       /* of the payload in the bundle */
	bool readback;
	/* A static delta (format 4): the image its copies and frames refer to,
	 * the active slot's first source_size bytes, verified against the
	 * manifest's delta-source-sha256: a MAP_SHARED read-only mapping, whose
	 * page table entries the install drops as it goes. */
	const uint8_t *source;
	int source_fd; /* the same slot, read-only: the scan's compares and copies */
	uint64_t source_size;
	/* Format 5: bytes of free address space after the source where the
	 * target's first blocks are mapped (read-only, from fd), so that a
	 * frame's prefix is the source followed by them (0: none needed). */
	uint64_t target_room;
};

struct delta_counts {
	uint64_t downloaded; /* payload bytes fetched (frames) */
	uint64_t received;   /* every body byte received, multipart framing included */
	uint64_t requests;   /* HTTP requests of the range fetch */
	uint64_t reused;     /* image bytes already in place in the target */
	uint64_t copied;     /* image bytes taken from the active slot */
	uint64_t scanned;    /* bytes of the active slot read to find them */
	uint64_t unread;     /* image bytes of the target not read: its record says they differ */
	uint64_t zeros;      /* image bytes of all-zero blocks written without download */
	uint64_t written;    /* image bytes written to the target */
};

/* Installs j->m's image into the target slot. 0 when the image in the slot
 * is verified; -EOPNOTSUPP (e set) when the server ignores range requests:
 * the caller streams the whole bundle instead, and what this wrote is
 * verified block by block and kept (the full stream finds it in place).
 * Other errors as a full install's. */
int delta_install(const struct delta_job *j, struct delta_counts *c, struct error *e);

/* A static delta's install (delta_static.c, docs/dualbank.md "Static
 * delta"): j->m and j->ix are the delta's (format 4), j->src the delta's
 * file, j->source the verified source image. Every block is compared with
 * the target's and written only when it differs; a frame is fetched only
 * when the target does not hold its data blocks, and checked against its
 * hash before any of it is written. 0 when the image in the slot is
 * verified. -EOPNOTSUPP when the server ignores range requests, exit class
 * UPD_EXIT_VERIFY for a corrupt frame: what was written is correct and
 * kept, the caller may fall back to the dynamic delta. */
int delta_static_install(const struct delta_job *j, struct delta_counts *c, struct error *e);

/* ---- the parts of delta_install (delta_local.c, delta_fetch.c) ---- */

struct delta_run {
	const struct delta_job *j;
	struct delta_counts *c;
	uint8_t *need;   /* per block: 1 while it must still come from the network */
	uint64_t n_need;
	uint64_t n_found; /* of those, found in the active slot so far */
	struct sha256_ctx *hash; /* reused for every block's hash */
	/* The scans of the slots hash a chunk's blocks on two threads into
	 * hashes (DELTA_CHUNK / block size entries). */
	struct block_hasher *hasher;
	uint8_t *hashes;
	/* The read-back, started before the network pass (NULL: not yet, or
	 * read-back off): it checks what is final as the frames come in order.
	 * rb_next: the first block that may still be needed. */
	struct readback *rb;
	uint64_t rb_next;
	uint64_t rb_upto; /* the bytes rb was last told are final: never less */
	/* Blocks to write at consecutive offsets go out as one write. */
	uint8_t *wbuf;
	uint64_t wfirst; /* the block wbuf starts with */
	size_t wlen;     /* bytes in wbuf */
};

/* The image's block i: its length (the last one may be short) and offset. */
uint32_t delta_block_len(const struct delta_run *r, uint64_t i);
/* Writes block i (data: delta_block_len bytes whose hash was checked),
 * joined with the blocks next to it into one write; delta_flush writes what
 * is pending (each pass ends with it). */
int delta_write_block(struct delta_run *r, uint64_t i, const uint8_t *data, struct error *e);
int delta_flush(struct delta_run *r, struct error *e);
#define DELTA_WBUF (256u << 10)
/* Slots are read in chunks of this many bytes (a multiple of the block). */
#define DELTA_CHUNK (1u << 20)
/* Sources 1 and 2, then 3 (needs r->need allocated, all 1). */
int delta_from_target(struct delta_run *r, struct error *e);
int delta_from_active(struct delta_run *r, struct error *e);
/* Source 4: the frames holding the blocks still needed. */
int delta_from_network(struct delta_run *r, struct error *e);
/* Frame f's compressed length. */
uint64_t delta_frame_len(const struct bundle_index *ix, uint64_t f);
/* Gets the payload frames f with want[f] set (r->j->src, ranges of adjacent
 * frames joined), each frame's compressed bytes handed to done in order, as
 * they arrive: no frame is held whole. Then flushes r's writes. Counts
 * downloaded, received and requests in r->c; the progress phase "download". */
struct delta_piece {
	uint64_t frame;
	uint64_t at;      /* the offset of in within the frame's compressed bytes */
	const uint8_t *in;
	size_t len;
	bool end;         /* the frame's last piece */
};
typedef int (*delta_frame_fn)(struct delta_run *r, void *user, const struct delta_piece *p,
			      struct error *e);
int delta_fetch_frames(struct delta_run *r, const uint8_t *want, delta_frame_fn done, void *user,
		       struct error *e);
/* The same for the frames [first, end) only, in one call of the range
 * fetcher, with no progress phase of its own: tick (NULL: none) is called as
 * bytes come, r->c->downloaded counting them. stats accumulates over calls
 * (r->c's downloaded, received and requests are set from it); r's writes
 * are not flushed. */
typedef void (*delta_tick_fn)(struct delta_run *r, void *user);
int delta_fetch_some(struct delta_run *r, const uint8_t *want, uint64_t first, uint64_t end,
		     delta_frame_fn done, delta_tick_fn tick, void *user,
		     struct source_stats *stats, struct error *e);
/* The compressed bytes of the frames [first, end) with want set. */
uint64_t delta_wanted_bytes(const struct bundle_index *ix, const uint8_t *want, uint64_t first,
			    uint64_t end);
/* Starts the image's check (*rb): read back from the medium, or with
 * j->readback off hashed as the page cache holds it. */
int delta_check_start(const struct delta_job *j, struct readback **rb, struct error *e);
/* Lets r->rb check the blocks before block, once written out. */
void delta_readback_upto(struct delta_run *r, uint64_t block);
/* The same up to the first block still needed (frames arrive in the
 * image's order). */
void delta_readback_follow(struct delta_run *r);
/* Durable (fsync), then the whole image (by rb when one was started, else
 * by a check of its own: delta_check_start) against j->m's image-sha256. */
int delta_verify_image(const struct delta_job *j, struct readback *rb, struct error *e);
/* Reads n bytes of fd at off into buf, zero-filled past the file's end. */
int delta_read_chunk(int fd, uint8_t *buf, size_t n, uint64_t off);
/* The progress of a pass over done bytes, with what moved. */
void delta_report(const struct delta_run *r, uint64_t done);
/* The frames' decoder (frame_decode.h), bounded by the window j->m signs:
 * on failure nothing is left to free. */
struct frame_decode;
int delta_decoder_init(const struct delta_job *j, struct frame_decode *d, struct error *e);
/* How many blocks of bs bytes make bytes (at least one). */
size_t delta_blocks_in(size_t bytes, uint32_t bs);

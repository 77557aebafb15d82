/* The index parser (bundle_index_parse) of formats 3, 4 and 5 over hostile
 * sections. The
 * SHA-256 check would stop almost every input at once, so the input says
 * the manifest's sizes and the section, and the target signs it (sets
 * index-size and index-sha256 to match) unless told not to; what is then
 * checked is everything after the hash: the zstd frame, its declared and
 * real sizes, the frame table against the payload.
 *   bytes 0..3   image-size, u32 little-endian
 *   bytes 4..7   payload-size, u32 little-endian
 *   byte  8      frame-size in blocks (0 stands for 2048, the largest)
 *   byte  9      bit 0: keep a wrong index-sha256; bit 1: say one byte more;
 *                bit 2: format 4 (a static delta), whose manifest adds
 *                bytes 10..17; bit 3 (with bit 2): format 5
 *   bytes 10..13 delta-data-size, u32 little-endian (formats 4 and 5 only)
 *   bytes 14..17 delta-source-size, u32 little-endian (formats 4 and 5 only)
 *   bytes 10.. (format 3) or 18.. (formats 4, 5): the index section as stored
 * A section is refused with UPD_EXIT_VERIFY and nothing kept, or yields an
 * index whose counts and frame offsets are those the manifest implies and,
 * in formats 4 and 5, whose ops copy only whole source blocks and whose data
 * blocks hold delta-data-size bytes; in format 5, whose frames' prefixes end
 * before their first data block, follow a source of whole blocks and fit the
 * window with the frame. */
#include <errno.h>
#include <string.h>

#include <openssl/sha.h>

#include "../../bundle/index.h"
#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	return 0;
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Format 5: frame f (whose first data block is block i) takes no block of
 * the new image at or after i into its prefix. */
static void check_prefix(const struct bundle_index *ix, const struct manifest *m, uint64_t f,
			 uint64_t i)
{
	uint64_t n = ix->prefix_blocks[f];

	FUZZ_CHECK(n <= i);
	FUZZ_CHECK(n == 0 || m->delta_source_size % BUNDLE_BLOCK_SIZE == 0);
	FUZZ_CHECK(n == 0 || m->delta_source_size + n * BUNDLE_BLOCK_SIZE + m->frame_size <=
				     (uint64_t)1 << m->zstd_window_log);
}

/* Formats 4 and 5: what the parser promises of the ops and frame hashes. */
static void check_delta(const struct bundle_index *ix, const struct manifest *m)
{
	uint64_t data = 0, ndata = 0, per = m->frame_size / BUNDLE_BLOCK_SIZE;

	FUZZ_CHECK(ix->format == m->format && ix->hashes == NULL && ix->frame_hashes && ix->ops);
	FUZZ_CHECK((ix->prefix_blocks != NULL) == (m->format == 5) && ix->frame_first);
	for (uint64_t i = 0; i < ix->nblocks; i++) {
		uint32_t op = ix->ops[i];
		uint64_t len = m->image_size - i * BUNDLE_BLOCK_SIZE;
		if (op == BUNDLE_OP_DATA) {
			if (ndata % per == 0)
				FUZZ_CHECK(ix->frame_first[ndata / per] == i);
			if (ix->prefix_blocks && ndata % per == 0)
				check_prefix(ix, m, ndata / per, i);
			ndata++;
			data += len < BUNDLE_BLOCK_SIZE ? len : BUNDLE_BLOCK_SIZE;
		} else if (op != BUNDLE_OP_ZERO) {
			uint64_t s = bundle_op_source(op, i);
			FUZZ_CHECK(s < m->delta_source_size / BUNDLE_BLOCK_SIZE);
			FUZZ_CHECK(bundle_op_copy(s, i) == op);
		}
	}
	FUZZ_CHECK(ndata == ix->ndata && data == m->delta_data_size);
	uint8_t frame[64] = {0};
	if (ix->nframes > 0)
		(void)bundle_index_frame_matches_with(NULL, ix, ix->nframes - 1, frame, sizeof(frame));
	FUZZ_CHECK(!bundle_index_frame_matches_with(NULL, ix, ix->nframes, frame, sizeof(frame)));
}

static void check_index(const struct bundle_index *ix, const struct manifest *m)
{
	uint64_t nblocks, nframes;

	bundle_index_counts(m, &nblocks, &nframes);
	FUZZ_CHECK(ix->nblocks == nblocks && ix->nframes == nframes);
	if (m->format >= 4) {
		check_delta(ix, m);
		FUZZ_CHECK(ix->frame_offset && ix->frame_offset[nframes] == m->payload_size);
		return;
	}
	FUZZ_CHECK(ix->format == 3 && nframes >= 1 && !ix->ops && !ix->frame_hashes);
	FUZZ_CHECK(!ix->frame_first && !ix->prefix_blocks);
	FUZZ_CHECK(ix->block_size == BUNDLE_BLOCK_SIZE && ix->frame_size == m->frame_size);
	FUZZ_CHECK((ix->hashes != NULL) == (nblocks > 0) && ix->frame_offset != NULL);
	FUZZ_CHECK(ix->frame_offset[0] == 0 && ix->frame_offset[nframes] == m->payload_size);
	for (uint64_t i = 0; i < nframes; i++)
		FUZZ_CHECK(ix->frame_offset[i] < ix->frame_offset[i + 1]);
	if (nblocks > 0) {
		FUZZ_CHECK(bundle_index_frame_of(ix, nblocks - 1) == nframes - 1);
		uint8_t block[BUNDLE_BLOCK_SIZE] = {0};
		(void)bundle_index_block_matches(ix, nblocks - 1, block); /* in bounds */
		FUZZ_CHECK(!bundle_index_block_matches(ix, nblocks, block));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct manifest m = {.format = 3, .block_size = BUNDLE_BLOCK_SIZE, .zstd_window_log = 23};
	struct bundle_index ix;
	struct error e = {0};

	size_t at = 10;

	if (size < 10 || ((data[9] & 4) && size < 18))
		return 0;
	m.image_size = le32(data);
	m.payload_size = le32(data + 4);
	m.frame_size = (data[8] ? data[8] : 2048) * BUNDLE_BLOCK_SIZE;
	if (data[9] & 4) {
		m.format = (data[9] & 8) ? 5 : 4;
		m.delta_data_size = le32(data + 10);
		m.delta_source_size = le32(data + 14);
		at = 18;
	}
	const uint8_t *section = data + at;
	size_t len = size - at;
	m.index_size = len + ((data[9] & 2) != 0);
	SHA256(section, len, m.index_sha256);
	if (data[9] & 1)
		m.index_sha256[0] ^= 1;
	int r = bundle_index_parse(section, len, &m, &ix, &e);
	if (r < 0) {
		FUZZ_CHECK(e.msg[0] && (e.exit == UPD_EXIT_VERIFY || r == -ENOMEM));
		FUZZ_CHECK(ix.hashes == NULL && ix.frame_offset == NULL);
		FUZZ_CHECK(ix.ops == NULL && ix.frame_hashes == NULL && ix.prefix_blocks == NULL);
		FUZZ_CHECK(ix.frame_first == NULL);
		return 0;
	}
	FUZZ_CHECK(r == 0 && !(data[9] & 3));
	check_index(&ix, &m);
	bundle_index_free(&ix);
	FUZZ_CHECK(ix.hashes == NULL && ix.frame_offset == NULL && ix.ops == NULL &&
		   ix.prefix_blocks == NULL);
	return 0;
}

/* The dual-bank write pipeline: bundle payload bytes in, zstd-decoded image
 * out to the slot, with SHA-256 of both on the way and a read-back check from
 * the medium. Memory is bounded by the zstd window cap. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "../../bundle/bundle.h"
#include "../../lib/error.h"

struct slot_writer;

/* fd: the target slot opened for reading and writing (O_RDWR): each 4 KiB
 * block the slot already holds is read, compared and not written again (an fd
 * that cannot be read makes every block written); name/path for messages. With
 * readback, what was written is read back from the medium as the write goes
 * on (readback.h) and checked against the manifest's image sha256.
 * On failure *out is NULL and there is nothing to close. */
int slot_writer_new(struct slot_writer **out, int fd, const char *name, const char *path,
		    const struct manifest *m, bool readback, struct error *e);
/* A source_sink: feed consecutive payload bytes. */
int slot_writer_feed(void *w, const uint8_t *data, size_t len, struct error *e);
/* After the last byte: checks the stream ended, sizes and hashes, fsyncs. */
int slot_writer_finish(struct slot_writer *w, struct error *e);
/* Image bytes found already in the slot (not written) and written so far. */
void slot_writer_counts(const struct slot_writer *w, uint64_t *reused, uint64_t *written);
void slot_writer_free(struct slot_writer *w);

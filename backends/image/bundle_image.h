/* What the backends that write a bundle's image to a partition share (dual-bank:
 * a slot, single-copy: the root): reading a bundle's head, the release it
 * makes, the transfer settings, and the full stream into the partition
 * through the slot writer (slot_writer.h). Not a backend: code backends link. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "../../bundle/bundle.h"
#include "../../core/backend.h"
#include "../../lib/source.h"

/* Reads and parses the head of the bundle at o->location (one range
 * request) and checks it against the bundle's size. Errors as
 * source_read_head's (-ENOENT: no such file) and bundle_head_parse's. */
int image_head_read(const struct source_opts *o, struct bundle_head *h, struct error *e);

/* The release a bundle makes (version, compatible, security version, image
 * digest and size); its identity is the SHA-256 of the signed manifest. */
void image_release_fill(const struct bundle_head *h, struct release *r);

/* location with the config's transfer settings (server.timeout, retries, TLS). */
void image_source_opts(const struct config *cfg, const char *location, struct source_opts *o);

/* *source, or server.url when it is NULL; neither: exit 2 (usage). */
int image_source_default(const struct config *cfg, const char **source, struct error *e);

/* The full stream: every payload byte of the bundle (head h, at o) decoded
 * in order into fd (the partition, opened O_RDWR; name and path for
 * messages), hashed, fsync'd and, with readback, read back from the medium.
 * *reused / *written: image bytes found already there / written. */
int image_write_full(int fd, const char *name, const char *path, const struct bundle_head *h,
		     const struct source_opts *o, bool readback, uint64_t *reused,
		     uint64_t *written, struct error *e);

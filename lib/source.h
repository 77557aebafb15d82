/* Where a bundle comes from: an http:// or https:// URL (libcurl), a file://
 * URL or a plain path. Everything is streamed; nothing is kept in memory but
 * the current chunk. */
#pragma once
#include <stdint.h>
#include <stddef.h>

#include "error.h"

struct source_opts {
	const char *location;  /* URL or path */
	int timeout_s;         /* give up a transfer after this long without progress
				* (also the connect timeout); <= 0 means 30 */
	int retries;           /* resumed attempts after a failure (so retries+1 in all) */
	const char *ca, *cert, *key; /* optional TLS files */
};

/* Reads the first bytes of the source, at most max: one range request
 * ("bytes=0-(max-1)"); a server that ignores ranges answers 200 with the whole
 * file and the transfer is cut once max bytes are in. *total is the size of
 * the whole source when known (Content-Range, Content-Length of a 200, or
 * the file size), else UINT64_MAX. Fewer than max bytes is not an error. */
int source_read_head(const struct source_opts *o, uint8_t *buf, size_t max, size_t *len,
		     uint64_t *total, struct error *e);

/* The size of the source without reading it (an HTTP HEAD request: an
 * absent file costs no error page), UINT64_MAX when the server does not say.
 * Errors as source_read_head's (-ENOENT for an HTTP 404). */
int source_size(const struct source_opts *o, uint64_t *total, struct error *e);
/* A sink gets consecutive chunks; returning <0 (with e set) aborts the stream
 * and that code is returned by source_stream. */
typedef int (*source_sink)(void *user, const uint8_t *data, size_t len, struct error *e);

/* Delivers bytes [offset, offset+length) to sink, exactly once each, in order.
 * A dropped connection, a stall (no byte for timeout_s) or an HTTP 5xx is
 * retried up to `retries` times with a range request from the first byte not
 * yet delivered (a server that answers 200 to a range has the bytes before it
 * skipped). Errors: UPD_EXIT_DOWNLOAD for HTTP 4xx, exhausted retries, DNS,
 * TLS and connection failures, and a local file that cannot be opened or
 * read; UPD_EXIT_VERIFY with -ENODATA when the source ends before
 * offset+length ("truncated"). A sink's error is returned unchanged, without
 * retry. length 0 delivers nothing and succeeds. See docs/download.md. */
int source_stream(const struct source_opts *o, uint64_t offset, uint64_t length,
		  source_sink sink, void *user, struct error *e);

/* True for http://, https:// (and file:// URLs are handled as paths). */
int source_is_url(const char *location);

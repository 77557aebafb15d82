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

/* ---- Several byte ranges of one source (delta updates) ---------------- */

struct source_range {
	uint64_t offset, length;
};

/* Gets the bytes of range r[range_index] from offset_in_range on: every byte
 * of every range exactly once, ranges in order, each range front to back.
 * Returning <0 (with e set) aborts, and that code is returned. */
typedef int (*source_range_sink)(void *user, size_t range_index, uint64_t offset_in_range,
				 const uint8_t *data, size_t len, struct error *e);

/* What a fetch took from the source, updated before each sink call (so a
 * sink may report it): payload is what was delivered; received is every body
 * byte read, with multipart headers and boundaries, bytes of gaps a server
 * sent between ranges and the few bytes of a refused answer (HTTP headers
 * not counted); requests is the number of HTTP requests (0 for a file). */
struct source_stats {
	uint64_t payload, received, requests;
};

#define SOURCE_RANGES_PER_REQUEST 32 /* max_per_request 0 means this */

/* Delivers the n ranges r (sorted by offset, none overlapping, none empty:
 * the caller merges; otherwise UPD_EXIT_USAGE, -EINVAL, nothing fetched).
 * Local files: pread. http(s): requests of up to max_per_request ranges
 * each ("Range: bytes=a-b,c-d", adjacent ranges joined into one, the header
 * kept under 4000 characters), answered by a 206 multipart/byteranges or a
 * single 206 part. Each part's Content-Range must start at the first byte
 * not yet delivered and end where a range asked for ends (a server may
 * coalesce ranges; the bytes between them are dropped); anything else is
 * refused. A server that answers several ranges with only the first, or a
 * multi-range request with 200, is asked one range per request from then on.
 * Returns -EOPNOTSUPP (UPD_EXIT_DOWNLOAD) when the server answers a
 * one-range request with 200: no byte of that answer is delivered, and the
 * caller is expected to stream the whole source instead (source_stream);
 * ranges delivered before (a server that changed its mind) stay delivered.
 * Wrong ranges, a part shorter than its Content-Range, a missing or garbled
 * boundary, an overlong part header, drops, stalls and 5xx are retried
 * like source_stream's failures (retries, timeout_s), from the first byte
 * not yet delivered; exhausted: UPD_EXIT_DOWNLOAD naming the cause. A 416,
 * or a size in Content-Range short of a range asked for, is UPD_EXIT_VERIFY
 * -ENODATA ("bundle truncated"), as is a local file too short. stats may be
 * NULL. See docs/download.md, "Range fetching". */
int source_fetch_ranges(const struct source_opts *o, const struct source_range *r, size_t n,
			size_t max_per_request, source_range_sink sink, void *user,
			struct source_stats *stats, struct error *e);

/* What the three parts of the source share, for lib/source*.c only:
 * source.c (the public calls: which kind of source, the range checks),
 * source_file.c (plain paths and file:// URLs, pread) and source_http.c
 * (libcurl: the transfer, stall detection, retries resumed with ranges). */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "source.h"

#define UNKNOWN UINT64_MAX /* a size no response or file has told */

static inline uint64_t min_u64(uint64_t a, uint64_t b) { return a < b ? a : b; }

/* Both the file and the http path report a short source the same way; the
 * numbers are absolute offsets, so "got" is where the source ended. */
int source_truncated(struct error *e, uint64_t got, uint64_t want);

/* Opens a plain path or file:// URL; *st is its fstat. Returns the fd. */
int source_file_open(const char *location, struct stat *st, struct error *e);
/* source_stream and source_read_head for a local file; end is absolute. */
int source_file_stream(const char *location, uint64_t off, uint64_t end, source_sink sink,
		       void *user, struct error *e);
int source_file_head(const char *location, uint8_t *buf, size_t max, size_t *len, uint64_t *total,
		     struct error *e);

/* The same three calls for an http(s) URL (*len and *total set by the caller). */
int source_http_head(const struct source_opts *o, uint8_t *buf, size_t max, size_t *len,
		     uint64_t *total, struct error *e);
int source_http_size(const struct source_opts *o, uint64_t *total, struct error *e);
int source_http_stream(const struct source_opts *o, uint64_t offset, uint64_t end,
		       source_sink sink, void *user, struct error *e);

/* source_fetch_ranges for a local file and for an http(s) URL (the ranges
 * already checked, n > 0, stats zeroed and not NULL). */
int source_file_ranges(const char *location, const struct source_range *r, size_t n,
		       source_range_sink sink, void *user, struct source_stats *st,
		       struct error *e);
int source_http_ranges(const struct source_opts *o, const struct source_range *r, size_t n,
		       size_t max_per_request, source_range_sink sink, void *user,
		       struct source_stats *st, struct error *e);

/* Bundle sources: which kind a location is, and the range checks every kind
 * shares; local files in source_file.c, http(s) in source_http.c. Contract in
 * source.h; behaviour for users in docs/download.md. */
#include <errno.h>
#include <inttypes.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "source_priv.h"

int source_is_url(const char *location)
{
	return location && (strncasecmp(location, "http://", 7) == 0 ||
			    strncasecmp(location, "https://", 8) == 0);
}

int source_truncated(struct error *e, uint64_t got, uint64_t want)
{
	return err_set(e, UPD_EXIT_VERIFY, ENODATA, "bundle truncated: got %" PRIu64 " of %" PRIu64 " bytes",
		       got, want);
}

int source_read_head(const struct source_opts *o, uint8_t *buf, size_t max, size_t *len,
		     uint64_t *total, struct error *e)
{
	*len = 0;
	*total = UNKNOWN;
	if (!source_is_url(o->location))
		return source_file_head(o->location, buf, max, len, total, e);
	return source_http_head(o, buf, max, len, total, e);
}

int source_size(const struct source_opts *o, uint64_t *total, struct error *e)
{
	*total = UNKNOWN;
	if (!source_is_url(o->location)) {
		struct stat st;
		int fd = source_file_open(o->location, &st, e);
		if (fd < 0)
			return fd;
		if (S_ISREG(st.st_mode))
			*total = (uint64_t)st.st_size;
		close(fd);
		return 0;
	}
	return source_http_size(o, total, e);
}

int source_stream(const struct source_opts *o, uint64_t offset, uint64_t length,
		  source_sink sink, void *user, struct error *e)
{
	if (length > UINT64_MAX - offset)
		return err_set(e, UPD_EXIT_OTHER, EINVAL, "read %s: range beyond 2^64", o->location);
	if (length == 0)
		return 0;
	if (!source_is_url(o->location))
		return source_file_stream(o->location, offset, offset + length, sink, user, e);
	return source_http_stream(o, offset, offset + length, sink, user, e);
}

/* The caller merges: sorted, disjoint, non-empty, within 2^64. */
static int check_ranges(const char *location, const struct source_range *r, size_t n,
			struct error *e)
{
	for (size_t i = 0; i < n; i++) {
		if (r[i].length == 0)
			return err_set(e, UPD_EXIT_USAGE, EINVAL, "read %s: range %zu is empty",
				       location, i);
		if (r[i].length > UINT64_MAX - r[i].offset)
			return err_set(e, UPD_EXIT_USAGE, EINVAL, "read %s: range %zu beyond 2^64",
				       location, i);
		if (i > 0 && r[i].offset < r[i - 1].offset + r[i - 1].length)
			return err_set(e, UPD_EXIT_USAGE, EINVAL,
				       "read %s: range %zu (from %" PRIu64
				       ") overlaps or precedes range %zu",
				       location, i, r[i].offset, i - 1);
	}
	return 0;
}

int source_fetch_ranges(const struct source_opts *o, const struct source_range *r, size_t n,
			size_t max_per_request, source_range_sink sink, void *user,
			struct source_stats *stats, struct error *e)
{
	struct source_stats own;
	struct source_stats *st = stats ? stats : &own;
	int rc = check_ranges(o->location, r, n, e);

	*st = (struct source_stats){0};
	if (rc < 0 || n == 0)
		return rc;
	if (max_per_request == 0)
		max_per_request = SOURCE_RANGES_PER_REQUEST;
	if (!source_is_url(o->location))
		return source_file_ranges(o->location, r, n, sink, user, st, e);
	return source_http_ranges(o, r, n, max_per_request, sink, user, st, e);
}

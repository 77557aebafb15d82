/* Local sources: a plain path or a file:// URL, read with pread (or read, for
 * a pipe or device). Contract in source.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io.h"
#include "source_priv.h"

#define FILE_CHUNK ((size_t)1 << 20)

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)(c | 0x20);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* file:///p and file://localhost/p name the local path /p; %XX escapes are
 * decoded. Returns a malloc'd path, or NULL for another host or bad escape. */
static char *file_url_path(const char *url)
{
	const char *p = url + 7;
	if (strncasecmp(p, "localhost/", 10) == 0)
		p += 9;
	if (*p != '/')
		return NULL;
	char *out = malloc(strlen(p) + 1), *o = out;
	for (; out && *p; p++) {
		if (*p != '%') {
			*o++ = *p;
			continue;
		}
		int hi = hex_digit(p[1]), lo = hi < 0 ? -1 : hex_digit(p[2]);
		if (lo < 0 || (hi | lo) == 0) {
			free(out);
			return NULL; /* a bad escape, or %00 which would cut the path */
		}
		*o++ = (char)(hi << 4 | lo);
		p += 2;
	}
	if (out)
		*o = '\0';
	return out;
}

/* Opens a plain path or file:// URL. A path that names no readable file is
 * the caller's mistake (the command line or server.url), not a download that
 * failed: UPD_EXIT_USAGE, and nothing was fetched. */
int source_file_open(const char *location, struct stat *st, struct error *e)
{
	int is_url = strncasecmp(location, "file://", 7) == 0;
	char *path = is_url ? file_url_path(location) : (char *)location;
	if (!path)
		return err_set(e, UPD_EXIT_USAGE, EINVAL, "%s: only local file:// URLs are supported",
			       location);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int saved = errno;
	if (is_url)
		free(path);
	if (fd < 0)
		return err_set(e, UPD_EXIT_USAGE, saved, "open %s: %s", location, strerror(saved));
	if (fstat(fd, st) < 0) {
		saved = errno;
	} else if (S_ISDIR(st->st_mode)) {
		saved = EISDIR;
	} else {
		/* The kernel may read ahead more aggressively for a front-to-back read. */
		(void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
		return fd;
	}
	close(fd);
	return err_set(e, UPD_EXIT_USAGE, saved, "open %s: %s", location, strerror(saved));
}

/* Reads n bytes at pos, short only at the end (pread on regular files, read
 * on pipes and devices, whose position is implicit). Count or -errno. */
static ssize_t file_read(int fd, int seekable, void *buf, size_t n, uint64_t pos)
{
	return seekable ? io_pread_full(fd, buf, n, pos) : io_read_full(fd, buf, n);
}

/* An open local source; pos is where a non-seekable one (a pipe, a device)
 * stands, since it can only be read front to back. */
struct fsrc {
	int fd, seekable;
	uint8_t *buf;
	const char *location;
	uint64_t pos;
};

/* Delivers [off, end); a non-seekable file is read on from where it stands
 * with the bytes before off dropped. */
static int file_copy(struct fsrc *f, uint64_t off, uint64_t end, source_sink sink, void *user,
		     struct error *e)
{
	uint64_t pos = f->seekable ? off : f->pos;
	while (pos < end) {
		size_t want = (size_t)min_u64(FILE_CHUNK, end - pos);
		ssize_t n = file_read(f->fd, f->seekable, f->buf, want, pos);
		if (n < 0)
			return err_set(e, UPD_EXIT_DOWNLOAD, (int)-n, "read %s: %s", f->location,
				       strerror((int)-n));
		if (n == 0)
			return source_truncated(e, pos, end);
		size_t skip = pos < off ? (size_t)min_u64((uint64_t)n, off - pos) : 0;
		pos += (uint64_t)n;
		f->pos = pos;
		if ((size_t)n > skip) {
			int rc = sink(user, f->buf + skip, (size_t)n - skip, e);
			if (rc < 0)
				return rc;
		}
	}
	return 0;
}

static int fsrc_open(struct fsrc *f, const char *location, struct error *e)
{
	struct stat st;
	*f = (struct fsrc){.fd = source_file_open(location, &st, e), .location = location};
	if (f->fd < 0)
		return f->fd;
	f->seekable = S_ISREG(st.st_mode);
	f->buf = malloc(FILE_CHUNK);
	if (f->buf)
		return 0;
	close(f->fd);
	return err_oom(e, "read %s", location);
}

static void fsrc_close(struct fsrc *f)
{
	free(f->buf);
	close(f->fd);
}

int source_file_stream(const char *location, uint64_t off, uint64_t end, source_sink sink,
		       void *user, struct error *e)
{
	struct fsrc f;
	int rc = fsrc_open(&f, location, e);
	if (rc < 0)
		return rc;
	rc = file_copy(&f, off, end, sink, user, e);
	fsrc_close(&f);
	return rc;
}

/* Turns file_copy's chunks of one range into the range sink's calls. */
struct range_feed {
	source_range_sink sink;
	void *user;
	struct source_stats *st;
	size_t index;
	uint64_t done;
};

static int range_feed_sink(void *user, const uint8_t *data, size_t len, struct error *e)
{
	struct range_feed *f = user;
	f->st->payload += len;
	f->st->received += len;
	int rc = f->sink(f->user, f->index, f->done, data, len, e);
	f->done += len;
	return rc;
}

int source_file_ranges(const char *location, const struct source_range *r, size_t n,
		       source_range_sink sink, void *user, struct source_stats *st,
		       struct error *e)
{
	struct fsrc f;
	struct range_feed feed = {sink, user, st, 0, 0};
	int rc = fsrc_open(&f, location, e);
	if (rc < 0)
		return rc;
	(void)posix_fadvise(f.fd, 0, 0, POSIX_FADV_RANDOM); /* no read-ahead into the gaps */
	for (size_t i = 0; i < n && rc == 0; i++) {
		feed.index = i;
		feed.done = 0;
		rc = file_copy(&f, r[i].offset, r[i].offset + r[i].length, range_feed_sink, &feed, e);
	}
	fsrc_close(&f);
	return rc;
}

int source_file_head(const char *location, uint8_t *buf, size_t max, size_t *len, uint64_t *total,
		     struct error *e)
{
	struct stat st;
	int fd = source_file_open(location, &st, e);
	if (fd < 0)
		return fd;
	int seekable = S_ISREG(st.st_mode), rc = 0;
	ssize_t n = file_read(fd, seekable, buf, max, 0);
	if (n < 0)
		rc = err_set(e, UPD_EXIT_DOWNLOAD, (int)-n, "read %s: %s", location, strerror((int)-n));
	else
		*len = (size_t)n;
	if (seekable)
		*total = (uint64_t)st.st_size;
	close(fd);
	return rc;
}
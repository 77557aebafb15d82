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

/* Delivers [off, end); a non-seekable file is read from 0 with the bytes
 * before off dropped. */
static int file_copy(int fd, int seekable, uint8_t *buf, const char *location, uint64_t off,
		     uint64_t end, source_sink sink, void *user, struct error *e)
{
	uint64_t pos = seekable ? off : 0;
	while (pos < end) {
		ssize_t n = file_read(fd, seekable, buf, (size_t)min_u64(FILE_CHUNK, end - pos), pos);
		if (n < 0)
			return err_set(e, UPD_EXIT_DOWNLOAD, (int)-n, "read %s: %s", location,
				       strerror((int)-n));
		if (n == 0)
			return source_truncated(e, pos, end);
		size_t skip = pos < off ? (size_t)min_u64((uint64_t)n, off - pos) : 0;
		if ((size_t)n > skip) {
			int rc = sink(user, buf + skip, (size_t)n - skip, e);
			if (rc < 0)
				return rc;
		}
		pos += (uint64_t)n;
	}
	return 0;
}

int source_file_stream(const char *location, uint64_t off, uint64_t end, source_sink sink,
		       void *user, struct error *e)
{
	struct stat st;
	int fd = source_file_open(location, &st, e);
	if (fd < 0)
		return fd;
	uint8_t *buf = malloc(FILE_CHUNK);
	int rc = buf ? file_copy(fd, S_ISREG(st.st_mode), buf, location, off, end, sink, user, e)
		     : err_oom(e, "read %s", location);
	free(buf);
	close(fd);
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
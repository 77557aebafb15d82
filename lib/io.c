#include "io.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

/* off < 0: read(2) at the file position; else pread(2) at off + done. */
static ssize_t read_loop(int fd, void *buf, size_t n, int64_t off)
{
	size_t done = 0;

	while (done < n) {
		ssize_t r = off < 0 ? read(fd, (char *)buf + done, n - done)
				    : pread(fd, (char *)buf + done, n - done, (off_t)off + (off_t)done);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			break;
		done += (size_t)r;
	}
	return (ssize_t)done;
}

static int write_loop(int fd, const void *buf, size_t n, int64_t off)
{
	size_t done = 0;

	while (done < n) {
		ssize_t r = off < 0 ? write(fd, (const char *)buf + done, n - done)
				    : pwrite(fd, (const char *)buf + done, n - done,
					     (off_t)off + (off_t)done);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -ENOSPC;
		done += (size_t)r;
	}
	return 0;
}

ssize_t io_read_full(int fd, void *buf, size_t n)
{
	return read_loop(fd, buf, n, -1);
}

ssize_t io_pread_full(int fd, void *buf, size_t n, uint64_t off)
{
	return off > INT64_MAX ? -EINVAL : read_loop(fd, buf, n, (int64_t)off);
}

int io_write_full(int fd, const void *buf, size_t n)
{
	return write_loop(fd, buf, n, -1);
}

int io_pwrite_full(int fd, const void *buf, size_t n, uint64_t off)
{
	return off > INT64_MAX ? -EINVAL : write_loop(fd, buf, n, (int64_t)off);
}

int io_fsync_at(int dirfd, const char *path, int flags)
{
	int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | flags);
	int rc = fd < 0 || fsync(fd) < 0 ? -errno : 0;

	if (fd >= 0)
		close(fd);
	return rc;
}

void io_prefetch(int fd, uint64_t off, uint64_t len)
{
	(void)posix_fadvise(fd, (off_t)off, (off_t)len, POSIX_FADV_WILLNEED);
}

#include "fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io.h"

int fsync_dir_of(const char *path, struct error *e)
{
	char *copy = strdup(path);
	if (!copy)
		return err_oom(e, NULL);
	const char *dir = dirname(copy);
	int rc = io_fsync_at(AT_FDCWD, dir, O_DIRECTORY);
	if (rc < 0)
		rc = err_set(e, UPD_EXIT_OTHER, -rc, "fsync directory %s: %s", dir, strerror(-rc));
	free(copy);
	return rc;
}

int atomic_write_file(const char *path, const void *data, size_t len, struct error *e)
{
	struct iovec part = { .iov_base = (void *)data, .iov_len = len };
	return atomic_write_parts(path, &part, 1, e);
}

int atomic_write_parts(const char *path, const struct iovec *parts, size_t n, struct error *e)
{
	char tmp[4096];
	int fd, rc = 0;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		return err_set(e, UPD_EXIT_OTHER, ENAMETOOLONG, "%s: path too long", path);
	/* unlink does not follow a symlink; O_EXCL then creates a new file or fails. */
	if (unlink(tmp) < 0 && errno != ENOENT)
		return err_set(e, UPD_EXIT_OTHER, errno, "remove %s: %s", tmp, strerror(errno));
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return err_set(e, UPD_EXIT_OTHER, errno, "write %s: %s", tmp, strerror(errno));
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = io_write_full(fd, parts[i].iov_base, parts[i].iov_len);
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	if (rc < 0) {
		int ex = (rc == -ENOSPC || rc == -EDQUOT) ? UPD_EXIT_NOSPACE : UPD_EXIT_OTHER;
		unlink(tmp);
		return err_set(e, ex, -rc, "write %s: %s", path, strerror(-rc));
	}
	return fsync_dir_of(path, e);
}

int mkdir_p(const char *path, int mode, struct error *e)
{
	char buf[4096];
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof(buf))
		return err_set(e, UPD_EXIT_OTHER, EINVAL, "mkdir %s: bad path", path);
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			return err_set(e, UPD_EXIT_OTHER, errno, "mkdir %s: %s", buf, strerror(errno));
		*p = '/';
	}
	if (mkdir(buf, mode) < 0 && errno != EEXIST)
		return err_set(e, UPD_EXIT_OTHER, errno, "mkdir %s: %s", buf, strerror(errno));
	return 0;
}

int read_text_file(const char *path, size_t max, char **out, struct error *e)
{
	return read_text_file_flags(path, max, 0, out, e);
}

int read_text_file_flags(const char *path, size_t max, int flags, char **out, struct error *e)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | flags);
	if (fd < 0)
		return err_set(e, UPD_EXIT_OTHER, errno, "read %s: %s", path, strerror(errno));
	char *buf = malloc(max + 1);
	ssize_t n = buf ? io_read_full(fd, buf, max) : 0;
	close(fd);
	if (!buf)
		return err_oom(e, "read %s", path);
	if (n < 0) {
		free(buf);
		return err_set(e, UPD_EXIT_OTHER, (int)-n, "read %s: %s", path, strerror((int)-n));
	}
	buf[n] = '\0';
	*out = buf;
	return 0;
}

int file_or_blockdev_size(int fd, uint64_t *size)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (S_ISBLK(st.st_mode))
		return ioctl(fd, BLKGETSIZE64, size) < 0 ? -errno : 0;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	*size = (uint64_t)st.st_size;
	return 0;
}

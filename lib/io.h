/* Exact reads and writes: the loops every caller of read(2)/write(2) needs
 * (a signal interrupts a call, a call moves fewer bytes than asked), written
 * once. Each returns -errno on failure, never -1 with errno. */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Reads n bytes, short only at end of file: the count read, or -errno. */
ssize_t io_read_full(int fd, void *buf, size_t n);
/* The same from offset off (pread: the file position does not move). */
ssize_t io_pread_full(int fd, void *buf, size_t n, uint64_t off);
/* Asks the kernel to start reading [off, off + len) of fd now (a hint, no
 * error): a loop that reads a file chunk by chunk and then works on each
 * chunk has the next one read from the medium while it works on this one. */
void io_prefetch(int fd, uint64_t off, uint64_t len);

/* Writes all n bytes: 0, or -errno (-ENOSPC when write(2) moves nothing). */
int io_write_full(int fd, const void *buf, size_t n);
/* The same at offset off (pwrite). */
int io_pwrite_full(int fd, const void *buf, size_t n, uint64_t off);

/* fsync of path under dirfd (AT_FDCWD: the working directory), opened
 * read-only with O_CLOEXEC and flags (O_DIRECTORY: it must be a directory;
 * O_NOFOLLOW). A directory's fsync makes the creations and renames in it
 * durable. 0 or -errno. */
int io_fsync_at(int dirfd, const char *path, int flags);

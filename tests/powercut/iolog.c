/* iolog: an LD_PRELOAD shim that journals what a process does to chosen files,
 * so tests/powercut/iolog-replay.py can rebuild them as a power cut at any
 * sync point would leave them (only data covered by a completed fsync, and
 * only directory entries covered by a directory fsync, survive).
 *
 *   IOLOG_FILE=PATH     the journal (text, one record per line); the bytes
 *                       written go to PATH.data
 *   IOLOG_TRACK=P1:P2   absolute paths of files or directories to watch (a
 *                       directory: everything in it, and its own fsync)
 *   IOLOG_KILL_AT=K     kill(0, SIGKILL) right after this process wrote its
 *                       Kth record (K >= 1): the files outside the journal
 *                       (an ostree sysroot) are left as a cut at that
 *                       record leaves them; the test starts the program in
 *                       a process group of its own (setsid). The count is
 *                       per process: with records of several processes the
 *                       replay refuses the journal anyway.
 *
 * Records ("ID" is DEV:INO:GEN; GEN tells apart inodes that reuse a number):
 *   O PID ID FLAGS CREATED TRUNC PATH    open/openat/creat of a tracked file
 *   W PID ID OFFSET LENGTH DATAOFFSET    write/pwrite that returned LENGTH > 0
 *   T PID ID LENGTH                      ftruncate
 *   F PID ID                             fsync/fdatasync returned 0
 *   D PID PATH                           fsync of a tracked directory returned 0
 *   S PID ID OFFSET LENGTH FLAGS         sync_file_range (not durability)
 *   R PID OLD NEW                        rename returned 0
 *   U PID PATH                           unlink returned 0
 *   G PID                                sync(), or syncfs() of the file
 *                                        system of a tracked path (everything
 *                                        durable); a syncfs of another file
 *                                        system is not journaled: the tracked
 *                                        files are taken to be on one of their
 *                                        own, which it does not flush
 *   X PID WHAT PATH                      an operation the model does not
 *                                        replay (writev, mmap, fopen for
 *                                        writing...): the replay refuses
 * Test code only: built by `make build/tests/libiolog.so`, never installed. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define SHIM_NAME "iolog"
#include "shim.h"

#define FDMAX 4096
#define NTRACK 32
#define NGEN 1024

struct fdinfo {
	bool tracked, dir;
	char id[64];
	char path[PATH_MAX];
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int jfd = -1, dfd = -1;
static unsigned long long doff;
static unsigned long long kill_at, records;
static char *track[NTRACK];
static int ntrack;
static struct fdinfo *fds;
static struct {
	dev_t dev;
	ino_t ino;
	unsigned gen;
} gens[NGEN];
static int ngens;

REAL(open);
REAL(openat);
REAL(openat64);
REAL(close);
REAL(write);
REAL(pwrite);
REAL(pwrite64);
REAL(writev);
REAL(pwritev);
REAL(fsync);
REAL(fdatasync);
REAL(sync_file_range);
REAL(rename);
REAL(renameat);
REAL(renameat2);
REAL(unlink);
REAL(unlinkat);
REAL(ftruncate);
REAL(ftruncate64);
REAL(truncate);
REAL(dup);
REAL(dup2);
REAL(dup3);
REAL(sync);
REAL(syncfs);
REAL(mmap);
REAL(fopen);
REAL(fopen64);



__attribute__((constructor)) static void iolog_init(void)
{
	const char *j = getenv("IOLOG_FILE"), *t = getenv("IOLOG_TRACK");
	char path[PATH_MAX];

	fds = calloc(FDMAX, sizeof(*fds));
	if (!j || !t || !fds)
		return;
	RESOLVE(open);
	RESOLVE(write);
	const char *k = getenv("IOLOG_KILL_AT");
	kill_at = k ? strtoull(k, NULL, 10) : 0;
	jfd = real_open(j, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	snprintf(path, sizeof(path), "%s.data", j);
	dfd = real_open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	struct stat st;
	if (dfd >= 0 && fstat(dfd, &st) == 0)
		doff = (unsigned long long)st.st_size;
	char *copy = strdup(t), *save = NULL;
	for (char *p = strtok_r(copy, ":", &save); p && ntrack < NTRACK; p = strtok_r(NULL, ":", &save))
		track[ntrack++] = strdup(p);
	free(copy);
}

static void put(const char *fmt, ...)
{
	char buf[2 * PATH_MAX + 256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (jfd < 0 || n <= 0)
		return;
	if ((size_t)n >= sizeof(buf))
		n = sizeof(buf) - 1;
	RESOLVE(write);
	(void)!real_write(jfd, buf, (size_t)n);
	if (kill_at && __atomic_add_fetch(&records, 1, __ATOMIC_SEQ_CST) == kill_at)
		kill(0, SIGKILL);
}

/* The absolute, normalised name of PATH (relative to DIRFD): the directory
 * part through realpath, the last component as it is. */
static bool abspath(int dirfd, const char *path, char *out)
{
	char joined[2 * PATH_MAX], dir[PATH_MAX];

	if (path[0] == '/') {
		snprintf(joined, sizeof(joined), "%s", path);
	} else {
		char base[PATH_MAX];
		if (!shim_dir_path(dirfd, base, sizeof(base)))
			return false;
		snprintf(joined, sizeof(joined), "%s/%s", base, path);
	}
	size_t len = strlen(joined);
	while (len > 1 && joined[len - 1] == '/')
		joined[--len] = '\0';
	char *slash = strrchr(joined, '/');
	const char *last = slash + 1;
	if (slash == joined)
		snprintf(dir, sizeof(dir), "/");
	else {
		*slash = '\0';
		if (!realpath(joined, dir))
			return false;
	}
	if (strcmp(last, ".") == 0 || strcmp(last, "..") == 0) {
		char full[2 * PATH_MAX];
		snprintf(full, sizeof(full), "%s/%s", dir, last);
		return realpath(full, out) != NULL;
	}
	snprintf(out, PATH_MAX, "%s%s%s", dir, strcmp(dir, "/") == 0 ? "" : "/", last);
	return true;
}

static bool under(const char *path, const char *t)
{
	size_t n = strlen(t);
	return strncmp(path, t, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* A tracked file, or (dir) a tracked directory or the directory of one. */
static bool is_tracked_path(const char *path, bool dir)
{
	for (int i = 0; i < ntrack; i++) {
		if (under(path, track[i]))
			return true;
		if (dir) {
			const char *slash = strrchr(track[i], '/');
			size_t n = slash ? (size_t)(slash - track[i]) : 0;
			if (n && strlen(path) == n && strncmp(path, track[i], n) == 0)
				return true;
		}
	}
	return false;
}

static unsigned gen_of(dev_t dev, ino_t ino, bool created)
{
	for (int i = 0; i < ngens; i++) {
		if (gens[i].dev == dev && gens[i].ino == ino) {
			if (created)
				gens[i].gen++;
			return gens[i].gen;
		}
	}
	if (ngens < NGEN) {
		gens[ngens].dev = dev;
		gens[ngens].ino = ino;
		gens[ngens].gen = created ? 1 : 0;
		return gens[ngens++].gen;
	}
	return 999999;
}

static bool tracked(int fd)
{
	return jfd >= 0 && fd >= 0 && fd < FDMAX && fds[fd].tracked;
}

static void after_open(int fd, int dirfd, const char *path, int flags, bool existed)
{
	char abs[PATH_MAX];
	struct stat st;

	if (jfd < 0 || fd < 0 || fd >= FDMAX)
		return;
	pthread_mutex_lock(&mu);
	fds[fd].tracked = false;
	if (abspath(dirfd, path, abs) && fstat(fd, &st) == 0 &&
	    is_tracked_path(abs, S_ISDIR(st.st_mode))) {
		bool created = (flags & O_CREAT) && !existed;
		struct fdinfo *f = &fds[fd];
		f->tracked = true;
		f->dir = S_ISDIR(st.st_mode);
		snprintf(f->path, sizeof(f->path), "%s", abs);
		snprintf(f->id, sizeof(f->id), "%llu:%llu:%u", (unsigned long long)st.st_dev,
			 (unsigned long long)st.st_ino, gen_of(st.st_dev, st.st_ino, created));
		if (!f->dir)
			put("O %d %s %d %d %d %s\n", getpid(), f->id, flags, created ? 1 : 0,
			    (flags & O_TRUNC) && !created ? 1 : 0, abs);
	}
	pthread_mutex_unlock(&mu);
}

static bool exists_at(int dirfd, const char *path)
{
	struct stat st;
	return fstatat(dirfd, path, &st, 0) == 0;
}

static int do_open(int dirfd, const char *path, int flags, mode_t mode,
		   int (*fn)(int, const char *, int, ...))
{
	bool existed = (flags & O_CREAT) ? exists_at(dirfd, path) : true;
	int fd = fn(dirfd, path, flags, mode);
	if (fd >= 0)
		after_open(fd, dirfd, path, flags, existed);
	return fd;
}

static mode_t mode_arg(int flags, va_list ap)
{
	return (flags & (O_CREAT | __O_TMPFILE)) ? (mode_t)va_arg(ap, int) : 0;
}

int open(const char *path, int flags, ...)
{
	va_list ap;
	va_start(ap, flags);
	mode_t mode = mode_arg(flags, ap);
	va_end(ap);
	return do_open(AT_FDCWD, path, flags, mode, RESOLVE(openat));
}

int open64(const char *path, int flags, ...)
{
	va_list ap;
	va_start(ap, flags);
	mode_t mode = mode_arg(flags, ap);
	va_end(ap);
	return do_open(AT_FDCWD, path, flags, mode, RESOLVE(openat64));
}

int openat(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	va_start(ap, flags);
	mode_t mode = mode_arg(flags, ap);
	va_end(ap);
	return do_open(dirfd, path, flags, mode, RESOLVE(openat));
}

int openat64(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	va_start(ap, flags);
	mode_t mode = mode_arg(flags, ap);
	va_end(ap);
	return do_open(dirfd, path, flags, mode, RESOLVE(openat64));
}

int __open_2(const char *path, int flags) { return do_open(AT_FDCWD, path, flags, 0, RESOLVE(openat)); }
int __open64_2(const char *path, int flags) { return do_open(AT_FDCWD, path, flags, 0, RESOLVE(openat64)); }

int creat(const char *path, mode_t mode)
{
	return do_open(AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode, RESOLVE(openat));
}

int close(int fd)
{
	if (fd >= 0 && fd < FDMAX && fds)
		fds[fd].tracked = false;
	return RESOLVE(close)(fd);
}

static void copy_fd(int from, int to)
{
	if (!fds || from < 0 || from >= FDMAX || to < 0 || to >= FDMAX)
		return;
	pthread_mutex_lock(&mu);
	fds[to] = fds[from];
	pthread_mutex_unlock(&mu);
}

int dup(int fd)
{
	int r = RESOLVE(dup)(fd);
	if (r >= 0)
		copy_fd(fd, r);
	return r;
}

int dup2(int fd, int to)
{
	int r = RESOLVE(dup2)(fd, to);
	if (r >= 0 && r != fd)
		copy_fd(fd, r);
	return r;
}

int dup3(int fd, int to, int flags)
{
	int r = RESOLVE(dup3)(fd, to, flags);
	if (r >= 0)
		copy_fd(fd, r);
	return r;
}

static void log_write(int fd, unsigned long long off, const void *buf, size_t len)
{
	const char *p = buf;
	size_t left = len;

	pthread_mutex_lock(&mu);
	unsigned long long at = doff;
	while (left) {
		ssize_t n = real_write(dfd, p, left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		p += n;
		left -= (size_t)n;
	}
	doff += len - left;
	if (left == 0)
		put("W %d %s %llu %zu %llu\n", getpid(), fds[fd].id, off, len, at);
	else
		put("X %d short-journal %s\n", getpid(), fds[fd].path);
	pthread_mutex_unlock(&mu);
}

ssize_t write(int fd, const void *buf, size_t len)
{
	RESOLVE(write);
	if (!tracked(fd))
		return real_write(fd, buf, len);
	int saved = errno;
	off_t off = lseek(fd, 0, SEEK_CUR);
	int fl = fcntl(fd, F_GETFL);
	struct stat st;
	if (fl >= 0 && (fl & O_APPEND) && fstat(fd, &st) == 0)
		off = st.st_size;
	errno = saved;
	ssize_t r = real_write(fd, buf, len);
	saved = errno;
	if (r > 0)
		log_write(fd, off < 0 ? 0 : (unsigned long long)off, buf, (size_t)r);
	if (r > 0 && off < 0)
		put("X %d write-unseekable %s\n", getpid(), fds[fd].path);
	errno = saved;
	return r;
}

ssize_t pwrite(int fd, const void *buf, size_t len, off_t off)
{
	ssize_t r = RESOLVE(pwrite)(fd, buf, len, off);
	int saved = errno;
	if (r > 0 && tracked(fd))
		log_write(fd, (unsigned long long)off, buf, (size_t)r);
	errno = saved;
	return r;
}

ssize_t pwrite64(int fd, const void *buf, size_t len, off_t off)
{
	ssize_t r = RESOLVE(pwrite64)(fd, buf, len, off);
	int saved = errno;
	if (r > 0 && tracked(fd))
		log_write(fd, (unsigned long long)off, buf, (size_t)r);
	errno = saved;
	return r;
}

static void unsupported(int fd, const char *what)
{
	int saved = errno;
	if (tracked(fd))
		put("X %d %s %s\n", getpid(), what, fds[fd].path);
	errno = saved;
}

ssize_t writev(int fd, const struct iovec *iov, int n)
{
	unsupported(fd, "writev");
	return RESOLVE(writev)(fd, iov, n);
}

ssize_t pwritev(int fd, const struct iovec *iov, int n, off_t off)
{
	unsupported(fd, "pwritev");
	return RESOLVE(pwritev)(fd, iov, n, off);
}

static void log_sync(int fd)
{
	int saved = errno;
	pthread_mutex_lock(&mu);
	if (fds[fd].dir)
		put("D %d %s\n", getpid(), fds[fd].path);
	else
		put("F %d %s\n", getpid(), fds[fd].id);
	pthread_mutex_unlock(&mu);
	errno = saved;
}

int fsync(int fd)
{
	int r = RESOLVE(fsync)(fd);
	if (r == 0 && tracked(fd))
		log_sync(fd);
	return r;
}

int fdatasync(int fd)
{
	int r = RESOLVE(fdatasync)(fd);
	if (r == 0 && tracked(fd))
		log_sync(fd);
	return r;
}

int sync_file_range(int fd, off64_t off, off64_t len, unsigned int flags)
{
	int r = RESOLVE(sync_file_range)(fd, off, len, flags);
	int saved = errno;
	if (r == 0 && tracked(fd))
		put("S %d %s %lld %lld %u\n", getpid(), fds[fd].id, (long long)off, (long long)len, flags);
	errno = saved;
	return r;
}

void sync(void)
{
	RESOLVE(sync)();
	if (jfd >= 0)
		put("G %d\n", getpid());
}

int syncfs(int fd)
{
	int r = RESOLVE(syncfs)(fd);
	int saved = errno;
	char link[64], path[PATH_MAX];
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	ssize_t n = jfd >= 0 ? readlink(link, path, sizeof(path) - 1) : -1;
	if (n > 0) {
		path[n] = '\0';
		if (r == 0 && is_tracked_path(path, true))
			put("G %d\n", getpid());
	}
	errno = saved;
	return r;
}

static int log_rename(int r, int olddir, const char *old, int newdir, const char *new_,
		      const char *oldabs, const char *newabs, bool ok)
{
	(void)olddir, (void)old, (void)newdir, (void)new_;
	int saved = errno;
	if (r == 0 && jfd >= 0 && ok &&
	    (is_tracked_path(oldabs, false) || is_tracked_path(newabs, false)))
		put("R %d %s %s\n", getpid(), oldabs, newabs);
	errno = saved;
	return r;
}

int renameat2(int olddir, const char *old, int newdir, const char *new_, unsigned int flags)
{
	char a[PATH_MAX], b[PATH_MAX];
	bool ok = jfd >= 0 && abspath(olddir, old, a) && abspath(newdir, new_, b);
	int r = RESOLVE(renameat2)(olddir, old, newdir, new_, flags);
	if (r == 0 && ok && flags && (is_tracked_path(a, false) || is_tracked_path(b, false)))
		put("X %d renameat2-flags %s\n", getpid(), a);
	return log_rename(r, olddir, old, newdir, new_, a, b, ok && !flags);
}

int renameat(int olddir, const char *old, int newdir, const char *new_)
{
	char a[PATH_MAX], b[PATH_MAX];
	bool ok = jfd >= 0 && abspath(olddir, old, a) && abspath(newdir, new_, b);
	return log_rename(RESOLVE(renameat)(olddir, old, newdir, new_), olddir, old, newdir, new_, a,
			  b, ok);
}

int rename(const char *old, const char *new_)
{
	char a[PATH_MAX], b[PATH_MAX];
	bool ok = jfd >= 0 && abspath(AT_FDCWD, old, a) && abspath(AT_FDCWD, new_, b);
	return log_rename(RESOLVE(rename)(old, new_), AT_FDCWD, old, AT_FDCWD, new_, a, b, ok);
}

static int log_unlink(int r, bool ok, const char *abs)
{
	int saved = errno;
	if (r == 0 && ok && is_tracked_path(abs, false))
		put("U %d %s\n", getpid(), abs);
	errno = saved;
	return r;
}

int unlink(const char *path)
{
	char a[PATH_MAX];
	bool ok = jfd >= 0 && abspath(AT_FDCWD, path, a);
	return log_unlink(RESOLVE(unlink)(path), ok, a);
}

int unlinkat(int dirfd, const char *path, int flags)
{
	char a[PATH_MAX];
	bool ok = jfd >= 0 && !(flags & AT_REMOVEDIR) && abspath(dirfd, path, a);
	return log_unlink(RESOLVE(unlinkat)(dirfd, path, flags), ok, a);
}

static int log_truncate(int r, int fd, off_t len)
{
	int saved = errno;
	if (r == 0 && tracked(fd))
		put("T %d %s %lld\n", getpid(), fds[fd].id, (long long)len);
	errno = saved;
	return r;
}

int ftruncate(int fd, off_t len) { return log_truncate(RESOLVE(ftruncate)(fd, len), fd, len); }
int ftruncate64(int fd, off_t len) { return log_truncate(RESOLVE(ftruncate64)(fd, len), fd, len); }

int truncate(const char *path, off_t len)
{
	char a[PATH_MAX];
	if (jfd >= 0 && abspath(AT_FDCWD, path, a) && is_tracked_path(a, false))
		put("X %d truncate-by-path %s\n", getpid(), a);
	return RESOLVE(truncate)(path, len);
}

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	if ((prot & PROT_WRITE) && (flags & MAP_SHARED))
		unsupported(fd, "mmap-shared-write");
	return RESOLVE(mmap)(addr, len, prot, flags, fd, off);
}

static void check_fopen(const char *path, const char *mode)
{
	char a[PATH_MAX];
	if (jfd >= 0 && strpbrk(mode, "wa+") && abspath(AT_FDCWD, path, a) &&
	    is_tracked_path(a, false))
		put("X %d fopen-for-writing %s\n", getpid(), a);
}

FILE *fopen(const char *path, const char *mode)
{
	check_fopen(path, mode);
	return RESOLVE(fopen)(path, mode);
}

FILE *fopen64(const char *path, const char *mode)
{
	check_fopen(path, mode);
	return RESOLVE(fopen64)(path, mode);
}

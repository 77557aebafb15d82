/* cutter: an LD_PRELOAD shim that counts the file-system changes a process
 * tree makes under one directory and kills the whole process group with
 * SIGKILL right after the Nth one: a power cut between two steps of
 * libostree's pull and deploy, at a finer grain than its progress callback
 * (about once a second) gives. the ostree power-cut runs use it (tests/powercut/backend-ostree.sh).
 *
 *   CUT_ROOT=DIR        count only changes to paths under DIR (a real path)
 *   CUT_COUNTER=FILE    a 24-byte file of zeros shared by every process of
 *                       the tree (mapped, updated atomically): a pull running
 *                       in a child process, forked or exec'd, counts on the
 *                       same counters. Without it the count is per process.
 *   CUT_AT=N            SIGKILL to the whole session once change N has
 *                       returned (N >= 1); the test starts the program in a
 *                       session of its own (setsid). The session, not the
 *                       process group: the updater starts its helpers in
 *                       process groups of their own (lib/child.c)
 *   CUT_MATCH="KIND OP" CUT_AT counts only the changes of this kind and
 *                       operation (as CUT_LOG names them): "the 3rd rename
 *                       under /boot" stays the same change when the number
 *                       of others before it varies from run to run
 *   CUT_NOTIFY_AT=N     once change N has returned, write "N" and a newline
 *   CUT_NOTIFY=FIFO     to FIFO and go on: a test that waits on the FIFO
 *                       can kill the process itself a moment later
 *   CUT_LOG=FILE        append "N KIND OP PATH" per change (O_APPEND: whole
 *                       lines from every process); KIND is where it landed:
 *                       object (repo/objects), repo-tmp, repo, deploy
 *                       (ostree/deploy), bootlink (ostree/boot.N), boot, other
 *
 * After the cut at N, a change another thread had under way may still be
 * logged (N+1...); no call starts any more.
 *
 * A change is a call that returned success and creates, renames, links or
 * removes a name: open/openat creating a file (O_CREAT, O_TMPFILE), link,
 * linkat, symlink, symlinkat, rename, renameat, renameat2, mkdir, mkdirat,
 * unlink, unlinkat, rmdir. Writes into an open file are not counted: the
 * steps that make them visible (libostree writes an object to a temporary
 * file and links it into place) are.
 * Test code only: built by `make build/tests/libcutter.so`, never installed. */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define SHIM_NAME "cutter"
#include "shim.h"

static const char *root;
static size_t rootlen;
static unsigned long long cut_at, notify_at;
static const char *notify;
static char match_kind[32], match_op[32];
/* all: every change (the number CUT_LOG shows); matched: the changes
 * CUT_MATCH names; cut: set once the cut is decided. */
struct counters {
	uint64_t all, matched, cut;
};
static struct counters *counter, local_counter;
static int logfd = -1;

REAL(open);
REAL(open64);
REAL(openat);
REAL(openat64);
REAL(creat);
REAL(link);
REAL(linkat);
REAL(symlink);
REAL(symlinkat);
REAL(rename);
REAL(renameat);
REAL(renameat2);
REAL(mkdir);
REAL(mkdirat);
REAL(unlink);
REAL(unlinkat);
REAL(rmdir);

/* A cut aimed at a count that cannot be shared would land nowhere
 * reliable: refuse to run rather than give a wrong figure. */
static struct counters *map_counters(const char *path)
{
	struct stat st;
	int fd = RESOLVE(open)(path, O_RDWR | O_CLOEXEC);
	void *m = MAP_FAILED;

	if (fd >= 0 && fstat(fd, &st) == 0 && st.st_size >= (off_t)sizeof(struct counters))
		m = mmap(NULL, sizeof(struct counters), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (fd >= 0)
		close(fd);
	if (m == MAP_FAILED) {
		fprintf(stderr, "cutter: cannot map CUT_COUNTER %s (%zu bytes)\n", path, sizeof(struct counters));
		_exit(125);
	}
	return m;
}

/* SIGKILL to every process of this session, then to this one: the power
 * cut. The session, because a helper the updater starts (the ostree pull
 * process, a hook) runs in a process group of its own; kill(0) would leave
 * it running after the "cut", or leave the updater waiting forever for a
 * child the cut killed. A process of another session that shares the
 * counters (a daemonized gpg-agent) kills its own session here, and the
 * updater's next call kills the updater's in gate(). Scanned twice: a
 * process forked during the first scan is found by the second. */
static void kill_session(void)
{
	pid_t sid = getsid(0), self = getpid();

	for (int pass = 0; pass < 2; pass++) {
		DIR *d = opendir("/proc");
		struct dirent *e;

		while (d && (e = readdir(d))) {
			pid_t p = (pid_t)atoi(e->d_name);
			if (p > 0 && p != self && getsid(p) == sid)
				kill(p, SIGKILL);
		}
		if (d)
			closedir(d);
	}
	kill(self, SIGKILL);
	for (;;)
		pause();
}

__attribute__((constructor)) static void cutter_init(void)
{
	const char *c = getenv("CUT_COUNTER"), *l = getenv("CUT_LOG"), *at = getenv("CUT_AT");

	root = getenv("CUT_ROOT");
	if (!root || !*root) {
		root = NULL;
		return;
	}
	rootlen = strlen(root);
	while (rootlen > 1 && root[rootlen - 1] == '/')
		rootlen--;
	cut_at = at ? strtoull(at, NULL, 10) : 0;
	notify = getenv("CUT_NOTIFY");
	notify_at = notify && getenv("CUT_NOTIFY_AT") ? strtoull(getenv("CUT_NOTIFY_AT"), NULL, 10) : 0;
	const char *m = getenv("CUT_MATCH");
	if (m && sscanf(m, "%31s %31s", match_kind, match_op) != 2) {
		fprintf(stderr, "cutter: CUT_MATCH '%s' is not \"KIND OP\"\n", m);
		_exit(125);
	}
	counter = &local_counter;
	if (c)
		counter = map_counters(c);
	if (l)
		logfd = RESOLVE(open)(l, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
}

/* "DIR/NAME" for NAME relative to DIRFD: no realpath (libostree works with
 * directory descriptors, whose /proc link is already the real path). */
static bool fullpath(int dirfd, const char *path, char *out, size_t size)
{
	char base[PATH_MAX];

	if (!path)
		return false;
	if (path[0] == '/') {
		snprintf(out, size, "%s", path);
		return true;
	}
	if (!shim_dir_path(dirfd, base, sizeof(base)))
		return false;
	snprintf(out, size, "%s/%s", base, path);
	return true;
}

static const char *kind(const char *p)
{
	const char *rel = p + rootlen;
	if (strstr(rel, "/ostree/repo/objects/"))
		return "object";
	if (strstr(rel, "/ostree/repo/tmp"))
		return "repo-tmp";
	if (strstr(rel, "/ostree/repo/"))
		return "repo";
	if (strstr(rel, "/ostree/deploy/"))
		return "deploy";
	if (strstr(rel, "/ostree/boot."))
		return "bootlink";
	if (strncmp(rel, "/boot/", 6) == 0 || strcmp(rel, "/boot") == 0)
		return "boot";
	return "other";
}

/* One change to DIRFD/PATH has returned: count it, log it, and cut if it
 * is the one aimed at. */
static void changed(const char *op, int dirfd, const char *path)
{
	char p[2 * PATH_MAX];
	int saved = errno;

	if (!root || !fullpath(dirfd, path, p, sizeof(p)) || strncmp(p, root, rootlen) != 0 ||
	    (p[rootlen] != '/' && p[rootlen] != '\0')) {
		errno = saved;
		return;
	}
	unsigned long long n = __atomic_add_fetch(&counter->all, 1, __ATOMIC_SEQ_CST), aim = n;
	const char *k = kind(p);
	if (match_kind[0])
		aim = strcmp(k, match_kind) == 0 && strcmp(op, match_op) == 0
			      ? __atomic_add_fetch(&counter->matched, 1, __ATOMIC_SEQ_CST)
			      : 0;
	if (logfd >= 0) {
		char line[sizeof(p) + 128];
		int len = snprintf(line, sizeof(line), "%llu %s %s %s\n", n, k, op, p);
		if (len > 0)
			(void)!write(logfd, line, (size_t)len < sizeof(line) ? (size_t)len : sizeof(line) - 1);
	}
	if (notify_at && n == notify_at) {
		int fd = RESOLVE(open)(notify, O_WRONLY | O_CLOEXEC);
		if (fd >= 0) {
			char line[32];
			int len = snprintf(line, sizeof(line), "%llu\n", n);
			(void)!write(fd, line, (size_t)len);
			close(fd);
		}
	}
	if (cut_at && aim == cut_at) {
		/* The power cut: no cleanup. This thread goes no further. */
		__atomic_store_n(&counter->cut, 1, __ATOMIC_SEQ_CST);
		kill_session();
	}
	errno = saved;
}

/* Once the cut is decided no thread starts another call: it waits for the
 * SIGKILL on its way. A call another thread had already started may still
 * complete and be counted (N+1, ...): two threads mid-write when the power
 * goes. */
static void gate(void)
{
	if (cut_at && __atomic_load_n(&counter->cut, __ATOMIC_SEQ_CST))
		kill_session();
}

static bool creates(int flags) { return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE; }

#define OPEN_BODY(call, dirfd)                                   \
	mode_t mode = 0;                                         \
	if (creates(flags)) {                                    \
		va_list ap;                                      \
		va_start(ap, flags);                             \
		mode = va_arg(ap, mode_t);                       \
		va_end(ap);                                      \
	}                                                        \
	gate();                                                  \
	int fd = call;                                           \
	if (fd >= 0 && creates(flags))                           \
		changed((flags & O_TMPFILE) == O_TMPFILE ? "tmpfile" : "create", dirfd, path); \
	return fd;

int open(const char *path, int flags, ...) { OPEN_BODY(RESOLVE(open)(path, flags, mode), AT_FDCWD) }
int open64(const char *path, int flags, ...) { OPEN_BODY(RESOLVE(open64)(path, flags, mode), AT_FDCWD) }
int openat(int dirfd, const char *path, int flags, ...)
{
	OPEN_BODY(RESOLVE(openat)(dirfd, path, flags, mode), dirfd)
}
int openat64(int dirfd, const char *path, int flags, ...)
{
	OPEN_BODY(RESOLVE(openat64)(dirfd, path, flags, mode), dirfd)
}

int creat(const char *path, mode_t mode)
{
	gate();
	int fd = RESOLVE(creat)(path, mode);
	if (fd >= 0)
		changed("create", AT_FDCWD, path);
	return fd;
}

int link(const char *old, const char *new)
{
	gate();
	int rc = RESOLVE(link)(old, new);
	if (rc == 0)
		changed("link", AT_FDCWD, new);
	return rc;
}

int linkat(int olddirfd, const char *old, int newdirfd, const char *new, int flags)
{
	gate();
	int rc = RESOLVE(linkat)(olddirfd, old, newdirfd, new, flags);
	if (rc == 0)
		changed("link", newdirfd, new);
	return rc;
}

int symlink(const char *target, const char *path)
{
	gate();
	int rc = RESOLVE(symlink)(target, path);
	if (rc == 0)
		changed("symlink", AT_FDCWD, path);
	return rc;
}

int symlinkat(const char *target, int dirfd, const char *path)
{
	gate();
	int rc = RESOLVE(symlinkat)(target, dirfd, path);
	if (rc == 0)
		changed("symlink", dirfd, path);
	return rc;
}

int rename(const char *old, const char *new)
{
	gate();
	int rc = RESOLVE(rename)(old, new);
	if (rc == 0)
		changed("rename", AT_FDCWD, new);
	return rc;
}

int renameat(int olddirfd, const char *old, int newdirfd, const char *new)
{
	gate();
	int rc = RESOLVE(renameat)(olddirfd, old, newdirfd, new);
	if (rc == 0)
		changed("rename", newdirfd, new);
	return rc;
}

int renameat2(int olddirfd, const char *old, int newdirfd, const char *new, unsigned int flags)
{
	gate();
	int rc = RESOLVE(renameat2)(olddirfd, old, newdirfd, new, flags);
	if (rc == 0)
		changed("rename", newdirfd, new);
	return rc;
}

int mkdir(const char *path, mode_t mode)
{
	gate();
	int rc = RESOLVE(mkdir)(path, mode);
	if (rc == 0)
		changed("mkdir", AT_FDCWD, path);
	return rc;
}

int mkdirat(int dirfd, const char *path, mode_t mode)
{
	gate();
	int rc = RESOLVE(mkdirat)(dirfd, path, mode);
	if (rc == 0)
		changed("mkdir", dirfd, path);
	return rc;
}

int unlink(const char *path)
{
	gate();
	int rc = RESOLVE(unlink)(path);
	if (rc == 0)
		changed("unlink", AT_FDCWD, path);
	return rc;
}

int unlinkat(int dirfd, const char *path, int flags)
{
	gate();
	int rc = RESOLVE(unlinkat)(dirfd, path, flags);
	if (rc == 0)
		changed((flags & AT_REMOVEDIR) ? "rmdir" : "unlink", dirfd, path);
	return rc;
}

int rmdir(const char *path)
{
	gate();
	int rc = RESOLVE(rmdir)(path);
	if (rc == 0)
		changed("rmdir", AT_FDCWD, path);
	return rc;
}

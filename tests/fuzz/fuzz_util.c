/* Helpers of the fuzz targets (fuzz.h). */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"

static char *tmpdir;

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st, (void)type, (void)ftw;
	remove(path);
	return 0;
}

/* The directory goes with the process: a replay of thousands of inputs, or
 * a fuzzing session, leaves nothing in /dev/shm. */
static void remove_tmpdir(void)
{
	if (tmpdir)
		nftw(tmpdir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(tmpdir);
	tmpdir = NULL;
}

char *fuzz_tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	char *p = NULL;

	if (!base)
		base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	if (asprintf(&p, "%s/updater-fuzz-XXXXXX", base) < 0 || !mkdtemp(p)) {
		perror("fuzz: temp dir");
		abort();
	}
	if (!tmpdir) {
		tmpdir = strdup(p);
		FUZZ_CHECK(tmpdir);
		atexit(remove_tmpdir);
	}
	return p;
}

void fuzz_write(const char *path, const uint8_t *data, size_t size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	FUZZ_CHECK(fd >= 0);
	while (size > 0) {
		ssize_t n = write(fd, data, size);
		if (n < 0 && errno == EINTR)
			continue;
		FUZZ_CHECK(n > 0);
		data += n;
		size -= (size_t)n;
	}
	FUZZ_CHECK(close(fd) == 0);
}

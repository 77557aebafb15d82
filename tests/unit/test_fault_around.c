/* fault_around_off: a fault in the registered range maps the one page that
 * faulted, where the same fault in an unregistered mapping of the same
 * cached file maps the kernel's fault-around; the data read is the file's. */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../lib/fault_around.h"

#define FILE_LEN (1 << 20)

/* A file of FILE_LEN bytes, byte i = i % 251, whole in the page cache. */
static int cached_file(char *path)
{
	int fd = mkstemp(path);
	uint8_t *buf = malloc(FILE_LEN);

	assert_true(fd >= 0);
	assert_non_null(buf);
	for (size_t i = 0; i < FILE_LEN; i++)
		buf[i] = (uint8_t)(i % 251);
	assert_int_equal(write(fd, buf, FILE_LEN), FILE_LEN);
	assert_int_equal(pread(fd, buf, FILE_LEN, 0), FILE_LEN);
	free(buf);
	return fd;
}

/* Rss after reading one byte in the middle of a fresh mapping of path, made
 * as the static delta maps its source: read-only, private, the file opened
 * read-only. */
static long rss_after_one_read(const char *path, bool off, int *uffd)
{
	long page = sysconf(_SC_PAGESIZE);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	uint8_t *m = fd < 0 ? MAP_FAILED : mmap(NULL, FILE_LEN, PROT_READ, MAP_PRIVATE, fd, 0);
	size_t at = FILE_LEN / 2 + (size_t)page + 17;

	assert_true(m != MAP_FAILED);
	close(fd);
	*uffd = off ? fault_around_off(m, FILE_LEN) : -1;
	if (off && *uffd < 0) {
		munmap(m, FILE_LEN);
		return -1;
	}
	assert_int_equal(m[at], at % 251);
	long rss = tu_rss_of(m);

	munmap(m, FILE_LEN);
	if (*uffd >= 0)
		close(*uffd);
	return rss;
}

static void test_one_page_per_fault(void **state)
{
	(void)state;
	char path[] = "/tmp/test_fault_around.XXXXXX";
	int fd = cached_file(path);
	long page_kib = sysconf(_SC_PAGESIZE) / 1024;
	int uffd;
	long with = rss_after_one_read(path, false, &uffd);
	long without = rss_after_one_read(path, true, &uffd);

	unlink(path);
	close(fd);
	if (without < 0) {
		print_message("no asynchronous write-protect userfaultfd here (%s): skipped\n",
			      strerror(-uffd));
		skip();
	}
	if (with == page_kib) {
		print_message("this kernel does no fault-around anyway: skipped\n");
		skip();
	}
	print_message("one read: %ld KiB mapped with fault-around, %ld KiB without\n", with, without);
	assert_true(with > page_kib);
	assert_int_equal(without, page_kib);
}

static int lowest_free_fd(void)
{
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	assert_true(fd >= 0);
	close(fd);
	return fd;
}

/* A range the kernel refuses (not whole pages) leaves nothing open. */
static void test_refused_range(void **state)
{
	(void)state;
	long page = sysconf(_SC_PAGESIZE);
	int free_fd = lowest_free_fd();
	uint8_t *m = mmap(NULL, (size_t)page * 2, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	assert_true(m != MAP_FAILED);
	assert_true(fault_around_off(m + 1, (size_t)page) < 0);
	assert_int_equal(lowest_free_fd(), free_fd);
	munmap(m, (size_t)page * 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_page_per_fault),
		cmocka_unit_test(test_refused_range),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

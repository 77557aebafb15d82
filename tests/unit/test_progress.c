/* lib/progress.c's JSON lines: each says its unit; a phase that completed
 * (progress_done) ends with done == total, a byte total unknown until then
 * included, and all its objects; one that stopped short (progress_end) does
 * not pretend otherwise. */
#include "testutil.h"
#include "../../lib/progress.h"

/* Runs fn with stdout going to a file; returns the last line written. */
static char *last_line(void (*fn)(void))
{
	static char last[512];
	char line[512];
	char *dir = tu_mkdtemp(), *path = NULL;
	int saved = dup(STDOUT_FILENO);

	assert_non_null(dir);
	assert_true(asprintf(&path, "%s/out", dir) > 0);
	fflush(stdout);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0 && saved >= 0);
	dup2(fd, STDOUT_FILENO);
	close(fd);
	fn();
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	last[0] = '\0';
	while (fgets(line, sizeof(line), f))
		snprintf(last, sizeof(last), "%s", line);
	fclose(f);
	free(path);
	tu_rmtree(dir);
	return last;
}

static void download_done(void)
{
	progress_init(PROGRESS_JSON);
	progress_begin("download", 0);
	progress_objects(3, 10);
	progress_update(5000);
	progress_objects(10, 12);
	progress_update(7000);
	progress_done();
}

static void verify_done(void)
{
	progress_init(PROGRESS_JSON);
	progress_begin_objects("verify", 4);
	for (uint64_t i = 1; i <= 4; i++)
		progress_update(i);
	progress_done();
}

static void download_cut(void)
{
	progress_init(PROGRESS_JSON);
	progress_begin("download", 0);
	progress_objects(3, 10);
	progress_update(5000);
	progress_end();
}

static void install_moved(void)
{
	progress_init(PROGRESS_JSON);
	progress_begin("install", 9000);
	progress_transfer(4000, 8192, 4096);
	progress_update(4000);
	progress_transfer(9000, 16384, 4113);
	progress_update(9000);
	progress_end();
}

static void test_download_done(void **state)
{
	(void)state;
	const char *l = last_line(download_done);
	assert_non_null(strstr(l, "{\"type\":\"progress\",\"phase\":\"download\",\"unit\":\"bytes\","
				  "\"done\":7000,\"total\":7000,\"rate\":"));
	assert_non_null(strstr(l, ",\"objects\":12,\"objects_total\":12,\"final\":true}\n"));
}

static void test_verify_counts_objects(void **state)
{
	(void)state;
	const char *l = last_line(verify_done);
	assert_non_null(strstr(l, "\"phase\":\"verify\",\"unit\":\"objects\",\"done\":4,\"total\":4,"));
	assert_non_null(strstr(l, "\"final\":true}"));
}

static void test_cut_is_not_complete(void **state)
{
	(void)state;
	const char *l = last_line(download_cut);
	assert_non_null(strstr(l, "\"done\":5000,\"total\":0,"));
	assert_non_null(strstr(l, "\"objects\":3,\"objects_total\":10,\"final\":true}"));
}

/* A phase that writes a slot says what it downloaded, found already there
 * and wrote; its last line carries the last counts given. */
static void test_install_says_what_it_moved(void **state)
{
	(void)state;
	const char *l = last_line(install_moved);
	assert_non_null(strstr(l, "\"phase\":\"install\",\"unit\":\"bytes\",\"done\":9000,\"total\":9000,"));
	assert_non_null(strstr(l, ",\"downloaded\":9000,\"reused\":16384,\"written\":4113,\"final\":true}"));
	/* Other phases do not carry them. */
	l = last_line(verify_done);
	assert_null(strstr(l, "\"written\""));
}

TU_MAIN(NULL, NULL, cmocka_unit_test(test_install_says_what_it_moved), cmocka_unit_test(test_download_done), cmocka_unit_test(test_verify_counts_objects),
	cmocka_unit_test(test_cut_is_not_complete))

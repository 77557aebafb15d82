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

/* A phase run and what the last line it writes holds, or must not. */
struct last_line_case {
	void (*run)(void);
	const char *has[2];
	const char *lacks;
};

static const struct last_line_case download_is_done = {
	download_done,
	{ "{\"type\":\"progress\",\"phase\":\"download\",\"unit\":\"bytes\","
	  "\"done\":7000,\"total\":7000,\"rate\":",
	  ",\"objects\":12,\"objects_total\":12,\"final\":true}\n" },
	NULL,
};

/* Only a phase that writes a slot carries the transfer counts. */
static const struct last_line_case verify_counts_objects = {
	verify_done,
	{ "\"phase\":\"verify\",\"unit\":\"objects\",\"done\":4,\"total\":4,", "\"final\":true}" },
	"\"written\"",
};

static const struct last_line_case cut_is_not_complete = {
	download_cut,
	{ "\"done\":5000,\"total\":0,", "\"objects\":3,\"objects_total\":10,\"final\":true}" },
	NULL,
};

/* A phase that writes a slot says what it downloaded, found already there
 * and wrote; its last line carries the last counts given. */
static const struct last_line_case install_says_what_it_moved = {
	install_moved,
	{ "\"phase\":\"install\",\"unit\":\"bytes\",\"done\":9000,\"total\":9000,",
	  ",\"downloaded\":9000,\"reused\":16384,\"written\":4113,\"final\":true}" },
	NULL,
};

static void test_last_line(void **state)
{
	const struct last_line_case *c = *state;
	const char *l = last_line(c->run);

	for (size_t i = 0; i < sizeof(c->has) / sizeof(c->has[0]); i++)
		if (!strstr(l, c->has[i]))
			fail_msg("last line \"%s\" lacks \"%s\"", l, c->has[i]);
	if (c->lacks && strstr(l, c->lacks))
		fail_msg("last line \"%s\" has \"%s\"", l, c->lacks);
}

#define CASE(c) { "test_" #c, test_last_line, NULL, NULL, (void *)&c }
TU_MAIN(NULL, NULL, CASE(install_says_what_it_moved), CASE(download_is_done),
	CASE(verify_counts_objects), CASE(cut_is_not_complete))

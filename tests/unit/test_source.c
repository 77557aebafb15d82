/* lib/source*.c against tests/lib/httpd.py (run as a child process) and
 * local files: exact delivery, ranges, resume after faults, error classes. */
#include "testutil.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "../../lib/digest.h"
#include "../../lib/log.h"
#include "../../lib/source.h"

#define DATA_LEN ((size_t)3 * 1024 * 1024 + 12345)
#define SMALL_LEN 100
#define MAX_SERVERS 3

struct server {
	pid_t pid;
	int port;
	char base[64];       /* http(s)://127.0.0.1:PORT */
	char log[PATH_MAX];
};

static char *tmp;           /* everything the tests create lives here */
static char root[PATH_MAX]; /* served by httpd.py */
static char big[PATH_MAX + 32], small[PATH_MAX + 32], empty[PATH_MAX + 32];
static char tls_cert[PATH_MAX], tls_key[PATH_MAX];
static int have_tls;
static char httpd[PATH_MAX];
static uint8_t *data;
static struct server servers[MAX_SERVERS];
static int nservers, server_seq;

/* ------------------------------------------------------------- fixtures */

static int find_httpd(void)
{
	char exe[PATH_MAX], cand[PATH_MAX + 32];
	const char *env = getenv("UPDATER_HTTPD");
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (env)
		return realpath(env, httpd) ? 0 : -1;
	if (realpath("tests/lib/httpd.py", httpd))
		return 0;
	if (n <= 0)
		return -1;
	exe[n] = '\0';
	for (int up = 1; up <= 4; up++) { /* build/tests/x, build/san/tests/x */
		char *slash = strrchr(exe, '/');
		if (!slash)
			break;
		*slash = '\0';
		snprintf(cand, sizeof(cand), "%s/tests/lib/httpd.py", exe);
		if (realpath(cand, httpd))
			return 0;
	}
	return -1;
}

static void fill_random(uint8_t *p, size_t n)
{
	uint64_t s = 0x9e3779b97f4a7c15ULL; /* fixed seed: failures reproduce */
	for (size_t i = 0; i < n; i++) {
		s ^= s << 13;
		s ^= s >> 7;
		s ^= s << 17;
		p[i] = (uint8_t)(s >> 24);
	}
}

static void make_tls_cert(void)
{
	char cmd[4 * PATH_MAX];
	snprintf(tls_cert, sizeof(tls_cert), "%s/cert.pem", tmp);
	snprintf(tls_key, sizeof(tls_key), "%s/key.pem", tmp);
	snprintf(cmd, sizeof(cmd),
		 "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
		 "-days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 "
		 "-keyout '%s' -out '%s' >/dev/null 2>&1",
		 tls_key, tls_cert);
	have_tls = system(cmd) == 0;
	if (!have_tls)
		fprintf(stderr, "note: openssl failed; TLS tests skipped\n");
}

static int group_setup(void **state)
{
	(void)state;
	/* The tests talk to 127.0.0.1; a proxy from the environment would
	 * intercept them. */
	const char *proxies[] = {"http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY",
				 "all_proxy", "ALL_PROXY"};
	for (size_t i = 0; i < sizeof(proxies) / sizeof(proxies[0]); i++)
		unsetenv(proxies[i]);
	if (find_httpd() < 0) {
		fprintf(stderr, "tests/lib/httpd.py not found (set UPDATER_HTTPD)\n");
		return -1;
	}
	tmp = tu_mkdtemp();
	data = malloc(DATA_LEN);
	if (!tmp || !data)
		return -1;
	fill_random(data, DATA_LEN);
	snprintf(root, sizeof(root), "%s/www", tmp);
	snprintf(big, sizeof(big), "%s/bundle.upd", root);
	snprintf(small, sizeof(small), "%s/small file.upd", root);
	snprintf(empty, sizeof(empty), "%s/empty.upd", root);
	if (mkdir(root, 0755) < 0 || tu_write_file(big, (const char *)data, DATA_LEN) < 0 ||
	    tu_write_file(small, (const char *)data, SMALL_LEN) < 0 || tu_write_file(empty, "", 0) < 0)
		return -1;
	make_tls_cert();
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	tu_rmtree(tmp);
	free(data);
	curl_global_cleanup(); /* so valgrind sees no leaks from libcurl's init */
	return 0;
}

/* Stops every server of the test with SIGTERM; fails if one does not exit
 * 0 within 5 s (httpd.py must stop cleanly, even with stalled requests). */
static int stop_servers(void **state)
{
	int bad = 0;
	(void)state;
	for (int i = 0; i < nservers; i++) {
		int status = 0;
		pid_t r = 0;
		kill(servers[i].pid, SIGTERM);
		for (int t = 0; t < 500 && (r = waitpid(servers[i].pid, &status, WNOHANG)) == 0; t++)
			usleep(10000);
		if (r == 0) {
			kill(servers[i].pid, SIGKILL);
			waitpid(servers[i].pid, &status, 0);
		}
		if (r == 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			fprintf(stderr, "httpd pid %d did not stop cleanly (status 0x%x)\n",
				(int)servers[i].pid, status);
			bad = 1;
		}
	}
	nservers = 0;
	return bad ? -1 : 0;
}

static void exec_httpd(const char *portfile, const char *log, int tls, const char **faults)
{
	const char *argv[32];
	const char *python = getenv("PYTHON");
	int n = 0;

	argv[n++] = python ? python : "python3";
	argv[n++] = httpd;
	argv[n++] = "--root";
	argv[n++] = root;
	argv[n++] = "--port-file";
	argv[n++] = portfile;
	argv[n++] = "--log";
	argv[n++] = log;
	if (tls) {
		argv[n++] = "--tls-cert";
		argv[n++] = tls_cert;
		argv[n++] = "--tls-key";
		argv[n++] = tls_key;
	}
	for (; *faults && n < 30; faults++) {
		argv[n++] = "--fault";
		argv[n++] = *faults;
	}
	argv[n] = NULL;
	execvp(argv[0], (char *const *)argv);
	_exit(127);
}

/* Waits for the port file httpd.py writes once it listens. */
static int wait_port(pid_t pid, const char *portfile)
{
	for (int t = 0; t < 1000; t++) {
		char *s = tu_read_file(portfile, NULL);
		int port = s ? atoi(s) : 0;
		free(s);
		if (port > 0)
			return port;
		if (waitpid(pid, NULL, WNOHANG) == pid)
			return -1;
		usleep(10000);
	}
	return -1;
}

/* Starts httpd.py with the given faults (NULL-terminated) and returns it. */
static struct server *start(int tls, const char **faults)
{
	char portfile[PATH_MAX];
	struct server *s = &servers[nservers];

	assert_true(nservers < MAX_SERVERS);
	snprintf(portfile, sizeof(portfile), "%s/port.%d", tmp, server_seq);
	snprintf(s->log, sizeof(s->log), "%s/httpd.%d.log", tmp, server_seq++);
	s->pid = fork();
	assert_true(s->pid >= 0);
	if (s->pid == 0)
		exec_httpd(portfile, s->log, tls, faults);
	nservers++;
	s->port = wait_port(s->pid, portfile);
	assert_true(s->port > 0);
	snprintf(s->base, sizeof(s->base), "%s://127.0.0.1:%d", tls ? "https" : "http", s->port);
	return s;
}

#define START(...) start(0, (const char *[]){__VA_ARGS__, NULL})
#define START_PLAIN() start(0, (const char *[]){NULL})
#define START_TLS(...) start(1, (const char *[]){__VA_ARGS__, NULL})

/* How often needle occurs in the server's log. The server logs a request
 * after its last byte is sent, so wait a little for `expect` lines. */
static int log_count(const struct server *s, const char *needle, int expect)
{
	int n = 0;
	for (int t = 0; t < 200; t++) {
		char *log = tu_read_file(s->log, NULL);
		n = 0;
		for (const char *p = log; p && (p = strstr(p, needle)); p++)
			n++;
		free(log);
		if (n >= expect)
			break;
		usleep(10000);
	}
	return n;
}

static int log_has(const struct server *s, const char *needle) { return log_count(s, needle, 1) > 0; }

/* ---------------------------------------------------------------- sinks */

struct check {
	uint64_t base;  /* source offset of the first byte expected */
	uint64_t got;
	size_t calls;
	int mismatch;
	size_t fail_at; /* call number (1-based) that fails, 0 = never */
};

/* Compares every chunk against the file's bytes at its place. */
static int check_sink(void *user, const uint8_t *d, size_t n, struct error *e)
{
	struct check *c = user;
	if (++c->calls == c->fail_at)
		return err_set(e, UPD_EXIT_NOSPACE, ENOSPC, "write slot: no space left (test)");
	if (n == 0 || c->base + c->got + n > DATA_LEN || memcmp(d, data + c->base + c->got, n) != 0)
		c->mismatch = 1;
	c->got += n;
	return 0;
}

static char url[PATH_MAX + 64];

static const char *at(const struct server *s, const char *path)
{
	snprintf(url, sizeof(url), "%s%s", s->base, path);
	return url;
}

static struct source_opts opts(const char *location, int retries)
{
	struct source_opts o = {.location = location, .timeout_s = 5, .retries = retries};
	return o;
}

static int stream(const struct source_opts *o, uint64_t off, uint64_t len, struct check *c,
		  struct error *e)
{
	c->base = off;
	err_clear(e);
	return source_stream(o, off, len, check_sink, c, e);
}

/* A download from a server started with FAULT that fails: a stream of LEN
 * bytes from 0 with RETRIES retries returns RC (0: any negative value), a
 * download failure (exit 4) whose message holds MSG. Fills *c and *e. */
struct failing {
	const char *fault;
	int retries;
	uint64_t len;
	int rc;
	const char *msg;
};

static struct server *stream_fails(struct failing f, struct check *c, struct error *e)
{
	struct server *s = START(f.fault);
	struct source_opts o = opts(at(s, "/bundle.upd"), f.retries);
	int rc = stream(&o, 0, f.len, c, e);

	if (f.rc)
		assert_int_equal(rc, f.rc);
	else
		assert_true(rc < 0);
	assert_int_equal(e->exit, UPD_EXIT_DOWNLOAD);
	assert_non_null(strstr(e->msg, f.msg));
	return s;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Runs with stderr in a file, to see what was logged. */
static int stderr_to(const char *path)
{
	int saved = dup(2), fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(saved >= 0 && fd >= 0);
	fflush(stderr);
	dup2(fd, 2);
	close(fd);
	return saved;
}

static void stderr_back(int saved)
{
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
}

static int count_in_file(const char *path, const char *needle)
{
	char *s = tu_read_file(path, NULL);
	int n = 0;
	for (const char *p = s; p && (p = strstr(p, needle)); p++)
		n++;
	free(s);
	return n;
}

/* ---------------------------------------------------------------- tests */

static void test_is_url(void **state)
{
	(void)state;
	assert_true(source_is_url("http://h/x"));
	assert_true(source_is_url("HTTPS://h/x"));
	assert_false(source_is_url("file:///x"));
	assert_false(source_is_url("/tmp/x.upd"));
	assert_false(source_is_url("ftp://h/x"));
	assert_false(source_is_url(NULL));
}

static void test_stream_full(void **state)
{
	struct server *s = START_PLAIN();
	struct source_opts o = opts(at(s, "/bundle.upd"), 0);
	struct check c = {0};
	struct error e = {0};
	(void)state;

	assert_int_equal(stream(&o, 0, DATA_LEN, &c, &e), 0);
	assert_int_equal(c.got, DATA_LEN);
	assert_false(c.mismatch);
	assert_true(c.calls > 1); /* chunks as they arrive, not one buffer */
	assert_int_equal(log_count(s, "GET /bundle.upd", 1), 1);
	char want[64];
	snprintf(want, sizeof(want), "range=bytes=0-%zu status=206", DATA_LEN - 1);
	assert_true(log_has(s, want));
}

static void test_stream_range(void **state)
{
	struct server *s = START_PLAIN();
	struct source_opts o = opts(at(s, "/bundle.upd"), 0);
	struct check c = {0};
	struct error e = {0};
	(void)state;

	assert_int_equal(stream(&o, 1000003, 777777, &c, &e), 0);
	assert_int_equal(c.got, 777777);
	assert_false(c.mismatch);
	assert_true(log_has(s, "range=bytes=1000003-1777779 status=206 sent=777777"));
	/* length 0 is a no-op, not a request */
	assert_int_equal(stream(&o, 5, 0, &c, &e), 0);
	assert_int_equal(log_count(s, "GET", 1), 1);
}

static void test_stream_no_range_offset(void **state)
{
	struct server *s = START("no-range");
	struct source_opts o = opts(at(s, "/bundle.upd"), 0);
	struct check c = {0};
	struct error e = {0};
	(void)state;

	/* A 200 to a range request: the bytes before the offset are skipped,
	 * and the transfer is cut once the range is in. */
	assert_int_equal(stream(&o, 2000000, 500000, &c, &e), 0);
	assert_int_equal(c.got, 500000);
	assert_false(c.mismatch);
	assert_true(log_has(s, "status=200"));
}

static void test_read_head(void **state)
{
	struct server *s = START_PLAIN();
	struct source_opts o = opts(at(s, "/bundle.upd"), 0);
	uint8_t buf[4096];
	size_t len = 1;
	uint64_t total = 0;
	struct error e = {0};
	(void)state;

	assert_int_equal(source_read_head(&o, buf, sizeof(buf), &len, &total, &e), 0);
	assert_int_equal(len, sizeof(buf));
	assert_int_equal(total, DATA_LEN);
	assert_memory_equal(buf, data, sizeof(buf));
	assert_true(log_has(s, "range=bytes=0-4095 status=206 sent=4096"));
}

static void test_read_head_no_range(void **state)
{
	struct server *s = START("no-range");
	struct source_opts o = opts(at(s, "/bundle.upd"), 0);
	uint8_t buf[4096];
	size_t len = 0;
	uint64_t total = 0;
	struct error e = {0};
	(void)state;

	assert_int_equal(source_read_head(&o, buf, sizeof(buf), &len, &total, &e), 0);
	assert_int_equal(len, sizeof(buf));
	assert_int_equal(total, DATA_LEN); /* from the 200's Content-Length */
	assert_memory_equal(buf, data, sizeof(buf));
	assert_true(log_has(s, "status=200"));
}

static void test_read_head_short(void **state)
{
	struct server *s = START_PLAIN();
	struct source_opts o = opts(at(s, "/small%20file.upd"), 0);
	uint8_t buf[4096];
	size_t len = 0;
	uint64_t total = 0;
	struct error e = {0};
	(void)state;

	/* fewer bytes than asked for is not an error */
	assert_int_equal(source_read_head(&o, buf, sizeof(buf), &len, &total, &e), 0);
	assert_int_equal(len, SMALL_LEN);
	assert_int_equal(total, SMALL_LEN);
	assert_memory_equal(buf, data, SMALL_LEN);
	/* an empty file: the server answers 416 "bytes * /0" */
	o.location = at(s, "/empty.upd");
	len = 1;
	assert_int_equal(source_read_head(&o, buf, sizeof(buf), &len, &total, &e), 0);
	assert_int_equal(len, 0);
	assert_int_equal(total, 0);
}

static void test_read_head_retry(void **state)
{
	struct server *s = START("status500-first=2");
	struct source_opts o = opts(at(s, "/bundle.upd"), 2);
	uint8_t buf[1000];
	size_t len = 0;
	uint64_t total = 0;
	struct error e = {0};
	(void)state;

	assert_int_equal(source_read_head(&o, buf, sizeof(buf), &len, &total, &e), 0);
	assert_int_equal(len, sizeof(buf));
	assert_int_equal(total, DATA_LEN);
	assert_memory_equal(buf, data, sizeof(buf));
	assert_int_equal(log_count(s, "status=500", 2), 2);
}

/* source_size: a HEAD request, the size from its Content-Length; a missing
 * file is -ENOENT without an error page downloaded; a 500 is retried. */
static void test_size(void **state)
{
	struct server *s = START("status500-first=1");
	struct source_opts o = opts(at(s, "/bundle.upd"), 2);
	uint64_t total = 0;
	struct error e = {0};
	(void)state;

	assert_int_equal(source_size(&o, &total, &e), 0);
	assert_int_equal(total, DATA_LEN);
	assert_int_equal(log_count(s, "HEAD /bundle.upd range=- status=500", 1), 1);
	assert_true(log_has(s, "HEAD /bundle.upd range=- status=200 sent=0"));
	o.location = at(s, "/nope.upd");
	assert_int_equal(source_size(&o, &total, &e), -ENOENT);
	assert_int_equal(e.exit, UPD_EXIT_DOWNLOAD);
	assert_int_equal(total, UINT64_MAX);
	assert_true(log_has(s, "HEAD /nope.upd range=- status=404 sent=0"));
	/* a local file: its size; a missing one: -ENOENT */
	err_clear(&e);
	o.location = big;
	assert_int_equal(source_size(&o, &total, &e), 0);
	assert_int_equal(total, DATA_LEN);
	o.location = "/nonexistent/updater-test.upd";
	assert_int_equal(source_size(&o, &total, &e), -ENOENT);
}

static void test_http_404(void **state)
{
	struct server *s = START("status=404");
	struct source_opts o = opts(at(s, "/bundle.upd"), 3);
	struct check c = {0};
	struct error e = {0};
	char want[256];
	(void)state;

	assert_int_equal(stream(&o, 0, DATA_LEN, &c, &e), -ENOENT);
	assert_int_equal(e.exit, UPD_EXIT_DOWNLOAD);
	snprintf(want, sizeof(want), "download %s/bundle.upd: HTTP 404 Not Found", s->base);
	assert_string_equal(e.msg, want);
	assert_int_equal(c.got, 0);
	assert_int_equal(log_count(s, "GET", 1), 1); /* 4xx is final: no retry */
}

static void test_http_404_hides_password(void **state)
{
	struct server *s = START_PLAIN();
	char loc[128];
	struct check c = {0};
	struct error e = {0};
	(void)state;

	snprintf(loc, sizeof(loc), "http://user:s3cret@127.0.0.1:%d/missing.upd", s->port);
	struct source_opts o = opts(loc, 0);
	assert_true(stream(&o, 0, 10, &c, &e) < 0);
	assert_int_equal(e.exit, UPD_EXIT_DOWNLOAD);
	assert_non_null(strstr(e.msg, "HTTP 404"));
	assert_non_null(strstr(e.msg, "/missing.upd"));
	assert_null(strstr(e.msg, "s3cret"));
}

static void test_http_500_exhausted(void **state)
{
	struct server *s = START("status=500");
	struct source_opts o = opts(at(s, "/bundle.upd"), 2);
	struct check c = {0};
	struct error e = {0};
	char errlog[PATH_MAX];
	(void)state;

	snprintf(errlog, sizeof(errlog), "%s/stderr.500", tmp);
	int saved = stderr_to(errlog);
	int rc = stream(&o, 0, DATA_LEN, &c, &e);
	stderr_back(saved);
	assert_true(rc < 0);
	assert_int_equal(e.exit, UPD_EXIT_DOWNLOAD);
	assert_non_null(strstr(e.msg, "HTTP 500 Internal Server Error after 2 retries"));
	assert_int_equal(log_count(s, "status=500", 3), 3);
	/* each retry is logged as a warning */
	assert_int_equal(count_in_file(errlog, "warning: download"), 2);
	assert_int_equal(count_in_file(errlog, "HTTP 500"), 2);
}

static void test_http_500_first(void **state)
{
	struct server *s = START("status500-first=1");
	struct source_opts o = opts(at(s, "/bundle.upd"), 2);
	struct check c = {0};
	struct error e = {0};
	(void)state;

	assert_int_equal(stream(&o, 0, DATA_LEN, &c, &e), 0);
	assert_int_equal(c.got, DATA_LEN);
	assert_false(c.mismatch);
	assert_int_equal(log_count(s, "GET", 2), 2);
}

static void test_reset_resume(void **state)
{
	struct server *s = START("reset-after=1000000:times=2");
	struct source_opts o = opts(at(s, "/bundle.upd"), 3);
	struct check c = {0};
	struct error e = {0};
	char range[64];
	(void)state;

	assert_int_equal(stream(&o, 0, DATA_LEN, &c, &e), 0);
	assert_int_equal(c.got, DATA_LEN);
	assert_false(c.mismatch);
	assert_int_equal(log_count(s, "fault=reset", 2), 2);
	assert_int_equal(log_count(s, "GET", 3), 3);
	/* the retries resumed: only the first request started at byte 0 */
	assert_int_equal(log_count(s, "range=bytes=0-", 1), 1);
	snprintf(range, sizeof(range), "-%zu status=206 sent=", DATA_LEN - 1);
	assert_int_equal(log_count(s, range, 3), 3);
}

static void test_reset_always(void **state)
{
	struct check c = {0};
	struct error e = {0};
	struct server *s = stream_fails((struct failing){"reset-after=100000", 2, DATA_LEN, 0,
							  "connection reset after 2 retries"},
					&c, &e);
	(void)state;

	assert_false(c.mismatch);
	assert_true(c.got > 0 && c.got <= 300000); /* at most 100000 per attempt */
	assert_int_equal(log_count(s, "fault=reset", 3), 3);
	assert_int_equal(log_count(s, "range=bytes=0-", 1), 1); /* retries resumed */
}

static void test_stall(void **state)
{
	struct server *s = START("stall-after=65536");
	struct source_opts o = opts(at(s, "/bundle.upd"), 1);
	struct check c = {0};
	struct error e = {0};
	(void)state;

	o.timeout_s = 1;
	double t0 = now();
	int rc = stream(&o, 0, DATA_LEN, &c, &e);
	double took = now() - t0;
	assert_int_equal(rc, -ETIMEDOUT);
	assert_int_equal(e.exit, UPD_EXIT_DOWNLOAD);
	assert_non_null(strstr(e.msg, "no data for 1 s (server stalled) after 1 retry"));
	assert_true(took < 10.0);
	assert_int_equal(c.got, 2 * 65536);
	assert_false(c.mismatch);
	assert_int_equal(log_count(s, "fault=stall", 2), 2);
}

static void test_slow_is_not_stall(void **state)
{
	struct server *s = START("drip=400000");
	struct source_opts o = opts(at(s, "/bundle.upd"), 0);
	struct check c = {0};
	struct error e = {0};
	(void)state;

	o.timeout_s = 1;
	assert_int_equal(stream(&o, 100, 300000, &c, &e), 0);
	assert_int_equal(c.got, 300000);
	assert_false(c.mismatch);
}

static void test_truncated_http(void **state)
{
	struct server *s = START_PLAIN();
	struct source_opts o = opts(at(s, "/bundle.upd"), 2);
	struct check c = {0};
	struct error e = {0};
	char want[128];
	(void)state;

	assert_int_equal(stream(&o, 0, DATA_LEN + 10, &c, &e), -ENODATA);
	assert_int_equal(e.exit, UPD_EXIT_VERIFY);
	snprintf(want, sizeof(want), "bundle truncated: got %zu of %zu bytes", DATA_LEN, DATA_LEN + 10);
	assert_string_equal(e.msg, want);
	assert_int_equal(c.got, DATA_LEN);
	assert_false(c.mismatch);
	assert_int_equal(log_count(s, "GET", 1), 1); /* a short source is not retried */

	/* starting beyond the end: 416 */
	assert_int_equal(stream(&o, DATA_LEN + 5, 10, &c, &e), -ENODATA);
	assert_int_equal(e.exit, UPD_EXIT_VERIFY);
	snprintf(want, sizeof(want), "bundle truncated: got %zu of %zu bytes", DATA_LEN, DATA_LEN + 15);
	assert_string_equal(e.msg, want);
	assert_true(log_has(s, "status=416"));
}

static void test_short_length(void **state)
{
	struct server *s = START("short-length");
	struct source_opts o = opts(at(s, "/bundle.upd"), 2);
	struct check c = {0};
	struct error e = {0};
	(void)state;

	/* every byte wanted arrived: the early close does not matter */
	assert_int_equal(stream(&o, 0, DATA_LEN, &c, &e), 0);
	assert_int_equal(c.got, DATA_LEN);
	assert_false(c.mismatch);
	/* more wanted than there is: the resumed request gets 416 */
	c = (struct check){0};
	assert_int_equal(stream(&o, 0, DATA_LEN + 1, &c, &e), -ENODATA);
	assert_int_equal(e.exit, UPD_EXIT_VERIFY);
	assert_int_equal(c.got, DATA_LEN);
	assert_true(log_has(s, "status=416"));
}

static void test_sink_error(void **state)
{
	struct server *s = START_PLAIN();
	struct source_opts o = opts(at(s, "/bundle.upd"), 3);
	struct check c = {.fail_at = 3};
	struct error e = {0};
	(void)state;

	assert_int_equal(stream(&o, 0, DATA_LEN, &c, &e), -ENOSPC);
	assert_int_equal(e.exit, UPD_EXIT_NOSPACE);
	assert_string_equal(e.msg, "write slot: no space left (test)");
	assert_int_equal(c.calls, 3); /* not called again after failing */
	usleep(200000);
	assert_int_equal(log_count(s, "GET", 1), 1); /* and not retried */
}

static void test_refused(void **state)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	char loc[64];
	struct check c = {0};
	struct error e = {0};
	(void)state;

	/* a port that was free a moment ago, now closed */
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
	close(fd);
	snprintf(loc, sizeof(loc), "http://127.0.0.1:%d/x.upd", ntohs(sa.sin_port));
	struct source_opts o = opts(loc, 3);
	double t0 = now();
	assert_int_equal(stream(&o, 0, 10, &c, &e), -ECONNREFUSED);
	assert_int_equal(e.exit, UPD_EXIT_DOWNLOAD);
	assert_non_null(strstr(e.msg, loc));
	assert_true(now() - t0 < 1.0); /* nobody ever answered: no retries */
}

static void test_redirect(void **state)
{
	struct server *b = START_PLAIN();
	char to[96];
	snprintf(to, sizeof(to), "redirect=%s", b->base);
	struct server *a = START(to);
	struct source_opts o = opts(at(a, "/bundle.upd"), 0);
	struct check c = {0};
	struct error e = {0};
	(void)state;

	assert_int_equal(stream(&o, 10, 1000000, &c, &e), 0);
	assert_int_equal(c.got, 1000000);
	assert_false(c.mismatch);
	assert_true(log_has(a, "status=302"));
	assert_true(log_has(b, "range=bytes=10-1000009 status=206")); /* range kept */
}

static void test_redirect_limit(void **state)
{
	struct check c = {0};
	struct error e = {0};
	/* Location: the same path */
	struct server *s = stream_fails((struct failing){"redirect=", 2, 10, 0, "redirect"}, &c, &e);
	(void)state;

	assert_int_equal(log_count(s, "status=302", 6), 6); /* the request and 5 redirects */
}

/* A Content-Length larger than what is sent before a normal close, every
 * time: each attempt resumes where the last ended, and the retries run out. */
static void test_closed_early(void **state)
{
	struct check c = {0};
	struct error e = {0};
	struct server *s = stream_fails((struct failing){"close-after=50000", 2, 300000, -EPIPE,
							  "connection closed early after 2 retries"},
					&c, &e);
	(void)state;

	assert_int_equal(c.got, 150000);
	assert_false(c.mismatch);
	assert_int_equal(log_count(s, "fault=close", 3), 3);
	assert_true(log_has(s, "range=bytes=100000-299999"));
}

/* A 206 whose Content-Length is short of its Content-Range, every time, on
 * connections that are closed after each: what arrives is used and the rest
 * asked for again, but a response with none of it is the server's failure
 * (exit 4, retried), not a truncated bundle. */
static void test_long_body_close(void **state)
{
	struct check c = {0};
	struct error e = {0};
	(void)state;

	stream_fails((struct failing){"long-body=1000:close", 2, 300000, -EPROTO,
				      "server sent none of the range it answered after 2 retries"},
		     &c, &e);
	assert_int_equal(c.got, 299000); /* all but the part past each Content-Length */
	assert_false(c.mismatch);
}

/* The same, kept alive: the bytes past the Content-Length are where the next
 * status line should be. A bad response, not a refused redirect. */
static void test_long_body_keepalive(void **state)
{
	struct check c = {0};
	struct error e = {0};
	(void)state;

	stream_fails((struct failing){"long-body=1000", 2, 300000, -EPROTO, "bad response from server"}, &c, &e);
	assert_null(strstr(e.msg, "redirect"));
	assert_int_equal(c.got, 299000);
	assert_false(c.mismatch);
}

/* libcurl caps a response header at 100 KiB; before 8.6 it reports a longer
 * one as CURLE_OUT_OF_MEMORY. Still a download failure (exit 4), not retried. */
static void test_huge_header(void **state)
{
	struct check c = {0};
	struct error e = {0};
	struct server *s = stream_fails((struct failing){"huge-header=200000", 2, 10, -EMSGSIZE,
							  "response headers too large"},
					&c, &e);
	(void)state;

	assert_int_equal(c.got, 0);
	usleep(100000);
	assert_int_equal(log_count(s, "GET", 1), 1);
}

static void test_redirect_protocol(void **state)
{
	struct check c = {0};
	struct error e = {0};
	(void)state;

	stream_fails((struct failing){"redirect=ftp://127.0.0.1:1", 2, 10, 0, "refused redirect"}, &c, &e);
}

static void test_https(void **state)
{
	(void)state;
	if (!have_tls)
		skip();
	struct server *s = start(1, (const char *[]){NULL});
	struct source_opts o = opts(at(s, "/bundle.upd"), 0);
	struct check c = {0};
	struct error e = {0};

	/* a self-signed server is refused without its CA */
	assert_true(stream(&o, 0, DATA_LEN, &c, &e) < 0);
	assert_int_equal(e.exit, UPD_EXIT_DOWNLOAD);
	assert_int_equal(c.got, 0);
	/* and accepted with it */
	o.ca = tls_cert;
	assert_int_equal(stream(&o, 0, DATA_LEN, &c, &e), 0);
	assert_int_equal(c.got, DATA_LEN);
	assert_false(c.mismatch);
}

static void test_https_no_downgrade(void **state)
{
	(void)state;
	if (!have_tls)
		skip();
	struct server *plain = START_PLAIN();
	char to[96];
	snprintf(to, sizeof(to), "redirect=%s", plain->base);
	struct server *s = START_TLS(to);
	struct source_opts o = opts(at(s, "/bundle.upd"), 2);
	struct check c = {0};
	struct error e = {0};

	o.ca = tls_cert;
	assert_true(stream(&o, 0, 10, &c, &e) < 0);
	assert_int_equal(e.exit, UPD_EXIT_DOWNLOAD);
	assert_non_null(strstr(e.msg, "https may only redirect to https"));
	assert_true(log_has(s, "status=302"));
	usleep(100000);
	assert_int_equal(log_count(plain, "GET", 0), 0); /* never reached over http */
}

static void test_file_path(void **state)
{
	struct source_opts o = opts(big, 0);
	struct check c = {0};
	struct error e = {0};
	uint8_t buf[4096];
	size_t len = 0;
	uint64_t total = 0;
	(void)state;

	assert_int_equal(stream(&o, 0, DATA_LEN, &c, &e), 0);
	assert_int_equal(c.got, DATA_LEN);
	assert_false(c.mismatch);
	assert_true(c.calls >= 4); /* 1 MiB chunks */
	c = (struct check){0};
	assert_int_equal(stream(&o, 1048575, 1048579, &c, &e), 0);
	assert_int_equal(c.got, 1048579);
	assert_false(c.mismatch);
	assert_int_equal(source_read_head(&o, buf, sizeof(buf), &len, &total, &e), 0);
	assert_int_equal(len, sizeof(buf));
	assert_int_equal(total, DATA_LEN);
	assert_memory_equal(buf, data, sizeof(buf));
}

static void test_file_url(void **state)
{
	char loc[2 * PATH_MAX], *sp;
	struct check c = {0};
	struct error e = {0};
	uint8_t buf[4096];
	size_t len = 0;
	uint64_t total = 0;
	(void)state;

	snprintf(loc, sizeof(loc), "file://%s", big);
	struct source_opts o = opts(loc, 0);
	assert_int_equal(stream(&o, 7, 2000000, &c, &e), 0);
	assert_int_equal(c.got, 2000000);
	assert_false(c.mismatch);

	/* file://localhost/... with an escaped space */
	snprintf(loc, sizeof(loc), "file://localhost%s", small);
	sp = strchr(loc + strlen("file://localhost") + strlen(root), ' ');
	assert_non_null(sp);
	memmove(sp + 3, sp + 1, strlen(sp + 1) + 1);
	memcpy(sp, "%20", 3);
	assert_int_equal(source_read_head(&o, buf, sizeof(buf), &len, &total, &e), 0);
	assert_int_equal(len, SMALL_LEN);
	assert_int_equal(total, SMALL_LEN);
	assert_memory_equal(buf, data, SMALL_LEN);

	/* another host is not a local file */
	o.location = "file://elsewhere/x.upd";
	err_clear(&e);
	assert_int_equal(source_read_head(&o, buf, sizeof(buf), &len, &total, &e), -EINVAL);
}

static void test_file_errors(void **state)
{
	char missing[2 * PATH_MAX], want[128];
	struct source_opts o = opts(big, 0);
	struct check c = {0};
	struct error e = {0};
	(void)state;

	assert_int_equal(stream(&o, 1000, DATA_LEN, &c, &e), -ENODATA);
	assert_int_equal(e.exit, UPD_EXIT_VERIFY);
	snprintf(want, sizeof(want), "bundle truncated: got %zu of %zu bytes", DATA_LEN, DATA_LEN + 1000);
	assert_string_equal(e.msg, want);
	assert_int_equal(c.got, DATA_LEN - 1000);
	assert_false(c.mismatch);

	snprintf(missing, sizeof(missing), "%s/nope.upd", root);
	o.location = missing;
	/* a path that names no file is a wrong argument, not a failed download */
	assert_int_equal(stream(&o, 0, 10, &c, &e), -ENOENT);
	assert_int_equal(e.exit, UPD_EXIT_USAGE);
	assert_non_null(strstr(e.msg, missing));

	/* a sink error on a file is returned as is */
	o.location = big;
	c = (struct check){.fail_at = 2};
	assert_int_equal(stream(&o, 0, DATA_LEN, &c, &e), -ENOSPC);
	assert_int_equal(e.exit, UPD_EXIT_NOSPACE);
	assert_int_equal(c.calls, 2);
}

/* --------------------------------------------------------- range fetching */

/* Checks each call is the next bytes of the next range (so none is
 * delivered twice, skipped or out of order) and equal to the file's, and
 * hashes all that was delivered. */
struct rcheck {
	const struct source_range *r;
	size_t n, idx, calls, fail_at;
	uint64_t off; /* next offset expected in r[idx] */
	int bad;
	struct sha256_ctx *sha;
};

static int range_sink(void *user, size_t i, uint64_t off, const uint8_t *d, size_t len,
		      struct error *e)
{
	struct rcheck *c = user;
	if (++c->calls == c->fail_at)
		return err_set(e, UPD_EXIT_NOSPACE, ENOSPC, "write slot: no space left (test)");
	if (c->idx < c->n && c->off == c->r[c->idx].length) {
		c->idx++;
		c->off = 0;
	}
	if (i >= c->n || i != c->idx || off != c->off || len == 0 || off + len > c->r[i].length ||
	    memcmp(d, data + c->r[i].offset + off, len) != 0)
		c->bad = 1;
	sha256_update(c->sha, d, len);
	c->off += len;
	return 0;
}

static int fetch(const struct source_opts *o, const struct source_range *r, size_t n, size_t max,
		 struct rcheck *c, struct source_stats *st, struct error *e)
{
	size_t fail_at = c->fail_at;
	*c = (struct rcheck){.r = r, .n = n, .fail_at = fail_at, .sha = sha256_new()};
	assert_non_null(c->sha);
	err_clear(e);
	return source_fetch_ranges(o, r, n, max, range_sink, c, st, e);
}

static uint64_t ranges_total(const struct source_range *r, size_t n)
{
	uint64_t t = 0;
	for (size_t i = 0; i < n; i++)
		t += r[i].length;
	return t;
}

/* Every byte of every range delivered once: the hash of what the sink got
 * is the hash of the file's bytes in the ranges. */
static void assert_delivered(struct rcheck *c)
{
	uint8_t got[32], want[32];
	struct sha256_ctx *w = sha256_new();
	assert_non_null(w);
	for (size_t i = 0; i < c->n; i++)
		sha256_update(w, data + c->r[i].offset, c->r[i].length);
	sha256_final(w, want);
	sha256_final(c->sha, got);
	c->sha = NULL;
	assert_false(c->bad);
	assert_int_equal(c->idx, c->n - 1);
	assert_int_equal(c->off, c->r[c->n - 1].length);
	assert_memory_equal(got, want, sizeof(got));
}

static void rcheck_done(struct rcheck *c)
{
	sha256_free(c->sha);
	c->sha = NULL;
}

/* Ranges 1 and 2 are adjacent: asked for as one (5000-75004). */
#define R5_N 5
static const struct source_range R5[R5_N] = {
	{10, 1000}, {5000, 70000}, {75000, 5}, {300000, 400000}, {DATA_LEN - 777, 777}};

static void r5_spec(char *out, size_t n, const char *first)
{
	snprintf(out, n, "range=bytes=%s,5000-75004,300000-699999,%zu-%zu status=206", first,
		 DATA_LEN - 777, DATA_LEN - 1);
}

/* Fetches R5 from a new server with FAULT ("" for none) and RETRIES.
 * RC 0: every byte delivered once (checked); else that code, a download
 * error (exit 4) whose message holds MSG. */
static struct server *fetch_r5(const char *fault, int retries, int rc, const char *msg,
			       struct rcheck *c, struct source_stats *st)
{
	struct server *s = fault[0] ? START(fault) : START_PLAIN();
	struct source_opts o = opts(at(s, "/bundle.upd"), retries);
	struct error e = {0};

	assert_int_equal(fetch(&o, R5, R5_N, 0, c, st, &e), rc);
	if (rc == 0) {
		assert_delivered(c);
		return s;
	}
	assert_int_equal(e.exit, UPD_EXIT_DOWNLOAD);
	assert_non_null(strstr(e.msg, msg));
	assert_false(c->bad);
	rcheck_done(c);
	return s;
}

static void test_ranges_one_request(void **state)
{
	struct rcheck c = {0};
	struct source_stats st;
	struct server *s = fetch_r5("", 0, 0, NULL, &c, &st);
	char want[128];
	(void)state;

	assert_int_equal(st.payload, ranges_total(R5, R5_N));
	assert_true(st.received > st.payload && st.received < st.payload + 1000); /* multipart */
	assert_int_equal(st.requests, 1);
	r5_spec(want, sizeof(want), "10-1009");
	assert_true(log_has(s, want));
	assert_int_equal(log_count(s, "GET", 1), 1);
}

static void test_ranges_per_request(void **state)
{
	struct server *s = START_PLAIN();
	struct source_opts o = opts(at(s, "/bundle.upd"), 0);
	struct rcheck c = {0};
	struct source_stats st;
	struct error e = {0};
	(void)state;

	assert_int_equal(fetch(&o, R5, R5_N, 2, &c, &st, &e), 0);
	assert_delivered(&c);
	assert_int_equal(st.requests, 2);
	assert_true(log_has(s, "range=bytes=10-1009,5000-75004 status=206"));
	assert_true(log_has(s, "range=bytes=300000-699999,"));
	assert_int_equal(fetch(&o, R5, R5_N, 1, &c, &st, &e), 0);
	assert_delivered(&c);
	assert_int_equal(st.requests, 4);
	assert_true(log_has(s, "range=bytes=5000-75004 status=206"));
	assert_int_equal(log_count(s, "GET", 6), 6);
}

/* 400 ranges do not fit in one Range header of at most 4000 characters. */
static void test_ranges_header_bound(void **state)
{
	struct server *s = START_PLAIN();
	struct source_opts o = opts(at(s, "/bundle.upd"), 0);
	static struct source_range r[400];
	struct rcheck c = {0};
	struct source_stats st;
	struct error e = {0};
	(void)state;

	for (size_t i = 0; i < 400; i++)
		r[i] = (struct source_range){1000000 + i * 5000, 3};
	assert_int_equal(fetch(&o, r, 400, 1000, &c, &st, &e), 0);
	assert_delivered(&c);
	assert_int_equal(st.requests, 2);
	assert_int_equal(log_count(s, "status=206", 2), 2);
}

/* Header lines and boundaries split across reads (100-byte writes). */
static void test_ranges_dripped(void **state)
{
	struct server *s = START("drip=2000");
	struct source_opts o = opts(at(s, "/bundle.upd"), 0);
	static const struct source_range r[] = {{3, 50}, {700, 40}, {9000, 60}};
	struct rcheck c = {0};
	struct error e = {0};
	(void)state;

	assert_int_equal(fetch(&o, r, 3, 0, &c, NULL, &e), 0);
	assert_delivered(&c);
	assert_true(c.calls >= 3);
}

static void test_ranges_200(void **state)
{
	struct server *s = START("no-range");
	struct source_opts o = opts(at(s, "/bundle.upd"), 3);
	struct rcheck c = {0};
	struct source_stats st;
	struct error e = {0};
	(void)state;

	assert_int_equal(fetch(&o, R5, R5_N, 0, &c, &st, &e), -EOPNOTSUPP);
	assert_int_equal(e.exit, UPD_EXIT_DOWNLOAD);
	assert_non_null(strstr(e.msg, "server ignores range requests (HTTP 200)"));
	assert_int_equal(c.calls, 0);
	assert_int_equal(st.payload, 0);
	rcheck_done(&c);
	/* several ranges, then one, both refused; no retry */
	assert_int_equal(st.requests, 2);
	assert_int_equal(log_count(s, "status=200", 2), 2);
	assert_true(log_has(s, "range=bytes=10-1009 status=200"));
}

static void test_ranges_no_multirange(void **state)
{
	struct rcheck c = {0};
	struct source_stats st;
	struct server *s = fetch_r5("no-multirange", 0, 0, NULL, &c, &st);
	(void)state;

	assert_int_equal(st.requests, 5); /* the refused one, then one per range */
	assert_int_equal(log_count(s, "status=200", 1), 1);
	assert_int_equal(log_count(s, "status=206", 4), 4);
	assert_true(st.received < st.payload + 2 * 65536); /* the 200 was cut */
}

static void test_ranges_single_range_server(void **state)
{
	struct rcheck c = {0};
	struct source_stats st;
	struct server *s = fetch_r5("single-range", 0, 0, NULL, &c, &st);
	char want[128];
	(void)state;

	assert_int_equal(st.requests, 4); /* the first range answered, then one each */
	r5_spec(want, sizeof(want), "10-1009");
	assert_true(log_has(s, want));
	assert_true(log_has(s, "range=bytes=5000-75004 status=206"));
	assert_true(log_has(s, "range=bytes=300000-699999 status=206"));
}

/* One part from the first range's start to the last one's end: the bytes
 * between the ranges are read and dropped. */
static void test_ranges_coalesced(void **state)
{
	struct rcheck c = {0};
	struct source_stats st;
	struct server *s = fetch_r5("coalesce", 0, 0, NULL, &c, &st);
	char want[64];
	(void)state;

	assert_int_equal(st.requests, 1);
	assert_int_equal(st.received, DATA_LEN - 10);
	snprintf(want, sizeof(want), "status=206 sent=%zu", DATA_LEN - 10);
	assert_true(log_has(s, want));
}

static void test_ranges_wrong(void **state)
{
	struct rcheck c = {0};
	struct server *s = fetch_r5("wrong-range", 1, -EPROTO,
				    "server sent bytes 11-1010, asked for 10-1009 after 1 retry", &c, NULL);
	struct source_opts o = opts(at(s, "/bundle.upd"), 0);
	struct error e = {0};
	(void)state;

	assert_int_equal(c.calls, 0);
	/* a one-part answer is held to the same rule */
	assert_int_equal(fetch(&o, R5 + 1, 1, 0, &c, NULL, &e), -EPROTO);
	assert_non_null(strstr(e.msg, "server sent bytes 5001-75000, asked for 5000-74999"));
	rcheck_done(&c);
}

static void test_ranges_wrong_once(void **state)
{
	struct rcheck c = {0};
	struct server *s = fetch_r5("wrong-range=7:times=1", 1, 0, NULL, &c, NULL);
	(void)state;

	assert_int_equal(log_count(s, "GET", 2), 2);
}

static void test_ranges_short_part(void **state)
{
	struct rcheck c = {0};
	struct server *s = fetch_r5("short-part=300:times=1", 1, 0, NULL, &c, NULL);
	char want[128];
	(void)state;

	/* resumed from the first byte not delivered */
	r5_spec(want, sizeof(want), "710-1009");
	assert_true(log_has(s, want));
	assert_int_equal(log_count(s, "GET", 2), 2);
}

static void test_ranges_short_part_always(void **state)
{
	struct rcheck c = {0};
	(void)state;

	fetch_r5("short-part=300", 1, -EPROTO,
		 "server sent 0 of the 300 bytes of part 710-1009 after 1 retry", &c, NULL);
	assert_int_equal(c.off, 700);
}

static void test_ranges_bad_boundary(void **state)
{
	struct rcheck c = {0};
	struct server *s = fetch_r5("bad-boundary:times=1", 1, 0, NULL, &c, NULL);
	(void)state;

	assert_true(log_has(s, "range=bytes=5000-75004,300000-699999,"));
	assert_int_equal(log_count(s, "GET", 2), 2);
	fetch_r5("bad-boundary", 1, -EPROTO, "garbled boundary after bytes 5000-75004 after 1 retry",
		 &c, NULL);
}

static void test_ranges_no_boundary(void **state)
{
	struct rcheck c = {0};
	(void)state;

	fetch_r5("no-boundary", 0, -EPROTO, "multipart answer without a usable boundary", &c, NULL);
	assert_int_equal(c.calls, 0);
}

static void test_ranges_part_header(void **state)
{
	struct rcheck c = {0};
	(void)state;

	fetch_r5("part-header=200", 0, 0, NULL, &c, NULL); /* long, not too long */
	fetch_r5("part-header=300", 0, -EPROTO, "part header line longer than 255 bytes", &c, NULL);
	assert_int_equal(c.calls, 0);
}

/* The first offset in the Range header of the server's Nth request. */
static uint64_t log_range_start(const struct server *s, int nth)
{
	char *log = tu_read_file(s->log, NULL);
	const char *p = log;
	for (int i = 0; p && i < nth; i++)
		if ((p = strstr(p, "range=bytes=")) != NULL)
			p += strlen("range=bytes=");
	uint64_t v = p ? strtoull(p, NULL, 10) : 0;
	free(log);
	return v;
}

static void test_ranges_stall_resume(void **state)
{
	struct server *s = START("stall-after=200000:times=1");
	struct source_opts o = opts(at(s, "/bundle.upd"), 1);
	struct rcheck c = {0};
	struct source_stats st;
	struct error e = {0};
	(void)state;

	o.timeout_s = 1;
	assert_int_equal(fetch(&o, R5, R5_N, 0, &c, &st, &e), 0);
	assert_delivered(&c);
	assert_int_equal(st.payload, ranges_total(R5, R5_N)); /* nothing twice */
	assert_int_equal(log_count(s, "fault=stall", 1), 1);
	assert_int_equal(log_count(s, "GET", 2), 2);
	/* the retry asked from inside range 3, where the stall cut it */
	uint64_t from = log_range_start(s, 2);
	assert_true(from > 300000 && from < 700000);
	assert_int_equal(log_count(s, "range=bytes=10-", 1), 1);
}

static void test_ranges_beyond_end(void **state)
{
	struct server *s = START_PLAIN();
	struct source_opts o = opts(at(s, "/bundle.upd"), 2);
	const struct source_range past[] = {{DATA_LEN + 10, 10}};
	const struct source_range over[] = {{0, 10}, {DATA_LEN - 5, 10}};
	struct rcheck c = {0};
	struct error e = {0};
	char want[96];
	(void)state;

	assert_int_equal(fetch(&o, past, 1, 0, &c, NULL, &e), -ENODATA); /* 416 */
	assert_int_equal(e.exit, UPD_EXIT_VERIFY);
	snprintf(want, sizeof(want), "bundle truncated: got %zu of %zu bytes", DATA_LEN, DATA_LEN + 20);
	assert_non_null(strstr(e.msg, want));
	rcheck_done(&c);
	/* the file's size in Content-Range is short of the last range */
	assert_int_equal(fetch(&o, over, 2, 0, &c, NULL, &e), -ENODATA);
	assert_int_equal(e.exit, UPD_EXIT_VERIFY);
	snprintf(want, sizeof(want), "bundle truncated: got %zu of %zu bytes", DATA_LEN, DATA_LEN + 5);
	assert_non_null(strstr(e.msg, want));
	assert_int_equal(c.calls, 0);
	rcheck_done(&c);
	assert_int_equal(log_count(s, "GET", 2), 2); /* not retried */
}

static void test_ranges_sink_error(void **state)
{
	struct server *s = START_PLAIN();
	struct source_opts o = opts(at(s, "/bundle.upd"), 3);
	struct rcheck c = {.fail_at = 2};
	struct error e = {0};
	(void)state;

	assert_int_equal(fetch(&o, R5, R5_N, 0, &c, NULL, &e), -ENOSPC);
	assert_int_equal(e.exit, UPD_EXIT_NOSPACE);
	assert_int_equal(c.calls, 2);
	rcheck_done(&c);
	assert_int_equal(log_count(s, "GET", 1), 1);
}

static void test_ranges_usage(void **state)
{
	struct source_opts o = opts("http://127.0.0.1:1/x.upd", 0);
	const struct source_range overlap[] = {{0, 10}, {9, 10}};
	const struct source_range unsorted[] = {{100, 10}, {0, 10}};
	const struct source_range empty_range[] = {{0, 10}, {20, 0}};
	const struct source_range wrap[] = {{UINT64_MAX - 5, 10}};
	struct rcheck c = {0};
	struct source_stats st;
	struct error e = {0};
	(void)state;

	assert_int_equal(fetch(&o, overlap, 2, 0, &c, &st, &e), -EINVAL);
	assert_int_equal(e.exit, UPD_EXIT_USAGE);
	assert_non_null(strstr(e.msg, "range 1 (from 9) overlaps or precedes range 0"));
	rcheck_done(&c);
	assert_int_equal(fetch(&o, unsorted, 2, 0, &c, &st, &e), -EINVAL);
	rcheck_done(&c);
	assert_int_equal(fetch(&o, empty_range, 2, 0, &c, &st, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "range 1 is empty"));
	rcheck_done(&c);
	assert_int_equal(fetch(&o, wrap, 1, 0, &c, &st, &e), -EINVAL);
	rcheck_done(&c);
	assert_int_equal(st.requests, 0);
	assert_int_equal(fetch(&o, R5, 0, 0, &c, &st, &e), 0); /* nothing asked */
	rcheck_done(&c);
}

static void test_ranges_file(void **state)
{
	char loc[2 * PATH_MAX];
	const struct source_range over[] = {{0, 10}, {DATA_LEN - 5, 10}};
	struct source_opts o = opts(big, 0);
	struct rcheck c = {0};
	struct source_stats st;
	struct error e = {0};
	(void)state;

	assert_int_equal(fetch(&o, R5, R5_N, 0, &c, &st, &e), 0);
	assert_delivered(&c);
	assert_int_equal(st.payload, ranges_total(R5, R5_N));
	assert_int_equal(st.requests, 0);
	snprintf(loc, sizeof(loc), "file://%s", big);
	o.location = loc;
	assert_int_equal(fetch(&o, R5, R5_N, 1, &c, &st, &e), 0);
	assert_delivered(&c);
	assert_int_equal(fetch(&o, over, 2, 0, &c, &st, &e), -ENODATA);
	assert_int_equal(e.exit, UPD_EXIT_VERIFY);
	assert_false(c.bad);
	assert_int_equal(st.payload, 15); /* the first range and what the file has */
	rcheck_done(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_is_url),
		cmocka_unit_test_teardown(test_stream_full, stop_servers),
		cmocka_unit_test_teardown(test_stream_range, stop_servers),
		cmocka_unit_test_teardown(test_stream_no_range_offset, stop_servers),
		cmocka_unit_test_teardown(test_read_head, stop_servers),
		cmocka_unit_test_teardown(test_read_head_no_range, stop_servers),
		cmocka_unit_test_teardown(test_read_head_short, stop_servers),
		cmocka_unit_test_teardown(test_read_head_retry, stop_servers),
		cmocka_unit_test_teardown(test_size, stop_servers),
		cmocka_unit_test_teardown(test_http_404, stop_servers),
		cmocka_unit_test_teardown(test_http_404_hides_password, stop_servers),
		cmocka_unit_test_teardown(test_http_500_exhausted, stop_servers),
		cmocka_unit_test_teardown(test_http_500_first, stop_servers),
		cmocka_unit_test_teardown(test_reset_resume, stop_servers),
		cmocka_unit_test_teardown(test_reset_always, stop_servers),
		cmocka_unit_test_teardown(test_stall, stop_servers),
		cmocka_unit_test_teardown(test_slow_is_not_stall, stop_servers),
		cmocka_unit_test_teardown(test_truncated_http, stop_servers),
		cmocka_unit_test_teardown(test_short_length, stop_servers),
		cmocka_unit_test_teardown(test_sink_error, stop_servers),
		cmocka_unit_test(test_refused),
		cmocka_unit_test_teardown(test_redirect, stop_servers),
		cmocka_unit_test_teardown(test_redirect_limit, stop_servers),
		cmocka_unit_test_teardown(test_closed_early, stop_servers),
		cmocka_unit_test_teardown(test_long_body_close, stop_servers),
		cmocka_unit_test_teardown(test_long_body_keepalive, stop_servers),
		cmocka_unit_test_teardown(test_huge_header, stop_servers),
		cmocka_unit_test_teardown(test_redirect_protocol, stop_servers),
		cmocka_unit_test_teardown(test_https, stop_servers),
		cmocka_unit_test_teardown(test_https_no_downgrade, stop_servers),
		cmocka_unit_test(test_file_path),
		cmocka_unit_test(test_file_url),
		cmocka_unit_test(test_file_errors),
		cmocka_unit_test_teardown(test_ranges_one_request, stop_servers),
		cmocka_unit_test_teardown(test_ranges_per_request, stop_servers),
		cmocka_unit_test_teardown(test_ranges_header_bound, stop_servers),
		cmocka_unit_test_teardown(test_ranges_dripped, stop_servers),
		cmocka_unit_test_teardown(test_ranges_200, stop_servers),
		cmocka_unit_test_teardown(test_ranges_no_multirange, stop_servers),
		cmocka_unit_test_teardown(test_ranges_single_range_server, stop_servers),
		cmocka_unit_test_teardown(test_ranges_coalesced, stop_servers),
		cmocka_unit_test_teardown(test_ranges_wrong, stop_servers),
		cmocka_unit_test_teardown(test_ranges_wrong_once, stop_servers),
		cmocka_unit_test_teardown(test_ranges_short_part, stop_servers),
		cmocka_unit_test_teardown(test_ranges_short_part_always, stop_servers),
		cmocka_unit_test_teardown(test_ranges_bad_boundary, stop_servers),
		cmocka_unit_test_teardown(test_ranges_no_boundary, stop_servers),
		cmocka_unit_test_teardown(test_ranges_part_header, stop_servers),
		cmocka_unit_test_teardown(test_ranges_stall_resume, stop_servers),
		cmocka_unit_test_teardown(test_ranges_beyond_end, stop_servers),
		cmocka_unit_test_teardown(test_ranges_sink_error, stop_servers),
		cmocka_unit_test(test_ranges_usage),
		cmocka_unit_test(test_ranges_file),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

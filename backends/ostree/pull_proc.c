/* The ostree backend's downloads run in a child process the updater can kill.
 *
 * libostree 2022.7's curl fetcher has no low-speed limit, ignores its
 * GCancellable while a transfer stalls and calls the progress callback only
 * when something changes: a server that stops sending mid-object would hang
 * an in-process pull forever, holding the updater's lock. So the updater
 * re-executes itself (`updater __helper ostree FD LEVEL CONFIG meta|content
 * ...`), reads progress lines from a pipe and stops the child (lib/child.h:
 * its process group, SIGTERM then SIGKILL) after server.timeout without new
 * bytes. The child is exec'd, not just forked: GLib's worker threads do not
 * survive fork(), and the pull needs them. It dies with its parent
 * (PR_SET_PDEATHSIG), as everything does in a power cut.
 * All the network work is there (the static delta's parts too), so the
 * updater itself never loads libcurl's TLS state: its peak memory is that of
 * the deploy, the child's that of the pull.
 *
 * The content step's process is started early, beside the metadata step's,
 * and waits: its start (the program loaded, the config read, the repository
 * opened: 40 ms of an install's path here) overlaps the signature check of
 * the metadata step. It reads its arguments from its standard input, a
 * socket: "content" and the content step's arguments, each NUL-terminated;
 * at end of file with none (the release was refused, or `check` fetched
 * metadata only), it exits.
 *
 * Protocol on the pipe, one line each:
 *   p BYTES FETCHED FETCHES WRITES REQUESTED
 *                                    progress: bytes received, objects
 *                                    fetched, fetches and writes in flight,
 *                                    objects known to be needed so far
 *   e EXIT MESSAGE                   the pull failed (our class and message)
 *   v COMMIT DIGEST                  the metadata step verified COMMIT's
 *                                    signatures against ostree.gpg_keyring
 *                                    and stored them: DIGEST is the SHA-256
 *                                    of its detached metadata (trust.c)
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../lib/fault.h"
#include "../../lib/log.h"
#include "../../config/config.h"
#include "../../lib/progress.h"
#include "../../lib/child.h"
#include "ostree_priv.h"

/* --- the child ------------------------------------------------------------ */

void ob_report_progress(struct ostree_backend *b, uint64_t bytes, unsigned fetched, unsigned fetches,
			unsigned writes, unsigned requested)
{
	if (b->report_fd >= 0)
		dprintf(b->report_fd, "p %llu %u %u %u %u\n", (unsigned long long)bytes, fetched,
			fetches, writes, requested);
}

void ob_report_fetching(struct ostree_backend *b, bool fetching)
{
	ob_report_progress(b, b->report_base, 0, fetching ? 1 : 0, 0, 0);
}

void ob_report_verified(struct ostree_backend *b, const char *csum, GVariant *detached)
{
	char digest[65];

	ob_detached_digest(detached, digest);
	if (b->report_fd >= 0)
		dprintf(b->report_fd, "v %s %s\n", csum, digest);
}

/* One line: a message with a newline would end the record early. */
static void report_error(int fd, const struct error *e)
{
	char msg[ERROR_MSG_MAX];

	snprintf(msg, sizeof(msg), "%s", e->msg);
	for (char *c = msg; *c; c++)
		if (*c == '\n')
			*c = ' ';
	dprintf(fd, "e %d %s\n", e->exit, msg);
}

static const char *arg_or_null(const char *a) { return strcmp(a, "-") == 0 ? NULL : a; }

/* argv after FD LEVEL CONFIG: "meta REF COMMIT|- [URL]" or "content FROM|- TO
 * REFSPEC [URL]"; URL: a repository named on the command line. */
static int child_run(struct ostree_backend *b, int argc, char **argv, struct error *e)
{
	bool meta = argc >= 1 && strcmp(argv[0], "meta") == 0;
	int n = meta ? 3 : 4;
	int rc;

	if (argc == n + 1 && (rc = ob_set_source_url(b, argv[n], e)) < 0)
		return rc;
	if (meta && (argc == 3 || argc == 4)) {
		snprintf(b->refspec, sizeof(b->refspec), "%s:%s", b->remote, argv[1]);
		return ob_pull_commit_meta(b, argv[1], arg_or_null(argv[2]), e);
	}
	if ((argc == 4 || argc == 5) && strcmp(argv[0], "content") == 0 && strchr(argv[3], ':')) {
		snprintf(b->checksum, sizeof(b->checksum), "%s", argv[2]);
		snprintf(b->refspec, sizeof(b->refspec), "%s", argv[3]);
		return ob_pull_content(b, arg_or_null(argv[1]), e);
	}
	return err_set(e, UPD_EXIT_USAGE, EINVAL, "__helper ostree: bad arguments (internal use only)");
}

/* "content-wait": the arguments come on standard input (the top of this
 * file); none is a clean exit. */
static int child_wait_args(struct ostree_backend *b, struct error *e)
{
	char buf[4096], *args[8];
	size_t len = 0;
	int n = 0;

	fault_point("content-wait"); /* tests: it dies before it is handed its arguments */
	for (;;) {
		ssize_t r = read(STDIN_FILENO, buf + len, sizeof(buf) - 1 - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
		if (len == sizeof(buf) - 1)
			return err_set(e, UPD_EXIT_USAGE, E2BIG, "__helper ostree: arguments too long");
	}
	if (len == 0)
		return 0;
	buf[len] = '\0';
	for (char *a = buf; a < buf + len && n < (int)(sizeof(args) / sizeof(args[0])); a += strlen(a) + 1)
		args[n++] = a;
	return child_run(b, n, args, e);
}

int ob_helper(int argc, char **argv)
{
	struct error e = {0};
	struct config cfg;
	struct ostree_backend *b = NULL;
	int fd = argc > 0 ? atoi(argv[0]) : -1;

	if (argc < 4 || fd < 3) {
		fprintf(stderr, "updater: __helper ostree: bad arguments (internal use only)\n");
		return UPD_EXIT_USAGE;
	}
	log_set_level((enum log_level)atoi(argv[1]));
	progress_init(PROGRESS_NONE);
	if (config_load(&cfg, argv[2], &e) == 0) {
		if (ob_open_quiet(&cfg, &b, &e) == 0) {
			b->report_fd = fd;
			if (argc == 4 && strcmp(argv[3], "content-wait") == 0)
				child_wait_args(b, &e);
			else
				child_run(b, argc - 3, argv + 3, &e);
		}
		if (b)
			ob_free(b);
		config_free(&cfg);
	}
	if (!err_isset(&e))
		return 0;
	report_error(fd, &e);
	return e.exit ? e.exit : UPD_EXIT_OTHER;
}

/* --- the parent ----------------------------------------------------------- */

struct pull_child {
	struct child child;
	int fd;
	char buf[2 * ERROR_MSG_MAX];
	size_t len;
	struct error reported; /* an "e" line */
	/* The last progress line; fetches starts "in flight": before its first
	 * line the child is fetching the summary and config. */
	unsigned long long bytes;
	unsigned fetched, fetches, writes, requested;
	char verified[65], verified_sigs[65]; /* a "v" line */
};

/* args: the child's operation and its arguments, NULL-terminated; in: its
 * standard input (-1: the updater's). */
static int spawn(struct ostree_backend *b, const char *const *args, int in, struct pull_child *c,
		 struct error *e)
{
	int p[2], err, rc;
	char fd[16], lvl[16], self[4096];
	const char *argv[16] = { "updater", "__helper", "ostree", fd, lvl, b->cfg->path };
	size_t n = 6;

	for (; *args && n < sizeof(argv) / sizeof(argv[0]) - 1; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	/* The path, not /proc/self/exe itself: under valgrind that is valgrind's
	 * own binary, while readlink() tells the program's. */
	ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (len <= 0 || len == (ssize_t)sizeof(self) - 1)
		return err_set(e, UPD_EXIT_OTHER, errno, "pull: cannot find the updater's own program");
	self[len] = '\0';
	if (pipe2(p, O_CLOEXEC) < 0)
		return err_set(e, UPD_EXIT_OTHER, errno, "pull: pipe: %s", strerror(errno));
	snprintf(fd, sizeof(fd), "%d", p[1]);
	snprintf(lvl, sizeof(lvl), "%d", (int)log_get_level());
	fault_delay("pull-spawn"); /* tests: the program replaced meanwhile */
	struct child_spec spec = { .path = self, .exec_fd = b->self_fd, .argv = (char *const *)argv,
				   .stdin_fd = in, .stdout_fd = -1, .stderr_fd = -1,
				   .keep_fd = p[1], .die_with_parent = true };
	rc = child_spawn(&c->child, &spec, &err);
	close(p[1]);
	if (rc < 0) {
		close(p[0]);
		return err ? err_set(e, UPD_EXIT_OTHER, err, "pull: cannot execute %s: %s", self,
				     strerror(err))
			   : err_set(e, UPD_EXIT_OTHER, -rc, "pull: fork: %s", strerror(-rc));
	}
	c->fd = p[0];
	return 0;
}

static void parse_line(struct pull_child *c, char *line)
{
	int code, n = 0;

	if (sscanf(line, "p %llu %u %u %u %u", &c->bytes, &c->fetched, &c->fetches, &c->writes,
		   &c->requested) == 5)
		return;
	if (sscanf(line, "e %d %n", &code, &n) == 1 && n > 0)
		err_set(&c->reported, code, EIO, "%s", line + n);
	else if (strncmp(line, "v ", 2) == 0 &&
		 sscanf(line, "v %64s %64s", c->verified, c->verified_sigs) != 2)
		c->verified[0] = '\0';
}

/* Reads what is there; false at end of file (the child closed the pipe). */
static bool read_lines(struct pull_child *c)
{
	ssize_t n = read(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len);

	if (n < 0)
		return errno == EINTR || errno == EAGAIN;
	if (n == 0)
		return false;
	c->len += (size_t)n;
	c->buf[c->len] = '\0';
	char *start = c->buf, *nl;
	while ((nl = strchr(start, '\n'))) {
		*nl = '\0';
		parse_line(c, start);
		start = nl + 1;
	}
	c->len -= (size_t)(start - c->buf);
	memmove(c->buf, start, c->len);
	/* A line longer than the buffer is not ours: drop it. */
	if (c->len == sizeof(c->buf) - 1)
		c->len = 0;
	return true;
}

/* Follows the child until it exits or, while it waits for the network, gets
 * nothing new for timeout_s. Local work (writing objects, checking
 * signatures) is not a stall. Returns 1 on a stall (the child is killed). */
static int watch(struct pull_child *c, int timeout_s, bool with_progress)
{
	time_t last_change = time(NULL);
	unsigned long long last_bytes = 0;
	unsigned last_fetched = 0, last_writes = 0;
	struct pollfd pfd = { .fd = c->fd, .events = POLLIN };

	for (;;) {
		int r = poll(&pfd, 1, 1000);
		if (r < 0 && errno != EINTR)
			break;
		if (r > 0 && !read_lines(c))
			break;
		if (with_progress) {
			if (c->requested)
				progress_objects(c->fetched, c->requested);
			progress_update(c->bytes);
		}
		if (c->fetched != last_fetched)
			fault_progress("pull-objects", c->fetched);
		if (c->bytes != last_bytes || c->fetched != last_fetched || c->writes != last_writes ||
		    c->fetches == 0) {
			last_bytes = c->bytes;
			last_fetched = c->fetched;
			last_writes = c->writes;
			last_change = time(NULL);
		} else if (time(NULL) - last_change >= timeout_s) {
			child_stop(&c->child, CHILD_KILL_GRACE_MS, NULL, NULL);
			return 1;
		}
	}
	return 0;
}

/* The child's end: 0 when it succeeded, else its error. */
static int reap(struct pull_child *c, const char *what, struct error *e)
{
	int status;

	child_reap(&c->child);
	status = c->child.status;
	close(c->fd);
	log_debug("pull process %d: status %#x, peak RSS %ld KiB", (int)c->child.pid, status,
		  c->child.usage.ru_maxrss);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (err_isset(&c->reported))
		return err_set(e, c->reported.exit ? c->reported.exit : UPD_EXIT_DOWNLOAD, EIO, "%s",
			       c->reported.msg);
	if (WIFSIGNALED(status))
		return err_set(e, UPD_EXIT_OTHER, EINTR, "%s: pull process killed by signal %d", what,
			       WTERMSIG(status));
	return err_set(e, UPD_EXIT_OTHER, EIO, "%s: pull process exited with %d", what,
		       WEXITSTATUS(status));
}

/* --- the content step's process, started early ---------------------------- */

struct early_child {
	struct pull_child c;
	int cmd; /* its standard input */
};

/* Started while the metadata step runs; failing to start it is not an
 * error (the content step then starts its own). */
static void early_start(struct ostree_backend *b)
{
	const char *args[] = { "content-wait", NULL };
	struct error ignore = {0};
	int sv[2];

	if (b->early || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return;
	struct early_child *x = g_new0(struct early_child, 1);
	x->c = (struct pull_child){ .fd = -1, .fetches = 1 };
	x->cmd = sv[0];
	if (spawn(b, args, sv[1], &x->c, &ignore) < 0) {
		close(sv[0]);
		g_free(x);
	} else {
		b->early = x;
		log_debug("pull process %d started for the content step", (int)x->c.child.pid);
	}
	close(sv[1]);
}

/* Hands the content step's ARGS to the waiting process: true when it took
 * them (*c is then that process), false when there is none or it is gone. */
static bool early_take(struct ostree_backend *b, const char *const *args, struct pull_child *c)
{
	struct early_child *x = b->early;

	if (!x || strcmp(args[0], "content") != 0)
		return false;
	GString *buf = g_string_new(NULL);
	for (; *args; args++)
		g_string_append_len(buf, *args, (gssize)strlen(*args) + 1);
	bool sent = send(x->cmd, buf->str, buf->len, MSG_NOSIGNAL) == (ssize_t)buf->len;
	g_string_free(buf, TRUE);
	if (!sent) {
		ob_early_finish(b);
		return false;
	}
	close(x->cmd);
	*c = x->c;
	g_free(x);
	b->early = NULL;
	return true;
}

void ob_early_finish(struct ostree_backend *b)
{
	struct early_child *x = b->early;

	if (!x)
		return;
	if (x->cmd >= 0)
		close(x->cmd); /* end of file: it exits */
	child_reap(&x->c.child);
	log_debug("pull process %d, not needed: status %#x", (int)x->c.child.pid, x->c.child.status);
	close(x->c.fd);
	g_free(x);
	b->early = NULL;
}

/* spawned (may be NULL) runs once the first child is started. */
static int run_child(struct ostree_backend *b, const char *const *args, bool with_progress,
		     void (*spawned)(struct ostree_backend *), const char *what, struct error *e)
{
	const struct config *cfg = b->cfg;
	int stalls = 0, rc;

	/* A stall is retried like a dropped connection: the next child resumes
	 * from the objects and delta parts the killed one stored. */
	for (;;) {
		struct pull_child c = { .fd = -1, .fetches = 1 };
		if (!(stalls == 0 && early_take(b, args, &c)) &&
		    (rc = spawn(b, args, -1, &c, e)) < 0)
			return rc;
		if (spawned && stalls == 0)
			spawned(b);
		if (with_progress)
			progress_begin("download", 0);
		int stalled = watch(&c, cfg->server.timeout, with_progress);
		rc = reap(&c, what, e);
		if (rc == 0 && c.verified[0]) {
			memcpy(b->pull_verified, c.verified, sizeof(b->pull_verified));
			memcpy(b->pull_verified_sigs, c.verified_sigs, sizeof(b->pull_verified_sigs));
		}
		/* Only a pull that completed ends its bar at 100 %. */
		if (with_progress && rc == 0 && !stalled)
			progress_done();
		else if (with_progress)
			progress_end();
		if (!stalled)
			return rc;
		err_clear(e);
		if (++stalls > cfg->server.retries)
			return err_set(e, UPD_EXIT_DOWNLOAD, ETIMEDOUT,
				       "%s from %s: no data for %d s (server stalled)", what, b->url,
				       cfg->server.timeout);
		log_warn("%s from %s: no data for %d s, retrying (%d of %d)", what, b->url,
			 cfg->server.timeout, stalls, cfg->server.retries);
	}
}

static gpointer remove_applied(gpointer path)
{
	int rc = ob_rm_tree(path);

	if (rc < 0)
		log_warn("cannot remove %s: %s", (char *)path, strerror(-rc));
	g_free(path);
	return NULL;
}

/* The staging area of the delta just applied (pull.c: staging_retire) is
 * removed on a thread while the install goes on; ob_free waits for it. */
static void start_cleanup(struct ostree_backend *b)
{
	char *path = ob_staging_applied(b);
	struct stat st;

	if (b->cleanup || lstat(path, &st) < 0 || !S_ISDIR(st.st_mode)) {
		g_free(path);
		return;
	}
	b->cleanup = g_thread_new("updater-cleanup", remove_applied, path);
}

int ob_fetch_meta(struct ostree_backend *b, const char *ref, const char *commit, struct error *e)
{
	const char *args[] = { "meta", ref, commit ? commit : "-", b->source_url, NULL };
	char what[600];

	b->pull_verified[0] = '\0';
	ob_meta_what(b, ref, what, sizeof(what));
	return run_child(b, args, false, early_start, what, e);
}

int ob_fetch_content(struct ostree_backend *b, const char *from_checksum, struct error *e)
{
	const char *args[] = { "content", from_checksum ? from_checksum : "-", b->checksum,
			       b->refspec, b->source_url, NULL };

	fault_delay("content-start"); /* tests: the server changes meanwhile */
	int rc = run_child(b, args, true, NULL, "pull", e);

	if (rc == 0)
		start_cleanup(b);
	return rc;
}

void ob_cleanup_finish(struct ostree_backend *b)
{
	if (b->cleanup)
		g_thread_join(b->cleanup);
	b->cleanup = NULL;
}

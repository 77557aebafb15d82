/* Unit tests for hooks/hooks.c with real /bin/sh hook scripts. */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>

#include "../../lib/log.h"
#include "../../hooks/hooks.h"

struct fx {
	char *dir;             /* temporary directory (tu_fixture_new) */
	char hooks[PATH_MAX];  /* <dir>/hooks: the hooks.dir */
	char pre[PATH_MAX];    /* <dir>/hooks/pre-install.d */
	char order[PATH_MAX];  /* <dir>/order: hooks append their name here */
	struct error e;
};

/* mkdir then chmod: the umask must not decide whether hooks are refused. */
static void mkdir_mode(const char *path, mode_t mode)
{
	assert_int_equal(mkdir(path, mode), 0);
	assert_int_equal(chmod(path, mode), 0);
}

static int setup(void **state)
{
	struct fx *f = tu_fixture_new(sizeof(*f));

	if (!f)
		return -1;
	snprintf(f->hooks, sizeof(f->hooks), "%s/hooks", f->dir);
	snprintf(f->pre, sizeof(f->pre), "%s/pre-install.d", f->hooks);
	snprintf(f->order, sizeof(f->order), "%s/order", f->dir);
	mkdir_mode(f->hooks, 0755);
	mkdir_mode(f->pre, 0755);
	*state = f;
	return 0;
}

/* Writes <pre-install.d>/<name> with the given body after a #!/bin/sh line. */
static void add_hook(struct fx *f, const char *name, mode_t mode, const char *body)
{
	char *path = tu_path(f->pre, name), *text = NULL;

	assert_true(asprintf(&text, "#!/bin/sh\n%s", body) >= 0);
	assert_int_equal(tu_write_file(path, text, strlen(text)), 0);
	assert_int_equal(chmod(path, mode), 0);
	free(text);
	free(path);
}

/* A hook that appends its own name to the order file, then runs tail. */
static void add_order_hook(struct fx *f, const char *name, mode_t mode, const char *tail)
{
	char *body = NULL;

	assert_true(asprintf(&body, "echo %s >> '%s'\n%s", name, f->order, tail) >= 0);
	add_hook(f, name, mode, body);
	free(body);
}

/* The hooks that ran, in order: want ("" for none). */
static void assert_order(struct fx *f, const char *want)
{
	char *got = tu_read_file(f->order, NULL); /* none yet: no file */

	assert_string_equal(got ? got : "", want);
	free(got);
}

static int run(struct fx *f, int timeout_s)
{
	struct hook_env env = {.backend = "dualbank", .version = "2.0", .slot = "B",
			       .target = "/dev/mmcblk0p3"};

	err_clear(&f->e);
	return hooks_run(f->hooks, "pre-install", &env, timeout_s, &f->e);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#define assert_contains(hay, needle)                                                    \
	do {                                                                            \
		if (!strstr((hay), (needle)))                                           \
			fail_msg("\"%s\" does not contain \"%s\"", (hay), (needle));    \
	} while (0)

static void expect_failure(struct fx *f, int rc, int exit_class, const char *msg)
{
	assert_true(rc < 0);
	assert_int_equal(f->e.exit, exit_class);
	assert_string_equal(f->e.msg, msg);
}

/* Gone, or a zombie waiting for whoever inherited it. */
static int proc_gone(pid_t pid)
{
	char path[64], *stat;
	int gone;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	stat = tu_read_file(path, NULL);
	if (!stat)
		return 1;
	gone = strstr(stat, ") Z ") != NULL;
	free(stat);
	return gone;
}

static int wait_gone(pid_t pid)
{
	for (int i = 0; i < 100 && !proc_gone(pid); i++)
		usleep(20000);
	return proc_gone(pid);
}

static pid_t read_pid(const char *path)
{
	char *s = tu_read_file(path, NULL);
	pid_t pid;

	assert_non_null(s);
	pid = (pid_t)atoi(s);
	free(s);
	assert_true(pid > 1);
	return pid;
}

/* ---- tests ------------------------------------------------------------- */

static void test_name_order(void **state)
{
	struct fx *f = *state;

	/* strcmp order: digits < upper case < lower case, and "3" after "20". */
	add_order_hook(f, "a-low", 0755, "");
	add_order_hook(f, "3-c", 0755, "");
	add_order_hook(f, "B-up", 0700, "");
	add_order_hook(f, "20-b", 0755, "");
	add_order_hook(f, "10-a", 0755, "");
	assert_int_equal(run(f, 10), 0);
	assert_false(err_isset(&f->e));
	assert_order(f, "10-a\n20-b\n3-c\nB-up\na-low\n");
}

static void test_environment(void **state)
{
	struct fx *f = *state;
	char *out = tu_path(f->dir, "env"), *body = NULL;

	/* A stale value in our own environment must be replaced, not duplicated. */
	setenv("UPDATER_SLOT", "stale", 1);
	setenv("TEST_HOOKS_INHERITED", "yes", 1);
	assert_true(asprintf(&body,
			     "set -u\n"
			     "echo \"$UPDATER_BACKEND|$UPDATER_VERSION|$UPDATER_SLOT|$UPDATER_TARGET|"
			     "$UPDATER_PHASE|${TEST_HOOKS_INHERITED-}|$(env | grep -c '^UPDATER_SLOT=')\" > '%s'\n",
			     out) >= 0);
	add_hook(f, "10-env", 0755, body);
	assert_int_equal(run(f, 10), 0);
	unsetenv("UPDATER_SLOT");
	unsetenv("TEST_HOOKS_INHERITED");
	tu_assert_file_text(out, "dualbank|2.0|B|/dev/mmcblk0p3|pre-install|yes|1\n");

	/* Without an env every variable is still set (empty), so set -u works. */
	err_clear(&f->e);
	assert_int_equal(hooks_run(f->hooks, "pre-install", NULL, 10, &f->e), 0);
	tu_assert_file_text(out, "||||pre-install||1\n");
	free(body);
	free(out);
}

static void test_failure_stops(void **state)
{
	struct fx *f = *state;

	add_order_hook(f, "10-ok", 0755, "");
	add_order_hook(f, "20-fail", 0755, "exit 3\n");
	add_order_hook(f, "30-after", 0755, "");
	expect_failure(f, run(f, 10), UPD_EXIT_HOOK, "pre-install hook 20-fail: exited with status 3");
	assert_order(f, "10-ok\n20-fail\n");
}

static void test_killed_by_signal(void **state)
{
	struct fx *f = *state;

	add_hook(f, "10-suicide", 0755, "kill -9 $$\n");
	expect_failure(f, run(f, 10), UPD_EXIT_HOOK, "pre-install hook 10-suicide: killed by signal 9");
}

/* The hook and its background children hang: SIGTERM reaches the whole
 * process group (a child's TERM trap runs), and nothing survives. */
static void test_timeout(void **state)
{
	struct fx *f = *state;
	char *pidfile = tu_path(f->dir, "bg.pid"), *marker = tu_path(f->dir, "term"), *body = NULL;
	char *got;
	double t0, dt;

	assert_true(asprintf(&body,
			     "sleep 30 &\necho $! > '%s'\n"
			     "( trap 'echo got-term > \"%s\"; exit 0' TERM; sleep 30 & wait ) &\n"
			     "sleep 30\n",
			     pidfile, marker) >= 0);
	add_hook(f, "10-hang", 0755, body);
	add_order_hook(f, "20-after", 0755, "");
	t0 = now_s();
	expect_failure(f, run(f, 1), UPD_EXIT_HOOK, "pre-install hook 10-hang: timed out after 1 s");
	dt = now_s() - t0;
	/* Up to 2 s more if init is slow to reap the children's zombies. */
	assert_true(dt >= 0.9 && dt < 3.5);
	assert_true(wait_gone(read_pid(pidfile)));
	got = tu_read_file(marker, NULL);
	assert_non_null(got);
	assert_string_equal(got, "got-term\n");
	assert_null(tu_read_file(f->order, NULL));
	free(got);
	free(body);
	free(marker);
	free(pidfile);
}

/* A hook ignoring SIGTERM gets SIGKILL 2 s later, and so does its group. */
static void test_timeout_sigkill(void **state)
{
	struct fx *f = *state;
	char *pidfile = tu_path(f->dir, "bg.pid"), *body = NULL;
	double t0, dt;

	/* The background sleep inherits the ignored SIGTERM. */
	assert_true(asprintf(&body, "trap '' TERM\nsleep 30 &\necho $! > '%s'\n"
			     "while :; do sleep 1; done\n", pidfile) >= 0);
	add_hook(f, "10-stubborn", 0755, body);
	t0 = now_s();
	expect_failure(f, run(f, 1), UPD_EXIT_HOOK, "pre-install hook 10-stubborn: timed out after 1 s");
	dt = now_s() - t0;
	assert_true(dt >= 2.9 && dt < 5.0);
	assert_true(wait_gone(read_pid(pidfile)));
	free(body);
	free(pidfile);
}

/* A hook that leaves a daemon holding its stdout must not make us wait. */
static void test_daemon_keeps_pipe(void **state)
{
	struct fx *f = *state;
	char *pidfile = tu_path(f->dir, "daemon.pid"), *body = NULL;
	double t0, dt;
	pid_t pid;

	assert_true(asprintf(&body, "sleep 30 &\necho $! > '%s'\necho started\nexit 0\n", pidfile) >= 0);
	add_hook(f, "10-daemon", 0755, body);
	add_order_hook(f, "20-next", 0755, "");
	t0 = now_s();
	assert_int_equal(run(f, 20), 0);
	dt = now_s() - t0;
	assert_true(dt < 3.0);
	assert_order(f, "20-next\n");
	pid = read_pid(pidfile);
	assert_false(proc_gone(pid)); /* left alone after a successful hook */
	kill(pid, SIGKILL);
	assert_true(wait_gone(pid));
	free(body);
	free(pidfile);
}

static void test_missing_dirs(void **state)
{
	struct fx *f = *state;
	char *nothere = tu_path(f->dir, "nothere");

	err_clear(&f->e);
	assert_int_equal(hooks_run(NULL, "pre-install", NULL, 5, &f->e), 0);
	/* hooks.dir exists but has no post-install.d */
	assert_int_equal(hooks_run(f->hooks, "post-install", NULL, 5, &f->e), 0);
	/* an empty pre-install.d */
	assert_int_equal(hooks_run(f->hooks, "pre-install", NULL, 5, &f->e), 0);
	assert_false(err_isset(&f->e));
	/* A configured hooks.dir that does not exist is a config error: a typo
	 * or an unmounted file system must not disable every hook silently. */
	char *want = NULL;
	assert_true(asprintf(&want, "hooks.dir %s does not exist", nothere) >= 0);
	expect_failure(f, hooks_run(nothere, "pre-install", NULL, 5, &f->e), UPD_EXIT_USAGE, want);
	free(want);
	free(nothere);
}

/* chown needs root; without it the owner tests show as skipped. */
static void need_root(void)
{
	if (geteuid() != 0) {
		fprintf(stderr, "skipped: needs root (chown to another uid)\n");
		skip();
	}
}

#define NOBODY 65534

/* A hook owned by an unprivileged user runs as us only if we are that user:
 * mode 0755 is not enough. */
static void test_foreign_owner_hook(void **state)
{
	struct fx *f = *state;
	char *path = tu_path(f->pre, "20-theirs"), *want = NULL;

	need_root();
	add_order_hook(f, "10-first", 0755, "");
	add_order_hook(f, "20-theirs", 0755, "");
	assert_int_equal(chown(path, NOBODY, NOBODY), 0);
	assert_int_equal(run(f, 10), -EPERM);
	assert_int_equal(f->e.exit, UPD_EXIT_HOOK);
	assert_true(asprintf(&want, "%s: refusing hooks: owned by uid %d (only root or uid 0 may "
			     "own it)", path, NOBODY) >= 0);
	assert_string_equal(f->e.msg, want);
	assert_null(tu_read_file(f->order, NULL)); /* nothing ran */
	free(want);
	free(path);
}

/* The phase directory and hooks.dir: their owner could swap any hook. */
static void test_foreign_owner_dirs(void **state)
{
	struct fx *f = *state;

	need_root();
	add_order_hook(f, "10-first", 0755, "");
	assert_int_equal(chown(f->pre, NOBODY, NOBODY), 0);
	assert_int_equal(run(f, 10), -EPERM);
	assert_int_equal(f->e.exit, UPD_EXIT_HOOK);
	TU_ASSERT_OWNER_REFUSED(f->e.msg, f->pre);
	assert_int_equal(chown(f->pre, 0, 0), 0);
	assert_int_equal(chown(f->hooks, NOBODY, NOBODY), 0);
	assert_int_equal(run(f, 10), -EPERM);
	assert_contains(f->e.msg, "owned by uid 65534");
	assert_int_equal(chown(f->hooks, 0, 0), 0);
	/* ...and any directory above them. */
	assert_int_equal(chown(f->dir, NOBODY, NOBODY), 0);
	assert_int_equal(run(f, 10), -EPERM);
	assert_contains(f->e.msg, f->dir);
	assert_int_equal(chown(f->dir, 0, 0), 0);
	assert_null(tu_read_file(f->order, NULL));
	assert_int_equal(run(f, 10), 0);
}

/* Writes an executable script to path (mode 0755 whatever the umask). */
static void write_script(const char *path, const char *body)
{
	char *text = NULL;

	assert_true(asprintf(&text, "#!/bin/sh\n%s", body) >= 0);
	assert_int_equal(tu_write_file(path, text, strlen(text)), 0);
	assert_int_equal(chmod(path, 0755), 0);
	free(text);
}

/* A symlinked hook is judged by its target and every directory leading to
 * it, not only by the target's mode. */
static void test_symlinked_hook(void **state)
{
	struct fx *f = *state;
	char *open_dir = tu_path(f->dir, "open"), *target = tu_path(open_dir, "hook");
	char *bad_target = tu_path(f->dir, "bad-hook"), *link = tu_path(f->pre, "10-link");
	char *want = NULL;

	write_script(bad_target, "echo bad >> /dev/null\n");
	assert_int_equal(chmod(bad_target, 0757), 0);
	assert_int_equal(symlink(bad_target, link), 0);
	assert_int_equal(run(f, 10), -EPERM);
	assert_true(asprintf(&want, "%s: refusing hooks: %s is writable by group or others (mode "
			     "0757)", link, bad_target) >= 0);
	assert_string_equal(f->e.msg, want);
	free(want);

	/* A fine file in a directory anyone may write (no sticky bit). */
	mkdir_mode(open_dir, 0777);
	write_script(target, "echo ran >> /dev/null\n");
	assert_int_equal(unlink(link), 0);
	assert_int_equal(symlink(target, link), 0);
	assert_int_equal(run(f, 10), -EPERM);
	assert_true(asprintf(&want, "%s: refusing hooks: %s is writable by group or others (mode "
			     "0777)", link, open_dir) >= 0);
	assert_string_equal(f->e.msg, want);
	assert_int_equal(f->e.exit, UPD_EXIT_HOOK);
	free(want);
	free(open_dir);
	free(target);
	free(bad_target);
	free(link);
}

/* A root-owned sticky directory on the way (/tmp) is fine; a symlink to a
 * binary (not a script) runs too. */
static void test_sticky_dir_and_binary(void **state)
{
	struct fx *f = *state;
	char *sticky = tu_path(f->dir, "sticky"), *target = tu_path(sticky, "hook");
	char *link = tu_path(f->pre, "10-link"), *bin = tu_path(f->pre, "20-true");

	need_root(); /* the sticky directory must be root's */
	mkdir_mode(sticky, 01777);
	write_script(target, "echo 10-link >> \"$ORDER\"\n");
	assert_int_equal(symlink(target, link), 0);
	assert_int_equal(symlink("/bin/true", bin), 0);
	setenv("ORDER", f->order, 1);
	assert_int_equal(run(f, 10), 0);
	unsetenv("ORDER");
	assert_order(f, "10-link\n");
	free(sticky);
	free(target);
	free(link);
	free(bin);
}

/* What runs is the file that was checked: a hook that replaces a later hook
 * after the checks (all done before the first hook runs) does not get its
 * replacement run. */
static void test_runs_checked_file(void **state)
{
	struct fx *f = *state;
	char *tail = NULL;

	assert_true(asprintf(&tail, "printf '#!/bin/sh\\necho replaced >> %s\\n' > '%s/new'\n"
			     "chmod 0755 '%s/new'\nmv '%s/new' '%s/20-second'\n",
			     f->order, f->pre, f->pre, f->pre, f->pre) >= 0);
	add_order_hook(f, "10-first", 0755, tail);
	add_order_hook(f, "20-second", 0755, "");
	assert_int_equal(run(f, 10), 0);
	assert_order(f, "10-first\n20-second\n");
	free(tail);
}

static void test_world_writable_hook(void **state)
{
	struct fx *f = *state;
	char *want = NULL;
	int rc;

	add_order_hook(f, "10-first", 0755, "");
	add_order_hook(f, "20-open", 0757, "");
	rc = run(f, 10);
	assert_int_equal(rc, -EPERM);
	assert_int_equal(f->e.exit, UPD_EXIT_HOOK);
	assert_true(asprintf(&want, "%s/20-open: refusing hooks: writable by group or others",
			     f->pre) >= 0);
	assert_contains(f->e.msg, want);
	/* Checked before anything runs: the phase is not left half done. */
	assert_null(tu_read_file(f->order, NULL));
	free(want);
}

static void test_group_writable_dir(void **state)
{
	struct fx *f = *state;
	char *want = NULL;

	add_order_hook(f, "10-first", 0755, "");
	assert_int_equal(chmod(f->pre, 0775), 0);
	assert_int_equal(run(f, 10), -EPERM);
	assert_int_equal(f->e.exit, UPD_EXIT_HOOK);
	assert_true(asprintf(&want, "%s: refusing hooks: writable by group or others", f->pre) >= 0);
	assert_contains(f->e.msg, want);
	assert_null(tu_read_file(f->order, NULL));
	free(want);

	/* The parent hooks.dir is checked too. */
	assert_int_equal(chmod(f->pre, 0755), 0);
	assert_int_equal(chmod(f->hooks, 0777), 0);
	assert_int_equal(run(f, 10), -EPERM);
	assert_contains(f->e.msg, f->hooks);
	assert_int_equal(chmod(f->hooks, 0755), 0);
}

static void test_skips(void **state)
{
	struct fx *f = *state;
	char *sub = tu_path(f->pre, "30-dir");

	add_order_hook(f, "10-noexec", 0644, "");
	add_order_hook(f, ".20-hidden", 0755, "");
	add_order_hook(f, "40-ok", 0755, "");
	add_order_hook(f, "50-noexec-writable", 0666, ""); /* never run, so not refused */
	mkdir_mode(sub, 0755);
	assert_int_equal(run(f, 10), 0);
	assert_order(f, "40-ok\n");
	free(sub);
}

static void test_output_logged(void **state)
{
	struct fx *f = *state;
	struct tu_stderr c;
	char *log;
	int rc;

	log_set_level(LOG_LVL_INFO);
	add_hook(f, "10-talk", 0755,
		 "echo 'hello world'\necho 'to stderr' >&2\necho first; echo second\n"
		 "printf 'no newline'\n");
	tu_stderr_begin(&c, f->dir); /* the log */
	rc = run(f, 10);
	log = tu_stderr_end(&c);
	assert_int_equal(rc, 0);
	assert_contains(log, "hook 10-talk: hello world\n");
	assert_contains(log, "hook 10-talk: to stderr\n");
	assert_contains(log, "hook 10-talk: first\n");
	assert_contains(log, "hook 10-talk: second\n");
	assert_contains(log, "hook 10-talk: no newline\n");
	free(log);
}

/* A script without #! cannot be exec'd: say so instead of "status 127". */
static void test_exec_failure(void **state)
{
	struct fx *f = *state;
	char *path = tu_path(f->pre, "10-noshebang");

	assert_int_equal(tu_write_file(path, "echo hi\n", 8), 0);
	assert_int_equal(chmod(path, 0755), 0);
	expect_failure(f, run(f, 10), UPD_EXIT_HOOK,
		       "pre-install hook 10-noshebang: cannot execute: Exec format error");
	free(path);
}

/* stdin is /dev/null, the hook leads its own process group, and our
 * descriptors (even those without O_CLOEXEC) do not leak into it. */
static void test_isolation(void **state)
{
	struct fx *f = *state;
	char *out = tu_path(f->dir, "iso"), *body = NULL, *got, *want = NULL;
	int leak = open("/dev/null", O_RDONLY); /* deliberately not O_CLOEXEC */
	int saved_in = dup(0), p[2];

	assert_true(leak > 2);
	/* Our stdin becomes a pipe so an inherited stdin would show. */
	assert_int_equal(pipe(p), 0);
	assert_int_equal(dup2(p[0], 0), 0);
	assert_true(asprintf(&body,
			     "read -r pid comm state ppid pgrp rest < /proc/$$/stat\n"
			     "leak=no; [ -e /proc/$$/fd/%d ] && leak=yes\n"
			     "echo \"$(readlink /proc/$$/fd/0) $(( pgrp == $$ )) $leak\" > '%s'\n",
			     leak, out) >= 0);
	add_hook(f, "10-iso", 0755, body);
	assert_int_equal(run(f, 10), 0);
	assert_int_equal(dup2(saved_in, 0), 0);
	close(saved_in);
	close(p[0]);
	close(p[1]);
	close(leak);
	got = tu_read_file(out, NULL);
	assert_non_null(got);
	assert_true(asprintf(&want, "/dev/null 1 no\n") >= 0);
	assert_string_equal(got, want);
	free(want);
	free(got);
	free(body);
	free(out);
}

/* Copies an example hook from the source tree into <hooks>/<phase>.d. */
static int copy_example(struct fx *f, const char *phase, const char *name)
{
	char *src = NULL, *dir = NULL, *dst;
	char *text;
	struct stat st;

	assert_true(asprintf(&src, "hooks/examples/%s.d/%s", phase, name) >= 0);
	text = tu_read_file(src, NULL);
	free(src);
	if (!text)
		return -1;
	assert_true(asprintf(&dir, "%s/%s.d", f->hooks, phase) >= 0);
	if (stat(dir, &st) < 0)
		mkdir_mode(dir, 0755);
	dst = tu_path(dir, name);
	assert_int_equal(tu_write_file(dst, text, strlen(text)), 0);
	assert_int_equal(chmod(dst, 0755), 0);
	free(dst);
	free(dir);
	free(text);
	return 0;
}

/* The shipped examples work as documented. */
static void test_examples(void **state)
{
	struct fx *f = *state;
	struct hook_env env = {.backend = "dualbank", .version = "2.0", .slot = "B",
			       .target = "/dev/mmcblk0p3"};
	char *history = tu_path(f->dir, "history"), *got;

	if (copy_example(f, "pre-install", "10-check-data-space") < 0 ||
	    copy_example(f, "post-install", "50-record-install") < 0)
		skip(); /* run from the source tree root, as make does */
	setenv("DATA_DIR", f->dir, 1);
	setenv("HISTORY", history, 1);
	setenv("MIN_FREE_KB", "1", 1);
	assert_int_equal(hooks_run(f->hooks, "pre-install", &env, 10, &f->e), 0);
	assert_int_equal(hooks_run(f->hooks, "post-install", &env, 10, &f->e), 0);
	got = tu_read_file(history, NULL);
	assert_non_null(got);
	assert_contains(got, " backend=dualbank version=2.0 slot=B target=/dev/mmcblk0p3\n");
	free(got);

	setenv("MIN_FREE_KB", "999999999999", 1);
	expect_failure(f, hooks_run(f->hooks, "pre-install", &env, 10, &f->e), UPD_EXIT_HOOK,
		       "pre-install hook 10-check-data-space: exited with status 1");
	unsetenv("DATA_DIR");
	unsetenv("HISTORY");
	unsetenv("MIN_FREE_KB");
	free(history);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, tu_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_name_order),
		T(test_environment),
		T(test_failure_stops),
		T(test_killed_by_signal),
		T(test_timeout),
		T(test_timeout_sigkill),
		T(test_daemon_keeps_pipe),
		T(test_missing_dirs),
		T(test_foreign_owner_hook),
		T(test_foreign_owner_dirs),
		T(test_symlinked_hook),
		T(test_sticky_dir_and_binary),
		T(test_runs_checked_file),
		T(test_world_writable_hook),
		T(test_group_writable_dir),
		T(test_skips),
		T(test_output_logged),
		T(test_exec_failure),
		T(test_isolation),
		T(test_examples),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests for the child-process supervisor (lib/child.c) with /bin/sh:
 * the exit status and a signal death pass through, a timeout stops the
 * child's whole process group (SIGTERM, then SIGKILL for one that ignores
 * it), an exec failure is reported, and nothing is left to reap. */
#include "testutil.h"

#include <errno.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "../../lib/child.h"

/* Starts sh -c script; stdout to out_fd (-1: inherited). */
static void start_sh(struct child *c, const char *script, int out_fd)
{
	char *argv[] = {"sh", "-c", (char *)script, NULL};
	struct child_spec s = {.path = "/bin/sh", .exec_fd = -1, .argv = argv, .stdin_fd = -1,
			       .stdout_fd = out_fd, .stderr_fd = -1, .keep_fd = -1};
	int err = -1;

	assert_int_equal(child_spawn(c, &s, &err), 0);
	assert_int_equal(err, 0);
	assert_true(c->pid > 0);
}

/* Nothing of ours is left to reap. */
static void assert_no_zombie(pid_t pid)
{
	int st;
	assert_int_equal(waitpid(pid, &st, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);
}

/* The child died of signal sig, and nothing is left to reap. */
static void assert_killed_by(const struct child *c, int sig)
{
	assert_true(WIFSIGNALED(c->status));
	assert_int_equal(WTERMSIG(c->status), sig);
	assert_no_zombie(c->pid);
}

static void test_exit_status(void **state)
{
	struct child c;
	(void)state;

	start_sh(&c, "exit 7", -1);
	assert_true(child_wait(&c, 10000, NULL, NULL));
	assert_true(WIFEXITED(c.status));
	assert_int_equal(WEXITSTATUS(c.status), 7);
	assert_no_zombie(c.pid);
}

static void test_signal_death(void **state)
{
	struct child c;
	(void)state;

	start_sh(&c, "kill -USR1 $$; sleep 5", -1);
	assert_true(child_wait(&c, 10000, NULL, NULL));
	assert_killed_by(&c, SIGUSR1);
}

/* The wait gives up at its deadline; the stop is SIGTERM, well within the
 * grace period for a child that does not ignore it. */
static void test_timeout_kills(void **state)
{
	struct child c;
	long long t0;
	(void)state;

	start_sh(&c, "sleep 30", -1);
	t0 = child_now_ms();
	assert_false(child_wait(&c, 200, NULL, NULL));
	assert_true(child_now_ms() - t0 >= 200);
	child_stop(&c, 5000, NULL, NULL);
	assert_true(child_now_ms() - t0 < 4000);
	assert_true(c.exited);
	assert_killed_by(&c, SIGTERM);
}

/* A child that ignores SIGTERM gets SIGKILL once the grace period is over. */
static void test_sigkill_after_grace(void **state)
{
	struct child c;
	long long t0;
	(void)state;

	start_sh(&c, "trap '' TERM; sleep 30 & wait; sleep 30", -1);
	usleep(100 * 1000); /* the trap is set */
	t0 = child_now_ms();
	child_stop(&c, 300, NULL, NULL);
	assert_true(child_now_ms() - t0 >= 300);
	assert_killed_by(&c, SIGKILL);
}

/* A process the child started (in its group) dies too. We are the
 * subreaper, so the orphan comes back to us and its end can be seen. */
static void test_grandchild_killed(void **state)
{
	struct child c;
	int p[2], st;
	char buf[32] = {0};
	pid_t g;
	(void)state;

	/* qemu-user (make cross-check runs these tests under it) does not
	 * emulate PR_SET_CHILD_SUBREAPER: the test cannot run there. */
	int r = prctl(PR_SET_CHILD_SUBREAPER, 1);
	if (r != 0 && errno == EINVAL) {
		print_message("no PR_SET_CHILD_SUBREAPER here (qemu-user?): skipped\n");
		skip();
	}
	assert_int_equal(r, 0);
	assert_int_equal(pipe(p), 0);
	start_sh(&c, "sleep 30 & echo $!; exec sleep 30", p[1]);
	close(p[1]);
	assert_true(read(p[0], buf, sizeof(buf) - 1) > 0);
	close(p[0]);
	g = (pid_t)atoi(buf);
	assert_true(g > 0);
	child_stop(&c, 500, NULL, NULL);
	assert_true(c.exited);
	assert_int_equal(waitpid(g, &st, 0), g);
	assert_true(WIFSIGNALED(st));
	prctl(PR_SET_CHILD_SUBREAPER, 0);
}

static int ticks;
static void count_tick(void *arg, int ms)
{
	(void)arg;
	ticks++;
	usleep((useconds_t)ms * 1000);
}

/* child_wait calls the caller's I/O in between (hooks read output there). */
static void test_io_callback(void **state)
{
	struct child c;
	(void)state;

	ticks = 0;
	start_sh(&c, "sleep 0.3", -1);
	assert_true(child_wait(&c, 10000, count_tick, NULL));
	assert_true(ticks >= 2);
	assert_true(WIFEXITED(c.status) && WEXITSTATUS(c.status) == 0);
}

/* fexecve of a checked descriptor; keep_fd stays open across exec, others not. */
static void test_fexecve_and_keep_fd(void **state)
{
	char *argv[] = {"sh", "-c", "echo kept >&\"$0\"", NULL, NULL};
	char fdarg[16], buf[16] = {0};
	struct child c;
	int p[2], err = -1, exe = open("/bin/sh", O_PATH | O_CLOEXEC);
	(void)state;

	assert_true(exe >= 0);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	snprintf(fdarg, sizeof(fdarg), "%d", p[1]);
	argv[3] = fdarg;
	struct child_spec s = {.path = "/bin/sh", .exec_fd = exe, .argv = argv, .stdin_fd = -1,
			       .stdout_fd = -1, .stderr_fd = -1, .keep_fd = p[1]};
	assert_int_equal(child_spawn(&c, &s, &err), 0);
	close(p[1]);
	close(exe);
	child_reap(&c);
	assert_true(WIFEXITED(c.status) && WEXITSTATUS(c.status) == 0);
	assert_int_equal(read(p[0], buf, sizeof(buf) - 1), 5);
	assert_string_equal(buf, "kept\n");
	close(p[0]);
}

static void test_exec_failure(void **state)
{
	char *argv[] = {"nothing", NULL};
	struct child_spec s = {.path = "/nonexistent/program", .exec_fd = -1, .argv = argv,
			       .stdin_fd = -1, .stdout_fd = -1, .stderr_fd = -1, .keep_fd = -1};
	struct child c;
	int err = 0;
	(void)state;

	assert_int_equal(child_spawn(&c, &s, &err), -ENOENT);
	assert_int_equal(err, ENOENT);
	assert_true(c.exited);
	assert_no_zombie(c.pid);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exit_status),
		cmocka_unit_test(test_signal_death),
		cmocka_unit_test(test_timeout_kills),
		cmocka_unit_test(test_sigkill_after_grace),
		cmocka_unit_test(test_grandchild_killed),
		cmocka_unit_test(test_io_callback),
		cmocka_unit_test(test_fexecve_and_keep_fd),
		cmocka_unit_test(test_exec_failure),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

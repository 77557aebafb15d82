/* The child-process supervisor (lib/child.h).
 *
 * The kill rule is the one the hooks had, now for the pull process too: the
 * whole process group gets SIGTERM, then SIGKILL after a grace period. It is
 * the safer of the two rules the updater had (the pull process got SIGKILL,
 * itself alone): a program the child started (a daemon a hook left behind, a
 * helper a library spawned) dies with it instead of running on, holding our
 * pipes or files; SIGTERM first lets a hook's trap clean up; and SIGKILL after
 * the grace period still ends a child that ignores SIGTERM, so a stop costs at
 * most the grace period. */
#include "child.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define TICK_MS 50 /* how often a wait looks for the child's exit */

long long child_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int dup_onto(int fd, int target)
{
	return fd < 0 || fd == target ? 0 : dup2(fd, target);
}

/* After fork: only async-signal-safe calls, then exec or _exit. err_w is
 * close-on-exec: the parent reads 0 bytes when the exec succeeded. */
static void run_child(const struct child_spec *s, pid_t parent, int err_w)
{
	struct sigaction dfl = {.sa_handler = SIG_DFL};
	sigset_t none;
	int err;

	setpgid(0, 0);
	if (s->die_with_parent && (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent))
		_exit(127); /* the parent is already gone */
	/* Ignored signals survive exec; a program must see SIGPIPE/SIGTERM normally. */
	for (int sig = 1; sig < NSIG; sig++)
		sigaction(sig, &dfl, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (dup_onto(s->stdin_fd, 0) < 0 || dup_onto(s->stdout_fd, 1) < 0 ||
	    dup_onto(s->stderr_fd, 2) < 0)
		goto fail;
#ifdef CLOSE_RANGE_CLOEXEC
	/* Descriptors others opened without O_CLOEXEC (a lock file, a socket) must
	 * not leak into the child, or a daemon it starts would hold them for ever.
	 * Best effort: kernels before 5.11 do not know the flag. */
	close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
#endif
	if (s->keep_fd >= 0 && fcntl(s->keep_fd, F_SETFD, 0) < 0)
		goto fail;
	/* The file that was checked, not whatever path names now. A #! script's
	 * interpreter reads it from /dev/fd/N, which must stay open across exec;
	 * cleared before the first try, not on ENOENT after it: under qemu-user
	 * (make cross-check) that exec succeeds and the interpreter then finds
	 * the descriptor closed. A binary merely inherits an O_PATH descriptor
	 * of itself. */
	if (s->exec_fd >= 0) {
		if (fcntl(s->exec_fd, F_SETFD, 0) == 0)
			fexecve(s->exec_fd, s->argv, s->envp ? s->envp : environ);
	} else {
		execve(s->path, s->argv, s->envp ? s->envp : environ);
	}
fail:
	err = errno;
	if (write(err_w, &err, sizeof(err)) < 0) {
		/* nothing left to report to */
	}
	_exit(127);
}

/* The exec error the child reports (0 when the exec succeeded). */
static int exec_error(int fd)
{
	int err = 0;
	ssize_t r;

	do
		r = read(fd, &err, sizeof(err));
	while (r < 0 && errno == EINTR);
	return r == (ssize_t)sizeof(err) ? err : 0;
}

int child_spawn(struct child *c, const struct child_spec *s, int *exec_errno)
{
	pid_t parent = getpid();
	int p[2], err;

	*c = (struct child){.pid = -1};
	if (exec_errno)
		*exec_errno = 0;
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	fflush(NULL); /* nothing buffered is written twice */
	c->pid = fork();
	if (c->pid < 0) {
		err = errno;
		close(p[0]);
		close(p[1]);
		return -err;
	}
	if (c->pid == 0)
		run_child(s, parent, p[1]);
	/* Also from the parent, so that kill(-pid) works before the child ran. */
	setpgid(c->pid, c->pid);
	close(p[1]);
	err = exec_error(p[0]);
	close(p[0]);
	if (!err)
		return 0;
	child_reap(c);
	if (exec_errno)
		*exec_errno = err;
	return -err;
}

/* Reaped by someone else (SIGCHLD ignored): nothing left to wait for, and
 * an end we cannot know counts as a failure, never as success. */
static void gone(struct child *c)
{
	c->status = 127 << 8;
	c->exited = true;
}

bool child_exited(struct child *c)
{
	pid_t r;

	if (c->exited)
		return true;
	do
		r = wait4(c->pid, &c->status, WNOHANG, &c->usage);
	while (r < 0 && errno == EINTR);
	if (r == c->pid)
		c->exited = true;
	else if (r < 0 && errno == ECHILD)
		gone(c);
	return c->exited;
}

void child_reap(struct child *c)
{
	while (!c->exited) {
		if (wait4(c->pid, &c->status, 0, &c->usage) == c->pid)
			c->exited = true;
		else if (errno != EINTR)
			gone(c);
	}
}

static void pause_ms(void (*io)(void *, int), void *arg, long long ms)
{
	if (ms > TICK_MS)
		ms = TICK_MS;
	if (ms < 0)
		ms = 0;
	if (io)
		io(arg, (int)ms);
	else
		poll(NULL, 0, (int)ms);
}

bool child_wait(struct child *c, long long ms, void (*io)(void *arg, int ms), void *arg)
{
	long long deadline = child_now_ms() + ms, t;

	while (!child_exited(c) && (t = child_now_ms()) < deadline)
		pause_ms(io, arg, deadline - t);
	return child_exited(c);
}

/* The grace period ends early once the child is reaped and kill(-pgid, 0)
 * finds nobody; zombies of its children count as present until init reaps
 * them, which at worst costs the rest of the grace period. */
void child_stop(struct child *c, int grace_ms, void (*io)(void *arg, int ms), void *arg)
{
	long long deadline = child_now_ms() + grace_ms, t;

	kill(-c->pid, SIGTERM);
	while ((t = child_now_ms()) < deadline) {
		pause_ms(io, arg, deadline - t);
		if (child_exited(c) && kill(-c->pid, 0) < 0)
			break;
	}
	kill(-c->pid, SIGKILL);
	child_reap(c);
}

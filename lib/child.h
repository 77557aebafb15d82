/* One supervisor for the child processes the updater starts: install hooks
 * (hooks/hooks.c) and the ostree pull process (backends/ostree/pull_proc.c).
 *
 * A child runs in a process group of its own, so that stopping it stops
 * everything it started. The caller does its own I/O on the pipes it set up
 * and asks here whether the child has exited; the kill rule and the reaping
 * are written once, here: child_stop() sends SIGTERM to the group, waits a
 * grace period, then SIGKILLs the group and reaps the child. No zombie is left
 * by child_stop() or child_reap(). Every wait is EINTR-safe. */
#pragma once
#include <stdbool.h>
#include <sys/resource.h>
#include <sys/types.h>

/* The grace period between SIGTERM and SIGKILL that the callers use. */
#define CHILD_KILL_GRACE_MS 2000

struct child_spec {
	const char *path;    /* the program, exec'd by path unless exec_fd >= 0 */
	int exec_fd;         /* >= 0: fexecve() of this descriptor, the file that was checked */
	char *const *argv;
	char *const *envp;   /* NULL: the updater's own environment */
	int stdin_fd, stdout_fd, stderr_fd; /* dup2'd onto 0, 1, 2; -1: inherited */
	int keep_fd;         /* one more descriptor the program keeps across exec; -1: none */
	bool die_with_parent; /* SIGKILL when the updater dies (PR_SET_PDEATHSIG) */
};

struct child {
	pid_t pid;     /* also its process group */
	bool exited;   /* reaped: status and usage are set */
	int status;    /* waitpid() status */
	struct rusage usage;
};

/* Starts the program. 0 once it runs (the exec succeeded); a negative errno
 * when the pipe or the fork failed (*exec_errno 0) or the exec did
 * (*exec_errno that errno, the child reaped). exec_errno may be NULL. */
int child_spawn(struct child *c, const struct child_spec *s, int *exec_errno);

/* Without blocking: true once the child has exited (it is then reaped). */
bool child_exited(struct child *c);

/* Waits until the child exits or ms pass, calling io(arg, ms) to wait (the
 * caller polls its pipes meanwhile, at most ms) or sleeping when io is NULL.
 * True if it exited. */
bool child_wait(struct child *c, long long ms, void (*io)(void *arg, int ms), void *arg);

/* The one kill rule: SIGTERM to the child's whole group, then up to grace_ms
 * for it to exit (ending early once the group is empty), then SIGKILL to the
 * group and the child reaped. io as for child_wait (a hook's clean-up
 * messages are still logged). */
void child_stop(struct child *c, int grace_ms, void (*io)(void *arg, int ms), void *arg);

/* Blocks until the child exits and reaps it. */
void child_reap(struct child *c);

/* Monotonic milliseconds, for deadlines. */
long long child_now_ms(void);

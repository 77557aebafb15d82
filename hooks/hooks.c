/* Install hooks: run every executable of <dir>/<phase>.d in name order.
 *
 * Each hook runs in its own process group (lib/child.h) so a timeout can kill
 * everything it started. Its output arrives on one pipe that we read with
 * poll() against a deadline; the hook's exit is detected between polls rather
 * than by waiting for EOF, because a background process the hook left behind
 * may keep the pipe open forever. */
#include "hooks.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../lib/log.h"
#include "../lib/trust.h"
#include "../lib/child.h"

#define LINE_MAX_LEN 1024    /* longer output lines are logged in pieces */
#define READ_BUDGET 16       /* reads per wake-up, so a chatty hook cannot starve the deadline */

struct hook_run {
	const char *phase, *name, *path;
	int exe;                 /* the hook file, opened and checked (O_PATH) */
	struct child child;
	int out;                 /* read end of the output pipe, -1 once closed */
	char line[LINE_MAX_LEN + 1];
	size_t len;
};

/* ---- directory scan ---------------------------------------------------- */

/* Anyone who can write a hook or a directory on its way can run code as us:
 * lib/trust.h. Returns 1 if dir exists and is trusted, 0 if it does not
 * exist and may be missing (a phase directory), <0 otherwise. hooks.dir
 * itself must exist: a typo must not silently disable every hook. */
static int check_dir(const char *dir, bool missing_ok, struct error *e)
{
	struct stat st;
	int r;

	if (stat(dir, &st) < 0) {
		if (errno == ENOENT && missing_ok)
			return 0;
		if (errno == ENOENT)
			return err_set(e, UPD_EXIT_USAGE, ENOENT, "hooks.dir %s does not exist", dir);
		return err_set(e, UPD_EXIT_HOOK, errno, "%s: %s", dir, strerror(errno));
	}
	if (!S_ISDIR(st.st_mode))
		return err_set(e, UPD_EXIT_HOOK, ENOTDIR, "%s: %s", dir, strerror(ENOTDIR));
	r = trust_path(dir, "refusing hooks", UPD_EXIT_HOOK, e);
	return r < 0 ? r : 1;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_names(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* All non-hidden names of dir, sorted by strcmp (locale-independent order). */
static int list_dir(const char *dir, char ***out, size_t *n_out, struct error *e)
{
	DIR *d = opendir(dir);
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;

	if (!d)
		return err_set(e, UPD_EXIT_HOOK, errno, "%s: %s", dir, strerror(errno));
	while ((errno = 0, de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (n == cap) {
			char **nn = realloc(names, (cap = cap ? 2 * cap : 16) * sizeof(*names));
			if (!nn)
				goto nomem;
			names = nn;
		}
		if (!(names[n] = strdup(de->d_name)))
			goto nomem;
		n++;
	}
	if (errno) {
		int err = errno;
		closedir(d);
		free_names(names, n);
		return err_set(e, UPD_EXIT_HOOK, err, "%s: %s", dir, strerror(err));
	}
	closedir(d);
	if (n > 1) /* names is NULL for an empty directory */
		qsort(names, n, sizeof(*names), cmp_names);
	*out = names;
	*n_out = n;
	return 0;
nomem:
	closedir(d);
	free_names(names, n);
	return err_oom(e, NULL);
}

/* 1: run it (*fd is the opened hook), 0: skip it, <0: refuse the whole phase.
 * The file is opened once and the descriptor is what is checked and later
 * executed (fexecve), so it cannot be swapped between check and run. A
 * symlink is judged by its target and the directories that lead there. */
static int check_hook(const char *path, int *fd, struct error *e)
{
	char *resolved = realpath(path, NULL);
	struct stat st;
	int r = 0, f = -1;

	if (!resolved) {
		log_debug("hooks: skipping %s: %s", path, strerror(errno));
		return 0;
	}
	/* O_PATH: exec needs no read permission and a FIFO must not block us;
	 * O_NOFOLLOW: resolved has no symlink left, one appearing now is a race. */
	f = open(resolved, O_PATH | O_CLOEXEC | O_NOFOLLOW);
	if (f < 0 || fstat(f, &st) < 0)
		log_debug("hooks: skipping %s: %s", path, strerror(errno));
	else if (!S_ISREG(st.st_mode))
		log_debug("hooks: skipping %s: not a regular file", path);
	else if (faccessat(AT_FDCWD, resolved, X_OK, AT_EACCESS) < 0)
		log_debug("hooks: skipping %s: not executable", path);
	else if ((r = trust_opened(path, resolved, &st, "refusing hooks", UPD_EXIT_HOOK, e)) == 0)
		r = 1;
	if (r == 1)
		*fd = f;
	else if (f >= 0)
		close(f);
	free(resolved);
	return r;
}

/* ---- environment ------------------------------------------------------- */

static const char *const env_names[] = {
	"UPDATER_BACKEND", "UPDATER_VERSION", "UPDATER_SLOT", "UPDATER_TARGET", "UPDATER_PHASE",
};
#define N_ENV (sizeof(env_names) / sizeof(env_names[0]))

static bool is_ours(const char *kv)
{
	for (size_t i = 0; i < N_ENV; i++) {
		size_t l = strlen(env_names[i]);
		if (strncmp(kv, env_names[i], l) == 0 && kv[l] == '=')
			return true;
	}
	return false;
}

/* Our environment minus stale UPDATER_* values, plus the hook's. Built before
 * fork because the child may only make async-signal-safe calls. Unknown
 * values are set empty rather than unset so `set -u` scripts work. */
static char **build_env(const struct hook_env *env, const char *phase)
{
	const char *vals[N_ENV] = {
		env ? env->backend : NULL, env ? env->version : NULL, env ? env->slot : NULL,
		env ? env->target : NULL, phase,
	};
	size_t n = 0, k = 0;
	char **out;

	while (environ && environ[n])
		n++;
	out = calloc(n + N_ENV + 1, sizeof(*out));
	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (!is_ours(environ[i]))
			out[k++] = environ[i];
	for (size_t i = 0; i < N_ENV; i++) {
		/* Owned strings sit at the end; free_env() finds them by prefix. */
		if (asprintf(&out[k], "%s=%s", env_names[i], vals[i] ? vals[i] : "") < 0) {
			out[k] = NULL;
			break;
		}
		k++;
	}
	return out;
}

static void free_env(char **envp)
{
	for (size_t i = 0; envp && envp[i]; i++)
		if (is_ours(envp[i]))
			free(envp[i]);
	free(envp);
}

static bool env_complete(char **envp)
{
	size_t n = 0;
	for (size_t i = 0; envp[i]; i++)
		n += is_ours(envp[i]);
	return n == N_ENV;
}

/* ---- parent: output and waiting ---------------------------------------- */

static void flush_line(struct hook_run *h)
{
	h->line[h->len] = '\0';
	log_info("hook %s: %s", h->name, h->line);
	h->len = 0;
}

static void consume(struct hook_run *h, const char *buf, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (buf[i] == '\n') {
			flush_line(h);
			continue;
		}
		h->line[h->len++] = buf[i];
		if (h->len == LINE_MAX_LEN)
			flush_line(h);
	}
}

/* Reads what is available now, within READ_BUDGET reads (the pipe is
 * non-blocking); closes it at EOF. */
static void read_output(struct hook_run *h)
{
	char buf[4096];

	for (int i = 0; i < READ_BUDGET && h->out >= 0; i++) {
		ssize_t r = read(h->out, buf, sizeof(buf));
		if (r > 0) {
			consume(h, buf, (size_t)r);
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EAGAIN)
			return;
		close(h->out); /* EOF or a read error: no more output either way */
		h->out = -1;
	}
}

/* Waits up to ms for output (child_wait and child_stop look for the hook's
 * exit in between). */
static void step(void *arg, int ms)
{
	struct hook_run *h = arg;
	struct pollfd p = {.fd = h->out, .events = POLLIN};

	if (poll(&p, h->out >= 0 ? 1 : 0, ms) > 0)
		read_output(h);
}

/* After a normal exit: log what is already buffered but do not wait for
 * EOF, a daemon the hook started may hold the pipe open indefinitely. */
static void finish_output(struct hook_run *h)
{
	if (h->out >= 0) {
		read_output(h);
		if (h->out >= 0) {
			log_warn("hook %s: a background process still holds its output open; "
				 "further output is discarded", h->name);
			close(h->out);
			h->out = -1;
		}
	}
	if (h->len)
		flush_line(h);
}

static int report(struct hook_run *h, bool timed_out, int timeout_s, struct error *e)
{
	const char *p = h->phase, *n = h->name;

	if (timed_out)
		return err_set(e, UPD_EXIT_HOOK, ETIMEDOUT, "%s hook %s: timed out after %d s", p, n,
			       timeout_s);
	if (WIFSIGNALED(h->child.status))
		return err_set(e, UPD_EXIT_HOOK, ECHILD, "%s hook %s: killed by signal %d", p, n,
			       WTERMSIG(h->child.status));
	if (WIFEXITED(h->child.status) && WEXITSTATUS(h->child.status) != 0)
		return err_set(e, UPD_EXIT_HOOK, ECHILD, "%s hook %s: exited with status %d", p, n,
			       WEXITSTATUS(h->child.status));
	return 0;
}

/* ---- one hook ---------------------------------------------------------- */

struct fds {
	int devnull, out[2];
};

static void close_fds(struct fds *f)
{
	int *all[] = {&f->devnull, &f->out[0], &f->out[1]};
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		if (*all[i] >= 0)
			close(*all[i]);
		*all[i] = -1;
	}
}

/* Everything is close-on-exec so nothing but the dup2'd copies reach the hook. */
static int open_fds(struct fds *f, struct error *e)
{
	f->devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (f->devnull < 0)
		return err_set(e, UPD_EXIT_OTHER, errno, "/dev/null: %s", strerror(errno));
	if (pipe2(f->out, O_CLOEXEC) < 0)
		return err_set(e, UPD_EXIT_OTHER, errno, "pipe: %s", strerror(errno));
	if (fcntl(f->out[0], F_SETFL, O_NONBLOCK) < 0)
		return err_set(e, UPD_EXIT_OTHER, errno, "pipe: %s", strerror(errno));
	return 0;
}

static int spawn(struct hook_run *h, char **envp, struct fds *f, struct error *e)
{
	char *argv[] = {(char *)h->path, NULL};
	struct child_spec spec = {.path = h->path, .exec_fd = h->exe, .argv = argv, .envp = envp,
				  .stdin_fd = f->devnull, .stdout_fd = f->out[1],
				  .stderr_fd = f->out[1], .keep_fd = -1};
	int err, rc = child_spawn(&h->child, &spec, &err);

	close(f->out[1]);
	f->out[1] = -1;
	if (rc < 0 && err)
		return err_set(e, UPD_EXIT_HOOK, err, "%s hook %s: cannot execute: %s", h->phase,
			       h->name, strerror(err));
	if (rc < 0)
		return err_set(e, UPD_EXIT_OTHER, -rc, "%s hook %s: fork: %s", h->phase, h->name,
			       strerror(-rc));
	h->out = f->out[0];
	f->out[0] = -1; /* now owned by h */
	return 0;
}

static int run_one(struct hook_run *h, char **envp, int timeout_s, struct error *e)
{
	struct fds f = {.devnull = -1, .out = {-1, -1}};
	bool timed_out;
	int r;

	log_info("running %s hook %s", h->phase, h->name);
	r = open_fds(&f, e);
	if (r == 0)
		r = spawn(h, envp, &f, e);
	close_fds(&f);
	if (r < 0)
		return r;
	timed_out = !child_wait(&h->child, (long long)timeout_s * 1000, step, h);
	/* Keep logging meanwhile: a hook's clean-up messages are worth seeing. */
	if (timed_out)
		child_stop(&h->child, CHILD_KILL_GRACE_MS, step, h);
	finish_output(h);
	return report(h, timed_out, timeout_s, e);
}

/* ---- entry point ------------------------------------------------------- */

/* Checks every entry before running any, so a refused hook cannot leave the
 * phase half done. fds[i] gets the opened hook, -1 for an entry to skip. */
static int check_all(const char *dir, char **names, int *fds, size_t n, struct error *e)
{
	for (size_t i = 0; i < n; i++) {
		char *path = NULL;
		int r;

		if (asprintf(&path, "%s/%s", dir, names[i]) < 0)
			return err_oom(e, NULL);
		r = check_hook(path, &fds[i], e);
		free(path);
		if (r < 0)
			return r;
	}
	return 0;
}

static int run_all(const char *dir, const char *phase, char **names, const int *fds, size_t n,
		   char **envp, int timeout_s, struct error *e)
{
	for (size_t i = 0; i < n; i++) {
		struct hook_run h = {.phase = phase, .name = names[i], .exe = fds[i], .out = -1};
		char *path = NULL;
		int r;

		if (fds[i] < 0)
			continue;
		if (asprintf(&path, "%s/%s", dir, names[i]) < 0)
			return err_oom(e, NULL);
		h.path = path;
		r = run_one(&h, envp, timeout_s, e);
		free(path);
		if (r < 0)
			return r;
	}
	return 0;
}

static void close_all(int *fds, size_t n)
{
	for (size_t i = 0; fds && i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	free(fds);
}

static int run_phase_dir(const char *dir, const char *phase, const struct hook_env *env,
			 int timeout_s, struct error *e)
{
	char **names = NULL, **envp = NULL;
	int *fds = NULL;
	size_t n = 0;
	int r = list_dir(dir, &names, &n, e);

	if (r == 0 && n && !(fds = malloc(n * sizeof(*fds))))
		r = err_oom(e, NULL);
	for (size_t i = 0; fds && i < n; i++)
		fds[i] = -1;
	if (r == 0)
		r = check_all(dir, names, fds, n, e);
	if (r == 0) {
		envp = build_env(env, phase);
		if (!envp || !env_complete(envp))
			r = err_oom(e, NULL);
		else
			r = run_all(dir, phase, names, fds, n, envp, timeout_s, e);
	}
	free_env(envp);
	close_all(fds, n);
	free_names(names, n);
	return r;
}

int hooks_run(const char *hooks_dir, const char *phase, const struct hook_env *env,
	      int timeout_s, struct error *e)
{
	char *dir = NULL;
	int r;

	if (!hooks_dir)
		return 0; /* hooks.dir not configured */
	if (!phase || timeout_s <= 0)
		return err_set(e, UPD_EXIT_OTHER, EINVAL, "hooks: invalid phase or timeout");
	/* Whoever can write hooks_dir can swap the phase directory: check both. */
	r = check_dir(hooks_dir, false, e);
	if (r < 0)
		return r;
	if (asprintf(&dir, "%s/%s.d", hooks_dir, phase) < 0)
		return err_oom(e, NULL);
	r = check_dir(dir, true, e);
	if (r > 0)
		r = run_phase_dir(dir, phase, env, timeout_s, e);
	else if (r == 0)
		log_debug("hooks: no %s", dir);
	free(dir);
	return r;
}

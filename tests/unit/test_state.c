/* Unit tests for core/state.c: the persisted update state (<state_dir>/state)
 * and the lock that serialises updaters. */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "../../core/state.h"

struct fx {
	char *dir;
	char path[PATH_MAX]; /* <dir>/state */
	char tmp[PATH_MAX];  /* <dir>/state.tmp */
	struct error e;
};

static int setup(void **state)
{
	struct fx *f = tu_fixture_new(sizeof(struct fx));
	if (!f)
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/state", f->dir);
	snprintf(f->tmp, sizeof(f->tmp), "%s/state.tmp", f->dir);
	*state = f;
	return 0;
}

/* ---- helpers ------------------------------------------------------------ */

static void write_state_text(struct fx *f, const char *text)
{
	assert_int_equal(tu_write_file(f->path, text, strlen(text)), 0);
}

static char *slurp(const char *path)
{
	char *s = tu_read_file(path, NULL);
	assert_non_null(s);
	return s;
}

static void assert_msg_has(const struct error *e, const char *needle)
{
	if (!strstr(e->msg, needle))
		fail_msg("message \"%s\" lacks \"%s\"", e->msg, needle);
}

static void assert_has_line(const char *text, const char *line)
{
	size_t n = strlen(line);
	for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (strncmp(p, line, n) == 0 && (p[n] == '\n' || p[n] == '\0'))
			return;
	fail_msg("state file lacks the line \"%s\":\n%s", line, text);
}

static bool exists(const char *path)
{
	struct stat sb;
	return lstat(path, &sb) == 0;
}

static void save_ok(struct fx *f, struct update_state *s)
{
	err_clear(&f->e);
	int rc = state_save(f->dir, s, &f->e);
	if (rc != 0)
		fail_msg("state_save: %d %s", rc, f->e.msg);
}

static void load_ok(struct fx *f, struct update_state *s)
{
	err_clear(&f->e);
	int rc = state_load(f->dir, s, &f->e);
	if (rc != 0)
		fail_msg("state_load: %d %s", rc, f->e.msg);
}

/* A load that must fail with "<dir>/state:<line>: not understood". */
static void expect_bad(struct fx *f, const char *text, int line)
{
	struct update_state s;
	char where[PATH_MAX + 32];

	write_state_text(f, text);
	err_clear(&f->e);
	assert_int_equal(state_load(f->dir, &s, &f->e), -EBADMSG);
	assert_int_equal(f->e.exit, UPD_EXIT_OTHER);
	snprintf(where, sizeof(where), "state file %s:%d: not understood", f->path, line);
	if (strcmp(f->e.msg, where) != 0)
		fail_msg("for\n%s\nexpected \"%s\", got \"%s\"", text, where, f->e.msg);
}

static char *policy_path(struct fx *f)
{
	char *p = NULL;
	assert_true(asprintf(&p, "%s/policy", f->dir) >= 0);
	return p;
}

/* A load that must fail with "<dir>/policy:<line>: not understood" (the state
 * file beside it is a valid one). */
static void expect_bad_policy(struct fx *f, const char *text, int line)
{
	struct update_state s;
	char where[PATH_MAX + 32], *path = policy_path(f);

	write_state_text(f, "format=1\nstate=idle\n");
	assert_int_equal(tu_write_file(path, text, strlen(text)), 0);
	err_clear(&f->e);
	assert_int_equal(state_load(f->dir, &s, &f->e), -EBADMSG);
	snprintf(where, sizeof(where), "policy file %s:%d: not understood", path, line);
	if (strcmp(f->e.msg, where) != 0)
		fail_msg("for\n%s\nexpected \"%s\", got \"%s\"", text, where, f->e.msg);
	unlink(path);
	free(path);
}

/* The file at path with `add` appended as one more line; *line is its number. */
static char *with_line(const char *path, const char *add, int *line)
{
	char *text = slurp(path), *more = NULL;

	assert_true(asprintf(&more, "%s%s\n", text, add) >= 0);
	free(text);
	*line = 0;
	for (const char *p = more; *p; p++)
		*line += *p == '\n';
	return more;
}

static void set_target(struct update_state *s, const char *id, enum target_status st,
		       const char *version, const char *digest, uint64_t size)
{
	struct target_record *t = state_target(s, id, true);
	assert_non_null(t);
	assert_string_equal(t->id, id);
	t->status = st;
	snprintf(t->version, sizeof(t->version), "%s", version);
	snprintf(t->digest, sizeof(t->digest), "%s", digest);
	t->size = size;
}

static void assert_same_state(const struct update_state *a, const struct update_state *b)
{
	assert_int_equal(a->state, b->state);
	assert_string_equal(a->backend, b->backend);
	assert_string_equal(a->op_version, b->op_version);
	assert_string_equal(a->op_target, b->op_target);
	assert_string_equal(a->op_from, b->op_from);
	assert_string_equal(a->op_source, b->op_source);
	assert_string_equal(a->last_error, b->last_error);
	assert_int_equal(a->updated, b->updated);
	assert_int_equal(a->n_targets, b->n_targets);
	for (int i = 0; i < a->n_targets; i++) {
		const struct target_record *x = &a->targets[i], *y = &b->targets[i];
		assert_string_equal(x->id, y->id);
		assert_string_equal(x->version, y->version);
		assert_string_equal(x->digest, y->digest);
		assert_true(x->size == y->size);
		assert_int_equal(x->status, y->status);
	}
}

static const char digest_a[] =
	"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
static const char digest_b[] =
	"fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210";

/* ---- names -------------------------------------------------------------- */

static void test_names(void **state)
{
	static const char *const states[] = { "idle", "fetch", "verify", "pre-install",
					      "install", "post-install", "activated", "trial",
					      "committed", "failed", "rolled-back", "staged" };
	static const char *const statuses[] = { "empty", "incomplete", "verified", "good", "bad" };
	(void)state;

	assert_int_equal(ST__COUNT, 12);
	for (int i = 0; i < ST__COUNT; i++) {
		assert_string_equal(state_name((enum upd_state)i), states[i]);
		assert_int_equal(state_in_progress((enum upd_state)i), i >= ST_FETCH && i <= ST_POST_INSTALL);
	}
	assert_false(state_in_progress(ST_ACTIVATED));
	assert_true(state_in_progress(ST_POST_INSTALL));
	assert_string_equal(state_name(ST__COUNT), "?");
	assert_int_equal(TS__COUNT, 5);
	for (int i = 0; i < TS__COUNT; i++)
		assert_string_equal(target_status_name((enum target_status)i), statuses[i]);
	assert_string_equal(target_status_name(TS__COUNT), "?");
}

/* ---- load and save ------------------------------------------------------ */

static void test_missing_file_is_idle(void **state)
{
	struct fx *f = *state;
	struct update_state s;
	char missing[PATH_MAX];

	memset(&s, 0xa5, sizeof(s)); /* load must clear everything */
	load_ok(f, &s);
	assert_int_equal(s.state, ST_IDLE);
	assert_int_equal(s.n_targets, 0);
	TU_ASSERT_OP(s, "", "", "", "", "");
	assert_int_equal(s.updated, 0);
	assert_false(err_isset(&f->e));
	assert_false(exists(f->path)); /* loading creates nothing */

	/* A state_dir that does not exist yet (first start) is the same. */
	snprintf(missing, sizeof(missing), "%s/not/yet", f->dir);
	memset(&s, 0xa5, sizeof(s));
	assert_int_equal(state_load(missing, &s, &f->e), 0);
	assert_int_equal(s.state, ST_IDLE);
	assert_int_equal(s.n_targets, 0);
}

static void test_round_trip_every_field(void **state)
{
	struct fx *f = *state;
	struct update_state s = { 0 }, got;

	s.state = ST_POST_INSTALL;
	snprintf(s.backend, sizeof(s.backend), "dualbank");
	snprintf(s.op_version, sizeof(s.op_version), "2.1.0-rc1+git.7=x");
	snprintf(s.op_target, sizeof(s.op_target), "B");
	snprintf(s.op_from, sizeof(s.op_from), "A");
	/* '=' and '#' inside a value, and non-ASCII UTF-8, survive. */
	snprintf(s.last_error, sizeof(s.last_error),
		 "download http://h/x.upd?a=1#frag: HTTP 503 — Service Unavailable");
	snprintf(s.op_source, sizeof(s.op_source), "%s origin:stable", digest_b);
	set_target(&s, "A", TS_GOOD, "1.0", digest_a, 0);
	set_target(&s, "B", TS_VERIFIED, "2.1.0-rc1+git.7=x", digest_b, UINT64_MAX);
	set_target(&s, "deploy-0", TS_BAD, "3", "", 123456789012345ULL);
	set_target(&s, "deploy-1", TS_INCOMPLETE, "", "", 1);
	set_target(&s, "C", TS_EMPTY, "", "", 0);
	set_target(&s, "3e5a9c1f.0", TS_GOOD, "4", "", 4); /* ostree: csum.serial */

	time_t before = time(NULL);
	save_ok(f, &s);
	time_t after = time(NULL);
	assert_true(s.updated >= (int64_t)before && s.updated <= (int64_t)after);

	load_ok(f, &got);
	assert_same_state(&s, &got);
	assert_int_equal(got.n_targets, 6);
	assert_non_null(state_target(&got, "3e5a9c1f.0", false));
	assert_int_equal(state_target(&got, "3e5a9c1f.0", false)->status, TS_GOOD);
	assert_int_equal(got.targets[1].status, TS_VERIFIED);
	assert_true(got.targets[1].size == UINT64_MAX);

	/* The text is the documented key=value format. */
	char *text = slurp(f->path);
	char line[128];
	assert_has_line(text, "format=1");
	assert_has_line(text, "state=post-install");
	assert_has_line(text, "backend=dualbank");
	assert_has_line(text, "op_target=B");
	assert_has_line(text, "op_from=A");
	assert_has_line(text, "target.B.status=verified");
	assert_has_line(text, "target.B.size=18446744073709551615");
	assert_has_line(text, "target.deploy-0.status=bad");
	assert_has_line(text, "target.deploy-1.status=incomplete");
	assert_has_line(text, "target.C.status=empty");
	assert_has_line(text, "target.3e5a9c1f.0.status=good");
	snprintf(line, sizeof(line), "updated=%" PRId64, s.updated);
	assert_has_line(text, line);
	free(text);

	/* Saving what was loaded gives the same file (apart from the time). */
	got.updated = 0;
	save_ok(f, &got);
	struct update_state again;
	load_ok(f, &again);
	again.updated = s.updated = got.updated;
	assert_same_state(&s, &again);
}

static void test_round_trip_every_state(void **state)
{
	struct fx *f = *state;

	for (int i = 0; i < ST__COUNT; i++) {
		struct update_state s = { .state = (enum upd_state)i }, got;
		char line[64];
		snprintf(s.op_target, sizeof(s.op_target), "slot%d", i);
		save_ok(f, &s);
		char *text = slurp(f->path);
		snprintf(line, sizeof(line), "state=%s", state_name((enum upd_state)i));
		assert_has_line(text, line);
		free(text);
		load_ok(f, &got);
		assert_int_equal(got.state, i);
		assert_string_equal(got.op_target, s.op_target);
	}
	for (int i = 0; i < TS__COUNT; i++) {
		struct update_state s = { 0 }, got;
		set_target(&s, "X", (enum target_status)i, "v", "d", (uint64_t)i);
		save_ok(f, &s);
		load_ok(f, &got);
		assert_int_equal(got.n_targets, 1);
		assert_int_equal(got.targets[0].status, i);
		assert_true(got.targets[0].size == (uint64_t)i);
	}
}

/* Hand-written files: comments are skipped, keys may come in any order, and
 * the records of one id are merged. */
static void test_load_hand_written(void **state)
{
	struct fx *f = *state;
	struct update_state s;

	write_state_text(f, "# a comment\nformat=1\ntarget.B.version=2.0\nstate=trial\n"
			    "target.A.status=good\n# another\ntarget.B.status=verified\n"
			    "op_target=B\ntarget.B.size=42\nupdated=1700000000\n");
	load_ok(f, &s);
	assert_int_equal(s.state, ST_TRIAL);
	assert_string_equal(s.op_target, "B");
	assert_int_equal(s.updated, 1700000000);
	assert_int_equal(s.n_targets, 2);
	struct target_record *b = state_target(&s, "B", false), *a = state_target(&s, "A", false);
	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal(a->status, TS_GOOD);
	assert_int_equal(b->status, TS_VERIFIED);
	assert_string_equal(b->version, "2.0");
	assert_true(b->size == 42);
	assert_null(state_target(&s, "C", false));
}

static void test_malformed_names_the_line(void **state)
{
	struct fx *f = *state;

	expect_bad(f, "format=1\nstate=idle\nthis line has no equals sign\nop_target=B\n", 3);
	expect_bad(f, "format=1\ncolour=blue\n", 2);                   /* unknown key */
	expect_bad(f, "format=2\nstate=idle\n", 1);                    /* unknown format */
	expect_bad(f, "# c\nformat=1\ntarget.A.colour=red\n", 3);      /* unknown record field */
	expect_bad(f, "format=1\ntarget..status=good\n", 2);           /* empty id */
	expect_bad(f, "format=1\ntarget.A=good\n", 2);                 /* no field */
	expect_bad(f, "format=1\nstate=idle\nstate\n", 3);
	char longid[128];
	snprintf(longid, sizeof(longid), "format=1\ntarget.%040d.status=good\n", 0);
	expect_bad(f, longid, 2); /* an id longer than the record's 31 characters */
}

static void test_unknown_names(void **state)
{
	struct fx *f = *state;

	expect_bad(f, "format=1\nbackend=dualbank\nstate=flying\n", 3);
	expect_bad(f, "state=Idle\n", 1);                              /* names are exact */
	expect_bad(f, "format=1\ntarget.B.status=verified\ntarget.A.status=great\n", 3);
}

/* Regression (fixed): state_load counts the lines strtok_r() returns, and strtok_r() skips
 * empty lines, so after a blank line the error names the wrong line: here the
 * bad line is line 4, the message says line 3. (The `line[0] == '\0'` check in
 * state_load is dead code for the same reason.) */
static void test_blank_line_keeps_line_numbers(void **state)
{
	struct fx *f = *state;


	expect_bad(f, "format=1\n\nstate=idle\nnonsense\n", 4);
}

static void test_max_targets(void **state)
{
	struct fx *f = *state;
	struct update_state s = { 0 }, got;
	char id[32];

	for (int i = 0; i < STATE_MAX_TARGETS; i++) {
		snprintf(id, sizeof(id), "t%d", i);
		set_target(&s, id, TS_VERIFIED, "1", "", (uint64_t)i);
	}
	assert_int_equal(s.n_targets, STATE_MAX_TARGETS);
	assert_null(state_target(&s, "one-too-many", true));
	assert_int_equal(s.n_targets, STATE_MAX_TARGETS);
	/* Existing records are still found, with or without create. */
	assert_ptr_equal(state_target(&s, "t3", true), &s.targets[3]);
	assert_ptr_equal(state_target(&s, "t7", false), &s.targets[7]);

	save_ok(f, &s);
	load_ok(f, &got);
	assert_int_equal(got.n_targets, STATE_MAX_TARGETS);
	assert_string_equal(got.targets[7].id, "t7");
	assert_true(got.targets[7].size == 7);

	/* A file with one record too many is refused at that record's first line:
	 * 9 header lines + 8 records of 4 lines each, so line 42. */
	int line;
	char *more = with_line(f->path, "target.t8.status=good", &line);
	assert_int_equal(line, 9 + 4 * STATE_MAX_TARGETS + 1);
	expect_bad(f, more, line);
	free(more);
}

static void test_target_remove(void **state)
{
	struct fx *f = *state;
	struct update_state s = { 0 }, got;

	set_target(&s, "A", TS_GOOD, "1", "", 1);
	set_target(&s, "B", TS_BAD, "2", "", 2);
	set_target(&s, "C", TS_VERIFIED, "3", "", 3);
	state_target_remove(&s, "nope"); /* absent: nothing happens */
	assert_int_equal(s.n_targets, 3);
	state_target_remove(&s, "B"); /* from the middle: the rest keeps its order */
	assert_int_equal(s.n_targets, 2);
	assert_string_equal(s.targets[0].id, "A");
	assert_string_equal(s.targets[1].id, "C");
	assert_true(s.targets[1].size == 3);
	assert_null(state_target(&s, "B", false));
	save_ok(f, &s);
	load_ok(f, &got);
	assert_int_equal(got.n_targets, 2);
	assert_null(state_target(&got, "B", false));
	char *text = slurp(f->path);
	assert_null(strstr(text, "target.B."));
	free(text);
	state_target_remove(&s, "C"); /* the last one */
	state_target_remove(&s, "A");
	assert_int_equal(s.n_targets, 0);
	/* room again for a full set */
	for (int i = 0; i < STATE_MAX_TARGETS; i++) {
		char id[8];
		snprintf(id, sizeof(id), "n%d", i);
		assert_non_null(state_target(&s, id, true));
	}
}

/* ---- atomicity ---------------------------------------------------------- */

static void test_save_is_atomic(void **state)
{
	struct fx *f = *state;
	struct update_state s = { .state = ST_FETCH }, got;

	save_ok(f, &s);
	assert_true(exists(f->path));
	assert_false(exists(f->tmp));

	/* A stale temp file from a cut save is replaced and not left behind. */
	assert_int_equal(tu_write_file(f->tmp, "state=garbage\n", 14), 0);
	s.state = ST_VERIFY;
	save_ok(f, &s);
	assert_false(exists(f->tmp));
	load_ok(f, &got);
	assert_int_equal(got.state, ST_VERIFY);

	/* Nothing but the state and the policy records (and nothing half-written)
	 * is in the directory. */
	char cmd[PATH_MAX + 64];
	snprintf(cmd, sizeof(cmd), "test \"$(ls -A '%s' | tr '\\n' ' ')\" = 'policy state '", f->dir);
	assert_int_equal(system(cmd), 0);
}

/* A save that cannot complete leaves the previous state file as it was. */
static void test_failed_save_keeps_old_state(void **state)
{
	struct fx *f = *state;
	struct update_state s = { .state = ST_INSTALL }, got;
	char missing[PATH_MAX];

	set_target(&s, "B", TS_INCOMPLETE, "2.0", "", 0);
	save_ok(f, &s);
	char *before = slurp(f->path);

	/* state.tmp cannot be created (a directory is in the way, even for root). */
	assert_int_equal(mkdir(f->tmp, 0755), 0);
	s.state = ST_POST_INSTALL;
	s.targets[0].status = TS_VERIFIED;
	err_clear(&f->e);
	int rc = state_save(f->dir, &s, &f->e);
	assert_true(rc < 0);
	assert_int_equal(f->e.exit, UPD_EXIT_OTHER);
	assert_msg_has(&f->e, "save update state: ");
	assert_msg_has(&f->e, f->tmp);
	char *after = slurp(f->path);
	assert_string_equal(before, after);
	load_ok(f, &got);
	assert_int_equal(got.state, ST_INSTALL);
	assert_int_equal(got.targets[0].status, TS_INCOMPLETE);
	free(before);
	free(after);

	/* A state_dir that does not exist: an error naming the path, nothing created. */
	snprintf(missing, sizeof(missing), "%s/gone", f->dir);
	err_clear(&f->e);
	assert_true(state_save(missing, &s, &f->e) < 0);
	assert_msg_has(&f->e, missing);
	assert_false(exists(missing));
}

/* Regression (fixed): state_save writes values as they are; only state_load turns newlines
 * into spaces ("Values are single-line"), which is too late. An error message
 * with a newline (e.g. `updater install $'/data/new\nrelease.upd'` gives
 * "fetch /data/new\nrelease.upd: open ...: No such file or directory", which
 * the engine stores as last_error) makes the state file unreadable, and every
 * later updater command fails with "state file ...: not understood" until the
 * file is removed by hand. */
static void test_newline_in_value_survives(void **state)
{
	struct fx *f = *state;
	struct update_state s = { .state = ST_FAILED }, got;


	snprintf(s.last_error, sizeof(s.last_error),
		 "fetch /data/new\nrelease.upd: open /data/new\nrelease.upd: No such file");
	snprintf(s.op_version, sizeof(s.op_version), "2.0\r");
	save_ok(f, &s);
	err_clear(&f->e);
	int rc = state_load(f->dir, &got, &f->e);
	if (rc != 0)
		fail_msg("state_load after saving a newline: %d %s", rc, f->e.msg);
	assert_int_equal(got.state, ST_FAILED);
	assert_string_equal(got.last_error,
			    "fetch /data/new release.upd: open /data/new release.upd: No such file");
}

/* ---- lock --------------------------------------------------------------- */

static void test_lock_held_by_another_process(void **state)
{
	struct fx *f = *state;
	int ready[2], release[2], fd = -1;
	char c = 0, lockpath[PATH_MAX + 8], pidtext[64];

	assert_int_equal(pipe(ready), 0);
	assert_int_equal(pipe(release), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct error e = { 0 };
		int cfd = -1;
		close(ready[0]);
		close(release[1]);
		char ok = state_lock(f->dir, &cfd, &e) == 0 ? 'y' : 'n';
		if (write(ready[1], &ok, 1) != 1)
			_exit(2);
		if (read(release[0], &c, 1) < 0) /* EOF when the parent is done */
			_exit(3);
		state_unlock(cfd);
		_exit(ok == 'y' ? 0 : 1);
	}
	close(ready[1]);
	close(release[0]);
	assert_int_equal(read(ready[0], &c, 1), 1);
	assert_int_equal(c, 'y');

	err_clear(&f->e);
	assert_int_equal(state_lock(f->dir, &fd, &f->e), -EBUSY);
	assert_int_equal(fd, -1);
	assert_int_equal(f->e.exit, UPD_EXIT_BUSY);
	snprintf(pidtext, sizeof(pidtext), "another updater is running (pid %ld holds ",
		 (long)pid);
	assert_msg_has(&f->e, pidtext);
	snprintf(lockpath, sizeof(lockpath), "%s/lock", f->dir);
	assert_msg_has(&f->e, lockpath);

	/* The holder goes away: the lock is free again and records our pid. */
	close(release[1]);
	int status = 0;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(ready[0]);
	err_clear(&f->e);
	assert_int_equal(state_lock(f->dir, &fd, &f->e), 0);
	assert_true(fd >= 0);
	char *text = slurp(lockpath);
	snprintf(pidtext, sizeof(pidtext), "%ld\n", (long)getpid());
	assert_string_equal(text, pidtext);
	free(text);

	/* A second lock while we hold it: busy too (naming us). */
	int fd2 = -1;
	err_clear(&f->e);
	assert_int_equal(state_lock(f->dir, &fd2, &f->e), -EBUSY);
	snprintf(pidtext, sizeof(pidtext), "pid %ld holds", (long)getpid());
	assert_msg_has(&f->e, pidtext);
	state_unlock(fd);
	err_clear(&f->e);
	assert_int_equal(state_lock(f->dir, &fd2, &f->e), 0);
	state_unlock(fd2);
	state_unlock(-1); /* harmless */
}

static void test_lock_dir_missing(void **state)
{
	struct fx *f = *state;
	char missing[PATH_MAX];
	int fd = -1;

	snprintf(missing, sizeof(missing), "%s/none", f->dir);
	assert_int_equal(state_lock(missing, &fd, &f->e), -ENOENT);
	assert_int_equal(f->e.exit, UPD_EXIT_OTHER);
	assert_msg_has(&f->e, missing);
	assert_int_equal(fd, -1);
}

/* ---- files in state_dir are not followed through symlinks --------------- */

/* A file someone wants overwritten, outside state_dir. */
static char *make_victim(struct fx *f)
{
	char *victim = NULL;
	assert_true(asprintf(&victim, "%s/../%s-victim", f->dir, strrchr(f->dir, '/') + 1) >= 0);
	assert_int_equal(tu_write_file(victim, "precious\n", 9), 0);
	return victim;
}

static void assert_victim_intact(char *victim)
{
	tu_assert_file_text(victim, "precious\n");
	unlink(victim);
	free(victim);
}

/* A symlink planted as state.tmp (or a stale state.tmp from a power cut) is
 * replaced, never written through: the save succeeds, the victim is intact. */
static void test_tmp_symlink_not_followed(void **state)
{
	struct fx *f = *state;
	struct update_state s = { .state = ST_COMMITTED }, got;
	char *victim = make_victim(f);

	assert_int_equal(symlink(victim, f->tmp), 0);
	save_ok(f, &s);
	load_ok(f, &got);
	assert_int_equal(got.state, ST_COMMITTED);
	assert_false(exists(f->tmp));
	assert_victim_intact(victim);
}

/* A symlink planted as lock: refused (ELOOP), its target not truncated. */
static void test_lock_symlink_refused(void **state)
{
	struct fx *f = *state;
	char lockpath[PATH_MAX + 8];
	char *victim = make_victim(f);
	int fd = -1;

	snprintf(lockpath, sizeof(lockpath), "%s/lock", f->dir);
	assert_int_equal(symlink(victim, lockpath), 0);
	assert_int_equal(state_lock(f->dir, &fd, &f->e), -ELOOP);
	assert_int_equal(fd, -1);
	assert_msg_has(&f->e, lockpath);
	assert_victim_intact(victim);
}

/* The state file itself is not read through a symlink either. */
static void test_state_symlink_refused(void **state)
{
	struct fx *f = *state;
	struct update_state got;
	char *victim = make_victim(f);

	assert_int_equal(symlink(victim, f->path), 0);
	err_clear(&f->e);
	assert_int_equal(state_load(f->dir, &got, &f->e), -ELOOP);
	assert_msg_has(&f->e, f->path);
	assert_victim_intact(victim);
}

/* ---- policy records (security floor, confirmed version, failed releases) */

static void test_policy_round_trip(void **state)
{
	struct fx *f = *state;
	struct update_state s = { 0 }, got;

	s.state = ST_ROLLED_BACK;
	s.security_floor = UINT64_MAX;
	snprintf(s.confirmed_version, sizeof(s.confirmed_version), "3.0 beta");
	snprintf(s.trial_failure, sizeof(s.trial_failure), "version 2.0 on B was not confirmed\nx");
	set_target(&s, "B", TS_BAD, "2.0", digest_b, 7);
	snprintf(s.targets[0].identity, sizeof(s.targets[0].identity), "%s", digest_a);
	s.targets[0].security_version = 42;
	state_failed_add(&s, digest_a, "2.0 rc", 1700000000);
	state_failed_add(&s, digest_b, "2.1", 1700000100);
	save_ok(f, &s);

	/* The records live in the policy file; the state file keeps only the keys
	 * an updater from before them understands (it refuses any other). */
	char *path = policy_path(f), *text = slurp(f->path);
	for (const char *k = "security_floor\0confirmed_version\0trial_failure\0failed_release\0"
			     "identity\0security_version\0"; *k; k += strlen(k) + 1)
		if (strstr(text, k))
			fail_msg("the state file holds '%s':\n%s", k, text);
	free(text);
	text = slurp(path);
	free(path);
	assert_has_line(text, "security_floor=18446744073709551615");
	assert_has_line(text, "confirmed_version=3.0 beta");
	assert_has_line(text, "trial_failure=version 2.0 on B was not confirmed x");
	char line[256];
	snprintf(line, sizeof(line), "failed_release=1700000000 %s 2.0 rc", digest_a);
	assert_has_line(text, line);
	snprintf(line, sizeof(line), "target.B.identity=%s", digest_a);
	assert_has_line(text, line);
	assert_has_line(text, "target.B.security_version=42");
	free(text);

	load_ok(f, &got);
	assert_true(got.security_floor == UINT64_MAX);
	assert_string_equal(got.confirmed_version, "3.0 beta");
	assert_string_equal(got.trial_failure, "version 2.0 on B was not confirmed x");
	assert_string_equal(got.targets[0].identity, digest_a);
	assert_true(got.targets[0].security_version == 42);
	assert_int_equal(got.n_failed, 2);
	assert_string_equal(got.failed[0].identity, digest_a);
	assert_string_equal(got.failed[0].version, "2.0 rc");
	assert_int_equal(got.failed[0].when, 1700000000);
	assert_string_equal(got.failed[1].version, "2.1");
	assert_non_null(state_failed_find(&got, digest_b));
	assert_null(state_failed_find(&got, ""));
	assert_null(state_failed_find(&got, digest_b + 1));
}

/* A state file written before these keys existed loads: floor 0, nothing
 * confirmed or failed, records without identity (security version 0). */
static void test_policy_old_file_loads(void **state)
{
	struct fx *f = *state;
	struct update_state s;

	memset(&s, 0xa5, sizeof(s));
	write_state_text(f, "# updater state: written by updater, do not edit\nformat=1\n"
			    "state=committed\nbackend=dualbank\nop_version=2.0\nop_target=B\n"
			    "op_from=A\nlast_error=\nupdated=1700000000\n"
			    "target.A.status=good\ntarget.A.version=1.0\ntarget.A.digest=\n"
			    "target.A.size=0\ntarget.B.status=good\ntarget.B.version=2.0\n"
			    "target.B.digest=ab\ntarget.B.size=9\n");
	load_ok(f, &s);
	assert_int_equal(s.state, ST_COMMITTED);
	assert_true(s.security_floor == 0);
	assert_string_equal(s.confirmed_version, "");
	assert_string_equal(s.trial_failure, "");
	assert_int_equal(s.n_failed, 0);
	assert_int_equal(s.n_targets, 2);
	assert_string_equal(s.targets[1].identity, "");
	assert_true(s.targets[1].security_version == 0);
}

static void test_policy_malformed(void **state)
{
	struct fx *f = *state;

	expect_bad_policy(f, "# x\nsecurity_floor=-1\n", 2);
	expect_bad_policy(f, "# x\nsecurity_floor=\n", 2);
	expect_bad_policy(f, "# x\nsecurity_floor=99999999999999999999\n", 2);
	expect_bad(f, "format=1\ntarget.A.status=good\ntarget.A.security_version=1x\n", 3);
	expect_bad(f, "format=1\nfailed_release=\n", 2);
	expect_bad(f, "format=1\nfailed_release=12 abc\n", 2);     /* no version */
	expect_bad(f, "format=1\nfailed_release=x abc 2.0\n", 2);  /* no time */
	expect_bad(f, "format=1\nfailed_release=-1 abc 2.0\n", 2); /* no sign */
	expect_bad(f, "format=1\nfailed_release=12  2.0\n", 2);    /* no identity */
}

/* One record per identity, and a full list forgets its oldest entry. */
static void test_failed_list_bounded(void **state)
{
	struct fx *f = *state;
	struct update_state s = { 0 }, got;
	char id[16], v[16];

	for (int i = 0; i < STATE_MAX_FAILED + 3; i++) {
		snprintf(id, sizeof(id), "id%d", i);
		snprintf(v, sizeof(v), "%d.0", i);
		state_failed_add(&s, id, v, 1000 + i);
		state_failed_add(&s, id, "again", 5000); /* a repeat keeps the first record */
	}
	state_failed_add(&s, "", "no identity", 1); /* nothing to remember it by */
	assert_int_equal(s.n_failed, STATE_MAX_FAILED);
	assert_null(state_failed_find(&s, "id2"));
	assert_string_equal(s.failed[0].identity, "id3");
	assert_string_equal(s.failed[STATE_MAX_FAILED - 1].identity, "id18");
	assert_string_equal(state_failed_find(&s, "id10")->version, "10.0");
	assert_int_equal(state_failed_find(&s, "id10")->when, 1010);
	save_ok(f, &s);
	load_ok(f, &got);
	assert_int_equal(got.n_failed, STATE_MAX_FAILED);
	assert_string_equal(got.failed[0].identity, "id3");

	/* A file with one failed release too many is refused at that line. */
	int line;
	char *path = policy_path(f), *more = with_line(path, "failed_release=1 idx 9.9", &line);
	expect_bad_policy(f, more, line);
	free(more);
	free(path);
}

/* A device that fell back to a slot whose updater predates the policy file:
 * that updater rewrites the state file in its own format and never touches
 * the policy file, and the records survive it. Records of a system the state
 * no longer has are not brought back. */
static void test_policy_survives_older_updater(void **state)
{
	struct fx *f = *state;
	struct update_state s = { 0 }, got;

	s.security_floor = 5;
	snprintf(s.confirmed_version, sizeof(s.confirmed_version), "3.0");
	set_target(&s, "A", TS_GOOD, "1.0", digest_a, 0);
	set_target(&s, "B", TS_BAD, "3.1", digest_b, 9);
	s.targets[1].security_version = 6;
	state_failed_add(&s, digest_b, "3.1", 1700000000);
	save_ok(f, &s);
	/* What an older updater writes after recording the fallback. */
	write_state_text(f, "# updater state: written by updater, do not edit\nformat=1\n"
			    "state=rolled-back\nbackend=dualbank\nop_version=3.1\nop_target=B\n"
			    "op_from=A\nlast_error=fell back\nupdated=1700000001\n"
			    "target.A.status=good\ntarget.A.version=1.0\ntarget.A.digest=\n"
			    "target.A.size=0\n");
	load_ok(f, &got);
	assert_int_equal(got.state, ST_ROLLED_BACK);
	assert_true(got.security_floor == 5);
	assert_string_equal(got.confirmed_version, "3.0");
	assert_non_null(state_failed_find(&got, digest_b));
	assert_int_equal(got.n_targets, 1);
	assert_null(state_target(&got, "B", false));
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, tu_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_names),
		T(test_missing_file_is_idle),
		T(test_round_trip_every_field),
		T(test_round_trip_every_state),
		T(test_load_hand_written),
		T(test_malformed_names_the_line),
		T(test_unknown_names),
		T(test_blank_line_keeps_line_numbers),
		T(test_max_targets),
		T(test_target_remove),
		T(test_save_is_atomic),
		T(test_failed_save_keeps_old_state),
		T(test_newline_in_value_survives),
		T(test_lock_held_by_another_process),
		T(test_lock_dir_missing),
		T(test_tmp_symlink_not_followed),
		T(test_lock_symlink_refused),
		T(test_state_symlink_refused),
		T(test_policy_round_trip),
		T(test_policy_old_file_loads),
		T(test_policy_malformed),
		T(test_failed_list_bounded),
		T(test_policy_survives_older_updater),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests of the update state machine (core/engine.c) with the fake backend
 * of engine_fixture.h: mark-good, rollback, check, open/lock/init, and the state_dir checks. */
#include "engine_fixture.h"

/* ---- mark-good ---------------------------------------------------------- */

static void test_mark_good_on_trial(void **state)
{
	struct fx *f = *state;
	struct update_state s;

	on_trial(f);
	boot(f); /* bootcount 2 */
	assert_env(f, "B", 1, 2, 3, 0);
	reset_calls();
	mark_good_ok(f);
	assert_env(f, "B", 0, 0, 3, 0);
	assert_string_equal(F.saves, "committed");
	assert_string_equal(F.calls, "confirm");
	assert_int_equal(F.n_confirm, 1);
	load(f, &s);
	assert_int_equal(s.state, ST_COMMITTED);
	assert_record(&s, "B", TS_GOOD);
	assert_record(&s, "A", TS_GOOD);
	assert_string_equal(s.op_version, "2.0");
	assert_string_equal(s.last_error, "");
	assert_reconcile_idempotent(f);

	/* Again: nothing on trial any more, nothing written, no confirm. */
	char *env0 = env_bytes(f);
	reset_calls();
	mark_good_ok(f);
	assert_int_equal(F.n_saves, 0);
	assert_int_equal(F.n_confirm, 0);
	assert_env_bytes(f, env0);
	free(env0);

	/* And a reboot keeps B. */
	boot(f);
	assert_string_equal(F.booted, "B");
	assert_state(f, ST_COMMITTED);
}

static void test_mark_good_not_on_trial(void **state)
{
	struct fx *f = *state;
	struct stat sb;

	start(f);
	char *env0 = env_bytes(f);
	reset_calls();
	mark_good_ok(f);
	assert_int_equal(F.n_saves, 0);
	assert_int_equal(F.n_confirm, 0);
	assert_string_equal(F.calls, "");
	assert_env_bytes(f, env0);
	assert_int_equal(stat(f->state_file, &sb), -1);
	free(env0);

	/* Activated but not rebooted: A is not on trial; nothing happens. */
	activated(f);
	start(f);
	env0 = env_bytes(f);
	reset_calls();
	mark_good_ok(f);
	assert_int_equal(F.n_saves, 0);
	assert_int_equal(F.n_confirm, 0);
	assert_env_bytes(f, env0);
	assert_state(f, ST_ACTIVATED);
	free(env0);
}

/* ---- rollback ----------------------------------------------------------- */

static void expect_rollback_refused(struct fx *f, const char *status)
{
	char want[256];

	start(f);
	char *env0 = env_bytes(f);
	reset_calls();
	assert_int_equal(do_rollback(f), -EPERM);
	assert_int_equal(f->e.exit, UPD_EXIT_BUSY);
	snprintf(want, sizeof(want), "rollback: B holds nothing the updater recorded as complete "
				     "and verified (%s); refusing to boot it", status);
	assert_string_equal(f->e.msg, want);
	assert_string_equal(F.calls, "previous");
	assert_int_equal(F.n_saves, 0);
	assert_env_bytes(f, env0);
	free(env0);
}

static void test_rollback_refused(void **state)
{
	struct fx *f = *state;

	expect_rollback_refused(f, "empty"); /* factory device: B unknown */

	F.fail_install = true;
	start(f);
	assert_true(do_install(f) < 0);
	F.fail_install = false;
	expect_rollback_refused(f, "incomplete");

	factory_device(f);
	f->cfg.bootenv.bootlimit = 0;
	activated(f);
	boot(f); /* falls back at once */
	assert_string_equal(F.booted, "A");
	expect_rollback_refused(f, "bad");
	assert_state(f, ST_ROLLED_BACK);
}

/* A recovery system (single-copy's recovery mode) holds no release: the
 * engine lets rollback boot it with no record of it, during a trial too. */
static void test_rollback_to_recovery(void **state)
{
	struct fx *f = *state;
	struct update_state s;

	F.previous_recovery = true;
	start(f);
	reset_calls();
	assert_int_equal(do_rollback(f), 0); /* factory device: B has no record */
	assert_string_equal(F.calls, "previous rollback");
	assert_string_equal(F.rolled_to, "B");
	assert_env(f, "B", 0, 0, 3, 0);

	factory_device(f);
	F.previous_recovery = true;
	on_trial(f);
	reset_calls();
	assert_int_equal(do_rollback(f), 0);
	assert_string_equal(F.rolled_to, "A");
	load(f, &s);
	assert_int_equal(s.state, ST_ROLLED_BACK);
	assert_record(&s, "B", TS_BAD); /* rejected on trial: recorded failed */
	assert_int_equal(s.n_failed, 1);
}

static void test_rollback_to_good(void **state)
{
	struct fx *f = *state;
	struct update_state s;

	on_trial(f);
	mark_good_ok(f);
	reset_calls();
	assert_int_equal(do_rollback(f), 0);
	assert_string_equal(F.calls, "previous rollback");
	assert_string_equal(F.rolled_to, "A");
	assert_string_equal(F.rolled_version, "1.0");
	assert_string_equal(F.saves, "rolled-back");
	assert_env(f, "A", 0, 0, 3, 0); /* not on trial */
	load(f, &s);
	assert_int_equal(s.state, ST_ROLLED_BACK);
	assert_string_equal(s.last_error, "rolled back at the user's request from B to A");
	assert_record(&s, "B", TS_GOOD); /* it was confirmed: rolling back does not undo that */
	assert_record(&s, "A", TS_GOOD);
	assert_reconcile_idempotent(f);

	boot(f);
	assert_string_equal(F.booted, "A");
	assert_state(f, ST_ROLLED_BACK);
	/* and forward again, to the confirmed B */
	reset_calls();
	assert_int_equal(do_rollback(f), 0);
	assert_string_equal(F.rolled_to, "B");
	assert_string_equal(F.rolled_version, "2.0");
	assert_env(f, "B", 0, 0, 3, 0);
}

static void test_rollback_during_trial(void **state)
{
	struct fx *f = *state;
	struct update_state s;

	on_trial(f);
	reset_calls();
	assert_int_equal(do_rollback(f), 0);
	assert_string_equal(F.rolled_to, "A");
	assert_env(f, "A", 0, 0, 3, 0);
	load(f, &s);
	assert_int_equal(s.state, ST_ROLLED_BACK);
	assert_record(&s, "B", TS_BAD); /* rejected on trial */
	assert_record(&s, "A", TS_GOOD);
	assert_string_equal(s.last_error,
			    "version 2.0 on B was rejected during its trial by 'updater rollback'");

	boot(f);
	assert_string_equal(F.booted, "A");
	assert_state(f, ST_ROLLED_BACK);
	assert_reconcile_idempotent(f);
	expect_rollback_refused(f, "bad");
}

static void test_rollback_cancels_pending(void **state)
{
	struct fx *f = *state;
	struct update_state s;

	activated(f);
	start(f);
	reset_calls();
	assert_int_equal(do_rollback(f), 0);
	assert_string_equal(F.calls, "rollback");
	assert_string_equal(F.rolled_to, "A");
	assert_env(f, "A", 0, 0, 3, 0);
	load(f, &s);
	assert_int_equal(s.state, ST_ROLLED_BACK);
	assert_string_equal(s.last_error, "pending update to version 2.0 on B cancelled by 'updater "
					  "rollback'");
	assert_reconcile_idempotent(f);

	boot(f);
	assert_string_equal(F.booted, "A");
	assert_state(f, ST_ROLLED_BACK);
	/* B no longer boots next: a new install may write it. */
	install_activates(f);
}

/* ---- check -------------------------------------------------------------- */

static void test_check_newer(void **state)
{
	struct fx *f = *state;
	struct release rel;

	start(f);
	char *env0 = env_bytes(f);
	reset_calls();
	assert_int_equal(do_check(f, &rel), 0);
	assert_string_equal(rel.version, "2.0");
	assert_true(rel.download_size == 4096);
	assert_string_equal(F.calls, "fetch target verify"); /* no bulk download */
	assert_string_equal(F.verify_target, "B");
	assert_int_equal(F.n_saves, 0); /* check changes nothing */
	assert_env_bytes(f, env0);
	free(env0);

	/* Newer, but for another board. */
	snprintf(F.rel.compatible, sizeof(F.rel.compatible), "other-board");
	assert_int_equal(do_check(f, &rel), -EPERM);
	assert_int_equal(f->e.exit, UPD_EXIT_VERIFY);
	assert_int_equal(F.n_saves, 0);
}

static void test_check_up_to_date(void **state)
{
	struct fx *f = *state;
	struct release rel;

	start(f);
	snprintf(F.rel.version, sizeof(F.rel.version), "1.0");
	reset_calls();
	assert_int_equal(do_check(f, &rel), 1);
	assert_int_equal(f->e.exit, UPD_EXIT_UPTODATE);
	assert_string_equal(f->e.msg, "up to date: " URL " offers 1.0, newest here is 1.0");
	assert_string_equal(F.calls, "fetch");
	assert_string_equal(rel.version, "1.0");

	snprintf(F.rel.version, sizeof(F.rel.version), "0.9");
	assert_int_equal(do_check(f, &rel), 1);
	assert_int_equal(f->e.exit, UPD_EXIT_UPTODATE);
	assert_string_equal(f->e.msg, "up to date: " URL " offers 0.9, newest here is 1.0");
	assert_int_equal(F.n_saves, 0);
}

static void test_check_pending_counts(void **state)
{
	struct fx *f = *state;
	struct release rel;

	activated(f);
	start(f);
	assert_up_to_date(f, "up to date: " URL " offers 2.0, newest here is 2.0 (pending reboot)");
	snprintf(F.rel.version, sizeof(F.rel.version), "1.5");
	assert_int_equal(do_check(f, &rel), 1);
	assert_int_equal(f->e.exit, UPD_EXIT_UPTODATE);
	assert_msg_has(f->e.msg, "newest here is 2.0 (pending reboot)");
	snprintf(F.rel.version, sizeof(F.rel.version), "2.1");
	assert_int_equal(do_check(f, &rel), 0);
	assert_string_equal(rel.version, "2.1");
	assert_state(f, ST_ACTIVATED);

	/* Once cancelled, the pending version no longer counts. */
	assert_int_equal(do_rollback(f), 0);
	snprintf(F.rel.version, sizeof(F.rel.version), "1.5");
	assert_int_equal(do_check(f, &rel), 0);
}

/* ---- open, lock, init --------------------------------------------------- */

static void test_open_errors(void **state)
{
	struct fx *f = *state;
	struct engine_opts o = { .verify_readback = true };
	struct engine *g = NULL;

	err_clear(&f->e);
	assert_int_equal(engine_open(&g, &f->cfg, "nope", ENGINE_NEED_LOCK, &o, &f->e), -EINVAL);
	assert_null(g); /* the constructor rule: nothing to close */
	assert_int_equal(f->e.exit, UPD_EXIT_USAGE);
	assert_msg_has(f->e.msg, "backend 'nope': not known (compiled in: ");
	assert_msg_has(f->e.msg, "dualbank");
	engine_close(g);

	activated(f);
	stop(f);
	g = NULL;
	err_clear(&f->e);
	assert_fails_with(f, engine_open(&g, &f->cfg, "dualbank", ENGINE_NEED_LOCK, &o, &f->e),
			  -EINVAL, UPD_EXIT_USAGE, "belongs to backend 'fake'");
	engine_close(g);
}

/* A second updater: refused with NEED_LOCK; with TRY_LOCK it only looks. */
static void test_lock(void **state)
{
	struct fx *f = *state;
	struct engine_opts o = { .verify_readback = true };
	struct engine *g = NULL;
	struct engine_status st;

	f->cfg.bootenv.bootlimit = 0;
	activated(f);
	uboot(f); /* a fallback waits to be reconciled */
	start(f);
	err_clear(&f->e);
	assert_int_equal(engine_open(&g, &f->cfg, "fake", ENGINE_NEED_LOCK, &o, &f->e), -EBUSY);
	assert_null(g);
	assert_int_equal(f->e.exit, UPD_EXIT_BUSY);
	assert_msg_has(f->e.msg, "another updater is running");
	engine_close(g);
	g = NULL;

	char *env0 = env_bytes(f);
	reset_calls();
	err_clear(&f->e);
	assert_int_equal(engine_open(&g, &f->cfg, "fake", ENGINE_TRY_LOCK, &o, &f->e), 0);
	assert_int_equal(engine_reconcile(g, &f->e), 0);
	assert_int_equal(F.n_saves, 0);
	assert_string_equal(F.calls, "");
	assert_env_bytes(f, env0);
	assert_int_equal(engine_status(g, &st, &f->e), 0);
	assert_true(st.busy);
	assert_int_equal(st.state, ST_ACTIVATED);
	assert_int_equal(st.boot.rollback, 1);
	engine_close(g);
	free(env0);

	reconcile_ok(f); /* the lock holder does it */
	assert_state(f, ST_ROLLED_BACK);
}

static void test_init(void **state)
{
	struct fx *f = *state;
	struct update_state s;

	tu_blank_file(f->envfile, 2 * ENV_SIZE); /* factory: no valid environment */
	f->cfg.bootenv.bootlimit = 5;
	err_clear(&f->e);
	int rc = engine_init(&f->cfg, "fake", false, &f->e);
	if (rc != 0)
		fail_msg("engine_init: %d %s", rc, f->e.msg);
	assert_env(f, "A", 0, 0, 5, 0);
	load(f, &s);
	assert_int_equal(s.state, ST_IDLE);
	assert_string_equal(s.backend, "fake");
	assert_record(&s, "A", TS_GOOD);
	assert_string_equal(rec(&s, "A")->version, "1.0");

	err_clear(&f->e);
	assert_fails_with(f, engine_init(&f->cfg, "fake", false, &f->e), -EEXIST, UPD_EXIT_USAGE,
			  "already initialised");
}

/* ---- state_dir: never created, must be ours ----------------------------- */

/* engine_open as `status` does (try-lock, boot env optional). */
static int open_as_status(struct fx *f)
{
	struct engine_opts o = { .verify_readback = true };

	stop(f);
	err_clear(&f->e);
	return engine_open(&f->g, &f->cfg, "fake", ENGINE_TRY_LOCK | ENGINE_BOOTENV_OPTIONAL, &o,
			   &f->e);
}

static bool path_exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

/* A state_dir that does not exist (its data partition did not mount) is a
 * config error naming it, for every command, and is not created: a fresh,
 * empty state on the root file system would forget an update in progress. */
static void test_state_dir_missing(void **state)
{
	struct fx *f = *state;
	char data[PATH_MAX + 8], cmd[PATH_MAX + 16];
	unsigned flags[] = { ENGINE_TRY_LOCK | ENGINE_BOOTENV_OPTIONAL, ENGINE_TRY_LOCK,
			     ENGINE_NEED_LOCK, 0 };
	struct engine_opts o = { .verify_readback = true };

	snprintf(data, sizeof(data), "%s/data", f->dir);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", data);
	for (int gone = 0; gone < 2; gone++) {
		/* first the state_dir alone, then its parent too */
		assert_int_equal(system(gone ? cmd : "true"), 0);
		if (!gone)
			assert_int_equal(rmdir(f->state_dir), 0);
		for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
			stop(f);
			err_clear(&f->e);
			assert_true(engine_open(&f->g, &f->cfg, "fake", flags[i], &o, &f->e) < 0);
			assert_int_equal(f->e.exit, UPD_EXIT_USAGE);
			assert_msg_has(f->e.msg, f->state_dir);
			assert_msg_has(f->e.msg, "does not exist");
			assert_false(path_exists(f->state_dir));
		}
		assert_true(gone || path_exists(data));
	}
	assert_false(path_exists(data));
	err_clear(&f->e);
	assert_true(engine_init(&f->cfg, "fake", false, &f->e) < 0);
	assert_int_equal(f->e.exit, UPD_EXIT_USAGE);
	assert_false(path_exists(data));
}

/* state_dir writable by group/others, or a directory above it writable by
 * others: anyone could plant a state. */
static void test_state_dir_writable(void **state)
{
	struct fx *f = *state;
	char data[PATH_MAX + 8];

	snprintf(data, sizeof(data), "%s/data", f->dir);
	assert_int_equal(chmod(f->state_dir, 0777), 0);
	assert_true(open_as_status(f) < 0);
	assert_int_equal(f->e.exit, UPD_EXIT_USAGE);
	assert_msg_has(f->e.msg, f->state_dir);
	assert_msg_has(f->e.msg, "writable by group or others (mode 0777)");
	assert_int_equal(chmod(f->state_dir, 0755), 0);
	assert_int_equal(chmod(data, 0775), 0);
	assert_true(open_as_status(f) < 0);
	assert_int_equal(f->e.exit, UPD_EXIT_USAGE);
	assert_msg_has(f->e.msg, data);
	assert_int_equal(chmod(data, 0755), 0);
	assert_int_equal(chmod(f->state_dir, 0700), 0);
	assert_int_equal(open_as_status(f), 0);
}

/* state_dir owned by another uid: refused even though it is not writable by us. */
static void test_state_dir_foreign_owner(void **state)
{
	struct fx *f = *state;

	if (geteuid() != 0) {
		fprintf(stderr, "skipped: needs root (chown to another uid)\n");
		skip();
	}
	assert_int_equal(chown(f->state_dir, 65534, 65534), 0);
	assert_true(open_as_status(f) < 0);
	assert_int_equal(f->e.exit, UPD_EXIT_USAGE);
	TU_ASSERT_OWNER_REFUSED(f->e.msg, f->state_dir);
	assert_int_equal(chown(f->state_dir, 0, 0), 0);
	assert_int_equal(open_as_status(f), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_state_dir_missing),
		T(test_state_dir_writable),
		T(test_state_dir_foreign_owner),
		T(test_mark_good_on_trial),
		T(test_mark_good_not_on_trial),
		T(test_rollback_refused),
		T(test_rollback_to_good), T(test_rollback_to_recovery),
		T(test_rollback_during_trial),
		T(test_rollback_cancels_pending),
		T(test_check_newer),
		T(test_check_up_to_date),
		T(test_check_pending_counts),
		T(test_open_errors),
		T(test_lock),
		T(test_init),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

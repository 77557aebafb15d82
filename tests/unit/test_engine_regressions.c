/* Unit tests of the update state machine (core/engine.c) with the fake backend
 * of engine_fixture.h: regressions: bugs once found and fixed, each kept as a test. */
#include "engine_fixture.h"

/* ---- regressions ---------------------------------------------------------- */

/* Regression (fixed): an error message with a newline makes the state file unreadable.
 * state_save() writes last_error as it is (core/state.c only folds newlines
 * when loading). A source path with a newline is enough: dual-bank's fetch
 * reports "fetch <source>: open <source>: ...", the engine stores that as
 * last_error, and from then on every command (boot, status, install) fails in
 * engine_open with "state file <dir>/state:N: not understood", until someone
 * deletes the file by hand. */
static void test_regression_newline_in_error_bricks_state(void **state)
{
	struct fx *f = *state;


	start(f);
	F.fail_fetch = true;
	snprintf(F.fetch_error, sizeof(F.fetch_error),
		 "fetch /data/new\nrelease.upd: open /data/new\nrelease.upd: No such file or "
		 "directory");
	assert_true(do_install(f) < 0);
	F.fail_fetch = false;

	struct engine_opts o = { .verify_readback = true };
	stop(f);
	err_clear(&f->e);
	int rc = engine_open(&f->g, &f->cfg, "fake", ENGINE_NEED_LOCK, &o, &f->e);
	if (rc != 0)
		fail_msg("the next start fails: %s", f->e.msg);
	assert_state(f, ST_FAILED);
}

/* Regression (fixed): a power cut while the post-install hooks run leaves the target
 * `verified`. reconcile records "interrupted during post-install" but keeps the
 * record (docs/state-machine.md: "the target stays incomplete"), so `updater
 * rollback` then makes B - whose post-install hooks never completed, and which
 * never had a trial - the default, with upgrade_available=0 (no fallback). A
 * post-install hook that *fails* marks the target bad and rollback refuses it. */
static void test_regression_cut_in_post_install_leaves_target_bootable(void **state)
{
	struct fx *f = *state;
	struct update_state s;


	start(f);
	F.cut_after = F.n_saves + 5; /* post-install is on the storage */
	F.fail_activate = true;      /* ...and the power goes before activate */
	assert_true(do_install(f) < 0);
	F.fail_activate = false;
	assert_state(f, ST_POST_INSTALL);
	assert_env(f, "A", 0, 0, 3, 0);

	start(f);
	reconcile_ok(f);
	load(f, &s);
	assert_int_equal(s.state, ST_FAILED);
	assert_msg_has(s.last_error, "interrupted during post-install");
	const struct target_record *b = rec(&s, "B");
	assert_non_null(b);
	assert_true(b->status != TS_VERIFIED && b->status != TS_GOOD);
	assert_int_equal(do_rollback(f), -EPERM);
	assert_env(f, "A", 0, 0, 3, 0);
}

/* Regression (fixed): reconcile is not idempotent when the environment names the install
 * target on trial while the target is not verified (state install, B
 * incomplete, env boot_slot=B upgrade_available=1; e.g. fw_setenv, or a
 * backend that writes the boot state before deploying, as docs/boot-contract.md
 * plans for ostree). The first reconcile records failed "...; nothing was
 * activated" but leaves the environment booting B on trial; the second sees
 * upgrade_available=1 and makes it activated, with B still incomplete, and the
 * next reboot starts the half-written B. */
static void test_regression_reconcile_unverified_trial_not_idempotent(void **state)
{
	struct fx *f = *state;


	mkdir_state(f);
	tu_write_text(f->state_file, "format=1\nstate=install\nbackend=fake\nop_version=2.0\n"
				  "op_target=B\nop_from=A\ntarget.A.status=good\n"
				  "target.A.version=1.0\ntarget.B.status=incomplete\n"
				  "target.B.version=2.0\n");
	env_set(f, "B", 1, 0, 3, 0);
	start(f);
	reconcile_ok(f);
	assert_state(f, ST_FAILED);
	char *first = state_text_no_time(f);
	reconcile_ok(f);
	char *second = state_text_no_time(f);
	struct update_state s;
	load(f, &s);
	if (s.state == ST_ACTIVATED)
		fail_msg("second reconcile: activated with B %s",
			 target_status_name(rec(&s, "B")->status));
	assert_string_equal(first, second);
	free(first);
	free(second);
}

/* Regression (fixed): settle_pending() takes "trial state, upgrade_available=0, running the
 * target" as a confirmation without looking at boot_slot. `updater rollback`
 * during a trial writes boot_slot=A upgrade_available=0 and then saves
 * rolled-back; if that process dies between the two writes and any updater
 * command runs again on B before the reboot, reconcile records the rejected B
 * as committed and `good` (never confirmed by mark-good), while A boots next.
 * The same happens after `fw_setenv boot_slot A upgrade_available 0`. */
static void test_regression_cut_rollback_during_trial_commits(void **state)
{
	struct fx *f = *state;
	struct update_state s;


	on_trial(f);
	F.cut = true; /* killed after the env write of the rollback */
	assert_true(do_rollback(f) < 0);
	assert_env(f, "A", 0, 0, 3, 0);
	assert_state(f, ST_TRIAL);

	start(f); /* still running B */
	reconcile_ok(f);
	load(f, &s);
	assert_int_equal(s.state, ST_ROLLED_BACK);
	assert_true(rec(&s, "B")->status != TS_GOOD);
}

TU_MAIN(NULL, NULL, T(test_regression_newline_in_error_bricks_state),
	T(test_regression_cut_in_post_install_leaves_target_bootable),
	T(test_regression_reconcile_unverified_trial_not_idempotent),
	T(test_regression_cut_rollback_during_trial_commits))

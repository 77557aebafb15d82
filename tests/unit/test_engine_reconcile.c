/* Unit tests of the update state machine (core/engine.c) with the fake backend
 * of engine_fixture.h: reconciliation at boot: trials, fallbacks, and power cuts at each step of an install. */
#include "engine_fixture.h"

/* ---- reconcile ---------------------------------------------------------- */

static void test_reconcile_factory_device(void **state)
{
	struct fx *f = *state;
	struct stat sb;

	start(f);
	reset_calls();
	char *env0 = env_bytes(f);
	reconcile_ok(f);
	assert_int_equal(F.n_saves, 0);
	assert_int_equal(stat(f->state_file, &sb), -1); /* nothing to record */
	assert_env_bytes(f, env0);
	assert_string_equal(F.calls, "");
	assert_reconcile_idempotent(f);
	free(env0);
}

/* Activated, reboot pending: a new start on A keeps it activated. */
static void test_reconcile_activated(void **state)
{
	struct fx *f = *state;

	activated(f);
	start(f);
	reset_calls();
	char *env0 = env_bytes(f);
	reconcile_ok(f);
	assert_int_equal(F.n_saves, 0);
	assert_state(f, ST_ACTIVATED);
	assert_env_bytes(f, env0);
	assert_reconcile_idempotent(f);
	free(env0);
}

/* upgrade_available=1 and running boot_slot: a trial boot. */
static void test_reconcile_trial(void **state)
{
	struct fx *f = *state;
	struct update_state s;
	struct engine_status st;

	activated(f);
	uboot(f);
	assert_string_equal(F.booted, "B");
	assert_env(f, "B", 1, 1, 3, 0); /* U-Boot counted the boot */
	start(f);
	char *env0 = env_bytes(f);
	reset_calls();
	reconcile_ok(f);
	assert_string_equal(F.saves, "trial");
	load(f, &s);
	assert_int_equal(s.state, ST_TRIAL);
	assert_string_equal(s.op_target, "B");
	assert_string_equal(s.op_version, "2.0");
	assert_record(&s, "B", TS_VERIFIED);
	assert_env_bytes(f, env0); /* noticing a trial writes no boot state */
	assert_int_equal(engine_status(f->g, &st, &f->e), 0);
	assert_string_equal(st.booted.id, "B");
	assert_string_equal(st.booted.version, "2.0"); /* from the record, not os-release */
	assert_false(st.has_pending);
	assert_reconcile_idempotent(f);

	/* A second trial boot: still trial, nothing written. */
	boot(f);
	assert_env(f, "B", 1, 2, 3, 0);
	assert_state(f, ST_TRIAL);
	assert_reconcile_idempotent(f);
	free(env0);
}

/* The state store lost track (replaced, restored): the environment is the truth. */
static void test_reconcile_lost_track(void **state)
{
	struct fx *f = *state;
	struct update_state s;

	mkdir_state(f);
	tu_write_text(f->state_file, "format=1\nstate=committed\nbackend=fake\nop_target=A\n"
				  "op_version=1.0\ntarget.B.status=verified\ntarget.B.version=2.0\n");
	env_set(f, "B", 1, 0, 3, 0);
	start(f);
	reconcile_ok(f);
	load(f, &s);
	assert_int_equal(s.state, ST_ACTIVATED);
	assert_string_equal(s.op_target, "B");
	assert_string_equal(s.op_version, "2.0");
	assert_reconcile_idempotent(f);

	boot(f);
	load(f, &s);
	assert_int_equal(s.state, ST_TRIAL);
	assert_string_equal(s.op_target, "B");
}

static void expect_fell_back(struct fx *f, int bootcount, int bootlimit)
{
	struct update_state s;
	char want[512];

	load(f, &s);
	assert_int_equal(s.state, ST_ROLLED_BACK);
	assert_record(&s, "B", TS_BAD);
	assert_record(&s, "A", TS_GOOD);
	assert_string_equal(s.op_target, "B");
	(void)bootcount; /* U-Boot's count includes the boot that fell back */
	snprintf(want, sizeof(want),
		 "version 2.0 on B was not confirmed within its %d trial boots; the "
		 "bootloader fell back to A (version 1.0)",
		 bootlimit);
	assert_string_equal(s.last_error, want);
	assert_msg_has(s.last_error, "fell back");
	assert_string_equal(F.finished, "A");
	assert_env(f, "A", 0, 0, bootlimit, 0);
}

/* Three trial boots without mark-good, the fourth falls back to A. */
static void test_reconcile_fallback_after_trial(void **state)
{
	struct fx *f = *state;

	on_trial(f);
	boot(f); /* bootcount 2 */
	boot(f); /* 3 */
	assert_string_equal(F.booted, "B");
	assert_state(f, ST_TRIAL);
	uboot(f); /* 4 > 3 */
	assert_string_equal(F.booted, "A");
	assert_env(f, "B", 0, 4, 3, 1);
	start(f);
	reset_calls();
	reconcile_ok(f);
	assert_string_equal(F.calls, "finish_fallback");
	assert_string_equal(F.saves, "rolled-back"); /* saved before the env write */
	expect_fell_back(f, 4, 3);
	assert_reconcile_idempotent(f);
	assert_string_equal(F.calls, "finish_fallback"); /* once */

	/* Then a new install to B is allowed. */
	F.rel.version[0] = '3';
	start(f);
	install_ok(f);
	struct update_state s;
	load(f, &s);
	assert_int_equal(s.state, ST_ACTIVATED);
	assert_record(&s, "B", TS_VERIFIED);
	assert_string_equal(rec(&s, "B")->version, "3.0");
	assert_string_equal(s.last_error, "");
}

/* bootlimit 0: the first boot of B falls back before its updater ever ran
 * (the state still says activated). */
static void test_reconcile_fallback_before_trial_noticed(void **state)
{
	struct fx *f = *state;

	f->cfg.bootenv.bootlimit = 0;
	activated(f);
	uboot(f);
	assert_string_equal(F.booted, "A");
	start(f);
	reconcile_ok(f);
	expect_fell_back(f, 1, 0);
	assert_reconcile_idempotent(f);
}

/* The environment write of a fallback is cut: the state was saved first, and
 * the next start repeats the write with the same result. */
static void test_reconcile_fallback_env_write_cut(void **state)
{
	struct fx *f = *state;

	f->cfg.bootenv.bootlimit = 0;
	activated(f);
	uboot(f);
	start(f);
	F.fail_finish = true;
	assert_int_equal(do_reconcile(f), -EIO);
	assert_string_equal(f->e.msg, "boot environment: cannot write (fake)");
	assert_state(f, ST_ROLLED_BACK);
	assert_env(f, "B", 0, 1, 0, 1);
	char *first = state_text_no_time(f);

	F.fail_finish = false;
	start(f);
	reset_calls();
	reconcile_ok(f);
	assert_string_equal(F.calls, "finish_fallback");
	char *second = state_text_no_time(f);
	assert_string_equal(first, second);
	expect_fell_back(f, 1, 0);
	assert_reconcile_idempotent(f);
	free(first);
	free(second);
}

/* Power cut while the slot is written. */
static void test_reconcile_interrupted_install(void **state)
{
	struct fx *f = *state;
	struct update_state s;

	start(f);
	char *env0 = env_bytes(f);
	F.cut_in_install = true;
	assert_true(do_install(f) < 0);
	F.cut_in_install = false;
	assert_state(f, ST_INSTALL); /* what the storage holds after the cut */

	start(f); /* next boot: still A, nothing was activated */
	reset_calls();
	reconcile_ok(f);
	assert_string_equal(F.saves, "failed");
	load(f, &s);
	assert_int_equal(s.state, ST_FAILED);
	assert_string_equal(s.last_error, "install of version 2.0 to B was interrupted during "
					  "install (power cut or killed); nothing was activated");
	assert_msg_has(s.last_error, "interrupted");
	assert_record(&s, "B", TS_INCOMPLETE);
	assert_env_bytes(f, env0);
	assert_reconcile_idempotent(f);

	/* Never bootable: rollback refuses it; a new install rewrites it. */
	assert_int_equal(do_rollback(f), -EPERM);
	assert_msg_has(f->e.msg, "(incomplete)");
	install_activates(f);
	free(env0);
}

/* A cut right after each of the first four saves of an install. */
static void test_reconcile_cut_at_each_step(void **state)
{
	struct fx *f = *state;
	static const char *const names[] = { "fetch", "verify", "pre-install", "install" };

	for (int k = 1; k <= 4; k++) {
		struct update_state s;
		char want[256];

		factory_device(f);
		start(f);
		char *env0 = env_bytes(f);
		F.cut_after = F.n_saves + k;
		assert_true(do_install(f) < 0);
		/* the cut save is the one before the next step's work */
		assert_string_equal(F.calls, k == 1   ? "target fetch download"
					     : k < 4 ? "target fetch download verify"
						     : "target fetch download verify install");
		assert_state(f, (enum upd_state)(ST_FETCH + k - 1));

		start(f);
		reconcile_ok(f);
		load(f, &s);
		assert_int_equal(s.state, ST_FAILED);
		snprintf(want, sizeof(want), "install of version %s to B was interrupted during %s "
					     "(power cut or killed); nothing was activated",
			 k == 1 ? "?" : "2.0", names[k - 1]);
		assert_string_equal(s.last_error, want);
		if (k < 4)
			assert_null(rec(&s, "B"));
		else
			assert_record(&s, "B", TS_INCOMPLETE);
		assert_env_bytes(f, env0);
		assert_reconcile_idempotent(f);
		free(env0);
	}
}

/* The cut came after the activating environment write, before the state
 * write: carry on as activated (then trial), not failed. */
static void test_reconcile_cut_after_activating_write(void **state)
{
	struct fx *f = *state;
	struct update_state s;

	start(f);
	F.cut_after = F.n_saves + 5;
	assert_true(do_install(f) < 0);
	assert_string_equal(F.calls, "target fetch download verify install activate");
	assert_state(f, ST_POST_INSTALL);
	assert_env(f, "B", 1, 0, 3, 0);

	start(f); /* still A */
	char *env0 = env_bytes(f);
	reset_calls();
	reconcile_ok(f);
	assert_string_equal(F.saves, "activated");
	load(f, &s);
	assert_int_equal(s.state, ST_ACTIVATED);
	assert_string_equal(s.op_target, "B");
	assert_string_equal(s.op_version, "2.0");
	assert_record(&s, "B", TS_VERIFIED);
	assert_env_bytes(f, env0);
	assert_reconcile_idempotent(f);
	free(env0);

	boot(f);
	assert_string_equal(F.booted, "B");
	assert_state(f, ST_TRIAL);
	mark_good_commits(f);
}

/* The same cut, but the power came back with the device booting B: the
 * state written on A says post-install, the first start on B sees its trial. */
static void test_reconcile_cut_after_activating_write_then_reboot(void **state)
{
	struct fx *f = *state;

	start(f);
	F.cut_after = F.n_saves + 5;
	assert_true(do_install(f) < 0);
	assert_state(f, ST_POST_INSTALL);
	boot(f);
	assert_string_equal(F.booted, "B");
	assert_state(f, ST_TRIAL);
	assert_reconcile_idempotent(f);
}

/* The same cut, but the bootloader counted a trial of B and booted A (it
 * read an older default than Linux does: ostree's /boot/loader swap only in
 * the ext4 journal). B never booted: the install was interrupted, the next
 * boot points back at A, no trial attempt is left spent. */
static void test_reconcile_cut_after_activating_write_bootloader_saw_old(void **state)
{
	struct fx *f = *state;
	struct update_state s;

	start(f);
	F.cut_after = F.n_saves + 5;
	assert_true(do_install(f) < 0);
	assert_state(f, ST_POST_INSTALL);
	stop(f);
	env_set(f, "B", 1, 1, 3, 0); /* counted, as U-Boot does */
	snprintf(F.booted, sizeof(F.booted), "A");

	start(f);
	reset_calls();
	reconcile_ok(f);
	assert_string_equal(F.saves, "failed");
	assert_string_equal(F.rolled_to, "A");
	load(f, &s);
	assert_int_equal(s.state, ST_FAILED);
	assert_string_equal(s.last_error, "install of version 2.0 to B was interrupted during "
					  "post-install (power cut or killed); nothing was activated");
	assert_env(f, "A", 0, 0, 3, 0);
	assert_reconcile_idempotent(f);

	install_activates(f);
	assert_env(f, "B", 1, 0, 3, 0);
}

/* The environment names the install's target on trial, but the target was
 * never verified (the activating write cannot have been ours): interrupted. */
static void test_reconcile_env_names_unverified_target(void **state)
{
	struct fx *f = *state;
	struct update_state s;

	mkdir_state(f);
	tu_write_text(f->state_file, "format=1\nstate=install\nbackend=fake\nop_version=2.0\n"
				  "op_target=B\nop_from=A\ntarget.A.status=good\n"
				  "target.A.version=1.0\ntarget.B.status=incomplete\n"
				  "target.B.version=2.0\n");
	env_set(f, "B", 1, 0, 3, 0);
	start(f);
	reset_calls();
	reconcile_ok(f);
	assert_string_equal(F.saves, "failed");
	load(f, &s);
	assert_int_equal(s.state, ST_FAILED);
	assert_msg_has(s.last_error, "interrupted during install");
	assert_record(&s, "B", TS_INCOMPLETE);
}

/* An install that had started a trial for a system that never became the
 * next boot (ostree starts the trial before it switches the default) and
 * was interrupted: the next start ends that trial. */
static void test_reconcile_interrupted_install_ends_its_trial(void **state)
{
	struct fx *f = *state;
	struct update_state s;

	mkdir_state(f);
	tu_write_text(f->state_file, "format=1\nstate=install\nbackend=fake\nop_version=2.0\n"
				  "op_target=B\nop_from=A\ntarget.A.status=good\n"
				  "target.A.version=1.0\ntarget.B.status=incomplete\n"
				  "target.B.version=2.0\n");
	env_set(f, "A", 1, 0, 3, 0);
	start(f);
	reset_calls();
	reconcile_ok(f);
	assert_string_equal(F.saves, "failed");
	load(f, &s);
	assert_int_equal(s.state, ST_FAILED);
	assert_msg_has(s.last_error, "interrupted during install");
	assert_record(&s, "B", TS_INCOMPLETE);
	assert_env(f, "A", 0, 0, 3, 0);
	assert_reconcile_idempotent(f);
}

/* mark-good's environment write landed, its state write did not: confirmed. */
static void test_reconcile_settles_committed(void **state)
{
	struct fx *f = *state;
	struct update_state s;

	on_trial(f);
	F.cut = true;
	err_clear(&f->e);
	assert_true(engine_mark_good(f->g, &f->e) < 0);
	assert_env(f, "B", 0, 0, 3, 0);
	assert_state(f, ST_TRIAL);

	start(f); /* still B */
	reset_calls();
	reconcile_ok(f);
	assert_string_equal(F.saves, "committed");
	load(f, &s);
	assert_int_equal(s.state, ST_COMMITTED);
	assert_record(&s, "B", TS_GOOD);
	assert_string_equal(s.last_error, "");
	assert_env(f, "B", 0, 0, 3, 0);
	assert_reconcile_idempotent(f);
}

/* The boot state was changed outside the updater before the reboot. */
static void test_reconcile_settles_rolled_back(void **state)
{
	struct fx *f = *state;
	struct update_state s;

	activated(f);
	stop(f);
	env_set(f, "A", 0, 0, 3, 0); /* e.g. fw_setenv */
	start(f);
	reconcile_ok(f);
	load(f, &s);
	assert_int_equal(s.state, ST_ROLLED_BACK);
	assert_string_equal(s.last_error, "update to version 2.0 on B did not become active "
					  "(rolled back, or the boot state was changed outside the "
					  "updater); running A, next boot A");
	assert_record(&s, "B", TS_VERIFIED);
	assert_env(f, "A", 0, 0, 3, 0);
	assert_reconcile_idempotent(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_reconcile_factory_device),
		T(test_reconcile_activated),
		T(test_reconcile_trial),
		T(test_reconcile_lost_track),
		T(test_reconcile_fallback_after_trial),
		T(test_reconcile_fallback_before_trial_noticed),
		T(test_reconcile_fallback_env_write_cut),
		T(test_reconcile_interrupted_install),
		T(test_reconcile_cut_at_each_step),
		T(test_reconcile_cut_after_activating_write),
		T(test_reconcile_cut_after_activating_write_then_reboot),
		T(test_reconcile_cut_after_activating_write_bootloader_saw_old),
		T(test_reconcile_env_names_unverified_target),
		T(test_reconcile_interrupted_install_ends_its_trial),
		T(test_reconcile_settles_committed),
		T(test_reconcile_settles_rolled_back),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests of the update state machine (core/engine.c) with the fake backend
 * of engine_fixture.h: the security floor, confirmed versions and failed releases (issue 11). */
#include "engine_fixture.h"

/* ---- security floor, confirmed versions, failed releases (issue 11) ---- */

/* Installs version v (security version sv) to the other slot, boots it and
 * confirms it. */
static void confirm_release(struct fx *f, const char *v, uint64_t sv)
{
	snprintf(F.rel.version, sizeof(F.rel.version), "%s", v);
	F.rel.security_version = sv;
	F.rel.identity[0] = '\0';
	const char *target = other(F.booted);
	start(f);
	install_ok(f);
	boot(f);
	assert_string_equal(F.booted, target);
	mark_good_commits(f);
}

/* RC is a refusal: -EPERM, exit class EXIT_CODE, the message MSG exactly. */
static void assert_refused(struct fx *f, int rc, int exit_code, const char *msg)
{
	assert_int_equal(rc, -EPERM);
	assert_int_equal(f->e.exit, exit_code);
	if (strcmp(f->e.msg, msg) != 0)
		fail_msg("message \"%s\", expected \"%s\"", f->e.msg, msg);
}

/* An install refused on the release's metadata: nothing fetched in bulk, no
 * signature check, no slot written, no record or boot state changed. */
static void expect_refused(struct fx *f, int exit_code, const char *msg)
{
	struct update_state before, s;
	const char *target = other(F.booted);

	load(f, &before);
	char *env0 = env_bytes(f);
	reset_calls();
	assert_refused(f, do_install(f), exit_code, msg);
	assert_string_equal(F.calls, "target fetch");
	assert_string_equal(F.saves, "fetch failed");
	assert_env_bytes(f, env0);
	load(f, &s);
	assert_int_equal(s.state, ST_FAILED);
	const struct target_record *t0 = rec(&before, target), *t1 = rec(&s, target);
	assert_true((t0 == NULL) == (t1 == NULL));
	if (t0)
		assert_memory_equal(t0, t1, sizeof(*t0));
	assert_true(s.security_floor == before.security_floor);
	assert_int_equal(s.n_failed, before.n_failed);
	free(env0);
}

static void expect_rollback_refused_msg(struct fx *f, const char *msg)
{
	struct update_state before, s;

	start(f);
	load(f, &before);
	char *env0 = env_bytes(f);
	reset_calls();
	assert_refused(f, do_rollback(f), UPD_EXIT_BUSY, msg);
	assert_int_equal(F.n_saves, 0);
	assert_env_bytes(f, env0);
	load(f, &s);
	assert_int_equal(s.state, before.state);
	free(env0);
}

/* The floor is raised at mark-good, from the confirmed release's signed
 * security version; nothing installs below it, whatever the flags. */
static void test_floor_refuses_install(void **state)
{
	struct fx *f = *state;
	struct update_state s;
	struct release rel;

	confirm_release(f, "2.0", 5); /* on B */
	load(f, &s);
	assert_true(s.security_floor == 5);
	assert_true(rec(&s, "B")->security_version == 5);
	assert_string_equal(rec(&s, "B")->identity, "manifest-of-2.0");
	assert_string_equal(s.confirmed_version, "2.0");

	snprintf(F.rel.version, sizeof(F.rel.version), "3.0");
	F.rel.security_version = 4;
	const char *msg = "verify: release 3.0 has security version 4, below this device's "
			  "security floor 5 (nothing overrides the floor)";
	start(f);
	expect_refused(f, UPD_EXIT_VERIFY, msg);
	start_full(f, true, true); /* --allow-downgrade --force */
	expect_refused(f, UPD_EXIT_VERIFY, msg);
	/* check does not offer it either */
	assert_int_equal(do_check(f, &rel), -EPERM);
	assert_int_equal(f->e.exit, UPD_EXIT_VERIFY);
	assert_string_equal(f->e.msg, msg);

	/* At the floor is fine. */
	F.rel.security_version = 5;
	start(f);
	install_activates(f);
}

/* A rollback or a fallback never lowers the floor, and a rollback to a system
 * below it is refused (exit 7), the factory system (no record: 0) too. */
static void test_floor_rollback_and_fallback(void **state)
{
	struct fx *f = *state;
	struct update_state s;

	confirm_release(f, "2.0", 1); /* A: factory 1.0, security version 0 */
	expect_rollback_refused_msg(f, "rollback: A holds version 1.0 with security version 0, "
				       "below this device's security floor 1; refusing to boot it");

	/* 3.0 (security version 3) on A fails its trial: the floor stays 1. */
	f->cfg.bootenv.bootlimit = 1;
	snprintf(F.rel.version, sizeof(F.rel.version), "3.0");
	F.rel.security_version = 3;
	F.rel.identity[0] = '\0';
	start(f);
	install_ok(f);
	boot(f);
	assert_string_equal(F.booted, "A");
	boot(f); /* past bootlimit: falls back to B */
	assert_string_equal(F.booted, "B");
	load(f, &s);
	assert_int_equal(s.state, ST_ROLLED_BACK);
	assert_true(s.security_floor == 1);

	/* 4.0 (security version 4) confirmed on A, then rolled back by hand to
	 * B (security version 1): refused, the floor is 4 now. */
	confirm_release(f, "4.0", 4);
	assert_string_equal(F.booted, "A");
	expect_rollback_refused_msg(f, "rollback: B holds version 2.0 with security version 1, "
				       "below this device's security floor 4; refusing to boot it");
	load(f, &s);
	assert_true(s.security_floor == 4);

	/* 5.0 at security version 4 too: a rollback to 4.0 is allowed, and the
	 * floor stays. */
	confirm_release(f, "5.0", 4);
	assert_string_equal(F.booted, "B");
	start(f);
	assert_int_equal(do_rollback(f), 0);
	load(f, &s);
	assert_true(s.security_floor == 4);
	assert_int_equal(s.n_failed, 1); /* a manual rollback is not a failure: only 3.0 */
	assert_string_equal(s.failed[0].version, "3.0");
}

/* mark-good cut after its boot-state write: reconcile finishes it, floor too. */
static void test_floor_raised_when_mark_good_was_cut(void **state)
{
	struct fx *f = *state;
	struct update_state s;

	F.rel.security_version = 6;
	on_trial(f);
	F.cut = true;
	err_clear(&f->e);
	assert_true(engine_mark_good(f->g, &f->e) < 0);
	assert_env(f, "B", 0, 0, 3, 0);
	start(f);
	reconcile_ok(f);
	load(f, &s);
	assert_int_equal(s.state, ST_COMMITTED);
	assert_true(s.security_floor == 6);
	assert_string_equal(s.confirmed_version, "2.0");
}

/* The case: 3.0 confirmed, rolled back to 1.0; an older signed 2.0
 * must not overwrite the confirmed 3.0 without --allow-downgrade. */
static void test_downgrade_vs_highest_confirmed(void **state)
{
	struct fx *f = *state;
	struct release rel;

	confirm_release(f, "3.0", 0);
	start(f);
	assert_int_equal(do_rollback(f), 0);
	boot(f);
	assert_string_equal(F.booted, "A");

	snprintf(F.rel.version, sizeof(F.rel.version), "2.0");
	F.rel.identity[0] = '\0';
	start(f);
	expect_refused(f, UPD_EXIT_VERIFY,
		       "verify: version 2.0 is not newer than 3.0, the highest version confirmed on "
		       "this device (downgrade refused; --allow-downgrade overrides)");
	snprintf(F.rel.version, sizeof(F.rel.version), "3.0"); /* the same, again */
	expect_refused(f, UPD_EXIT_VERIFY,
		       "verify: version 3.0 is not newer than 3.0, the highest version confirmed on "
		       "this device (downgrade refused; --allow-downgrade overrides)");
	/* check does not offer it: up to date */
	snprintf(F.rel.version, sizeof(F.rel.version), "2.0");
	assert_up_to_date(f, "up to date: " URL " offers 2.0, newest here is 3.0 (confirmed on this device)");
	/* newer than all: offered and installed */
	snprintf(F.rel.version, sizeof(F.rel.version), "3.1");
	assert_int_equal(do_check(f, &rel), 0);
	/* --allow-downgrade does install 2.0 */
	snprintf(F.rel.version, sizeof(F.rel.version), "2.0");
	start_opts(f, true);
	install_activates(f);
}

/* A state file from before the high-water mark: a good record counts. */
static void test_downgrade_old_state_file(void **state)
{
	struct fx *f = *state;

	mkdir_state(f);
	tu_write_text(f->state_file, "format=1\nstate=rolled-back\nbackend=fake\n"
				  "target.A.status=good\ntarget.A.version=1.0\n"
				  "target.B.status=good\ntarget.B.version=3.0\n");
	snprintf(F.rel.version, sizeof(F.rel.version), "2.0");
	start(f);
	expect_refused(f, UPD_EXIT_VERIFY,
		       "verify: version 2.0 is not newer than 3.0, the highest version confirmed on "
		       "this device (downgrade refused; --allow-downgrade overrides)");
}

static void expect_failed_record(struct fx *f, const char *version, time_t t0)
{
	struct update_state s;
	char id[80];

	load(f, &s);
	snprintf(id, sizeof(id), "manifest-of-%s", version);
	const struct failed_release *r = state_failed_find(&s, id);
	if (!r)
		fail_msg("release %s is not recorded as failed", version);
	assert_string_equal(r->version, version);
	assert_true(r->when >= (int64_t)t0 && r->when <= (int64_t)time(NULL));
}

/* check: exit 10 saying it failed here and when; install: exit 7 unless --force. */
static void expect_failed_refusals(struct fx *f, const char *version)
{
	struct update_state s;
	struct release rel;
	char when[32], want[512];

	load(f, &s);
	char id[80];
	snprintf(id, sizeof(id), "manifest-of-%s", version);
	state_time_iso(state_failed_find(&s, id)->when, when, sizeof(when));
	snprintf(F.rel.version, sizeof(F.rel.version), "%s", version);
	F.rel.identity[0] = '\0';
	start(f);
	reset_calls();
	assert_int_equal(do_check(f, &rel), 1);
	assert_int_equal(f->e.exit, UPD_EXIT_UPTODATE);
	snprintf(want, sizeof(want), "not offered: " URL " offers %s, which failed on this device "
				     "at %s (install --force installs it anyway)", version, when);
	assert_string_equal(f->e.msg, want);
	assert_string_equal(F.calls, "fetch");
	snprintf(want, sizeof(want), "install: release %s failed on this device at %s (identity "
				     "manifest-of-); --force installs it anyway", version, when);
	expect_refused(f, UPD_EXIT_BUSY, want);
	/* --allow-downgrade is not --force */
	start_opts(f, true);
	expect_refused(f, UPD_EXIT_BUSY, want);
}

/* The loop: 2.0 fails its trial, U-Boot falls back; it is not offered
 * again, the reason stays in status until an install succeeds. */
static void test_failed_release_after_fallback(void **state)
{
	struct fx *f = *state;
	struct update_state s;
	time_t t0 = time(NULL);

	f->cfg.bootenv.bootlimit = 0;
	activated(f);
	boot(f); /* falls back at once */
	assert_string_equal(F.booted, "A");
	expect_failed_record(f, "2.0", t0);
	load(f, &s);
	char reason[512];
	snprintf(reason, sizeof(reason), "%s", s.last_error);
	assert_msg_has(reason, "fell back");
	assert_string_equal(s.trial_failure, reason);

	expect_failed_refusals(f, "2.0");
	/* a refused install and a failing one keep the fallback's reason */
	load(f, &s);
	assert_string_equal(s.trial_failure, reason);
	F.fail_download = true;
	snprintf(F.rel.version, sizeof(F.rel.version), "2.1");
	F.rel.identity[0] = '\0';
	start(f);
	assert_true(do_install(f) < 0);
	F.fail_download = false;
	load(f, &s);
	assert_string_equal(s.trial_failure, reason);
	assert_string_not_equal(s.last_error, reason);
	struct engine_status st;
	assert_int_equal(engine_status(f->g, &st, &f->e), 0);
	assert_string_equal(st.records->trial_failure, reason);

	/* --force installs it; the success ends the reason, not the record. */
	snprintf(F.rel.version, sizeof(F.rel.version), "2.0");
	start_full(f, false, true);
	install_ok(f);
	load(f, &s);
	assert_int_equal(s.state, ST_ACTIVATED);
	assert_string_equal(s.trial_failure, "");
	assert_string_equal(rec(&s, "B")->identity, "manifest-of-2.0");
	expect_failed_record(f, "2.0", t0);
	/* Confirmed this time, and later releases installed: still remembered. */
	f->cfg.bootenv.bootlimit = 3;
	boot(f);
	mark_good_ok(f);
	confirm_release(f, "3.0", 0);
	expect_failed_record(f, "2.0", t0);
	load(f, &s);
	assert_int_equal(s.n_failed, 1);
}

/* Health checks failed: the health service rolls back during the trial. */
static void test_failed_release_trial_rollback(void **state)
{
	struct fx *f = *state;
	struct update_state s;
	time_t t0 = time(NULL);

	on_trial(f);
	assert_int_equal(do_rollback(f), 0);
	expect_failed_record(f, "2.0", t0);
	load(f, &s);
	assert_string_equal(s.trial_failure,
			    "version 2.0 on B was rejected during its trial by 'updater rollback'");
	boot(f);
	assert_string_equal(F.booted, "A");
	expect_failed_refusals(f, "2.0");
	/* Another release is offered and installed. */
	snprintf(F.rel.version, sizeof(F.rel.version), "2.1");
	F.rel.identity[0] = '\0';
	start(f);
	install_ok(f);
}

/* The list is bounded: a full one forgets its oldest entry. */
static void test_failed_release_list_bounded(void **state)
{
	struct fx *f = *state;
	struct update_state s;
	char text[8192] = "format=1\nstate=committed\nbackend=fake\n"
			  "target.A.status=good\ntarget.A.version=1.0\n";

	for (int i = 0; i < STATE_MAX_FAILED; i++) {
		size_t n = strlen(text);
		snprintf(text + n, sizeof(text) - n, "failed_release=%d manifest-of-1.%d 1.%d\n",
			 1000 + i, i + 1, i + 1);
	}
	mkdir_state(f);
	tu_write_text(f->state_file, text);
	f->cfg.bootenv.bootlimit = 0;
	activated(f); /* 2.0 */
	boot(f);
	load(f, &s);
	assert_int_equal(s.n_failed, STATE_MAX_FAILED);
	assert_null(state_failed_find(&s, "manifest-of-1.1"));
	assert_non_null(state_failed_find(&s, "manifest-of-1.2"));
	assert_string_equal(s.failed[STATE_MAX_FAILED - 1].identity, "manifest-of-2.0");
}

/* rollback never rolls forward: once it cancelled a pending update, a second
 * one does not activate it again, after a reboot or a failed install either. */
static void test_rollback_after_cancel(void **state)
{
	struct fx *f = *state;
	const char *msg = "rollback: B holds version 2.0, installed but never confirmed (a "
			  "cancelled update); rollback never rolls forward: install it to try it";

	activated(f);
	start(f);
	assert_int_equal(do_rollback(f), 0);
	assert_env(f, "A", 0, 0, 3, 0);
	expect_rollback_refused_msg(f, msg);
	boot(f);
	expect_rollback_refused_msg(f, msg);
	F.fail_fetch = true;
	start(f);
	assert_true(do_install(f) < 0);
	F.fail_fetch = false;
	expect_rollback_refused_msg(f, msg);
	assert_env(f, "A", 0, 0, 3, 0);
	struct update_state s;
	load(f, &s);
	assert_int_equal(s.n_failed, 0); /* a cancel is no failure */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_floor_refuses_install),
		T(test_floor_rollback_and_fallback),
		T(test_floor_raised_when_mark_good_was_cut),
		T(test_downgrade_vs_highest_confirmed),
		T(test_downgrade_old_state_file),
		T(test_failed_release_after_fallback),
		T(test_failed_release_trial_rollback),
		T(test_failed_release_list_bounded),
		T(test_rollback_after_cancel),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* stage and apply-staged (core/stage.c) with the fake backend: what stage
 * keeps and asks for, apply-staged's activation, its power cuts (each state
 * save, the activating environment write, the clean-up), the refusals, the
 * cancel, status. */
#include "engine_fixture.h"

static int do_stage(struct fx *f)
{
	err_clear(&f->e);
	return engine_stage(f->g, URL, &f->e);
}

static int do_apply(struct fx *f)
{
	err_clear(&f->e);
	return engine_apply_staged(f->g, &f->e);
}

/* 2.0 staged from A: state staged, the request on, nothing written. */
static void staged(struct fx *f)
{
	start(f);
	if (do_stage(f) != 0)
		fail_msg("engine_stage: %s", f->e.msg);
	assert_state(f, ST_STAGED);
	assert_env(f, "A", 0, 0, 3, 0);
	assert_int_equal(env_apply_staged(f), 1);
	assert_true(F.staged_held);
}

static void apply_ok(struct fx *f)
{
	if (do_apply(f) != 0)
		fail_msg("engine_apply_staged: %s", f->e.msg);
}

static void test_stage_then_apply(void **state)
{
	struct fx *f = *state;
	struct update_state s;

	staged(f);
	assert_string_equal(F.calls, "target fetch download verify stage");
	char *text = tu_read_file(f->state_file, NULL);
	assert_kv(text, "op_source", "fake-kept 2.0");
	assert_kv(text, "op_version", "2.0");
	free(text);
	start(f); /* the ramdisk's run: a new process */
	reset_calls();
	apply_ok(f);
	assert_string_equal(F.calls, "target load_staged verify install activate unstage");
	assert_state(f, ST_ACTIVATED);
	assert_env(f, "B", 1, 0, 3, 0);
	assert_int_equal(env_apply_staged(f), 0);
	assert_int_equal(F.n_activate, 1);
	assert_false(F.staged_held);
	load(f, &s);
	assert_string_equal(s.op_source, "");
	assert_string_equal(s.op_target, "B");
	assert_record(&s, "B", TS_VERIFIED);
	boot(f);
	assert_state(f, ST_TRIAL);
	mark_good_commits(f);
	start(f);
	apply_ok(f); /* nothing staged any more */
	assert_int_equal(F.n_activate, 1);
}

/* After a cut, the next boot: U-Boot, then the ramdisk's apply-staged. It
 * completes with one activation in all, nothing kept, the request off. */
static void next_boot_completes(struct fx *f, const char *what)
{
	uboot(f);
	start(f);
	if (do_apply(f) != 0)
		fail_msg("%s: apply-staged after the cut: %s", what, f->e.msg);
	struct update_state s;
	load(f, &s);
	if ((s.state != ST_ACTIVATED && s.state != ST_TRIAL) || strcmp(s.op_target, "B") != 0 ||
	    s.op_source[0] || F.n_activate != 1 || F.staged_held || env_apply_staged(f))
		fail_msg("%s: state %s target %s source '%s', %d activations, kept %d, request %d",
			 what, state_name(s.state), s.op_target, s.op_source, F.n_activate,
			 F.staged_held, env_apply_staged(f));
	assert_env(f, "B", 1, s.state == ST_TRIAL ? 1 : 0, 3, 0);
	if (s.state == ST_ACTIVATED)
		boot(f);
	assert_state(f, ST_TRIAL);
	mark_good_commits(f);
}

static void test_apply_cut_at_each_point(void **state)
{
	struct fx *f = *state;
	char what[64];

	for (int k = 0; k <= 7; k++) {
		factory_device(f);
		staged(f);
		start(f);
		F.cut_stops_backend = true;
		if (k < 5)
			F.cut_after = F.n_saves + k + 1; /* after save k+1 reached the storage */
		else if (k == 5)
			F.cut_after_activate = true;
		else if (k == 6)
			F.cut_in_unstage = true;
		else
			F.cut = true; /* before anything */
		snprintf(what, sizeof(what), "cut point %d", k);
		(void)do_apply(f);
		F.cut_after_activate = F.cut_in_unstage = false;
		next_boot_completes(f, what);
	}
}

/* Cut right after the activating write, and the bootloader counted a trial
 * of B yet booted A (it read an older default: ostree's /boot/loader swap
 * only in the ext4 journal). B never booted: back to `staged`, the request
 * on, no trial; the ramdisk's next apply-staged does it again. */
static void test_apply_cut_bootloader_saw_old(void **state)
{
	struct fx *f = *state;

	staged(f);
	start(f);
	F.cut_stops_backend = true;
	F.cut_after_activate = true;
	(void)do_apply(f);
	F.cut_after_activate = false;
	stop(f);
	env_set(f, "B", 1, 1, 3, 0); /* counted, as U-Boot does */
	snprintf(F.booted, sizeof(F.booted), "A");
	start(f);
	reconcile_ok(f);
	assert_state(f, ST_STAGED);
	assert_env(f, "A", 0, 0, 3, 0);
	assert_int_equal(env_apply_staged(f), 1);
	assert_reconcile_idempotent(f);
	apply_ok(f); /* the next boot's ramdisk: activated again */
	assert_state(f, ST_ACTIVATED);
	assert_env(f, "B", 1, 0, 3, 0);
	assert_int_equal(env_apply_staged(f), 0);
	assert_int_equal(F.n_activate, 2);
	boot(f);
	assert_string_equal(F.booted, "B");
	assert_state(f, ST_TRIAL);
}

/* The next boot is only the reconciliation (`updater boot`, no ramdisk):
 * an apply cut before its activation waits for the ramdisk, staged. */
static void test_apply_cut_then_plain_boot(void **state)
{
	struct fx *f = *state;

	staged(f);
	start(f);
	F.cut_stops_backend = true;
	F.cut_after = F.n_saves + 3; /* post-install saved */
	(void)do_apply(f);
	boot(f);
	assert_state(f, ST_STAGED);
	assert_env(f, "A", 0, 0, 3, 0);
	assert_int_equal(env_apply_staged(f), 1);
	assert_reconcile_idempotent(f);
	apply_ok(f);
	assert_state(f, ST_ACTIVATED);
	assert_int_equal(F.n_activate, 1);
}

/* One system (single-copy): the target is the running system, which boots
 * next as always; that is no pending update, so stage is not refused as
 * busy, and apply-staged starts the trial on it. */
static void test_stage_one_system(void **state)
{
	struct fx *f = *state;

	F.one_system = true;
	staged(f);
	start(f);
	apply_ok(f);
	assert_string_equal(F.install_target, "A");
	assert_env(f, "A", 1, 0, 3, 0);
	assert_int_equal(env_apply_staged(f), 0);
}

static void test_stage_without_stage_op(void **state)
{
	struct fx *f = *state;
	char *env0 = env_bytes(f);

	F.no_stage = true;
	start(f);
	assert_fails_with(f, do_stage(f), -ENOTSUP, UPD_EXIT_USAGE,
			  "stage: the fake backend cannot stage an update (backends that can: ");
	assert_string_equal(F.calls, "");
	assert_env_bytes(f, env0);
	free(env0);
	apply_ok(f); /* nothing staged: nothing to do */
}

static void test_rollback_cancels_staged(void **state)
{
	struct fx *f = *state;
	struct update_state s;

	staged(f);
	start(f);
	assert_int_equal(do_rollback(f), 0);
	assert_state(f, ST_ROLLED_BACK);
	assert_env(f, "A", 0, 0, 3, 0);
	assert_int_equal(env_apply_staged(f), 0);
	assert_false(F.staged_held);
	assert_string_equal(F.rolled_to, ""); /* the next boot is not changed */
	load(f, &s);
	assert_msg_has(s.last_error, "staged update to version 2.0 (fake-kept 2.0) cancelled");
	assert_string_equal(s.op_source, "");
	start(f);
	apply_ok(f);
	assert_int_equal(F.n_activate, 0);
	assert_state(f, ST_ROLLED_BACK);
}

/* Refused by the policy: nothing kept, nothing asked for. */
static void refused_stage(struct fx *f, const char *needle)
{
	start(f);
	assert_int_equal(do_stage(f) < 0, 1);
	assert_int_equal(f->e.exit, UPD_EXIT_VERIFY);
	assert_msg_has(f->e.msg, needle);
	assert_state(f, ST_FAILED);
	assert_int_equal(env_apply_staged(f), 0);
	assert_int_equal(F.n_stage, 0);
	assert_false(F.staged_held);
}

static void test_stage_refused_by_policy(void **state)
{
	struct fx *f = *state;

	snprintf(F.rel.version, sizeof(F.rel.version), "0.9");
	refused_stage(f, "0.9");
	snprintf(F.rel.version, sizeof(F.rel.version), "2.0");
	snprintf(F.rel.compatible, sizeof(F.rel.compatible), "other-board");
	refused_stage(f, "other-board");
}

/* What stage kept changed: refused before anything is written, `failed`
 * with the reason, the request withdrawn, the kept release dropped. */
static void test_apply_refuses_changed_release(void **state)
{
	struct fx *f = *state;
	struct update_state s;

	staged(f);
	start(f);
	reset_calls();
	F.fail_load_staged = true;
	assert_true(do_apply(f) < 0);
	assert_int_equal(f->e.exit, UPD_EXIT_VERIFY);
	assert_string_equal(F.calls, "target load_staged unstage");
	assert_state(f, ST_FAILED);
	load(f, &s);
	assert_msg_has(s.last_error, "changed after staging");
	assert_env(f, "A", 0, 0, 3, 0);
	assert_int_equal(env_apply_staged(f), 0);
	assert_false(F.staged_held);
	boot(f);
	assert_string_equal(F.booted, "A");
	assert_state(f, ST_FAILED);
}

/* stage cut between its state save and the request: the next start asks. */
static void test_stage_cut_before_request(void **state)
{
	struct fx *f = *state;

	staged(f);
	env_set(f, "A", 0, 0, 3, 0); /* (writes apply_staged=0) */
	start(f);
	reconcile_ok(f);
	assert_int_equal(env_apply_staged(f), 1);
	assert_state(f, ST_STAGED);
	apply_ok(f);
	assert_state(f, ST_ACTIVATED);
}

/* A request nothing is staged for (a cancel cut after its state save) is
 * withdrawn; install and a second stage drop what was staged before. */
static void test_stale_request_and_replacing(void **state)
{
	struct fx *f = *state;

	struct bootctl *bc = NULL;
	struct bootstate bs = { .boot_slot = "A", .bootlimit = 3, .apply_staged = 1 };
	assert_int_equal(bootctl_open(&bc, &bootctl_uboot, f->fwcfg, &f->e), 0);
	assert_int_equal(bootctl_write(bc, &bs, &f->e), 0);
	bootctl_close(bc);
	start(f);
	apply_ok(f);
	assert_int_equal(env_apply_staged(f), 0);
	assert_int_equal(F.n_activate, 0);

	staged(f);
	snprintf(F.rel.version, sizeof(F.rel.version), "2.1");
	start(f);
	assert_int_equal(do_stage(f), 0);
	assert_int_equal(F.n_unstage, 1);
	assert_int_equal(F.n_stage, 2);
	assert_int_equal(env_apply_staged(f), 1);
	install_ok(f);
	assert_int_equal(F.n_unstage, 2);
	assert_false(F.staged_held);
	assert_state(f, ST_ACTIVATED);
	assert_env(f, "B", 1, 0, 3, 0);
	assert_int_equal(env_apply_staged(f), 0);
}

static void test_status_shows_staged(void **state)
{
	struct fx *f = *state;
	struct engine_status st;

	staged(f);
	start(f);
	assert_int_equal(engine_status(f->g, &st, &f->e), 0);
	assert_true(st.has_staged);
	assert_string_equal(st.staged_version, "2.0");
	assert_string_equal(st.staged_source, "fake-kept 2.0");
	assert_true(st.staged_since > 0);
	assert_false(st.has_pending);
	assert_true(st.boot_ok);
	assert_int_equal(st.boot.apply_staged, 1);
	apply_ok(f);
	assert_int_equal(engine_status(f->g, &st, &f->e), 0);
	assert_false(st.has_staged);
	assert_true(st.has_pending);
	assert_int_equal(st.boot.apply_staged, 0);
}

/* stage refused with exit 7 and MSG, nothing staged, the state as it was. */
static void refused_busy(struct fx *f, const char *msg, enum upd_state st)
{
	start(f);
	assert_fails_with(f, do_stage(f), -EBUSY, UPD_EXIT_BUSY, msg);
	assert_state(f, st);
	assert_int_equal(env_apply_staged(f), 0);
	assert_int_equal(F.n_stage, 0);
}

/* stage refuses while an installed update waits for its reboot, and while
 * the booted system is on trial (saying so as stage). */
static void test_stage_refused_while_busy(void **state)
{
	struct fx *f = *state;

	activated(f);
	refused_busy(f, "boots next", ST_ACTIVATED);
	boot(f);
	refused_busy(f, "stage: the booted system (B, version 2.0) is on trial", ST_TRIAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_stage_then_apply),
		T(test_apply_cut_at_each_point),
		T(test_apply_cut_then_plain_boot),
		T(test_apply_cut_bootloader_saw_old),
		T(test_stage_one_system),
		T(test_stage_without_stage_op),
		T(test_rollback_cancels_staged),
		T(test_stage_refused_by_policy),
		T(test_apply_refuses_changed_release),
		T(test_stage_cut_before_request),
		T(test_stale_request_and_replacing),
		T(test_status_shows_staged),
		T(test_stage_refused_while_busy),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

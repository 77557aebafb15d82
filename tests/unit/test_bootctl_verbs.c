/* The boot-control verbs (bootctl/bootctl.h) on a real file-backed U-Boot
 * environment with two copies, through libubootenv: what each verb leaves in
 * the five contract variables, as a fresh process reads them. The storage
 * itself (CRC, copies, foreign variables) is test_bootctl.c's. */
#include "testutil.h"

#include <errno.h>
#include <limits.h>

#include "../../bootctl/bootctl.h"

#define ENV_SIZE 0x4000

struct fx {
	char *dir;
	char cfg[PATH_MAX];
	char env[PATH_MAX];
	struct bootctl *bc;
	struct error e;
};

static int setup(void **state)
{
	struct fx *f = tu_fixture_new(sizeof(struct fx));
	char line[2 * PATH_MAX + 64];

	if (!f)
		return -1;
	snprintf(f->cfg, sizeof(f->cfg), "%s/fw_env.config", f->dir);
	snprintf(f->env, sizeof(f->env), "%s/uboot.env", f->dir);
	tu_blank_file(f->env, (off_t)2 * ENV_SIZE);
	snprintf(line, sizeof(line), "%s 0x0 0x4000\n%s 0x4000 0x4000\n", f->env, f->env);
	tu_write_text(f->cfg, line);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	bootctl_close(f->bc);
	tu_fixture_free(f);
	return 0;
}

static struct bootstate mkstate(const char *slot, int ua, int bc, int bl, int rb)
{
	struct bootstate st = { .upgrade_available = ua, .bootcount = bc, .bootlimit = bl,
				.rollback = rb };
	snprintf(st.boot_slot, sizeof(st.boot_slot), "%s", slot);
	return st;
}

/* The environment holds st (as U-Boot left it); f->bc is open on it. */
static void given(struct fx *f, const char *slot, int ua, int bc, int bl, int rb)
{
	struct bootstate st = mkstate(slot, ua, bc, bl, rb);
	bootctl_close(f->bc);
	f->bc = NULL;
	if (bootctl_init(&bootctl_uboot, f->cfg, &st, true, &f->e) != 0)
		fail_msg("bootctl_init: %s", f->e.msg);
	if (bootctl_open(&f->bc, &bootctl_uboot, f->cfg, &f->e) != 0)
		fail_msg("bootctl_open: %s", f->e.msg);
}

/* What a fresh process reads. */
static void expect(struct fx *f, const char *slot, int ua, int bc, int bl, int rb)
{
	struct bootctl *again = NULL;
	struct bootstate got = { 0 };
	assert_int_equal(bootctl_open(&again, &bootctl_uboot, f->cfg, &f->e), 0);
	assert_int_equal(bootctl_read(again, &got, &f->e), 0);
	bootctl_close(again);
	assert_string_equal(got.boot_slot, slot);
	assert_int_equal(got.upgrade_available, ua);
	assert_int_equal(got.bootcount, bc);
	assert_int_equal(got.bootlimit, bl);
	assert_int_equal(got.rollback, rb);
}

/* activate: the trial starts afresh with the configured bootlimit. */
static void test_set_next_on_trial(void **state)
{
	struct fx *f = *state;
	given(f, "A", 0, 2, 3, 1);
	bootctl_set_bootlimit(f->bc, 5);
	assert_int_equal(bootctl_set_next(f->bc, "B", true, &f->e), 0);
	expect(f, "B", 1, 0, 5, 0);
}

/* rollback, cancel: no trial. */
static void test_set_next_not_on_trial(void **state)
{
	struct fx *f = *state;
	given(f, "B", 1, 1, 3, 0);
	bootctl_set_bootlimit(f->bc, 4);
	assert_int_equal(bootctl_set_next(f->bc, "A", false, &f->e), 0);
	expect(f, "A", 0, 0, 4, 0);
}

/* Without bootctl_set_bootlimit() a trial gets the default 3 attempts. */
static void test_default_bootlimit(void **state)
{
	struct fx *f = *state;
	given(f, "A", 0, 0, 7, 0);
	assert_int_equal(bootctl_set_next(f->bc, "B", true, &f->e), 0);
	expect(f, "B", 1, 0, 3, 0);
}

/* U-Boot fell back to A: rollback and the trial are cleared. */
static void test_finish_fallback(void **state)
{
	struct fx *f = *state;
	given(f, "B", 1, 4, 3, 1);
	bootctl_set_bootlimit(f->bc, 3);
	assert_int_equal(bootctl_finish_fallback(f->bc, "A", &f->e), 0);
	expect(f, "A", 0, 0, 3, 0);
}

/* mark-good keeps boot_slot and the stored bootlimit; only the trial ends. */
static void test_mark_good(void **state)
{
	struct fx *f = *state;
	given(f, "B", 1, 2, 4, 0);
	bootctl_set_bootlimit(f->bc, 9);
	assert_int_equal(bootctl_mark_good(f->bc, &f->e), 0);
	expect(f, "B", 0, 0, 4, 0);
}

/* An interrupted install's trial ends, pointing at the running system; the
 * stored bootlimit (and rollback) stay as they are. */
static void test_point_at(void **state)
{
	struct fx *f = *state;
	given(f, "B", 1, 1, 4, 0);
	bootctl_set_bootlimit(f->bc, 9);
	assert_int_equal(bootctl_point_at(f->bc, "A", &f->e), 0);
	expect(f, "A", 0, 0, 4, 0);
}

/* The handle sees its own writes: next and read after a verb. */
static void test_next_follows_writes(void **state)
{
	struct fx *f = *state;
	char next[32];
	struct bootstate st;
	given(f, "A", 0, 0, 3, 0);
	assert_int_equal(bootctl_next(f->bc, next, sizeof(next), &f->e), 0);
	assert_string_equal(next, "A");
	assert_int_equal(bootctl_set_next(f->bc, "B", true, &f->e), 0);
	assert_int_equal(bootctl_next(f->bc, next, sizeof(next), &f->e), 0);
	assert_string_equal(next, "B");
	assert_int_equal(bootctl_read(f->bc, &st, &f->e), 0);
	assert_int_equal(st.upgrade_available, 1);
	char *v = bootctl_get(f->bc, "boot_slot");
	assert_string_equal(v, "B");
	free(v);
	assert_null(bootctl_get(NULL, "boot_slot"));
}

/* A value outside the contract is refused and nothing is written. */
static void test_verb_refuses_bad_bootlimit(void **state)
{
	struct fx *f = *state;
	given(f, "A", 0, 0, 3, 0);
	bootctl_set_bootlimit(f->bc, 1000);
	assert_int_equal(bootctl_set_next(f->bc, "B", true, &f->e), -EINVAL);
	expect(f, "A", 0, 0, 3, 0);
}

/* The config's bootenv.fw_env_config names the U-Boot environment. */
static void test_open_config(void **state)
{
	struct fx *f = *state;
	struct config cfg = { 0 };
	struct bootstate st = mkstate("A", 0, 0, 3, 0), got;
	cfg.bootenv.fw_env_config = f->cfg;
	assert_int_equal(bootctl_init_config(&cfg, &st, false, &f->e), 0);
	assert_int_equal(bootctl_open_config(&f->bc, &cfg, &f->e), 0);
	assert_int_equal(bootctl_read(f->bc, &got, &f->e), 0);
	assert_string_equal(got.boot_slot, "A");
	/* init refuses to replace a complete boot state without force */
	assert_int_equal(bootctl_init_config(&cfg, &st, false, &f->e), -EEXIST);
}

/* On failure there is nothing to close. */
static void test_open_failure_leaves_null(void **state)
{
	struct fx *f = *state;
	struct bootctl *bc = (struct bootctl *)f; /* not NULL before */
	assert_int_equal(bootctl_open(&bc, &bootctl_uboot, f->cfg, &f->e), -EBADMSG);
	assert_null(bc);
	assert_non_null(strstr(f->e.msg, f->env));
}

/* The apply_staged of a fresh process's read. */
static int staged_now(struct fx *f)
{
	struct bootctl *again = NULL;
	struct bootstate got = { 0 };
	assert_int_equal(bootctl_open(&again, &bootctl_uboot, f->cfg, &f->e), 0);
	assert_int_equal(bootctl_read(again, &got, &f->e), 0);
	bootctl_close(again);
	return got.apply_staged;
}

/* init writes apply_staged=0; set_staged sets and clears it and keeps the
 * rest; the activating set_next clears it in the same store as it starts
 * the trial; mark_good and point_at keep it; restage points back, no
 * trial, and asks again. */
static void test_apply_staged_verbs(void **state)
{
	struct fx *f = *state;
	char *v;

	given(f, "A", 0, 0, 3, 0);
	assert_non_null(v = bootctl_get(f->bc, "apply_staged"));
	assert_string_equal(v, "0");
	free(v);
	assert_int_equal(bootctl_set_staged(f->bc, true, &f->e), 0);
	expect(f, "A", 0, 0, 3, 0);
	assert_int_equal(staged_now(f), 1);
	assert_int_equal(bootctl_mark_good(f->bc, &f->e), 0);
	assert_int_equal(staged_now(f), 1);
	assert_int_equal(bootctl_set_next(f->bc, "B", true, &f->e), 0);
	expect(f, "B", 1, 0, 3, 0);
	assert_int_equal(staged_now(f), 0);
	assert_int_equal(bootctl_restage(f->bc, "A", &f->e), 0);
	expect(f, "A", 0, 0, 3, 0);
	assert_int_equal(staged_now(f), 1);
	assert_int_equal(bootctl_point_at(f->bc, "A", &f->e), 0);
	assert_int_equal(staged_now(f), 1);
	assert_int_equal(bootctl_set_staged(f->bc, false, &f->e), 0);
	expect(f, "A", 0, 0, 3, 0);
	assert_int_equal(staged_now(f), 0);
}

/* Written with an env tool: absent reads as 0 (an environment from before
 * the variable), 0 and 1 as such, anything else is refused by name. */
static void test_apply_staged_values(void **state)
{
	struct fx *f = *state;
	const char *bad[] = { "2", "yes", "", "01", " 1" };
	struct bootstate st;

	char cmd[PATH_MAX + 128];

	given(f, "A", 0, 0, 3, 0);
	snprintf(cmd, sizeof(cmd), "fw_setenv -c '%s' apply_staged >/dev/null 2>&1", f->cfg);
	assert_int_equal(system(cmd), 0);
	bootctl_close(f->bc);
	f->bc = NULL;
	assert_int_equal(bootctl_open(&f->bc, &bootctl_uboot, f->cfg, &f->e), 0);
	assert_null(bootctl_get(f->bc, "apply_staged"));
	assert_int_equal(bootctl_read(f->bc, &st, &f->e), 0);
	assert_int_equal(st.apply_staged, 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(cmd, sizeof(cmd), "fw_setenv -c '%s' apply_staged '%s' >/dev/null 2>&1",
			 f->cfg, bad[i]);
		assert_int_equal(system(cmd), 0);
		err_clear(&f->e);
		struct bootctl *again = NULL;
		assert_int_equal(bootctl_open(&again, &bootctl_uboot, f->cfg, &f->e), 0);
		int rc = bootctl_read(again, &st, &f->e);
		bootctl_close(again);
		assert_int_equal(rc, -EBADMSG);
		assert_non_null(strstr(f->e.msg, "apply_staged=\""));
		assert_non_null(strstr(f->e.msg, "not 0 or 1"));
	}
	st = mkstate("A", 0, 0, 3, 0);
	st.apply_staged = 2;
	assert_int_equal(bootctl_write(f->bc, &st, &f->e), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_set_next_on_trial),
		T(test_set_next_not_on_trial),
		T(test_default_bootlimit),
		T(test_finish_fallback),
		T(test_mark_good),
		T(test_point_at),
		T(test_next_follows_writes),
		T(test_verb_refuses_bad_bootlimit),
		T(test_open_config),
		T(test_open_failure_leaves_null),
		T(test_apply_staged_verbs),
		T(test_apply_staged_values),
#undef T
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

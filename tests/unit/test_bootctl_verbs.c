/* The boot-control verbs (bootctl/bootctl.h) on a real file-backed U-Boot
 * environment with two copies, through libubootenv: what each verb leaves in
 * the five contract variables, as a fresh process reads them. The storage
 * itself (CRC, copies, foreign variables) is test_bootctl.c's. */
#include "testutil.h"

#include <errno.h>
#include <limits.h>

#include "../../bootctl/bootctl.h"

#define ENV_SIZE 0x4000

struct verb_case;

struct fx {
	char *dir;
	char cfg[PATH_MAX];
	char env[PATH_MAX];
	struct bootctl *bc;
	struct error e;
	const struct verb_case *verb; /* the test's initial state, if any */
};

static int setup(void **state)
{
	struct fx *f = tu_fixture_new(sizeof(struct fx));
	char line[2 * PATH_MAX + 64];

	if (!f)
		return -1;
	f->verb = *state;
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
static struct bootstate fresh_read(struct fx *f)
{
	struct bootctl *again = NULL;
	struct bootstate got = { 0 };
	assert_int_equal(bootctl_open(&again, &bootctl_uboot, f->cfg, &f->e), 0);
	assert_int_equal(bootctl_read(again, &got, &f->e), 0);
	bootctl_close(again);
	return got;
}

static void expect(struct fx *f, const char *slot, int ua, int bc, int bl, int rb)
{
	struct bootstate got = fresh_read(f);

	assert_string_equal(got.boot_slot, slot);
	assert_int_equal(got.upgrade_available, ua);
	assert_int_equal(got.bootcount, bc);
	assert_int_equal(got.bootlimit, bl);
	assert_int_equal(got.rollback, rb);
}

/* A verb on a given boot state: the state (slot, upgrade_available,
 * bootcount, bootlimit, rollback) before, the configured bootlimit set first
 * (0: not set), the verb and its slot (and trial), its return code, and what
 * a fresh process reads after. */
enum verb { SET_NEXT, FINISH_FALLBACK, MARK_GOOD, POINT_AT };

struct verb_case {
	const char *slot;
	int ua, bc, bl, rb, bootlimit;
	enum verb verb;
	const char *to;
	bool trial;
	int rc;
	const char *want_slot;
	int want_ua, want_bc, want_bl, want_rb;
};

/* activate: the trial starts afresh with the configured bootlimit. */
static const struct verb_case set_next_on_trial = { "A", 0, 2, 3, 1, 5, SET_NEXT, "B", true,
						    0, "B", 1, 0, 5, 0 };
/* rollback, cancel: no trial. */
static const struct verb_case set_next_not_on_trial = { "B", 1, 1, 3, 0, 4, SET_NEXT, "A", false,
							0, "A", 0, 0, 4, 0 };
/* Without bootctl_set_bootlimit() a trial gets the default 3 attempts. */
static const struct verb_case default_bootlimit = { "A", 0, 0, 7, 0, 0, SET_NEXT, "B", true,
						    0, "B", 1, 0, 3, 0 };
/* U-Boot fell back to A: rollback and the trial are cleared. */
static const struct verb_case finish_fallback = { "B", 1, 4, 3, 1, 3, FINISH_FALLBACK, "A", false,
						  0, "A", 0, 0, 3, 0 };
/* mark-good keeps boot_slot and the stored bootlimit; only the trial ends. */
static const struct verb_case mark_good = { "B", 1, 2, 4, 0, 9, MARK_GOOD, NULL, false,
					    0, "B", 0, 0, 4, 0 };
/* An interrupted install's trial ends, pointing at the running system; the
 * stored bootlimit (and rollback) stay as they are. */
static const struct verb_case point_at = { "B", 1, 1, 4, 0, 9, POINT_AT, "A", false,
					   0, "A", 0, 0, 4, 0 };
/* A value outside the contract is refused and nothing is written. */
static const struct verb_case verb_refuses_bad_bootlimit = { "A", 0, 0, 3, 0, 1000, SET_NEXT,
							     "B", true, -EINVAL,
							     "A", 0, 0, 3, 0 };

static int run_verb(struct fx *f, const struct verb_case *c)
{
	switch (c->verb) {
	case SET_NEXT:
		return bootctl_set_next(f->bc, c->to, c->trial, &f->e);
	case FINISH_FALLBACK:
		return bootctl_finish_fallback(f->bc, c->to, &f->e);
	case MARK_GOOD:
		return bootctl_mark_good(f->bc, &f->e);
	case POINT_AT:
		return bootctl_point_at(f->bc, c->to, &f->e);
	}
	fail_msg("verb %d", (int)c->verb);
	return -1;
}

/* The test's verb_case. */
static void test_verb(void **state)
{
	struct fx *f = *state;
	const struct verb_case *c = f->verb;

	given(f, c->slot, c->ua, c->bc, c->bl, c->rb);
	if (c->bootlimit)
		bootctl_set_bootlimit(f->bc, c->bootlimit);
	assert_int_equal(run_verb(f, c), c->rc);
	expect(f, c->want_slot, c->want_ua, c->want_bc, c->want_bl, c->want_rb);
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
	return fresh_read(f).apply_staged;
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

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
#define VERB(c) { "test_" #c, test_verb, setup, teardown, (void *)&c }
TU_MAIN(NULL, NULL, VERB(set_next_on_trial), VERB(set_next_not_on_trial), VERB(default_bootlimit),
	VERB(finish_fallback), VERB(mark_good), VERB(point_at), T(test_next_follows_writes),
	VERB(verb_refuses_bad_bootlimit), T(test_open_config), T(test_open_failure_leaves_null),
	T(test_apply_staged_verbs), T(test_apply_staged_values))

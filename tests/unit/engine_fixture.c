/* The engine tests' temporary device and helpers (engine_fixture.h). */
#include "engine_fixture.h"

/* ---- fixture ------------------------------------------------------------ */

static void reset_fake(void)
{
	char state_file[PATH_MAX];
	memcpy(state_file, F.state_file, sizeof(state_file));
	memset(&F, 0, sizeof(F));
	memcpy(F.state_file, state_file, sizeof(state_file));
	snprintf(F.booted, sizeof(F.booted), "A");
	F.rel = (struct release){ .version = "2.0", .compatible = BOARD, .digest = DIGEST,
				  .download_size = 4096, .install_size = 1048576 };
}

/* A factory device running A (version 1.0 in its os-release), no state yet. */
void factory_device(struct fx *f)
{
	struct bootstate bs = { .boot_slot = "A", .bootlimit = 3 };
	char cmd[PATH_MAX + 16];
	struct error e = { 0 };

	engine_close(f->g);
	f->g = NULL;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->state_dir);
	assert_int_equal(system(cmd), 0);
	mkdir_state(f); /* installed empty, as packaging does: the updater never creates it */
	tu_blank_file(f->envfile, 2 * ENV_SIZE);
	if (bootctl_init(&bootctl_uboot, f->fwcfg, &bs, false, &e) != 0)
		fail_msg("bootctl_init: %s", e.msg);
	reset_fake();
}

int setup(void **state)
{
	struct fx *f = tu_fixture_new(sizeof(struct fx));
	char text[2 * PATH_MAX + 64];

	if (!f)
		return -1;
	snprintf(f->state_dir, sizeof(f->state_dir), "%s/data/updater", f->dir);
	snprintf(f->state_file, sizeof(f->state_file), "%s/state", f->state_dir);
	snprintf(f->envfile, sizeof(f->envfile), "%s/uboot.env", f->dir);
	snprintf(f->fwcfg, sizeof(f->fwcfg), "%s/fw_env.config", f->dir);
	snprintf(f->osrel, sizeof(f->osrel), "%s/os-release", f->dir);
	snprintf(f->hooks, sizeof(f->hooks), "%s/hooks", f->dir);
	snprintf(f->cfgpath, sizeof(f->cfgpath), "%s/updater.conf", f->dir);
	snprintf(f->compatible, sizeof(f->compatible), "%s", BOARD);
	snprintf(F.state_file, sizeof(F.state_file), "%s", f->state_file);

	tu_write_text(f->osrel, "NAME=\"Test OS\"\nVERSION_ID=\"1.0\"\n");
	snprintf(text, sizeof(text), "%s 0x0 0x4000\n%s 0x4000 0x4000\n", f->envfile, f->envfile);
	tu_write_text(f->fwcfg, text);

	f->cfg.path = f->cfgpath;
	f->cfg.compatible = f->compatible;
	f->cfg.state_dir = f->state_dir;
	f->cfg.version_file = f->osrel;
	f->cfg.server.timeout = 30;
	f->cfg.server.retries = 3;
	f->cfg.bootenv.fw_env_config = f->fwcfg;
	f->cfg.bootenv.bootlimit = 3;
	f->cfg.hooks.dir = NULL;
	f->cfg.hooks.timeout = 10;

	log_set_level(getenv("UPDATER_TEST_VERBOSE") ? LOG_LVL_DEBUG : (enum log_level)0);
	*state = f;
	factory_device(f);
	return 0;
}

void mkdir_state(struct fx *f)
{
	char cmd[PATH_MAX + 16];
	snprintf(cmd, sizeof(cmd), "mkdir -p '%s'", f->state_dir);
	assert_int_equal(system(cmd), 0);
}

int teardown(void **state)
{
	struct fx *f = *state;
	engine_close(f->g);
	tu_fixture_free(f);
	return 0;
}

/* ---- engine helpers ----------------------------------------------------- */

void stop(struct fx *f)
{
	engine_close(f->g);
	f->g = NULL;
}

/* A new updater process on the running system (F.booted). */
void start_full(struct fx *f, bool allow_downgrade, bool force)
{
	struct engine_opts o = { .allow_downgrade = allow_downgrade, .force = force,
				 .verify_readback = true };

	stop(f);
	F.cut = false;
	F.cut_after = 0;
	err_clear(&f->e);
	int rc = engine_open(&f->g, &f->cfg, "fake", ENGINE_NEED_LOCK, &o, &f->e);
	if (rc != 0)
		fail_msg("engine_open: %d %s", rc, f->e.msg);
}

void start_opts(struct fx *f, bool allow_downgrade)
{
	start_full(f, allow_downgrade, false);
}

void start(struct fx *f)
{
	start_opts(f, false);
}

void reset_calls(void)
{
	F.calls[0] = F.saves[0] = '\0';
	F.n_saves = 0;
	F.n_confirm = 0;
	F.source[0] = F.finished[0] = F.rolled_to[0] = F.rolled_version[0] = '\0';
	F.verify_target[0] = F.install_target[0] = F.activate_target[0] = '\0';
}

/* The engine call WHAT returned RC, which must be 0. */
static void must_succeed(struct fx *f, int rc, const char *what)
{
	if (rc != 0)
		fail_msg("%s: %d %s", what, rc, f->e.msg);
}

int do_install(struct fx *f)
{
	err_clear(&f->e);
	return engine_install(f->g, URL, &f->e);
}

void install_ok(struct fx *f)
{
	must_succeed(f, do_install(f), "engine_install");
}

int do_reconcile(struct fx *f)
{
	err_clear(&f->e);
	return engine_reconcile(f->g, &f->e);
}

void reconcile_ok(struct fx *f)
{
	must_succeed(f, do_reconcile(f), "engine_reconcile");
}

void mark_good_ok(struct fx *f)
{
	err_clear(&f->e);
	must_succeed(f, engine_mark_good(f->g, &f->e), "engine_mark_good");
}

int do_rollback(struct fx *f)
{
	err_clear(&f->e);
	return engine_rollback(f->g, &f->e);
}

int do_check(struct fx *f, struct release *rel)
{
	err_clear(&f->e);
	memset(rel, 0, sizeof(*rel));
	return engine_check(f->g, URL, rel, &f->e);
}

void assert_msg_has(const char *msg, const char *needle)
{
	if (!strstr(msg, needle))
		fail_msg("message \"%s\" lacks \"%s\"", msg, needle);
}

void assert_fails_with(struct fx *f, int rc, int want, int exit_class, const char *needle)
{
	assert_int_equal(rc, want);
	assert_int_equal(f->e.exit, exit_class);
	assert_msg_has(f->e.msg, needle);
}

/* ---- state helpers ------------------------------------------------------ */

void load(struct fx *f, struct update_state *s)
{
	struct error e = { 0 };
	int rc = state_load(f->state_dir, s, &e);
	if (rc != 0)
		fail_msg("state_load: %d %s", rc, e.msg);
}

const struct target_record *rec(struct update_state *s, const char *id)
{
	return state_target(s, id, false);
}

void assert_state(struct fx *f, enum upd_state want)
{
	struct update_state s;
	load(f, &s);
	if (s.state != want)
		fail_msg("state is %s, expected %s", state_name(s.state), state_name(want));
}

void install_activates(struct fx *f)
{
	install_ok(f);
	assert_state(f, ST_ACTIVATED);
}

void mark_good_commits(struct fx *f)
{
	mark_good_ok(f);
	assert_state(f, ST_COMMITTED);
}

void assert_record(struct update_state *s, const char *id, enum target_status want)
{
	const struct target_record *t = rec(s, id);
	if (!t)
		fail_msg("no record for %s, expected %s", id, target_status_name(want));
	if (t->status != want)
		fail_msg("record %s is %s, expected %s", id, target_status_name(t->status),
			 target_status_name(want));
}

/* The value of key in a state file text; want NULL: the key is absent. */
void assert_kv(const char *text, const char *key, const char *want)
{
	char pat[128], got[1024] = "";
	snprintf(pat, sizeof(pat), "\n%s=", key);
	const char *p = strstr(text, pat);
	if (!want) {
		if (p)
			fail_msg("%s is set in:\n%s", key, text);
		return;
	}
	if (!p)
		fail_msg("%s is missing in:\n%s", key, text);
	sscanf(p + strlen(pat), "%1023[^\n]", got);
	if (strcmp(got, want) != 0)
		fail_msg("%s=%s, expected %s, in:\n%s", key, got, want, text);
}

/* The state file without its "updated=" line; NULL if there is none. */
char *state_text_no_time(struct fx *f)
{
	char *text = tu_read_file(f->state_file, NULL);
	if (!text)
		return NULL;
	char *p = strstr(text, "\nupdated=");
	assert_non_null(p);
	char *end = strchr(p + 1, '\n');
	memmove(p, end, strlen(end) + 1);
	return text;
}

/* ---- boot environment helpers ------------------------------------------- */

static void env_read(struct fx *f, struct bootstate *bs)
{
	struct bootctl *env = NULL;
	struct error e = { 0 };
	int rc = bootctl_open(&env, &bootctl_uboot, f->fwcfg, &e);
	if (rc == 0)
		rc = bootctl_read(env, bs, &e);
	bootctl_close(env);
	if (rc != 0)
		fail_msg("reading the boot environment: %s", e.msg);
}

/* Writes all five variables, as U-Boot's save or fw_setenv would. */
void env_set(struct fx *f, const char *slot, int ua, int bc, int bl, int rb)
{
	struct bootctl *env = NULL;
	struct error e = { 0 };
	struct bootstate bs = { .upgrade_available = ua, .bootcount = bc, .bootlimit = bl,
				.rollback = rb };
	snprintf(bs.boot_slot, sizeof(bs.boot_slot), "%s", slot);
	int rc = bootctl_open(&env, &bootctl_uboot, f->fwcfg, &e);
	if (rc == 0)
		rc = bootctl_write(env, &bs, &e);
	bootctl_close(env);
	if (rc != 0)
		fail_msg("writing the boot environment: %s", e.msg);
}

int env_apply_staged(struct fx *f)
{
	struct bootstate bs;
	env_read(f, &bs);
	return bs.apply_staged;
}

void assert_env(struct fx *f, const char *slot, int ua, int bc, int bl, int rb)
{
	struct bootstate bs;
	env_read(f, &bs);
	if (strcmp(bs.boot_slot, slot) != 0 || bs.upgrade_available != ua || bs.bootcount != bc ||
	    bs.bootlimit != bl || bs.rollback != rb)
		fail_msg("boot env is boot_slot=%s upgrade_available=%d bootcount=%d bootlimit=%d "
			 "rollback=%d, expected %s %d %d %d %d",
			 bs.boot_slot, bs.upgrade_available, bs.bootcount, bs.bootlimit, bs.rollback,
			 slot, ua, bc, bl, rb);
}

/* The raw environment storage, to prove that nothing wrote it. */
char *env_bytes(struct fx *f)
{
	size_t len = 0;
	char *b = tu_read_file(f->envfile, &len);
	assert_non_null(b);
	assert_int_equal(len, 2 * ENV_SIZE);
	return b;
}

void assert_env_bytes(struct fx *f, const char *before)
{
	char *now = env_bytes(f);
	if (memcmp(now, before, 2 * ENV_SIZE) != 0) {
		free(now);
		fail_msg("the boot environment was written");
	}
	free(now);
}

/* U-Boot's side of docs/boot-contract.md: picks the slot, counts trial boots,
 * falls back after bootlimit. The updater process is gone (power off). */
void uboot(struct fx *f)
{
	struct bootstate bs;

	stop(f);
	env_read(f, &bs);
	const char *slot = bs.boot_slot;
	if (bs.rollback) {
		slot = other(bs.boot_slot);
	} else if (bs.upgrade_available) {
		bs.bootcount++;
		if (bs.bootcount > bs.bootlimit) {
			bs.rollback = 1;
			bs.upgrade_available = 0;
			slot = other(bs.boot_slot);
		}
		env_set(f, bs.boot_slot, bs.upgrade_available, bs.bootcount, bs.bootlimit,
			bs.rollback);
	}
	snprintf(F.booted, sizeof(F.booted), "%s", slot);
}

/* Reboot, then `updater boot` (the reconciliation) on the new system. */
void boot(struct fx *f)
{
	uboot(f);
	start(f);
	reconcile_ok(f);
}

/* install 2.0 to B from A: activated, reboot pending. */
void activated(struct fx *f)
{
	start(f);
	install_ok(f);
	assert_state(f, ST_ACTIVATED);
	assert_env(f, "B", 1, 0, f->cfg.bootenv.bootlimit, 0);
}

/* ... and booted into B on trial. */
void on_trial(struct fx *f)
{
	activated(f);
	boot(f);
	assert_string_equal(F.booted, "B");
	assert_state(f, ST_TRIAL);
}

/* Reconciling again, in this process and in a new one, changes nothing:
 * neither the state (apart from its time) nor the boot environment. */
void assert_reconcile_idempotent(struct fx *f)
{
	char *s0 = state_text_no_time(f), *e0 = env_bytes(f);
	int saves = F.n_saves;

	reconcile_ok(f);
	start(f);
	reconcile_ok(f);
	reconcile_ok(f);
	char *s1 = state_text_no_time(f);
	if (s0 || s1) {
		assert_non_null(s0);
		assert_non_null(s1);
		assert_string_equal(s0, s1);
	}
	assert_env_bytes(f, e0);
	assert_int_equal(F.n_saves, saves); /* a steady state writes nothing: no flash wear */
	free(s0);
	free(s1);
	free(e0);
}

void capture_begin(struct fx *f, struct capture *c)
{
	snprintf(c->path, sizeof(c->path), "%s/stderr.txt", f->dir);
	fflush(stderr);
	c->saved = dup(2);
	int fd = open(c->path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(c->saved >= 0 && fd >= 0);
	assert_true(dup2(fd, 2) == 2);
	close(fd);
	log_set_level(LOG_LVL_WARN);
}

char *capture_end(struct capture *c)
{
	fflush(stderr);
	dup2(c->saved, 2);
	close(c->saved);
	log_set_level(getenv("UPDATER_TEST_VERBOSE") ? LOG_LVL_DEBUG : (enum log_level)0);
	char *text = tu_read_file(c->path, NULL);
	assert_non_null(text);
	return text;
}

void assert_up_to_date(struct fx *f, const char *msg)
{
	struct release rel;

	assert_int_equal(do_check(f, &rel), 1);
	assert_int_equal(f->e.exit, UPD_EXIT_UPTODATE);
	assert_string_equal(f->e.msg, msg);
}

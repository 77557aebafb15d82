/* Unit tests for the update state machine (core/engine.c) with a fake backend.
 *
 * The fake is swapped in by linking with -Wl,--wrap=backend_find (Makefile:
 * TEST_LDFLAGS_test_engine); -Wl,--wrap=state_save lets the test see every
 * state the engine persists and simulate a power cut (saves stop reaching the
 * storage). Everything else is real: the config struct, the state store in a
 * temporary state_dir, and a file-backed U-Boot environment with two copies
 * through libubootenv. The fake's activate/finish_fallback/rollback write that
 * environment with bootenv_write() like the dual-bank backend, and its
 * next_boot() reads boot_slot from it; uboot() below plays U-Boot's part of
 * docs/boot-contract.md on the same file. */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <sys/stat.h>

#include "../../core/bootenv.h"
#include "../../core/engine.h"
#include "../../core/log.h"

#define ENV_SIZE 0x4000
#define BOARD "test-board"
#define URL "http://updates.example/fw-2.0.upd"
#define DEFAULT_URL "http://server.example/latest.upd"
#define DIGEST "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

/* Tests that show a known bug are skipped unless RUN_KNOWN_BUGS is set (then
 * they run and fail): see the "BUG:" comment at each use. */
#define KNOWN_BUG()                             \
	do {                                    \
		if (!getenv("RUN_KNOWN_BUGS"))  \
			skip();                 \
	} while (0)

/* ---- the fake backend --------------------------------------------------- */

struct fake {
	/* script */
	char booted[32];          /* the running slot ("updater.slot=" on the cmdline) */
	char booted_version[64];  /* what booted() reports; "" like dual-bank */
	struct release rel;       /* what fetch() offers */
	int bootlimit;            /* what open() puts into u->bootlimit */
	bool fail_fetch, fail_download, fail_verify, fail_install, fail_activate, fail_finish,
		fail_rollback;
	char rename_to[32];       /* install() names the target (an ostree deployment) */
	char fetch_error[256];    /* message of a failing fetch; "" for the default */
	bool cut_in_install;      /* power cut while the slot is written */
	int cut_after;            /* power cut once this many saves (in total) reached storage */
	bool cut;                 /* the power is off: saves fail and reach nothing */
	/* record */
	char calls[512];          /* "target fetch verify install activate ..." */
	char saves[512];          /* state names as read back from the file after each save */
	int n_saves, n_open, n_close, n_confirm;
	char source[256];         /* what fetch() was given; "(null)": the backend's default */
	char verify_target[32], install_target[32], activate_target[32];
	char finished[32], rolled_to[32], rolled_version[64];
	char at_fetch[4096], at_verify[4096], at_install[4096], at_activate[4096];
	char env_at_activate[64]; /* "boot_slot upgrade_available" just before activate writes */
	char state_file[PATH_MAX];
};
static struct fake F;

static void note(const char *call)
{
	size_t n = strlen(F.calls);
	snprintf(F.calls + n, sizeof(F.calls) - n, "%s%s", n ? " " : "", call);
}

/* What <state_dir>/state says right now (the empty string if it is missing). */
static void snap_state(char *buf, size_t size)
{
	char *text = tu_read_file(F.state_file, NULL);
	snprintf(buf, size, "%s", text ? text : "");
	free(text);
}

static const char *other(const char *slot)
{
	return strcmp(slot, "A") == 0 ? "B" : "A";
}

/* priv is the engine's updater_ctx: two engines may be open at once. */
static int fk_open(struct updater_ctx *u, void **priv, struct error *e)
{
	(void)e;
	F.n_open++;
	u->bootlimit = F.bootlimit;
	*priv = u;
	return 0;
}

static void fk_close(void *priv)
{
	(void)priv;
	F.n_close++;
}

static int fk_booted(void *priv, struct system_info *out, struct error *e)
{
	(void)priv, (void)e;
	snprintf(out->id, sizeof(out->id), "%s", F.booted);
	snprintf(out->version, sizeof(out->version), "%s", F.booted_version);
	snprintf(out->path, sizeof(out->path), "/dev/fake-%s", F.booted);
	return 0;
}

/* Like dual-bank: boot_slot from the boot environment the engine opened. */
static int fk_next_boot(void *priv, char *id, size_t size, struct error *e)
{
	struct updater_ctx *u = priv;
	char *v = bootenv_get(u->env, "boot_slot");
	if (!v)
		return err_set(e, UPD_EXIT_OTHER, EBADMSG, "fake: boot_slot is missing");
	snprintf(id, size, "%s", v);
	free(v);
	return 0;
}

static int fk_fetch(void *priv, const char *source, struct release *out, struct error *e)
{
	(void)priv;
	note("fetch");
	snprintf(F.source, sizeof(F.source), "%s", source ? source : "(null)");
	if (!source)
		source = DEFAULT_URL; /* like dual-bank's server.url */
	snap_state(F.at_fetch, sizeof(F.at_fetch));
	if (F.fail_fetch)
		return F.fetch_error[0]
			       ? err_set(e, UPD_EXIT_DOWNLOAD, ENOENT, "%s", F.fetch_error)
			       : err_set(e, UPD_EXIT_DOWNLOAD, EIO, "download %s: HTTP 503 (fake)", source);
	*out = F.rel;
	snprintf(out->origin, sizeof(out->origin), "%s", source);
	/* Another version is another manifest: another identity. */
	if (!out->identity[0])
		snprintf(out->identity, sizeof(out->identity), "manifest-of-%s", out->version);
	return 0;
}

static int fk_download(void *priv, struct error *e)
{
	(void)priv;
	note("download");
	if (F.fail_download)
		return err_set(e, UPD_EXIT_DOWNLOAD, ETIMEDOUT, "download %s: no data for 30 s (fake)",
			       F.source);
	return 0;
}

static int fk_verify(void *priv, const struct system_info *target, struct error *e)
{
	(void)priv;
	note("verify");
	snprintf(F.verify_target, sizeof(F.verify_target), "%s", target->id);
	snap_state(F.at_verify, sizeof(F.at_verify));
	if (F.fail_verify)
		return err_set(e, UPD_EXIT_VERIFY, EBADMSG, "verify %s: bad signature (fake)", F.source);
	return 0;
}

static int fk_target(void *priv, struct system_info *out, struct error *e)
{
	(void)priv, (void)e;
	note("target");
	snprintf(out->id, sizeof(out->id), "%s", other(F.booted));
	snprintf(out->path, sizeof(out->path), "/dev/fake-%s", out->id);
	return 0;
}

static int fk_previous(void *priv, struct system_info *out, struct error *e)
{
	(void)priv, (void)e;
	note("previous");
	snprintf(out->id, sizeof(out->id), "%s", other(F.booted));
	snprintf(out->path, sizeof(out->path), "/dev/fake-%s", out->id);
	return 0;
}

static int fk_install(void *priv, struct system_info *target, struct error *e)
{
	(void)priv;
	note("install");
	snprintf(F.install_target, sizeof(F.install_target), "%s", target->id);
	snap_state(F.at_install, sizeof(F.at_install));
	if (F.cut_in_install) {
		F.cut = true; /* the process dies here: nothing after reaches the storage */
		return err_set(e, UPD_EXIT_OTHER, EIO, "power cut (fake)");
	}
	if (F.fail_install)
		return err_set(e, UPD_EXIT_NOSPACE, EFBIG,
			       "image of 9999 bytes does not fit slot %s (fake)", target->id);
	if (F.rename_to[0]) {
		snprintf(target->id, sizeof(target->id), "%s", F.rename_to);
		snprintf(target->path, sizeof(target->path), "/dev/fake-%s", F.rename_to);
	}
	return 0;
}

/* Like dual-bank: all five variables in one bootenv_write(). */
static int write_env(struct updater_ctx *u, const char *slot, int trial, struct error *e)
{
	struct bootstate bs = { .upgrade_available = trial, .bootlimit = u->bootlimit };
	snprintf(bs.boot_slot, sizeof(bs.boot_slot), "%s", slot);
	return bootenv_write(u->env, &bs, e);
}

static int fk_activate(void *priv, const struct system_info *target, struct error *e)
{
	struct updater_ctx *u = priv;
	note("activate");
	snprintf(F.activate_target, sizeof(F.activate_target), "%s", target->id);
	snap_state(F.at_activate, sizeof(F.at_activate));
	char *slot = bootenv_get(u->env, "boot_slot"), *ua = bootenv_get(u->env, "upgrade_available");
	snprintf(F.env_at_activate, sizeof(F.env_at_activate), "%s %s", slot ? slot : "?",
		 ua ? ua : "?");
	free(slot);
	free(ua);
	if (F.fail_activate)
		return err_set(e, UPD_EXIT_OTHER, EIO, "boot environment: cannot write (fake)");
	return write_env(u, target->id, 1, e);
}

static int fk_finish_fallback(void *priv, const struct system_info *booted, struct error *e)
{
	note("finish_fallback");
	snprintf(F.finished, sizeof(F.finished), "%s", booted->id);
	if (F.fail_finish)
		return err_set(e, UPD_EXIT_OTHER, EIO, "boot environment: cannot write (fake)");
	return write_env(priv, booted->id, 0, e);
}

static int fk_rollback(void *priv, const struct system_info *to, struct error *e)
{
	note("rollback");
	snprintf(F.rolled_to, sizeof(F.rolled_to), "%s", to->id);
	snprintf(F.rolled_version, sizeof(F.rolled_version), "%s", to->version);
	if (F.fail_rollback)
		return err_set(e, UPD_EXIT_OTHER, EIO, "boot environment: cannot write (fake)");
	return write_env(priv, to->id, 0, e);
}

static int fk_confirm(void *priv, struct error *e)
{
	(void)priv, (void)e;
	note("confirm");
	F.n_confirm++;
	return 0;
}

static const struct backend_ops fake_ops = {
	.name = "fake",
	.open = fk_open,
	.close = fk_close,
	.booted = fk_booted,
	.next_boot = fk_next_boot,
	.fetch = fk_fetch,
	.download = fk_download,
	.verify = fk_verify,
	.target = fk_target,
	.previous = fk_previous,
	.install = fk_install,
	.activate = fk_activate,
	.finish_fallback = fk_finish_fallback,
	.rollback = fk_rollback,
	.confirm = fk_confirm,
};

const struct backend_ops *__real_backend_find(const char *name);
const struct backend_ops *__wrap_backend_find(const char *name);
int __real_state_save(const char *dir, struct update_state *s, struct error *e);
int __wrap_state_save(const char *dir, struct update_state *s, struct error *e);

const struct backend_ops *__wrap_backend_find(const char *name)
{
	return strcmp(name, "fake") == 0 ? &fake_ops : __real_backend_find(name);
}

int __wrap_state_save(const char *dir, struct update_state *s, struct error *e)
{
	if (F.cut)
		return err_set(e, UPD_EXIT_OTHER, EIO, "save update state: power cut (test)");
	int rc = __real_state_save(dir, s, e);
	if (rc < 0)
		return rc;
	char text[4096], name[32] = "?";
	snap_state(text, sizeof(text));
	const char *p = strstr(text, "\nstate=");
	if (p)
		sscanf(p + 7, "%31[^\n]", name);
	size_t n = strlen(F.saves);
	snprintf(F.saves + n, sizeof(F.saves) - n, "%s%s", n ? " " : "", name);
	F.n_saves++;
	if (F.cut_after && F.n_saves == F.cut_after)
		F.cut = true;
	return 0;
}

/* ---- fixture ------------------------------------------------------------ */

struct fx {
	char *dir;
	char state_dir[PATH_MAX], state_file[PATH_MAX], envfile[PATH_MAX], fwcfg[PATH_MAX];
	char osrel[PATH_MAX], hooks[PATH_MAX], cfgpath[PATH_MAX], compatible[32];
	struct config cfg;
	struct engine *g;
	struct error e;
};


struct fx;
static void mkdir_state(struct fx *f);

static void reset_fake(void)
{
	char state_file[PATH_MAX];
	memcpy(state_file, F.state_file, sizeof(state_file));
	memset(&F, 0, sizeof(F));
	memcpy(F.state_file, state_file, sizeof(state_file));
	snprintf(F.booted, sizeof(F.booted), "A");
	F.bootlimit = 3;
	F.rel = (struct release){ .version = "2.0", .compatible = BOARD, .digest = DIGEST,
				  .download_size = 4096, .install_size = 1048576 };
}

/* A factory device running A (version 1.0 in its os-release), no state yet. */
static void factory_device(struct fx *f)
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
	if (bootenv_init_write(f->fwcfg, &bs, false, &e) != 0)
		fail_msg("bootenv_init_write: %s", e.msg);
	reset_fake();
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char text[2 * PATH_MAX + 64];

	if (!f || !(f->dir = tu_mkdtemp())) {
		free(f);
		return -1;
	}
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
	f->cfg.hooks.dir = NULL;
	f->cfg.hooks.timeout = 10;

	log_set_level(getenv("UPDATER_TEST_VERBOSE") ? LOG_LVL_DEBUG : (enum log_level)0);
	*state = f;
	factory_device(f);
	return 0;
}

static void mkdir_state(struct fx *f)
{
	char cmd[PATH_MAX + 16];
	snprintf(cmd, sizeof(cmd), "mkdir -p '%s'", f->state_dir);
	assert_int_equal(system(cmd), 0);
}

static int teardown(void **state)
{
	struct fx *f = *state;
	engine_close(f->g);
	tu_rmtree(f->dir);
	free(f);
	return 0;
}

/* ---- engine helpers ----------------------------------------------------- */

static void stop(struct fx *f)
{
	engine_close(f->g);
	f->g = NULL;
}

/* A new updater process on the running system (F.booted). */
static void start_full(struct fx *f, bool allow_downgrade, bool force)
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

static void start_opts(struct fx *f, bool allow_downgrade)
{
	start_full(f, allow_downgrade, false);
}

static void start(struct fx *f)
{
	start_opts(f, false);
}

static void reset_calls(void)
{
	F.calls[0] = F.saves[0] = '\0';
	F.n_saves = 0;
	F.n_confirm = 0;
	F.source[0] = F.finished[0] = F.rolled_to[0] = F.rolled_version[0] = '\0';
	F.verify_target[0] = F.install_target[0] = F.activate_target[0] = '\0';
}

static int do_install(struct fx *f)
{
	err_clear(&f->e);
	return engine_install(f->g, URL, &f->e);
}

static void install_ok(struct fx *f)
{
	int rc = do_install(f);
	if (rc != 0)
		fail_msg("engine_install: %d %s", rc, f->e.msg);
}

static int do_reconcile(struct fx *f)
{
	err_clear(&f->e);
	return engine_reconcile(f->g, &f->e);
}

static void reconcile_ok(struct fx *f)
{
	int rc = do_reconcile(f);
	if (rc != 0)
		fail_msg("engine_reconcile: %d %s", rc, f->e.msg);
}

static void mark_good_ok(struct fx *f)
{
	err_clear(&f->e);
	int rc = engine_mark_good(f->g, &f->e);
	if (rc != 0)
		fail_msg("engine_mark_good: %d %s", rc, f->e.msg);
}

static int do_rollback(struct fx *f)
{
	err_clear(&f->e);
	return engine_rollback(f->g, &f->e);
}

static int do_check(struct fx *f, struct release *rel)
{
	err_clear(&f->e);
	memset(rel, 0, sizeof(*rel));
	return engine_check(f->g, URL, rel, &f->e);
}

static void assert_msg_has(const char *msg, const char *needle)
{
	if (!strstr(msg, needle))
		fail_msg("message \"%s\" lacks \"%s\"", msg, needle);
}

/* ---- state helpers ------------------------------------------------------ */

static void load(struct fx *f, struct update_state *s)
{
	struct error e = { 0 };
	int rc = state_load(f->state_dir, s, &e);
	if (rc != 0)
		fail_msg("state_load: %d %s", rc, e.msg);
}

static const struct target_record *rec(struct update_state *s, const char *id)
{
	return state_target(s, id, false);
}

static void assert_state(struct fx *f, enum upd_state want)
{
	struct update_state s;
	load(f, &s);
	if (s.state != want)
		fail_msg("state is %s, expected %s", state_name(s.state), state_name(want));
}

static void assert_record(struct update_state *s, const char *id, enum target_status want)
{
	const struct target_record *t = rec(s, id);
	if (!t)
		fail_msg("no record for %s, expected %s", id, target_status_name(want));
	if (t->status != want)
		fail_msg("record %s is %s, expected %s", id, target_status_name(t->status),
			 target_status_name(want));
}

/* The value of key in a state file text; want NULL: the key is absent. */
static void assert_kv(const char *text, const char *key, const char *want)
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
static char *state_text_no_time(struct fx *f)
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
	struct bootenv *env = NULL;
	struct error e = { 0 };
	int rc = bootenv_open(&env, f->fwcfg, &e);
	if (rc == 0)
		rc = bootenv_read(env, bs, &e);
	bootenv_close(env);
	if (rc != 0)
		fail_msg("reading the boot environment: %s", e.msg);
}

/* Writes all five variables, as U-Boot's save or fw_setenv would. */
static void env_set(struct fx *f, const char *slot, int ua, int bc, int bl, int rb)
{
	struct bootenv *env = NULL;
	struct error e = { 0 };
	struct bootstate bs = { .upgrade_available = ua, .bootcount = bc, .bootlimit = bl,
				.rollback = rb };
	snprintf(bs.boot_slot, sizeof(bs.boot_slot), "%s", slot);
	int rc = bootenv_open(&env, f->fwcfg, &e);
	if (rc == 0)
		rc = bootenv_write(env, &bs, &e);
	bootenv_close(env);
	if (rc != 0)
		fail_msg("writing the boot environment: %s", e.msg);
}

static void assert_env(struct fx *f, const char *slot, int ua, int bc, int bl, int rb)
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
static char *env_bytes(struct fx *f)
{
	size_t len = 0;
	char *b = tu_read_file(f->envfile, &len);
	assert_non_null(b);
	assert_int_equal(len, 2 * ENV_SIZE);
	return b;
}

static void assert_env_bytes(struct fx *f, const char *before)
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
static void uboot(struct fx *f)
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
static void boot(struct fx *f)
{
	uboot(f);
	start(f);
	reconcile_ok(f);
}

/* install 2.0 to B from A: activated, reboot pending. */
static void activated(struct fx *f)
{
	start(f);
	install_ok(f);
	assert_state(f, ST_ACTIVATED);
	assert_env(f, "B", 1, 0, F.bootlimit, 0);
}

/* ... and booted into B on trial. */
static void on_trial(struct fx *f)
{
	activated(f);
	boot(f);
	assert_string_equal(F.booted, "B");
	assert_state(f, ST_TRIAL);
}

/* Reconciling again, in this process and in a new one, changes nothing:
 * neither the state (apart from its time) nor the boot environment. */
static void assert_reconcile_idempotent(struct fx *f)
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

/* Captures what the engine logs at warning level and above. */
struct capture {
	int saved;
	char path[PATH_MAX];
};

static void capture_begin(struct fx *f, struct capture *c)
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

static char *capture_end(struct capture *c)
{
	fflush(stderr);
	dup2(c->saved, 2);
	close(c->saved);
	log_set_level(getenv("UPDATER_TEST_VERBOSE") ? LOG_LVL_DEBUG : (enum log_level)0);
	char *text = tu_read_file(c->path, NULL);
	assert_non_null(text);
	return text;
}

/* ---- install ------------------------------------------------------------ */

static void test_install_happy_path(void **state)
{
	struct fx *f = *state;
	struct update_state s;

	start(f);
	assert_int_equal(F.n_open, 1);
	reset_calls();
	install_ok(f);

	/* Every transition persisted, in order, before the work of the next one. */
	assert_string_equal(F.saves, "fetch verify pre-install install post-install activated");
	assert_string_equal(F.calls, "target fetch download verify install activate");
	assert_string_equal(F.source, URL);
	assert_string_equal(F.verify_target, "B");
	assert_string_equal(F.install_target, "B");
	assert_string_equal(F.activate_target, "B");

	/* fetch ran in state fetch; the running system is recorded good first. */
	assert_kv(F.at_fetch, "state", "fetch");
	assert_kv(F.at_fetch, "backend", "fake");
	assert_kv(F.at_fetch, "op_target", "B");
	assert_kv(F.at_fetch, "op_from", "A");
	assert_kv(F.at_fetch, "op_version", "");
	assert_kv(F.at_fetch, "target.A.status", "good");
	assert_kv(F.at_fetch, "target.A.version", "1.0");
	assert_kv(F.at_fetch, "target.B.status", NULL);
	/* verify ran in state verify, knowing the version. */
	assert_kv(F.at_verify, "state", "verify");
	assert_kv(F.at_verify, "op_version", "2.0");
	assert_kv(F.at_verify, "target.B.status", NULL);
	/* install wrote the slot while its record said incomplete. */
	assert_kv(F.at_install, "state", "install");
	assert_kv(F.at_install, "target.B.status", "incomplete");
	assert_kv(F.at_install, "target.B.version", "2.0");
	assert_kv(F.at_install, "target.B.digest", "");
	assert_kv(F.at_install, "target.B.size", "0");
	/* activate ran once the slot was recorded verified, and the environment
	 * had not been touched before it. */
	assert_kv(F.at_activate, "state", "post-install");
	assert_kv(F.at_activate, "target.B.status", "verified");
	assert_kv(F.at_activate, "target.B.digest", DIGEST);
	assert_string_equal(F.env_at_activate, "A 0");

	load(f, &s);
	assert_int_equal(s.state, ST_ACTIVATED);
	assert_string_equal(s.backend, "fake");
	assert_string_equal(s.op_version, "2.0");
	assert_string_equal(s.op_target, "B");
	assert_string_equal(s.op_from, "A");
	assert_string_equal(s.last_error, "");
	assert_int_equal(s.n_targets, 2);
	assert_record(&s, "A", TS_GOOD);
	assert_string_equal(rec(&s, "A")->version, "1.0");
	assert_record(&s, "B", TS_VERIFIED);
	assert_string_equal(rec(&s, "B")->version, "2.0");
	assert_string_equal(rec(&s, "B")->digest, DIGEST);
	assert_true(rec(&s, "B")->size == 1048576);
	assert_env(f, "B", 1, 0, 3, 0);

	/* status shows the pending update. */
	struct engine_status st;
	assert_int_equal(engine_status(f->g, &st, &f->e), 0);
	assert_string_equal(st.backend, "fake");
	assert_int_equal(st.state, ST_ACTIVATED);
	assert_false(st.busy);
	assert_string_equal(st.booted.id, "A");
	assert_string_equal(st.booted.version, "1.0");
	assert_true(st.has_pending);
	assert_string_equal(st.pending.id, "B");
	assert_string_equal(st.pending.version, "2.0");
	assert_true(st.boot_ok);
	assert_string_equal(st.boot.boot_slot, "B");
	assert_int_equal(st.boot.upgrade_available, 1);

	stop(f);
	assert_int_equal(F.n_close, 1);
}

/* No source given: the backend picks its default (NULL is passed through). */
static void test_install_default_source(void **state)
{
	struct fx *f = *state;
	struct release rel;

	start(f);
	reset_calls();
	err_clear(&f->e);
	assert_int_equal(engine_check(f->g, NULL, &rel, &f->e), 0);
	assert_string_equal(F.source, "(null)");
	assert_string_equal(rel.origin, DEFAULT_URL);
	err_clear(&f->e);
	assert_int_equal(engine_install(f->g, NULL, &f->e), 0);
	assert_string_equal(F.source, "(null)");
	assert_state(f, ST_ACTIVATED);
	err_clear(&f->e);
	assert_int_equal(engine_check(f->g, NULL, &rel, &f->e), 1);
	assert_string_equal(f->e.msg, "up to date: " DEFAULT_URL " offers 2.0, newest here is 2.0 "
				      "(pending reboot)");
}

/* One step fails: the error is returned as it is, recorded as last_error with
 * state failed, and the boot environment is not written at all. */
static void expect_install_failure(struct fx *f, bool *flag, int want_rc, int want_exit,
				   const char *want_msg, const char *want_calls,
				   const char *want_saves)
{
	struct update_state s;

	start(f);
	char *env0 = env_bytes(f);
	*flag = true;
	reset_calls();
	int rc = do_install(f);
	assert_int_equal(rc, want_rc);
	assert_int_equal(f->e.exit, want_exit);
	assert_string_equal(f->e.msg, want_msg);
	assert_string_equal(F.calls, want_calls);
	assert_string_equal(F.saves, want_saves);
	assert_env_bytes(f, env0);

	load(f, &s);
	assert_int_equal(s.state, ST_FAILED);
	assert_string_equal(s.last_error, want_msg);
	assert_string_equal(s.op_target, "B");
	assert_string_equal(s.op_from, "A");
	assert_record(&s, "A", TS_GOOD);

	/* The next start finds nothing to repair. */
	*flag = false;
	start(f);
	assert_reconcile_idempotent(f);
	assert_state(f, ST_FAILED);
	free(env0);
}

static void test_install_fails_at_fetch(void **state)
{
	struct fx *f = *state;
	struct update_state s;

	expect_install_failure(f, &F.fail_fetch, -EIO, UPD_EXIT_DOWNLOAD,
			       "download " URL ": HTTP 503 (fake)", "target fetch", "fetch failed");
	load(f, &s);
	assert_string_equal(s.op_version, "");
	assert_null(rec(&s, "B"));
}

static void test_install_fails_at_download(void **state)
{
	struct fx *f = *state;
	struct update_state s;

	expect_install_failure(f, &F.fail_download, -ETIMEDOUT, UPD_EXIT_DOWNLOAD,
			       "download " URL ": no data for 30 s (fake)", "target fetch download",
			       "fetch failed");
	load(f, &s);
	assert_string_equal(s.op_version, "2.0");
	assert_null(rec(&s, "B"));
}

static void test_install_fails_at_verify(void **state)
{
	struct fx *f = *state;
	struct update_state s;

	expect_install_failure(f, &F.fail_verify, -EBADMSG, UPD_EXIT_VERIFY,
			       "verify " URL ": bad signature (fake)", "target fetch download verify",
			       "fetch verify failed");
	load(f, &s);
	assert_string_equal(s.op_version, "2.0");
	assert_null(rec(&s, "B"));
}

static void test_install_fails_at_install(void **state)
{
	struct fx *f = *state;
	struct update_state s;

	expect_install_failure(f, &F.fail_install, -EFBIG, UPD_EXIT_NOSPACE,
			       "image of 9999 bytes does not fit slot B (fake)",
			       "target fetch download verify install",
			       "fetch verify pre-install install failed");
	load(f, &s);
	assert_record(&s, "B", TS_INCOMPLETE); /* never bootable */
	assert_string_equal(rec(&s, "B")->digest, "");
}

static void test_install_fails_at_activate(void **state)
{
	struct fx *f = *state;
	struct update_state s;

	expect_install_failure(f, &F.fail_activate, -EIO, UPD_EXIT_OTHER,
			       "boot environment: cannot write (fake)",
			       "target fetch download verify install activate",
			       "fetch verify pre-install install post-install failed");
	load(f, &s);
	/* The slot was written and read back and its post-install hooks passed:
	 * the record keeps saying so (docs/state-machine.md: "verified"), but it
	 * never became the default. */
	assert_record(&s, "B", TS_VERIFIED);
	assert_string_equal(rec(&s, "B")->digest, DIGEST);
}

/* A hook script in <hooks.dir>/<phase>.d/<name>. */
static void add_hook(struct fx *f, const char *phase, const char *name, const char *body)
{
	char dir[PATH_MAX + 32], path[PATH_MAX + 96], *text = NULL;

	assert_true(mkdir(f->hooks, 0755) == 0 || errno == EEXIST);
	assert_int_equal(chmod(f->hooks, 0755), 0);
	snprintf(dir, sizeof(dir), "%s/%s.d", f->hooks, phase);
	assert_true(mkdir(dir, 0755) == 0 || errno == EEXIST);
	assert_int_equal(chmod(dir, 0755), 0);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_true(asprintf(&text, "#!/bin/sh\n%s", body) >= 0);
	tu_write_text(path, text);
	assert_int_equal(chmod(path, 0755), 0);
	free(text);
	f->cfg.hooks.dir = f->hooks;
}

/* Hooks see the state persisted before their phase started. */
static void test_install_hooks_see_persisted_state(void **state)
{
	struct fx *f = *state;
	char body[3 * PATH_MAX], seen[PATH_MAX + 16];

	snprintf(body, sizeof(body), "cp '%s' '%s/seen-pre'\necho \"$UPDATER_VERSION $UPDATER_SLOT\" >> '%s/seen-pre'\n",
		 f->state_file, f->dir, f->dir);
	add_hook(f, "pre-install", "10-snap", body);
	snprintf(body, sizeof(body), "cp '%s' '%s/seen-post'\n", f->state_file, f->dir);
	add_hook(f, "post-install", "10-snap", body);
	activated(f);

	snprintf(seen, sizeof(seen), "%s/seen-pre", f->dir);
	char *pre = tu_read_file(seen, NULL);
	assert_non_null(pre);
	assert_kv(pre, "state", "pre-install");
	assert_kv(pre, "op_version", "2.0");
	assert_kv(pre, "target.B.status", NULL); /* nothing written yet */
	assert_non_null(strstr(pre, "\n2.0 B\n"));
	snprintf(seen, sizeof(seen), "%s/seen-post", f->dir);
	char *post = tu_read_file(seen, NULL);
	assert_non_null(post);
	assert_kv(post, "state", "post-install");
	assert_kv(post, "target.B.status", "verified");
	free(pre);
	free(post);
}

static void test_install_post_install_hook_fails(void **state)
{
	struct fx *f = *state;
	struct update_state s;

	add_hook(f, "post-install", "50-veto", "echo vetoed >&2\nexit 4\n");
	start(f);
	char *env0 = env_bytes(f);
	reset_calls();
	assert_true(do_install(f) < 0);
	assert_int_equal(f->e.exit, UPD_EXIT_HOOK);
	assert_msg_has(f->e.msg, "post-install hook 50-veto");
	assert_string_equal(F.calls, "target fetch download verify install");
	assert_string_equal(F.saves, "fetch verify pre-install install post-install failed");
	assert_env_bytes(f, env0);
	load(f, &s);
	assert_int_equal(s.state, ST_FAILED);
	assert_string_equal(s.last_error, f->e.msg);
	assert_record(&s, "B", TS_BAD);
	free(env0);

	/* and rollback will not boot it */
	start(f);
	assert_int_equal(do_rollback(f), -EPERM);
	assert_int_equal(f->e.exit, UPD_EXIT_BUSY);
	assert_msg_has(f->e.msg, "(bad)");
}

/* A backend whose target gets its name from the install (an ostree
 * deployment): the record follows the new name, and a stale record of that
 * name (a deployment removed long ago) is dropped. */
static void test_install_names_target(void **state)
{
	struct fx *f = *state;
	struct update_state s;

	mkdir_state(f);
	tu_write_text(f->state_file, "format=1\nstate=committed\nbackend=fake\n"
				  "target.3e5a9c1f.1.status=bad\ntarget.3e5a9c1f.1.version=0.5\n"
				  "target.A.status=good\ntarget.A.version=1.0\n");
	snprintf(F.rename_to, sizeof(F.rename_to), "3e5a9c1f.1");
	start(f);
	reset_calls();
	install_ok(f);
	assert_string_equal(F.saves, "fetch verify pre-install install post-install activated");
	assert_kv(F.at_install, "target.B.status", "incomplete"); /* the placeholder */
	assert_kv(F.at_activate, "op_target", "3e5a9c1f.1");
	assert_kv(F.at_activate, "target.3e5a9c1f.1.status", "verified");
	assert_kv(F.at_activate, "target.B.status", NULL);
	assert_string_equal(F.activate_target, "3e5a9c1f.1");
	load(f, &s);
	assert_int_equal(s.state, ST_ACTIVATED);
	assert_string_equal(s.op_target, "3e5a9c1f.1");
	assert_int_equal(s.n_targets, 2);
	assert_null(rec(&s, "B"));
	assert_record(&s, "A", TS_GOOD);
	assert_record(&s, "3e5a9c1f.1", TS_VERIFIED);
	assert_string_equal(rec(&s, "3e5a9c1f.1")->version, "2.0");
	assert_string_equal(rec(&s, "3e5a9c1f.1")->digest, DIGEST);
	assert_env(f, "3e5a9c1f.1", 1, 0, 3, 0);
	start(f);
	assert_reconcile_idempotent(f);
	assert_state(f, ST_ACTIVATED);
}

/* ---- policy ------------------------------------------------------------- */

static void expect_policy_refusal(struct fx *f, const char *msg)
{
	struct update_state s;

	char *env0 = env_bytes(f);
	reset_calls();
	assert_int_equal(do_install(f), -EPERM);
	assert_int_equal(f->e.exit, UPD_EXIT_VERIFY);
	assert_string_equal(f->e.msg, msg);
	/* refused on the metadata: no bulk download, no signature check, no write */
	assert_string_equal(F.calls, "target fetch");
	assert_string_equal(F.saves, "fetch failed");
	assert_env_bytes(f, env0);
	load(f, &s);
	assert_int_equal(s.state, ST_FAILED);
	assert_string_equal(s.last_error, msg);
	assert_null(rec(&s, "B"));
	free(env0);
}

static void test_policy_compatible(void **state)
{
	struct fx *f = *state;

	start(f);
	snprintf(F.rel.compatible, sizeof(F.rel.compatible), "other-board");
	expect_policy_refusal(f, "verify: release 2.0 is for 'other-board', this device is "
				 "'test-board'");
	/* Even --allow-downgrade does not override it. */
	start_opts(f, true);
	expect_policy_refusal(f, "verify: release 2.0 is for 'other-board', this device is "
				 "'test-board'");

	/* A release that names no board is not bound to this device: refused... */
	F.rel.compatible[0] = '\0';
	start(f);
	expect_policy_refusal(f, "verify: release 2.0 names no compatible board in its signed "
				 "metadata; this device is 'test-board'");
	/* ...unless the backend's config explicitly accepts unbound releases. */
	F.rel.compatible_optional = true;
	start(f);
	install_ok(f);
	assert_state(f, ST_ACTIVATED);
}

static void test_policy_versions(void **state)
{
	struct fx *f = *state;

	start(f);
	snprintf(F.rel.version, sizeof(F.rel.version), "0.9");
	expect_policy_refusal(f, "verify: version 0.9 is older than the running 1.0 (downgrade "
				 "refused; --allow-downgrade overrides)");
	snprintf(F.rel.version, sizeof(F.rel.version), "1.0");
	expect_policy_refusal(f, "verify: version 1.0 is already running (--allow-downgrade "
				 "reinstalls it)");
	snprintf(F.rel.version, sizeof(F.rel.version), "1.0-rc1"); /* pre-release < release */
	expect_policy_refusal(f, "verify: version 1.0-rc1 is older than the running 1.0 "
				 "(downgrade refused; --allow-downgrade overrides)");

	/* --allow-downgrade accepts an older version... */
	snprintf(F.rel.version, sizeof(F.rel.version), "0.9");
	start_opts(f, true);
	install_ok(f);
	struct update_state s;
	load(f, &s);
	assert_int_equal(s.state, ST_ACTIVATED);
	assert_string_equal(s.op_version, "0.9");
	assert_string_equal(rec(&s, "B")->version, "0.9");
	assert_string_equal(s.last_error, "");
	/* ... and a reinstall of the same one. */
	factory_device(f);
	snprintf(F.rel.version, sizeof(F.rel.version), "1.0");
	start_opts(f, true);
	install_ok(f);
	assert_state(f, ST_ACTIVATED);
}

/* No record, no VERSION_ID: nothing to compare with. Refused (exit 3, naming
 * version_file), unless --allow-downgrade, which installs with a warning. */
static void test_policy_unknown_booted_version(void **state)
{
	struct fx *f = *state;
	struct capture c;
	struct update_state s;
	char want[PATH_MAX + 256];

	tu_write_text(f->osrel, "NAME=\"Test OS\"\n");
	snprintf(F.rel.version, sizeof(F.rel.version), "0.1");
	start(f);
	snprintf(want, sizeof(want),
		 "verify: the booted version is unknown (no record, no VERSION_ID in version_file "
		 "%s): cannot check for a downgrade (--allow-downgrade installs anyway)",
		 f->osrel);
	expect_policy_refusal(f, want);
	snprintf(F.rel.version, sizeof(F.rel.version), "99.0"); /* whatever the version */
	reset_calls();
	assert_int_equal(do_install(f), -EPERM);
	assert_int_equal(f->e.exit, UPD_EXIT_VERIFY);
	assert_msg_has(f->e.msg, "version_file");

	snprintf(F.rel.version, sizeof(F.rel.version), "0.1");
	start_opts(f, true);
	capture_begin(f, &c);
	int rc = do_install(f);
	char *log = capture_end(&c);
	if (rc != 0)
		fail_msg("engine_install: %d %s", rc, f->e.msg);
	assert_msg_has(log, "booted version unknown");
	assert_msg_has(log, "without a downgrade check (--allow-downgrade)");
	assert_msg_has(log, f->osrel);
	free(log);
	load(f, &s);
	assert_int_equal(s.state, ST_ACTIVATED);
	assert_record(&s, "A", TS_GOOD);
	assert_string_equal(rec(&s, "A")->version, "");
}

/* The running version: the updater's record beats what the backend reports,
 * which beats the version_file. */
static void test_policy_booted_version_sources(void **state)
{
	struct fx *f = *state;
	char text[256];

	snprintf(F.booted_version, sizeof(F.booted_version), "5.0");
	start(f);
	expect_policy_refusal(f, "verify: version 2.0 is older than the running 5.0 (downgrade "
				 "refused; --allow-downgrade overrides)");

	factory_device(f);
	mkdir_state(f);
	snprintf(text, sizeof(text), "format=1\nstate=committed\nbackend=fake\n"
				     "target.A.status=good\ntarget.A.version=3.0\n");
	tu_write_text(f->state_file, text);
	snprintf(F.booted_version, sizeof(F.booted_version), "5.0");
	start(f);
	expect_policy_refusal(f, "verify: version 2.0 is older than the running 3.0 (downgrade "
				 "refused; --allow-downgrade overrides)");
}

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

	F.bootlimit = 0;
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

	F.bootlimit = 0;
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
	install_ok(f);
	assert_state(f, ST_ACTIVATED);
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
	mark_good_ok(f);
	assert_state(f, ST_COMMITTED);
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

/* ---- install refused ---------------------------------------------------- */

static void test_install_refused_on_trial(void **state)
{
	struct fx *f = *state;

	on_trial(f);
	start(f);
	char *env0 = env_bytes(f), *s0 = state_text_no_time(f);
	reset_calls();
	F.rel.version[0] = '3';
	assert_int_equal(do_install(f), -EBUSY);
	assert_int_equal(f->e.exit, UPD_EXIT_BUSY);
	assert_string_equal(f->e.msg, "install: the booted system (B, version 2.0) is on trial: run "
				      "'updater mark-good' or 'updater rollback' first (the other "
				      "slot is its fallback)");
	assert_string_equal(F.calls, "target");
	assert_int_equal(F.n_saves, 0);
	assert_env_bytes(f, env0);
	char *s1 = state_text_no_time(f);
	assert_string_equal(s0, s1);
	free(env0);
	free(s0);
	free(s1);
}

static void test_install_refused_when_target_boots_next(void **state)
{
	struct fx *f = *state;

	activated(f);
	start(f);
	char *env0 = env_bytes(f);
	reset_calls();
	assert_int_equal(do_install(f), -EBUSY);
	assert_int_equal(f->e.exit, UPD_EXIT_BUSY);
	assert_string_equal(f->e.msg, "install: B is set to boot next (version 2.0 pending): reboot "
				      "into it, or 'updater rollback' to cancel it");
	assert_string_equal(F.calls, "target");
	assert_int_equal(F.n_saves, 0);
	assert_state(f, ST_ACTIVATED);
	assert_env_bytes(f, env0);
	free(env0);

	/* Also without a trial: B set to boot next (e.g. fw_setenv), running A. */
	factory_device(f);
	env_set(f, "B", 0, 0, 3, 0);
	start(f);
	reset_calls();
	assert_int_equal(do_install(f), -EBUSY);
	assert_msg_has(f->e.msg, "B is set to boot next");
	assert_string_equal(F.calls, "target");
}

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
	F.bootlimit = 0;
	activated(f);
	boot(f); /* falls back at once */
	assert_string_equal(F.booted, "A");
	expect_rollback_refused(f, "bad");
	assert_state(f, ST_ROLLED_BACK);
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
	install_ok(f);
	assert_state(f, ST_ACTIVATED);
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
	assert_int_equal(do_check(f, &rel), 1);
	assert_int_equal(f->e.exit, UPD_EXIT_UPTODATE);
	assert_string_equal(f->e.msg, "up to date: " URL " offers 2.0, newest here is 2.0 (pending "
				      "reboot)");
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
	assert_int_equal(f->e.exit, UPD_EXIT_USAGE);
	assert_msg_has(f->e.msg, "backend 'nope': not known (compiled in: ");
	assert_msg_has(f->e.msg, "dualbank");
	engine_close(g);

	activated(f);
	stop(f);
	g = NULL;
	err_clear(&f->e);
	assert_int_equal(engine_open(&g, &f->cfg, "dualbank", ENGINE_NEED_LOCK, &o, &f->e), -EINVAL);
	assert_int_equal(f->e.exit, UPD_EXIT_USAGE);
	assert_msg_has(f->e.msg, "belongs to backend 'fake'");
	engine_close(g);
}

/* A second updater: refused with NEED_LOCK; with TRY_LOCK it only looks. */
static void test_lock(void **state)
{
	struct fx *f = *state;
	struct engine_opts o = { .verify_readback = true };
	struct engine *g = NULL;
	struct engine_status st;

	F.bootlimit = 0;
	activated(f);
	uboot(f); /* a fallback waits to be reconciled */
	start(f);
	err_clear(&f->e);
	assert_int_equal(engine_open(&g, &f->cfg, "fake", ENGINE_NEED_LOCK, &o, &f->e), -EBUSY);
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
	F.bootlimit = 5;
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
	assert_int_equal(engine_init(&f->cfg, "fake", false, &f->e), -EEXIST);
	assert_int_equal(f->e.exit, UPD_EXIT_USAGE);
	assert_msg_has(f->e.msg, "already initialised");
}

/* ---- known bugs --------------------------------------------------------- */

/* Regression (fixed): an error message with a newline makes the state file unreadable.
 * state_save() writes last_error as it is (core/state.c only folds newlines
 * when loading). A source path with a newline is enough: dual-bank's fetch
 * reports "fetch <source>: open <source>: ...", the engine stores that as
 * last_error, and from then on every command (boot, status, install) fails in
 * engine_open with "state file <dir>/state:N: not understood", until someone
 * deletes the file by hand. */
static void test_bug_newline_in_error_bricks_state(void **state)
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
static void test_bug_cut_in_post_install_leaves_target_bootable(void **state)
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
static void test_bug_reconcile_unverified_trial_not_idempotent(void **state)
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
static void test_bug_cut_rollback_during_trial_commits(void **state)
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
	assert_msg_has(f->e.msg, f->state_dir);
	assert_msg_has(f->e.msg, "owned by uid 65534");
	assert_int_equal(chown(f->state_dir, 0, 0), 0);
	assert_int_equal(open_as_status(f), 0);
}

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
	mark_good_ok(f);
	assert_state(f, ST_COMMITTED);
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
	assert_int_equal(do_install(f), -EPERM);
	assert_int_equal(f->e.exit, exit_code);
	if (strcmp(f->e.msg, msg) != 0)
		fail_msg("message \"%s\", expected \"%s\"", f->e.msg, msg);
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
	assert_int_equal(do_rollback(f), -EPERM);
	assert_int_equal(f->e.exit, UPD_EXIT_BUSY);
	if (strcmp(f->e.msg, msg) != 0)
		fail_msg("message \"%s\", expected \"%s\"", f->e.msg, msg);
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
	install_ok(f);
	assert_state(f, ST_ACTIVATED);
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
	F.bootlimit = 1;
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
	assert_int_equal(do_check(f, &rel), 1);
	assert_int_equal(f->e.exit, UPD_EXIT_UPTODATE);
	assert_string_equal(f->e.msg, "up to date: " URL " offers 2.0, newest here is 3.0 "
				      "(confirmed on this device)");
	/* newer than all: offered and installed */
	snprintf(F.rel.version, sizeof(F.rel.version), "3.1");
	assert_int_equal(do_check(f, &rel), 0);
	/* --allow-downgrade does install 2.0 */
	snprintf(F.rel.version, sizeof(F.rel.version), "2.0");
	start_opts(f, true);
	install_ok(f);
	assert_state(f, ST_ACTIVATED);
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

	F.bootlimit = 0;
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
	F.bootlimit = 3;
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
	F.bootlimit = 0;
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

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_install_happy_path),
		T(test_state_dir_missing),
		T(test_state_dir_writable),
		T(test_state_dir_foreign_owner),
		T(test_install_default_source),
		T(test_install_fails_at_fetch),
		T(test_install_fails_at_download),
		T(test_install_fails_at_verify),
		T(test_install_fails_at_install),
		T(test_install_fails_at_activate),
		T(test_install_hooks_see_persisted_state),
		T(test_install_post_install_hook_fails),
		T(test_install_names_target),
		T(test_policy_compatible),
		T(test_policy_versions),
		T(test_policy_unknown_booted_version),
		T(test_policy_booted_version_sources),
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
		T(test_reconcile_env_names_unverified_target),
		T(test_reconcile_interrupted_install_ends_its_trial),
		T(test_reconcile_settles_committed),
		T(test_reconcile_settles_rolled_back),
		T(test_install_refused_on_trial),
		T(test_install_refused_when_target_boots_next),
		T(test_mark_good_on_trial),
		T(test_mark_good_not_on_trial),
		T(test_rollback_refused),
		T(test_rollback_to_good),
		T(test_rollback_during_trial),
		T(test_rollback_cancels_pending),
		T(test_check_newer),
		T(test_check_up_to_date),
		T(test_check_pending_counts),
		T(test_open_errors),
		T(test_lock),
		T(test_init),
		T(test_floor_refuses_install),
		T(test_floor_rollback_and_fallback),
		T(test_floor_raised_when_mark_good_was_cut),
		T(test_downgrade_vs_highest_confirmed),
		T(test_downgrade_old_state_file),
		T(test_failed_release_after_fallback),
		T(test_failed_release_trial_rollback),
		T(test_failed_release_list_bounded),
		T(test_rollback_after_cancel),
		T(test_bug_newline_in_error_bricks_state),
		T(test_bug_cut_in_post_install_leaves_target_bootable),
		T(test_bug_reconcile_unverified_trial_not_idempotent),
		T(test_bug_cut_rollback_during_trial_commits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

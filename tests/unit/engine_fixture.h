/* The fixture shared by the engine's unit tests (test_engine_*.c): a fake
 * backend (fake_backend.c) and a temporary device (engine_fixture.c).
 *
 * The fake is swapped in by linking with -Wl,--wrap=backend_find (Makefile:
 * ENGINE_TEST_LDFLAGS); -Wl,--wrap=state_save lets the test see every
 * state the engine persists and simulate a power cut (saves stop reaching the
 * storage). Everything else is real: the config struct, the state store in a
 * temporary state_dir, and a file-backed U-Boot environment with two copies
 * through libubootenv. The fake's activate/finish_fallback/rollback write that
 * environment with bootctl_set_next() like the backends, and its
 * next_boot() reads boot_slot from it; uboot() plays U-Boot's part of
 * docs/boot-contract.md on the same file. */
#pragma once
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <sys/stat.h>

#include "../../bootctl/bootctl.h"
#include "../../core/engine.h"
#include "../../lib/log.h"

#define ENV_SIZE 0x4000
#define BOARD "test-board"
#define URL "http://updates.example/fw-2.0.upd"
#define DEFAULT_URL "http://server.example/latest.upd"
#define DIGEST "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

struct fake {
	/* script */
	char booted[32];          /* the running slot ("updater.slot=" on the cmdline) */
	char booted_version[64];  /* what booted() reports; "" like dual-bank */
	struct release rel;       /* what fetch() offers */
	bool fail_fetch, fail_download, fail_verify, fail_install, fail_activate, fail_finish,
		fail_rollback;
	char rename_to[32];       /* install() names the target (an ostree deployment) */
	char fetch_error[256];    /* message of a failing fetch; "" for the default */
	bool cut_in_install;      /* power cut while the slot is written */
	int cut_after;            /* power cut once this many saves (in total) reached storage */
	bool cut;                 /* the power is off: saves fail and reach nothing */
	/* stage/apply-staged: the backend's writes stop at a cut too (activate,
	 * unstage); a cut right after activate's environment write, or in
	 * unstage; load_staged finds the kept release changed; no stage op. */
	bool cut_stops_backend, cut_after_activate, cut_in_unstage, fail_load_staged, no_stage;
	bool staged_held;         /* what stage keeps, until unstage */
	bool previous_recovery;   /* previous() names a recovery system (single-copy's) */
	bool one_system;          /* target() is the booted system itself (single-copy's root) */
	int n_activate, n_stage, n_unstage, n_load_staged;
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

struct fx {
	char *dir;
	char state_dir[PATH_MAX], state_file[PATH_MAX], envfile[PATH_MAX], fwcfg[PATH_MAX];
	char osrel[PATH_MAX], hooks[PATH_MAX], cfgpath[PATH_MAX], compatible[32];
	struct config cfg;
	struct engine *g;
	struct error e;
};

/* Captures what the engine logs at warning level and above. */
struct capture {
	int saved;
	char path[PATH_MAX];
};

/* The fake's script and record: reset before each test by setup(). */
extern struct fake F;

/* ---- fake_backend.c ---- */
const char *other(const char *slot);


/* ---- engine_fixture.c: fixture, engine, state and boot environment helpers ---- */
int setup(void **state);
int teardown(void **state);
void factory_device(struct fx *f);
void mkdir_state(struct fx *f);
void stop(struct fx *f);
void start_full(struct fx *f, bool allow_downgrade, bool force);
void start_opts(struct fx *f, bool allow_downgrade);
void start(struct fx *f);
void reset_calls(void);
int do_install(struct fx *f);
void install_ok(struct fx *f);
int do_reconcile(struct fx *f);
void reconcile_ok(struct fx *f);
void mark_good_ok(struct fx *f);
int do_rollback(struct fx *f);
int do_check(struct fx *f, struct release *rel);
/* `check` finds nothing to install: do_check returns 1, exit class
 * UPD_EXIT_UPTODATE, the message MSG. */
void assert_up_to_date(struct fx *f, const char *msg);
void assert_msg_has(const char *msg, const char *needle);
/* A step returned rc: it must be want (a negative errno), with f->e of exit
 * class exit_class and a message holding needle. */
void assert_fails_with(struct fx *f, int rc, int want, int exit_class, const char *needle);
void load(struct fx *f, struct update_state *s);
const struct target_record *rec(struct update_state *s, const char *id);
void assert_state(struct fx *f, enum upd_state want);
/* install_ok, and the state is activated (the target boots next). */
void install_activates(struct fx *f);
/* mark_good_ok, and the state is committed. */
void mark_good_commits(struct fx *f);
void assert_record(struct update_state *s, const char *id, enum target_status want);
void assert_kv(const char *text, const char *key, const char *want);
char *state_text_no_time(struct fx *f);
void env_set(struct fx *f, const char *slot, int ua, int bc, int bl, int rb);
void assert_env(struct fx *f, const char *slot, int ua, int bc, int bl, int rb);
/* The boot state's apply_staged. */
int env_apply_staged(struct fx *f);
char *env_bytes(struct fx *f);
void assert_env_bytes(struct fx *f, const char *before);
void uboot(struct fx *f);
void boot(struct fx *f);
void activated(struct fx *f);
void on_trial(struct fx *f);
void assert_reconcile_idempotent(struct fx *f);
void capture_begin(struct fx *f, struct capture *c);
char *capture_end(struct capture *c);

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

/* Unit tests of the update state machine (core/engine.c) with the fake backend
 * of engine_fixture.h: install: the happy path, each failing step, hooks, the release policy, and installs refused while a trial or update is pending. */
#include "engine_fixture.h"

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
	TU_ASSERT_OP(s, "fake", "2.0", "B", "A", "");
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
	assert_fails_with(f, do_rollback(f), -EPERM, UPD_EXIT_BUSY, "(bad)");
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
	install_activates(f);
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
	install_activates(f);
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
	assert_fails_with(f, do_install(f), -EPERM, UPD_EXIT_VERIFY, "version_file");

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_install_happy_path),
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
		T(test_install_refused_on_trial),
		T(test_install_refused_when_target_boots_next),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

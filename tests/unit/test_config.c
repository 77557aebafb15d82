/* Unit tests for config/config.c: values, defaults, path resolution and that
 * every rejection names file:line and the key. */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../backends/dualbank/config_keys.h"
#include "../../backends/ostree/config_keys.h"
#include "../../config/config.h"

/* The backends' sections of a loaded config (NULL-checked: a test reading one
 * fails, not crashes, when the loader did not make it). */
static const struct dualbank_config *db_of(const struct config *c)
{
	const struct dualbank_config *d = config_section_data(c, &dualbank_section);
	assert_non_null(d);
	return d;
}

static const struct ostree_config *os_of(const struct config *c)
{
	const struct ostree_config *o = config_section_data(c, &ostree_section);
	assert_non_null(o);
	return o;
}

struct fx {
	char *dir;  /* temporary directory, removed in teardown */
	char *path; /* the config file written by write_conf() */
	struct config c;
	struct error e;
};

static int setup(void **state)
{
	struct fx *f = tu_fixture_new(sizeof(struct fx));
	if (!f)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	config_free(&f->c);
	free(f->path);
	tu_fixture_free(f);
	return 0;
}

static char *join(const char *a, const char *b)
{
	char *p = NULL;
	assert_true(asprintf(&p, "%s/%s", a, b) >= 0);
	return p;
}

/* Writes text as <dir>/<name> and remembers it as the file to load. */
static void write_conf(struct fx *f, const char *name, const char *text)
{
	free(f->path);
	f->path = join(f->dir, name);
	tu_write_text(f->path, text);
}

static int load(struct fx *f)
{
	err_clear(&f->e);
	return config_load(&f->c, f->path, &f->e);
}

/* A loaded path must equal <dir>/<rel>. */
static void assert_in_dir(const char *dir, const char *rel, const char *got)
{
	char *want = join(dir, rel);
	assert_non_null(got);
	assert_string_equal(got, want);
	free(want);
}

#define assert_contains(hay, needle)                                                    \
	do {                                                                            \
		if (!strstr((hay), (needle)))                                           \
			fail_msg("\"%s\" does not contain \"%s\"", (hay), (needle));    \
	} while (0)

/* Loading must fail with exit class USAGE, a message containing
 * "<file>:<line>: " followed by want, and leave the struct empty. */
static void expect_error_at(struct fx *f, int line, const char *want)
{
	struct config zero;
	char *prefix = NULL;

	memset(&zero, 0, sizeof(zero));
	assert_true(load(f) < 0);
	assert_int_equal(f->e.exit, UPD_EXIT_USAGE);
	assert_true(asprintf(&prefix, "%s:%d: ", f->path, line) >= 0);
	assert_contains(f->e.msg, prefix);
	assert_contains(f->e.msg, want);
	assert_memory_equal(&f->c, &zero, sizeof(zero));
	free(prefix);
}

static const char *const full_conf =
	"backend = \"dualbank\";\n"
	"compatible = \"acme-board-v2\";\n"
	"state_dir = \"/data/updater\";\n"
	"cmdline = \"/run/cmdline\";\n"
	"version_file = \"/usr/lib/os-release\";\n"
	"server = {\n"
	"  url = \"https://updates.example.com/acme\";\n"
	"  timeout = 45;\n"
	"  retries = 0;\n"
	"  ca = \"/etc/ssl/ca.pem\";\n"
	"  cert = \"/etc/ssl/dev.pem\";\n"
	"  key = \"/etc/ssl/dev.key\";\n"
	"};\n"
	"bootenv = { fw_env_config = \"/etc/fw_env2.config\"; bootlimit = 5; };\n"
	"dualbank = {\n"
	"  slots = { A = \"/dev/mmcblk0p2\"; B = \"/dev/mmcblk0p3\"; };\n"
	"  public_key = [ \"/etc/keys/old.pem\", \"/etc/keys/new.pem\" ];\n"
	"};\n"
	"ostree = {\n"
	"  sysroot = \"/sysroot\";\n"
	"  osname = \"acme\";\n"
	"  remote = \"origin\";\n"
	"  url = \"https://ostree.example.com/repo\";\n"
	"  ref = \"acme/stable/x86_64\";\n"
	"  gpg_verify = false;\n"
	"  gpg_keyring = \"/etc/keys/ostree.gpg\";\n"
	"  keep = 4;\n"
	"};\n"
	"hooks = { dir = \"/etc/updater/hooks\"; timeout = 60; };\n";

static void test_full(void **state)
{
	struct fx *f = *state;
	struct config *c = &f->c;

	write_conf(f, "updater.conf", full_conf);
	assert_int_equal(load(f), 0);
	assert_false(err_isset(&f->e));
	assert_string_equal(c->path, f->path);
	assert_string_equal(c->backend, "dualbank");
	assert_string_equal(c->compatible, "acme-board-v2");
	assert_string_equal(c->state_dir, "/data/updater");
	assert_string_equal(c->cmdline, "/run/cmdline");
	assert_string_equal(c->version_file, "/usr/lib/os-release");
	assert_string_equal(c->server.url, "https://updates.example.com/acme");
	assert_int_equal(c->server.timeout, 45);
	assert_int_equal(c->server.retries, 0);
	assert_string_equal(c->server.ca, "/etc/ssl/ca.pem");
	assert_string_equal(c->server.cert, "/etc/ssl/dev.pem");
	assert_string_equal(c->server.key, "/etc/ssl/dev.key");
	assert_string_equal(c->bootenv.fw_env_config, "/etc/fw_env2.config");
	assert_int_equal(c->bootenv.bootlimit, 5);
	assert_string_equal(db_of(c)->slot_a, "/dev/mmcblk0p2");
	assert_string_equal(db_of(c)->slot_b, "/dev/mmcblk0p3");
	assert_int_equal(db_of(c)->n_public_keys, 2);
	assert_string_equal(db_of(c)->public_keys[0], "/etc/keys/old.pem");
	assert_string_equal(db_of(c)->public_keys[1], "/etc/keys/new.pem");
	assert_string_equal(os_of(c)->sysroot, "/sysroot");
	assert_string_equal(os_of(c)->osname, "acme");
	assert_string_equal(os_of(c)->remote, "origin");
	assert_string_equal(os_of(c)->url, "https://ostree.example.com/repo");
	assert_string_equal(os_of(c)->ref, "acme/stable/x86_64");
	assert_false(os_of(c)->gpg_verify);
	assert_string_equal(os_of(c)->gpg_keyring, "/etc/keys/ostree.gpg");
	assert_int_equal(os_of(c)->keep, 4);
	assert_string_equal(c->hooks.dir, "/etc/updater/hooks");
	assert_int_equal(c->hooks.timeout, 60);
}

static void test_defaults(void **state)
{
	struct fx *f = *state;
	struct config *c = &f->c;

	write_conf(f, "updater.conf", "compatible = \"x\";\nstate_dir = \"/data/u\";\n");
	assert_int_equal(load(f), 0);
	assert_null(c->backend);
	assert_string_equal(c->cmdline, "/proc/cmdline");
	assert_string_equal(c->version_file, "/etc/os-release");
	assert_null(c->server.url);
	assert_int_equal(c->server.timeout, 30);
	assert_int_equal(c->server.retries, 3);
	assert_null(c->server.ca);
	assert_null(c->server.cert);
	assert_null(c->server.key);
	assert_string_equal(c->bootenv.fw_env_config, "/etc/fw_env.config");
	assert_int_equal(c->bootenv.bootlimit, 3);
	assert_null(db_of(c)->slot_a);
	assert_null(db_of(c)->slot_b);
	assert_null(db_of(c)->public_keys);
	assert_int_equal(db_of(c)->n_public_keys, 0);
	assert_null(os_of(c)->sysroot);
	assert_null(os_of(c)->ref);
	assert_true(os_of(c)->gpg_verify);
	assert_true(os_of(c)->require_compatible);
	assert_int_equal(os_of(c)->keep, 2);
	assert_null(c->hooks.dir);
	assert_int_equal(c->hooks.timeout, 300);
}

/* Core keys only: each compiled-in backend's section is made all the same,
 * zeroed but for its keys' defaults, and is the backend's alone. */
static void test_sections_core_only(void **state)
{
	struct fx *f = *state;
	struct dualbank_config dzero;
	struct ostree_config owant, ogot;
	const struct config_section other = { .name = "other" };

	memset(&dzero, 0, sizeof(dzero));
	memset(&owant, 0, sizeof(owant));
	owant.gpg_verify = owant.require_compatible = true;
	owant.keep = 2;
	write_conf(f, "u.conf", "compatible = \"x\";\nstate_dir = \"/s\";\n");
	assert_int_equal(load(f), 0);
	assert_memory_equal(db_of(&f->c), &dzero, sizeof(dzero));
	memcpy(&ogot, os_of(&f->c), sizeof(ogot)); /* padding too: calloc'd */
	assert_string_equal(ogot.root, "/");
	ogot.root = NULL;
	assert_memory_equal(&ogot, &owant, sizeof(owant));
	assert_ptr_not_equal(db_of(&f->c), (const void *)os_of(&f->c));
	assert_null(config_section_data(&f->c, &other)); /* no section of this build */
	config_free(&f->c);
	assert_null(config_section_data(&f->c, &dualbank_section));
}

/* config_get_paths(): a list key by its name, for code that may not name the
 * backend's struct (bundle/); nothing for any other name or kind. */
static void test_get_paths(void **state)
{
	static const char *const none[] = { "ostree.sysroot", "server.ca", "dualbank.public_keys",
					     "dualbank", "dualbank.slots", "" };
	struct fx *f = *state;
	char *const *v;
	size_t n = 99;

	write_conf(f, "u.conf", "compatible = \"x\"; state_dir = \"/s\";\n"
		   "dualbank = { public_key = ( \"/k/old.pem\", \"new.pem\" ); };\n"
		   "ostree = { sysroot = \"/sysroot\"; };\n");
	assert_int_equal(load(f), 0);
	v = config_get_paths(&f->c, "dualbank.public_key", &n);
	assert_int_equal(n, 2);
	assert_ptr_equal(v, db_of(&f->c)->public_keys);
	assert_string_equal(v[0], "/k/old.pem");
	assert_in_dir(f->dir, "new.pem", v[1]);
	for (size_t i = 0; i < sizeof(none) / sizeof(none[0]); i++) {
		n = 99;
		assert_null(config_get_paths(&f->c, none[i], &n));
		assert_int_equal(n, 0);
	}
	config_free(&f->c);
	n = 99;
	assert_null(config_get_paths(&f->c, "dualbank.public_key", &n)); /* freed */
	assert_int_equal(n, 0);
	write_conf(f, "u.conf", "compatible = \"x\"; state_dir = \"/s\";\n");
	assert_int_equal(load(f), 0);
	n = 99;
	assert_null(config_get_paths(&f->c, "dualbank.public_key", &n)); /* unset */
	assert_int_equal(n, 0);
}

static void test_public_key_string(void **state)
{
	struct fx *f = *state;

	write_conf(f, "u.conf",
		   "compatible = \"x\"; state_dir = \"/s\";\n"
		   "dualbank = { public_key = \"/etc/k.pem\"; };\n");
	assert_int_equal(load(f), 0);
	assert_int_equal(db_of(&f->c)->n_public_keys, 1);
	assert_string_equal(db_of(&f->c)->public_keys[0], "/etc/k.pem");
}

static void test_public_key_list(void **state)
{
	struct fx *f = *state;

	/* ( ) is a libconfig list, [ ] an array: both are accepted. */
	write_conf(f, "u.conf",
		   "compatible = \"x\"; state_dir = \"/s\";\n"
		   "dualbank = { public_key = ( \"/k/old.pem\", \"new.pem\", \"/k/third.pem\" ); };\n");
	assert_int_equal(load(f), 0);
	assert_int_equal(db_of(&f->c)->n_public_keys, 3);
	assert_string_equal(db_of(&f->c)->public_keys[0], "/k/old.pem");
	assert_in_dir(f->dir, "new.pem", db_of(&f->c)->public_keys[1]);
	assert_string_equal(db_of(&f->c)->public_keys[2], "/k/third.pem");
}

static void test_relative_paths(void **state)
{
	struct fx *f = *state;
	struct config *c = &f->c;
	char *sub = join(f->dir, "etc");

	assert_int_equal(mkdir(sub, 0755), 0);
	write_conf(f, "etc/updater.conf",
		   "compatible = \"x\";\n"
		   "state_dir = \"state\";\n"
		   "cmdline = \"cmdline\";\n"
		   "version_file = \"../os-release\";\n"
		   "server = { url = \"http://srv/x\"; ca = \"tls/ca.pem\"; cert = \"tls/c.pem\";"
		   " key = \"tls/c.key\"; };\n"
		   "bootenv = { fw_env_config = \"fw_env.config\"; };\n"
		   "dualbank = { slots = { A = \"a.img\"; B = \"/dev/b\"; }; public_key = \"k.pem\"; };\n"
		   "ostree = { sysroot = \"root\"; gpg_keyring = \"ring.gpg\"; url = \"file:repo\";"
		   " ref = \"a/b\"; };\n"
		   "hooks = { dir = \"hooks\"; };\n");
	assert_int_equal(load(f), 0);
	assert_in_dir(sub, "state", c->state_dir);
	assert_in_dir(sub, "cmdline", c->cmdline);
	/* Messages name the file, not a detour: the existing directory is resolved. */
	assert_in_dir(f->dir, "os-release", c->version_file);
	assert_in_dir(sub, "tls/ca.pem", c->server.ca);
	assert_in_dir(sub, "tls/c.pem", c->server.cert);
	assert_in_dir(sub, "tls/c.key", c->server.key);
	assert_in_dir(sub, "fw_env.config", c->bootenv.fw_env_config);
	assert_in_dir(sub, "a.img", db_of(c)->slot_a);
	assert_string_equal(db_of(c)->slot_b, "/dev/b");
	assert_in_dir(sub, "k.pem", db_of(c)->public_keys[0]);
	assert_in_dir(sub, "root", os_of(c)->sysroot);
	assert_in_dir(sub, "ring.gpg", os_of(c)->gpg_keyring);
	assert_in_dir(sub, "hooks", c->hooks.dir);
	/* URLs and names are not paths. */
	assert_string_equal(c->server.url, "http://srv/x");
	assert_string_equal(os_of(c)->url, "file:repo");
	assert_string_equal(os_of(c)->ref, "a/b");
	free(sub);
}

/* A config given by a relative path still yields absolute paths. */
static void test_relative_config_path(void **state)
{
	struct fx *f = *state;
	char old[PATH_MAX], cwd[PATH_MAX];

	write_conf(f, "u.conf", "compatible = \"x\"; state_dir = \"st\";\n");
	assert_non_null(getcwd(old, sizeof(old)));
	assert_int_equal(chdir(f->dir), 0);
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	err_clear(&f->e);
	assert_int_equal(config_load(&f->c, "u.conf", &f->e), 0);
	assert_int_equal(chdir(old), 0);
	assert_string_equal(f->c.path, "u.conf");
	assert_in_dir(cwd, "st", f->c.state_dir);
}

/* @include is relative to the config's directory; errors name the included file. */
static void test_include(void **state)
{
	struct fx *f = *state;
	char *inc = join(f->dir, "server.inc");

	tu_write_text(inc, "server = {\n timeout = 7;\n};\n");
	write_conf(f, "u.conf", "compatible = \"x\"; state_dir = \"/s\";\n@include \"server.inc\"\n");
	assert_int_equal(load(f), 0);
	assert_int_equal(f->c.server.timeout, 7);
	config_free(&f->c);

	tu_write_text(inc, "server = {\n timeout = -7;\n};\n");
	assert_true(load(f) < 0);
	assert_contains(f->e.msg, "server.inc:2: server.timeout: must be a positive integer");
	free(inc);
}

static void test_unknown_key(void **state)
{
	struct fx *f = *state;

	write_conf(f, "u.conf", "compatible = \"x\";\nstate_dir = \"/s\";\nsever = { url = \"x\"; };\n");
	expect_error_at(f, 3, "unknown key 'sever'");
}

static void test_unknown_nested_key(void **state)
{
	struct fx *f = *state;

	write_conf(f, "u.conf",
		   "compatible = \"x\";\nstate_dir = \"/s\";\nserver = {\n  url = \"http://a\";\n"
		   "  timout = 5;\n};\n");
	expect_error_at(f, 5, "unknown key 'server.timout'");
}

static void test_unknown_key_in_subgroup(void **state)
{
	struct fx *f = *state;

	write_conf(f, "u.conf",
		   "compatible = \"x\";\nstate_dir = \"/s\";\n"
		   "dualbank = {\n  slots = {\n    A = \"/a\";\n    C = \"/c\";\n  };\n};\n");
	expect_error_at(f, 6, "unknown key 'dualbank.slots.C'");
}

static void test_wrong_type_int(void **state)
{
	struct fx *f = *state;

	write_conf(f, "u.conf",
		   "compatible = \"x\";\nstate_dir = \"/s\";\nserver = {\n  timeout = \"30\";\n};\n");
	expect_error_at(f, 4, "server.timeout: must be a positive integer, not a string");
}

static void test_wrong_type_float(void **state)
{
	struct fx *f = *state;

	write_conf(f, "u.conf", "compatible = \"x\";\nstate_dir = \"/s\";\nhooks = { timeout = 2.5; };\n");
	expect_error_at(f, 3, "hooks.timeout: must be a positive integer, not a float");
}

static void test_wrong_type_string(void **state)
{
	struct fx *f = *state;

	write_conf(f, "u.conf", "compatible = 42;\nstate_dir = \"/s\";\n");
	expect_error_at(f, 1, "compatible: must be a string, not an integer");
}

static void test_wrong_type_bool(void **state)
{
	struct fx *f = *state;

	write_conf(f, "u.conf",
		   "compatible = \"x\";\nstate_dir = \"/s\";\nostree = {\n gpg_verify = \"no\";\n};\n");
	expect_error_at(f, 4, "ostree.gpg_verify: must be true or false, not a string");
}

static void test_wrong_type_group(void **state)
{
	struct fx *f = *state;

	write_conf(f, "u.conf", "compatible = \"x\";\nstate_dir = \"/s\";\nserver = \"http://a\";\n");
	expect_error_at(f, 3, "server: must be a group, not a string");
}

static void test_public_key_bad_element(void **state)
{
	struct fx *f = *state;

	write_conf(f, "u.conf",
		   "compatible = \"x\";\nstate_dir = \"/s\";\n"
		   "dualbank = { public_key = ( \"/a.pem\",\n 3 ); };\n");
	expect_error_at(f, 4, "dualbank.public_key[1]: must be a string, not an integer");
}

static void test_public_key_empty_list(void **state)
{
	struct fx *f = *state;

	write_conf(f, "u.conf", "compatible = \"x\";\nstate_dir = \"/s\";\ndualbank = { public_key = ( ); };\n");
	expect_error_at(f, 3, "dualbank.public_key: must not be an empty list");
}

/* The exact message format promised to users. */
static void test_bad_value_timeout(void **state)
{
	struct fx *f = *state;
	char *want = NULL;

	write_conf(f, "u.conf",
		   "compatible = \"x\";\nstate_dir = \"/s\";\n\nserver = {\n  url = \"http://a\";\n"
		   "  retries = 2;\n  timeout = 0;\n};\n");
	assert_true(load(f) < 0);
	assert_true(asprintf(&want, "%s:7: server.timeout: must be a positive integer", f->path) >= 0);
	assert_string_equal(f->e.msg, want);
	assert_int_equal(f->e.exit, UPD_EXIT_USAGE);
	free(want);
}

/* bootenv.bootlimit and its deprecated names share one range, 1..99. */
static void test_bad_value_bootlimit(void **state)
{
	static const char *const cases[][2] = {
		{"dualbank = { bootlimit = 100; };", "dualbank.bootlimit: must be an integer from 1 to 99"},
		{"ostree = { bootlimit = 0; };", "ostree.bootlimit: must be an integer from 1 to 99"},
		{"bootenv = { bootlimit = 0; };", "bootenv.bootlimit: must be an integer from 1 to 99"},
		{"bootenv = { bootlimit = 100; };", "bootenv.bootlimit: must be an integer from 1 to 99"},
		{"bootenv = { bootlimit = \"3\"; };",
		 "bootenv.bootlimit: must be an integer from 1 to 99, not a string"},
	};
	struct fx *f = *state;
	char text[128];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(text, sizeof(text), "compatible = \"x\";\nstate_dir = \"/s\";\n%s\n", cases[i][0]);
		write_conf(f, "u.conf", text);
		expect_error_at(f, 3, cases[i][1]);
	}
}

/* Loads f's config with stderr (the log) going to a file; returns what was logged. */
static char *load_logged(struct fx *f, int *rc)
{
	struct tu_stderr c;

	tu_stderr_begin(&c, f->dir);
	*rc = load(f);
	return tu_stderr_end(&c);
}

static void test_bootlimit_new_key(void **state)
{
	struct fx *f = *state;
	int rc;

	write_conf(f, "u.conf",
		   "compatible = \"x\";\nstate_dir = \"/s\";\nbootenv = { bootlimit = 7; };\n");
	char *log = load_logged(f, &rc);
	assert_int_equal(rc, 0);
	assert_int_equal(f->c.bootenv.bootlimit, 7);
	assert_string_equal(log, "");
	free(log);
}

/* The old per-backend keys still set it, with one warning per load naming
 * the new key; two old ones that agree are one setting. */
static void test_bootlimit_old_keys(void **state)
{
	static const char *const confs[] = {
		"dualbank = { bootlimit = 5; };\n",
		"ostree = { bootlimit = 5; };\n",
		"dualbank = { bootlimit = 5; };\nostree = { bootlimit = 5; };\n",
	};
	struct fx *f = *state;
	char text[256], *want = NULL;
	int rc;

	for (size_t i = 0; i < sizeof(confs) / sizeof(confs[0]); i++) {
		snprintf(text, sizeof(text), "compatible = \"x\";\nstate_dir = \"/s\";\n%s", confs[i]);
		write_conf(f, "u.conf", text);
		char *log = load_logged(f, &rc);
		assert_int_equal(rc, 0);
		assert_int_equal(f->c.bootenv.bootlimit, 5);
		assert_true(asprintf(&want, "updater: warning: %s:3: %s.bootlimit is deprecated: use "
				     "bootenv.bootlimit\n", f->path, i == 1 ? "ostree" : "dualbank") >= 0);
		assert_string_equal(log, want); /* one line, once */
		free(want);
		free(log);
		config_free(&f->c);
	}
}

/* The new key and an old one, or two old ones that differ: which one is
 * meant cannot be told, so the config is refused where the second one is. */
static void test_bootlimit_both_set(void **state)
{
	struct fx *f = *state;
	int rc;

	write_conf(f, "u.conf", "compatible = \"x\";\nstate_dir = \"/s\";\nbootenv = { bootlimit = 4; };\n"
				"dualbank = {\n  bootlimit = 4;\n};\n");
	expect_error_at(f, 5, "dualbank.bootlimit: bootenv.bootlimit is set too (");
	assert_contains(f->e.msg, "u.conf:3): set only bootenv.bootlimit (dualbank.bootlimit is deprecated)");
	write_conf(f, "u.conf", "compatible = \"x\";\nstate_dir = \"/s\";\nostree = { bootlimit = 4; };\n"
				"bootenv = { bootlimit = 4; };\n");
	expect_error_at(f, 4, "bootenv.bootlimit: ostree.bootlimit is set too (");
	write_conf(f, "u.conf", "compatible = \"x\";\nstate_dir = \"/s\";\ndualbank = { bootlimit = 4; };\n"
				"ostree = { bootlimit = 5; };\n");
	expect_error_at(f, 4, "ostree.bootlimit: dualbank.bootlimit is set too (");
	/* Refused, the config warns about nothing. */
	char *log = load_logged(f, &rc);
	assert_true(rc < 0);
	assert_string_equal(log, "");
	free(log);
}

static void test_bad_value_retries_keep(void **state)
{
	struct fx *f = *state;

	write_conf(f, "u.conf", "compatible = \"x\";\nstate_dir = \"/s\";\nserver = { retries = -1; };\n");
	expect_error_at(f, 3, "server.retries: must be a non-negative integer");
	write_conf(f, "u.conf", "compatible = \"x\";\nstate_dir = \"/s\";\nostree = { keep = 0; };\n");
	expect_error_at(f, 3, "ostree.keep: must be a positive integer");
	/* An int64 literal is range-checked, not truncated. */
	write_conf(f, "u.conf", "compatible = \"x\";\nstate_dir = \"/s\";\nhooks = { timeout = 4294967297L; };\n");
	expect_error_at(f, 3, "hooks.timeout: must be a positive integer");
}

static void test_bad_value_backend(void **state)
{
	struct fx *f = *state;

	write_conf(f, "u.conf", "compatible = \"x\";\nbackend = \"raid\";\nstate_dir = \"/s\";\n");
	expect_error_at(f, 2, "backend: must be \"dualbank\", \"ostree\" or \"singlecopy\"");
}

static void test_empty_string(void **state)
{
	struct fx *f = *state;

	write_conf(f, "u.conf", "compatible = \"x\";\nstate_dir = \"\";\n");
	expect_error_at(f, 2, "state_dir: must not be empty");
}

static void expect_missing(struct fx *f, const char *key)
{
	char *want = NULL;

	assert_true(load(f) < 0);
	assert_int_equal(f->e.exit, UPD_EXIT_USAGE);
	assert_true(asprintf(&want, "%s: %s: missing required key", f->path, key) >= 0);
	assert_string_equal(f->e.msg, want);
	assert_null(f->c.path);
	free(want);
}

static void test_missing_required(void **state)
{
	struct fx *f = *state;

	write_conf(f, "u.conf", "state_dir = \"/s\";\n");
	expect_missing(f, "compatible");
	write_conf(f, "u.conf", "compatible = \"x\";\n");
	expect_missing(f, "state_dir");
	write_conf(f, "u.conf", "");
	expect_missing(f, "compatible");
}

static void test_syntax_error(void **state)
{
	struct fx *f = *state;

	write_conf(f, "u.conf", "compatible = \"x\";\nstate_dir = \"/s\";\nserver = {\n  timeout = ;\n};\n");
	expect_error_at(f, 4, "syntax error");
}

static void test_duplicate_key(void **state)
{
	struct fx *f = *state;

	write_conf(f, "u.conf", "compatible = \"x\";\nstate_dir = \"/s\";\ncompatible = \"y\";\n");
	expect_error_at(f, 3, "compatible: set twice (first on line 1)");
}

/* Hostile or broken values, each refused with file:line and the key. */
struct bad_conf {
	const char *text; /* after "compatible = \"x\";\nstate_dir = \"/s\";\n" (lines 1-2) */
	size_t len;       /* 0: strlen(text); else the text holds NUL bytes */
	int line;
	const char *want;
};

#define HEAD "compatible = \"x\";\nstate_dir = \"/s\";\n"

static const struct bad_conf bad_confs[] = {
	/* numbers libconfig 1.5 would silently cut to 32 bits */
	{"server = {\n  retries = 4294967296;\n};\n", 0, 4,
	 "server.retries: 4294967296 does not fit in 32 bits"},
	{"hooks = { timeout = 4294967396; };\n", 0, 3, "hooks.timeout: 4294967396 does not fit"},
	{"hooks = { timeout = 0x100000064; };\n", 0, 3, "hooks.timeout: 0x100000064 does not fit"},
	{"server = { timeout = -2147483649; };\n", 0, 3, "server.timeout: -2147483649 does not fit"},
	{"server = { timeout = 99999999999999999999999; };\n", 0, 3,
	 "server.timeout: 99999999999999999999999 does not fit"},
	{"dualbank = { bootlimit = 4294967299; };\n", 0, 3, "dualbank.bootlimit: 4294967299"},
	{"ostree = { keep = 9223372036854775807L; };\n", 0, 3, "ostree.keep: must be a positive integer"},
	{"server = { retries = -9223372036854775808L; };\n", 0, 3,
	 "server.retries: must be a non-negative integer"},
	/* NUL bytes */
	{"server = { url = \"http://a\0b\"; };\n", 34, 3, "server.url: contains a NUL byte"},
	{"\0", 1, 3, "contains a NUL byte"},
	/* keys of the wrong kind or in the wrong place */
	{"server = { compatible = \"y\"; };\n", 0, 3, "unknown key 'server.compatible'"},
	{"slots = { A = \"/a\"; };\n", 0, 3, "unknown key 'slots'"},
	{"A = \"/a\";\n", 0, 3, "unknown key 'A'"},
	{"dualbank = {\n  slots = ( \"/a\", \"/b\" );\n};\n", 0, 4,
	 "dualbank.slots: must be a group, not a list"},
	{"Compatible = \"y\";\n", 0, 3, "unknown key 'Compatible'"},
	/* values of the wrong type */
	{"server = { timeout = true; };\n", 0, 3, "server.timeout: must be a positive integer, not a boolean"},
	{"ostree = { gpg_verify = 1; };\n", 0, 3, "ostree.gpg_verify: must be true or false, not an integer"},
	{"backend = [ \"dualbank\" ];\n", 0, 3, "backend: must be a string, not an array"},
	{"cmdline = { path = \"/c\"; };\n", 0, 3, "cmdline: must be a string, not a group"},
	{"version_file = 1.5;\n", 0, 3, "version_file: must be a string, not a float"},
	{"dualbank = { public_key = { a = \"/k\"; }; };\n", 0, 3,
	 "dualbank.public_key: must be a string or a list of strings, not a group"},
	{"dualbank = { public_key = 7; };\n", 0, 3,
	 "dualbank.public_key: must be a string or a list of strings, not an integer"},
	{"dualbank = { public_key = [ \"/a\", \"\" ]; };\n", 0, 3,
	 "dualbank.public_key[1]: must not be empty"},
	{"dualbank = { public_key = ( ( \"/a\" ) ); };\n", 0, 3,
	 "dualbank.public_key[0]: must be a string, not a list"},
	{"hooks = { dir = \"\"; };\n", 0, 3, "hooks.dir: must not be empty"},
	/* a setting given twice, also inside a group */
	{"server = {\n  timeout = 1;\n  timeout = 1;\n};\n", 0, 5,
	 "server.timeout: set twice (first on line 4)"},
	{"dualbank = { slots = { A = \"/a\"; A = \"/b\"; }; };\n", 0, 3,
	 "dualbank.slots.A: set twice (first on line 3)"},
	/* an @include of a directory (libconfig's scanner would exit() the process) */
	{"@include \".\"\n", 0, 3, "@include \".\": Is a directory"},
	{"  @include \"/\"\n", 0, 3, "@include \"/\": Is a directory"},
};

static void test_hostile_values(void **state)
{
	struct fx *f = *state;

	for (size_t i = 0; i < sizeof(bad_confs) / sizeof(bad_confs[0]); i++) {
		const struct bad_conf *c = &bad_confs[i];
		size_t len = c->len ? c->len : strlen(c->text);
		char *text = malloc(sizeof(HEAD) - 1 + len);
		char *prefix = NULL;

		assert_non_null(text);
		memcpy(text, HEAD, sizeof(HEAD) - 1);
		memcpy(text + sizeof(HEAD) - 1, c->text, len);
		free(f->path);
		f->path = join(f->dir, "u.conf");
		assert_int_equal(tu_write_file(f->path, text, sizeof(HEAD) - 1 + len), 0);
		assert_true(asprintf(&prefix, "%s:%d: ", f->path, c->line) >= 0);
		if (load(f) == 0 || f->e.exit != UPD_EXIT_USAGE || !strstr(f->e.msg, prefix) ||
		    !strstr(f->e.msg, c->want))
			fail_msg("case %zu: got \"%s\"; want \"%s...%s\"", i, f->e.msg, prefix,
				 c->want);
		assert_null(f->c.path); /* nothing half-loaded */
		free(prefix);
		free(text);
	}
	/* tests/fuzz/replay.sh reports this count in docs/reliability.md. */
	printf("hostile config values refused with file:line and key: %zu\n",
	       sizeof(bad_confs) / sizeof(bad_confs[0]));
}

/* What the scan for those looks like must not refuse what libconfig reads
 * right: big numbers in comments and strings, 64-bit literals in range,
 * floats, the 32-bit extremes, an @include in a comment. */
static void test_hostile_lookalikes_accepted(void **state)
{
	struct fx *f = *state;
	char *inc = join(f->dir, "t.inc");

	tu_write_text(inc, "timeout = 2147483647;\n");
	write_conf(f, "u.conf",
		   "# 99999999999 and @include \".\"\n"
		   "compatible = \"99999999999\"; // 4294967296\n"
		   "state_dir = \"/s\"; /* 0x100000000\n"
		   "@include \".\"\n*/\n"
		   "/* a block comment ending mid-line\n */ # @include \".\"\n"
		   "server = { retries = 2147483647; timeout = 300L; };\n"
		   "hooks = {\n@include \"t.inc\"\n};\n"
		   "ostree = { keep = 0x7fffffff; url = \"x\\\"\n@include \\\".\\\"\"; };\n");
	if (load(f) != 0)
		fail_msg("%s", f->e.msg);
	assert_string_equal(f->c.compatible, "99999999999");
	assert_int_equal(f->c.server.retries, 2147483647);
	assert_int_equal(f->c.server.timeout, 300);
	assert_int_equal(f->c.hooks.timeout, 2147483647);
	assert_int_equal(os_of(&f->c)->keep, 2147483647);
	free(inc);
}

/* The scan follows @include: errors name the included file and its line. */
static void test_hostile_in_include(void **state)
{
	struct fx *f = *state;
	char *inc = join(f->dir, "srv.inc"), *want = NULL;

	tu_write_text(inc, "server = {\n  timeout = 4294967297;\n};\n");
	write_conf(f, "u.conf", HEAD "@include \"srv.inc\"\n");
	assert_true(load(f) < 0);
	assert_true(asprintf(&want, "%s:2: server.timeout: 4294967297 does not fit", inc) >= 0);
	assert_contains(f->e.msg, want);
	free(want);
	tu_write_text(inc, "@include \"/\"\n");
	assert_true(load(f) < 0);
	assert_true(asprintf(&want, "%s:1: @include \"/\": Is a directory", inc) >= 0);
	assert_contains(f->e.msg, want);
	free(want);
	free(inc);
}

static void test_missing_file(void **state)
{
	struct fx *f = *state;
	char *want = NULL;

	f->path = join(f->dir, "nope.conf");
	assert_int_equal(load(f), -ENOENT);
	assert_int_equal(f->e.exit, UPD_EXIT_USAGE);
	assert_true(asprintf(&want, "%s: No such file or directory", f->path) >= 0);
	assert_string_equal(f->e.msg, want);
	assert_null(f->c.path);
	free(want);
}

/* libconfig's scanner would exit() the process on a directory: we must not. */
static void test_directory(void **state)
{
	struct fx *f = *state;

	f->path = strdup(f->dir);
	assert_int_equal(load(f), -EISDIR);
	assert_int_equal(f->e.exit, UPD_EXIT_USAGE);
	assert_contains(f->e.msg, "Is a directory");
}

static void test_free_zeroes(void **state)
{
	struct fx *f = *state;
	struct config zero;

	memset(&zero, 0, sizeof(zero));
	write_conf(f, "u.conf", full_conf);
	assert_int_equal(load(f), 0);
	config_free(&f->c);
	assert_memory_equal(&f->c, &zero, sizeof(zero));
	config_free(&f->c); /* twice is harmless */
	config_free(NULL);
}

/* Removes "//" at the start of lines (after indentation): the example's
 * convention for optional settings shown with their default. */
static char *uncomment(const char *text)
{
	char *out = strdup(text), *w = out;
	int at_line_start = 1;

	assert_non_null(out);
	for (const char *r = text; *r; r++) {
		if (at_line_start && r[0] == '/' && r[1] == '/') {
			r++;
			continue;
		}
		if (*r != ' ' && *r != '\t')
			at_line_start = *r == '\n';
		*w++ = *r;
	}
	*w = '\0';
	return out;
}

/* The shipped example must stay loadable, also with every optional setting
 * enabled, and show the documented defaults. */
static void test_example_file(void **state)
{
	struct fx *f = *state;
	char *text = tu_read_file("config/updater.conf", NULL), *all;
	struct config *c = &f->c;

	if (!text)
		skip(); /* run from the source tree root, as make does */
	write_conf(f, "updater.conf", text);
	assert_int_equal(load(f), 0);
	assert_string_equal(c->backend, "dualbank");
	assert_string_equal(c->state_dir, "/data/updater");
	assert_int_equal(db_of(c)->n_public_keys, 1);
	config_free(c);

	all = uncomment(text);
	write_conf(f, "updater.conf", all);
	if (load(f) < 0)
		fail_msg("example with all settings enabled: %s", f->e.msg);
	assert_string_equal(c->cmdline, "/proc/cmdline");
	assert_string_equal(c->version_file, "/etc/os-release");
	assert_string_equal(c->bootenv.fw_env_config, "/etc/fw_env.config");
	assert_int_equal(c->bootenv.bootlimit, 3);
	assert_int_equal(c->server.timeout, 30);
	assert_int_equal(c->server.retries, 3);
	assert_non_null(c->server.ca);
	assert_true(os_of(c)->gpg_verify);
	assert_int_equal(os_of(c)->keep, 2);
	assert_non_null(os_of(c)->ref);
	assert_int_equal(c->hooks.timeout, 300);
	free(all);
	free(text);
}

/* ---- who may change the config and the files it names ------------------- */

static void need_root(void)
{
	if (geteuid() != 0) {
		fprintf(stderr, "skipped: needs root (chown to another uid)\n");
		skip();
	}
}

/* A config anyone may write decides what the updater runs and trusts. */
static void test_config_file_writable(void **state)
{
	struct fx *f = *state;
	char *inc = join(f->dir, "more.inc"), *want = NULL;

	write_conf(f, "u.conf", "compatible = \"x\"; state_dir = \"/s\";\n");
	assert_int_equal(chmod(f->path, 0666), 0);
	assert_true(load(f) < 0);
	assert_int_equal(f->e.exit, UPD_EXIT_USAGE);
	assert_true(asprintf(&want, "%s: refusing the config file: writable by group or others "
			     "(mode 0666)", f->path) >= 0);
	assert_string_equal(f->e.msg, want);
	free(want);
	assert_int_equal(chmod(f->path, 0644), 0);
	assert_int_equal(load(f), 0);
	config_free(&f->c);

	/* an @include'd file is the config too */
	tu_write_text(inc, "hooks = { timeout = 5; };\n");
	assert_int_equal(chmod(inc, 0620), 0);
	write_conf(f, "u.conf", "compatible = \"x\"; state_dir = \"/s\";\n@include \"more.inc\"\n");
	assert_true(load(f) < 0);
	assert_int_equal(f->e.exit, UPD_EXIT_USAGE);
	assert_contains(f->e.msg, "refusing the config file");
	assert_contains(f->e.msg, inc);
	free(inc);
}

static void test_config_file_foreign_owner(void **state)
{
	struct fx *f = *state;

	need_root();
	write_conf(f, "u.conf", "compatible = \"x\"; state_dir = \"/s\";\n");
	assert_int_equal(chown(f->path, 65534, 65534), 0);
	assert_true(load(f) < 0);
	assert_int_equal(f->e.exit, UPD_EXIT_USAGE);
	TU_ASSERT_OWNER_REFUSED(f->e.msg, f->path);
	/* ... or its directory */
	assert_int_equal(chown(f->path, 0, 0), 0);
	assert_int_equal(chown(f->dir, 65534, 65534), 0);
	assert_true(load(f) < 0);
	assert_contains(f->e.msg, f->dir);
	assert_int_equal(chown(f->dir, 0, 0), 0);
	assert_int_equal(load(f), 0);
}

/* Loads a config naming key files in the test directory, then checks them. */
static int load_and_check(struct fx *f)
{
	config_free(&f->c);
	write_conf(f, "u.conf",
		   "compatible = \"x\"; state_dir = \"/s\";\n"
		   "dualbank = { public_key = ( \"old.pem\", \"new.pem\" ); };\n"
		   "ostree = { gpg_keyring = \"keyring.gpg\"; };\n"
		   "server = { ca = \"ca.pem\"; };\n");
	if (load(f) < 0)
		fail_msg("config_load: %s", f->e.msg);
	return config_check_files(&f->c, &f->e);
}

/* A key anyone may replace proves nothing: refused, naming the key and file. */
static void test_key_files_checked(void **state)
{
	struct fx *f = *state;
	const char *names[] = { "old.pem", "new.pem", "keyring.gpg", "ca.pem" };
	const char *keys[] = { "dualbank.public_key", "dualbank.public_key", "ostree.gpg_keyring",
			       "server.ca" };
	char *want = NULL;

	/* all missing: left to whoever reads them */
	assert_int_equal(load_and_check(f), 0);
	for (size_t i = 0; i < 4; i++) {
		char *p = join(f->dir, names[i]);
		tu_write_text(p, "key\n");
		assert_int_equal(chmod(p, 0644), 0);
		free(p);
	}
	assert_int_equal(load_and_check(f), 0);
	for (size_t i = 0; i < 4; i++) {
		char *p = join(f->dir, names[i]);
		assert_int_equal(chmod(p, i % 2 ? 0646 : 0664), 0);
		err_clear(&f->e);
		assert_true(load_and_check(f) < 0);
		assert_int_equal(f->e.exit, UPD_EXIT_USAGE);
		assert_true(asprintf(&want, "%s: refusing %s: writable by group or others (mode %s)",
				     p, keys[i], i % 2 ? "0646" : "0664") >= 0);
		assert_string_equal(f->e.msg, want);
		free(want);
		assert_int_equal(chmod(p, 0644), 0);
		free(p);
	}
}

static void test_key_files_foreign_owner(void **state)
{
	struct fx *f = *state;
	char *ring = join(f->dir, "keyring.gpg"), *pem = join(f->dir, "new.pem");

	need_root();
	tu_write_text(ring, "key\n");
	tu_write_text(pem, "key\n");
	assert_int_equal(chown(ring, 65534, 65534), 0);
	assert_true(load_and_check(f) < 0);
	assert_int_equal(f->e.exit, UPD_EXIT_USAGE);
	assert_contains(f->e.msg, ring);
	assert_contains(f->e.msg, "refusing ostree.gpg_keyring: owned by uid 65534");
	assert_int_equal(chown(ring, 0, 0), 0);
	/* a symlink to a key is judged by what it points to */
	assert_int_equal(unlink(pem), 0);
	char *theirs = join(f->dir, "theirs.pem");
	tu_write_text(theirs, "key\n");
	assert_int_equal(chown(theirs, 65534, 65534), 0);
	assert_int_equal(symlink("theirs.pem", pem), 0);
	assert_true(load_and_check(f) < 0);
	assert_contains(f->e.msg, "refusing dualbank.public_key");
	assert_contains(f->e.msg, theirs);
	free(theirs);
	free(ring);
	free(pem);
}

/* A configured hooks.dir that does not exist: a config error, not "no hooks". */
static void test_hooks_dir_missing(void **state)
{
	struct fx *f = *state;
	char *hooks = join(f->dir, "hooks");

	write_conf(f, "u.conf", "compatible = \"x\"; state_dir = \"/s\";\nhooks = { dir = \"hooks\"; };\n");
	assert_int_equal(load(f), 0);
	assert_true(config_check_files(&f->c, &f->e) < 0);
	assert_int_equal(f->e.exit, UPD_EXIT_USAGE);
	assert_contains(f->e.msg, hooks);
	assert_contains(f->e.msg, "does not exist");
	assert_int_equal(mkdir(hooks, 0755), 0);
	err_clear(&f->e);
	assert_int_equal(config_check_files(&f->c, &f->e), 0);
	free(hooks);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_full),
		T(test_defaults),
		T(test_sections_core_only),
		T(test_get_paths),
		T(test_public_key_string),
		T(test_public_key_list),
		T(test_relative_paths),
		T(test_relative_config_path),
		T(test_include),
		T(test_unknown_key),
		T(test_unknown_nested_key),
		T(test_unknown_key_in_subgroup),
		T(test_wrong_type_int),
		T(test_wrong_type_float),
		T(test_wrong_type_string),
		T(test_wrong_type_bool),
		T(test_wrong_type_group),
		T(test_public_key_bad_element),
		T(test_public_key_empty_list),
		T(test_bad_value_timeout),
		T(test_bad_value_bootlimit),
		T(test_bootlimit_new_key),
		T(test_bootlimit_old_keys),
		T(test_bootlimit_both_set),
		T(test_bad_value_retries_keep),
		T(test_bad_value_backend),
		T(test_empty_string),
		T(test_missing_required),
		T(test_syntax_error),
		T(test_duplicate_key),
		T(test_hostile_values),
		T(test_hostile_lookalikes_accepted),
		T(test_hostile_in_include),
		T(test_missing_file),
		T(test_directory),
		T(test_free_zeroes),
		T(test_example_file),
		T(test_config_file_writable),
		T(test_config_file_foreign_owner),
		T(test_key_files_checked),
		T(test_key_files_foreign_owner),
		T(test_hooks_dir_missing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

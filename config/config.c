/* Configuration loading: libconfig parses, a table of known keys validates.
 *
 * The whole tree is walked once: every setting must match a known group or
 * key, so a typo ("sever", "server.timout") is an error instead of silently
 * leaving the default in force. Each key's value is type- and range-checked
 * where it is found, so every message can name file:line and the key. */
#include "config.h"
#include "config_scan.h"

#include <errno.h>
#include <fcntl.h>
#include <libconfig.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../core/trust.h"

enum key_kind {
	K_STRING,  /* any non-empty string, kept as is (names, URLs) */
	K_PATH,    /* non-empty string, relative ones resolved against the file's dir */
	K_BACKEND, /* "dualbank" | "ostree" */
	K_INT,     /* integer in [min, max] */
	K_BOOL,
	K_PATHS,   /* a path or a list/array of paths (public keys: rotation) */
};

struct key {
	const char *name; /* full libconfig path, e.g. "server.timeout" */
	enum key_kind kind;
	size_t off;       /* offsetof the field in struct config */
	int min, max;     /* K_INT only */
	const char *what; /* K_INT only: wording of the constraint for messages */
};

#define OFF(field) offsetof(struct config, field)
/* dualbank.public_key is the only K_PATHS key; its count lives here. */
#define PATHS_COUNT_OFF OFF(dualbank.n_public_keys)

static const struct key keys[] = {
	{"backend", K_BACKEND, OFF(backend), 0, 0, NULL},
	{"compatible", K_STRING, OFF(compatible), 0, 0, NULL},
	{"state_dir", K_PATH, OFF(state_dir), 0, 0, NULL},
	{"cmdline", K_PATH, OFF(cmdline), 0, 0, NULL},
	{"version_file", K_PATH, OFF(version_file), 0, 0, NULL},
	{"server.url", K_STRING, OFF(server.url), 0, 0, NULL},
	{"server.timeout", K_INT, OFF(server.timeout), 1, INT_MAX, "a positive integer"},
	{"server.retries", K_INT, OFF(server.retries), 0, INT_MAX, "a non-negative integer"},
	{"server.ca", K_PATH, OFF(server.ca), 0, 0, NULL},
	{"server.cert", K_PATH, OFF(server.cert), 0, 0, NULL},
	{"server.key", K_PATH, OFF(server.key), 0, 0, NULL},
	{"bootenv.fw_env_config", K_PATH, OFF(bootenv.fw_env_config), 0, 0, NULL},
	{"dualbank.slots.A", K_PATH, OFF(dualbank.slot_a), 0, 0, NULL},
	{"dualbank.slots.B", K_PATH, OFF(dualbank.slot_b), 0, 0, NULL},
	{"dualbank.public_key", K_PATHS, OFF(dualbank.public_keys), 0, 0, NULL},
	{"dualbank.bootlimit", K_INT, OFF(dualbank.bootlimit), 1, 99, "an integer from 1 to 99"},
	{"ostree.sysroot", K_PATH, OFF(ostree.sysroot), 0, 0, NULL},
	{"ostree.osname", K_STRING, OFF(ostree.osname), 0, 0, NULL},
	{"ostree.remote", K_STRING, OFF(ostree.remote), 0, 0, NULL},
	{"ostree.url", K_STRING, OFF(ostree.url), 0, 0, NULL},
	{"ostree.ref", K_STRING, OFF(ostree.ref), 0, 0, NULL},
	{"ostree.gpg_verify", K_BOOL, OFF(ostree.gpg_verify), 0, 0, NULL},
	{"ostree.gpg_keyring", K_PATH, OFF(ostree.gpg_keyring), 0, 0, NULL},
	{"ostree.require_compatible", K_BOOL, OFF(ostree.require_compatible), 0, 0, NULL},
	{"ostree.root", K_PATH, OFF(ostree.root), 0, 0, NULL},
	{"ostree.keep", K_INT, OFF(ostree.keep), 1, INT_MAX, "a positive integer"},
	{"ostree.bootlimit", K_INT, OFF(ostree.bootlimit), 1, 99, "an integer from 1 to 99"},
	{"hooks.dir", K_PATH, OFF(hooks.dir), 0, 0, NULL},
	{"hooks.timeout", K_INT, OFF(hooks.timeout), 1, INT_MAX, "a positive integer"},
};

static const char *const groups[] = {
	"server", "bootenv", "dualbank", "dualbank.slots", "ostree", "hooks",
};

/* Defaults of string keys; integer and boolean defaults are set in
 * set_scalar_defaults() before the walk overrides them. */
static const struct {
	size_t off;
	const char *value;
} string_defaults[] = {
	{OFF(cmdline), "/proc/cmdline"},
	{OFF(version_file), "/etc/os-release"},
	{OFF(bootenv.fw_env_config), "/etc/fw_env.config"},
	{OFF(ostree.root), "/"},
};

static const struct {
	size_t off;
	const char *name;
} required[] = {
	{OFF(compatible), "compatible"},
	{OFF(state_dir), "state_dir"},
};

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

struct load_ctx {
	struct config *c;
	char *base; /* absolute directory of the config file */
	struct error *e;
};

static char **str_field(struct config *c, size_t off) { return (char **)((char *)c + off); }
static int *int_field(struct config *c, size_t off) { return (int *)((char *)c + off); }

static int enomem(struct error *e) { return err_set(e, UPD_EXIT_OTHER, ENOMEM, "out of memory"); }

/* The file a setting came from: an @include'd file carries its own name. */
static const char *source_file(const struct load_ctx *x, const config_setting_t *s)
{
	const char *file = config_setting_source_file(s);
	return file ? file : x->c->path;
}

/* Every validation error goes through here so all read "<file>:<line>: <key>: <why>". */
static int bad(struct load_ctx *x, const config_setting_t *s, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int bad(struct load_ctx *x, const config_setting_t *s, const char *key, const char *fmt, ...)
{
	char why[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	return err_set(x->e, UPD_EXIT_USAGE, EINVAL, "%s:%u: %s: %s", source_file(x, s),
		       config_setting_source_line(s), key, why);
}

static const char *type_name(const config_setting_t *s)
{
	switch (config_setting_type(s)) {
	case CONFIG_TYPE_GROUP: return "a group";
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64: return "an integer";
	case CONFIG_TYPE_FLOAT: return "a float";
	case CONFIG_TYPE_STRING: return "a string";
	case CONFIG_TYPE_BOOL: return "a boolean";
	case CONFIG_TYPE_ARRAY: return "an array";
	case CONFIG_TYPE_LIST: return "a list";
	default: return "of unknown type";
	}
}

/* The joined path with its directory part resolved when it exists, so that
 * messages name "/dev/slots/B.img", not "/dev/etc/../slots/B.img". Only the
 * directory: the last component (a slot may be a link to a partition) stays. */
static char *tidy(char *joined)
{
	char *slash = strrchr(joined, '/'), *dir, *out = NULL;

	if (!strstr(joined, "/./") && !strstr(joined, "/../") && !strstr(joined, "//"))
		return joined;
	*slash = '\0';
	dir = realpath(*joined ? joined : "/", NULL);
	*slash = '/';
	if (!dir)
		return joined;
	if (asprintf(&out, "%s%s", strcmp(dir, "/") == 0 ? "" : dir, slash) < 0)
		out = NULL;
	free(dir);
	if (!out)
		return joined;
	free(joined);
	return out;
}

/* Relative paths are taken relative to the config file's directory, so a
 * config and the keys/hooks next to it can be moved together. */
static char *resolve(const char *base, const char *value)
{
	char *out = NULL;

	if (value[0] == '/')
		return strdup(value);
	if (asprintf(&out, "%s%s%s", base, base[strlen(base) - 1] == '/' ? "" : "/", value) < 0)
		return NULL;
	return tidy(out);
}

/* Checks a string setting and returns its value (NULL with e set otherwise). */
static const char *get_string(struct load_ctx *x, const config_setting_t *s, const char *key)
{
	const char *v;

	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		bad(x, s, key, "must be a string, not %s", type_name(s));
		return NULL;
	}
	v = config_setting_get_string(s);
	if (!v || !*v) {
		bad(x, s, key, "must not be empty");
		return NULL;
	}
	return v;
}

static int set_string(struct load_ctx *x, const config_setting_t *s, const struct key *k)
{
	const char *v = get_string(x, s, k->name);
	char **dst = str_field(x->c, k->off);

	if (!v)
		return -EINVAL;
	if (k->kind == K_BACKEND && strcmp(v, "dualbank") != 0 && strcmp(v, "ostree") != 0)
		return bad(x, s, k->name, "must be \"dualbank\" or \"ostree\", not \"%s\"", v);
	free(*dst);
	*dst = k->kind == K_PATH ? resolve(x->base, v) : strdup(v);
	return *dst ? 0 : enomem(x->e);
}

static int set_int(struct load_ctx *x, const config_setting_t *s, const struct key *k)
{
	long long v;

	/* libconfig writes big literals with an L suffix as INT64; accept those
	 * too and let the range check decide. Floats and strings are refused
	 * rather than converted, a quoted number is most likely a mistake. */
	if (config_setting_type(s) == CONFIG_TYPE_INT)
		v = config_setting_get_int(s);
	else if (config_setting_type(s) == CONFIG_TYPE_INT64)
		v = config_setting_get_int64(s);
	else
		return bad(x, s, k->name, "must be %s, not %s", k->what, type_name(s));
	if (v < k->min || v > k->max)
		return bad(x, s, k->name, "must be %s", k->what);
	*int_field(x->c, k->off) = (int)v;
	return 0;
}

static int set_bool(struct load_ctx *x, const config_setting_t *s, const struct key *k)
{
	if (config_setting_type(s) != CONFIG_TYPE_BOOL)
		return bad(x, s, k->name, "must be true or false, not %s", type_name(s));
	*(bool *)((char *)x->c + k->off) = config_setting_get_bool(s) != 0;
	return 0;
}

static void free_paths(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* A single string or a list/array of strings: several keys let a device
 * accept bundles signed with the old and the new key during a rotation. */
static int set_paths(struct load_ctx *x, const config_setting_t *s, const struct key *k)
{
	int is_str = config_setting_type(s) == CONFIG_TYPE_STRING;
	size_t n = is_str ? 1 : (size_t)config_setting_length(s);
	char ***dst = (char ***)str_field(x->c, k->off);
	size_t *count = (size_t *)((char *)x->c + PATHS_COUNT_OFF);
	char **v;

	if (!is_str && !config_setting_is_array(s) && !config_setting_is_list(s))
		return bad(x, s, k->name, "must be a string or a list of strings, not %s", type_name(s));
	if (n == 0)
		return bad(x, s, k->name, "must not be an empty list");
	v = calloc(n, sizeof(*v));
	if (!v)
		return enomem(x->e);
	for (size_t i = 0; i < n; i++) {
		const config_setting_t *el = is_str ? s : config_setting_get_elem(s, (unsigned)i);
		char name[128];
		const char *str;

		/* Name list elements by index: "dualbank.public_key[1]". */
		snprintf(name, sizeof(name), "%s[%zu]", k->name, i);
		str = get_string(x, el, is_str ? k->name : name);
		v[i] = str ? resolve(x->base, str) : NULL;
		if (!v[i]) {
			free_paths(v, i);
			return str ? enomem(x->e) : -EINVAL;
		}
	}
	free_paths(*dst, *count);
	*dst = v;
	*count = n;
	return 0;
}

static const struct key *find_key(const char *name)
{
	for (size_t i = 0; i < ARRAY_LEN(keys); i++)
		if (strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

static int is_group(const char *name)
{
	for (size_t i = 0; i < ARRAY_LEN(groups); i++)
		if (strcmp(groups[i], name) == 0)
			return 1;
	return 0;
}

static int set_key(struct load_ctx *x, const config_setting_t *s, const struct key *k)
{
	switch (k->kind) {
	case K_INT: return set_int(x, s, k);
	case K_BOOL: return set_bool(x, s, k);
	case K_PATHS: return set_paths(x, s, k);
	default: return set_string(x, s, k);
	}
}

/* Visits every member of group g (full name prefix, "" for the root). */
static int walk(struct load_ctx *x, const config_setting_t *g, const char *prefix)
{
	int n = config_setting_length(g);

	for (int i = 0; i < n; i++) {
		const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
		const struct key *k;
		char name[256];
		int r;

		snprintf(name, sizeof(name), "%s%s%s", prefix, *prefix ? "." : "",
			 config_setting_name(s));
		if (is_group(name)) {
			if (!config_setting_is_group(s))
				return bad(x, s, name, "must be a group, not %s", type_name(s));
			r = walk(x, s, name);
		} else if ((k = find_key(name))) {
			r = set_key(x, s, k);
		} else {
			r = err_set(x->e, UPD_EXIT_USAGE, EINVAL, "%s:%u: unknown key '%s'",
				    source_file(x, s), config_setting_source_line(s), name);
		}
		if (r < 0)
			return r;
	}
	return 0;
}

static void set_scalar_defaults(struct config *c)
{
	c->server.timeout = 30;
	c->server.retries = 3;
	c->dualbank.bootlimit = 3;
	c->ostree.gpg_verify = true;
	c->ostree.require_compatible = true;
	c->ostree.keep = 2;
	c->ostree.bootlimit = 3;
	c->hooks.timeout = 300;
}

static int finish(struct config *c, struct error *e)
{
	for (size_t i = 0; i < ARRAY_LEN(required); i++)
		if (!*str_field(c, required[i].off))
			return err_set(e, UPD_EXIT_USAGE, EINVAL, "%s: %s: missing required key",
				       c->path, required[i].name);
	for (size_t i = 0; i < ARRAY_LEN(string_defaults); i++) {
		char **f = str_field(c, string_defaults[i].off);
		if (!*f && !(*f = strdup(string_defaults[i].value)))
			return enomem(e);
	}
	return 0;
}

/* The absolute directory of path: relative config paths are anchored to the
 * current directory now, so resolved paths stay valid if we chdir later. */
static char *base_dir(const char *path)
{
	const char *slash = strrchr(path, '/');
	char cwd[PATH_MAX], *out = NULL;
	int len = slash ? (int)(slash - path) : 0;

	if (path[0] == '/')
		return len ? strndup(path, (size_t)len) : strdup("/");
	if (!getcwd(cwd, sizeof(cwd)))
		return NULL;
	if (asprintf(&out, "%s%s%.*s", cwd, len ? "/" : "", len, path) < 0)
		return NULL;
	return out;
}

/* Opens the file once ourselves: libconfig only says "file I/O error", and
 * the flex scanner it uses exits the process when asked to read a directory. */
static int check_readable(const char *path, struct error *e)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return err_set(e, UPD_EXIT_USAGE, errno, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		close(fd);
		return err_set(e, UPD_EXIT_USAGE, EISDIR, "%s: %s", path, strerror(EISDIR));
	}
	close(fd);
	return 0;
}

static int parse(config_t *cf, struct load_ctx *x)
{
	const char *path = x->c->path;
	int r = check_readable(path, x->e);

	if (r < 0)
		return r;
	r = config_scan(path, x->base, x->e);
	if (r < 0)
		return r;
	/* @include "x.conf" is relative to the config's directory, like other paths. */
	config_set_include_dir(cf, x->base);
	if (config_read_file(cf, path) == CONFIG_TRUE)
		return 0;
	if (config_error_type(cf) == CONFIG_ERR_FILE_IO)
		return err_set(x->e, UPD_EXIT_USAGE, EIO, "%s: %s", path, config_error_text(cf));
	return err_set(x->e, UPD_EXIT_USAGE, EINVAL, "%s:%d: %s",
		       config_error_file(cf) ? config_error_file(cf) : path,
		       config_error_line(cf), config_error_text(cf));
}

int config_load(struct config *c, const char *path, struct error *e)
{
	struct load_ctx x = {.c = c, .e = e};
	config_t cf;
	int r;

	memset(c, 0, sizeof(*c));
	if (!path)
		path = CONFIG_DEFAULT_PATH;
	c->path = strdup(path);
	if (!c->path)
		return enomem(e);
	x.base = base_dir(path);
	if (!x.base) {
		r = err_set(e, UPD_EXIT_OTHER, errno, "%s: cannot make its directory absolute: %s",
			    path, strerror(errno));
		config_free(c);
		return r;
	}
	set_scalar_defaults(c);
	config_init(&cf);
	r = parse(&cf, &x);
	if (r == 0)
		r = walk(&x, config_root_setting(&cf), "");
	if (r == 0)
		r = finish(c, e);
	config_destroy(&cf);
	free(x.base);
	if (r < 0)
		config_free(c);
	return r;
}

static int check_key_file(const char *key, const char *path, struct error *e)
{
	struct error te = {0};
	char refusing[64];
	int r;

	if (!path)
		return 0;
	snprintf(refusing, sizeof(refusing), "refusing %s", key);
	r = trust_path(path, refusing, UPD_EXIT_USAGE, &te);
	if (r == -ENOENT)
		return 0; /* reported by whoever reads it, as before */
	return r < 0 ? err_set(e, te.exit, -r, "%s", te.msg) : 0;
}

int config_check_files(const struct config *c, struct error *e)
{
	const struct {
		const char *key, *path;
	} files[] = {
		{"ostree.gpg_keyring", c->ostree.gpg_keyring}, {"server.ca", c->server.ca},
		{"server.cert", c->server.cert},               {"server.key", c->server.key},
	};
	struct stat st;
	int r = 0;

	for (size_t i = 0; r == 0 && i < c->dualbank.n_public_keys; i++)
		r = check_key_file("dualbank.public_key", c->dualbank.public_keys[i], e);
	for (size_t i = 0; r == 0 && i < ARRAY_LEN(files); i++)
		r = check_key_file(files[i].key, files[i].path, e);
	if (r < 0 || !c->hooks.dir)
		return r;
	if (stat(c->hooks.dir, &st) < 0)
		return err_set(e, UPD_EXIT_USAGE, errno, "%s: hooks.dir %s: %s", c->path, c->hooks.dir,
			       errno == ENOENT ? "does not exist" : strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return err_set(e, UPD_EXIT_USAGE, ENOTDIR, "%s: hooks.dir %s: %s", c->path,
			       c->hooks.dir, strerror(ENOTDIR));
	return 0;
}

static void free_strings(struct config *c)
{
	char **strings[] = {
		&c->path, &c->backend, &c->compatible, &c->state_dir, &c->cmdline,
		&c->version_file, &c->server.url, &c->server.ca, &c->server.cert,
		&c->server.key, &c->bootenv.fw_env_config, &c->dualbank.slot_a,
		&c->dualbank.slot_b, &c->ostree.sysroot, &c->ostree.osname,
		&c->ostree.remote, &c->ostree.url, &c->ostree.ref,
		&c->ostree.gpg_keyring, &c->ostree.root, &c->hooks.dir,
	};

	for (size_t i = 0; i < ARRAY_LEN(strings); i++)
		free(*strings[i]);
}

void config_free(struct config *c)
{
	if (!c)
		return;
	free_strings(c);
	free_paths(c->dualbank.public_keys, c->dualbank.n_public_keys);
	memset(c, 0, sizeof(*c));
}

/* Configuration loading: libconfig parses, the tables of known keys validate:
 * the core's, here, and those of the backends compiled in, which each backend
 * declares in its own folder (config_keys.h, key_table.h).
 *
 * The whole tree is walked once: every setting must match a known group or
 * key, so a typo ("sever", "server.timout") is an error instead of silently
 * leaving the default in force. Each key's value is type- and range-checked
 * where it is found, so every message can name file:line and the key. */
#include "config.h"
#include "config_scan.h"
#include "key_table.h"

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

#include "../lib/log.h"
#include "../lib/trust.h"

#define OFF(field) CONFIG_OFF(struct config, field)

/* The core's keys; the backends' are in their folders (config_keys.h). */
const struct config_key config_core_keys[] = {
	{ .name = "backend", .kind = K_BACKEND, .off = OFF(backend) },
	{ .name = "compatible", .kind = K_STRING, .off = OFF(compatible) },
	{ .name = "state_dir", .kind = K_PATH, .off = OFF(state_dir) },
	{ .name = "cmdline", .kind = K_PATH, .off = OFF(cmdline), .dflt = "/proc/cmdline" },
	{ .name = "version_file", .kind = K_PATH, .off = OFF(version_file), .dflt = "/etc/os-release" },
	{ .name = "server.url", .kind = K_STRING, .off = OFF(server.url) },
	{ .name = "server.timeout", .kind = K_INT, .off = OFF(server.timeout), .min = 1, .max = INT_MAX,
	  .what = "a positive integer", .idflt = 30 },
	{ .name = "server.retries", .kind = K_INT, .off = OFF(server.retries), .min = 0, .max = INT_MAX,
	  .what = "a non-negative integer", .idflt = 3 },
	{ .name = "server.ca", .kind = K_PATH, .off = OFF(server.ca), .key_file = 1 },
	{ .name = "server.cert", .kind = K_PATH, .off = OFF(server.cert), .key_file = 1 },
	{ .name = "server.key", .kind = K_PATH, .off = OFF(server.key), .key_file = 1 },
	{ .name = "bootenv.fw_env_config", .kind = K_PATH, .off = OFF(bootenv.fw_env_config),
	  .dflt = "/etc/fw_env.config" },
	{ .name = "bootenv.bootlimit", .kind = K_INT, .off = OFF(bootenv.bootlimit), .min = 1,
	  .max = 99, .what = "an integer from 1 to 99", .idflt = 3 },
	{ .name = "hooks.dir", .kind = K_PATH, .off = OFF(hooks.dir) },
	{ .name = "hooks.timeout", .kind = K_INT, .off = OFF(hooks.timeout), .min = 1, .max = INT_MAX,
	  .what = "a positive integer", .idflt = 300 },
};
const size_t config_n_core_keys = sizeof(config_core_keys) / sizeof(config_core_keys[0]);

const char *const config_core_groups[] = { "server", "bootenv", "hooks", NULL };

static const struct {
	size_t off;
	const char *name;
} required[] = {
	{OFF(compatible), "compatible"},
	{OFF(state_dir), "state_dir"},
};

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* A key whose field more than one name sets (a key and its deprecated names). */
struct alias_seen {
	const struct config_key *k;
	const config_setting_t *s;
	int value;
};

struct load_ctx {
	struct config *c;
	char *base; /* absolute directory of the config file */
	struct error *e;
	struct alias_seen aliases[4];
	size_t n_aliases;
	const struct alias_seen *deprecated; /* the first deprecated key used */
};

/* The fields of a key, at its offsets from base (key_base()). */
static char **str_field(void *base, size_t off) { return (char **)((char *)base + off); }
static int *int_field(void *base, size_t off) { return (int *)((char *)base + off); }
static bool *bool_field(void *base, size_t off) { return (bool *)((char *)base + off); }
static size_t *count_field(void *base, size_t off) { return (size_t *)((char *)base + off); }


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

static int set_string(struct load_ctx *x, const config_setting_t *s, const struct config_key *k,
		      char *base)
{
	const char *v = get_string(x, s, k->name);
	char **dst = str_field(base, k->off);

	if (!v)
		return -EINVAL;
	if (k->kind == K_BACKEND && !key_is_backend(v)) {
		char names[256];
		key_backend_names(names, sizeof(names));
		return bad(x, s, k->name, "must be %s, not \"%s\"", names, v);
	}
	free(*dst);
	*dst = k->kind == K_PATH ? resolve(x->base, v) : strdup(v);
	return *dst ? 0 : err_oom(x->e, NULL);
}

/* A key and its deprecated names set one field: one of them at a time, and
 * the old names warned about once, when the load succeeds. Two old names
 * (each backend had its own) may agree. */
static int note_alias(struct load_ctx *x, const config_setting_t *s, const struct config_key *k,
		      int v)
{
	const char *key = k->replaced_by ? k->replaced_by : k->name;
	struct alias_seen *a;

	if (!k->replaced_by && !key_has_old_name(k->name))
		return 0;
	for (size_t i = 0; i < x->n_aliases; i++) {
		a = &x->aliases[i];
		const char *other = a->k->replaced_by ? a->k->replaced_by : a->k->name;
		if (strcmp(other, key) != 0 || (k->replaced_by && a->k->replaced_by && a->value == v))
			continue;
		return bad(x, s, k->name, "%s is set too (%s:%u): set only %s (%s is deprecated)",
			   a->k->name, source_file(x, a->s), config_setting_source_line(a->s), key,
			   k->replaced_by ? k->name : a->k->name);
	}
	if (x->n_aliases == ARRAY_LEN(x->aliases))
		return bad(x, s, k->name, "set too many times");
	a = &x->aliases[x->n_aliases++];
	*a = (struct alias_seen){ .k = k, .s = s, .value = v };
	if (k->replaced_by && !x->deprecated)
		x->deprecated = a;
	return 0;
}

static int set_int(struct load_ctx *x, const config_setting_t *s, const struct config_key *k,
		   char *base)
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
	if (note_alias(x, s, k, (int)v) < 0)
		return -EINVAL;
	*int_field(base, k->off) = (int)v;
	return 0;
}

static int set_bool(struct load_ctx *x, const config_setting_t *s, const struct config_key *k,
		    char *base)
{
	if (config_setting_type(s) != CONFIG_TYPE_BOOL)
		return bad(x, s, k->name, "must be true or false, not %s", type_name(s));
	*bool_field(base, k->off) = config_setting_get_bool(s) != 0;
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
static int set_paths(struct load_ctx *x, const config_setting_t *s, const struct config_key *k,
		     char *base)
{
	int is_str = config_setting_type(s) == CONFIG_TYPE_STRING;
	size_t n = is_str ? 1 : (size_t)config_setting_length(s);
	char ***dst = (char ***)str_field(base, k->off);
	size_t *count = count_field(base, k->count_off);
	char **v;

	if (!is_str && !config_setting_is_array(s) && !config_setting_is_list(s))
		return bad(x, s, k->name, "must be a string or a list of strings, not %s", type_name(s));
	if (n == 0)
		return bad(x, s, k->name, "must not be an empty list");
	v = calloc(n, sizeof(*v));
	if (!v)
		return err_oom(x->e, NULL);
	for (size_t i = 0; i < n; i++) {
		const config_setting_t *el = is_str ? s : config_setting_get_elem(s, (unsigned)i);
		char name[128];
		const char *str;

		/* Name list elements by index: "<key>[1]". */
		snprintf(name, sizeof(name), "%s[%zu]", k->name, i);
		str = get_string(x, el, is_str ? k->name : name);
		v[i] = str ? resolve(x->base, str) : NULL;
		if (!v[i]) {
			free_paths(v, i);
			return str ? err_oom(x->e, NULL) : -EINVAL;
		}
	}
	free_paths(*dst, *count);
	*dst = v;
	*count = n;
	return 0;
}

/* k is a key of table t: its field is in struct config or its section's data. */
static int set_key(struct load_ctx *x, const config_setting_t *s, const struct config_key *k,
		   size_t t)
{
	char *base = key_base(x->c, t, k);

	switch (k->kind) {
	case K_INT: return set_int(x, s, k, base);
	case K_BOOL: return set_bool(x, s, k, base);
	case K_PATHS: return set_paths(x, s, k, base);
	default: return set_string(x, s, k, base);
	}
}

/* A setting of a backend left out of this build: refused as that, not as a
 * typo, and not ignored (the device would run without what it configures).
 * Its empty group is let through, as an example config has one. */
static int left_out(struct load_ctx *x, const config_setting_t *s, const char *name,
		    const char *backend)
{
	char in[128];

	key_compiled_in(in, sizeof(in));
	return err_set(x->e, UPD_EXIT_USAGE, ENOTSUP,
		       "%s:%u: %s: the %s backend is not in this build (compiled in: %s)",
		       source_file(x, s), config_setting_source_line(s), name, backend, in);
}

/* Visits every member of group g (full name prefix, "" for the root). */
static int walk(struct load_ctx *x, const config_setting_t *g, const char *prefix)
{
	int n = config_setting_length(g);

	for (int i = 0; i < n; i++) {
		const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
		const struct config_key *k;
		const char *backend;
		char name[256];
		size_t t;
		int r;

		snprintf(name, sizeof(name), "%s%s%s", prefix, *prefix ? "." : "",
			 config_setting_name(s));
		if (key_is_group(name)) {
			if (!config_setting_is_group(s))
				return bad(x, s, name, "must be a group, not %s", type_name(s));
			r = walk(x, s, name);
		} else if ((k = key_find(name, &t))) {
			r = set_key(x, s, k, t);
		} else if ((backend = key_left_out(name))) {
			r = strcmp(name, backend) == 0 && config_setting_is_group(s)
				    ? walk(x, s, name)
				    : left_out(x, s, name, backend);
		} else {
			r = err_set(x->e, UPD_EXIT_USAGE, EINVAL, "%s:%u: unknown key '%s'",
				    source_file(x, s), config_setting_source_line(s), name);
		}
		if (r < 0)
			return r;
	}
	return 0;
}

/* Integer and boolean defaults, before the walk overrides them. */
static void set_scalar_defaults(struct config *c)
{
	const struct config_key *k;
	size_t n;

	for (size_t t = 0; (k = key_table(t, &n)); t++)
		for (size_t i = 0; i < n; i++) {
			char *base = key_base(c, t, &k[i]);

			if (k[i].replaced_by)
				continue; /* its replacement has the default */
			if (k[i].kind == K_INT)
				*int_field(base, k[i].off) = k[i].idflt;
			else if (k[i].kind == K_BOOL)
				*bool_field(base, k[i].off) = k[i].idflt != 0;
		}
}

static int finish(struct config *c, struct error *e)
{
	const struct config_key *k;
	size_t n;

	for (size_t i = 0; i < ARRAY_LEN(required); i++)
		if (!*str_field(c, required[i].off))
			return err_set(e, UPD_EXIT_USAGE, EINVAL, "%s: %s: missing required key",
				       c->path, required[i].name);
	for (size_t t = 0; (k = key_table(t, &n)); t++)
		for (size_t i = 0; i < n; i++) {
			char **f = str_field(key_base(c, t, &k[i]), k[i].off);
			if (k[i].dflt && !*f && !(*f = strdup(k[i].dflt)))
				return err_oom(e, NULL);
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

/* One zeroed struct per section compiled in, for its keys' fields. */
static int new_sections(struct config *c, struct error *e)
{
	const struct config_section *s;

	for (size_t i = 0; i < CONFIG_MAX_SECTIONS && (s = config_section_at(i)); i++)
		if (!(c->sections[i] = calloc(1, s->size ? s->size : 1)))
			return err_oom(e, NULL);
	return 0;
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
		return err_oom(e, NULL);
	x.base = base_dir(path);
	if (!x.base) {
		r = err_set(e, UPD_EXIT_OTHER, errno, "%s: cannot make its directory absolute: %s",
			    path, strerror(errno));
		config_free(c);
		return r;
	}
	r = new_sections(c, e);
	config_init(&cf);
	if (r == 0) {
		set_scalar_defaults(c);
		r = parse(&cf, &x);
	}
	if (r == 0)
		r = walk(&x, config_root_setting(&cf), "");
	if (r == 0)
		r = finish(c, e);
	if (r == 0 && x.deprecated)
		log_warn("%s:%u: %s is deprecated: use %s", source_file(&x, x.deprecated->s),
			 config_setting_source_line(x.deprecated->s), x.deprecated->k->name,
			 x.deprecated->k->replaced_by);
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

/* The key files of table t: a K_PATHS key names several. */
static int check_key_files(const struct config *c, size_t t, struct error *e)
{
	size_t n;
	const struct config_key *k = key_table(t, &n);
	int r = 0;

	for (size_t i = 0; r == 0 && i < n; i++) {
		char *base = key_base(c, t, &k[i]), *const *v;
		size_t count = 1;

		if (!k[i].key_file || !base)
			continue;
		v = str_field(base, k[i].off);
		if (k[i].kind == K_PATHS) {
			count = *count_field(base, k[i].count_off);
			v = *(char *const *const *)v;
		}
		for (size_t j = 0; r == 0 && j < count; j++)
			r = check_key_file(k[i].name, v[j], e);
	}
	return r;
}

int config_check_files(const struct config *c, struct error *e)
{
	struct stat st;
	size_t n;
	int r = 0;

	/* The backends' first, then the core's (server.*): the order of old. */
	for (size_t t = 1; r == 0 && key_table(t, &n); t++)
		r = check_key_files(c, t, e);
	if (r == 0)
		r = check_key_files(c, 0, e);
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

void config_free(struct config *c)
{
	const struct config_key *k;
	size_t n;

	if (!c)
		return;
	for (size_t t = 0; (k = key_table(t, &n)); t++)
		for (size_t i = 0; i < n; i++) {
			char *base = key_base(c, t, &k[i]);

			if (!base || (t > 0 && k[i].core))
				continue; /* no data, or the core's table frees it */
			if (k[i].kind == K_PATHS)
				free_paths(*(char ***)str_field(base, k[i].off),
					   *count_field(base, k[i].count_off));
			else if (k[i].kind != K_INT && k[i].kind != K_BOOL)
				free(*str_field(base, k[i].off));
		}
	for (size_t i = 0; i < CONFIG_MAX_SECTIONS; i++)
		free(c->sections[i]);
	free(c->path);
	memset(c, 0, sizeof(*c));
}

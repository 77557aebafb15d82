/* Boot control's storage in the U-Boot environment, through libubootenv (0.3.x):
 * the ops table bootctl_uboot (bootctl.h).
 *
 * Each call opens libubootenv, does its work and closes it again. libubootenv
 * holds an exclusive flock on /var/lock/fw_printenv.lock from libuboot_open()
 * to libuboot_close(): a context kept open for the life of an update would make
 * every fw_printenv/fw_setenv on the device hang, and a second context in this
 * process (`updater init` while one is open) would deadlock. So a
 * struct bootenv holds a snapshot of the variables, not a libubootenv context.
 *
 * Each write also uses a fresh context: libubootenv 0.3.2 does not update its
 * copy of the flags byte after libuboot_env_store(), so a second store in the
 * same context writes a redundant copy with a stale, lower flags value, and the
 * next read silently picks the copy of the first store. */
#include "bootctl.h"
#include "uboot_env_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <libuboot.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../lib/fault.h"
#include "../lib/log.h"

#define NUM_MAX 999

struct snapshot {
	size_t n;
	char **names;
	char **values;
};

struct bootenv {
	char *config;
	char *desc;
	bool loaded; /* false after a write that could not be read back */
	struct snapshot snap;
};

static const char *const numeric_vars[] = { "upgrade_available", "bootcount", "bootlimit",
					    "rollback" };

/* ---- libubootenv context ------------------------------------------------ */

static void ctx_close(struct uboot_ctx *ctx)
{
	libuboot_close(ctx); /* releases the lock, even after a failed open */
	libuboot_exit(ctx);
}

/* Opens a context. Returns 0 (valid CRC), -ENODATA with *out still set (no
 * valid copy: the variable list is empty but the context can store), or an
 * error with *out NULL. */
static int ctx_open(const struct envcfg *c, const char *config, struct uboot_ctx **out,
		    struct error *e)
{
	struct uboot_ctx *ctx = NULL;
	int rc;

	*out = NULL;
	if (libuboot_initialize(&ctx, NULL) < 0 || !ctx)
		return err_oom(e, NULL);
	/* Everything libubootenv rejects here passed cfg_load(): an unusual
	 * device (an MTD that is not NOR/NAND, a negative offset on a file). */
	if ((rc = libuboot_read_config(ctx, config)) < 0) {
		libuboot_exit(ctx);
		return err_set(e, UPD_EXIT_USAGE, EINVAL, "boot environment: %s: rejected by "
			       "libubootenv (%s)", config, strerror(-rc));
	}
	rc = libuboot_open(ctx);
	if (rc == 0 || rc == -ENODATA) {
		*out = ctx;
		return rc;
	}
	ctx_close(ctx);
	rc = rc < 0 ? rc : -EIO;
	return err_set(e, UPD_EXIT_OTHER, -rc, "boot environment %s: cannot read: %s", c->desc,
		       strerror(-rc));
}

static int no_valid_copy(const struct envcfg *c, struct error *e)
{
	return err_set(e, UPD_EXIT_OTHER, EBADMSG,
		       "boot environment %s: no valid copy%s (bad CRC); run 'updater init' on a "
		       "factory device", c->desc, c->ncopies == 2 ? " of 2" : "");
}

/* ---- snapshot ----------------------------------------------------------- */

static void snap_free(struct snapshot *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->names[i]);
		free(s->values[i]);
	}
	free(s->names);
	free(s->values);
	memset(s, 0, sizeof(*s));
}

static int snap_take(struct snapshot *s, struct uboot_ctx *ctx, struct error *e)
{
	size_t n = 0, i = 0;

	memset(s, 0, sizeof(*s));
	for (void *it = NULL; (it = libuboot_iterator(ctx, it));)
		n++;
	s->names = calloc(n ? n : 1, sizeof(char *));
	s->values = calloc(n ? n : 1, sizeof(char *));
	if (!s->names || !s->values)
		goto oom;
	for (void *it = NULL; (it = libuboot_iterator(ctx, it)) && i < n; i++, s->n++) {
		s->names[i] = strdup(libuboot_getname(it));
		s->values[i] = strdup(libuboot_getvalue(it));
		if (!s->names[i] || !s->values[i]) {
			s->n++; /* so snap_free() frees the half-filled entry */
			goto oom;
		}
	}
	return 0;
oom:
	snap_free(s);
	return err_oom(e, NULL);
}

static const char *snap_get(const struct snapshot *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->names[i], name) == 0)
			return s->values[i];
	return NULL;
}

/* Reads a valid environment into *s; c is filled for the caller's messages. */
static int env_load(const char *config, struct envcfg *c, struct snapshot *s, struct error *e)
{
	struct uboot_ctx *ctx = NULL;
	int rc = cfg_load(c, config, e);

	if (rc == 0)
		rc = ctx_open(c, config, &ctx, e);
	if (rc == -ENODATA)
		rc = no_valid_copy(c, e);
	if (rc == 0)
		rc = snap_take(s, ctx, e);
	if (ctx)
		ctx_close(ctx);
	return rc;
}

/* ---- values ------------------------------------------------------------- */

/* "0".."999": what the updater writes and what a U-Boot counting table can
 * produce. No sign, no spaces, no hex: anything else is a corrupt value. */
static int parse_num(const char *s, int *out)
{
	size_t len = strlen(s);
	int v = 0;

	if (len == 0 || len > 3)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

static int *num_field(struct bootstate *st, int i)
{
	int *f[] = { &st->upgrade_available, &st->bootcount, &st->bootlimit, &st->rollback };
	return f[i];
}

static int validate_state(const struct bootstate *st, struct error *e)
{
	if (!memchr(st->boot_slot, '\0', sizeof(st->boot_slot)))
		return err_set(e, UPD_EXIT_OTHER, EINVAL, "boot environment: boot_slot is too long");
	if (st->apply_staged != 0 && st->apply_staged != 1)
		return err_set(e, UPD_EXIT_OTHER, EINVAL, "boot environment: apply_staged=%d is not 0 or 1",
			       st->apply_staged);
	for (int i = 0; i < 4; i++) {
		int v = *num_field((struct bootstate *)st, i);
		if (v < 0 || v > NUM_MAX)
			return err_set(e, UPD_EXIT_OTHER, EINVAL,
				       "boot environment: %s=%d is out of range 0..%d",
				       numeric_vars[i], v, NUM_MAX);
	}
	return 0;
}

static int missing_var(const char *desc, const char *name, struct error *e)
{
	return err_set(e, UPD_EXIT_OTHER, EBADMSG,
		       "boot environment %s: variable %s is missing; run 'updater init' on a "
		       "factory device", desc, name);
}

static int parse_state(const struct snapshot *s, const char *desc, struct bootstate *out,
		       struct error *e)
{
	struct bootstate st = { 0 };
	const char *v = snap_get(s, "boot_slot");

	if (!v)
		return missing_var(desc, "boot_slot", e);
	if (strlen(v) >= sizeof(st.boot_slot))
		return err_set(e, UPD_EXIT_OTHER, EBADMSG,
			       "boot environment %s: boot_slot=\"%.40s\" is too long (at most %zu "
			       "characters); run 'updater init' to write the boot state",
			       desc, v, sizeof(st.boot_slot) - 1);
	memcpy(st.boot_slot, v, strlen(v) + 1);
	for (int i = 0; i < 4; i++) {
		if (!(v = snap_get(s, numeric_vars[i])))
			return missing_var(desc, numeric_vars[i], e);
		if (parse_num(v, num_field(&st, i)) < 0)
			return err_set(e, UPD_EXIT_OTHER, EBADMSG,
				       "boot environment %s: %s=\"%.40s\" is not a number 0..%d; run "
				       "'updater init' to write the boot state",
				       desc, numeric_vars[i], v, NUM_MAX);
	}
	/* Optional: an environment written before it existed asks for nothing. */
	if ((v = snap_get(s, "apply_staged")) && strcmp(v, "0") != 0 && strcmp(v, "1") != 0)
		return err_set(e, UPD_EXIT_OTHER, EBADMSG,
			       "boot environment %s: apply_staged=\"%.40s\" is not 0 or 1; run "
			       "'updater init' to write the boot state",
			       desc, v);
	st.apply_staged = v && strcmp(v, "1") == 0;
	*out = st;
	return 0;
}

static bool state_equal(const struct bootstate *a, const struct bootstate *b)
{
	return strcmp(a->boot_slot, b->boot_slot) == 0 &&
	       a->upgrade_available == b->upgrade_available && a->bootcount == b->bootcount &&
	       a->bootlimit == b->bootlimit && a->rollback == b->rollback &&
	       a->apply_staged == b->apply_staged;
}

/* ---- writing ------------------------------------------------------------ */

static int set_var(struct uboot_ctx *ctx, const char *desc, const char *name, const char *value,
		   struct error *e)
{
	int rc = libuboot_set_env(ctx, name, value);

	/* -EPERM: a U-Boot ".flags" attribute forbids it (libubootenv 0.3.2
	 * also refuses every value of a variable typed decimal 'd'). */
	if (rc < 0)
		return err_set(e, UPD_EXIT_OTHER, -rc,
			       "boot environment %s: libubootenv refused to set %s=%s (%s%s)", desc,
			       name, value, strerror(-rc),
			       rc == -EPERM ? "; check the U-Boot .flags variable" : "");
	return 0;
}

static int set_state(struct uboot_ctx *ctx, const char *desc, const struct bootstate *st,
		     struct error *e)
{
	char num[16];
	int rc = set_var(ctx, desc, "boot_slot", st->boot_slot, e);

	for (int i = 0; rc == 0 && i < 4; i++) {
		snprintf(num, sizeof(num), "%d", *num_field((struct bootstate *)st, i));
		rc = set_var(ctx, desc, numeric_vars[i], num, e);
	}
	if (rc == 0)
		rc = set_var(ctx, desc, "apply_staged", st->apply_staged ? "1" : "0", e);
	return rc;
}

/* libubootenv 0.3.2 returns -ENOMEM for an environment that does not fit, and
 * leaks its buffer doing so: check first, with the same layout (header: CRC,
 * plus the flags byte with two copies; "name=value\0" each; a final '\0'). */
static int check_fits(struct uboot_ctx *ctx, const struct envcfg *c, struct error *e)
{
	size_t need = 1, room = c->size[0] - (c->ncopies == 2 ? 5 : 4);

	for (void *it = NULL; (it = libuboot_iterator(ctx, it));)
		need += strlen(libuboot_getname(it)) + strlen(libuboot_getvalue(it)) + 2;
	if (need > room)
		return err_set(e, UPD_EXIT_NOSPACE, ENOSPC,
			       "boot environment %s: the variables need %zu bytes, the environment "
			       "holds %zu", c->desc, need, room);
	return 0;
}

/* libubootenv (0.3.2 and still 0.3.7) mallocs the image it writes without
 * clearing it: the bytes after the variables are whatever the heap held (a
 * freed download buffer, a token) and go to the storage, under the CRC. glibc's
 * M_PERTURB makes malloc hand out zeroed blocks (and fill freed ones) while it
 * is set; it is restored to what MALLOC_PERTURB_ asked for. Other allocators
 * (musl, sanitizers, valgrind) ignore it. */
static void zero_new_blocks(bool on)
{
#ifdef M_PERTURB
	const char *env = getenv("MALLOC_PERTURB_");
	mallopt(M_PERTURB, on ? 0xff : (env ? atoi(env) : 0));
#else
	(void)on;
#endif
}

static int store(struct uboot_ctx *ctx, const struct envcfg *c, struct error *e)
{
	fault_point("env-write");
	zero_new_blocks(true);
	errno = 0;
	int rc = libuboot_env_store(ctx);
	int saved = errno;
	zero_new_blocks(false);
	errno = saved;
	/* 0.3.2 returns -errno, -1 from a failed write(), or a short byte count;
	 * errno, when set, is the most precise cause. */
	if (rc == 0) {
		fault_point("env-written");
		return 0;
	}
	int err = errno ? errno : (rc < -1 ? -rc : EIO);
	return err_set(e, UPD_EXIT_OTHER, err, "boot environment %s: cannot write: %s", c->desc,
		       strerror(err));
}

/* libubootenv fsyncs after writing but ignores the result, and the read-back
 * comes from the page cache: flush again and check, so a trial is never
 * reported as started when the write did not reach the storage. */
static int sync_storage(const struct envcfg *c, struct error *e)
{
	for (int i = 0; i < c->ncopies; i++) {
		int fd = open(c->path[i], O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return err_set(e, UPD_EXIT_OTHER, errno, "boot environment %s: %s",
				       c->path[i], strerror(errno));
		int rc = fsync(fd) < 0 && errno != EINVAL ? -errno : 0; /* EINVAL: a char device */
		close(fd);
		if (rc < 0)
			return err_set(e, UPD_EXIT_OTHER, -rc, "boot environment %s: cannot sync: %s",
				       c->path[i], strerror(-rc));
	}
	return 0;
}

/* Sets the contract variables on the loaded ctx and stores them in one write. */
static int write_state(struct uboot_ctx *ctx, const struct envcfg *c, const struct bootstate *st,
		       struct error *e)
{
	int rc;

	if ((rc = set_state(ctx, c->desc, st, e)) < 0 || (rc = check_fits(ctx, c, e)) < 0 ||
	    (rc = store(ctx, c, e)) < 0)
		return rc;
	return sync_storage(c, e);
}

/* Reads the environment back after a write: the snapshot of the new state,
 * and proof that the values reached the storage. */
static int read_back(const char *config, const struct bootstate *want, struct snapshot *s,
		     struct error *e)
{
	struct envcfg c;
	struct bootstate got = { 0 };
	int rc = env_load(config, &c, s, e);

	if (rc == 0 && (rc = parse_state(s, c.desc, &got, e)) == 0 && !state_equal(&got, want))
		rc = err_set(e, UPD_EXIT_OTHER, EIO, "boot environment %s: values written did not "
			     "read back (boot_slot=%s upgrade_available=%d bootcount=%d bootlimit=%d "
			     "rollback=%d apply_staged=%d)", c.desc, got.boot_slot,
			     got.upgrade_available, got.bootcount, got.bootlimit, got.rollback,
			     got.apply_staged);
	if (rc < 0) {
		err_prefix(e, "after writing the boot environment");
		snap_free(s);
	}
	cfg_free(&c);
	return rc;
}

/* ---- the ops of bootctl_uboot ------------------------------------------- */

static void bootenv_close(void *priv);

static int bootenv_open(void **priv, const char *fw_env_config, struct error *e)
{
	struct bootenv *env = calloc(1, sizeof(*env));
	struct envcfg c;
	int rc;

	*priv = NULL;
	if (!env || !(env->config = strdup(fw_env_config))) {
		free(env);
		return err_oom(e, NULL);
	}
	rc = env_load(fw_env_config, &c, &env->snap, e);
	if (rc == 0) {
		env->desc = c.desc;
		c.desc = NULL;
		env->loaded = true;
		log_debug("boot environment %s: %zu variables, %d cop%s", env->desc, env->snap.n,
			  c.ncopies, c.ncopies == 1 ? "y" : "ies");
	}
	cfg_free(&c);
	if (rc < 0) {
		bootenv_close(env);
		return rc;
	}
	*priv = env;
	return 0;
}

static void bootenv_close(void *priv)
{
	struct bootenv *env = priv;
	if (!env)
		return;
	snap_free(&env->snap);
	free(env->config);
	free(env->desc);
	free(env);
}

static int bootenv_read(void *priv, struct bootstate *out, struct error *e)
{
	struct bootenv *env = priv;
	if (!env->loaded)
		return err_set(e, UPD_EXIT_OTHER, EIO, "boot environment %s: unknown state after a "
			       "failed write", env->desc);
	return parse_state(&env->snap, env->desc, out, e);
}

static char *bootenv_get(void *priv, const char *name)
{
	struct bootenv *env = priv;
	const char *v = env && name && env->loaded ? snap_get(&env->snap, name) : NULL;
	return v ? strdup(v) : NULL;
}

static int bootenv_write(void *priv, const struct bootstate *st, struct error *e)
{
	struct bootenv *env = priv;
	struct envcfg c = { 0 };
	struct uboot_ctx *ctx = NULL;
	int rc = validate_state(st, e);

	if (rc == 0 && (rc = cfg_load(&c, env->config, e)) == 0) {
		/* The storage as it is now, not the snapshot: keeps variables that
		 * others changed since, and never repairs a corrupt environment. */
		rc = ctx_open(&c, env->config, &ctx, e);
		if (rc == -ENODATA)
			rc = no_valid_copy(&c, e);
		if (rc == 0)
			rc = write_state(ctx, &c, st, e);
		if (ctx)
			ctx_close(ctx);
	}
	cfg_free(&c);
	if (rc < 0)
		return rc;
	snap_free(&env->snap);
	env->loaded = false;
	if ((rc = read_back(env->config, st, &env->snap, e)) < 0)
		return rc;
	env->loaded = true;
	return 0;
}

/* The five required contract variables (and apply_staged if present), each
 * with an allowed value. Anything less (a
 * U-Boot default environment that sets bootlimit but not boot_slot is common)
 * is no boot state: every command refuses it, so init must be able to mend it
 * without --force. */
static bool has_boot_state(struct uboot_ctx *ctx, const struct envcfg *c, char *why, size_t size)
{
	struct snapshot s = { 0 };
	struct bootstate st;
	struct error e = { 0 };
	int rc = snap_take(&s, ctx, &e);

	if (rc == 0)
		rc = parse_state(&s, c->desc, &st, &e);
	snap_free(&s);
	snprintf(why, size, "%s", e.msg);
	return rc == 0 || rc == -ENOMEM; /* cannot tell: keep it */
}

/* Decides whether init may write over what ctx_open() found. */
static int init_allowed(int open_rc, struct uboot_ctx *ctx, const struct envcfg *c, bool force,
			struct error *e)
{
	char why[256];

	if (open_rc == -ENODATA) {
		log_info("boot environment %s: no valid copy, writing a fresh one", c->desc);
		return 0;
	}
	if (!has_boot_state(ctx, c, why, sizeof(why))) {
		/* U-Boot's own variables are kept; the contract is written whole. */
		log_info("%s: writing the whole boot state", why);
		return 0;
	}
	if (!force)
		return err_set(e, UPD_EXIT_USAGE, EEXIST, "boot environment %s already initialised "
			       "(use --force to replace it)", c->desc);
	log_warn("boot environment %s: replacing the boot state", c->desc);
	return 0;
}

static int bootenv_init_write(const char *fw_env_config, const struct bootstate *st, bool force,
			      struct error *e)
{
	struct envcfg c = { 0 };
	struct snapshot s = { 0 };
	struct uboot_ctx *ctx = NULL;
	int rc = validate_state(st, e);

	if (rc == 0 && (rc = cfg_load(&c, fw_env_config, e)) == 0) {
		rc = ctx_open(&c, fw_env_config, &ctx, e);
		if (ctx)
			rc = init_allowed(rc, ctx, &c, force, e);
		if (rc == 0)
			rc = write_state(ctx, &c, st, e);
		if (ctx)
			ctx_close(ctx);
	}
	cfg_free(&c);
	if (rc == 0)
		rc = read_back(fw_env_config, st, &s, e);
	snap_free(&s);
	return rc;
}

const struct bootctl_ops bootctl_uboot = {
	.open = bootenv_open,
	.close = bootenv_close,
	.read = bootenv_read,
	.get = bootenv_get,
	.write = bootenv_write,
	.init = bootenv_init_write,
	.name = "uboot",
};

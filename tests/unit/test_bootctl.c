/* Boot-state contract through real libubootenv on file-backed environments,
 * checked against the fw_printenv/fw_setenv tools when they are installed. */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>

#include "../../bootctl/bootctl.h"

#define ENV_SIZE 0x4000

struct fx {
	char *dir;
	char cfg[PATH_MAX];
	char env[PATH_MAX];
	char env2[PATH_MAX];
};

static int setup(void **state)
{
	struct fx *f = tu_fixture_new(sizeof(struct fx));
	if (!f)
		return -1;
	snprintf(f->cfg, sizeof(f->cfg), "%s/fw_env.config", f->dir);
	snprintf(f->env, sizeof(f->env), "%s/uboot.env", f->dir);
	snprintf(f->env2, sizeof(f->env2), "%s/uboot-redund.env", f->dir);
	*state = f;
	return 0;
}

/* ---- helpers ------------------------------------------------------------ */


/* One copy in one file: the fw_env.config of most real boards. */
static void single(struct fx *f)
{
	char line[PATH_MAX + 32];
	tu_blank_file(f->env, ENV_SIZE);
	snprintf(line, sizeof(line), "# single copy\n%s 0x0 0x4000\n", f->env);
	tu_write_text(f->cfg, line);
}

/* Two copies back to back in one file (the QEMU disk layout). */
static void redundant(struct fx *f)
{
	char line[2 * PATH_MAX + 64];
	tu_blank_file(f->env, (off_t)2 * ENV_SIZE);
	snprintf(line, sizeof(line), "%s 0x0 0x4000\n%s 0x4000 0x4000\n", f->env, f->env);
	tu_write_text(f->cfg, line);
}

/* Two copies in two files (e.g. mmcblk0boot0/boot1). */
static void redundant_files(struct fx *f)
{
	char line[2 * PATH_MAX + 64];
	tu_blank_file(f->env, ENV_SIZE);
	tu_blank_file(f->env2, ENV_SIZE);
	snprintf(line, sizeof(line), "%s 0 4000\n%s 0 4000\n", f->env, f->env2);
	tu_write_text(f->cfg, line);
}

static uint32_t crc32_ieee(const unsigned char *p, size_t n)
{
	uint32_t c = 0xffffffffu;
	while (n--) {
		c ^= *p++;
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0xedb88320u & -(c & 1u));
	}
	return ~c;
}

/* Writes a valid environment copy (what U-Boot or mkenvimage would write) at
 * off: CRC, flags byte if flags >= 0 (redundant layout), "k=v\0" strings. */
static void put_env_pad(const char *path, off_t off, int flags, unsigned char pad,
			const char *const *vars)
{
	unsigned char buf[ENV_SIZE];
	size_t hdr = flags >= 0 ? 5 : 4, pos = hdr;
	memset(buf, pad, sizeof(buf));
	for (; *vars; vars++) {
		size_t len = strlen(*vars) + 1;
		assert_true(pos + len < sizeof(buf));
		memcpy(buf + pos, *vars, len);
		pos += len;
	}
	buf[pos] = '\0'; /* the empty string that ends the list */
	if (flags >= 0)
		buf[4] = (unsigned char)flags;
	uint32_t crc = crc32_ieee(buf + hdr, sizeof(buf) - hdr);
	memcpy(buf, &crc, 4); /* little-endian host, like the target */
	int fd = open(path, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, buf, sizeof(buf), off), (ssize_t)sizeof(buf));
	close(fd);
}

static void put_env(const char *path, off_t off, int flags, const char *const *vars)
{
	put_env_pad(path, off, flags, 0, vars);
}

static unsigned char byte_at(const char *path, off_t off)
{
	unsigned char b = 0;
	int fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &b, 1, off), 1);
	close(fd);
	return b;
}

static void flip_byte(const char *path, off_t off)
{
	unsigned char b = byte_at(path, off) ^ 0xff;
	int fd = open(path, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, &b, 1, off), 1);
	close(fd);
}

static char *slurp(const char *path, size_t *len)
{
	char *s = tu_read_file(path, len);
	assert_non_null(s);
	return s;
}

static struct bootstate mkstate(const char *slot, int ua, int bc, int bl, int rb)
{
	struct bootstate st = { .upgrade_available = ua, .bootcount = bc, .bootlimit = bl,
				.rollback = rb };
	snprintf(st.boot_slot, sizeof(st.boot_slot), "%s", slot);
	return st;
}

static void assert_state(const struct bootstate *got, const struct bootstate *want)
{
	assert_string_equal(got->boot_slot, want->boot_slot);
	assert_int_equal(got->upgrade_available, want->upgrade_available);
	assert_int_equal(got->bootcount, want->bootcount);
	assert_int_equal(got->bootlimit, want->bootlimit);
	assert_int_equal(got->rollback, want->rollback);
}

/* Opens, reads and closes: the state a fresh process would see. */
static int read_state(const char *cfg, struct bootstate *st, struct error *e)
{
	struct bootctl *env = NULL;
	int rc = bootctl_open(&env, &bootctl_uboot, cfg, e);
	if (rc == 0)
		rc = bootctl_read(env, st, e);
	bootctl_close(env);
	return rc;
}

static void init_ok(const char *cfg, const struct bootstate *st, bool force)
{
	struct error e = { 0 };
	int rc = bootctl_init(&bootctl_uboot, cfg, st, force, &e);
	if (rc != 0)
		fail_msg("bootctl_init: %d %s", rc, e.msg);
}

static void expect_state(const char *cfg, const struct bootstate *want)
{
	struct error e = { 0 };
	struct bootstate got = { 0 };
	int rc = read_state(cfg, &got, &e);
	if (rc != 0)
		fail_msg("read_state: %d %s", rc, e.msg);
	assert_state(&got, want);
}

/* The environment's variable name holds want. */
static void expect_var(const char *cfg, const char *name, const char *want)
{
	struct bootctl *env = NULL;
	struct error e = { 0 };

	assert_int_equal(bootctl_open(&env, &bootctl_uboot, cfg, &e), 0);
	char *v = bootctl_get(env, name);
	if (!v || strcmp(v, want) != 0)
		fail_msg("%s is \"%s\", not \"%s\"", name, v ? v : "(unset)", want);
	free(v);
	bootctl_close(env);
}

static void assert_msg_has(const struct error *e, const char *needle)
{
	if (!strstr(e->msg, needle))
		fail_msg("message \"%s\" lacks \"%s\"", e->msg, needle);
}

static bool have_tool(const char *name)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", name);
	return system(cmd) == 0;
}

static char *run(const char *fmt, const char *arg, int *status)
{
	char cmd[2 * PATH_MAX];
	snprintf(cmd, sizeof(cmd), fmt, arg);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	char *out = calloc(1, 65536);
	assert_non_null(out);
	size_t n = fread(out, 1, 65535, p);
	out[n] = '\0';
	*status = pclose(p);
	return out;
}

/* Opening the environment fails with want (a negative errno), the error in
 * *e, and leaves nothing to close. */
static void open_refused(struct fx *f, int want, struct error *e)
{
	struct bootctl *env = (struct bootctl *)1;

	assert_int_equal(bootctl_open(&env, &bootctl_uboot, f->cfg, e), want);
	assert_null(env);
}

/* ---- opening ------------------------------------------------------------ */

static void test_open_blank_is_ebadmsg(void **state)
{
	struct fx *f = *state;
	struct error e = { 0 };

	single(f);
	open_refused(f, -EBADMSG, &e);
	assert_int_equal(e.exit, UPD_EXIT_OTHER);
	assert_msg_has(&e, f->env);
	assert_msg_has(&e, "bad CRC");
	assert_msg_has(&e, "updater init");
}

static void test_open_garbage_is_ebadmsg(void **state)
{
	struct fx *f = *state;
	char junk[ENV_SIZE];
	struct error e = { 0 };

	single(f);
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (char)(i * 7 + 13);
	assert_int_equal(tu_write_file(f->env, junk, sizeof(junk)), 0);
	open_refused(f, -EBADMSG, &e);
	assert_msg_has(&e, f->env);
}

static void test_open_missing_env_is_enoent(void **state)
{
	struct fx *f = *state;
	struct error e = { 0 };

	single(f);
	assert_int_equal(unlink(f->env), 0);
	open_refused(f, -ENOENT, &e);
	assert_int_equal(e.exit, UPD_EXIT_OTHER);
	assert_msg_has(&e, f->env);
	assert_msg_has(&e, "No such file or directory");
}

static void test_open_missing_config_is_enoent(void **state)
{
	struct fx *f = *state;
	struct error e = { 0 };

	open_refused(f, -ENOENT, &e);
	assert_int_equal(e.exit, UPD_EXIT_OTHER);
	assert_msg_has(&e, "boot environment: ");
	assert_msg_has(&e, f->cfg);
}

static void test_open_short_file(void **state)
{
	struct fx *f = *state;
	struct error e = { 0 };

	single(f);
	tu_blank_file(f->env, 0); /* `touch`ed, never sized */
	open_refused(f, -EIO, &e);
	assert_msg_has(&e, "truncate -s 16384");
	err_clear(&e);
	struct bootstate st = mkstate("A", 0, 0, 3, 0);
	assert_int_equal(bootctl_init(&bootctl_uboot, f->cfg, &st, true, &e), -EIO);
	size_t len = 1;
	free(slurp(f->env, &len));
	assert_int_equal(len, 0); /* init did not grow it */
}

static void expect_bad_config(struct fx *f, const char *text, const char *needle)
{
	struct error e = { 0 };
	tu_write_text(f->cfg, text);
	open_refused(f, -EINVAL, &e);
	assert_int_equal(e.exit, UPD_EXIT_USAGE);
	assert_msg_has(&e, needle);
}

static void test_bad_config(void **state)
{
	struct fx *f = *state;
	char text[2 * PATH_MAX + 64];

	tu_blank_file(f->env, (off_t)2 * ENV_SIZE);
	expect_bad_config(f, "# nothing but a comment\n\n", "no 'DEVICE OFFSET SIZE' line");
	snprintf(text, sizeof(text), "%s 0 0\n", f->env);
	expect_bad_config(f, text, "size of");
	snprintf(text, sizeof(text), "%s 0 0x4000\n%s 0x4000 0x2000\n", f->env, f->env);
	expect_bad_config(f, text, "differ in size");
	snprintf(text, sizeof(text), "%s 0 0x4000\n%s 0x2000 0x4000\n", f->env, f->env);
	expect_bad_config(f, text, "overlap");
}

/* ---- init --------------------------------------------------------------- */

static void test_init_then_read_all_five(void **state)
{
	struct fx *f = *state;
	struct bootstate want = mkstate("B", 1, 2, 5, 1); /* every field distinct */

	single(f);
	init_ok(f->cfg, &want, false);
	expect_state(f->cfg, &want);
}

static void test_init_missing_env_is_enoent(void **state)
{
	struct fx *f = *state;
	struct bootstate st = mkstate("A", 0, 0, 3, 0);
	struct error e = { 0 };

	single(f);
	assert_int_equal(unlink(f->env), 0);
	assert_int_equal(bootctl_init(&bootctl_uboot, f->cfg, &st, true, &e), -ENOENT);
	assert_msg_has(&e, f->env);
	struct stat sb;
	assert_int_equal(stat(f->env, &sb), -1); /* not created */
}

static void test_init_refused_without_force(void **state)
{
	struct fx *f = *state;
	struct bootstate first = mkstate("A", 0, 0, 3, 0), second = mkstate("B", 0, 0, 4, 0);
	struct error e = { 0 };

	single(f);
	put_env(f->env, 0, -1,
		(const char *[]){ "bootcmd=run distro_bootcmd", "boot_slot=A", "bootcount=0",
				  "bootlimit=3", "rollback=0", "upgrade_available=0", NULL });
	size_t len0 = 0, len1 = 0;
	char *before = slurp(f->env, &len0);
	assert_int_equal(bootctl_init(&bootctl_uboot, f->cfg, &second, false, &e), -EEXIST);
	assert_int_equal(e.exit, UPD_EXIT_USAGE);
	assert_msg_has(&e, "already initialised (use --force to replace it)");
	assert_msg_has(&e, f->env);
	char *after = slurp(f->env, &len1);
	assert_memory_equal(before, after, ENV_SIZE); /* untouched */
	free(before);
	free(after);
	expect_state(f->cfg, &first);

	init_ok(f->cfg, &second, true);
	expect_state(f->cfg, &second);
	expect_var(f->cfg, "bootcmd", "run distro_bootcmd"); /* kept by --force */
}

/* A partial or invalid contract is no boot state (every command refuses it):
 * init writes all five variables without --force and keeps U-Boot's own. */
static void test_init_completes_partial_contract(void **state)
{
	struct fx *f = *state;
	struct bootstate st = mkstate("A", 0, 0, 3, 0);
	const char *const partial[][4] = {
		{ "bootcmd=run distro_bootcmd", "bootlimit=3", NULL },   /* U-Boot's default env */
		{ "bootcmd=run distro_bootcmd", "bootcount=1", NULL },
		{ "bootcmd=run distro_bootcmd", "boot_slot=A", "bootcount=x1", NULL }, /* invalid */
	};

	for (size_t i = 0; i < sizeof(partial) / sizeof(partial[0]); i++) {
		single(f);
		put_env(f->env, 0, -1, (const char **)partial[i]);
		init_ok(f->cfg, &st, false);
		expect_state(f->cfg, &st);
		expect_var(f->cfg, "bootcmd", "run distro_bootcmd");
	}
}

/* A valid environment with only U-Boot's own variables is not "initialised":
 * init adds the contract and keeps the rest, without --force. */
static void test_init_keeps_foreign_variables(void **state)
{
	struct fx *f = *state;
	struct bootstate st = mkstate("A", 0, 0, 3, 0);

	single(f);
	put_env(f->env, 0, -1, (const char *[]){ "baudrate=115200", "bootdelay=2", NULL });
	init_ok(f->cfg, &st, false);
	expect_var(f->cfg, "baudrate", "115200");
	expect_state(f->cfg, &st);
}

/* ---- read --------------------------------------------------------------- */

static void test_missing_variable_is_named(void **state)
{
	struct fx *f = *state;
	struct bootctl *env = NULL;
	struct bootstate st;
	struct error e = { 0 };

	single(f);
	put_env(f->env, 0, -1,
		(const char *[]){ "boot_slot=A", "bootcount=0", "rollback=0", "upgrade_available=0",
				  NULL });
	assert_int_equal(bootctl_open(&env, &bootctl_uboot, f->cfg, &e), 0); /* valid CRC */
	assert_int_equal(bootctl_read(env, &st, &e), -EBADMSG);
	assert_msg_has(&e, "bootlimit is missing");
	assert_msg_has(&e, f->env);
	bootctl_close(env);

	put_env(f->env, 0, -1,
		(const char *[]){ "bootlimit=3", "bootcount=0", "rollback=0", "upgrade_available=0",
				  NULL });
	err_clear(&e);
	assert_int_equal(read_state(f->cfg, &st, &e), -EBADMSG);
	assert_msg_has(&e, "boot_slot is missing");
}

static int read_with_bootcount(struct fx *f, const char *value, struct bootstate *st,
			       struct error *e)
{
	char bc[64];
	snprintf(bc, sizeof(bc), "bootcount=%s", value);
	put_env(f->env, 0, -1,
		(const char *[]){ "boot_slot=A", bc, "bootlimit=3", "rollback=0",
				  "upgrade_available=1", NULL });
	err_clear(e);
	return read_state(f->cfg, st, e);
}

static void test_numbers(void **state)
{
	struct fx *f = *state;
	const char *bad[] = { "abc", "-1", "1000", "0x1", " 1", "1 ", "+1", "", "2a" };
	struct bootstate st;
	struct error e = { 0 };

	single(f);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(read_with_bootcount(f, bad[i], &st, &e), -EBADMSG);
		assert_msg_has(&e, "bootcount=\"");
		assert_msg_has(&e, "not a number");
	}
	assert_int_equal(read_with_bootcount(f, "999", &st, &e), 0);
	assert_int_equal(st.bootcount, 999);
	assert_int_equal(read_with_bootcount(f, "07", &st, &e), 0);
	assert_int_equal(st.bootcount, 7);
}

static void test_boot_slot_too_long(void **state)
{
	struct fx *f = *state;
	struct bootstate st;
	struct error e = { 0 };
	char slot[sizeof(st.boot_slot) + 16];

	single(f);
	/* Exactly one character more than struct bootstate can hold. */
	snprintf(slot, sizeof(slot), "boot_slot=%0*d", (int)sizeof(st.boot_slot), 7);
	put_env(f->env, 0, -1,
		(const char *[]){ slot, "bootcount=0", "bootlimit=3", "rollback=0",
				  "upgrade_available=0", NULL });
	assert_int_equal(read_state(f->cfg, &st, &e), -EBADMSG);
	assert_msg_has(&e, "boot_slot=");
	assert_msg_has(&e, "too long");
	slot[strlen(slot) - 1] = '\0'; /* one shorter: fits */
	put_env(f->env, 0, -1,
		(const char *[]){ slot, "bootcount=0", "bootlimit=3", "rollback=0",
				  "upgrade_available=0", NULL });
	err_clear(&e);
	assert_int_equal(read_state(f->cfg, &st, &e), 0);
	assert_int_equal(strlen(st.boot_slot), sizeof(st.boot_slot) - 1);
}

static void test_get_raw(void **state)
{
	struct fx *f = *state;
	struct bootctl *env = NULL;
	struct error e = { 0 };

	single(f);
	put_env(f->env, 0, -1,
		(const char *[]){ "kernel_image=/boot/ostree/os-1/vmlinuz",
				  "bootargs=ostree=/ostree/boot.1/os/1/0", "empty=", NULL });
	assert_int_equal(bootctl_open(&env, &bootctl_uboot, f->cfg, &e), 0);
	char *k = bootctl_get(env, "kernel_image");
	char *b = bootctl_get(env, "bootargs");
	char *z = bootctl_get(env, "empty");
	assert_string_equal(k, "/boot/ostree/os-1/vmlinuz");
	assert_string_equal(b, "ostree=/ostree/boot.1/os/1/0");
	assert_string_equal(z, "");
	assert_null(bootctl_get(env, "kernel_image2"));
	free(k);
	free(b);
	free(z);
	bootctl_close(env);
	assert_null(bootctl_get(NULL, "x"));
}

/* ---- write -------------------------------------------------------------- */

static void test_write_then_read(void **state)
{
	struct fx *f = *state;
	struct bootstate base = mkstate("A", 0, 0, 3, 0), trial = mkstate("B", 1, 0, 3, 0),
			 good = mkstate("B", 0, 0, 3, 0), got;
	struct bootctl *env = NULL;
	struct error e = { 0 };

	single(f);
	init_ok(f->cfg, &base, false);
	assert_int_equal(bootctl_open(&env, &bootctl_uboot, f->cfg, &e), 0);
	assert_int_equal(bootctl_write(env, &trial, &e), 0);
	assert_int_equal(bootctl_read(env, &got, &e), 0); /* same handle sees the write */
	assert_state(&got, &trial);
	expect_state(f->cfg, &trial);
	assert_int_equal(bootctl_write(env, &good, &e), 0); /* a second write, same handle */
	expect_state(f->cfg, &good);
	bootctl_close(env);
}

/* The write starts from the storage, not from the snapshot taken at open:
 * a variable set in between by another program survives. */
static void test_write_keeps_concurrent_changes(void **state)
{
	struct fx *f = *state;
	struct bootstate trial = mkstate("B", 1, 0, 3, 0);
	struct bootctl *env = NULL, *again = NULL;
	struct error e = { 0 };

	single(f);
	put_env(f->env, 0, -1,
		(const char *[]){ "boot_slot=A", "bootcount=0", "bootlimit=3", "rollback=0",
				  "upgrade_available=0", NULL });
	assert_int_equal(bootctl_open(&env, &bootctl_uboot, f->cfg, &e), 0);
	put_env(f->env, 0, -1,
		(const char *[]){ "boot_slot=A", "bootcount=0", "bootlimit=3", "rollback=0",
				  "upgrade_available=0", "serial=42", NULL });
	assert_int_equal(bootctl_write(env, &trial, &e), 0);
	bootctl_close(env);
	assert_int_equal(bootctl_open(&again, &bootctl_uboot, f->cfg, &e), 0);
	char *s = bootctl_get(again, "serial");
	assert_string_equal(s, "42");
	free(s);
	bootctl_close(again);
}

static void test_write_refuses_corrupt_env(void **state)
{
	struct fx *f = *state;
	struct bootstate base = mkstate("A", 0, 0, 3, 0), trial = mkstate("B", 1, 0, 3, 0), got;
	struct bootctl *env = NULL;
	struct error e = { 0 };

	single(f);
	init_ok(f->cfg, &base, false);
	assert_int_equal(bootctl_open(&env, &bootctl_uboot, f->cfg, &e), 0);
	flip_byte(f->env, 0x10); /* the data under the CRC */
	size_t len = 0;
	char *before = slurp(f->env, &len);
	assert_int_equal(bootctl_write(env, &trial, &e), -EBADMSG);
	assert_msg_has(&e, "bad CRC");
	char *after = slurp(f->env, &len);
	assert_memory_equal(before, after, ENV_SIZE); /* never "repaired" */
	free(before);
	free(after);
	err_clear(&e);
	assert_int_equal(bootctl_read(env, &got, &e), 0); /* snapshot still usable */
	assert_state(&got, &base);
	bootctl_close(env);
}

static void test_write_validates_values(void **state)
{
	struct fx *f = *state;
	struct bootstate base = mkstate("A", 0, 0, 3, 0), bad = mkstate("B", 1, 1000, 3, 0);
	struct bootctl *env = NULL;
	struct error e = { 0 };

	single(f);
	init_ok(f->cfg, &base, false);
	assert_int_equal(bootctl_open(&env, &bootctl_uboot, f->cfg, &e), 0);
	assert_int_equal(bootctl_write(env, &bad, &e), -EINVAL);
	assert_msg_has(&e, "bootcount=1000");
	bad = mkstate("B", 1, 0, 3, 0);
	memset(bad.boot_slot, 'x', sizeof(bad.boot_slot)); /* not terminated */
	err_clear(&e);
	assert_int_equal(bootctl_write(env, &bad, &e), -EINVAL);
	bootctl_close(env);
	expect_state(f->cfg, &base);
}

static void test_write_env_full(void **state)
{
	struct fx *f = *state;
	static char filler[ENV_SIZE];
	struct bootstate trial = mkstate("B", 1, 0, 3, 0);
	struct bootctl *env = NULL;
	struct error e = { 0 };

	single(f);
	/* Leaves 47 bytes free: too little to add the other four variables. */
	memset(filler, 'x', sizeof(filler));
	memcpy(filler, "big=", 4);
	filler[ENV_SIZE - 4 - 60] = '\0';
	put_env(f->env, 0, -1, (const char *[]){ filler, "boot_slot=A", NULL });
	size_t len = 0;
	char *before = slurp(f->env, &len);
	assert_int_equal(bootctl_open(&env, &bootctl_uboot, f->cfg, &e), 0);
	assert_int_equal(bootctl_write(env, &trial, &e), -ENOSPC);
	assert_int_equal(e.exit, UPD_EXIT_NOSPACE);
	assert_msg_has(&e, f->env);
	char *after = slurp(f->env, &len);
	assert_memory_equal(before, after, ENV_SIZE);
	free(before);
	free(after);
	bootctl_close(env);
}

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#endif

/* libubootenv writes its buffer unzeroed; bootenv zeroes it, so after the
 * variables a written copy holds only zeros, not the previous image's bytes
 * (here mkenvimage's 0xff padding) or other heap contents. */
static void test_written_image_is_clean(void **state)
{
	struct fx *f = *state;
	struct bootstate trial = mkstate("B", 1, 0, 3, 0);
	struct bootctl *env = NULL;
	struct error e = { 0 };

#ifdef UNDER_ASAN
	skip(); /* ASan's malloc fills new blocks with 0xbe */
#endif
	single(f);
	put_env_pad(f->env, 0, -1, 0xff,
		    (const char *[]){ "boot_slot=A", "bootcount=0", "bootlimit=3", "rollback=0",
				      "upgrade_available=0", "zzz=old value", NULL });
	assert_int_equal(bootctl_open(&env, &bootctl_uboot, f->cfg, &e), 0);
	assert_int_equal(bootctl_write(env, &trial, &e), 0);
	bootctl_close(env);
	size_t len = 0;
	unsigned char *img = (unsigned char *)slurp(f->env, &len);
	assert_int_equal(len, ENV_SIZE);
	size_t pos = 4;
	while (img[pos] != '\0') /* skip "k=v\0" strings up to the empty one */
		pos += strlen((char *)img + pos) + 1;
	for (size_t i = pos; i < ENV_SIZE; i++)
		if (img[i] != 0)
			fail_msg("byte 0x%zx after the variables is 0x%02x", i, img[i]);
	free(img);
}

/* ostree writes boot_slot="" (see docs/boot-contract.md for U-Boot's side). */
static void test_empty_boot_slot_round_trip(void **state)
{
	struct fx *f = *state;
	struct bootstate st = mkstate("", 1, 0, 3, 0);

	single(f);
	init_ok(f->cfg, &st, false);
	expect_state(f->cfg, &st);
}

/* U-Boot's .flags can type a variable; libubootenv 0.3.2 then refuses every
 * value of a decimal one. Whatever the version does, the result is either the
 * full write or an error naming the variable and nothing stored. */
static void test_uboot_flags_attribute(void **state)
{
	struct fx *f = *state;
	struct bootstate trial = mkstate("B", 1, 0, 3, 0), base = mkstate("A", 0, 0, 3, 0);
	struct bootctl *env = NULL;
	struct error e = { 0 };

	single(f);
	put_env(f->env, 0, -1,
		(const char *[]){ "boot_slot=A", "bootcount=0", "bootlimit=3", "rollback=0",
				  "upgrade_available=0", ".flags=upgrade_available:dw", NULL });
	assert_int_equal(bootctl_open(&env, &bootctl_uboot, f->cfg, &e), 0);
	int rc = bootctl_write(env, &trial, &e);
	bootctl_close(env);
	if (rc == 0) {
		expect_state(f->cfg, &trial);
	} else {
		assert_msg_has(&e, "upgrade_available");
		assert_msg_has(&e, ".flags");
		expect_state(f->cfg, &base);
	}
}

/* ---- redundant environments -------------------------------------------- */

static void test_redundant_blank(void **state)
{
	struct fx *f = *state;
	struct error e = { 0 };

	redundant(f);
	open_refused(f, -EBADMSG, &e);
	assert_msg_has(&e, "no valid copy of 2");
}

/* Each write goes to the other copy with flags + 1; the newest valid copy
 * wins, so corrupting it (a power cut mid-write) falls back to the previous
 * state instead of U-Boot's defaults. */
static void check_alternation(struct fx *f, const char *p0, off_t o0, const char *p1, off_t o1)
{
	struct bootstate s1 = mkstate("A", 0, 0, 3, 0), s2 = mkstate("B", 1, 0, 3, 0),
			 s3 = mkstate("B", 0, 0, 3, 0);
	struct bootctl *env = NULL;
	struct error e = { 0 };

	init_ok(f->cfg, &s1, false);
	assert_int_equal(byte_at(p1, o1 + 4), 1); /* blank: copy 0 "current", copy 1 written */
	assert_int_equal(bootctl_open(&env, &bootctl_uboot, f->cfg, &e), 0);
	assert_int_equal(bootctl_write(env, &s2, &e), 0);
	assert_int_equal(byte_at(p0, o0 + 4), 2);
	assert_int_equal(byte_at(p1, o1 + 4), 1);
	/* A second write through the same handle: libubootenv 0.3.2 would
	 * reuse a stale flags value here and lose this write. */
	assert_int_equal(bootctl_write(env, &s3, &e), 0);
	bootctl_close(env);
	assert_int_equal(byte_at(p0, o0 + 4), 2);
	assert_int_equal(byte_at(p1, o1 + 4), 3);
	expect_state(f->cfg, &s3);

	flip_byte(p1, o1 + 0x20); /* corrupt the newest copy */
	expect_state(f->cfg, &s2);
	flip_byte(p0, o0 + 0x20); /* and the other: nothing valid left */
	struct bootstate got;
	assert_int_equal(read_state(f->cfg, &got, &e), -EBADMSG);
}

static void test_redundant_one_file(void **state)
{
	struct fx *f = *state;
	redundant(f);
	check_alternation(f, f->env, 0, f->env, ENV_SIZE);
}

static void test_redundant_two_files(void **state)
{
	struct fx *f = *state;
	redundant_files(f);
	check_alternation(f, f->env, 0, f->env2, 0);
}

/* The older copy corrupt, the newer intact: the newer one is read. */
static void test_redundant_older_copy_corrupt(void **state)
{
	struct fx *f = *state;
	struct bootstate s1 = mkstate("A", 0, 0, 3, 0), s2 = mkstate("B", 1, 0, 3, 0);
	struct bootctl *env = NULL;
	struct error e = { 0 };

	redundant(f);
	init_ok(f->cfg, &s1, false);   /* copy 1 */
	assert_int_equal(bootctl_open(&env, &bootctl_uboot, f->cfg, &e), 0);
	assert_int_equal(bootctl_write(env, &s2, &e), 0); /* copy 0 */
	bootctl_close(env);
	flip_byte(f->env, ENV_SIZE + 0x20);
	expect_state(f->cfg, &s2);
	/* The next write goes to the corrupt copy and makes it valid again. */
	assert_int_equal(bootctl_open(&env, &bootctl_uboot, f->cfg, &e), 0);
	assert_int_equal(bootctl_write(env, &s1, &e), 0);
	bootctl_close(env);
	assert_int_equal(byte_at(f->env, ENV_SIZE + 4), 3);
	expect_state(f->cfg, &s1);
}

/* Flags wrap around: ff then 00, and 00 is the newer one. */
static void test_redundant_flags_wrap(void **state)
{
	struct fx *f = *state;
	struct bootstate next = mkstate("B", 1, 0, 3, 0);
	struct bootctl *env = NULL;
	struct error e = { 0 };

	redundant(f);
	put_env(f->env, 0, 0xfe,
		(const char *[]){ "boot_slot=A", "bootcount=0", "bootlimit=3", "rollback=0",
				  "upgrade_available=0", NULL });
	put_env(f->env, ENV_SIZE, 0xff,
		(const char *[]){ "boot_slot=B", "bootcount=0", "bootlimit=3", "rollback=0",
				  "upgrade_available=0", NULL });
	expect_state(f->cfg, &(struct bootstate){ .boot_slot = "B", .bootlimit = 3 });
	assert_int_equal(bootctl_open(&env, &bootctl_uboot, f->cfg, &e), 0);
	assert_int_equal(bootctl_write(env, &next, &e), 0);
	bootctl_close(env);
	assert_int_equal(byte_at(f->env, 4), 0x00);
	expect_state(f->cfg, &next);
}

/* ---- interoperability with fw_printenv / fw_setenv ---------------------- */

/* The environment laid out by layout (single or redundant), as the tools see it. */
static void check_tools(struct fx *f, void (*layout)(struct fx *f))
{
	struct bootstate base = mkstate("A", 0, 0, 3, 0), trial = mkstate("B", 1, 0, 4, 0), got;
	struct bootctl *env = NULL;
	struct error e = { 0 };
	int status;

	layout(f);
	init_ok(f->cfg, &base, false);
	assert_int_equal(bootctl_open(&env, &bootctl_uboot, f->cfg, &e), 0);
	assert_int_equal(bootctl_write(env, &trial, &e), 0);
	bootctl_close(env);
	if (!have_tool("fw_printenv") || !have_tool("fw_setenv")) {
		print_message("fw_printenv/fw_setenv not installed: interop not checked\n");
		return;
	}
	char *out = run("fw_printenv -c '%s' 2>&1", f->cfg, &status);
	assert_int_equal(status, 0);
	const char *want[] = { "boot_slot=B\n", "upgrade_available=1\n", "bootcount=0\n",
			       "bootlimit=4\n", "rollback=0\n" };
	for (size_t i = 0; i < 5; i++)
		if (!strstr(out, want[i]))
			fail_msg("fw_printenv output lacks %s:\n%s", want[i], out);
	free(out);

	/* What U-Boot's counting does, through the Linux tool. */
	free(run("fw_setenv -c '%s' bootcount 2 2>&1", f->cfg, &status));
	assert_int_equal(status, 0);
	assert_int_equal(read_state(f->cfg, &got, &e), 0);
	trial.bootcount = 2;
	assert_state(&got, &trial);
}

static void test_tools_single(void **state)
{
	check_tools(*state, single);
}

static void test_tools_redundant(void **state)
{
	check_tools(*state, redundant);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, tu_teardown)
		T(test_open_blank_is_ebadmsg),
		T(test_open_garbage_is_ebadmsg),
		T(test_open_missing_env_is_enoent),
		T(test_open_missing_config_is_enoent),
		T(test_open_short_file),
		T(test_bad_config),
		T(test_init_then_read_all_five),
		T(test_init_missing_env_is_enoent),
		T(test_init_refused_without_force),
		T(test_init_completes_partial_contract),
		T(test_init_keeps_foreign_variables),
		T(test_missing_variable_is_named),
		T(test_numbers),
		T(test_boot_slot_too_long),
		T(test_get_raw),
		T(test_write_then_read),
		T(test_write_keeps_concurrent_changes),
		T(test_write_refuses_corrupt_env),
		T(test_write_validates_values),
		T(test_write_env_full),
		T(test_written_image_is_clean),
		T(test_empty_boot_slot_round_trip),
		T(test_uboot_flags_attribute),
		T(test_redundant_blank),
		T(test_redundant_one_file),
		T(test_redundant_two_files),
		T(test_redundant_older_copy_corrupt),
		T(test_redundant_flags_wrap),
		T(test_tools_single),
		T(test_tools_redundant),
#undef T
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Shared helpers for the cmocka unit tests. */
#pragma once
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <fcntl.h>

/* A fresh directory under $TMPDIR (or /tmp), removed by tu_rmtree(). */
static inline char *tu_mkdtemp(void)
{
	const char *base = getenv("TMPDIR");
	char *p = NULL;
	if (asprintf(&p, "%s/updater-unit-XXXXXX", base ? base : "/tmp") < 0)
		return NULL;
	if (!mkdtemp(p)) {
		free(p);
		return NULL;
	}
	return p;
}

static inline void tu_rmtree(char *dir)
{
	char *cmd = NULL;
	if (dir && asprintf(&cmd, "rm -rf '%s'", dir) >= 0) {
		if (system(cmd) != 0)
			fprintf(stderr, "warning: could not remove %s\n", dir);
	}
	free(cmd);
	free(dir);
}

/* int main(void) running the tests given (cmocka_unit_test(...), ...) as one
 * group with SETUP and TEARDOWN (NULL for none). */
#define TU_MAIN(setup, teardown, ...)                                           \
	int main(void)                                                          \
	{                                                                       \
		const struct CMUnitTest tests[] = {__VA_ARGS__};                \
		return cmocka_run_group_tests(tests, setup, teardown);          \
	}

/* MSG says that PATH is refused for belonging to another user (uid 65534,
 * what the tests chown to). */
#define TU_ASSERT_OWNER_REFUSED(msg, path)                                      \
	do {                                                                    \
		if (!strstr((msg), (path)) || !strstr((msg), "owned by uid 65534")) \
			fail_msg("\"%s\" does not refuse %s as owned by uid 65534", (msg), (path)); \
	} while (0)

/* The operation a state S records: backend, release, target, where from, last error. */
#define TU_ASSERT_OP(s, backend_, version, target, from, error)                 \
	do {                                                                    \
		assert_string_equal((s).backend, (backend_));                   \
		assert_string_equal((s).op_version, (version));                 \
		assert_string_equal((s).op_target, (target));                   \
		assert_string_equal((s).op_from, (from));                       \
		assert_string_equal((s).last_error, (error));                   \
	} while (0)

/* A test fixture: SIZE zeroed bytes whose first member is `char *dir`, set
 * to a fresh directory (tu_mkdtemp); NULL on failure, with nothing to free.
 * tu_fixture_free removes the directory and frees the fixture. */
static inline void *tu_fixture_new(size_t size)
{
	char **f = calloc(1, size);
	if (!f || !(*f = tu_mkdtemp())) {
		free(f);
		return NULL;
	}
	return f;
}

static inline void tu_fixture_free(void *f)
{
	if (f)
		tu_rmtree(*(char **)f);
	free(f);
}

/* A cmocka teardown for a fixture of tu_fixture_new that holds nothing more. */
static inline int tu_teardown(void **state)
{
	tu_fixture_free(*state);
	return 0;
}

/* "dir/name", malloc'd (the test fails if it cannot be made). */
static inline char *tu_path(const char *dir, const char *name)
{
	char *p = NULL;
	assert_true(asprintf(&p, "%s/%s", dir, name) > 0);
	return p;
}

/* The Rss (KiB) of this process's mapping that holds addr (/proc/self/smaps),
 * or -1 where there is none (qemu-user's smaps, in make cross-check). */
static inline long tu_rss_of(const void *addr)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	long rss = -1;
	bool in = false;

	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' '))
			in = (uintptr_t)addr >= lo && (uintptr_t)addr < hi;
		else if (in && sscanf(line, "Rss: %ld kB", &rss) == 1)
			break;
	}
	fclose(f);
	return rss;
}

/* Writes a whole file; returns 0 or -1. */
static inline int tu_write_file(const char *path, const char *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	if (!f)
		return -1;
	size_t n = fwrite(data, 1, len, f);
	return (fclose(f) == 0 && n == len) ? 0 : -1;
}

/* Reads a whole file (NUL-terminated, malloc'd) or NULL. */
static inline char *tu_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap + 1);
	size_t r;
	while (buf && (r = fread(buf + n, 1, cap - n, f)) > 0) {
		n += r;
		if (n == cap) {
			char *nb = realloc(buf, 2 * cap + 1);
			if (!nb) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = nb;
			cap *= 2;
		}
	}
	fclose(f);
	if (buf) {
		buf[n] = '\0';
		if (len)
			*len = n;
	}
	return buf;
}

/* Asserting forms, for test set-up that must not fail. */
static inline void tu_write_text(const char *path, const char *text)
{
	assert_int_equal(tu_write_file(path, text, strlen(text)), 0);
}

/* A file of `size` zero bytes (a blank partition or environment). */
static inline void tu_blank_file(const char *path, off_t size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, size), 0);
	close(fd);
}

/* n pseudo-random bytes (xorshift32 from seed): the same for the same seed. */
static inline void tu_fill_random(uint8_t *p, size_t n, uint32_t seed)
{
	for (size_t i = 0; i < n; i++) {
		seed ^= seed << 13, seed ^= seed >> 17, seed ^= seed << 5;
		p[i] = (uint8_t)seed;
	}
}

/* n bytes (malloc'd) as an image holds them: blocks of block bytes, random
 * (tu_fill_random from seed) but every every-th block, from block 0, zeros. */
static inline uint8_t *tu_image(size_t n, uint32_t seed, size_t block, size_t every)
{
	uint8_t *img = calloc(1, n ? n : 1);
	assert_non_null(img);
	tu_fill_random(img, n, seed);
	for (size_t b = 0; b * block < n; b += every)
		memset(img + b * block, 0, n - b * block < block ? n - b * block : block);
	return img;
}

/* A file of size bytes: data (n bytes), then zeros (a slot holding an image). */
static inline void tu_put_file(const char *path, const uint8_t *data, size_t n, size_t size)
{
	char *buf = calloc(1, size ? size : 1);
	assert_non_null(buf);
	memcpy(buf, data, n);
	assert_int_equal(tu_write_file(path, buf, size), 0);
	free(buf);
}

/* The file's first n bytes are data (a slot holding an image). */
static inline void tu_assert_file_starts(const char *path, const uint8_t *data, size_t n)
{
	size_t len = 0;
	char *t = tu_read_file(path, &len);
	assert_non_null(t);
	assert_true(len >= n);
	assert_memory_equal(t, data, n);
	free(t);
}

/* Flips the bits of the file's byte at offset at (a corruption the signed
 * digests must catch). */
static inline void tu_flip_byte(const char *path, uint64_t at)
{
	uint8_t byte = 0;
	int fd = open(path, O_RDWR);
	assert_true(fd >= 0 && pread(fd, &byte, 1, (off_t)at) == 1);
	byte ^= 0x55;
	assert_true(pwrite(fd, &byte, 1, (off_t)at) == 1);
	close(fd);
}

/* Writes "damage" over the file's six bytes from offset at (a slot block
 * that no longer holds what it held). */
static inline void tu_damage(const char *path, uint64_t at)
{
	int fd = open(path, O_WRONLY);
	assert_true(fd >= 0 && pwrite(fd, "damage", 6, (off_t)at) == 6);
	close(fd);
}

/* stderr (the log) going to a file in dir from tu_stderr_begin until
 * tu_stderr_end puts it back and returns what was logged (malloc'd). */
struct tu_stderr {
	int saved;
	char *path;
};

static inline void tu_stderr_begin(struct tu_stderr *c, const char *dir)
{
	c->path = tu_path(dir, "stderr.log");
	int fd = open(c->path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	fflush(stderr);
	c->saved = dup(2);
	assert_true(fd >= 0 && c->saved >= 0);
	assert_int_equal(dup2(fd, 2), 2);
	close(fd);
}

static inline char *tu_stderr_end(struct tu_stderr *c)
{
	fflush(stderr);
	assert_int_equal(dup2(c->saved, 2), 2);
	close(c->saved);
	char *out = tu_read_file(c->path, NULL);
	assert_non_null(out);
	free(c->path);
	return out;
}

/* The file holds exactly want. */
static inline void tu_assert_file_text(const char *path, const char *want)
{
	char *got = tu_read_file(path, NULL);

	if (!got)
		fail_msg("%s cannot be read", path);
	assert_string_equal(got, want);
	free(got);
}

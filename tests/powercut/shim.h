/* What the LD_PRELOAD shims cutter.c and iolog.c share: the real function
 * behind each one they wrap (REAL declares its pointer, RESOLVE looks it up
 * once: atomically, a pull's threads call the wrappers concurrently).
 * Define SHIM_NAME (the shim's name, for its one message) before including. */
#pragma once
#include <dlfcn.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static void *next(const char *name)
{
	void *p = dlsym(RTLD_NEXT, name);
	if (!p) {
		fprintf(stderr, "%s: no %s\n", SHIM_NAME, name);
		abort();
	}
	return p;
}

static void *resolve_sym(void **slot, const char *name)
{
	void *p = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
	if (!p) {
		p = next(name);
		__atomic_store_n(slot, p, __ATOMIC_RELEASE);
	}
	return p;
}

#define REAL(name) static __typeof__(name) *real_##name
#define RESOLVE(name) ((__typeof__(real_##name))resolve_sym((void **)&real_##name, #name))

/* shim_dir_path DIRFD BASE SIZE: the path of the directory DIRFD names (the
 * working directory for AT_FDCWD), into BASE; false if it cannot be told. */
static bool shim_dir_path(int dirfd, char *base, size_t size)
{
	if (dirfd == AT_FDCWD)
		return getcwd(base, size) != NULL;
	char link[64];
	snprintf(link, sizeof(link), "/proc/self/fd/%d", dirfd);
	ssize_t n = readlink(link, base, size - 1);
	if (n < 0)
		return false;
	base[n] = '\0';
	return true;
}

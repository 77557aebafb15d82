/* Shared by the U-Boot environment implementation of boot control
 * (bootctl/uboot_env.c, bootctl/uboot_envcfg.c); nothing else includes it. */
#pragma once
#include <stddef.h>

#include "../lib/error.h"

/* What this module needs to know about fw_env.config, read the way libubootenv
 * reads it, so that errors can name the storage instead of repeating
 * libubootenv's bare -EBADF/-EINVAL. */
struct envcfg {
	int ncopies;
	char *path[2];       /* device or file (the part before a ":volume" suffix) */
	long long offset[2]; /* libubootenv's %lli: 0x.. hex, 0.. octal, else decimal */
	size_t size[2];      /* libubootenv's %zx: always hex, with or without 0x */
	char *desc;          /* names the storage in messages */
};

/* Reads and checks fw_env.config (one line: one copy, two: redundant copies).
 * On failure c is empty and there is nothing to free; on success the caller
 * releases it with cfg_free(). */
int cfg_load(struct envcfg *c, const char *config, struct error *e);
void cfg_free(struct envcfg *c);
